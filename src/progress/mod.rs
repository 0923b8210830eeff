//! What the operator sees while work runs: live bars on a terminal, plain lines elsewhere
//! (CI logs), nothing when quiet. Work code never prints; it reports to the observers here.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::Verbosity;
use crate::events::{Event, Observer};
use crate::release::fetch::DownloadObserver;

pub mod lines;

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
}

impl Display {
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            lines: Lines::new(std::io::stderr()),
        }
    }

    /// The progress of one artifact's download, drawn with the rest.
    pub fn download(&self, what: String) -> DownloadProgress {
        DownloadProgress::new(self.mode, what)
    }

    /// Runs `f` (a question to the operator) with the bars hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
}

impl Observer for Display {
    fn event(&self, event: &Event) {
        match self.mode {
            Mode::Bars | Mode::Lines => self.lines.event(event),
            Mode::Silent => {}
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
    bar: Mutex<Option<ProgressBar>>,
}

impl DownloadProgress {
    pub fn new(mode: Mode, what: impl Into<String>) -> Self {
        Self {
            mode,
            what: what.into(),
            bar: Mutex::new(None),
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
                let bar = ProgressBar::with_draw_target(
                    Some(total),
                    ProgressDrawTarget::stderr_with_hz(10),
                );
                bar.set_style(
                    ProgressStyle::with_template(
                        "downloading {msg}  {wide_bar}  {binary_bytes}/{binary_total_bytes}  {binary_bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_message(self.what.clone());
                bar.enable_steady_tick(Duration::from_millis(200));
                if let Some(old) = self
                    .bar
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .replace(bar)
                {
                    old.finish_and_clear();
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
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.set_style(
                ProgressStyle::with_template("downloaded {msg}  {binary_total_bytes}  verified")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.finish();
        }
        self.line(&format!("download {}: verified", self.what));
    }

    fn cached(&self, _url: &str) {
        self.line(&format!(
            "download {}: already in the cache, verified",
            self.what
        ));
    }
}
