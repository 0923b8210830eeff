//! Lock: one fleetup run at a time per binary. A lock file beside the binary,
//! `.<name>.fleetup.lock`, holding who took it:
//!
//! ```text
//! run=<run id>
//! controller=<controller host name>
//! pid=<controller pid>
//! pidstart=<that pid's start time, in clock ticks since boot (/proc/PID/stat field 22)>
//! started=<unix time on the controller>
//! machine=<the controller's boot id>:<its pid namespace>
//! ```
//!
//! It is created atomically and complete: the content goes to a unique temp file first, which
//! is then hard-linked to the lock name (`link()` fails when the name exists), so another run
//! never sees a half-written lock. Cost: 1 round trip (2 when a stale lock is cleared first);
//! releasing it: 1.
//!
//! **Stale locks.** A lock is cleared when the run that took it is gone:
//! - taken on this very controller (same host name, same boot id, same pid namespace: the
//!   processes this controller sees are the ones that run could have been): it is gone when no
//!   process has the recorded pid *with the same start time* (a reused pid is not the run).
//!   Such a lock is cleared at once, whatever its age: a run killed with `kill -9` (or an
//!   out-of-memory kill) does not block the next one;
//! - otherwise (another controller, or a lock written by a fleetup without the `machine`
//!   line): its processes cannot be seen from here, so it is cleared once it is older than
//!   `fleetup_lock_stale_after` (default 1 h; its age is measured on the host, lock mtime
//!   against the host's clock, so controller clocks do not matter) — and, for the same host
//!   name, its pid is not alive. Every command of a run has a timeout, so a live run never
//!   holds a host's lock for that long (keep `fleetup_lock_stale_after` above the longest run
//!   of one host).
//!
//! **Temp files of dead runs.** Right after the lock is taken, the same script removes the
//! temp files a dead run may have left beside the binary: `.<name>.fleetup-<12 hex>` (a staged
//! binary) and `.<name>.fleetup-rb-<12 hex>` (a rollback's link). Every run creates those only
//! while it holds the lock, so once this run holds it, any such file belongs to a run that is
//! gone (or to a remote command of a killed run still winding down, which never renames a
//! temp file over the binary without the swap's identity check). Nothing else is touched:
//! not the backups, not another binary's files, not a lock.
//!
//! Clearing is safe against a race with another run doing the same: the stale lock is first
//! renamed aside (atomic), then its content is compared with what was judged stale; if it is
//! someone else's fresh lock after all, it is linked back.

use super::settings::HostSettings;
use super::{Step, StepError, join, random_suffix, run_ok, script_command};
use crate::transport::{RemoteCommand, Transport};

/// `$1` lock path, `$2` unique temp path, `$3` our content, `$4` the content of a lock judged
/// stale, to clear first (empty: none), `$5` the prefix of the binary's temp files
/// (`DIR/.NAME.fleetup-`; empty: none). Prints `acquired` then `removed=FILE` for each temp
/// file of a dead run it removed, or `held`, `age=SECONDS` and the holder's content.
pub const ACQUIRE_SCRIPT: &str = r#"set -u
lock=$1 tmp=$2 content=$3 stale=$4 temps=$5
if [ -n "$stale" ] && mv -T -- "$lock" "$tmp.stale" 2>/dev/null; then
  if [ "$(cat -- "$tmp.stale")" = "$stale" ]; then rm -f -- "$tmp.stale"
  else ln -- "$tmp.stale" "$lock" 2>/dev/null; rm -f -- "$tmp.stale"; fi
fi
umask 022
(set -C; printf '%s\n' "$content" > "$tmp") || exit 1
if err=$(ln -- "$tmp" "$lock" 2>&1); then
  rm -f -- "$tmp"
  echo acquired
  if [ -n "$temps" ]; then
    h='[0-9a-f]'
    for f in "$temps"*; do
      case ${f#"$temps"} in
      $h$h$h$h$h$h$h$h$h$h$h$h|rb-$h$h$h$h$h$h$h$h$h$h$h$h)
        if rm -f -- "$f"; then echo "removed=${f##*/}"; fi ;;
      esac
    done
  fi
  exit 0
fi
rm -f -- "$tmp"
# No lock there: the link failed for another reason (no inode or space left, …), not a holder.
if [ ! -e "$lock" ]; then echo "fleetup-lock: cannot create $lock: ${err#ln: }" >&2; exit 1; fi
now=$(date +%s)
mtime=$(stat -c %Y -- "$lock" 2>/dev/null) || mtime=$now
echo held
echo "age=$((now - mtime))"
head -c 4096 -- "$lock" 2>/dev/null
exit 0
"#;

/// `$1` lock path, `$2` our run id: removes the lock only when it is ours.
pub const RELEASE_SCRIPT: &str =
    r#"if grep -qxF -- "run=$2" "$1" 2>/dev/null; then rm -f -- "$1"; fi"#;

/// Who holds (or takes) a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOwner {
    pub run_id: String,
    pub controller: String,
    pub pid: u32,
    pub pid_start: Option<u64>,
    pub started: u64,
    /// `<boot id>:<pid namespace>` of the controller (empty: unknown, or an older fleetup).
    pub machine: String,
}

impl LockOwner {
    /// This process, for run `run_id`.
    pub fn current(run_id: &str) -> Self {
        let pid = std::process::id();
        Self {
            run_id: run_id.to_owned(),
            controller: controller_name(),
            pid,
            pid_start: process_start(pid),
            started: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            machine: machine_id(),
        }
    }

    pub fn render(&self) -> String {
        format!(
            "run={}\ncontroller={}\npid={}\npidstart={}\nstarted={}\nmachine={}",
            self.run_id,
            self.controller,
            self.pid,
            self.pid_start.map_or_else(String::new, |s| s.to_string()),
            self.started,
            self.machine
        )
    }

    pub fn parse(text: &str) -> Self {
        let mut o = Self {
            run_id: String::new(),
            controller: String::new(),
            pid: 0,
            pid_start: None,
            started: 0,
            machine: String::new(),
        };
        for line in text.lines() {
            match line.split_once('=') {
                Some(("run", v)) => o.run_id = v.to_owned(),
                Some(("controller", v)) => o.controller = v.to_owned(),
                Some(("pid", v)) => o.pid = v.parse().unwrap_or(0),
                Some(("pidstart", v)) => o.pid_start = v.parse().ok(),
                Some(("started", v)) => o.started = v.parse().unwrap_or(0),
                Some(("machine", v)) => o.machine = v.to_owned(),
                _ => {}
            }
        }
        o
    }

    /// Whether the run that took the lock may still be running, as far as this controller can
    /// tell (see the module documentation).
    pub fn may_be_alive(&self) -> bool {
        if self.controller != controller_name() {
            return true;
        }
        self.process_alive()
    }

    /// Whether the run took the lock on this very controller (same host name, boot and pid
    /// namespace) and is gone: then its lock can be cleared at once.
    pub fn known_dead(&self) -> bool {
        self.on_this_controller() && !self.process_alive()
    }

    /// Whether the lock was taken on this very controller (same host name, boot and pid
    /// namespace): its process, if alive, is visible from here.
    pub fn on_this_controller(&self) -> bool {
        self.controller == controller_name()
            && !self.machine.is_empty()
            && self.machine == machine_id()
    }

    /// Whether a local process has the recorded pid and start time.
    fn process_alive(&self) -> bool {
        if self.pid == 0 {
            return false;
        }
        match (process_start(self.pid), self.pid_start) {
            (None, _) => false,
            (Some(now), Some(then)) => now == then,
            (Some(_), None) => true,
        }
    }
}

/// `<boot id>:<pid namespace>` of this controller: two controllers with one host name (two
/// containers, say) differ in one or the other. Empty when either cannot be read.
pub fn machine_id() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if boot.is_empty() || ns.is_empty() {
        return String::new();
    }
    format!("{boot}:{ns}")
}

/// This controller's host name (`/proc/sys/kernel/hostname`).
pub fn controller_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-controller".to_owned())
}

/// A local process's start time (field 22 of `/proc/PID/stat`); `None` when it is gone.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(") ")?.1;
    // After the name: field 3 (state) is index 0, so field 22 is index 19.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// The lock file of a binary whose real path is in `dir` with file name `name`.
pub fn lock_path(dir: &str, name: &str) -> String {
    join(dir, &format!(".{name}.fleetup.lock"))
}

/// The acquire command (see [`ACQUIRE_SCRIPT`]).
pub fn acquire_command(
    settings: &HostSettings,
    lock: &str,
    owner: &LockOwner,
    stale: &str,
) -> RemoteCommand {
    let tmp = format!("{lock}.{}", random_suffix());
    let temps = lock
        .strip_suffix(".fleetup.lock")
        .map(|p| format!("{p}.fleetup-"))
        .unwrap_or_default();
    script_command(
        ACQUIRE_SCRIPT,
        "fleetup-lock",
        vec![
            lock.to_owned(),
            tmp,
            owner.render(),
            stale.to_owned(),
            temps,
        ],
        settings,
        settings.command_timeout,
    )
}

/// The release command (see [`RELEASE_SCRIPT`]).
pub fn release_command(settings: &HostSettings, lock: &str, run_id: &str) -> RemoteCommand {
    script_command(
        RELEASE_SCRIPT,
        "fleetup-unlock",
        vec![lock.to_owned(), run_id.to_owned()],
        settings,
        settings.command_timeout,
    )
}

/// A held lock, to give back with [`release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLock {
    pub path: String,
    pub run_id: String,
    /// Temp files of dead runs removed when it was taken (file names).
    pub removed: Vec<String>,
    /// The content of a dead run's lock cleared to take this one (`None`: there was none).
    pub cleared: Option<String>,
}

/// What the acquire script reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// Taken; the temp files of dead runs that were removed.
    Acquired { removed: Vec<String> },
    Held {
        age_secs: u64,
        content: String,
        owner: LockOwner,
    },
}

pub fn parse_acquire(stdout: &str) -> Result<LockState, String> {
    let mut lines = stdout.lines();
    match lines.next() {
        Some("acquired") => Ok(LockState::Acquired {
            removed: lines
                .filter_map(|l| l.strip_prefix("removed="))
                .map(str::to_owned)
                .collect(),
        }),
        Some("held") => {
            let age = lines
                .next()
                .and_then(|l| l.strip_prefix("age="))
                .and_then(|a| a.trim().parse::<i64>().ok())
                .ok_or("the lock script printed no age")?;
            let content = lines.collect::<Vec<_>>().join("\n").trim().to_owned();
            Ok(LockState::Held {
                age_secs: u64::try_from(age).unwrap_or(0),
                owner: LockOwner::parse(&content),
                content,
            })
        }
        _ => Err(format!("unexpected lock script output {stdout:?}")),
    }
}

/// Takes the lock of the binary in `dir`/`name` for run `run_id` (1 round trip, 2 when a
/// stale lock is cleared), removing the temp files of dead runs beside the binary.
pub async fn acquire<T: Transport>(
    t: &T,
    settings: &HostSettings,
    dir: &str,
    name: &str,
    run_id: &str,
) -> Result<HostLock, StepError> {
    match take(t, settings, dir, name, run_id).await? {
        Taken::Held(lock) => Ok(lock),
        Taken::Busy(e) => Err(e),
    }
}

/// For a host that needs no change but whose probe saw a lock: takes the lock when its run is
/// gone (clearing it and the dead run's temp files); `None` when a live run holds it, which is
/// then left alone (1–3 round trips). The caller gives it back with [`release`].
pub async fn take_if_free<T: Transport>(
    t: &T,
    settings: &HostSettings,
    dir: &str,
    name: &str,
    run_id: &str,
) -> Result<Option<HostLock>, StepError> {
    Ok(match take(t, settings, dir, name, run_id).await? {
        Taken::Held(lock) => Some(lock),
        Taken::Busy(_) => None,
    })
}

/// How an attempt to take a lock ended, short of a failed command.
enum Taken {
    Held(HostLock),
    /// A live run (or one that cannot be judged gone) holds it: the error to report.
    Busy(StepError),
}

async fn take<T: Transport>(
    t: &T,
    settings: &HostSettings,
    dir: &str,
    name: &str,
    run_id: &str,
) -> Result<Taken, StepError> {
    let path = lock_path(dir, name);
    let owner = LockOwner::current(run_id);
    let mut stale = String::new();
    for _ in 0..2 {
        let cmd = acquire_command(settings, &path, &owner, &stale);
        let out = run_ok(t, Step::Lock, &cmd, None).await?;
        let state = parse_acquire(&out.stdout_text())
            .map_err(|m| StepError::from_output(t.host(), Step::Lock, &cmd, &out, m))?;
        let (age_secs, content, holder) = match state {
            LockState::Acquired { removed } => {
                if !removed.is_empty() {
                    tracing::warn!(
                        host = t.host(),
                        "removed {} temp file(s) of a dead run in {dir}: {}",
                        removed.len(),
                        removed.join(" ")
                    );
                }
                return Ok(Taken::Held(HostLock {
                    path,
                    run_id: run_id.to_owned(),
                    removed,
                    cleared: (!stale.is_empty()).then_some(stale),
                }));
            }
            LockState::Held {
                age_secs,
                content,
                owner,
            } => (age_secs, content, owner),
        };
        let old = age_secs > settings.lock_stale_after.as_secs();
        let gone = holder.known_dead() || (old && !holder.may_be_alive());
        if gone && stale.is_empty() {
            tracing::warn!(host = t.host(), lock = %path, "clearing the lock of a run that is gone: {content:?}");
            stale = content;
            continue;
        }
        let hint = if old || holder.on_this_controller() {
            // Either way it is alive as far as this controller can tell.
            String::new()
        } else {
            format!(
                "; a lock from a dead run is cleared once older than {} s, or remove {path}",
                settings.lock_stale_after.as_secs()
            )
        };
        return Ok(Taken::Busy(StepError::from_output(
            t.host(),
            Step::Lock,
            &cmd,
            &out,
            format!(
                "{} is being upgraded by another fleetup run (run {} from {} pid {}, lock taken {} s ago); try again later{hint}",
                t.host(),
                holder.run_id,
                holder.controller,
                holder.pid,
                age_secs
            ),
        )));
    }
    Err(StepError::new(
        t.host(),
        Step::Lock,
        format!("{path}: another run took the lock while a stale one was being cleared"),
    ))
}

/// Gives the lock back (1 round trip); only removes it when it is still ours.
pub async fn release<T: Transport>(
    t: &T,
    settings: &HostSettings,
    lock: &HostLock,
) -> Result<(), StepError> {
    let cmd = release_command(settings, &lock.path, &lock.run_id);
    run_ok(t, Step::Unlock, &cmd, None).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_and_commands() {
        assert_eq!(lock_path("/usr/bin", "app"), "/usr/bin/.app.fleetup.lock");
        assert_eq!(lock_path("/", "app"), "/.app.fleetup.lock");
        let s = HostSettings::for_binary("/usr/bin/app");
        let owner = LockOwner::current("r1");
        let c = acquire_command(&s, "/usr/bin/.app.fleetup.lock", &owner, "");
        assert_eq!(c.argv[..4], ["sh", "-c", ACQUIRE_SCRIPT, "fleetup-lock"]);
        assert_eq!(c.argv[4], "/usr/bin/.app.fleetup.lock");
        assert!(c.argv[5].starts_with("/usr/bin/.app.fleetup.lock."));
        assert_eq!(c.argv[6], owner.render());
        assert_eq!(c.argv[7], "");
        assert_eq!(
            c.argv[8], "/usr/bin/.app.fleetup-",
            "the temp files' prefix"
        );
        let r = release_command(&s, "/l", "r1");
        assert_eq!(r.argv[3..], ["fleetup-unlock", "/l", "r1"]);
    }

    #[test]
    fn owner_round_trips_and_liveness() {
        let me = LockOwner::current("run-7");
        assert_eq!(LockOwner::parse(&me.render()), me);
        assert!(me.pid_start.is_some());
        assert!(me.may_be_alive());
        let reused = LockOwner {
            pid_start: me.pid_start.map(|s| s + 1),
            ..me.clone()
        };
        assert!(!reused.may_be_alive(), "a reused pid is not the run");
        let elsewhere = LockOwner {
            controller: "another-controller".into(),
            pid: 1,
            ..me.clone()
        };
        assert!(elsewhere.may_be_alive(), "cannot tell: the age decides");
        assert!(!elsewhere.known_dead());
        assert!(me.on_this_controller());
        assert!(!me.known_dead(), "this very process is alive");
        assert!(reused.known_dead(), "same machine, pid reused: gone");
        let older_fleetup = LockOwner {
            machine: String::new(),
            ..reused.clone()
        };
        assert!(
            !older_fleetup.known_dead(),
            "without the machine line only the age can tell"
        );
        let other_namespace = LockOwner {
            machine: format!("{}-other", me.machine),
            ..reused
        };
        assert!(
            !other_namespace.known_dead(),
            "another container's pids are not ours"
        );
        let dead = LockOwner { pid: 0, ..me };
        assert!(!dead.may_be_alive());
        assert!(dead.known_dead());
    }

    /// The acquire script run by `sh`, in a scratch directory: the lock is taken and the temp
    /// files of dead runs (and only those) are removed.
    #[test]
    fn acquire_script_removes_only_dead_runs_temp_files() {
        let dir = std::env::temp_dir().join(format!("fleetup-lock-unit-{}", random_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let keep = [
            "app",
            "app.fleetup-bak-1.0.0-20240101T000000.000000000Z",
            ".app.fleetup-0123456789a",
            ".app.fleetup-0123456789abc",
            ".app.fleetup-XYZ456789abc",
            ".app.fleetup-x.fleetup-0123456789ab",
            ".app.fleetup-x.fleetup.lock",
            ".other.fleetup-0123456789ab",
        ];
        let gone = [".app.fleetup-0123456789ab", ".app.fleetup-rb-ba9876543210"];
        for f in keep.iter().chain(&gone) {
            std::fs::write(dir.join(f), "x").unwrap();
        }
        let lock = lock_path(dir.to_str().unwrap(), "app");
        let s = HostSettings::for_binary(&format!("{}/app", dir.display()));
        let cmd = acquire_command(&s, &lock, &LockOwner::current("r1"), "");
        let out = std::process::Command::new(&cmd.argv[0])
            .args(&cmd.argv[1..])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let left: Vec<bool> = keep.iter().map(|f| dir.join(f).exists()).collect();
        let locked = std::path::Path::new(&lock).exists();
        let _ = std::fs::remove_dir_all(&dir);
        let Ok(LockState::Acquired { mut removed }) = parse_acquire(&stdout) else {
            panic!("{stdout:?} {:?}", String::from_utf8_lossy(&out.stderr))
        };
        removed.sort_unstable();
        assert_eq!(removed, gone);
        assert!(left.iter().all(|k| *k), "kept: {keep:?} {left:?}");
        assert!(locked);
    }

    #[test]
    fn acquire_output() {
        assert_eq!(
            parse_acquire("acquired\n"),
            Ok(LockState::Acquired { removed: vec![] })
        );
        assert_eq!(
            parse_acquire("acquired\nremoved=.app.fleetup-0123456789ab\n"),
            Ok(LockState::Acquired {
                removed: vec![".app.fleetup-0123456789ab".into()]
            })
        );
        let held =
            parse_acquire("held\nage=42\nrun=r9\ncontroller=c\npid=12\npidstart=5\nstarted=1\n")
                .unwrap();
        let LockState::Held {
            age_secs, owner, ..
        } = held
        else {
            panic!("{held:?}")
        };
        assert_eq!(age_secs, 42);
        assert_eq!(owner.run_id, "r9");
        assert_eq!(owner.pid, 12);
        assert!(parse_acquire("").is_err());
    }
}
