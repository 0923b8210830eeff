//! Running a fleet on lab hosts: rolling batches with a canary, the failure budget, the retry
//! file, and the machine outputs (json on failure, jsonl streamed, junit).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::fleet::{channel_vars, field, install, json};
use crate::support::lab::Lab;
use crate::support::{describe, fleetup, repo_path, require_root, run};

/// A second inventory that makes `host` unreachable (its port is closed).
fn dead(dir: &Path, host: &str) -> PathBuf {
    let path = dir.join("dead.yml");
    std::fs::write(
        &path,
        format!("all:\n  hosts:\n    {host}:\n      ansible_port: 1\n"),
    )
    .unwrap();
    path
}

struct Fleet {
    lab: Lab,
    names: Vec<String>,
    scratch: tempfile::TempDir,
}

impl Fleet {
    fn start(n: usize) -> Fleet {
        require_root();
        let lab = Lab::start(n);
        let names: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
        for h in &names {
            install(&lab.opt_dir(h).join("demoapp/demoapp"), "1.0.0");
        }
        Fleet {
            lab,
            names,
            scratch: tempfile::tempdir().unwrap(),
        }
    }

    fn retry(&self) -> PathBuf {
        self.scratch.path().join("run.retry")
    }

    fn command(&self, extra_inventory: Option<&Path>, args: &[&str]) -> std::process::Command {
        let mut cmd = fleetup();
        cmd.env("XDG_CACHE_HOME", self.scratch.path().join("cache"))
            .arg("-i")
            .arg(self.lab.inventory());
        if let Some(inv) = extra_inventory {
            cmd.arg("-i").arg(inv);
        }
        cmd.args(["-e", &channel_vars()])
            .args(args)
            .arg("--retry-file")
            .arg(self.retry());
        cmd
    }

    fn run(&self, extra_inventory: Option<&Path>, args: &[&str]) -> Output {
        run(&mut self.command(extra_inventory, args))
    }

    fn version(&self, host: &str) -> String {
        let out = self.lab.ssh(host, "/opt/demoapp/demoapp --version");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn retry_hosts(&self) -> Vec<String> {
        std::fs::read_to_string(self.retry())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn lab_a_dead_canary_stops_the_run_before_any_other_host_is_touched() {
    let f = Fleet::start(4);
    let dead_inv = dead(f.scratch.path(), &f.names[0]);
    let out = f.run(
        Some(&dead_inv),
        &["upgrade", "--serial", "1,50%", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let doc = json(&out);
    assert_eq!(field(&doc, &f.names[0], "result"), "unreachable", "{doc:#}");
    assert_eq!(field(&doc, &f.names[0], "batch"), 1, "{doc:#}");
    for h in &f.names[1..] {
        assert_eq!(field(&doc, h, "result"), "skipped", "{doc:#}");
        assert_eq!(f.version(h), "demoapp 1.0.0", "{h} was not touched");
    }
    assert!(doc["summary"]["stopped"].is_string(), "{doc:#}");
    assert_eq!(doc["summary"]["exit_code"], 1, "{doc:#}");
    assert_eq!(doc["summary"]["counts"]["skipped"], 3, "{doc:#}");
    assert_eq!(f.retry_hosts(), f.names, "every host is to retry");
    // The plain log says why it stopped, batch by batch.
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("batch 1/3"), "{log}");
    assert!(!log.contains("batch 2/3:"), "batch 2 never started:\n{log}");
    assert!(log.lines().any(|l| l.starts_with("stopped: ")), "{log}");
}

#[test]
fn lab_a_failure_budget_goes_past_one_dead_host_and_the_retry_file_reruns_exactly_it() {
    let f = Fleet::start(4);
    let dead_inv = dead(f.scratch.path(), &f.names[0]);
    let out = f.run(
        Some(&dead_inv),
        &[
            "upgrade",
            "--serial",
            "1,50%",
            "--max-fail-percentage",
            "50",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let doc = json(&out);
    assert_eq!(field(&doc, &f.names[0], "result"), "unreachable", "{doc:#}");
    for (h, batch) in f.names[1..].iter().zip([2, 2, 3]) {
        assert_eq!(field(&doc, h, "result"), "upgraded", "{doc:#}");
        assert_eq!(field(&doc, h, "batch"), batch, "{doc:#}");
        assert_eq!(f.version(h), "demoapp 1.1.0");
        let steps: Vec<String> = field(&doc, h, "steps")
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            steps,
            ["connect", "probe", "lock", "stage", "swap"],
            "{doc:#}"
        );
        assert!(
            field(&doc, h, "bytes_sent").as_u64().unwrap() > 0,
            "{doc:#}"
        );
    }
    assert!(doc["summary"]["stopped"].is_null(), "{doc:#}");
    assert_eq!(f.retry_hosts(), [f.names[0].clone()]);

    // The host is back: `--limit @retry` works on it, and only on it.
    let limit = format!("@{}", f.retry().display());
    let again = f.run(None, &["upgrade", "--limit", &limit, "--output", "json"]);
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    let doc = json(&again);
    assert_eq!(doc["hosts"].as_array().unwrap().len(), 1, "{doc:#}");
    assert_eq!(field(&doc, &f.names[0], "result"), "upgraded", "{doc:#}");
    assert_eq!(f.version(&f.names[0]), "demoapp 1.1.0");
    assert!(
        !f.retry().exists(),
        "a run with nothing to retry removes the old retry file"
    );
}

#[test]
fn lab_jsonl_is_streamed_while_the_run_goes_and_ends_with_a_summary() {
    let f = Fleet::start(3);
    let dead_inv = dead(f.scratch.path(), &f.names[2]);
    // Each host takes a second in its health check, one host per batch: the run lasts > 3 s.
    let mut child = f
        .command(
            Some(&dead_inv),
            &[
                "upgrade",
                "--serial",
                "1",
                "--keep-going",
                "-e",
                "fleetup_health_command='sleep 1'",
                "--output",
                "jsonl",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut events: Vec<Value> = Vec::new();
    let mut seen_while_running = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {line}", events.len() + 1));
        if v["event"] == "host" && v["host"] == f.names[0].as_str() {
            seen_while_running = child.try_wait().unwrap().is_none();
        }
        events.push(v);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(
        seen_while_running,
        "the first host's event was readable before the run ended: {events:#?}"
    );
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"summary"), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "batch_started").count(), 3);
    let last = events.last().unwrap();
    assert_eq!(last["exit_code"], 1, "{last:#}");
    assert_eq!(last["counts"]["upgraded"], 2, "{last:#}");
    assert_eq!(last["counts"]["unreachable"], 1, "{last:#}");
    let host = |name: &str| {
        events
            .iter()
            .find(|e| e["event"] == "host" && e["host"] == name)
            .unwrap_or_else(|| panic!("no host event for {name}: {events:#?}"))
    };
    assert_eq!(host(&f.names[0])["result"], "upgraded");
    assert_eq!(host(&f.names[2])["result"], "unreachable");
}

/// The quick start's local fleet in a scratch directory (as README's command runs it), every
/// host at 1.0.0.
fn quick_start() -> tempfile::TempDir {
    let scratch = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo_path("examples"), scratch.path().join("examples")).unwrap();
    for h in ["web1", "web2", "db1"] {
        install(
            &scratch
                .path()
                .join(format!("target/quickstart/{h}/opt/demoapp/demoapp")),
            "1.0.0",
        );
    }
    scratch
}

/// `fleetup -i examples/quickstart/inventory.yml ARGS` in the quick start's scratch directory.
fn quick_start_run(scratch: &tempfile::TempDir, args: &[&str]) -> Output {
    run(fleetup()
        .current_dir(scratch.path())
        .env("XDG_CACHE_HOME", scratch.path().join("cache"))
        .args(["-i", "examples/quickstart/inventory.yml"])
        .args(args))
}

/// Without a terminal: one plain line per event, host first, in the order things happen, and
/// not one escape code — asserted line by line.
#[test]
fn plain_progress_is_one_line_per_event_in_order() {
    let scratch = quick_start();
    let out = quick_start_run(
        &scratch,
        &["upgrade", "--serial", "1", "--forks", "1", "--no-progress"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains('\x1b'), "no escape codes:\n{log}");
    let mut expected: Vec<String> = vec![
        r"upgrade 3 hosts in 3 batches \(1, 1, 1\)".into(),
        r"release demoapp 1\.1\.0 \(stable, signed by [0-9A-F]{16}, index expires \S+\)".into(),
    ];
    for h in ["web1", "web2", "db1"] {
        expected.push(format!(
            r"{h} probe ok: 1\.0\.0 \S+/\S+ /\S+/target/quickstart/{h}/opt/demoapp/demoapp"
        ));
    }
    expected.push(r"download demoapp 1\.1\.0 \S+/\S+: \S+ \(\d+ bytes\)".into());
    expected.push(r"download demoapp 1\.1\.0 \S+/\S+: verified".into());
    for (i, h) in ["web1", "web2", "db1"].iter().enumerate() {
        let n = i + 1;
        expected.extend([
            format!(r"batch {n}/3: {h}"),
            format!(r"{h} lock ok: /\S+/{h}/opt/demoapp"),
            format!(r"{h} stage ok: \d+ bytes, sha256 verified on the host, reports 1\.1\.0"),
            format!(r"{h} swap ok: backup demoapp\.fleetup-bak-1\.0\.0-\S+"),
            format!(r"{h} upgraded 1\.0\.0 -> 1\.1\.0 in \d+\.\d s"),
            format!(r"batch {n}/3 done: 0 failed so far"),
        ]);
    }
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), expected.len(), "line count:\n{log}");
    for (line, re) in lines.iter().zip(&expected) {
        let re = regex::Regex::new(&format!("^{re}$")).unwrap();
        assert!(
            re.is_match(line),
            "{line:?} does not match {re}\nin:\n{log}"
        );
    }
}

/// `--output json` gives a document even when nothing could be attempted.
#[test]
fn json_is_a_document_even_when_nothing_was_attempted() {
    let scratch = quick_start();
    let out = quick_start_run(
        &scratch,
        &["upgrade", "--version", "9.9.9", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let doc = json(&out);
    assert_eq!(doc["summary"]["exit_code"], 2, "{doc:#}");
    assert!(
        doc["error"].as_str().unwrap().contains("9.9.9"),
        "the error names the version: {doc:#}"
    );
    assert_eq!(doc["hosts"], serde_json::json!([]));
}
