//! Unit tests of the report formats, on hand-made host reports (the integration tests in
//! tests/report_output.rs run the binary).

use std::collections::BTreeMap;
use std::io::Write;

use super::*;
use crate::events::{HostError, ReleaseInfo, StepTiming};

mod html;
mod json;
mod junit;
mod text;

/// Forty lines of stderr, with what a terminal or an XML parser would choke on.
fn long_stderr() -> String {
    let mut s: String = (1..=40).map(|i| format!("health line {i}\n")).collect();
    s.push_str("last: <b>&\"'</b> ]]> \u{1b}[31mred\u{1b}[0m nul\0 bell\u{7}\n");
    s
}

fn failed(host: &str) -> HostReport {
    let mut r = HostReport::new(host, "failed").with_failure(HostError {
        step: "probe".into(),
        message: "fleetup_binary /opt/app is a directory".into(),
        command: Some("sh -c 'probe'".into()),
        status: Some(0),
        stderr: String::new(),
    });
    r.seconds = 0.4;
    r
}

fn rolled_back(host: &str) -> HostReport {
    let cause = HostError {
        step: "health".into(),
        message: "still failing after 2 attempt(s)".into(),
        command: Some("sh -c 'curl -fsS http://localhost/'".into()),
        status: Some(1),
        stderr: long_stderr(),
    };
    let detail = format!(
        "{}\nrolled back to 1.0.0 (/opt/app.fleetup-bak-1.0.0)",
        super::step_error_text(host, &cause)
    );
    let mut r = HostReport::new(host, "rolled_back").with_detail(detail);
    r.failure = Some(cause);
    r.from = Some("1.0.0".into());
    r.to = Some("1.1.0".into());
    r.seconds = 41.25;
    r
}

fn upgraded(host: &str) -> HostReport {
    let mut r = HostReport::new(host, "upgraded");
    r.from = Some("1.0.0".into());
    r.to = Some("1.1.0".into());
    r.seconds = 9.1;
    r.steps = vec![StepTiming {
        step: "stage".into(),
        seconds: 1.5,
    }];
    r.bytes_sent = 314;
    r.channel = Some("stable".into());
    r.batch = Some(2);
    r
}

fn release() -> ReleaseInfo {
    ReleaseInfo {
        product: "demoapp".into(),
        version: "1.1.0".into(),
        channel: "stable".into(),
        key_id: "FCA91662B2E1BF44".into(),
        expires: "2036-11-26T00:00:00Z".into(),
    }
}

fn summary(job: Job, reports: &[HostReport]) -> Summary {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in reports {
        *counts.entry(r.result.to_owned()).or_default() += 1;
    }
    let ok = reports.iter().all(|r| r.ok(job));
    Summary {
        job,
        hosts: reports.len(),
        counts,
        exit_code: if ok { 0 } else { 1 },
        stopped: None,
        retry_file: (!ok).then(|| "prod.yml.retry".to_owned()),
        releases: vec![release()],
        seconds: 42.0,
    }
}

fn render(output: OutputFormat, color: bool, reports: &[HostReport], s: &Summary) -> String {
    let mut out = Vec::new();
    write_final(
        &mut out,
        RenderOptions { output, color },
        reports,
        s,
        &Audit::default(),
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

fn upgrade_run() -> Vec<HostReport> {
    vec![
        upgraded("web01"),
        rolled_back("web12"),
        HostReport::new("web20", "unchanged"),
        failed("web03"),
        upgraded("web02"),
        HostReport::new("web09", "unreachable").with_failure(HostError {
            step: "connect".into(),
            message: "connect: timeout after 10 s".into(),
            command: None,
            status: None,
            stderr: String::new(),
        }),
    ]
}

/// The host column of each table row, in order.
fn table_hosts(report: &str) -> Vec<String> {
    report
        .lines()
        .skip_while(|l| !l.starts_with("HOST"))
        .skip(1)
        .take_while(|l| !l.contains("(exit "))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

/// A reader that left after the first bytes.
struct Closed;

impl Write for Closed {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_reader_that_left_is_not_an_error_so_the_exit_code_stands() {
    let reports = upgrade_run();
    let s = summary(Job::Upgrade, &reports);
    for output in [
        OutputFormat::Text,
        OutputFormat::Json,
        OutputFormat::Junit,
        OutputFormat::Html,
    ] {
        let opts = RenderOptions {
            output,
            color: false,
        };
        assert!(write_final(&mut Closed, opts, &reports, &s, &Audit::default()).is_ok());
    }
}
