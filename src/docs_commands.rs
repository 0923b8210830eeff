//! Every `fleetup …` command the documentation shows is one the command line accepts: the code
//! blocks of README.md, docs/ and examples/, and the comments of the example inventories, are
//! read, and each command is parsed with the real [`Cli`] — a renamed flag or command, or a
//! value that is not allowed, fails this test with the file and line. (docs/getting-started.md
//! is also run for real: tests/docs.rs.)

use std::path::{Path, PathBuf};

use clap::Parser as _;

use crate::cli::Cli;

/// A command found in a file, with where.
#[derive(Debug)]
struct Found {
    file: PathBuf,
    line: usize,
    args: Vec<String>,
}

/// The `fleetup` arguments of `line`, if it is a fleetup command: after an optional prompt
/// (`$ `, `# `) and environment assignments, `fleetup …` or `cargo run --release -- …`, up to
/// a comment, a pipe, a redirection or the next command.
fn command_of(line: &str) -> Option<Vec<String>> {
    let mut rest = line.trim();
    for prompt in ["$ ", "# "] {
        rest = rest.strip_prefix(prompt).unwrap_or(rest).trim_start();
    }
    // Leading VAR=value assignments.
    while let Some((word, after)) = rest.split_once(' ') {
        if word.contains('=') && !word.starts_with('-') {
            rest = after.trim_start();
        } else {
            break;
        }
    }
    let rest = rest
        .strip_prefix("fleetup ")
        .or_else(|| rest.strip_prefix("cargo run --release -- "))
        .or_else(|| rest.strip_prefix("cargo run -- "))?;
    let mut cut = rest.len();
    for end in [" #", " |", " >", " <", " &&", " ;", " 2>"] {
        if let Some(i) = rest.find(end) {
            cut = cut.min(i);
        }
    }
    let mut args = vec!["fleetup".to_owned()];
    args.extend(shlex::split(&rest[..cut])?);
    Some(args)
}

/// The commands in a Markdown file's shell code blocks (fenced as `sh`, `bash`, `shell` or
/// `console`; lines joined at a trailing `\`). Untagged blocks hold output, not commands.
fn in_markdown(file: &Path, text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut inside = false;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        if fence.starts_with("```") {
            let lang = fence.trim_start_matches('`').trim();
            inside = !inside && matches!(lang, "sh" | "bash" | "shell" | "console");
            continue;
        }
        if !inside {
            continue;
        }
        let (start, joined) = match pending.take() {
            Some((start, before)) => (start, format!("{before} {}", line.trim())),
            None => (i + 1, line.to_owned()),
        };
        if let Some(head) = joined.strip_suffix('\\') {
            pending = Some((start, head.trim_end().to_owned()));
            continue;
        }
        if let Some(args) = command_of(&joined) {
            found.push(Found {
                file: file.to_owned(),
                line: start,
                args,
            });
        }
    }
    found
}

/// The commands in the comments of an inventory (`#   fleetup -i … check`): a comment whose
/// `fleetup` is followed by an option or a command name (not prose: "fleetup reads …").
fn in_comments(file: &Path, text: &str) -> Vec<Found> {
    use clap::CommandFactory as _;
    let cli = Cli::command();
    let is_command = |w: &str| cli.get_subcommands().any(|c| c.get_name() == w);
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with('#'))
        .filter_map(|(i, l)| {
            let comment = l.trim_start().trim_start_matches('#').trim_start();
            let args = command_of(comment)?;
            let first = args.get(1)?;
            (first.starts_with('-') || is_command(first)).then(|| Found {
                file: file.to_owned(),
                line: i + 1,
                args,
            })
        })
        .collect()
}

fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, exts, out);
        } else if p.extension().is_some_and(|x| exts.iter().any(|e| x == *e)) {
            out.push(p);
        }
    }
}

#[test]
fn every_fleetup_command_in_the_docs_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut markdown = vec![root.join("README.md"), root.join("CHANGELOG.md")];
    files(&root.join("docs"), &["md"], &mut markdown);
    files(&root.join("examples"), &["md"], &mut markdown);
    let mut inventories = Vec::new();
    files(
        &root.join("examples"),
        &["yml", "yaml", "ini"],
        &mut inventories,
    );
    files(
        &root.join("inventories"),
        &["yml", "yaml", "ini"],
        &mut inventories,
    );
    let mut found = Vec::new();
    for f in &markdown {
        found.extend(in_markdown(f, &std::fs::read_to_string(f).unwrap()));
    }
    for f in &inventories {
        found.extend(in_comments(f, &std::fs::read_to_string(f).unwrap()));
    }
    assert!(
        found.len() > 30,
        "the docs show fleetup commands: {found:#?}"
    );
    let bad: Vec<String> = found
        .iter()
        .filter_map(|f| match Cli::try_parse_from(&f.args) {
            Ok(_) => None,
            Err(e)
                if matches!(
                    e.kind(),
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                ) =>
            {
                None
            }
            Err(e) => Some(format!(
                "{}:{}: {}\n{}",
                f.file.strip_prefix(root).unwrap_or(&f.file).display(),
                f.line,
                shlex::try_join(f.args.iter().map(String::as_str)).unwrap_or_default(),
                e.render()
            )),
        })
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn commands_are_found_where_the_docs_write_them() {
    let f = |l: &str| command_of(l);
    assert_eq!(
        f("$ fleetup -i inv.yml check  # what would change"),
        Some(vec![
            "fleetup".into(),
            "-i".into(),
            "inv.yml".into(),
            "check".into()
        ])
    );
    assert_eq!(
        f("FLEETUP_X=1 cargo run --release -- inventory --list | jq ."),
        Some(vec!["fleetup".into(), "inventory".into(), "--list".into()])
    );
    assert_eq!(f("scripts/lab up 3"), None);
    assert_eq!(f("fleetup_source: x"), None);
    let md = "```sh\nfleetup -i a \\\n  check\n```\nfleetup outside\n```\nfleetup 1.2 s\n```\n";
    let found = in_markdown(Path::new("x.md"), md);
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].line, found[0].args.len()), (2, 4));
    let bogus = Cli::try_parse_from(["fleetup", "upgrade", "--no-such-flag"]);
    assert!(bogus.is_err(), "a wrong flag is caught");
}
