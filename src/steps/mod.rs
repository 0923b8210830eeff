//! The steps on a host: probe, (decide: [`crate::plan`]), lock, stage, back up + swap,
//! restart, health, rollback.
//!
//! Every command run on a host is an argv built by a function of this module tree, with a unit
//! test. Where a step needs shell logic it runs a **constant** POSIX `sh -c` script and passes
//! its values as positional parameters (`sh -c SCRIPT fleetup-NAME VALUE…`): inventory values
//! never become shell code. The host needs a POSIX `sh` and GNU coreutils (`realpath`,
//! `stat -c`, `sha256sum` (or `openssl`, preferred: faster), `head -c`, `sync FILE`, `mv -T`, `timeout`), plus `getcap`/`setcap`
//! where capabilities matter and `curl` for an HTTP health check.
//!
//! Round trips per host (one command each): probe 1; lock 1 (2 when a stale lock is cleared);
//! stage 1 (+1 to remove the staged file when it reports the wrong version); backup + swap 1;
//! restart 1; health 1 (retries happen on the host); unlock 1. Rollback: 1 to restore, then
//! restart 1 and health 1 again. A host already at the target costs the probe only.

/// The shell function `sha` of the step scripts: the SHA-256 of stdin, printed as
/// `HEX <anything>`. OpenSSL's when the host has it (it uses the CPU's SHA extensions: about 5x
/// GNU `sha256sum` on the same machine, which matters at 100 hosts x tens of MiB, hashed
/// on each), else coreutils'.
macro_rules! sha_fn {
    () => {
        "if command -v openssl >/dev/null 2>&1; then sha() { openssl dgst -sha256 -r; }; else sha() { sha256sum; }; fi\n"
    };
}

pub mod health;
pub mod lock;
pub mod probe;
pub mod rollback;
pub mod settings;
pub mod stage;
pub mod swap;
pub mod upgrade;
pub mod version;

use std::fmt;

use bytes::Bytes;

use crate::transport::{CommandOutput, RemoteCommand, Transport, TransportError};

pub use probe::{Probe, probe, probe_for};
pub use rollback::{Restored, rollback};
pub use settings::{HostSettings, SetcapPolicy};
pub use upgrade::{NoEvents, Outcome, StepEvents, upgrade, upgrade_observed};

/// Which step a command belonged to (for reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Settings,
    Probe,
    Decide,
    Lock,
    Stage,
    Swap,
    Restart,
    Health,
    Rollback,
    Unlock,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Settings => "settings",
            Step::Probe => "probe",
            Step::Decide => "decide",
            Step::Lock => "lock",
            Step::Stage => "stage",
            Step::Swap => "swap",
            Step::Restart => "restart",
            Step::Health => "health",
            Step::Rollback => "rollback",
            Step::Unlock => "unlock",
        })
    }
}

/// A step that failed on one host: what was run, how it ended, and its full stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    pub host: String,
    pub step: Step,
    /// What went wrong, in words.
    pub message: String,
    /// The argv run (with `sudo -n -u USER --` when become is set); empty when none was.
    pub argv: Vec<String>,
    /// Its exit status (`None`: killed, timed out, or never ran).
    pub status: Option<u32>,
    /// Its full stderr (as kept by the transport).
    pub stderr: String,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.host, self.step, self.message)?;
        if !self.argv.is_empty() {
            let words: Vec<&str> = self.argv.iter().map(String::as_str).collect();
            let line = shlex::try_join(words).unwrap_or_else(|_| format!("{:?}", self.argv));
            match self.status {
                Some(s) => write!(f, "\n  command (exit {s}): {line}")?,
                None => write!(f, "\n  command: {line}")?,
            }
        }
        let stderr = self.stderr.trim_end();
        if !stderr.is_empty() {
            write!(f, "\n  stderr:\n    {}", stderr.replace('\n', "\n    "))?;
        }
        Ok(())
    }
}

impl std::error::Error for StepError {}

impl StepError {
    pub fn new(host: &str, step: Step, message: impl Into<String>) -> Self {
        Self {
            host: host.to_owned(),
            step,
            message: message.into(),
            argv: Vec::new(),
            status: None,
            stderr: String::new(),
        }
    }

    /// A command that ran and failed.
    pub fn from_output(
        host: &str,
        step: Step,
        cmd: &RemoteCommand,
        out: &CommandOutput,
        message: impl Into<String>,
    ) -> Self {
        Self {
            argv: cmd.full_argv(),
            status: out.status,
            stderr: out.stderr_text(),
            ..Self::new(host, step, message)
        }
    }

    pub(crate) fn from_transport(
        host: &str,
        step: Step,
        cmd: &RemoteCommand,
        e: &TransportError,
    ) -> Self {
        // The command is shown once, from `argv`: the message says only what happened to it.
        let message = match e {
            TransportError::Timeout { seconds, .. } => {
                format!("did not finish within {seconds} s (killed)")
            }
            TransportError::Command { reason, .. } => reason.clone(),
            TransportError::Lost { reason, .. } => {
                // The transport's reason may quote the whole command line (a script, for
                // most steps): it is shown once, from `argv`.
                let reason = match cmd.shell_line() {
                    Ok(line) => reason.replace(&format!("`{line}`"), "the command"),
                    Err(_) => reason.clone(),
                };
                format!("connection lost: {reason}")
            }
            other => other.to_string(),
        };
        Self {
            argv: cmd.full_argv(),
            ..Self::new(host, step, message)
        }
    }
}

/// Runs one command; a transport failure becomes a [`StepError`] of `step`.
pub(crate) async fn run<T: Transport>(
    t: &T,
    step: Step,
    cmd: &RemoteCommand,
    stdin: Option<Bytes>,
) -> Result<CommandOutput, StepError> {
    t.exec(cmd, stdin)
        .await
        .map_err(|e| StepError::from_transport(t.host(), step, cmd, &e))
}

/// Runs one command that must exit 0; its last stderr line says why when it does not.
pub(crate) async fn run_ok<T: Transport>(
    t: &T,
    step: Step,
    cmd: &RemoteCommand,
    stdin: Option<Bytes>,
) -> Result<CommandOutput, StepError> {
    let out = run(t, step, cmd, stdin).await?;
    if out.success() {
        return Ok(out);
    }
    Err(StepError::from_output(
        t.host(),
        step,
        cmd,
        &out,
        failure_reason(&out),
    ))
}

/// A one-line reason for a failed command: its last non-empty stderr line, or its status.
pub(crate) fn failure_reason(out: &CommandOutput) -> String {
    let stderr = out.stderr_text();
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    match (last, out.status) {
        (Some(l), _) => l.trim().to_owned(),
        (None, Some(s)) => format!("exited with status {s}"),
        (None, None) => "killed by a signal".to_owned(),
    }
}

/// `sh -c SCRIPT NAME ARGS…` with become applied: the constant script sees the values as
/// `$1…`, never as code.
pub(crate) fn script_command(
    script: &'static str,
    name: &str,
    args: Vec<String>,
    settings: &HostSettings,
    timeout: std::time::Duration,
) -> RemoteCommand {
    let mut argv = vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
    argv.push(name.to_owned());
    argv.extend(args);
    let mut cmd = RemoteCommand::new(argv, timeout);
    cmd.become_user.clone_from(&settings.become_user);
    cmd
}

/// A name unique enough for temp files (they are also created with O_EXCL on the host).
pub(crate) fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
}

/// The directory and file name of an absolute path.
pub(crate) fn split_path(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (".", path),
    }
}

/// `dir/name`, without doubling the slash of `/`.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn script_command_passes_values_as_parameters() {
        let mut s = HostSettings::for_binary("/a/b");
        s.become_user = Some("root".into());
        let c = script_command(
            "echo \"$1\"",
            "fleetup-x",
            vec!["$(reboot)".into()],
            &s,
            Duration::from_secs(1),
        );
        assert_eq!(
            c.full_argv(),
            [
                "sudo",
                "-n",
                "-u",
                "root",
                "--",
                "sh",
                "-c",
                "echo \"$1\"",
                "fleetup-x",
                "$(reboot)"
            ]
        );
    }

    #[test]
    fn paths_split_and_join() {
        assert_eq!(split_path("/usr/bin/app"), ("/usr/bin", "app"));
        assert_eq!(split_path("/app"), ("/", "app"));
        assert_eq!(join("/", "app"), "/app");
        assert_eq!(join("/opt", "app"), "/opt/app");
        assert_ne!(random_suffix(), random_suffix());
    }

    #[test]
    fn a_lost_connection_is_said_without_the_command_line() {
        let cmd = script_command(
            "set -u\necho long script",
            "fleetup-x",
            vec!["a b".into()],
            &HostSettings::for_binary("/a/b"),
            Duration::from_secs(1),
        );
        let line = cmd.shell_line().unwrap();
        let e = StepError::from_transport(
            "web1",
            Step::Stage,
            &cmd,
            &TransportError::Lost {
                host: "web1".into(),
                reason: format!("while `{line}` ran, the connection closed"),
            },
        );
        assert_eq!(
            e.message,
            "connection lost: while the command ran, the connection closed"
        );
        assert_eq!(
            e.argv,
            cmd.full_argv(),
            "the command is shown once, from argv"
        );
        assert!(
            e.to_string()
                .starts_with("web1: stage: connection lost: while the command ran, the connection closed\n  command: sh -c"),
            "{e}"
        );
    }

    #[test]
    fn error_shows_command_status_and_full_stderr() {
        let e = StepError {
            host: "web1".into(),
            step: Step::Stage,
            message: "sha256 mismatch".into(),
            argv: vec!["sh".into(), "-c".into(), "x y".into()],
            status: Some(1),
            stderr: "line1\nline2\n".into(),
        };
        let text = e.to_string();
        assert!(text.starts_with("web1: stage: sha256 mismatch"), "{text}");
        assert!(text.contains("(exit 1): sh -c 'x y'"), "{text}");
        assert!(text.contains("line1\n    line2"), "{text}");
    }
}
