//! `--output html`: one self-contained page, for an audit people would rather look at than
//! read (`fleetup check --output html > audit.html`). It holds the job, when and where it was
//! taken, the counts, the release(s) targeted, a matrix of the versions each inventory group
//! runs, the hosts that drift from their group's majority, the hosts that failed or could not
//! be reached with their whole story, and one row per host (for `check`: what an upgrade would
//! do).
//!
//! Self-contained: inline CSS, no script, no image, no external fetch (a Content-Security-Policy
//! says so too, so a page that someone edited cannot fetch anything either). Every value comes
//! from hosts and servers and is HTML-escaped ([`esc`]). Elements carry ids, classes and `data-*`
//! attributes for tests and scripts to select: `#summary`, `#matrix`, `#drift`, `#problems`,
//! `#hosts`; `td.host.drift[data-host]`; `td.count[data-group][data-version]`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;

use super::{Audit, failure_body, needs_detail, one_line, result_rank, visible};
use crate::events::{HostReport, Job, Summary};

/// The column of hosts whose version is not known (unreachable, failed before the probe).
const UNKNOWN: &str = "unknown";

/// Groups whose hosts are not judged for drift: `all` is the matrix's total row, and
/// `ungrouped` is where the hosts no one grouped end up.
const NOT_JUDGED: &[&str] = &[crate::inventory::ALL, crate::inventory::UNGROUPED];

/// What one group runs: hosts per version, and the version most of them run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GroupVersions {
    pub name: String,
    /// Hosts per version ([`UNKNOWN`] for the hosts whose version is not known).
    pub counts: BTreeMap<String, usize>,
    /// The version strictly more of its hosts run than any other (hosts of unknown version
    /// aside); `None` when the group is split (a tie) or no version is known.
    pub majority: Option<String>,
    /// Whether hosts are judged against the majority (not for `all` and `ungrouped`).
    pub judged: bool,
}

impl GroupVersions {
    /// Whether the most common known versions tie (two or more of them).
    pub fn split(&self) -> bool {
        self.judged && self.majority.is_none() && self.known().count() > 1
    }

    fn known(&self) -> impl Iterator<Item = (&String, &usize)> {
        self.counts.iter().filter(|(v, _)| *v != UNKNOWN)
    }
}

/// A host that does not run its group's majority version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Drift {
    pub host: String,
    pub group: String,
    pub version: String,
    pub majority: String,
}

/// The version a host runs once the job is done, as far as the report knows.
pub(super) fn version_now(job: Job, r: &HostReport) -> Option<&str> {
    let v = match (job, r.result) {
        (Job::Check, _) => r.from.as_deref(),
        (Job::Upgrade, "upgraded") => r.to.as_deref(),
        (Job::Upgrade, "unchanged" | "rolled_back" | "skipped") => r.from.as_deref(),
        // A host that failed before anything was swapped still runs what it ran.
        (Job::Upgrade, "failed") => r
            .failure
            .as_ref()
            .filter(|f| {
                matches!(
                    f.step.as_str(),
                    "settings" | "connect" | "probe" | "decide" | "download" | "lock" | "stage"
                )
            })
            .and(r.from.as_deref()),
        (Job::Rollback, "rolled_back") => r.to.as_deref(),
        _ => None,
    };
    v.filter(|v| !v.is_empty() && *v != UNKNOWN)
}

/// The versions of each group (in the order given, then a total `all` row), from the hosts'
/// reports. A group's hosts not in `reports` are left out.
pub(super) fn group_versions(
    job: Job,
    reports: &[HostReport],
    groups: &[(String, Vec<String>)],
) -> Vec<GroupVersions> {
    let version: BTreeMap<&str, &str> = reports
        .iter()
        .map(|r| (r.host.as_str(), version_now(job, r).unwrap_or(UNKNOWN)))
        .collect();
    let all: Vec<String> = reports.iter().map(|r| r.host.clone()).collect();
    let rows = groups
        .iter()
        .filter(|(name, _)| name != crate::inventory::ALL)
        .map(|(name, hosts)| (name.as_str(), hosts.as_slice()))
        .chain([(crate::inventory::ALL, all.as_slice())]);
    rows.filter_map(|(name, hosts)| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for h in hosts {
            if let Some(v) = version.get(h.as_str()) {
                *counts.entry((*v).to_owned()).or_default() += 1;
            }
        }
        if counts.is_empty() {
            return None;
        }
        let judged = !NOT_JUDGED.contains(&name);
        let mut g = GroupVersions {
            name: name.to_owned(),
            counts,
            majority: None,
            judged,
        };
        let mut known: Vec<(&String, &usize)> = g.known().collect();
        known.sort_by(|a, b| b.1.cmp(a.1));
        g.majority = match known.as_slice() {
            [(v, _)] => Some((*v).clone()),
            [(v, n), (_, m), ..] if n > m => Some((*v).clone()),
            _ => None,
        };
        Some(g)
    })
    .collect()
}

/// Every host that runs another version than its group's majority, once per such group, in
/// the order of the groups, then of the reports.
pub(super) fn drifts(
    job: Job,
    reports: &[HostReport],
    groups: &[(String, Vec<String>)],
    versions: &[GroupVersions],
) -> Vec<Drift> {
    let mut out = Vec::new();
    for g in versions.iter().filter(|g| g.judged) {
        let Some(majority) = &g.majority else {
            continue;
        };
        let Some((_, hosts)) = groups.iter().find(|(name, _)| *name == g.name) else {
            continue;
        };
        let hosts: HashSet<&str> = hosts.iter().map(String::as_str).collect();
        for r in reports.iter().filter(|r| hosts.contains(r.host.as_str())) {
            if let Some(v) = version_now(job, r)
                && v != majority
            {
                out.push(Drift {
                    host: r.host.clone(),
                    group: g.name.clone(),
                    version: v.to_owned(),
                    majority: majority.clone(),
                });
            }
        }
    }
    out
}

/// Newest first by semver precedence; what is not semver after, by name; [`UNKNOWN`] last.
pub(super) fn sort_versions(versions: &mut [String]) {
    let key = |v: &String| {
        let parsed = semver::Version::parse(v.trim_start_matches('v')).ok();
        (v == UNKNOWN, parsed.is_none(), parsed, v.clone())
    };
    versions.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0)
            .then(ka.1.cmp(&kb.1))
            .then_with(|| match (&ka.2, &kb.2) {
                (Some(x), Some(y)) => y.cmp_precedence(x).then_with(|| y.cmp(x)),
                _ => ka.3.cmp(&kb.3),
            })
    });
}

/// Text as HTML character data or a quoted attribute value: `& < > " '` as entities, and
/// control characters shown as `\u{..}` ([`visible`]).
pub(super) fn esc(s: &str) -> String {
    let s = visible(s);
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How a result is named in the counts.
fn label(job: Job, result: &str) -> String {
    let known = match (job, result) {
        (Job::Check, "upgrade") => "to upgrade",
        (Job::Check, "none") => "up to date",
        (Job::Check, "refuse") => "refused",
        (_, "rolled_back") => "rolled back",
        _ => "",
    };
    match known {
        "" => result.replace('_', " "),
        k => k.to_owned(),
    }
}

/// `ok`, `bad` (failed, unreachable, an unknown result) or `warn` (the rest): the CSS class
/// of a result.
fn tone(job: Job, result: &str) -> &'static str {
    let rank = result_rank(job, result);
    if rank >= super::SUCCESS_RANK {
        "ok"
    } else if matches!(result, "failed" | "unreachable") || rank == super::UNKNOWN_RANK {
        "bad"
    } else {
        "warn"
    }
}

const STYLE: &str = r#"
:root { color-scheme: light; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --drift-bg: #fff1c2;
  --line: #d0d7de; --muted: #57606a; --head: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
  margin: 1.5rem auto; max-width: 1200px; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; border-bottom: 1px solid var(--line); }
.taken, .muted { color: var(--muted); }
code, pre, .version { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { white-space: pre-wrap; word-break: break-word; margin: .25rem 0 0; font-size: 12px;
  background: var(--head); padding: .5rem; border-radius: 4px; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
thead th { background: var(--head); }
tr { break-inside: avoid; }
td.count, th.version { text-align: right; }
td.count.zero { color: #afb8c1; }
td.count.majority { font-weight: 600; }
.drift { background: var(--drift-bg); }
td.count.drift { font-weight: 600; color: var(--warn); }
tr.split th { color: var(--warn); }
.badge { display: inline-block; font-size: 11px; font-weight: 600; padding: 0 .35rem;
  border: 1px solid currentColor; border-radius: 3px; margin-left: .35rem; }
.badge.drift { color: var(--warn); }
li.ok, p.ok, td.result.ok { color: var(--ok); }
li.bad, td.result.bad { color: var(--bad); }
li.warn, p.warn, td.result.warn, span.warn { color: var(--warn); }
td.result { font-weight: 600; }
td.host, td.result, td.channel, td.version, td.time { white-space: nowrap; }
#summary ul { list-style: none; padding: 0; margin: .5rem 0; display: flex; flex-wrap: wrap; gap: .5rem; }
#summary li { border: 1px solid var(--line); border-radius: 4px; padding: .35rem .75rem; }
#summary .count { font-size: 1.35rem; font-weight: 600; display: block; }
tfoot th, tfoot td { border-top: 2px solid #8c959f; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  .drift, td.count.drift, .badge { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  h2 { break-after: avoid; }
  pre { background: none; border: 1px solid var(--line); }
}
"#;

pub(super) fn write(
    out: &mut impl Write,
    reports: &[HostReport],
    summary: &Summary,
    audit: &Audit,
) -> std::io::Result<()> {
    let job = summary.job;
    let versions = group_versions(job, reports, &audit.groups);
    let drifts = drifts(job, reports, &audit.groups, &versions);
    let drifted: BTreeSet<&str> = drifts.iter().map(|d| d.host.as_str()).collect();
    let mut host_groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (g, hosts) in &audit.groups {
        for h in hosts {
            host_groups.entry(h.as_str()).or_default().push(g.as_str());
        }
    }
    let title = format!(
        "fleetup {} — {} on {}",
        job.name(),
        audit.taken,
        audit.controller
    );

    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, r#"<html lang="en">"#)?;
    writeln!(out, "<head>")?;
    writeln!(out, r#"<meta charset="utf-8">"#)?;
    writeln!(
        out,
        r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">"#
    )?;
    writeln!(
        out,
        r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
    )?;
    writeln!(out, r#"<meta name="generator" content="fleetup">"#)?;
    writeln!(out, "<title>{}</title>", esc(&title))?;
    writeln!(out, "<style>{STYLE}</style>")?;
    writeln!(out, "</head>")?;
    writeln!(
        out,
        r#"<body data-job="{}" data-exit-code="{}">"#,
        job.name(),
        summary.exit_code
    )?;
    writeln!(out, "<header>")?;
    writeln!(out, "<h1>fleetup {}</h1>", job.name())?;
    writeln!(
        out,
        r#"<p class="taken">taken <time id="taken" datetime="{t}">{t}</time> on <span id="controller">{c}</span>, in {s:.1} s{changed}</p>"#,
        t = esc(&audit.taken),
        c = esc(&audit.controller),
        s = summary.seconds,
        changed = if job == Job::Check {
            " — nothing was changed"
        } else {
            ""
        }
    )?;
    writeln!(out, "</header>")?;

    write_summary(out, job, summary, &drifted, reports)?;
    write_releases(out, summary)?;
    write_matrix(out, &versions)?;
    write_drift(out, &drifts, &versions)?;
    write_problems(out, job, reports)?;
    write_hosts(out, job, reports, &drifted, &host_groups)?;
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

fn write_summary(
    out: &mut impl Write,
    job: Job,
    summary: &Summary,
    drifted: &BTreeSet<&str>,
    reports: &[HostReport],
) -> std::io::Result<()> {
    writeln!(out, r#"<section id="summary">"#)?;
    writeln!(out, "<h2>Summary</h2>")?;
    writeln!(out, "<ul>")?;
    let item = |out: &mut dyn Write, key: &str, n: usize, text: &str, class: &str| {
        writeln!(
            out,
            r#"<li class="{class}" data-count-of="{}" data-count="{n}"><span class="count">{n}</span> {}</li>"#,
            esc(key),
            esc(text)
        )
    };
    item(out, "hosts", summary.hosts, "hosts", "")?;
    let mut keys: Vec<&String> = summary.counts.keys().collect();
    // What went wrong first, as in the table.
    keys.sort_by_key(|k| result_rank(job, k));
    for k in keys {
        let n = summary.counts[k];
        item(out, k, n, &label(job, k), tone(job, k))?;
    }
    let class = if drifted.is_empty() { "" } else { "warn" };
    item(out, "drift", drifted.len(), "drifted", class)?;
    writeln!(out, "</ul>")?;
    writeln!(
        out,
        r#"<p>exit code <strong id="exit-code">{}</strong>{}</p>"#,
        summary.exit_code,
        if reports.is_empty() {
            " — no host was selected"
        } else {
            ""
        }
    )?;
    if let Some(why) = &summary.stopped {
        writeln!(
            out,
            r#"<p id="stopped" class="warn">stopped: {}</p>"#,
            esc(why)
        )?;
    }
    if let Some(file) = &summary.retry_file {
        writeln!(
            out,
            r#"<p id="retry">retry the failures with: <code>--limit @{}</code></p>"#,
            esc(file)
        )?;
    }
    writeln!(out, "</section>")
}

fn write_releases(out: &mut impl Write, summary: &Summary) -> std::io::Result<()> {
    writeln!(out, r#"<section id="releases">"#)?;
    let plural = if summary.releases.len() > 1 { "s" } else { "" };
    writeln!(out, "<h2>Release{plural} targeted</h2>")?;
    if summary.releases.is_empty() {
        writeln!(
            out,
            r#"<p class="muted">none (no channel was resolved)</p>"#
        )?;
    } else {
        writeln!(out, "<ul>")?;
        for r in &summary.releases {
            writeln!(
                out,
                r#"<li data-channel="{}" data-version="{}"><strong>{} {}</strong> — channel {}, {}{}</li>"#,
                esc(&r.channel),
                esc(&r.version),
                esc(&r.product),
                esc(&r.version),
                esc(&r.channel),
                if r.expires.is_empty() {
                    "binaries checked against "
                } else {
                    "index signed by "
                },
                esc(&r.key_id),
            )?;
        }
        writeln!(out, "</ul>")?;
    }
    writeln!(out, "</section>")
}

fn write_matrix(out: &mut impl Write, versions: &[GroupVersions]) -> std::io::Result<()> {
    writeln!(out, r#"<section id="versions">"#)?;
    writeln!(out, "<h2>Versions per group</h2>")?;
    let mut columns: Vec<String> = versions
        .iter()
        .flat_map(|g| g.counts.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    sort_versions(&mut columns);
    writeln!(out, r#"<table id="matrix">"#)?;
    write!(out, r#"<thead><tr><th scope="col">group</th>"#)?;
    for v in &columns {
        write!(
            out,
            r#"<th scope="col" class="version" data-version="{0}">{0}</th>"#,
            esc(v)
        )?;
    }
    writeln!(out, r#"<th scope="col">majority</th></tr></thead>"#)?;
    let (total, rows): (Vec<&GroupVersions>, Vec<&GroupVersions>) = versions
        .iter()
        .partition(|g| g.name == crate::inventory::ALL);
    let row = |out: &mut dyn Write, g: &GroupVersions| -> std::io::Result<()> {
        let class = if g.split() { r#" class="split""# } else { "" };
        write!(
            out,
            r#"<tr data-group="{0}"{class}><th scope="row">{0}</th>"#,
            esc(&g.name)
        )?;
        for v in &columns {
            let n = g.counts.get(v).copied().unwrap_or(0);
            let mut classes = vec!["count"];
            if n == 0 {
                classes.push("zero");
            } else if g.majority.as_ref() == Some(v) {
                classes.push("majority");
            } else if g.judged && g.majority.is_some() && v != UNKNOWN {
                classes.push("drift");
            }
            write!(
                out,
                r#"<td class="{}" data-group="{}" data-version="{}" data-count="{n}">{n}</td>"#,
                classes.join(" "),
                esc(&g.name),
                esc(v)
            )?;
        }
        let majority = match &g.majority {
            Some(v) => format!(r#"<span class="version">{}</span>"#, esc(v)),
            None if g.split() => r#"<span class="warn">split: no majority</span>"#.to_owned(),
            None => "—".to_owned(),
        };
        writeln!(out, r#"<td class="majority-of">{majority}</td></tr>"#)
    };
    writeln!(out, "<tbody>")?;
    for g in rows {
        row(out, g)?;
    }
    writeln!(out, "</tbody>")?;
    writeln!(out, "<tfoot>")?;
    for g in total {
        row(out, g)?;
    }
    writeln!(out, "</tfoot>")?;
    writeln!(out, "</table>")?;
    writeln!(
        out,
        r#"<p class="muted">Hosts per version in each inventory group (a host counts in every group it belongs to; <code>all</code> counts each host once). A group's majority is the version more of its hosts run than any other; <code>unknown</code>: hosts whose version is not known (unreachable, or failed before the probe).</p>"#
    )?;
    writeln!(out, "</section>")
}

fn write_drift(
    out: &mut impl Write,
    drifts: &[Drift],
    versions: &[GroupVersions],
) -> std::io::Result<()> {
    writeln!(out, r#"<section id="drift">"#)?;
    writeln!(out, "<h2>Drift</h2>")?;
    let split: Vec<&GroupVersions> = versions.iter().filter(|g| g.split()).collect();
    if drifts.is_empty() && split.is_empty() {
        writeln!(
            out,
            r#"<p class="ok" id="no-drift">Every host runs its group's majority version.</p>"#
        )?;
    }
    if !drifts.is_empty() {
        writeln!(out, r#"<table id="drifted">"#)?;
        writeln!(
            out,
            r#"<thead><tr><th scope="col">host</th><th scope="col">group</th><th scope="col">runs</th><th scope="col">the group's majority runs</th></tr></thead>"#
        )?;
        writeln!(out, "<tbody>")?;
        for d in drifts {
            writeln!(
                out,
                r#"<tr class="drift" data-host="{h}" data-group="{g}"><td class="host drift" data-host="{h}">{h}</td><td>{g}</td><td class="version">{v}</td><td class="version">{m}</td></tr>"#,
                h = esc(&d.host),
                g = esc(&d.group),
                v = esc(&d.version),
                m = esc(&d.majority),
            )?;
        }
        writeln!(out, "</tbody></table>")?;
    }
    for g in split {
        let parts: Vec<String> = g
            .known()
            .map(|(v, n)| format!(r#"{n} on <span class="version">{}</span>"#, esc(v)))
            .collect();
        writeln!(
            out,
            r#"<p class="warn split" data-group="{}">{} is split, no version has a majority: {}</p>"#,
            esc(&g.name),
            esc(&g.name),
            parts.join(", ")
        )?;
    }
    writeln!(out, "</section>")
}

fn write_problems(out: &mut impl Write, job: Job, reports: &[HostReport]) -> std::io::Result<()> {
    let mut sorted: Vec<&HostReport> = reports.iter().filter(|r| needs_detail(job, r)).collect();
    sorted.sort_by_key(|r| result_rank(job, r.result));
    writeln!(out, r#"<section id="problems">"#)?;
    writeln!(out, "<h2>Unreachable and failed hosts</h2>")?;
    if sorted.is_empty() {
        writeln!(out, r#"<p class="ok">None.</p>"#)?;
        return writeln!(out, "</section>");
    }
    writeln!(out, "<table>")?;
    writeln!(
        out,
        r#"<thead><tr><th scope="col">host</th><th scope="col">result</th><th scope="col">what happened</th></tr></thead>"#
    )?;
    writeln!(out, "<tbody>")?;
    for r in sorted {
        let body = failure_body(r);
        let more = if body.is_empty() {
            String::new()
        } else {
            format!("<pre>{}</pre>", esc(&body.join("\n")))
        };
        writeln!(
            out,
            r#"<tr class="problem {t}" data-host="{h}" data-result="{res}"><td class="host" data-host="{h}">{h}</td><td class="result {t}">{res}</td><td class="message">{line}{more}</td></tr>"#,
            t = tone(job, r.result),
            h = esc(&r.host),
            res = esc(r.result),
            line = esc(&one_line(r)),
        )?;
    }
    writeln!(out, "</tbody></table>")?;
    writeln!(out, "</section>")
}

fn write_hosts(
    out: &mut impl Write,
    job: Job,
    reports: &[HostReport],
    drifted: &BTreeSet<&str>,
    host_groups: &BTreeMap<&str, Vec<&str>>,
) -> std::io::Result<()> {
    let mut sorted: Vec<&HostReport> = reports.iter().collect();
    sorted.sort_by_key(|r| result_rank(job, r.result));
    writeln!(out, r#"<section id="per-host">"#)?;
    let (heading, result, from, to, why) = match job {
        Job::Check => (
            "What an upgrade would do",
            "action",
            "current",
            "target",
            "reason",
        ),
        _ => ("Hosts", "result", "from", "to", "detail"),
    };
    writeln!(out, "<h2>{heading}</h2>")?;
    writeln!(out, r#"<table id="hosts">"#)?;
    write!(
        out,
        r#"<thead><tr><th scope="col">host</th><th scope="col">groups</th><th scope="col">channel</th><th scope="col">{result}</th><th scope="col">{from}</th><th scope="col">{to}</th>"#
    )?;
    if job != Job::Check {
        write!(out, r#"<th scope="col">time</th>"#)?;
    }
    writeln!(out, r#"<th scope="col">{why}</th></tr></thead>"#)?;
    writeln!(out, "<tbody>")?;
    let version = |v: &Option<String>| match v.as_deref() {
        Some(v) => esc(v),
        None => "—".to_owned(),
    };
    for r in sorted {
        let drift = drifted.contains(r.host.as_str());
        let (class, badge) = if drift {
            (" drift", r#"<span class="badge drift">drift</span>"#)
        } else {
            ("", "")
        };
        let groups: Vec<String> = host_groups
            .get(r.host.as_str())
            .into_iter()
            .flatten()
            .filter(|g| **g != crate::inventory::ALL)
            .map(|g| esc(g))
            .collect();
        write!(
            out,
            r#"<tr data-host="{h}" data-result="{res}" class="{t}{class}"><td class="host{class}" data-host="{h}">{h}{badge}</td><td class="groups">{g}</td><td class="channel">{ch}</td><td class="result {t}">{res}</td><td class="version from">{f}</td><td class="version to">{to}</td>"#,
            h = esc(&r.host),
            res = esc(r.result),
            t = tone(job, r.result),
            g = groups.join(", "),
            ch = r.channel.as_deref().map(esc).unwrap_or_default(),
            f = version(&r.from),
            to = version(&r.to),
        )?;
        if job != Job::Check {
            write!(out, r#"<td class="time">{:.1} s</td>"#, r.seconds)?;
        }
        writeln!(out, r#"<td class="reason">{}</td></tr>"#, esc(&one_line(r)))?;
    }
    writeln!(out, "</tbody></table>")?;
    writeln!(out, "</section>")
}
