//! The final report as an operator and a CI job read it, from the real binary on the quick
//! start's local fleet with one host that fails and one that rolls back: the text table
//! (failures first, full stderr, colors only when asked), JUnit XML and JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::fleet::{field, install, json};
use crate::support::{describe, fleetup, repo_path, run};

/// How many lines the rolling-back host's health check prints to stderr: more than any tail.
const HEALTH_LINES: usize = 30;

/// The quick start's three hosts in a scratch directory: `web1` upgrades, `web2`'s health
/// check fails (so it rolls back) with [`HEALTH_LINES`] lines of stderr, and `db1`'s binary
/// path is a directory (so it fails at the probe).
struct QuickStart {
    scratch: tempfile::TempDir,
}

impl QuickStart {
    fn new() -> QuickStart {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        std::os::unix::fs::symlink(repo_path("examples"), dir.join("examples")).unwrap();
        for h in ["web1", "web2"] {
            install(&Self::binary(dir, h), "1.0.0");
        }
        std::fs::create_dir_all(Self::binary(dir, "db1")).unwrap();
        let health = format!(
            "i=1; while [ $i -le {HEALTH_LINES} ]; do echo \"health: line $i: connection refused on :8080\" >&2; i=$((i + 1)); done; exit 7"
        );
        let extra = serde_json::json!({"all": {"hosts": {"web2": {
            "fleetup_health_command": health,
            "fleetup_health_timeout": 1,
        }}}});
        // JSON is YAML: the extra inventory gives web2 its failing health check.
        std::fs::write(dir.join("extra.yml"), extra.to_string()).unwrap();
        QuickStart { scratch }
    }

    fn binary(dir: &Path, host: &str) -> PathBuf {
        dir.join(format!("target/quickstart/{host}/opt/demoapp/demoapp"))
    }

    /// `fleetup -i inventory.yml -i extra.yml ARGS`; an upgrade keeps its retry file in the
    /// scratch directory (not beside the repository's inventory).
    fn command(&self, args: &[&str]) -> Command {
        let dir = self.scratch.path();
        let mut cmd = fleetup();
        cmd.current_dir(dir)
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .args(["-i", "examples/quickstart/inventory.yml", "-i", "extra.yml"])
            .args(args);
        if args.first() == Some(&"upgrade") {
            cmd.arg("--retry-file").arg(dir.join("run.retry"));
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        run(&mut self.command(args))
    }

    fn upgrade(&self, args: &[&str]) -> Output {
        let out = self.run(&[&["upgrade", "--yes"], args].concat());
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        out
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap_or_else(|e| panic!("{e}\n{}", describe(out)))
}

/// The first word of each table row (the lines between the header and the counts).
fn table_hosts(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| !l.starts_with("HOST "))
        .skip(1)
        .take_while(|l| !l.contains("(exit "))
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[test]
fn text_report_lists_failures_first_with_the_full_stderr_and_no_colors() {
    let q = QuickStart::new();
    let out = q.upgrade(&[]);
    let text = stdout(&out);
    assert!(
        text.starts_with("release  demoapp 1.1.0 (stable, signed by "),
        "{text}"
    );
    assert_eq!(table_hosts(&text), ["db1", "web2", "web1"], "{text}");
    assert!(
        text.contains(
            "\n1 upgraded · 0 unchanged · 1 rolled back · 1 failed · 0 unreachable · 0 skipped   (exit 1)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\nretry the failures with: --limit @"),
        "{text}"
    );
    // After the table, each failure in full, in the table's order.
    let db1 = text.find("\n\ndb1 failed — probe: ").expect(&text);
    let web2 = text.find("\n\nweb2 rolled_back — health: ").expect(&text);
    assert!(db1 < web2, "{text}");
    let block = &text[web2..];
    assert!(block.contains("\n  command (exit 1):\n"), "{block}");
    assert!(block.contains("\n  stderr ("), "{block}");
    for i in 1..=HEALTH_LINES {
        let line = format!("\n    health: line {i}: connection refused on :8080\n");
        assert!(block.contains(&line), "line {i} of the stderr: {block}");
    }
    assert!(block.contains("\n  rolled back to 1.0.0 ("), "{block}");
    // NO_COLOR is set (crate::support::fleetup) and stdout is a pipe.
    assert!(!text.contains('\u{1b}'), "{text}");
}

#[test]
fn colors_only_when_asked_for() {
    let q = QuickStart::new();
    let never = run(q
        .command(&["upgrade", "--yes", "--color", "never"])
        .env_remove("NO_COLOR"));
    assert_eq!(never.status.code(), Some(1), "{}", describe(&never));
    assert!(!stdout(&never).contains('\u{1b}'), "{}", describe(&never));

    // Auto, without NO_COLOR: stdout is a pipe, so no colors either.
    let auto = run(q.command(&["check"]).env_remove("NO_COLOR"));
    assert_eq!(auto.status.code(), Some(1), "{}", describe(&auto));
    assert!(!stdout(&auto).contains('\u{1b}'), "{}", describe(&auto));

    // Always wins over NO_COLOR.
    let always = q.upgrade(&["--color", "always"]);
    let text = stdout(&always);
    assert!(text.contains("\u{1b}[1mHOST"), "{text}");
    assert!(text.contains("\u{1b}[31mfailed\u{1b}[0m"), "{text}");
    assert!(text.contains("\u{1b}[33mrolled_back\u{1b}[0m"), "{text}");
    // web1 was upgraded by the first run: now unchanged, a success.
    assert!(text.contains("\u{1b}[32munchanged\u{1b}[0m"), "{text}");
}

#[test]
fn junit_has_one_testcase_per_host_and_a_failure_for_each_failed_host() {
    let q = QuickStart::new();
    let out = q.upgrade(&["--output", "junit"]);
    let xml = stdout(&out);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("not XML ({e}):\n{xml}"));
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .expect(&xml);
    assert_eq!(suite.attribute("name"), Some("fleetup upgrade"), "{xml}");
    assert_eq!(suite.attribute("tests"), Some("3"), "{xml}");
    assert_eq!(suite.attribute("failures"), Some("2"), "{xml}");
    assert_eq!(suite.attribute("skipped"), Some("0"), "{xml}");
    let cases: Vec<roxmltree::Node> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let mut names: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    names.sort_unstable();
    assert_eq!(names, ["db1", "web1", "web2"], "{xml}");
    let failure = |host: &str| {
        let case = cases
            .iter()
            .find(|c| c.attribute("name") == Some(host))
            .unwrap();
        assert_eq!(case.attribute("classname"), Some("fleetup.upgrade"));
        case.children().find(|n| n.has_tag_name("failure"))
    };
    assert!(failure("web1").is_none(), "{xml}");
    let db1 = failure("db1").expect(&xml);
    assert_eq!(db1.attribute("type"), Some("failed"), "{xml}");
    assert!(
        db1.attribute("message")
            .is_some_and(|m| m.starts_with("probe: ") && m.contains("is a directory")),
        "{xml}"
    );
    let web2 = failure("web2").expect(&xml);
    assert_eq!(web2.attribute("type"), Some("rolled_back"), "{xml}");
    let body = web2.text().unwrap_or_default();
    for i in 1..=HEALTH_LINES {
        assert!(
            body.contains(&format!("health: line {i}: connection refused")),
            "{body}"
        );
    }
    assert!(
        !xml.contains("release  "),
        "nothing but XML on stdout: {xml}"
    );

    // `check`: the failed host is a failure; the one to upgrade passes.
    let check = q.run(&["check", "--output", "junit"]);
    assert_eq!(check.status.code(), Some(1), "{}", describe(&check));
    let xml = stdout(&check);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("not XML ({e}):\n{xml}"));
    let failed: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .filter_map(|n| n.parent()?.attribute("name"))
        .collect();
    assert_eq!(failed, ["db1"], "{xml}");
    assert!(xml.contains(r#"classname="fleetup.check""#), "{xml}");
}

#[test]
fn json_is_valid_on_failure_and_says_exit_1() {
    let q = QuickStart::new();
    let out = q.upgrade(&["--output", "json"]);
    let doc = json(&out);
    assert_eq!(doc["summary"]["exit_code"], 1, "{doc:#}");
    assert_eq!(doc["summary"]["job"], "upgrade", "{doc:#}");
    assert_eq!(doc["summary"]["counts"]["rolled_back"], 1, "{doc:#}");
    assert_eq!(doc["summary"]["releases"][0]["version"], "1.1.0", "{doc:#}");
    assert_eq!(field(&doc, "web1", "result"), "upgraded", "{doc:#}");
    assert_eq!(field(&doc, "web1", "error"), Value::Null, "{doc:#}");
    assert_eq!(field(&doc, "db1", "result"), "failed", "{doc:#}");
    assert!(
        field(&doc, "db1", "error")
            .as_str()
            .is_some_and(|e| e.contains("is a directory")),
        "{doc:#}"
    );
    assert_eq!(field(&doc, "db1", "failure")["step"], "probe", "{doc:#}");
    let web2 = field(&doc, "web2", "failure");
    assert_eq!(web2["step"], "health", "{doc:#}");
    assert_eq!(
        web2["stderr"]
            .as_str()
            .unwrap_or_default()
            .matches("connection refused")
            .count(),
        HEALTH_LINES,
        "{doc:#}"
    );
}

#[test]
fn jsonl_lines_are_events_ending_with_the_summary_even_when_the_run_ends_early() {
    let q = QuickStart::new();
    let out = q.upgrade(&["--output", "jsonl"]);
    let events: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().expect("every line has an event"))
        .collect();
    assert_eq!(kinds.first(), Some(&"started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"summary"), "{kinds:?}");
    for kind in ["release", "batch_started", "step", "host", "batch_done"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let failed: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "host" && e["error"].is_string())
        .filter_map(|e| e["host"].as_str())
        .collect();
    assert_eq!(failed.len(), 2, "{events:#?}");
    assert_eq!(events.last().unwrap()["exit_code"], 1);

    // A release that is not on the channel: nothing is attempted (exit 2), and the stream
    // still ends with a summary that says so.
    let early = q.run(&[
        "upgrade",
        "--yes",
        "--version",
        "9.9.9",
        "--output",
        "jsonl",
    ]);
    assert_eq!(early.status.code(), Some(2), "{}", describe(&early));
    let text = stdout(&early);
    let last: Value = serde_json::from_str(text.lines().last().expect(&text)).expect(&text);
    assert_eq!(last["event"], "summary", "{text}");
    assert_eq!(last["exit_code"], 2, "{text}");
    assert_eq!(last["aborted"], true, "{text}");
}
