//! The report for people: the release, a table with what went wrong first, the count per
//! result with the exit code, why the run stopped and how to retry, then every host that did
//! not succeed in full (step, remote command, whole stderr). Colors only when asked for.

use std::io::Write;

use super::{
    SUCCESS_RANK, UNKNOWN_RANK, failure_body, needs_detail, one_line, result_rank, visible,
};
use crate::events::{HostReport, Job, Summary};

const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// ANSI SGR codes, or nothing.
#[derive(Debug, Clone, Copy)]
struct Paint {
    on: bool,
}

impl Paint {
    fn paint(self, style: &str, text: &str) -> String {
        if self.on && !text.is_empty() {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }
}

/// Green for success, red for a failure or an unreachable host, yellow for the rest (rolled
/// back, skipped, blocked, refused).
fn result_style(job: Job, result: &str) -> &'static str {
    let rank = result_rank(job, result);
    if rank >= SUCCESS_RANK {
        GREEN
    } else if matches!(result, "failed" | "unreachable") || rank == UNKNOWN_RANK {
        RED
    } else {
        YELLOW
    }
}

pub(super) fn write(
    out: &mut impl Write,
    color: bool,
    reports: &[HostReport],
    summary: &Summary,
) -> std::io::Result<()> {
    let job = summary.job;
    let p = Paint { on: color };
    for rel in &summary.releases {
        let line = format!("release  {rel}");
        writeln!(out, "{}", visible(&line))?;
    }
    let mut sorted: Vec<&HostReport> = reports.iter().collect();
    // Stable: hosts of one class keep the order they ran in.
    sorted.sort_by_key(|r| result_rank(job, r.result));
    for line in table(p, job, &sorted) {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{}", counts_line(p, summary))?;
    if let Some(why) = &summary.stopped {
        writeln!(out, "stopped: {}", visible(why))?;
    }
    if let Some(file) = &summary.retry_file {
        writeln!(out, "retry the failures with: --limit @{}", visible(file))?;
    }
    for r in sorted.iter().filter(|r| needs_detail(job, r)) {
        let head = format!(
            "{} {}",
            p.paint(BOLD, &visible(&r.host)),
            p.paint(result_style(job, r.result), r.result)
        );
        writeln!(out)?;
        match one_line(r) {
            line if line.is_empty() => writeln!(out, "{head}")?,
            line => writeln!(out, "{head} — {line}")?,
        }
        for line in failure_body(r) {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(())
}

/// A cell of the table and how it is aligned and colored.
struct Cell {
    text: String,
    right: bool,
    style: Option<&'static str>,
}

fn cell(text: String) -> Cell {
    Cell {
        text,
        right: false,
        style: None,
    }
}

/// The table, column widths taken from the data; the last column is not padded.
fn table(p: Paint, job: Job, reports: &[&HostReport]) -> Vec<String> {
    let head: &[&str] = match job {
        Job::Check => &["HOST", "CURRENT", "TARGET", "ACTION", "WHY"],
        _ => &["HOST", "FROM", "TO", "RESULT", "TIME", "DETAIL"],
    };
    let version = |v: &Option<String>| visible(v.as_deref().unwrap_or("—"));
    let rows: Vec<Vec<Cell>> = reports
        .iter()
        .map(|r| {
            let mut row = vec![
                cell(visible(&r.host)),
                cell(version(&r.from)),
                cell(version(&r.to)),
                Cell {
                    style: Some(result_style(job, r.result)),
                    ..cell(r.result.to_owned())
                },
            ];
            if job != Job::Check {
                row.push(Cell {
                    right: true,
                    ..cell(format!("{:.1} s", r.seconds))
                });
            }
            // The DETAIL (or WHY) column: one line; the whole story comes after the table.
            row.push(cell(one_line(r)));
            row
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .map(|row| row[i].text.chars().count())
            .chain([head[i].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..head.len()).map(width).collect();
    let last = head.len() - 1;
    let mut lines = Vec::with_capacity(rows.len() + 1);
    let header: Vec<Cell> = head
        .iter()
        .enumerate()
        .map(|(i, h)| Cell {
            // TIME is right-aligned like its values.
            right: job != Job::Check && i == 4,
            ..cell((*h).to_owned())
        })
        .collect();
    lines.push(p.paint(BOLD, &join_row(Paint { on: false }, &header, &widths, last)));
    for row in &rows {
        lines.push(join_row(p, row, &widths, last));
    }
    lines
}

fn join_row(p: Paint, row: &[Cell], widths: &[usize], last: usize) -> String {
    let mut line = String::new();
    for (i, c) in row.iter().enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        let pad = if i == last {
            0
        } else {
            widths[i].saturating_sub(c.text.chars().count())
        };
        let text = match c.style {
            Some(style) => p.paint(style, &c.text),
            None => c.text.clone(),
        };
        if c.right {
            line.push_str(&" ".repeat(pad));
            line.push_str(&text);
        } else {
            line.push_str(&text);
            line.push_str(&" ".repeat(pad));
        }
    }
    line.trim_end().to_owned()
}

/// `78 upgraded · 1 unchanged · 1 rolled back · 1 failed · 0 unreachable · 0 skipped   (exit 1)`,
/// or for `check` `4 hosts: 1 to upgrade, 1 up to date, 1 blocked — nothing was changed`.
fn counts_line(p: Paint, summary: &Summary) -> String {
    let job = summary.job;
    let fixed: &[(&str, &str)] = match job {
        Job::Upgrade => &[
            ("upgraded", "upgraded"),
            ("unchanged", "unchanged"),
            ("rolled_back", "rolled back"),
            ("failed", "failed"),
            ("unreachable", "unreachable"),
            ("skipped", "skipped"),
        ],
        Job::Rollback => &[
            ("rolled_back", "rolled back"),
            ("failed", "failed"),
            ("unreachable", "unreachable"),
            ("skipped", "skipped"),
        ],
        Job::Check => &[
            ("upgrade", "to upgrade"),
            ("none", "up to date"),
            ("refuse", "refused"),
            ("blocked", "blocked"),
            ("unreachable", "unreachable"),
            ("failed", "failed"),
        ],
    };
    let count = |key: &str| summary.counts.get(key).copied().unwrap_or(0);
    let part = |key: &str, label: &str| {
        let n = count(key);
        let text = format!("{n} {label}");
        if n > 0 {
            p.paint(result_style(job, key), &text)
        } else {
            text
        }
    };
    let mut parts: Vec<String> = fixed
        .iter()
        // `check` names the unusual results only when there are some.
        .filter(|(key, _)| {
            job != Job::Check || count(key) > 0 || matches!(*key, "upgrade" | "none")
        })
        .map(|(key, label)| part(key, label))
        .collect();
    for key in summary.counts.keys() {
        if !fixed.iter().any(|(k, _)| k == key) {
            parts.push(part(key, &visible(&key.replace('_', " "))));
        }
    }
    let exit = p.paint(BOLD, &format!("(exit {})", summary.exit_code));
    match job {
        Job::Check => format!(
            "{} hosts: {} — nothing was changed   {exit}",
            summary.hosts,
            parts.join(", ")
        ),
        _ => format!("{}   {exit}", parts.join(" · ")),
    }
}
