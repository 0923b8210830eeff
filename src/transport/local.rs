//! The local transport (`ansible_connection: local`): the same argv commands as over SSH, run
//! on the controller itself. No shell is involved: `cmd.full_argv()` is executed directly, so
//! `argv[0]` is the program and every other word reaches it unchanged.
//!
//! Each command runs in its own process group. On timeout the whole group gets SIGTERM (so a
//! `sudo` in front relays it to the command it runs as another user), then SIGKILL after a
//! short grace; the call returns [`TransportError::Timeout`]. stdout and stderr are each kept
//! up to [`MAX_OUTPUT_BYTES`]; the rest is read and dropped (so the command never blocks on a
//! full pipe) and `truncated` is set. Once the command has exited, output still held open by a
//! process it left in the background (a daemon started by a restart command) is read for at
//! most [`DRAIN_AFTER_EXIT`], never waited for.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::{CommandOutput, MAX_OUTPUT_BYTES, RemoteCommand, Transport, TransportError};

/// How long output pipes are still read after the command itself has exited.
pub const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// Between SIGTERM and SIGKILL of a timed-out command's process group.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// Runs commands on the controller. `host` is the inventory name, used in messages.
#[derive(Debug, Clone)]
pub struct LocalTransport {
    host: String,
}

impl LocalTransport {
    pub fn new(host: impl Into<String>) -> Self {
        Self { host: host.into() }
    }
}

impl Transport for LocalTransport {
    fn host(&self) -> &str {
        &self.host
    }

    async fn exec(
        &self,
        cmd: &RemoteCommand,
        stdin: Option<Bytes>,
    ) -> Result<CommandOutput, TransportError> {
        let argv = cmd.full_argv();
        let shown = cmd
            .shell_line()
            .unwrap_or_else(|_| format!("{:?}", cmd.full_argv()));
        let command_error = |reason: String| TransportError::Command {
            host: self.host.clone(),
            command: shown.clone(),
            reason,
        };
        let Some((program, args)) = argv.split_first() else {
            return Err(command_error("empty command".into()));
        };
        if argv.iter().any(|w| w.contains('\0')) {
            return Err(command_error("a word contains a NUL byte".into()));
        }
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| command_error(format!("cannot start {program:?}: {e}")))?;

        // Feed stdin from its own task; a command that stops reading early (EPIPE) is not
        // an error here: its exit status says what happened.
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            tokio::spawn(async move {
                let _ = pipe.write_all(&data).await;
                let _ = pipe.shutdown().await;
            });
        }
        let out_pipe = child.stdout.take();
        let err_pipe = child.stderr.take();
        let out_reader = Reader::spawn(out_pipe);
        let err_reader = Reader::spawn(err_pipe);

        let status = match tokio::time::timeout(cmd.timeout, child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => return Err(command_error(format!("waiting for it: {e}"))),
            Err(_) => {
                kill_group(&mut child).await;
                out_reader.task.abort();
                err_reader.task.abort();
                return Err(TransportError::Timeout {
                    host: self.host.clone(),
                    command: shown,
                    seconds: cmd.timeout.as_secs(),
                });
            }
        };
        let (stdout, out_trunc) = out_reader.finish().await;
        let (stderr, err_trunc) = err_reader.finish().await;
        Ok(CommandOutput {
            status: status.code().and_then(|c| u32::try_from(c).ok()),
            stdout,
            stderr,
            truncated: out_trunc || err_trunc,
        })
    }
}

/// What a pipe reader has kept so far, and whether it dropped any.
type Kept = Arc<Mutex<(Vec<u8>, bool)>>;

struct Reader {
    kept: Kept,
    task: tokio::task::JoinHandle<()>,
}

impl Reader {
    fn spawn<R: AsyncRead + Unpin + Send + 'static>(pipe: Option<R>) -> Self {
        let kept = Kept::default();
        let task = tokio::spawn(read_capped(pipe, kept.clone()));
        Self { kept, task }
    }

    /// Waits at most [`DRAIN_AFTER_EXIT`] for end-of-file, then takes what was read: a pipe
    /// still held open by a background process is not waited for.
    async fn finish(mut self) -> (Vec<u8>, bool) {
        if tokio::time::timeout(DRAIN_AFTER_EXIT, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *kept)
    }
}

/// Reads a pipe to its end, keeping the first [`MAX_OUTPUT_BYTES`].
async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>, kept: Kept) {
    let Some(mut pipe) = pipe else {
        return;
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
                let room = MAX_OUTPUT_BYTES.saturating_sub(kept.0.len());
                if n > room {
                    kept.1 = true;
                }
                kept.0.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// SIGTERM to the child's whole process group, then SIGKILL if it is still there.
async fn kill_group(child: &mut Child) {
    if let Some(pid) = child.id() {
        signal_group("TERM", pid).await;
        if tokio::time::timeout(KILL_GRACE, child.wait()).await.is_ok() {
            // The leader is gone; anything left in its group gets no second chance.
            signal_group("KILL", pid).await;
            return;
        }
        signal_group("KILL", pid).await;
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
}

/// `kill -s SIG -- -PGID` (unsafe code is forbidden in this crate, so no `killpg` call).
async fn signal_group(signal: &str, pgid: u32) {
    let _ = Command::new("kill")
        .args(["-s", signal, "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(argv: &[&str], secs: u64) -> RemoteCommand {
        RemoteCommand::new(argv.iter().copied(), Duration::from_secs(secs))
    }

    #[tokio::test]
    async fn runs_argv_without_a_shell_and_feeds_stdin() {
        let t = LocalTransport::new("local");
        let out = t
            .exec(&cmd(&["printf", "%s|", "$(echo no)", "a b"], 5), None)
            .await
            .unwrap();
        assert!(out.success());
        assert_eq!(out.stdout_text(), "$(echo no)|a b|");
        let out = t
            .exec(&cmd(&["cat"], 5), Some(Bytes::from_static(b"hello")))
            .await
            .unwrap();
        assert_eq!(out.stdout, b"hello");
        let out = t
            .exec(&cmd(&["sh", "-c", "echo err >&2; exit 3"], 5), None)
            .await
            .unwrap();
        assert_eq!(out.status, Some(3));
        assert_eq!(out.stderr_text(), "err\n");
    }

    #[tokio::test]
    async fn output_is_capped() {
        let t = LocalTransport::new("local");
        let big = (MAX_OUTPUT_BYTES + 10).to_string();
        let out = t
            .exec(&cmd(&["head", "-c", &big, "/dev/zero"], 10), None)
            .await
            .unwrap();
        assert_eq!(out.stdout.len(), MAX_OUTPUT_BYTES);
        assert!(out.truncated);
    }

    #[tokio::test]
    async fn timeout_kills_the_process_group() {
        let t = LocalTransport::new("local");
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = "sleep 30 & echo $! > \"$1\"; wait";
        let started = std::time::Instant::now();
        let err = t
            .exec(
                &cmd(&["sh", "-c", script, "x", pidfile.to_str().unwrap()], 1),
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Gone, or a zombie nobody reaped yet (PID 1 of a container may not reap).
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
        if let Ok(stat) = stat {
            let state = stat.rsplit(") ").next().unwrap_or("").chars().next();
            assert_eq!(state, Some('Z'), "the grandchild sleep survived: {stat}");
        }
    }

    #[tokio::test]
    async fn a_background_process_holding_stdout_does_not_block() {
        let t = LocalTransport::new("local");
        let started = std::time::Instant::now();
        let out = t
            .exec(&cmd(&["sh", "-c", "sleep 5 & echo started"], 10), None)
            .await
            .unwrap();
        assert!(out.success());
        assert_eq!(out.stdout_text(), "started\n");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn missing_program_is_a_command_error() {
        let t = LocalTransport::new("local");
        let err = t
            .exec(&cmd(&["/nonexistent/fleetup-x"], 5), None)
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::Command { .. }), "{err}");
    }
}
