//! What the operator (or CI) reads at the end of `check`, `upgrade` and `rollback`, on stdout:
//! a table with the failures first, a count per result and the full detail of every host that
//! did not succeed ([`text`]); or one JSON document, or JSON lines streamed as events happen
//! ([`json`]); or JUnit XML ([`junit`]); or a self-contained HTML page for an audit ([`html`]).
//! docs/output.md describes each format for its readers.

mod html;
mod json;
mod junit;
mod text;

use std::collections::HashSet;
use std::io::Write;

pub use json::{JsonlStream, event_json, host_json};

use crate::cli::OutputFormat;
use crate::events::{HostError, HostReport, Job, Summary};
use crate::inventory::Inventory;

/// How the final report is written.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    pub output: OutputFormat,
    /// ANSI colors in the text report (decided once from `--color`, `NO_COLOR` and the terminal).
    pub color: bool,
}

/// What a report shows beyond the hosts' results: the HTML page's groups, and when and where
/// it was taken. The other formats do not use it.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// The inventory's groups that hold a reported host, in inventory order, each with those
    /// of its hosts that are reported (its children's included).
    pub groups: Vec<(String, Vec<String>)>,
    /// When the run ended (RFC 3339).
    pub taken: String,
    /// The controller's host name.
    pub controller: String,
}

impl Audit {
    /// Taken now on `controller`, for the hosts of `reports`: each group of `inv` but `all`
    /// that holds one of them, in inventory order.
    pub fn new(inv: &Inventory, reports: &[HostReport], controller: String) -> Self {
        let reported: HashSet<&str> = reports.iter().map(|r| r.host.as_str()).collect();
        let groups = inv
            .groups()
            .filter(|g| g.name != crate::inventory::ALL)
            .map(|g| {
                let mut hosts = inv.group_hosts(&g.name);
                hosts.retain(|h| reported.contains(h.as_str()));
                (g.name.clone(), hosts)
            })
            .filter(|(_, hosts)| !hosts.is_empty())
            .collect();
        let now = jiff::Timestamp::now();
        Self {
            groups,
            // To the second: `2026-11-27T03:11:12Z`.
            taken: jiff::Timestamp::from_second(now.as_second())
                .unwrap_or(now)
                .to_string(),
            controller,
        }
    }
}

/// Writes the report of a finished run to `out` (stdout). For `jsonl` the events were the
/// report, so nothing is written here.
///
/// A reader that left (`fleetup upgrade | head`) is not an error: the hosts were worked on
/// all the same, and the exit code must still say how that went (a rollback never exits 0).
pub fn write_final(
    out: &mut impl Write,
    opts: RenderOptions,
    reports: &[HostReport],
    summary: &Summary,
    audit: &Audit,
) -> std::io::Result<()> {
    let written = match opts.output {
        OutputFormat::Text => text::write(out, opts.color, reports, summary),
        OutputFormat::Json => json::write_document(out, reports, summary),
        OutputFormat::Jsonl => Ok(()),
        OutputFormat::Junit => junit::write(out, reports, summary),
        OutputFormat::Html => html::write(out, reports, summary, audit),
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The results of `job`, in the order the text report sorts them and counts them: what went
/// wrong first, success last. Results that share a rank keep the run's order between them.
fn result_rank(job: Job, result: &str) -> u8 {
    let known: &[(&str, u8)] = match job {
        Job::Upgrade => &[
            ("failed", 0),
            ("unreachable", 1),
            ("rolled_back", 2),
            ("skipped", 3),
            ("upgraded", SUCCESS_RANK),
            ("unchanged", SUCCESS_RANK),
        ],
        Job::Rollback => &[
            ("failed", 0),
            ("unreachable", 1),
            ("skipped", 3),
            ("rolled_back", SUCCESS_RANK),
        ],
        Job::Check => &[
            ("failed", 0),
            ("unreachable", 1),
            ("blocked", 2),
            ("refuse", 3),
            ("upgrade", SUCCESS_RANK),
            ("none", SUCCESS_RANK + 1),
        ],
    };
    known
        .iter()
        .find(|(name, _)| *name == result)
        // A result this code does not know yet: among the failures, after the known ones.
        .map_or(UNKNOWN_RANK, |(_, rank)| *rank)
}

/// Ranks from here on are successes.
const SUCCESS_RANK: u8 = 10;
/// The rank of a result this code does not know.
const UNKNOWN_RANK: u8 = 5;

/// Text that is safe to show on a terminal or in XML: CRLF becomes LF, and every other control
/// character (C0 but tab and newline, DEL, C1) and the non-characters U+FFFE/U+FFFF become a
/// visible `\u{..}`, so remote stderr can neither move the cursor, recolor the terminal, nor
/// make an XML document ill-formed.
pub(crate) fn visible(s: &str) -> String {
    let s = s.replace("\r\n", "\n");
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bad = match c {
            '\t' | '\n' => false,
            c if c.is_control() => true,
            '\u{FFFE}' | '\u{FFFF}' => true,
            _ => false,
        };
        if bad {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// `message` without a leading `step: ` (some messages name their step already).
fn strip_step<'a>(message: &'a str, step: &str) -> &'a str {
    message
        .strip_prefix(step)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(message)
}

/// One line about a host: for a failure `step: message`, else the first line of its detail.
fn one_line(r: &HostReport) -> String {
    let line = match &r.failure {
        Some(f) => {
            let message = strip_step(&f.message, &f.step);
            format!("{}: {}", f.step, message.lines().next().unwrap_or(""))
        }
        None => r
            .detail
            .as_deref()
            .and_then(|d| d.lines().next())
            .unwrap_or("")
            .to_owned(),
    };
    visible(&line)
}

/// The way [`crate::steps::StepError`] shows itself, rebuilt from its parts: the detail of a
/// host that failed in a step starts with it.
fn step_error_text(host: &str, f: &HostError) -> String {
    let mut s = format!("{host}: {}: {}", f.step, f.message);
    if let Some(cmd) = &f.command {
        match f.status {
            Some(code) => s.push_str(&format!("\n  command (exit {code}): {cmd}")),
            None => s.push_str(&format!("\n  command: {cmd}")),
        }
    }
    let stderr = f.stderr.trim_end();
    if !stderr.is_empty() {
        s.push_str(&format!(
            "\n  stderr:\n    {}",
            stderr.replace('\n', "\n    ")
        ));
    }
    s
}

/// Everything known of a host that did not succeed, after its [`one_line`]: the rest of the
/// message, the remote command, its **whole** stderr, and what the detail adds (the rollback
/// that followed). Lines are not indented; the text report and JUnit indent them.
fn failure_body(r: &HostReport) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let Some(f) = &r.failure else {
        // No parts: the detail is all there is; its first line is the one-liner.
        if let Some(d) = &r.detail {
            lines.extend(visible(d).lines().skip(1).map(str::to_owned));
        }
        return lines;
    };
    let message = visible(strip_step(&f.message, &f.step));
    lines.extend(message.lines().skip(1).map(str::to_owned));
    if let Some(cmd) = &f.command {
        lines.push(match f.status {
            Some(code) => format!("command (exit {code}):"),
            None => "command (killed, timed out or no exit status):".to_owned(),
        });
        lines.extend(visible(cmd).lines().map(|l| format!("  {l}")));
    }
    let stderr = visible(f.stderr.trim_end());
    if !stderr.is_empty() {
        lines.push(format!(
            "stderr ({} lines, in full):",
            stderr.lines().count()
        ));
        lines.extend(stderr.lines().map(|l| format!("  {l}")));
    } else if f.command.is_some() {
        lines.push("stderr: (empty)".to_owned());
    }
    // What the detail says beyond the failure itself.
    if let Some(d) = &r.detail {
        let rest = d
            .strip_prefix(&step_error_text(&r.host, f))
            .or_else(|| d.strip_prefix(&f.message))
            .map(|rest| rest.trim_start_matches('\n'));
        match rest {
            Some(rest) => lines.extend(visible(rest).lines().map(str::to_owned)),
            None => {
                lines.push("detail:".to_owned());
                lines.extend(visible(d).lines().map(|l| format!("  {l}")));
            }
        }
    }
    lines
}

/// Whether a host gets a block of detail after the table: every one that did not succeed,
/// except hosts skipped by a stop (the `stopped:` line says it once for all of them).
fn needs_detail(job: Job, r: &HostReport) -> bool {
    (!r.ok(job) && r.result != "skipped")
        // A rollback that succeeded but has more to say (a Cells host's data warning).
        || (r.result == "rolled_back" && r.detail.as_deref().is_some_and(|d| d.contains('\n')))
}

#[cfg(test)]
mod tests;
