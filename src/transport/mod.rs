//! How fleetup reaches a host: one connection per host that runs commands, each given as an
//! argv (quoted once, here, never by callers), optionally fed bytes on stdin, optionally run
//! through `sudo -n`. Two implementations: SSH (russh) and local (`ansible_connection: local`).

pub mod connect;
pub mod known_hosts;
pub mod local;
pub mod ssh;
pub mod ssh_config;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

/// Most bytes kept of a command's stdout or stderr (the rest is dropped, and said so).
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// One command to run on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    /// The words of the command; `argv[0]` is the program. Never pre-quoted.
    pub argv: Vec<String>,
    /// Run it as this user through `sudo -n -u USER --` (privileged steps with become).
    pub become_user: Option<String>,
    /// Give up (and kill it) after this long.
    pub timeout: Duration,
}

impl RemoteCommand {
    pub fn new<I, S>(argv: I, timeout: Duration) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            become_user: None,
            timeout,
        }
    }

    /// The argv actually run: with `sudo -n -u USER --` in front when become is set. `-n`:
    /// a sudo that wants a password fails at once instead of waiting for one.
    pub fn full_argv(&self) -> Vec<String> {
        let mut argv = Vec::with_capacity(self.argv.len() + 5);
        if let Some(user) = &self.become_user {
            argv.extend(["sudo", "-n", "-u", user.as_str(), "--"].map(str::to_owned));
        }
        argv.extend(self.argv.iter().cloned());
        argv
    }

    /// The command line for a remote shell: every word quoted once with POSIX shell rules.
    /// Words with a NUL byte cannot be passed and are refused.
    pub fn shell_line(&self) -> Result<String, String> {
        let argv = self.full_argv();
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        shlex::try_join(words).map_err(|e| format!("cannot quote {argv:?}: {e}"))
    }
}

/// What a finished command left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit status; `None` when it was ended by a signal or the connection gave none.
    pub status: Option<u32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Whether output past [`MAX_OUTPUT_BYTES`] was dropped.
    pub truncated: bool,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Why a command could not be run at all (as opposed to running and failing).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{host}: cannot connect to {address}: {reason}")]
    Connect {
        host: String,
        address: String,
        reason: String,
    },
    #[error("{host}: host key verification failed: {reason}")]
    HostKey { host: String, reason: String },
    #[error("{host}: authentication as {user} failed: {reason}")]
    Auth {
        host: String,
        user: String,
        reason: String,
    },
    #[error("{host}: `{command}` did not finish within {seconds} s (killed)")]
    Timeout {
        host: String,
        command: String,
        seconds: u64,
    },
    #[error("{host}: `{command}`: {reason}")]
    Command {
        host: String,
        command: String,
        reason: String,
    },
    #[error("{host}: connection lost: {reason}")]
    Lost { host: String, reason: String },
}

impl TransportError {
    /// The same error, said of `host` (an error shared by several hosts, e.g. their jump
    /// host's).
    pub fn for_host(&self, host: &str) -> TransportError {
        let host = host.to_owned();
        match self {
            TransportError::Connect {
                address, reason, ..
            } => TransportError::Connect {
                host,
                address: address.clone(),
                reason: reason.clone(),
            },
            TransportError::HostKey { reason, .. } => TransportError::HostKey {
                host,
                reason: reason.clone(),
            },
            TransportError::Auth { user, reason, .. } => TransportError::Auth {
                host,
                user: user.clone(),
                reason: reason.clone(),
            },
            TransportError::Timeout {
                command, seconds, ..
            } => TransportError::Timeout {
                host,
                command: command.clone(),
                seconds: *seconds,
            },
            TransportError::Command {
                command, reason, ..
            } => TransportError::Command {
                host,
                command: command.clone(),
                reason: reason.clone(),
            },
            TransportError::Lost { reason, .. } => TransportError::Lost {
                host,
                reason: reason.clone(),
            },
        }
    }
}

/// A connection to one host. Every step of that host goes through the same one.
pub trait Transport: Send + Sync {
    /// The inventory name of the host (for messages).
    fn host(&self) -> &str;

    /// Runs `cmd`, feeding it `stdin` (then end-of-file), and waits for it to finish or time
    /// out. A command that runs and exits non-zero is `Ok` with that status.
    fn exec(
        &self,
        cmd: &RemoteCommand,
        stdin: Option<Bytes>,
    ) -> impl Future<Output = Result<CommandOutput, TransportError>> + Send;

    /// [`exec`](Self::exec) with `stdin`, adding to `sent` the bytes handed to the connection
    /// as they go (for progress: whoever shows it reads the counter at its own rate).
    fn exec_counted(
        &self,
        cmd: &RemoteCommand,
        stdin: Bytes,
        sent: Arc<AtomicU64>,
    ) -> impl Future<Output = Result<CommandOutput, TransportError>> + Send {
        async move {
            let len = stdin.len() as u64;
            let out = self.exec(cmd, Some(stdin)).await;
            sent.fetch_add(len, Ordering::Relaxed);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn become_prefixes_sudo_non_interactive() {
        let mut c = RemoteCommand::new(["mv", "a b", "c"], Duration::from_secs(1));
        assert_eq!(c.full_argv(), ["mv", "a b", "c"]);
        c.become_user = Some("root".into());
        assert_eq!(
            c.full_argv(),
            ["sudo", "-n", "-u", "root", "--", "mv", "a b", "c"]
        );
    }

    #[test]
    fn shell_line_quotes_every_word_once() {
        let c = RemoteCommand::new(
            ["printf", "%s", "$(reboot); `x` 'q' \"d\"\nnl", "-oX"],
            Duration::from_secs(1),
        );
        let line = c.shell_line().unwrap();
        let back = shlex::split(&line).unwrap();
        assert_eq!(back, c.argv);
        let nul = RemoteCommand::new(["a\0b"], Duration::from_secs(1));
        assert!(nul.shell_line().is_err());
    }
}
