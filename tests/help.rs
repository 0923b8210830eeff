//! Every command's `--help` teaches: a one-line summary, a paragraph, and examples that work.
//!
//! The examples are taken from the real binary's `--help` output, as a reader sees them, and
//! run with bash (`fleetup` on PATH is the binary under test) from a scratch copy of the tree
//! they are written for (src/help.rs): the quick start's fleet with its three local hosts at
//! demoapp 1.0.0, `inventories/`, a build in `build/`, a default key pair, and a HOME and a
//! cache of its own. Each example gets a fresh copy, so none depends on another; `rollback`'s
//! run after one `upgrade`. A fleet command on `inventories/` (hosts and a release server
//! that do not exist here) runs with its hosts redirected to a port that refuses connections
//! (see [`Kind::Unreachable`]); most examples must run for real, and succeed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output, Stdio};

use clap::{CommandFactory, Parser};
use fleetup::cli::{Cli, Command};

use crate::fleet::install;
use crate::support::{describe, fleetup, repo_path, run};

/// The password of the scratch tree's default secret key.
const KEY_PASSWORD: &str = "help examples";

/// Nothing in an example section is longer, so nothing wraps on an 80-column terminal (clap
/// wraps after_long_help at the terminal's width, which would break a command across lines).
const MAX_LINE: usize = 80;

/// Every command's words: `[]`, `["upgrade"]`, …, `["release", "keygen"]`, from the same
/// definition the binary is built from (so a new command cannot be forgotten here).
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: &[String], out: &mut Vec<Vec<String>>) {
        out.push(path.to_vec());
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut p = path.to_vec();
            p.push(sub.get_name().to_owned());
            walk(sub, &p, out);
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), &[], &mut out);
    out
}

/// One example: the comment above it and the command, continuation lines joined.
#[derive(Debug, Clone)]
struct Example {
    /// `fleetup release sign` — the page it is on.
    page: String,
    comment: String,
    /// As printed, with its `\`-newlines: what bash runs.
    text: String,
    /// On one line, continuations joined: what the parse check splits.
    line: String,
}

/// The lines of the `Examples…:` section of a `--help` output (up to the next unindented
/// line), and the examples in them.
fn examples(page: &str, help: &str) -> (Vec<String>, Vec<Example>) {
    let mut lines = help.lines().skip_while(|l| !l.starts_with("Examples"));
    let heading = lines.next();
    assert!(
        heading.is_some_and(|h| h.ends_with(':')),
        "{page}: no `Examples…:` section in --help:\n{help}"
    );
    let section: Vec<String> = lines
        .take_while(|l| l.is_empty() || l.starts_with("  "))
        .map(str::to_owned)
        .collect();
    let mut found = Vec::new();
    let mut comment = String::new();
    let mut i = 0;
    while i < section.len() {
        let l = &section[i];
        if let Some(c) = l.strip_prefix("  # ") {
            if !comment.is_empty() && !comment.ends_with(' ') {
                comment.push(' ');
            }
            comment.push_str(c);
        } else if let Some(first) = l.strip_prefix("  $ ") {
            let mut text = first.to_owned();
            let mut line = first.trim_end_matches('\\').trim_end().to_owned();
            while text.ends_with('\\') {
                i += 1;
                let next = section
                    .get(i)
                    .unwrap_or_else(|| panic!("{page}: a `\\` ends the section: {text}"));
                assert!(
                    next.starts_with("      "),
                    "{page}: a continuation line is indented: {next:?}"
                );
                text.push('\n');
                text.push_str(next);
                line.push(' ');
                line.push_str(next.trim().trim_end_matches('\\').trim_end());
            }
            assert!(
                !comment.is_empty(),
                "{page}: an example without a `# what it does` line: {line}"
            );
            found.push(Example {
                page: page.to_owned(),
                comment: std::mem::take(&mut comment),
                text,
                line,
            });
        } else {
            assert!(
                l.trim().is_empty(),
                "{page}: a line in Examples that is neither `  # …` nor `  $ …`: {l:?}"
            );
            comment.clear();
        }
        i += 1;
    }
    (section, found)
}

fn help_of(path: &[String], flag: &str) -> String {
    let out = run(fleetup().args(path).arg(flag));
    assert!(out.status.success(), "{path:?} {flag}: {}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn page_name(path: &[String]) -> String {
    std::iter::once("fleetup")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every example of every page, checked for shape on the way.
fn all_examples() -> Vec<Example> {
    command_paths()
        .iter()
        .flat_map(|p| examples(&page_name(p), &help_of(p, "--help")).1)
        .collect()
}

#[test]
fn every_command_has_a_summary_a_paragraph_and_examples() {
    let paths = command_paths();
    assert!(paths.len() >= 12, "{paths:?}");
    for path in &paths {
        let page = page_name(path);
        let short = help_of(path, "-h");
        let long = help_of(path, "--help");
        let summary = short.lines().next().unwrap_or_default();
        assert!(
            summary.len() >= 20 && !summary.starts_with("Usage"),
            "{page}: -h starts with a one-line summary:\n{short}"
        );
        // The paragraph: between the summary (the same as -h's) and the usage line.
        let before_usage: String = long.split("\nUsage:").next().unwrap_or_default().to_owned();
        let mut paragraphs = before_usage.split("\n\n");
        let first = paragraphs.next().unwrap_or_default().replace('\n', " ");
        assert!(
            first.starts_with(summary.trim_end()),
            "{page}: --help starts with -h's summary {summary:?}:\n{long}"
        );
        let paragraph = paragraphs.collect::<Vec<_>>().join(" ").replace('\n', " ");
        assert!(
            paragraph.len() >= 200 && paragraph.matches(". ").count() >= 1,
            "{page}: --help has a paragraph (of a few sentences) under the summary:\n{long}"
        );
        assert!(
            !short.contains(&paragraph[..60]) && !short.contains("\nExamples"),
            "{page}: -h stays short (no paragraph, no examples):\n{short}"
        );

        let (section, found) = examples(&page, &long);
        assert!(
            found.len() >= 2,
            "{page}: at least two examples, found {found:?}"
        );
        for l in &section {
            assert!(
                l.chars().count() <= MAX_LINE,
                "{page}: example line longer than {MAX_LINE} columns: {l:?}"
            );
        }
        for e in &found {
            assert!(
                e.line.contains("fleetup "),
                "{page}: an example that does not run fleetup: {e:?}"
            );
        }
    }
}

/// The man pages carry the same examples (clap_mangen renders `after_long_help`).
#[test]
fn man_pages_show_the_examples() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(fleetup().arg("man").arg("--dir").arg(dir.path()));
    assert!(out.status.success(), "{}", describe(&out));
    let page = std::fs::read_to_string(dir.path().join("fleetup-upgrade.1")).unwrap();
    // roff escapes '-' as '\-'.
    let page = page.replace("\\-", "-");
    assert!(
        page.contains("$ fleetup upgrade -i examples/quickstart/inventory.yml --yes"),
        "{page}"
    );
}

/// How an example is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Runs here, from a fresh scratch tree, and must exit 0.
    Runs,
    /// A fleet command on `inventories/`, whose hosts and release server do not exist here:
    /// run with every host's address redirected to a port that refuses connections and the
    /// quick start's channel as the source ([`UNREACHABLE`]). Everything before the hosts
    /// (arguments, inventory, pattern, rolling options, retry file, the signed release) is
    /// real; it must end with exit 1 and every host unreachable. A page's examples of this
    /// kind run in order in one tree, as an operator would type them (a retry file left by
    /// one is read by the next).
    Unreachable,
}

/// The extra variables that turn `inventories/`' fleet into hosts refusing connections
/// (127.0.0.1 port 1) that follow the quick start's channel.
const UNREACHABLE: &str = r#"{"ansible_host": "127.0.0.1", "ansible_port": 1, "fleetup_source": "examples/quickstart/releases", "fleetup_public_keys": ["examples/quickstart/minisign.pub"]}"#;

/// The words of an example that is a plain `fleetup …` command (no shell operators), parsed
/// and validated as the binary does before any work: `Err` says why not.
fn parse(line: &str) -> Option<Result<fleetup::cli::Settings, String>> {
    let words = shlex::split(line)?;
    let shell = |w: &String| {
        matches!(w.as_str(), ">" | ">>" | "<" | "|" | "&&" | "||" | ";" | "&")
            || w.starts_with(['<', '>', '$', '`'])
    };
    if words.first().is_none_or(|w| w != "fleetup") || words.iter().any(shell) {
        return None;
    }
    Some(
        Cli::try_parse_from(&words)
            .map_err(|e| e.to_string())
            .and_then(|cli| cli.into_settings().map_err(|e| e.to_string())),
    )
}

fn kind(e: &Example) -> Kind {
    let real_fleet = |s: &fleetup::cli::Settings| {
        matches!(
            s.command,
            Command::Upgrade(_) | Command::Check(_) | Command::Rollback(_) | Command::Releases(_)
        ) && s.inventory.iter().any(|i| i.starts_with("inventories"))
    };
    match parse(&e.line) {
        Some(Ok(s)) if real_fleet(&s) => Kind::Unreachable,
        Some(Ok(_)) => Kind::Runs,
        Some(Err(why)) => panic!("{}: `{}` does not parse: {why}", e.page, e.line),
        None => {
            assert!(
                !e.line.contains("inventories/"),
                "{}: an example on inventories/ is a plain fleetup command: {}",
                e.page,
                e.line
            );
            Kind::Runs
        }
    }
}

/// Copies `from` into `to`, files and directories (modes kept).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// The tree the examples are written for, made once per test: the quick start, the
/// inventories, the hosts at 1.0.0, a build of demoapp 1.2.0 and the default key pair.
struct Template {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

/// A fresh copy of the template, removed when dropped.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Template {
    fn new() -> Template {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        copy_tree(
            &repo_path("examples/quickstart"),
            &root.join("examples/quickstart"),
        );
        copy_tree(&repo_path("inventories"), &root.join("inventories"));
        for h in ["web1", "web2", "db1"] {
            install(
                &root.join(format!("target/quickstart/{h}/opt/demoapp/demoapp")),
                "1.0.0",
            );
        }
        for arch in ["amd64", "arm64"] {
            install(&root.join(format!("build/demoapp-{arch}")), "1.2.0");
        }
        std::fs::create_dir_all(root.join("home")).unwrap();
        let keygen = run(in_tree(&root, fleetup()).args(["release", "keygen"]));
        assert!(keygen.status.success(), "{}", describe(&keygen));
        assert!(root.join("home/.minisign/minisign.key").is_file());
        assert!(root.join("minisign.pub").is_file());
        Template { _dir: dir, root }
    }

    /// A fresh copy of the tree for the examples of `page` (`rollback`'s after an upgrade).
    fn fresh(&self, page: &str) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        copy_tree(&self.root, &root);
        if page.starts_with("fleetup rollback") {
            let up = run(in_tree(&root, fleetup()).args([
                "upgrade",
                "-i",
                "examples/quickstart/inventory.yml",
                "--yes",
            ]));
            assert!(up.status.success(), "setup upgrade: {}", describe(&up));
        }
        Tree { _dir: dir, root }
    }

    /// Runs `e` in a fresh copy of the tree.
    fn run(&self, e: &Example) -> (Tree, Output) {
        let tree = self.fresh(&e.page);
        let out = tree.run(e, Kind::Runs);
        (tree, out)
    }
}

impl Tree {
    /// Runs the example's text with bash, as pasted from the help.
    fn run(&self, e: &Example, kind: Kind) -> Output {
        let text = match kind {
            Kind::Runs => e.text.clone(),
            Kind::Unreachable => format!("{} -e '{UNREACHABLE}'", e.text),
        };
        let mut bash = Process::new("bash");
        bash.args(["--norc", "--noprofile", "-e", "-o", "pipefail", "-c", &text]);
        run(&mut in_tree(&self.root, bash))
    }
}

/// `cmd` run from `root` as a user whose HOME, cache and key password are the tree's, with
/// the fleetup under test first on PATH.
fn in_tree(root: &Path, mut cmd: Process) -> Process {
    let bin = Path::new(env!("CARGO_BIN_EXE_fleetup")).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    cmd.current_dir(root)
        .env("PATH", path)
        .env("HOME", root.join("home"))
        .env("XDG_CACHE_HOME", root.join("cache"))
        .env("FLEETUP_KEY_PASSWORD", KEY_PASSWORD)
        .env("NO_COLOR", "1")
        .env_remove("FLEETUP_LOG")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("FLEETUP_SSH_PASSPHRASE")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null());
    // Away from the developer's own settings, as the user of the tree would be.
    for var in crate::support::CONFIG_VARS {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn every_help_example_parses_and_runs() {
    let all = all_examples();
    let template = Template::new();
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut fleet_trees: BTreeMap<String, Tree> = BTreeMap::new();
    for e in &all {
        let entry = counts.entry(e.page.clone()).or_default();
        match kind(e) {
            Kind::Runs => {
                entry.0 += 1;
                let (_tree, out) = template.run(e);
                assert!(
                    out.status.success(),
                    "{}: example `{}` ({}) failed:\n{}",
                    e.page,
                    e.line,
                    e.comment,
                    describe(&out)
                );
            }
            Kind::Unreachable => {
                entry.1 += 1;
                let tree = fleet_trees
                    .entry(e.page.clone())
                    .or_insert_with(|| template.fresh(&e.page));
                let out = tree.run(e, Kind::Unreachable);
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(
                    out.status.code() == Some(1)
                        && text.contains("unreachable")
                        && text.contains("127.0.0.1:1"),
                    "{}: example `{}` ({}), its hosts refusing connections, gets as far as \
                     connecting to them (exit 1, unreachable):\n{}",
                    e.page,
                    e.line,
                    e.comment,
                    describe(&out)
                );
            }
        }
    }
    let ran: usize = counts.values().map(|c| c.0).sum();
    let fleet: usize = counts.values().map(|c| c.1).sum();
    eprintln!("help examples: {ran} run here, {fleet} against unreachable hosts: {counts:?}");
    assert!(
        ran > 2 * fleet,
        "most examples must really run: {ran} ran, {fleet} need a fleet ({counts:?})"
    );
    for (page, (r, _)) in &counts {
        assert!(*r >= 1, "{page}: at least one example really runs");
    }
}

/// The examples do what their comments say, checked on the tree after a few of them.
#[test]
fn examples_have_the_effect_they_describe() {
    let all = all_examples();
    let template = Template::new();
    let find = |page: &str, start: &str| {
        all.iter()
            .find(|e| e.page == page && e.line.starts_with(start))
            .unwrap_or_else(|| panic!("no example `{start}…` on {page}"))
            .clone()
    };
    let version = |root: &Path, host: &str| {
        let out = run(Process::new(
            root.join(format!("target/quickstart/{host}/opt/demoapp/demoapp")),
        )
        .arg("--version"));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };

    // `upgrade -l web --version 1.1.0 --serial 1`: the web hosts, not db1.
    let e = find(
        "fleetup upgrade",
        "fleetup upgrade -i examples/quickstart/inventory.yml -l web",
    );
    let (tree, out) = template.run(&e);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(version(&tree.root, "web1"), "demoapp 1.1.0");
    assert_eq!(version(&tree.root, "web2"), "demoapp 1.1.0");
    assert_eq!(
        version(&tree.root, "db1"),
        "demoapp 1.0.0",
        "-l web left db1 alone"
    );

    // `rollback -l web1`: web1 back at 1.0.0, web2 still upgraded.
    let e = find(
        "fleetup rollback",
        "fleetup rollback -i examples/quickstart/inventory.yml -l web1",
    );
    let (tree, out) = template.run(&e);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(version(&tree.root, "web1"), "demoapp 1.0.0");
    assert_eq!(version(&tree.root, "web2"), "demoapp 1.1.0");

    // `release publish`: a signed index that `release verify` accepts with the tree's key.
    let e = find(
        "fleetup release publish",
        "fleetup release publish --dir releases --product",
    );
    let (tree, out) = template.run(&e);
    assert!(out.status.success(), "{}", describe(&out));
    for f in [
        "releases/stable.json",
        "releases/demoapp-1.2.0-linux-amd64",
        "releases/demoapp-1.2.0-linux-arm64",
    ] {
        assert!(tree.root.join(f).is_file(), "{f}: {}", describe(&out));
    }
    let verify =
        run(in_tree(&tree.root, fleetup()).args(["release", "verify", "releases/stable.json"]));
    assert!(verify.status.success(), "{}", describe(&verify));

    // `check -l 'web:!web2' --output json`: one host, web1, to be upgraded.
    let e = find(
        "fleetup check",
        "fleetup check -i examples/quickstart/inventory.yml -l",
    );
    let (_tree, out) = template.run(&e);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}", describe(&out)));
    let hosts: Vec<&str> = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["web1"], "{doc:#}");

    // The real-fleet retry example reads the file the one before it left.
    let first = find(
        "fleetup upgrade",
        "fleetup upgrade -i inventories/web-db.ini --serial",
    );
    let tree = template.fresh(&first.page);
    let out = tree.run(&first, Kind::Unreachable);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let retry = std::fs::read_to_string(tree.root.join("inventories/web-db.ini.retry"))
        .unwrap_or_else(|e| panic!("no retry file ({e}): {}", describe(&out)));
    assert!(retry.contains("web01.example.com"), "{retry}");
}
