//! `fleetup --version`, `fleetup completions` and `fleetup man`, checked with the programs that
//! consume them: bash loads the completion and completes, git agrees on the commit.

use std::process::Command;

use crate::support::{describe, fleetup, repo, run};

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = run(fleetup().arg("--version"));
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let head =
        run(Command::new("git")
            .current_dir(repo())
            .args(["rev-parse", "--short=10", "HEAD"]));
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    assert!(
        text.starts_with(&format!(
            "fleetup {} (commit {head}",
            env!("CARGO_PKG_VERSION")
        )),
        "{text} (HEAD is {head})"
    );
}

/// Completes `fleetup WORDS…` with the generated bash function and returns the candidates.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let script = run(fleetup().args(["completions", "bash"]));
    assert!(script.status.success(), "{}", describe(&script));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleetup.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let probe = format!(
        "source '{}' || exit 3; COMP_WORDS=(fleetup {}); COMP_CWORD={}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; _fleetup fleetup '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        quoted.join(" "),
        words.len(),
        words.last().unwrap(),
        if words.len() > 1 {
            words[words.len() - 2]
        } else {
            "fleetup"
        },
    );
    let out = run(Command::new("bash").args(["--norc", "-c", &probe]));
    assert!(out.status.success(), "{}", describe(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completion_loads_and_completes_commands_and_flags() {
    let commands = bash_complete(&["up"]);
    assert!(commands.iter().any(|c| c == "upgrade"), "{commands:?}");
    assert!(!commands.iter().any(|c| c == "check"), "{commands:?}");
    let flags = bash_complete(&["upgrade", "--ser"]);
    assert_eq!(flags, ["--serial"], "{flags:?}");
    for shell in ["zsh", "fish"] {
        let out = run(fleetup().args(["completions", shell]));
        assert!(out.status.success(), "{shell}: {}", describe(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("upgrade"),
            "{shell}"
        );
    }
    let out = run(fleetup().args(["completions", "tcsh"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn man_pages_for_every_command() {
    let out = run(fleetup().arg("man"));
    assert!(out.status.success(), "{}", describe(&out));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH fleetup 1"), "{page}");
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH OPTIONS",
        ".SH SUBCOMMANDS",
        ".SH EXAMPLES",
    ] {
        assert!(page.contains(section), "{section} missing");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run(fleetup().arg("man").arg("--dir").arg(dir.path()));
    assert!(out.status.success(), "{}", describe(&out));
    for cmd in [
        "upgrade",
        "check",
        "rollback",
        "releases",
        "inventory",
        "release-publish",
    ] {
        let page = std::fs::read_to_string(dir.path().join(format!("fleetup-{cmd}.1")))
            .unwrap_or_else(|e| panic!("fleetup-{cmd}.1: {e}"));
        assert!(page.contains(".TH fleetup-"), "fleetup-{cmd}.1");
        assert!(
            page.contains("\n.SH EXAMPLES\n") && !page.contains(".SH EXTRA"),
            "fleetup-{cmd}.1 has its examples under EXAMPLES"
        );
    }
    let upgrade = std::fs::read_to_string(dir.path().join("fleetup-upgrade.1")).unwrap();
    assert!(
        upgrade.contains("serial"),
        "fleetup-upgrade.1 documents --serial"
    );
}
