//! What the operator (or CI) reads: at the end of `check`, `upgrade` and `rollback` a table
//! (host, from → to, result, time), a count per result and the full detail of every host that
//! did not succeed; or one JSON document; or JSON lines streamed as events happen
//! ([`JsonlStream`]); or JUnit XML.

use std::io::Write;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::cli::OutputFormat;
use crate::events::{Event, HostReport, Job, Observer, Summary};
use crate::run::write_json;

/// How the final report is written.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    pub output: OutputFormat,
    /// ANSI colors in the text report (decided once from `--color`, `NO_COLOR` and the terminal).
    pub color: bool,
}

/// One host as a JSON object (the `json` document's `hosts`, and `jsonl`'s `host` events).
pub fn host_json(job: Job, r: &HostReport) -> Value {
    match job {
        Job::Check => json!({
            "host": r.host, "current": r.from, "target": r.to, "action": r.result,
            "reason": r.detail, "channel": r.channel,
        }),
        _ => json!({
            "host": r.host, "result": r.result, "from": r.from, "to": r.to,
            "error": if r.ok(job) { None } else { r.detail.clone() },
            "failure": r.failure, "seconds": r.seconds, "steps": r.steps,
            "bytes_sent": r.bytes_sent, "channel": r.channel, "batch": r.batch,
        }),
    }
}

/// Writes the report of a finished run to `out` (stdout). For `jsonl` only the events were
/// the report, so nothing is written here.
pub fn write_final(
    out: &mut impl Write,
    opts: RenderOptions,
    reports: &[HostReport],
    summary: &Summary,
) -> std::io::Result<()> {
    let job = summary.job;
    match opts.output {
        OutputFormat::Json => {
            let hosts: Vec<Value> = reports.iter().map(|r| host_json(job, r)).collect();
            return write_json(&mut *out, &json!({"summary": summary, "hosts": hosts}));
        }
        OutputFormat::Jsonl => return Ok(()),
        OutputFormat::Junit | OutputFormat::Text => {}
    }
    for rel in &summary.releases {
        writeln!(
            out,
            "release  {} {} ({}, signed by {}, index expires {})",
            rel.product, rel.version, rel.channel, rel.key_id, rel.expires
        )?;
    }
    let w = reports
        .iter()
        .map(|r| r.host.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let col = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_owned());
    match job {
        Job::Check => writeln!(
            out,
            "{:<w$}  {:<10}  {:<10}  {:<11}  WHY",
            "HOST", "CURRENT", "TARGET", "ACTION"
        )?,
        _ => writeln!(
            out,
            "{:<w$}  {:<10}  {:<10}  {:<11}  {:>7}  DETAIL",
            "HOST", "FROM", "TO", "RESULT", "TIME"
        )?,
    }
    for r in reports {
        let first = r
            .detail
            .as_deref()
            .and_then(|d| d.lines().next())
            .unwrap_or("");
        match job {
            Job::Check => writeln!(
                out,
                "{:<w$}  {:<10}  {:<10}  {:<11}  {first}",
                r.host,
                col(&r.from),
                col(&r.to),
                r.result
            )?,
            _ => writeln!(
                out,
                "{:<w$}  {:<10}  {:<10}  {:<11}  {:>5.1} s  {first}",
                r.host,
                col(&r.from),
                col(&r.to),
                r.result,
                r.seconds
            )?,
        }
    }
    let summary_line: Vec<String> = summary
        .counts
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let tail = if job == Job::Check {
        " — nothing was changed"
    } else {
        ""
    };
    writeln!(
        out,
        "{} hosts: {}{tail}",
        reports.len(),
        summary_line.join(", ")
    )?;
    if let Some(why) = &summary.stopped {
        writeln!(out, "stopped: {why}")?;
    }
    if let Some(file) = &summary.retry_file {
        writeln!(out, "retry the failures with: --limit @{file}")?;
    }
    // Full detail (step, command, whole stderr) for every host that did not succeed.
    for r in reports.iter().filter(|r| !r.ok(job)) {
        if let Some(d) = &r.detail {
            writeln!(out, "\n{} {}:\n{}", r.host, r.result, indent(d))?;
        }
    }
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `--output jsonl`: every event as one JSON object on its own line of stdout, written and
/// flushed as it happens, so a pipe reader sees the run live; the last line is the summary.
pub struct JsonlStream {
    job: Job,
    out: Mutex<Box<dyn Write + Send>>,
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
            out: Mutex::new(out),
        }
    }
}

/// An event as its JSON line (`None`: not written, e.g. upload counters).
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
        Event::HostDone(r) => {
            let mut v = host_json(job, r);
            if let Some(o) = v.as_object_mut() {
                o.insert("event".into(), "host".into());
            }
            v
        }
        Event::BatchDone { index, of, failed } => {
            json!({"event": "batch_done", "batch": index, "of": of, "failed_so_far": failed})
        }
        Event::Stopped { reason, skipped } => {
            json!({"event": "stopped", "reason": reason, "skipped": skipped})
        }
        Event::Finished(s) => {
            let mut v = json!(s);
            if let Some(o) = v.as_object_mut() {
                o.insert("event".into(), "summary".into());
            }
            v
        }
    })
}

impl Observer for JsonlStream {
    fn event(&self, event: &Event) {
        let Some(v) = event_json(self.job, event) else {
            return;
        };
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A reader that left (broken pipe) must not stop the work on the hosts.
        let _ = writeln!(out, "{v}").and_then(|()| out.flush());
    }
}
