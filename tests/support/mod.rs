//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod cells;
pub mod http;
pub mod lab;
pub mod service;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fleetup::release::Artifact;
use fleetup::steps::version::go_arch;
use sha2::{Digest, Sha256};

/// The repository root (where `Cargo.toml` is).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `fleetup` command built from this checkout, run from the repository root, away from the
/// developer's own configuration (`~/.config/fleetup/config.toml`, `FLEETUP_*` settings): a
/// test that wants a configuration sets `XDG_CONFIG_HOME` or the variables itself.
pub fn fleetup() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleetup"));
    cmd.current_dir(repo())
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", repo().join("target/no-user-config"))
        .env_remove("FLEETUP_LOG");
    for var in CONFIG_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// The `FLEETUP_*` variables that set the controller's configuration (docs/configuration.md):
/// a test removes them to run away from the developer's own settings.
pub const CONFIG_VARS: [&str; 7] = [
    "FLEETUP_INVENTORY",
    "FLEETUP_FORKS",
    "FLEETUP_SERIAL",
    "FLEETUP_OUTPUT",
    "FLEETUP_KNOWN_HOSTS",
    "FLEETUP_HOST_KEY_CHECKING",
    "FLEETUP_CACHE_DIR",
];

/// Runs `cmd` and returns its output, with stdout and stderr shown in the panic message of any
/// later assertion through [`describe`].
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// A readable account of a finished command, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Finds `tool` on PATH or fails the test with what to install — tests never skip silently.
pub fn require_tool(tool: &str, install_hint: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("this test needs `{tool}` on PATH: {install_hint} (scripts/test installs it)");
}

/// Fails the test unless it runs as root (the lab needs mount namespaces and sshd).
pub fn require_root() {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_default();
    assert_eq!(
        uid, "0",
        "this test needs root (mount namespaces, sshd on 127.0.x.y:22)"
    );
}

/// Path of a file in the repository.
pub fn repo_path(rel: impl AsRef<Path>) -> PathBuf {
    repo().join(rel)
}

/// The sha256 of `data` in lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A release artifact of `content` for this machine (`linux`, the arch `uname -m` names).
pub fn artifact(content: &[u8]) -> Artifact {
    let m = Command::new("uname").arg("-m").output().unwrap();
    Artifact {
        os: "linux".into(),
        arch: go_arch(&String::from_utf8_lossy(&m.stdout)),
        url: "demo".into(),
        size: content.len() as u64,
        sha256: sha256_hex(content),
    }
}
