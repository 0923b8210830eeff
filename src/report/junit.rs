//! `--output junit`: one `<testsuite>` per run, one `<testcase>` per host, for the test-report
//! views of CI (GitLab `artifacts:reports:junit`, GitHub actions that read JUnit, Jenkins).
//! A host that did not succeed is a `<failure>` whose text is its whole story (step, command,
//! full stderr); a host skipped by a stop is `<skipped>`. Written by hand: the escaping below
//! keeps the document well-formed XML 1.0 whatever the hosts printed.

use std::io::Write;

use super::{failure_body, one_line, visible};
use crate::events::{HostReport, Summary};

pub(super) fn write(
    out: &mut impl Write,
    reports: &[HostReport],
    summary: &Summary,
) -> std::io::Result<()> {
    let job = summary.job;
    let failures = reports
        .iter()
        .filter(|r| !r.ok(job) && r.result != "skipped")
        .count();
    let skipped = reports.iter().filter(|r| r.result == "skipped").count();
    let suite_attrs = format!(
        "tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\"",
        reports.len(),
        summary.seconds
    );
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(out, r#"<testsuites name="fleetup" {suite_attrs}>"#)?;
    writeln!(
        out,
        r#"  <testsuite name="fleetup {}" {suite_attrs}>"#,
        job.name()
    )?;
    writeln!(out, "    <properties>")?;
    let mut property = |name: &str, value: &str| {
        writeln!(
            out,
            r#"      <property name="{}" value="{}"/>"#,
            attr(name),
            attr(value)
        )
    };
    property("exit_code", &summary.exit_code.to_string())?;
    for rel in &summary.releases {
        property("release", &rel.to_string())?;
    }
    if let Some(why) = &summary.stopped {
        property("stopped", why)?;
    }
    if let Some(file) = &summary.retry_file {
        property("retry_file", file)?;
    }
    writeln!(out, "    </properties>")?;
    for r in reports {
        let open = format!(
            r#"    <testcase classname="fleetup.{}" name="{}" time="{:.3}""#,
            job.name(),
            attr(&r.host),
            r.seconds
        );
        let line = one_line(r);
        if r.result == "skipped" {
            writeln!(out, "{open}>")?;
            writeln!(out, r#"      <skipped message="{}"/>"#, attr(&line))?;
            writeln!(out, "    </testcase>")?;
        } else if !r.ok(job) {
            let mut body = vec![match line.as_str() {
                "" => format!("{} {}", r.host, r.result),
                _ => format!("{} {} — {line}", r.host, r.result),
            }];
            body.extend(failure_body(r).into_iter().map(|l| format!("  {l}")));
            writeln!(out, "{open}>")?;
            writeln!(
                out,
                r#"      <failure message="{}" type="{}">{}</failure>"#,
                attr(&line),
                attr(r.result),
                text(&body.join("\n"))
            )?;
            writeln!(out, "    </testcase>")?;
        } else if let Some(d) = r.detail.as_deref().filter(|d| !d.is_empty()) {
            // What a passing host says (for `check`, what the upgrade would do).
            writeln!(out, "{open}>")?;
            writeln!(out, "      <system-out>{}</system-out>", text(d))?;
            writeln!(out, "    </testcase>")?;
        } else {
            writeln!(out, "{open}/>")?;
        }
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

/// Character data: `& < > " '` as entities (`>` too, so `]]>` cannot appear); CRLF as LF; and
/// characters XML 1.0 does not allow (control characters but tab and newline, U+FFFE, U+FFFF),
/// with a lone CR, DEL and C1 controls, shown as a visible `\u{..}` ([`visible`]).
pub(super) fn text(s: &str) -> String {
    escape(s, false)
}

/// An attribute value: as [`text`], and newline and tab as character references, which
/// attribute-value normalization would otherwise turn into spaces.
pub(super) fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let s = visible(s);
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}
