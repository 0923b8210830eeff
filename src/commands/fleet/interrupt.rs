//! SIGINT and SIGTERM during `check`, `upgrade` and `rollback`, and a panic in one host's work.
//!
//! **The first signal** stops the run the safe way:
//! - no new host and no new batch is started (their hosts end `skipped`);
//! - a host still connecting, probing or staging is stopped: its probe or upload is cut off,
//!   its temp file removed and its lock released (it ends `failed`, or `skipped` when nothing
//!   had been written to it yet), and its binary is untouched;
//! - a host past the point of no return — its swap (or a rollback's restore) has begun — goes
//!   on to the end: swap, restart, health check, and the automatic rollback when they fail;
//! - then the usual report is written, with `stopped: interrupted by SIGINT …`, and the process
//!   exits 130 (SIGINT) or 143 (SIGTERM): 128 + the signal's number, as a shell reports a
//!   command that a signal ended.
//!
//! **A second signal** exits at once, wherever the run is (the next run clears a lock or temp
//! file it leaves; see docs/safety.md).
//!
//! The policy is applied where every remote command passes: [`Guarded`] wraps a host's
//! connection and knows each command of the steps by its script name (`fleetup-lock`,
//! `fleetup-stage`, `fleetup-swap`, …), so the steps themselves know nothing of signals.
//!
//! A panic while a host is worked on fails that host only ([`contain_panic`]): the other hosts
//! go on, and the report says which host hit the bug.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::FutureExt;
use tokio::sync::Notify;

use super::Prepared;
use crate::events::{Event, HostError, HostReport, Job, Observer};
use crate::progress::Display;
use crate::transport::{CommandOutput, RemoteCommand, Transport, TransportError};

/// A signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Int,
    Term,
    /// The controller's terminal went away (an SSH session to it dropped): stop as for SIGTERM
    /// rather than die between two steps.
    Hup,
}

impl Signal {
    fn number(self) -> i32 {
        match self {
            Signal::Int => 2,
            Signal::Term => 15,
            Signal::Hup => 1,
        }
    }

    fn from_number(n: i32) -> Option<Self> {
        match n {
            2 => Some(Signal::Int),
            15 => Some(Signal::Term),
            1 => Some(Signal::Hup),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
            Signal::Hup => "SIGHUP",
        }
    }

    /// The exit code of a run this signal stopped: 128 + its number (130, 143, 129).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Int => 130,
            Signal::Term => 143,
            Signal::Hup => 129,
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a stop was asked for, and by which signal. One per process: [`INTERRUPT`].
#[derive(Debug)]
pub struct Interrupt {
    signal: AtomicI32,
    notify: Notify,
}

/// The process's interrupt state, set by [`listen`]'s signal handler.
pub static INTERRUPT: Interrupt = Interrupt::new();

impl Default for Interrupt {
    fn default() -> Self {
        Self::new()
    }
}

impl Interrupt {
    pub const fn new() -> Self {
        Self {
            signal: AtomicI32::new(0),
            notify: Notify::const_new(),
        }
    }

    /// The signal that asked for the stop, if one did.
    pub fn signal(&self) -> Option<Signal> {
        Signal::from_number(self.signal.load(Ordering::SeqCst))
    }

    pub fn requested(&self) -> bool {
        self.signal().is_some()
    }

    /// Records `sig`; true when it is the first.
    pub fn raise(&self, sig: Signal) -> bool {
        let first = self
            .signal
            .compare_exchange(0, sig.number(), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        self.notify.notify_waiters();
        first
    }

    /// Resolves once a stop is asked for.
    pub async fn wait(&self) -> Signal {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(sig) = self.signal() {
                return sig;
            }
            notified.await;
        }
    }

    /// Runs `work` unless a stop is asked for first (then `work` is dropped, or never started).
    pub async fn unless<F: Future>(&self, work: F) -> Result<F::Output, Signal> {
        if let Some(sig) = self.signal() {
            return Err(sig);
        }
        tokio::select! {
            biased;
            out = work => Ok(out),
            sig = self.wait() => Err(sig),
        }
    }
}

/// Handles SIGINT, SIGTERM and SIGHUP for the rest of the run: the first sets [`INTERRUPT`] and tells
/// the operator on `display`; the second exits at once.
pub fn listen(rt: &tokio::runtime::Runtime, display: Arc<Display>) {
    use tokio::signal::unix::{SignalKind, signal};
    let _entered = rt.enter();
    // Registered now, before any host is contacted; if it cannot be, the signals keep their
    // default action (the run dies, as with SIGKILL: safe, see docs/safety.md).
    let (mut int, mut term, mut hup) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(i), Ok(t), Ok(h)) => (i, t, h),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            tracing::warn!("cannot handle SIGINT/SIGTERM/SIGHUP: {e}");
            return;
        }
    };
    rt.spawn(async move {
        loop {
            let sig = tokio::select! {
                _ = int.recv() => Signal::Int,
                _ = term.recv() => Signal::Term,
                _ = hup.recv() => Signal::Hup,
            };
            // After a SIGHUP the terminal may be gone: a failed write must not end this task.
            let say = |text: String| {
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "{text}");
            };
            if INTERRUPT.raise(sig) {
                display.suspend(|| {
                    say(format!(
                        "fleetup: interrupted by {sig}: no new host is started; hosts past their \
                         swap finish (restart, health check, rollback), the others stop and clean \
                         up. {sig} again exits at once."
                    ));
                });
            } else {
                say(format!(
                    "fleetup: {sig} again: exiting at once (a lock or temp file left on a host \
                     is cleared by the next run)"
                ));
                std::process::exit(i32::from(sig.exit_code()));
            }
        }
    });
}

/// Asks the operator with `ask` (a blocking read of the terminal) unless a stop is asked for
/// first: `None` then. The read runs on a thread of its own, left behind when interrupted.
pub fn ask_unless_interrupted(
    rt: &tokio::runtime::Runtime,
    ask: impl FnOnce() -> bool + Send + 'static,
) -> Option<bool> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(ask());
    });
    match rt.block_on(INTERRUPT.unless(rx)) {
        Ok(Ok(answer)) => Some(answer),
        // The asking thread died: no answer is a no.
        Ok(Err(_)) => Some(false),
        Err(_) => None,
    }
}

/// `stopped: …` of a run that a signal stopped.
pub fn stop_reason(sig: Signal) -> String {
    format!(
        "interrupted by {sig}: hosts not started are skipped, hosts past their swap were \
         finished, the others were stopped before their swap"
    )
}

/// The report of a host that a stop kept from starting.
pub(super) fn not_started(p: Prepared, sig: Signal) -> HostReport {
    let (mut rep, input, timings) = match p {
        Prepared::Failed(rep) => return rep,
        Prepared::Upgrade {
            input,
            plan,
            timings,
            ..
        } => {
            let mut rep = HostReport::new(&input.name, "skipped");
            rep.from = plan.probe.version.as_ref().map(ToString::to_string);
            rep.to = Some(plan.target.clone());
            (rep, input, timings)
        }
        Prepared::Rollback { input, timings, .. } => {
            (HostReport::new(&input.name, "skipped"), input, timings)
        }
    };
    rep.channel = input.release.as_ref().map(|r| r.channel.clone());
    rep.steps = timings;
    rep.seconds = input.started.elapsed().as_secs_f64();
    rep.with_detail(format!("not started: interrupted by {sig}"))
}

/// The report of a host that was stopped (or never reached) while it was connected to and
/// probed.
pub(super) fn not_probed(name: &str, sig: Signal) -> Prepared {
    Prepared::Failed(HostReport::new(name, "skipped").with_detail(format!(
        "not started: interrupted by {sig} before its probe ended"
    )))
}

/// Ends the hosts of `names` that are left when a stop is asked for between batches: each is
/// `skipped` (or keeps the failure it had before its batch). Says so first with a `stopped`
/// event; returns the reason.
pub(super) fn skip_rest(
    sig: Signal,
    names: &[String],
    prepared: &mut HashMap<String, Prepared>,
    obs: &dyn Observer,
    reports: &mut Vec<HostReport>,
) -> String {
    let reason = stop_reason(sig);
    let rest: Vec<HostReport> = names
        .iter()
        .map(|h| match prepared.remove(h) {
            Some(p) => not_started(p, sig),
            None => HostReport::new(h, "skipped")
                .with_detail(format!("not started: interrupted by {sig}")),
        })
        .collect();
    // Hosts of the batch under way that never began are skipped too.
    let skipped = reports
        .iter()
        .chain(&rest)
        .filter(|r| r.result == "skipped")
        .count();
    obs.event(&Event::Stopped {
        reason: reason.clone(),
        skipped,
    });
    for rep in rest {
        obs.event(&Event::HostDone(rep.clone()));
        reports.push(rep);
    }
    reason
}

/// Runs one host's work; a panic in it becomes that host's failure instead of ending the run.
pub async fn contain_panic<F>(host: &str, job: Job, work: F) -> HostReport
where
    F: Future<Output = HostReport>,
{
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(rep) => rep,
        Err(payload) => panic_report(host, job, payload.as_ref()),
    }
}

pub(super) fn panic_report(
    host: &str,
    job: Job,
    payload: &(dyn std::any::Any + Send),
) -> HostReport {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    let message = format!(
        "internal error: fleetup panicked while working on this host ({what}); this is a bug, \
         please report it. The binary is the old or the new one, whole; a lock or temp file it \
         left is cleared by the next run (docs/safety.md)"
    );
    HostReport::new(host, "failed").with_failure(HostError {
        step: job.name().to_owned(),
        message,
        command: None,
        status: None,
        stderr: String::new(),
    })
}

/// What a command of the steps is, for the stop policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Read-only: cut off when a stop comes.
    Probe,
    /// Takes the lock: not started after a stop, never cut off (a cut-off acquire could take
    /// the lock after this run stopped looking).
    Lock,
    /// Writes the temp file: not started after a stop, cut off when one comes (the temp file
    /// is then removed by the step's own cleanup).
    Stage,
    /// The point of no return (`fleetup-swap`, `fleetup-rollback`): not started after a stop;
    /// once started, everything that follows on this host runs to its end.
    Commit,
    /// Restart, health, cleanup, unlock: always run.
    Other,
}

fn kind(cmd: &RemoteCommand) -> Kind {
    let a = &cmd.argv;
    if a.len() < 4 || a[0] != "sh" || a[1] != "-c" {
        return Kind::Other;
    }
    match a[3].as_str() {
        "fleetup-probe" => Kind::Probe,
        "fleetup-lock" => Kind::Lock,
        "fleetup-stage" => Kind::Stage,
        "fleetup-swap" | "fleetup-rollback" => Kind::Commit,
        _ => Kind::Other,
    }
}

/// What [`Guarded`] saw of one host.
#[derive(Debug, Default)]
struct Seen {
    /// Past the point of no return.
    committed: bool,
    /// The lock was taken.
    locked: bool,
    /// A temp file was (or may have been) written.
    wrote: bool,
    /// Stopped by a signal, at which step.
    stopped: Option<(Signal, &'static str)>,
    /// Whether removing the temp file worked (`None`: not tried).
    temp_removed: Option<bool>,
    /// Whether releasing the lock worked (`None`: not tried).
    unlocked: Option<bool>,
}

/// A host's connection with the stop policy applied to every command (module documentation).
#[derive(Debug)]
pub struct Guarded<'a, T> {
    inner: &'a T,
    interrupt: &'a Interrupt,
    seen: Mutex<Seen>,
}

impl<'a, T: Transport> Guarded<'a, T> {
    pub fn new(inner: &'a T, interrupt: &'a Interrupt) -> Self {
        Self {
            inner,
            interrupt,
            seen: Mutex::new(Seen::default()),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn stopped(
        &self,
        cmd: &RemoteCommand,
        sig: Signal,
        step: &'static str,
        how: &str,
    ) -> TransportError {
        self.seen().stopped = Some((sig, step));
        TransportError::Command {
            host: self.inner.host().to_owned(),
            command: cmd
                .shell_line()
                .unwrap_or_else(|_| format!("{:?}", cmd.full_argv())),
            reason: format!("interrupted by {sig}: {how}"),
        }
    }

    async fn guard<F>(&self, cmd: &RemoteCommand, run: F) -> Result<CommandOutput, TransportError>
    where
        F: Future<Output = Result<CommandOutput, TransportError>>,
    {
        let kind = kind(cmd);
        let committed = self.seen().committed;
        let step = match kind {
            Kind::Probe => "probe",
            Kind::Lock => "lock",
            Kind::Stage => "stage",
            Kind::Commit => "swap",
            Kind::Other => "",
        };
        if kind != Kind::Other
            && !committed
            && let Some(sig) = self.interrupt.signal()
        {
            return Err(self.stopped(cmd, sig, step, "not started"));
        }
        match kind {
            Kind::Other => {
                let out = run.await;
                let ok = out.as_ref().is_ok_and(CommandOutput::success);
                let mut seen = self.seen();
                if cmd.argv.first().is_some_and(|p| p == "rm") {
                    seen.temp_removed = Some(ok);
                } else if cmd.argv.get(3).is_some_and(|n| n == "fleetup-unlock") {
                    seen.unlocked = Some(ok);
                }
                out
            }
            Kind::Commit => {
                self.seen().committed = true;
                run.await
            }
            Kind::Lock => {
                let out = run.await;
                if let Ok(o) = &out
                    && o.stdout.starts_with(b"acquired")
                {
                    self.seen().locked = true;
                }
                out
            }
            Kind::Probe | Kind::Stage => {
                if kind == Kind::Stage {
                    self.seen().wrote = true;
                }
                tokio::select! {
                    biased;
                    out = run => out,
                    sig = self.interrupt.wait() => {
                        let how = if kind == Kind::Stage {
                            "the upload was cut off"
                        } else {
                            "the probe was cut off"
                        };
                        Err(self.stopped(cmd, sig, step, how))
                    }
                }
            }
        }
    }

    /// The host's report, once its work is over: a host the stop kept from changing anything
    /// is `skipped`; one stopped after its temp file was written is `failed`, saying what was
    /// cleaned up. A host past its swap keeps its report.
    pub fn report(&self, mut rep: HostReport) -> HostReport {
        let seen = self.seen();
        let Some((sig, step)) = seen.stopped else {
            return rep;
        };
        if seen.committed {
            return rep;
        }
        let mut cleaned = Vec::new();
        if seen.wrote {
            cleaned.push(match seen.temp_removed {
                Some(true) => "its temp file was removed",
                _ => "its temp file could not be removed (the next run removes it)",
            });
        }
        if seen.locked {
            cleaned.push(match seen.unlocked {
                Some(true) => "its lock was released",
                _ => "its lock could not be released (the next run clears it)",
            });
        }
        let cleaned = if cleaned.is_empty() {
            String::new()
        } else {
            format!("; {}", cleaned.join(", "))
        };
        if !seen.wrote {
            let mut skipped = HostReport::new(&rep.host, "skipped").with_detail(format!(
                "not started: interrupted by {sig} before anything was changed{cleaned}"
            ));
            skipped.from = rep.from.take();
            skipped.to = rep.to.take();
            skipped.channel = rep.channel.take();
            skipped.steps = std::mem::take(&mut rep.steps);
            skipped.seconds = rep.seconds;
            return skipped;
        }
        let message = format!(
            "interrupted by {sig} before its swap (at {step}): the binary is untouched{cleaned}"
        );
        rep.result = "failed";
        rep.detail = Some(message.clone());
        match &mut rep.failure {
            Some(f) => f.message = message,
            None => {
                rep.failure = Some(HostError {
                    step: step.to_owned(),
                    message,
                    command: None,
                    status: None,
                    stderr: String::new(),
                });
            }
        }
        rep
    }
}

impl<T: Transport> Transport for Guarded<'_, T> {
    fn host(&self) -> &str {
        self.inner.host()
    }

    async fn exec(
        &self,
        cmd: &RemoteCommand,
        stdin: Option<Bytes>,
    ) -> Result<CommandOutput, TransportError> {
        self.guard(cmd, self.inner.exec(cmd, stdin)).await
    }

    async fn exec_counted(
        &self,
        cmd: &RemoteCommand,
        stdin: Bytes,
        sent: Arc<AtomicU64>,
    ) -> Result<CommandOutput, TransportError> {
        self.guard(cmd, self.inner.exec_counted(cmd, stdin, sent))
            .await
    }
}

#[cfg(test)]
mod tests;
