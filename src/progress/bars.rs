//! Live progress on a terminal: an overall bar, one line per active host (its step, and the
//! bytes sent while it receives the artifact), and a permanent line above the bars for each
//! host that ends (the same words as [`super::lines`]).
//!
//! Events only update a small state under a mutex (they run on the work's tasks); one ticker
//! thread turns that state into text at the redraw rate, reads the upload counters, and hands
//! the text to one [`MultiProgress`]. Nothing here blocks the work on the terminal.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::lines;
use crate::events::{Event, Job, Observer};

/// How often the terminal is redrawn at most, and how often the ticker reads the state.
pub const REDRAW_HZ: u8 = 10;
const TICK: Duration = Duration::from_millis(1000 / REDRAW_HZ as u64);
/// How long the bars stay hidden after a question was answered.
const RESUME_AFTER: Duration = Duration::from_millis(300);
/// Host lines shown at most; the others are counted on one line.
pub const MAX_HOST_LINES: usize = 20;
const OVERALL_BAR_WIDTH: usize = 40;
const HOST_BAR_WIDTH: usize = 30;
/// The longest step name (`settings`, `download`, `rollback`).
const STEP_WIDTH: usize = 8;
/// Host names longer than this are not padded further (their line is just longer).
const MAX_NAME_WIDTH: usize = 24;

/// A bar `width` cells wide, `done` of `total` filled, with a half cell at the head:
/// `━━━━━━╸───────`.
pub fn bar(done: u64, total: u64, width: usize) -> String {
    let halves = if total == 0 || done >= total {
        width * 2
    } else {
        // u128: no overflow whatever the sizes.
        usize::try_from(u128::from(done) * (width as u128 * 2) / u128::from(total))
            .unwrap_or(width * 2)
    };
    let full = halves / 2;
    let head = usize::from(halves % 2 == 1 && full < width);
    let mut s = String::with_capacity(width * 3);
    s.extend(std::iter::repeat_n('━', full));
    s.extend(std::iter::repeat_n('╸', head));
    s.extend(std::iter::repeat_n('─', width - full - head));
    s
}

const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// The largest binary unit not above `n` (bytes for less than 1 KiB).
fn unit(n: u64) -> (f64, &'static str) {
    let mut scale = 1u64;
    let mut i = 0;
    while i + 1 < UNITS.len() && n >= scale * 1024 {
        scale *= 1024;
        i += 1;
    }
    (scale as f64, UNITS[i])
}

/// `61.0/96.0 MiB`: both sizes in the unit of the total.
pub fn sizes(sent: u64, total: u64) -> String {
    match unit(total) {
        (_, "B") => format!("{sent}/{total} B"),
        (scale, name) => format!(
            "{:.1}/{:.1} {name}",
            sent as f64 / scale,
            total as f64 / scale
        ),
    }
}

/// `112 MiB/s`, `3.4 MiB/s`, `900 B/s`.
pub fn rate(bytes_per_second: f64) -> String {
    let n = if bytes_per_second.is_finite() && bytes_per_second > 0.0 {
        bytes_per_second
    } else {
        0.0
    };
    let (scale, name) = unit(n as u64);
    let v = n / scale;
    if name == "B" || v >= 10.0 {
        format!("{v:.0} {name}/s")
    } else {
        format!("{v:.1} {name}/s")
    }
}

/// Where the run is, for the overall line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the first batch: hosts are connected, probed, decided (all of `check`).
    Probing,
    /// Batch `index` (1-based) of `of`.
    Batch { index: usize, of: usize },
}

/// The overall line: `batch 2/4 ━━━━╸────  23/80 hosts  1 failed`; no `batch` when there is
/// only one; `probing  ━━──  12/80 hosts` before the batches (failures only once there are).
pub fn overall_text(phase: Phase, position: usize, total: usize, failed: usize) -> String {
    let bar = bar(position as u64, total as u64, OVERALL_BAR_WIDTH);
    let counts = format!("{position}/{total} hosts");
    match phase {
        Phase::Probing if failed == 0 => format!("probing {bar}  {counts}"),
        Phase::Probing => format!("probing {bar}  {counts}  {failed} failed"),
        Phase::Batch { index, of } if of > 1 => {
            format!("batch {index}/{of} {bar}  {counts}  {failed} failed")
        }
        Phase::Batch { .. } => format!("{bar}  {counts}  {failed} failed"),
    }
}

/// What a host is doing, for its line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activity {
    /// A step runs since `seconds`.
    Running { seconds: f64 },
    /// The artifact goes to the host: `sent` of `total` bytes in `seconds`.
    Uploading { sent: u64, total: u64, seconds: f64 },
    /// The step is done; the next one has not begun.
    Done,
}

/// A host's line: `  web07  stage     ━━━━━━╸───  61.0/96.0 MiB  112 MiB/s`,
/// `  web08  health    6.2 s`, `  web09  swap      done`.
pub fn host_text(name: &str, name_width: usize, step: &str, activity: Activity) -> String {
    let head = format!("  {name:<name_width$}  {step:<STEP_WIDTH$}");
    match activity {
        Activity::Running { seconds } => format!("{head}  {seconds:.1} s"),
        Activity::Done => format!("{head}  done"),
        Activity::Uploading {
            sent,
            total,
            seconds,
        } => {
            let mut line = format!(
                "{head}  {}  {}",
                bar(sent, total, HOST_BAR_WIDTH),
                sizes(sent, total)
            );
            // An average over less than a tenth of a second says nothing yet.
            if seconds >= 0.1 {
                line.push_str("  ");
                line.push_str(&rate(sent as f64 / seconds));
            }
            line
        }
    }
}

/// The line that stands for the active hosts not shown.
pub fn more_text(hidden: usize) -> String {
    format!("  … and {hidden} more active")
}

#[derive(Debug)]
struct Upload {
    total: u64,
    sent: Arc<AtomicU64>,
    since: Instant,
}

#[derive(Debug)]
struct Host {
    step: String,
    since: Instant,
    done: bool,
    upload: Option<Upload>,
}

impl Host {
    fn new(now: Instant) -> Self {
        Self {
            step: String::new(),
            since: now,
            done: false,
            upload: None,
        }
    }

    fn activity(&self, now: Instant) -> Activity {
        if self.done {
            return Activity::Done;
        }
        match &self.upload {
            Some(u) => Activity::Uploading {
                sent: u.sent.load(Ordering::Relaxed).min(u.total),
                total: u.total,
                seconds: now.saturating_duration_since(u.since).as_secs_f64(),
            },
            None => Activity::Running {
                seconds: now.saturating_duration_since(self.since).as_secs_f64(),
            },
        }
    }
}

/// What the events told so far (cheap to update; read by the ticker).
#[derive(Debug, Default)]
struct State {
    job: Option<Job>,
    started: bool,
    total: usize,
    batch: Option<(usize, usize)>,
    /// Hosts whose probe ended before the batches.
    probed: usize,
    done: usize,
    failed: usize,
    /// Hosts with a line, in the order they became active.
    active: IndexMap<String, Host>,
    name_width: usize,
    /// Permanent lines not printed yet.
    pending: Vec<String>,
}

/// What the terminal should show now, as text.
#[derive(Debug, Default, PartialEq)]
struct Frame {
    print: Vec<String>,
    overall: Option<String>,
    hosts: Vec<String>,
    more: Option<String>,
}

impl State {
    fn widen(&mut self, name: &str) {
        self.name_width = self
            .name_width
            .max(name.chars().count().min(MAX_NAME_WIDTH));
    }

    fn host(&mut self, name: &str, now: Instant) -> &mut Host {
        self.widen(name);
        self.active
            .entry(name.to_owned())
            .or_insert_with(|| Host::new(now))
    }

    fn say(&mut self, event: &Event) {
        if let Some(line) = lines::event_line(event) {
            self.pending.push(line);
        }
    }

    fn apply(&mut self, event: &Event, now: Instant) {
        match event {
            Event::Started { job, hosts, .. } => {
                self.job = Some(*job);
                self.total = *hosts;
                self.started = true;
            }
            Event::Release(_) | Event::Stopped { .. } => self.say(event),
            Event::BatchStarted { index, of, hosts } => {
                self.batch = Some((*index, *of));
                // Lines left from the probes (a host whose connection failed says no more
                // until its batch): only this batch's hosts work now.
                self.active.clear();
                for h in hosts {
                    self.widen(h);
                }
                self.say(event);
            }
            Event::StepStarted { host, step } => {
                let h = self.host(host, now);
                h.step.clone_from(step);
                h.since = now;
                h.done = false;
                h.upload = None;
            }
            Event::StepDone { host, step, .. } => {
                if self.batch.is_none() {
                    // The probe is the last step before the batches: the host waits now.
                    self.probed += 1;
                    self.active.shift_remove(host);
                } else if let Some(h) = self.active.get_mut(host).filter(|h| h.step == *step) {
                    h.done = true;
                    h.upload = None;
                }
            }
            Event::StepFailed { host, .. } => {
                // Only sent before the batches: the host is done with probing (its report
                // comes with its batch).
                self.probed += 1;
                self.active.shift_remove(host);
            }
            Event::Upload { host, total, sent } => {
                self.host(host, now).upload = Some(Upload {
                    total: *total,
                    sent: Arc::clone(sent),
                    since: now,
                });
            }
            Event::HostDone(rep) => {
                self.active.shift_remove(&rep.host);
                self.done += 1;
                if self.job.is_some_and(|job| rep.counts_as_failure(job)) {
                    self.failed += 1;
                }
                self.say(event);
            }
            Event::BatchDone { .. } | Event::Finished(_) => {}
        }
    }

    fn overall(&self) -> String {
        let (phase, position) = match self.batch {
            Some((index, of)) => (Phase::Batch { index, of }, self.done),
            None => (Phase::Probing, self.probed.max(self.done)),
        };
        overall_text(phase, position.min(self.total), self.total, self.failed)
    }

    fn frame(&mut self, now: Instant, cap: usize) -> Frame {
        let hidden = self.active.len().saturating_sub(cap);
        Frame {
            print: std::mem::take(&mut self.pending),
            overall: self.started.then(|| self.overall()),
            hosts: self
                .active
                .iter()
                .take(cap)
                .map(|(name, h)| host_text(name, self.name_width, &h.step, h.activity(now)))
                .collect(),
            more: (hidden > 0).then(|| more_text(hidden)),
        }
    }
}

/// The bars on the terminal, each showing one line of text.
#[derive(Debug, Default)]
struct Drawn {
    overall: Option<(ProgressBar, String)>,
    hosts: Vec<(ProgressBar, String)>,
    more: Option<(ProgressBar, String)>,
    /// The run ended: the bars are gone and stay gone.
    closed: bool,
    /// The bars were wiped for a question: not drawn again before then.
    hidden_until: Option<Instant>,
}

fn set_text(slot: &mut (ProgressBar, String), text: String) {
    if slot.1 != text {
        slot.0.set_message(text.clone());
        slot.1 = text;
    }
}

fn forget(multi: &MultiProgress, bar: &ProgressBar) {
    bar.finish_and_clear();
    multi.remove(bar);
}

impl Drawn {
    fn apply(&mut self, frame: Frame, multi: &MultiProgress, style: &ProgressStyle) {
        let line = || ProgressBar::hidden().with_style(style.clone());
        if !frame.print.is_empty() {
            let _ = multi.println(frame.print.join("\n"));
        }
        if let Some(text) = frame.overall {
            let slot = self
                .overall
                .get_or_insert_with(|| (multi.add(line()), String::new()));
            set_text(slot, text);
        }
        while self.hosts.len() > frame.hosts.len() {
            if let Some((bar, _)) = self.hosts.pop() {
                forget(multi, &bar);
            }
        }
        for (i, text) in frame.hosts.into_iter().enumerate() {
            if i == self.hosts.len() {
                let anchor = self.hosts.last().or(self.overall.as_ref());
                let bar = match anchor {
                    Some((a, _)) => multi.insert_after(a, line()),
                    None => multi.add(line()),
                };
                self.hosts.push((bar, String::new()));
            }
            set_text(&mut self.hosts[i], text);
        }
        match frame.more {
            Some(text) => {
                if self.more.is_none() {
                    let anchor = self.hosts.last().or(self.overall.as_ref());
                    let bar = match anchor {
                        Some((a, _)) => multi.insert_after(a, line()),
                        None => multi.add(line()),
                    };
                    self.more = Some((bar, String::new()));
                }
                if let Some(slot) = self.more.as_mut() {
                    set_text(slot, text);
                }
            }
            None => {
                if let Some((bar, _)) = self.more.take() {
                    forget(multi, &bar);
                }
            }
        }
    }

    /// Forgets the texts shown, so that the next frame draws every bar again.
    fn invalidate(&mut self) {
        let slots = self
            .hosts
            .iter_mut()
            .chain(self.more.as_mut())
            .chain(self.overall.as_mut());
        for (_, text) in slots {
            text.clear();
        }
    }

    fn close(&mut self, multi: &MultiProgress) {
        let bars = self
            .hosts
            .drain(..)
            .chain(self.more.take())
            .chain(self.overall.take());
        for (bar, _) in bars {
            forget(multi, &bar);
        }
        let _ = multi.clear();
        self.closed = true;
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the events and the ticker share. Locks are taken in one order: `drawn`, then `state`.
struct Shared {
    multi: MultiProgress,
    style: ProgressStyle,
    cap: usize,
    state: Mutex<State>,
    drawn: Mutex<Drawn>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("multi", &self.multi)
            .field("cap", &self.cap)
            .field("state", &self.state)
            .field("drawn", &self.drawn)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Brings the terminal up to date; `false` once the run has ended.
    fn draw(&self, now: Instant) -> bool {
        let mut drawn = lock(&self.drawn);
        if drawn.closed {
            return false;
        }
        if let Some(until) = drawn.hidden_until {
            if now < until {
                return true;
            }
            drawn.hidden_until = None;
            drawn.invalidate();
        }
        let frame = lock(&self.state).frame(now, self.cap);
        drawn.apply(frame, &self.multi, &self.style);
        true
    }

    /// Prints the pending lines, then `extra`, above the bars. The caller holds `drawn` (so
    /// the ticker cannot print in between).
    fn print_pending(&self, extra: Option<&str>) {
        let mut print = std::mem::take(&mut lock(&self.state).pending);
        print.extend(extra.map(str::to_owned));
        if !print.is_empty() {
            // Nowhere better to report a failed write to the terminal.
            let _ = self.multi.println(print.join("\n"));
        }
    }

    /// Prints what is pending and removes every bar, for good.
    fn close(&self) {
        let mut drawn = lock(&self.drawn);
        if drawn.closed {
            return;
        }
        self.print_pending(None);
        drawn.close(&self.multi);
    }

    fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        // Holding `drawn` keeps the ticker from drawing while `f` runs.
        let mut drawn = lock(&self.drawn);
        if drawn.closed {
            return f();
        }
        self.print_pending(None);
        let _ = self.multi.clear();
        let answer = f();
        // The bars come back a little later, not at once: what the caller writes right after
        // the answer (a refusal, then the end of the run) is not drawn over.
        drawn.hidden_until = Some(Instant::now() + RESUME_AFTER);
        answer
    }
}

/// A handle on the live view for what is drawn beside the run's events (the release
/// download): its own bar in the same [`MultiProgress`], and permanent lines printed in order
/// with the events' lines.
#[derive(Debug, Clone)]
pub struct Live {
    shared: Arc<Shared>,
}

impl Live {
    /// The one [`MultiProgress`] everything is drawn with.
    pub fn multi(&self) -> &MultiProgress {
        &self.shared.multi
    }

    /// Prints `text` above the bars now, after the lines of the events before it.
    pub fn println(&self, text: &str) {
        let _drawn = lock(&self.shared.drawn);
        self.shared.print_pending(Some(text));
    }
}

/// The live view of a run, drawn on stderr.
#[derive(Debug)]
pub struct Bars {
    shared: Arc<Shared>,
    stop: Option<mpsc::Sender<()>>,
    ticker: Option<JoinHandle<()>>,
}

impl Default for Bars {
    fn default() -> Self {
        Self::new()
    }
}

impl Bars {
    /// Bars on stderr, redrawn [`REDRAW_HZ`] times a second at most.
    pub fn new() -> Self {
        Self::with_target(
            ProgressDrawTarget::stderr_with_hz(REDRAW_HZ),
            MAX_HOST_LINES,
            true,
        )
    }

    /// Bars on `target`, with at most `cap` host lines. Without a ticker (`ticking: false`)
    /// each event redraws at once (tests).
    pub fn with_target(target: ProgressDrawTarget, cap: usize, ticking: bool) -> Self {
        let style = ProgressStyle::with_template("{wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let shared = Arc::new(Shared {
            multi: MultiProgress::with_draw_target(target),
            style,
            cap,
            state: Mutex::new(State::default()),
            drawn: Mutex::new(Drawn::default()),
        });
        let (stop, ticker) = if ticking {
            let (tx, rx) = mpsc::channel::<()>();
            let s = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name("fleetup-progress".into())
                .spawn(move || {
                    while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(TICK) {
                        if !s.draw(Instant::now()) {
                            break;
                        }
                    }
                });
            match spawned {
                Ok(handle) => (Some(tx), Some(handle)),
                Err(e) => {
                    tracing::warn!("no progress ticker thread ({e}): redrawing on events");
                    (None, None)
                }
            }
        } else {
            (None, None)
        };
        Self {
            shared,
            stop,
            ticker,
        }
    }

    /// A handle for the release download, drawn with the rest.
    pub fn live(&self) -> Live {
        Live {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Runs `f` (a question to the operator) with the bars hidden and the ticker held.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.shared.suspend(f)
    }
}

impl Observer for Bars {
    fn event(&self, event: &Event) {
        let now = Instant::now();
        lock(&self.shared.state).apply(event, now);
        if matches!(event, Event::Finished(_)) {
            // The final report follows on the same terminal: no bar may stay.
            self.shared.close();
        } else if self.ticker.is_none() {
            self.shared.draw(now);
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        // Dropping the sender ends the ticker's wait at once.
        self.stop.take();
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        // A run that ended early (an error before `Finished`) leaves no bar behind either.
        self.shared.close();
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use indicatif::TermLike;

    use super::*;
    use crate::events::{HostReport, Summary};

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn bars_fill_by_half_cells() {
        assert_eq!(bar(0, 10, 4), "────");
        assert_eq!(bar(5, 10, 4), "━━──");
        assert_eq!(bar(6, 10, 4), "━━──");
        assert_eq!(bar(7, 10, 4), "━━╸─");
        assert_eq!(bar(10, 10, 4), "━━━━");
        assert_eq!(bar(12, 10, 4), "━━━━", "never more than full");
        assert_eq!(bar(0, 0, 3), "━━━", "nothing to do is done");
        assert_eq!(bar(u64::MAX - 1, u64::MAX, 2), "━╸");
    }

    #[test]
    fn sizes_and_rates_in_binary_units() {
        assert_eq!(sizes(61 << 20, 96 << 20), "61.0/96.0 MiB");
        assert_eq!(sizes(512, 2048), "0.5/2.0 KiB");
        assert_eq!(sizes(10, 700), "10/700 B");
        assert_eq!(rate(112.0 * 1024.0 * 1024.0), "112 MiB/s");
        assert_eq!(rate(3.4 * 1024.0 * 1024.0), "3.4 MiB/s");
        assert_eq!(rate(900.0), "900 B/s");
        assert_eq!(rate(f64::INFINITY), "0 B/s");
    }

    #[test]
    fn overall_line_names_the_batch_only_when_there_are_several() {
        let b = |done, total| bar(done, total, OVERALL_BAR_WIDTH);
        assert_eq!(
            overall_text(Phase::Batch { index: 2, of: 4 }, 23, 80, 1),
            format!("batch 2/4 {}  23/80 hosts  1 failed", b(23, 80))
        );
        assert_eq!(
            overall_text(Phase::Batch { index: 1, of: 1 }, 3, 3, 0),
            format!("{}  3/3 hosts  0 failed", b(3, 3))
        );
        assert_eq!(
            overall_text(Phase::Probing, 12, 80, 0),
            format!("probing {}  12/80 hosts", b(12, 80))
        );
        assert_eq!(
            overall_text(Phase::Probing, 80, 80, 2),
            format!("probing {}  80/80 hosts  2 failed", b(80, 80))
        );
    }

    #[test]
    fn host_lines_show_the_upload_or_the_step_and_its_time() {
        let up = host_text(
            "web07",
            6,
            "stage",
            Activity::Uploading {
                sent: 61 << 20,
                total: 96 << 20,
                seconds: 0.5,
            },
        );
        assert_eq!(
            up,
            format!(
                "  web07   stage     {}  61.0/96.0 MiB  122 MiB/s",
                bar(61, 96, HOST_BAR_WIDTH)
            )
        );
        let just_begun = host_text(
            "web07",
            5,
            "stage",
            Activity::Uploading {
                sent: 0,
                total: 96 << 20,
                seconds: 0.0,
            },
        );
        assert!(just_begun.ends_with("0.0/96.0 MiB"), "{just_begun}");
        assert_eq!(
            host_text("web08", 5, "health", Activity::Running { seconds: 6.25 }),
            "  web08  health    6.2 s"
        );
        assert_eq!(
            host_text("web09", 5, "swap", Activity::Done),
            "  web09  swap      done"
        );
    }

    fn started(hosts: usize, batches: Vec<usize>) -> Event {
        Event::Started {
            job: Job::Upgrade,
            hosts,
            batches,
        }
    }

    fn step(host: &str, step: &str) -> Event {
        Event::StepStarted {
            host: host.into(),
            step: step.into(),
        }
    }

    fn step_done(host: &str, step: &str) -> Event {
        Event::StepDone {
            host: host.into(),
            step: step.into(),
            detail: String::new(),
            seconds: 0.1,
        }
    }

    fn host_done(host: &str, result: &'static str) -> Event {
        let mut rep = HostReport::new(host, result);
        rep.from = Some("1.0.0".into());
        rep.to = Some("1.1.0".into());
        rep.seconds = 9.8;
        Event::HostDone(rep)
    }

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("web{i:02}")).collect()
    }

    #[test]
    fn probing_counts_probes_and_shows_the_hosts_being_probed() {
        let t = Instant::now();
        let mut s = State::default();
        s.apply(&started(3, vec![1, 2]), t);
        s.apply(&step("web1", "connect"), t);
        s.apply(&step("web2", "connect"), t);
        s.apply(&step("web1", "probe"), at(t, 100));
        s.apply(&step_done("web1", "probe"), at(t, 200));
        let f = s.frame(at(t, 1500), 20);
        assert_eq!(
            f.overall.as_deref(),
            Some(format!("probing {}  1/3 hosts", bar(1, 3, OVERALL_BAR_WIDTH)).as_str())
        );
        assert_eq!(f.hosts, vec!["  web2  connect   1.5 s".to_owned()]);
        assert_eq!(f.more, None);
        assert!(f.print.is_empty());
    }

    #[test]
    fn a_batch_shows_its_hosts_steps_uploads_and_ends() {
        let t = Instant::now();
        let mut s = State::default();
        s.apply(&started(4, vec![1, 3]), t);
        // A host whose connection failed while probing says nothing more until its batch.
        s.apply(&step("db1", "connect"), t);
        s.apply(
            &Event::BatchStarted {
                index: 2,
                of: 2,
                hosts: ["web1", "web2", "db1"].map(String::from).to_vec(),
            },
            at(t, 10),
        );
        s.apply(&step("web1", "stage"), at(t, 100));
        let sent = Arc::new(AtomicU64::new(0));
        s.apply(
            &Event::Upload {
                host: "web1".into(),
                total: 4 << 20,
                sent: Arc::clone(&sent),
            },
            at(t, 100),
        );
        s.apply(&step("web2", "swap"), at(t, 100));
        s.apply(&step_done("web2", "swap"), at(t, 200));
        sent.store(1 << 20, Ordering::Relaxed);
        let f = s.frame(at(t, 1100), 20);
        assert_eq!(f.print, vec!["batch 2/2: web1 web2 db1".to_owned()]);
        assert_eq!(
            f.hosts,
            vec![
                format!(
                    "  web1  stage     {}  1.0/4.0 MiB  1.0 MiB/s",
                    bar(1, 4, HOST_BAR_WIDTH)
                ),
                "  web2  swap      done".to_owned(),
            ]
        );

        s.apply(&host_done("web1", "upgraded"), at(t, 1200));
        s.apply(&host_done("web2", "rolled_back"), at(t, 1300));
        s.apply(&host_done("db1", "skipped"), at(t, 1300));
        let f = s.frame(at(t, 1400), 20);
        assert_eq!(
            f.print,
            vec![
                "web1 upgraded 1.0.0 -> 1.1.0 in 9.8 s".to_owned(),
                "web2 rolled_back 1.0.0 -> 1.1.0 in 9.8 s".to_owned(),
                "db1 skipped 1.0.0 -> 1.1.0 in 9.8 s".to_owned(),
            ]
        );
        assert!(f.hosts.is_empty(), "{:?}", f.hosts);
        assert_eq!(
            f.overall.as_deref(),
            Some(
                format!(
                    "batch 2/2 {}  3/4 hosts  1 failed",
                    bar(3, 4, OVERALL_BAR_WIDTH)
                )
                .as_str()
            ),
            "skipped is not a failure"
        );
        assert!(s.frame(at(t, 1500), 20).print.is_empty(), "printed once");
    }

    #[test]
    fn at_most_cap_host_lines_and_a_count_of_the_others() {
        let t = Instant::now();
        let mut s = State::default();
        let all = names(57);
        s.apply(&started(all.len(), vec![all.len()]), t);
        s.apply(
            &Event::BatchStarted {
                index: 1,
                of: 1,
                hosts: all.clone(),
            },
            t,
        );
        for h in &all {
            s.apply(&step(h, "lock"), t);
        }
        let f = s.frame(at(t, 100), 20);
        assert_eq!(f.hosts.len(), 20);
        assert!(f.hosts[0].starts_with("  web01  lock"), "{:?}", f.hosts);
        assert!(f.hosts[19].starts_with("  web20  lock"), "{:?}", f.hosts);
        assert_eq!(f.more.as_deref(), Some("  … and 37 more active"));
        assert!(
            f.overall
                .as_deref()
                .is_some_and(|o| o.starts_with(&bar(0, 57, OVERALL_BAR_WIDTH))),
            "one batch: no batch n/m: {:?}",
            f.overall
        );

        // The first ones end: the next ones move up, in the order they began.
        for h in &all[..40] {
            s.apply(&host_done(h, "upgraded"), t);
        }
        let f = s.frame(at(t, 200), 20);
        assert_eq!(f.hosts.len(), 17);
        assert!(f.hosts[0].starts_with("  web41  lock"), "{:?}", f.hosts);
        assert_eq!(f.more, None);
    }

    /// A terminal that records what is written to it.
    #[derive(Debug, Default, Clone)]
    struct Screen(Arc<Mutex<String>>);

    impl Screen {
        fn text(&self) -> String {
            lock(&self.0).clone()
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            120
        }
        fn height(&self) -> u16 {
            40
        }
        fn move_cursor_up(&self, n: usize) -> io::Result<()> {
            lock(&self.0).push_str(&format!("<up {n}>"));
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            lock(&self.0).push_str(&format!("{s}\n"));
            Ok(())
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            lock(&self.0).push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            lock(&self.0).push_str("<clear>");
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    fn summary() -> Summary {
        Summary {
            job: Job::Upgrade,
            hosts: 1,
            counts: Default::default(),
            exit_code: 0,
            stopped: None,
            retry_file: None,
            releases: Vec::new(),
            seconds: 1.0,
        }
    }

    #[test]
    fn draws_host_lines_prints_ends_above_and_clears_at_the_end() {
        let screen = Screen::default();
        let bars = Bars::with_target(
            ProgressDrawTarget::term_like_with_hz(Box::new(screen.clone()), 100),
            20,
            false,
        );
        bars.event(&started(1, vec![1]));
        bars.event(&Event::BatchStarted {
            index: 1,
            of: 1,
            hosts: vec!["web1".into()],
        });
        bars.event(&step("web1", "health"));
        let live = screen.text();
        assert!(live.contains("batch 1/1: web1 "), "{live}");
        assert!(live.contains("  web1  health    0.0 s"), "{live}");
        assert!(live.contains("0/1 hosts  0 failed"), "{live}");

        bars.event(&host_done("web1", "upgraded"));
        let shown = screen.text();
        assert!(
            shown.contains("web1 upgraded 1.0.0 -> 1.1.0 in 9.8 s "),
            "{shown}"
        );
        let since = shown.len();
        bars.event(&Event::Finished(summary()));
        let end = screen.text()[since..].to_owned();
        assert!(!end.contains("hosts"), "no bar is drawn again: {end:?}");
        assert!(end.contains("<clear>"), "the bars are wiped: {end:?}");
        bars.event(&step("web2", "health"));
        assert_eq!(
            screen.text().len(),
            since + end.len(),
            "nothing after the end"
        );
    }

    #[test]
    fn suspend_runs_the_question_with_the_bars_hidden() {
        let screen = Screen::default();
        let bars = Bars::with_target(
            ProgressDrawTarget::term_like_with_hz(Box::new(screen.clone()), 100),
            20,
            false,
        );
        bars.event(&started(3, vec![3]));
        let before = screen.text().len();
        let answer = bars.suspend(|| {
            let wiped = screen.text()[before..].to_owned();
            assert!(wiped.contains("<clear>"), "{wiped:?}");
            42
        });
        assert_eq!(answer, 42);
        let after = screen.text().len();
        bars.event(&step("web1", "lock"));
        assert_eq!(
            screen.text().len(),
            after,
            "not drawn over what follows the answer at once"
        );
        std::thread::sleep(RESUME_AFTER);
        bars.event(&step("web1", "stage"));
        let redrawn = screen.text()[after..].to_owned();
        assert!(
            redrawn.contains("0/3 hosts") && redrawn.contains("  web1  stage"),
            "every bar drawn again: {redrawn:?}"
        );
    }

    #[test]
    fn the_release_download_joins_the_view_and_ends_as_a_line_in_order() {
        use crate::events::ReleaseInfo;
        use crate::progress::DownloadProgress;
        use crate::release::fetch::DownloadObserver;

        let screen = Screen::default();
        let bars = Bars::with_target(
            ProgressDrawTarget::term_like_with_hz(Box::new(screen.clone()), 100),
            20,
            false,
        );
        bars.event(&started(3, vec![3]));
        bars.event(&Event::Release(ReleaseInfo {
            product: "demoapp".into(),
            version: "1.1.0".into(),
            channel: "stable".into(),
            key_id: "FCA9".into(),
            expires: "2036-11-26T00:00:00Z".into(),
        }));
        let download = DownloadProgress::with_live(bars.live(), "demoapp 1.1.0 linux/amd64");
        download.started("https://example.invalid/demoapp", 2048);
        download.advanced(1024);
        download.finished();
        drop(download);
        bars.event(&Event::Finished(summary()));
        let text = screen.text();
        let release = text.find("release demoapp 1.1.0 (stable");
        let done = text.find("downloaded demoapp 1.1.0 linux/amd64  2.00 KiB  verified");
        assert!(
            release.is_some() && done.is_some() && release < done,
            "the release line, then the download's: {text}"
        );
        let tail = &text[done.unwrap_or_default()..];
        assert!(
            !tail.contains("downloading "),
            "no download bar after it ended: {tail}"
        );
    }

    #[test]
    fn the_ticker_stops_with_the_bars() {
        let bars = Bars::with_target(ProgressDrawTarget::hidden(), 20, true);
        bars.event(&started(1, vec![1]));
        bars.event(&step("web1", "stage"));
        std::thread::sleep(TICK * 2);
        drop(bars);
    }
}
