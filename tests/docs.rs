//! The docs cannot rot: every command in the `console` blocks of docs/getting-started.md runs,
//! in order, as a newcomer would type it — in a scratch copy of the repository's `examples/`
//! and `scripts/`, with the fleetup that scripts/test installed with the page's own
//! `cargo install --path . --locked` first on the PATH — and every output line the page shows
//! must appear in what the command printed (whitespace runs compared as one space).
//!
//! The syntax of every other `fleetup …` line in README.md and docs/ is checked by a unit test
//! (`src/docs_commands.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{describe, repo_path, require_root, run};

/// One `$ command` of a console block and the output lines shown under it.
#[derive(Debug)]
struct Step {
    line: usize,
    command: String,
    shown: Vec<String>,
}

/// The console blocks' commands of a Markdown page, in order.
fn console_steps(markdown: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut inside = false;
    for (i, line) in markdown.lines().enumerate() {
        let fence = line.trim_start();
        if fence.starts_with("```") {
            inside = !inside && fence.trim_start_matches('`').trim() == "console";
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push(Step {
                line: i + 1,
                command: cmd.to_owned(),
                shown: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.shown.push(line.to_owned());
        }
    }
    steps
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The fleetup the page's install step produced: scripts/test runs that step
/// (`FLEETUP_INSTALLED_BIN`); a plain `cargo test` uses the test build instead and says so.
fn installed_fleetup() -> PathBuf {
    match std::env::var_os("FLEETUP_INSTALLED_BIN") {
        Some(bin) => {
            let bin = repo_path(PathBuf::from(bin));
            assert!(
                bin.is_file(),
                "{}: scripts/test's `cargo install --path . --locked` did not produce it",
                bin.display()
            );
            bin
        }
        None => {
            eprintln!(
                "FLEETUP_INSTALLED_BIN is not set (scripts/test sets it after running the page's \
                 `cargo install`): using the test build of fleetup"
            );
            PathBuf::from(env!("CARGO_BIN_EXE_fleetup"))
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let out = run(Command::new("cp").arg("-a").arg(from).arg(to));
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn getting_started_runs_as_written() {
    require_root();
    let page = std::fs::read_to_string(repo_path("docs/getting-started.md")).unwrap();
    let steps = console_steps(&page);
    assert!(
        steps.len() >= 8,
        "the page's console blocks hold its commands: {steps:#?}"
    );
    let scratch = tempfile::tempdir().unwrap();
    copy_dir(&repo_path("examples"), scratch.path());
    copy_dir(&repo_path("scripts"), scratch.path());
    let fleetup = installed_fleetup();
    let path = format!(
        "{}:{}",
        fleetup.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Stop the page's lab whatever happens (its own `scripts/lab down` is one of the steps).
    struct LabDown(PathBuf);
    impl Drop for LabDown {
        fn drop(&mut self) {
            let _ = Command::new(self.0.join("scripts/lab"))
                .arg("down")
                .output();
        }
    }
    let _lab = LabDown(scratch.path().to_owned());

    for step in &steps {
        if step.command.starts_with("cargo install ") {
            assert_eq!(
                step.command, "cargo install --path . --locked",
                "scripts/test runs exactly this (with --debug and its own --root)"
            );
            continue;
        }
        // `bash -c` execs a simple command, so a lab started here is owned by this test.
        let out = run(Command::new("bash")
            .arg("-c")
            .arg(&step.command)
            .current_dir(scratch.path())
            .env("PATH", &path)
            .env("XDG_CACHE_HOME", scratch.path().join("cache"))
            .env("XDG_STATE_HOME", scratch.path().join("state")));
        let said = format!(
            "docs/getting-started.md:{}: $ {}\n{}",
            step.line,
            step.command,
            describe(&out)
        );
        assert_eq!(out.status.code(), Some(0), "{said}");
        let printed: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&out.stderr).lines())
            .map(squeeze)
            .collect();
        for shown in &step.shown {
            let want = squeeze(shown);
            assert!(
                printed.iter().any(|p| p.contains(&want)),
                "the page shows {shown:?}, which the command did not print\n{said}"
            );
        }
    }
}

#[test]
fn console_blocks_are_read_as_commands_and_their_output() {
    let steps = console_steps(
        "text\n```console\n$ a b\nout 1\nout 2\n$ c\n```\n$ not a command\n```sh\n$ nor this\n```\n",
    );
    let got: Vec<(&str, usize)> = steps
        .iter()
        .map(|s| (s.command.as_str(), s.shown.len()))
        .collect();
    assert_eq!(got, [("a b", 2), ("c", 0)]);
}

/// docs/ansible.md shows the same upgrade as a playbook: it must at least be one
/// `ansible-playbook` accepts (ansible-core is installed by scripts/test).
#[test]
fn the_comparison_playbook_is_valid_ansible() {
    let playbook = crate::support::require_tool("ansible-playbook", "pip install ansible-core");
    let out = run(Command::new(playbook)
        .current_dir(repo_path(""))
        .args([
            "--syntax-check",
            "-i",
            "inventories/web-db.yml",
            "examples/ansible/upgrade.yml",
            "-e",
            "version=2.0.0",
        ])
        .env("ANSIBLE_NOCOLOR", "1"));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("playbook: examples/ansible/upgrade.yml"),
        "{}",
        describe(&out)
    );
}
