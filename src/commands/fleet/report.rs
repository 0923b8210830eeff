//! What the operator reads at the end of `check`, `upgrade` and `rollback`: a table (host,
//! from → to, result, time), a count per result, and the full detail of every host that did
//! not succeed; or the same as JSON / JSON lines.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use serde_json::{Value, json};

use super::Job;
use crate::cli::OutputFormat;
use crate::release::Release;
use crate::release::settings::ReleaseSettings;
use crate::release::source::VerifiedIndex;
use crate::run::{RunError, write_json};

/// How one host ended.
#[derive(Debug, Clone)]
pub(super) struct HostReport {
    pub(super) host: String,
    /// `upgraded`, `unchanged`, `failed`, `rolled_back`, `unreachable`, `skipped`; for
    /// `check`: the planned action (`upgrade`, `none`, `refuse`, `blocked`, `unreachable`, `failed`).
    pub(super) result: &'static str,
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
    /// Why, for anything but success: step, command, full stderr.
    pub(super) detail: Option<String>,
    pub(super) seconds: f64,
}

impl HostReport {
    pub(super) fn new(host: &str, result: &'static str, started: Instant) -> Self {
        Self {
            host: host.to_owned(),
            result,
            from: None,
            to: None,
            detail: None,
            seconds: started.elapsed().as_secs_f64(),
        }
    }
    pub(super) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub(super) fn ok(&self, job: Job) -> bool {
        match job {
            Job::Check => matches!(self.result, "upgrade" | "none"),
            Job::Upgrade => matches!(self.result, "upgraded" | "unchanged"),
            Job::Rollback => self.result == "rolled_back",
        }
    }
}

pub(super) fn line_for(rep: &HostReport) -> String {
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

pub(super) fn render(
    output: OutputFormat,
    job: Job,
    reports: &[HostReport],
    channels: &BTreeMap<ReleaseSettings, (VerifiedIndex, Release)>,
) -> Result<(), RunError> {
    let mut out = std::io::stdout().lock();
    let hosts: Vec<Value> = reports
        .iter()
        .map(|r| match job {
            Job::Check => json!({"host": r.host, "current": r.from, "target": r.to, "action": r.result, "reason": r.detail}),
            _ => json!({"host": r.host, "result": r.result, "from": r.from, "to": r.to, "error": if r.ok(job) { None } else { r.detail.clone() }, "seconds": r.seconds}),
        })
        .collect();
    match output {
        OutputFormat::Json => return Ok(write_json(&mut out, &json!({"hosts": hosts}))?),
        OutputFormat::Jsonl => {
            for h in &hosts {
                writeln!(out, "{h}")?;
            }
            return Ok(());
        }
        _ => {}
    }
    for (verified, release) in channels.values() {
        writeln!(
            out,
            "release  {} {} ({}, signed by {}, index expires {})",
            verified.index.product,
            release.version,
            verified.index.channel,
            verified.key_id,
            verified.index.expires
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
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reports {
        *counts.entry(r.result).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let tail = if job == Job::Check {
        " — nothing was changed"
    } else {
        ""
    };
    writeln!(out, "{} hosts: {}{tail}", reports.len(), summary.join(", "))?;
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
