//! Plain progress: one line per event on stderr, host first, no escape codes — what a CI log
//! shows and what `--no-progress` gives on a terminal.

use std::io::Write;

use crate::events::{Event, HostReport, Observer};

/// Writes each event as one line.
#[derive(Debug)]
pub struct Lines<W: Write + Send> {
    out: std::sync::Mutex<W>,
}

impl<W: Write + Send> Lines<W> {
    pub fn new(out: W) -> Self {
        Self {
            out: std::sync::Mutex::new(out),
        }
    }
}

/// The line for a finished host: `upgraded 1.0.0 -> 1.1.0 in 2.3 s`, then the first line of
/// why it failed.
pub fn host_line(rep: &HostReport) -> String {
    let mut line = rep.result.to_owned();
    if let (Some(from), Some(to)) = (&rep.from, &rep.to) {
        line.push_str(&format!(" {from} -> {to}"));
    }
    line.push_str(&format!(" in {:.1} s", rep.seconds));
    if let Some(d) = &rep.detail {
        line.push_str(&format!(": {}", d.lines().next().unwrap_or("")));
    }
    line
}

/// The text of an event as a plain line (`None`: nothing to say).
pub fn event_line(event: &Event) -> Option<String> {
    Some(match event {
        Event::Started {
            job,
            hosts,
            batches,
        } => {
            let sizes: Vec<String> = batches.iter().map(ToString::to_string).collect();
            match batches.len() {
                0 | 1 => format!("{} {hosts} hosts", job.name()),
                n => format!(
                    "{} {hosts} hosts in {n} batches ({})",
                    job.name(),
                    sizes.join(", ")
                ),
            }
        }
        Event::Release(r) => format!("release {r}"),
        Event::BatchStarted { index, of, hosts } => {
            format!("batch {index}/{of}: {}", hosts.join(" "))
        }
        Event::StepStarted { .. } | Event::Upload { .. } | Event::Finished(_) => return None,
        Event::StepDone {
            host, step, detail, ..
        } => format!("{host} {step} ok: {detail}"),
        Event::StepFailed {
            host,
            step,
            message,
        } => format!(
            "{host} {step} failed: {}",
            message.lines().next().unwrap_or("")
        ),
        Event::HostDone(rep) => format!("{} {}", rep.host, host_line(rep)),
        Event::BatchDone { index, of, failed } => {
            format!("batch {index}/{of} done: {failed} failed so far")
        }
        Event::Stopped { reason, skipped } => {
            format!("stopped: {reason}; {skipped} hosts not started are skipped")
        }
    })
}

impl<W: Write + Send> Observer for Lines<W> {
    fn event(&self, event: &Event) {
        if let Some(line) = event_line(event) {
            let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
            // A failed write to stderr has nowhere better to be reported.
            let _ = writeln!(out, "{line}");
        }
    }
}
