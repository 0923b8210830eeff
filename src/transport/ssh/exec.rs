//! One command on the connection: a session channel, `exec`, stdin streamed while stdout and
//! stderr are read, then the exit status.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use russh::{ChannelMsg, Sig};

use super::SshTransport;
use crate::transport::{CommandOutput, MAX_OUTPUT_BYTES, RemoteCommand, TransportError};

/// The first line of stderr: the remote shell's pid (which `exec`s the command, so it is the
/// command's pid and, sshd having called `setsid`, its process group). It is taken out of
/// stderr, and used to kill the command when it times out: OpenSSH refuses `signal` requests
/// in sessions of root (no post-authentication privilege separation).
const PID_MARK: &str = "fleetup-pid:";

/// The line actually sent: report the pid on stderr, then `exec` the quoted command.
fn wrapped(line: &str) -> String {
    format!("printf '{PID_MARK}%s\\n' \"$$\" >&2; exec {line}")
}

/// Takes the pid line out of the start of stderr.
#[derive(Default)]
struct PidLine {
    done: bool,
    head: Vec<u8>,
}

impl PidLine {
    /// Feeds stderr bytes; returns what belongs to the command's stderr.
    fn feed(&mut self, data: &[u8], pid: &AtomicU32) -> Vec<u8> {
        if self.done {
            return data.to_vec();
        }
        self.head.extend_from_slice(data);
        if let Some(nl) = self.head.iter().position(|&b| b == b'\n') {
            self.done = true;
            let first = String::from_utf8_lossy(&self.head[..nl]).into_owned();
            if let Some(n) = first
                .strip_prefix(PID_MARK)
                .and_then(|p| p.trim().parse().ok())
            {
                pid.store(n, Ordering::Relaxed);
                return self.head.split_off(nl + 1);
            }
            return std::mem::take(&mut self.head);
        }
        if self.head.len() > 64 {
            self.done = true;
            return std::mem::take(&mut self.head);
        }
        Vec::new()
    }
}

/// How a channel ended, as far as the reader saw.
struct Finished {
    output: CommandOutput,
    /// The server sent `CHANNEL_CLOSE` (a normal end); without it the connection went away.
    closed_by_server: bool,
    exit_known: bool,
}

fn keep(buf: &mut Vec<u8>, data: &[u8], truncated: &mut bool) {
    let room = MAX_OUTPUT_BYTES.saturating_sub(buf.len());
    if data.len() > room {
        *truncated = true;
    }
    buf.extend_from_slice(&data[..data.len().min(room)]);
}

/// Reads every message of the channel until it is gone (data may follow the exit status).
async fn read_all(read: &mut russh::ChannelReadHalf, pid: &AtomicU32) -> Finished {
    let mut out = CommandOutput::default();
    let mut pid_line = PidLine::default();
    let mut closed_by_server = false;
    let mut exit_known = false;
    while let Some(msg) = read.wait().await {
        match msg {
            ChannelMsg::Data { data } => keep(&mut out.stdout, &data, &mut out.truncated),
            ChannelMsg::ExtendedData { data, ext: 1 } => {
                let data = pid_line.feed(&data, pid);
                keep(&mut out.stderr, &data, &mut out.truncated);
            }
            ChannelMsg::ExitStatus { exit_status } => {
                out.status = Some(exit_status);
                exit_known = true;
            }
            ChannelMsg::ExitSignal {
                signal_name,
                core_dumped,
                error_message,
                ..
            } => {
                out.status = None;
                exit_known = true;
                let note = format!(
                    "\n[fleetup] the remote command was killed by signal {signal_name:?}{}{}\n",
                    if core_dumped { " (core dumped)" } else { "" },
                    if error_message.is_empty() {
                        String::new()
                    } else {
                        format!(": {error_message}")
                    }
                );
                // The note is always kept, even past the cap.
                out.stderr.extend_from_slice(note.as_bytes());
            }
            ChannelMsg::Close => closed_by_server = true,
            _ => {}
        }
    }
    Finished {
        output: out,
        closed_by_server,
        exit_known,
    }
}

/// Bytes handed to the channel per write when progress is counted: large enough that the
/// per-write cost vanishes, small enough for a live byte count.
const COUNTED_CHUNK: usize = 256 * 1024;

pub(super) async fn run(
    t: &SshTransport,
    cmd: &RemoteCommand,
    stdin: Option<Bytes>,
    sent: Option<&AtomicU64>,
) -> Result<CommandOutput, TransportError> {
    let line = cmd.shell_line().map_err(|reason| TransportError::Command {
        host: t.name.clone(),
        command: format!("{:?}", cmd.full_argv()),
        reason,
    })?;
    let lost = |reason: String| TransportError::Lost {
        host: t.name.clone(),
        reason,
    };
    let failed = |reason: String| {
        if t.handle.is_closed() {
            lost(reason)
        } else {
            TransportError::Command {
                host: t.name.clone(),
                command: line.clone(),
                reason,
            }
        }
    };

    let timeout = cmd.timeout;
    let pid = AtomicU32::new(0);
    let open = async {
        let permit = t.sessions.acquire().await;
        (permit, t.handle.channel_open_session().await)
    };
    let (_permit, channel) =
        tokio::time::timeout(timeout, open)
            .await
            .map_err(|_| TransportError::Timeout {
                host: t.name.clone(),
                command: line.clone(),
                seconds: timeout.as_secs(),
            })?;
    let channel = channel.map_err(|e| failed(format!("cannot open a session channel: {e}")))?;
    let (mut read, write) = channel.split();

    let work = async {
        write
            .exec(true, wrapped(&line).as_bytes())
            .await
            .map_err(|e| failed(format!("cannot start the command: {e}")))?;
        // Feed stdin while reading: a command that writes a lot before reading its input must
        // not stall the connection. A command that exits without reading it all ends the
        // writer (the reader's result is what counts).
        let feed = async {
            if let Some(mut data) = stdin {
                // data_bytes cuts packets to the peer's packet size and waits for its window.
                match sent {
                    None => write.data_bytes(data).await?,
                    Some(sent) => {
                        while !data.is_empty() {
                            let chunk = data.split_to(data.len().min(COUNTED_CHUNK));
                            let n = chunk.len() as u64;
                            write.data_bytes(chunk).await?;
                            sent.fetch_add(n, Ordering::Relaxed);
                        }
                    }
                }
            }
            write.eof().await
        };
        let reader = read_all(&mut read, &pid);
        tokio::pin!(feed, reader);
        let mut feeding = true;
        let finished = loop {
            tokio::select! {
                r = &mut feed, if feeding => {
                    feeding = false;
                    if let Err(e) = r {
                        tracing::debug!(host = %t.name, "stdin not fully sent: {e}");
                    }
                }
                f = &mut reader => break f,
            }
        };
        Ok::<_, TransportError>(finished)
    };

    let finished = match tokio::time::timeout(timeout, work).await {
        Ok(r) => r?,
        Err(_) => {
            // Kill the remote process: the signal request works for non-root sessions; the
            // `kill` of its process group, from a second channel, for all.
            let _ = write.signal(Sig::KILL).await;
            let _ = write.close().await;
            let pid = pid.load(Ordering::Relaxed);
            if pid > 1 {
                kill_group(t, pid, cmd.become_user.clone()).await;
            }
            return Err(TransportError::Timeout {
                host: t.name.clone(),
                command: line,
                seconds: timeout.as_secs(),
            });
        }
    };
    if !finished.closed_by_server && !finished.exit_known {
        return Err(lost(format!("while `{line}` ran, the connection closed")));
    }
    Ok(finished.output)
}

/// Best effort: `kill -KILL` the process group `pid` (as the command's become user).
async fn kill_group(t: &SshTransport, pid: u32, become_user: Option<String>) {
    let script = format!("kill -KILL -- -{pid} 2>/dev/null || kill -KILL {pid}");
    let mut kill = RemoteCommand::new(["sh", "-c", script.as_str()], Duration::from_secs(10));
    kill.become_user = become_user;
    let Ok(line) = kill.shell_line() else { return };
    let attempt = async {
        let mut ch = t.handle.channel_open_session().await.ok()?;
        ch.exec(true, line.as_bytes()).await.ok()?;
        ch.eof().await.ok()?;
        while ch.wait().await.is_some() {}
        Some(())
    };
    if tokio::time::timeout(kill.timeout, attempt).await.is_err() {
        tracing::debug!(host = %t.name, pid, "the kill of a timed-out command did not finish");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_line_is_taken_out_of_stderr_even_when_split() {
        let pid = AtomicU32::new(0);
        let mut p = PidLine::default();
        assert!(p.feed(b"fleetup-p", &pid).is_empty());
        assert_eq!(p.feed(b"id:4242\nreal err", &pid), b"real err");
        assert_eq!(p.feed(b"or\n", &pid), b"or\n");
        assert_eq!(pid.load(Ordering::Relaxed), 4242);

        let pid = AtomicU32::new(0);
        let mut p = PidLine::default();
        assert_eq!(p.feed(b"no marker\nmore", &pid), b"no marker\nmore");
        assert_eq!(pid.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_command_is_exec_ed_after_the_pid_line() {
        assert_eq!(
            wrapped("'sleep' '1'"),
            "printf 'fleetup-pid:%s\\n' \"$$\" >&2; exec 'sleep' '1'"
        );
    }
}
