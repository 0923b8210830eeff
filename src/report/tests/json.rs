use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::*;
use crate::events::{Event, Observer};

#[test]
fn json_document_has_summary_and_every_host_field() {
    let reports = upgrade_run();
    let out = render(
        OutputFormat::Json,
        false,
        &reports,
        &summary(Job::Upgrade, &reports),
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["summary"]["exit_code"], 1);
    assert_eq!(doc["summary"]["job"], "upgrade");
    assert_eq!(doc["summary"]["counts"]["upgraded"], 2);
    assert_eq!(doc["summary"]["releases"][0]["version"], "1.1.0");
    assert_eq!(doc["summary"]["retry_file"], "prod.yml.retry");
    let hosts = doc["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 6, "run order kept");
    assert_eq!(hosts[0]["host"], "web01");
    let keys: Vec<&String> = hosts[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "batch",
            "bytes_sent",
            "channel",
            "detail",
            "error",
            "failure",
            "from",
            "host",
            "result",
            "seconds",
            "steps",
            "to"
        ]
    );
    assert_eq!(
        hosts[0],
        json!({"host": "web01", "result": "upgraded", "from": "1.0.0", "to": "1.1.0",
               "error": null, "detail": null, "failure": null, "seconds": 9.1,
               "steps": [{"step": "stage", "seconds": 1.5}], "bytes_sent": 314,
               "channel": "stable", "batch": 2})
    );
    let web12 = &hosts[1];
    let error = web12["error"].as_str().unwrap();
    assert!(error.contains("health line 40\n"), "{error}");
    assert!(error.contains('\u{1b}'), "JSON keeps the bytes, escaped");
    assert_eq!(web12["failure"]["step"], "health");
    assert_eq!(web12["failure"]["status"], 1);
    assert_eq!(web12["failure"]["stderr"], long_stderr());
    assert!(out.contains("\\u001b[31m"), "escaped in the document");
}

#[test]
fn json_check_hosts_add_the_check_names() {
    let mut up = HostReport::new("web01", "upgrade").with_detail("restart demoapp");
    up.from = Some("1.0.0".into());
    up.to = Some("1.1.0".into());
    let v = host_json(Job::Check, &up);
    assert_eq!(v["action"], "upgrade");
    assert_eq!(v["result"], "upgrade");
    assert_eq!(v["current"], "1.0.0");
    assert_eq!(v["target"], "1.1.0");
    assert_eq!(v["reason"], "restart demoapp");
    assert_eq!(v["error"], Value::Null, "a success has no error");
    let blocked = HostReport::new("web02", "blocked").with_detail("no space");
    assert_eq!(host_json(Job::Check, &blocked)["error"], "no space");
    assert!(host_json(Job::Upgrade, &up).get("action").is_none());
}

#[test]
fn jsonl_every_event_kind() {
    let job = Job::Upgrade;
    let ev = |e: Event| event_json(job, &e);
    assert_eq!(
        ev(Event::Started {
            job,
            hosts: 3,
            batches: vec![1, 2]
        }),
        Some(json!({"event": "started", "job": "upgrade", "hosts": 3, "batches": [1, 2]}))
    );
    assert_eq!(
        ev(Event::Release(release())),
        Some(json!({"event": "release", "release": {
            "product": "demoapp", "version": "1.1.0", "channel": "stable",
            "key_id": "FCA91662B2E1BF44", "expires": "2036-11-26T00:00:00Z"}}))
    );
    assert_eq!(
        ev(Event::BatchStarted {
            index: 1,
            of: 2,
            hosts: vec!["web01".into()]
        }),
        Some(json!({"event": "batch_started", "batch": 1, "of": 2, "hosts": ["web01"]}))
    );
    assert_eq!(
        ev(Event::StepStarted {
            host: "web01".into(),
            step: "stage".into()
        }),
        None
    );
    assert_eq!(
        ev(Event::StepDone {
            host: "web01".into(),
            step: "stage".into(),
            detail: "314 bytes".into(),
            seconds: 0.5
        }),
        Some(
            json!({"event": "step", "host": "web01", "step": "stage", "detail": "314 bytes", "seconds": 0.5})
        )
    );
    assert_eq!(
        ev(Event::Upload {
            host: "web01".into(),
            total: 10,
            sent: Arc::new(AtomicU64::new(0))
        }),
        None
    );
    let mut host = host_json(job, &upgraded("web01"));
    host["event"] = json!("host");
    assert_eq!(ev(Event::HostDone(upgraded("web01"))), Some(host));
    assert_eq!(
        ev(Event::StepFailed {
            host: "web03".into(),
            step: "connect".into(),
            message: "connection refused".into()
        }),
        Some(
            json!({"event": "step_failed", "host": "web03", "step": "connect", "message": "connection refused"})
        )
    );
    assert_eq!(
        ev(Event::BatchDone {
            index: 1,
            of: 2,
            failed: 0
        }),
        Some(json!({"event": "batch_done", "batch": 1, "of": 2, "failed_so_far": 0}))
    );
    assert_eq!(
        ev(Event::Stopped {
            reason: "1 of 3 hosts failed".into(),
            skipped: 2
        }),
        Some(json!({"event": "stopped", "reason": "1 of 3 hosts failed", "skipped": 2}))
    );
    let s = summary(job, &[upgraded("web01")]);
    let mut want = json!(s);
    want["event"] = json!("summary");
    assert_eq!(ev(Event::Finished(s)), Some(want));
}

/// A writer the test can read after the stream wrote to it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

#[test]
fn jsonl_stream_ends_with_the_summary_and_writes_nothing_after_it() {
    let buf = Shared::default();
    let stream = JsonlStream::new(Job::Upgrade, Box::new(buf.clone()));
    stream.event(&Event::Started {
        job: Job::Upgrade,
        hosts: 1,
        batches: vec![1],
    });
    stream.event(&Event::StepStarted {
        host: "web01".into(),
        step: "probe".into(),
    });
    stream.event(&Event::HostDone(upgraded("web01")));
    stream.event(&Event::Finished(summary(
        Job::Upgrade,
        &[upgraded("web01")],
    )));
    stream.event(&Event::HostDone(upgraded("late")));
    drop(stream);
    let kinds: Vec<Value> = buf.lines().iter().map(|v| v["event"].clone()).collect();
    assert_eq!(kinds, [json!("started"), json!("host"), json!("summary")]);
    assert!(buf.lines()[2].get("aborted").is_none());
}

#[test]
fn jsonl_stream_of_a_run_that_ends_early_still_ends_with_a_summary() {
    let buf = Shared::default();
    let stream = JsonlStream::new(Job::Upgrade, Box::new(buf.clone()));
    stream.event(&Event::Started {
        job: Job::Upgrade,
        hosts: 4,
        batches: vec![4],
    });
    stream.event(&Event::Release(release()));
    drop(stream);
    let lines = buf.lines();
    assert_eq!(lines.len(), 3);
    let last = &lines[2];
    assert_eq!(last["event"], "summary");
    assert_eq!(last["exit_code"], 2);
    assert_eq!(last["aborted"], true);
    assert_eq!(last["hosts"], 4);
    assert_eq!(last["releases"][0]["version"], "1.1.0");
}

#[test]
fn jsonl_writes_nothing_at_the_end() {
    let reports = upgrade_run();
    let out = render(
        OutputFormat::Jsonl,
        false,
        &reports,
        &summary(Job::Upgrade, &reports),
    );
    assert_eq!(out, "");
}
