//! What the operator sees while work runs: live bars on a terminal, plain lines elsewhere
//! (CI logs), nothing when quiet. Work code never prints; it reports to the observers here.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{BinaryBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::Verbosity;
use crate::events::{Event, Observer};
use crate::release::fetch::DownloadObserver;

pub mod bars;
pub mod lines;

pub use bars::{Bars, Live};
pub use lines::Lines;

/// How progress is shown; decided once from the settings and the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Live bars on stderr (a terminal, progress not switched off).
    Bars,
    /// One plain line per event on stderr, no escape codes.
    Lines,
    /// Nothing (`-q`).
    Silent,
}

impl Mode {
    pub fn choose(progress: bool, verbosity: Verbosity) -> Self {
        match verbosity {
            Verbosity::Quiet => Mode::Silent,
            _ if progress && std::io::stderr().is_terminal() => Mode::Bars,
            _ => Mode::Lines,
        }
    }
}

/// What a run shows on stderr while it works: bars, lines or nothing, per [`Mode`].
#[derive(Debug)]
pub struct Display {
    mode: Mode,
    lines: Lines<std::io::Stderr>,
    /// The live view (`Mode::Bars` only).
    bars: Option<Bars>,
}

impl Display {
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            lines: Lines::new(std::io::stderr()),
            bars: (mode == Mode::Bars).then(Bars::new),
        }
    }

    /// The progress of one artifact's download, drawn with the rest.
    pub fn download(&self, what: String) -> DownloadProgress {
        match &self.bars {
            Some(bars) => DownloadProgress::with_live(bars.live(), what),
            None => DownloadProgress::new(self.mode, what),
        }
    }

    /// Runs `f` (a question to the operator) with the bars hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bars {
            Some(bars) => bars.suspend(f),
            None => f(),
        }
    }
}

impl Observer for Display {
    fn event(&self, event: &Event) {
        match (self.mode, &self.bars) {
            (Mode::Bars, Some(bars)) => bars.event(event),
            (Mode::Bars | Mode::Lines, _) => self.lines.event(event),
            (Mode::Silent, _) => {}
        }
    }
}

/// The download of one artifact: a bar with bytes and speed, or a line when it starts and one
/// when it is verified.
#[derive(Debug)]
pub struct DownloadProgress {
    mode: Mode,
    /// What is downloaded, e.g. `demoapp 2.0.0 linux/amd64`.
    what: String,
    /// The live view the bar joins (`None`: a bar of its own).
    live: Option<Live>,
    bar: Mutex<Option<ProgressBar>>,
}

impl DownloadProgress {
    pub fn new(mode: Mode, what: impl Into<String>) -> Self {
        Self {
            mode,
            what: what.into(),
            live: None,
            bar: Mutex::new(None),
        }
    }

    /// A bar drawn above the others of a run's live view.
    pub fn with_live(live: Live, what: impl Into<String>) -> Self {
        Self {
            mode: Mode::Bars,
            what: what.into(),
            live: Some(live),
            bar: Mutex::new(None),
        }
    }

    /// Takes the bar away for good (finished, replaced, or the download failed).
    fn forget(&self, bar: &ProgressBar) {
        bar.finish_and_clear();
        if let Some(live) = &self.live {
            live.multi().remove(bar);
        }
    }

    /// A permanent line above the live view.
    fn println(&self, text: &str) {
        if let Some(live) = &self.live {
            live.println(text);
        }
    }

    fn line(&self, text: &str) {
        if self.mode == Mode::Lines {
            // A failed write to stderr has nowhere better to be reported.
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }
}

impl DownloadObserver for DownloadProgress {
    fn started(&self, url: &str, total: u64) {
        match self.mode {
            Mode::Bars => {
                let target = match self.live {
                    Some(_) => ProgressDrawTarget::hidden(),
                    None => ProgressDrawTarget::stderr_with_hz(bars::REDRAW_HZ),
                };
                let bar = ProgressBar::with_draw_target(Some(total), target);
                bar.set_style(
                    ProgressStyle::with_template(
                        "downloading {msg}  {wide_bar}  {binary_bytes}/{binary_total_bytes}  {binary_bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("━╸─"),
                );
                bar.set_message(self.what.clone());
                // Above the overall bar and the hosts.
                let bar = match &self.live {
                    Some(live) => live.multi().insert(0, bar),
                    None => bar,
                };
                bar.enable_steady_tick(Duration::from_millis(200));
                if let Some(old) = self
                    .bar
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .replace(bar)
                {
                    self.forget(&old);
                }
            }
            Mode::Lines => self.line(&format!("download {}: {url} ({total} bytes)", self.what)),
            Mode::Silent => {}
        }
    }

    fn advanced(&self, bytes: u64) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            bar.inc(bytes);
        }
    }

    fn finished(&self) {
        let bar = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let (Some(bar), Some(_)) = (&bar, &self.live) {
            // The live view goes on: the download becomes a line above it.
            self.forget(bar);
            let size = BinaryBytes(bar.length().unwrap_or_default());
            self.println(&format!("downloaded {}  {size}  verified", self.what));
        } else if let Some(bar) = bar {
            bar.set_style(
                ProgressStyle::with_template("downloaded {msg}  {binary_total_bytes}  verified")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.finish();
        }
        self.line(&format!("download {}: verified", self.what));
    }

    fn cached(&self, _url: &str) {
        let text = format!("download {}: already in the cache, verified", self.what);
        self.line(&text);
        self.println(&text);
    }
}

impl Drop for DownloadProgress {
    fn drop(&mut self) {
        // A download that failed half-way leaves no bar behind (the error follows).
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            self.forget(&bar);
        }
    }
}
