//! The machine formats in JSON: `--output json` (one document at the end) and `--output jsonl`
//! (one event per line, written and flushed as it happens). serde_json does the escaping, so
//! whatever a host printed, every document and every line is valid JSON.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use serde_json::{Value, json};

use crate::events::{Event, HostReport, Job, Observer, ReleaseInfo, Summary};
use crate::run::write_json;

/// One host as a JSON object (the `json` document's `hosts`, and `jsonl`'s `host` events).
/// Every job has the same fields; `check` adds the names its table uses (`action`, `current`,
/// `target`, `reason`).
pub fn host_json(job: Job, r: &HostReport) -> Value {
    let mut v = json!({
        "host": r.host,
        "result": r.result,
        "from": r.from,
        "to": r.to,
        // The full text (step, command, whole stderr) of a host that did not succeed.
        "error": if r.ok(job) { None } else { r.detail.clone() },
        "detail": r.detail,
        "failure": r.failure,
        "seconds": r.seconds,
        "steps": r.steps,
        "bytes_sent": r.bytes_sent,
        "channel": r.channel,
        "batch": r.batch,
    });
    if job == Job::Check
        && let Some(o) = v.as_object_mut()
    {
        o.insert("action".into(), json!(r.result));
        o.insert("current".into(), json!(r.from));
        o.insert("target".into(), json!(r.to));
        o.insert("reason".into(), json!(r.detail));
    }
    v
}

/// `--output json`: `{"summary": {...}, "hosts": [...]}`, hosts in the order they ended.
pub(super) fn write_document(
    out: &mut impl Write,
    reports: &[HostReport],
    summary: &Summary,
) -> std::io::Result<()> {
    let hosts: Vec<Value> = reports.iter().map(|r| host_json(summary.job, r)).collect();
    write_json(out, &json!({"summary": summary, "hosts": hosts}))
}

/// An event as its JSON line (`None`: not written: step starts and upload counters).
pub fn event_json(job: Job, event: &Event) -> Option<Value> {
    Some(match event {
        Event::Started {
            job,
            hosts,
            batches,
        } => {
            json!({"event": "started", "job": job, "hosts": hosts, "batches": batches})
        }
        Event::Release(r) => json!({"event": "release", "release": r}),
        Event::BatchStarted { index, of, hosts } => {
            json!({"event": "batch_started", "batch": index, "of": of, "hosts": hosts})
        }
        Event::StepStarted { .. } | Event::Upload { .. } => return None,
        Event::StepDone {
            host,
            step,
            detail,
            seconds,
        } => {
            json!({"event": "step", "host": host, "step": step, "detail": detail, "seconds": seconds})
        }
        Event::StepFailed {
            host,
            step,
            message,
        } => json!({"event": "step_failed", "host": host, "step": step, "message": message}),
        Event::HostDone(r) => with_event(host_json(job, r), "host"),
        Event::BatchDone { index, of, failed } => {
            json!({"event": "batch_done", "batch": index, "of": of, "failed_so_far": failed})
        }
        Event::Stopped { reason, skipped } => {
            json!({"event": "stopped", "reason": reason, "skipped": skipped})
        }
        Event::Finished(s) => with_event(json!(s), "summary"),
    })
}

/// `v` (an object) with `"event": kind` added.
fn with_event(mut v: Value, kind: &str) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("event".into(), kind.into());
    }
    v
}

/// `--output jsonl`: every event as one JSON object on its own line of stdout, written and
/// flushed as it happens, so a pipe reader sees the run live. The last line is the summary:
/// nothing is written after it, and a run that ends early on an error (an unverified release,
/// a refused confirmation) still gets one, marked `"aborted": true`, when the stream is
/// dropped.
pub struct JsonlStream {
    job: Job,
    began: Instant,
    state: Mutex<Stream>,
}

/// What the stream has written so far, for the summary of a run that ends early.
struct Stream {
    out: Box<dyn Write + Send>,
    hosts: usize,
    counts: BTreeMap<String, usize>,
    releases: Vec<ReleaseInfo>,
    summarized: bool,
}

impl std::fmt::Debug for JsonlStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlStream")
            .field("job", &self.job)
            .finish_non_exhaustive()
    }
}

impl JsonlStream {
    pub fn new(job: Job, out: Box<dyn Write + Send>) -> Self {
        Self {
            job,
            began: Instant::now(),
            state: Mutex::new(Stream {
                out,
                hosts: 0,
                counts: BTreeMap::new(),
                releases: Vec::new(),
                summarized: false,
            }),
        }
    }
}

impl Stream {
    fn line(&mut self, v: &Value) {
        // A reader that left (broken pipe) must not stop the work on the hosts.
        let _ = writeln!(self.out, "{v}").and_then(|()| self.out.flush());
    }
}

impl Observer for JsonlStream {
    fn event(&self, event: &Event) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.summarized {
            return;
        }
        match event {
            Event::Started { hosts, .. } => s.hosts = *hosts,
            Event::Release(r) => s.releases.push(r.clone()),
            Event::HostDone(r) => *s.counts.entry(r.result.to_owned()).or_default() += 1,
            Event::Finished(_) => s.summarized = true,
            _ => {}
        }
        if let Some(v) = event_json(self.job, event) {
            s.line(&v);
        }
    }
}

impl Drop for JsonlStream {
    fn drop(&mut self) {
        let s = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if s.summarized {
            return;
        }
        // The run returned without its summary: it ended on an error that `fleetup` reports on
        // stderr and exits 2 for (101 if it panicked).
        let exit_code = if std::thread::panicking() { 101 } else { 2 };
        let v = json!({
            "event": "summary",
            "job": self.job,
            "hosts": s.hosts,
            "counts": s.counts,
            "exit_code": exit_code,
            "stopped": null,
            "retry_file": null,
            "releases": s.releases,
            "seconds": self.began.elapsed().as_secs_f64(),
            "aborted": true,
        });
        s.line(&v);
    }
}
