//! `fleetup check --output html > audit.html` on a lab of real OpenSSH hosts in two groups,
//! one of them off its group's version, one unreachable and one whose binary prints markup,
//! then the page rendered by a real headless browser (Debian's chromium): a screenshot, and
//! assertions on the DOM the browser built from the page.
//!
//! The page, the screenshot and the DOM are written to a temporary directory whose path the
//! test prints; it is kept when the test fails, or when `FLEETUP_KEEP_REPORT=1` is set (to look
//! at the screenshot).

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use regex::Regex;

use crate::fleet::{channel_vars, install};
use crate::support::lab::Lab;
use crate::support::{describe, fleetup, require_root, require_tool, run};

/// What the sixth host's binary prints for `--version`: markup, which the page must show as
/// text.
const HOSTILE_VERSION: &str = "<script>alert('pwned')</script>";

/// Runs chromium headless on `page` with `args` (a fresh profile, no network of its own, no
/// sandbox: the tests run as root), killed after two minutes.
fn chromium(scratch: &Path, page: &Path, args: &[&str]) -> (Output, f64) {
    let browser = require_tool("chromium", "apt-get install chromium");
    let profile = tempfile::tempdir_in(scratch).unwrap();
    let started = Instant::now();
    let out = run(Command::new("timeout")
        .args(["--kill-after=10", "120"])
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .env("HOME", profile.path())
        .env("XDG_CONFIG_HOME", profile.path().join("config"))
        .env("XDG_CACHE_HOME", profile.path().join("cache")));
    (out, started.elapsed().as_secs_f64())
}

/// The value of `data-count` of the matrix cell of `group` and `version` in the DOM, with the
/// cell's classes.
fn cell(dom: &str, group: &str, version: &str) -> Option<(usize, String)> {
    let re = Regex::new(&format!(
        r#"<td class="(count[^"]*)" data-group="{}" data-version="{}" data-count="(\d+)">(\d+)</td>"#,
        regex::escape(group),
        regex::escape(version)
    ))
    .unwrap();
    let c = re.captures(dom)?;
    assert_eq!(c[2], c[3], "data-count and the text agree");
    Some((c[2].parse().unwrap(), c[1].to_owned()))
}

/// The summary count of `key` in the DOM.
fn summary_count(dom: &str, key: &str) -> Option<usize> {
    let re = Regex::new(&format!(
        r#"<li class="[^"]*" data-count-of="{}" data-count="(\d+)"><span class="count">(\d+)</span>"#,
        regex::escape(key)
    ))
    .unwrap();
    re.captures(dom).map(|c| c[1].parse().unwrap())
}

/// A temporary directory kept when the test fails or `FLEETUP_KEEP_REPORT=1` is set.
struct Scratch(Option<tempfile::TempDir>);

impl Scratch {
    fn path(&self) -> &Path {
        self.0.as_ref().unwrap().path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let keep = std::thread::panicking()
            || std::env::var_os("FLEETUP_KEEP_REPORT").is_some_and(|v| v == "1");
        if let (true, Some(dir)) = (keep, self.0.take()) {
            eprintln!("kept {}", dir.keep().display());
        }
    }
}

/// The width and height in a PNG's IHDR chunk, after checking the signature.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {:?}",
        &png[..png.len().min(16)]
    );
    assert_eq!(&png[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn lab_check_html_report_renders_in_chromium_with_the_matrix_and_the_drift() {
    require_root();
    require_tool("chromium", "apt-get install chromium");
    let lab = Lab::start(6);
    let scratch = Scratch(Some(tempfile::tempdir().unwrap()));
    let bin = |h: &str| lab.opt_dir(h).join("demoapp/demoapp");
    // web: host001 and host002 on 1.0.0, host003 on 0.9.0 (the drift); db: host004 and
    // host005 on 1.1.0 (up to date) and `ghost` (no sshd at its address); host006, only in the
    // lab group, prints markup for its version.
    for (h, v) in [
        ("host001", "1.0.0"),
        ("host002", "1.0.0"),
        ("host003", "0.9.0"),
        ("host004", "1.1.0"),
        ("host005", "1.1.0"),
    ] {
        install(&bin(h), v);
    }
    install(&bin("host006"), "1.0.0"); // its directory and mode, then its own script:
    std::fs::write(
        bin("host006"),
        format!("#!/bin/sh\necho \"{HOSTILE_VERSION}\"\n"),
    )
    .unwrap();
    // An address of the lab's own block that no host listens on.
    let first = &lab.hosts()[0].addr;
    let ghost_addr = format!("{}.250", first.rsplit_once('.').unwrap().0);
    // web before db: the matrix lists groups in the inventories' order.
    let groups = format!(
        "all:
  children:
    web:
      hosts:
        host001:
        host002:
        host003:
    db:
      hosts:
        host004:
        host005:
        ghost:
          ansible_host: {ghost_addr}
          ansible_user: root
          fleetup_binary: /opt/demoapp/demoapp
"
    );
    let groups_file = scratch.path().join("groups.yml");
    std::fs::write(&groups_file, groups).unwrap();

    let page = scratch.path().join("audit.html");
    let started = Instant::now();
    let check = run(fleetup()
        .env("XDG_CACHE_HOME", scratch.path().join("cache"))
        .arg("-i")
        .arg(lab.inventory())
        .arg("-i")
        .arg(&groups_file)
        .args(["-e", &channel_vars(), "check", "--output", "html"]));
    let check_secs = started.elapsed().as_secs_f64();
    assert_eq!(
        check.status.code(),
        Some(1),
        "ghost is unreachable: {}",
        describe(&check)
    );
    std::fs::write(&page, &check.stdout).unwrap();
    let html = String::from_utf8(check.stdout.clone()).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", describe(&check));

    let shot = scratch.path().join("audit.png");
    let (out, shot_secs) = chromium(
        scratch.path(),
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
        ],
    );
    assert!(
        out.status.success(),
        "chromium --screenshot: {}",
        describe(&out)
    );
    let png = std::fs::read(&shot)
        .unwrap_or_else(|e| panic!("no screenshot {shot:?} ({e}): {}", describe(&out)));
    assert_eq!(png_size(&png), (1280, 2000));
    assert!(
        png.len() > 20_000,
        "a page of tables is more than {} bytes",
        png.len()
    );

    let (out, dom_secs) = chromium(scratch.path(), &page, &["--dump-dom"]);
    assert!(
        out.status.success(),
        "chromium --dump-dom: {}",
        describe(&out)
    );
    let dom = String::from_utf8(out.stdout).unwrap();
    eprintln!(
        "check {check_secs:.1} s; chromium screenshot {shot_secs:.1} s, dump-dom {dom_secs:.1} s; \
         screenshot {} ({} bytes; kept if the test fails or FLEETUP_KEEP_REPORT=1)",
        shot.display(),
        png.len()
    );
    let dom_file = scratch.path().join("audit.dom.html");
    std::fs::write(&dom_file, &dom).unwrap();
    let ctx = format!("the DOM is in {}", dom_file.display());

    assert!(dom.contains("<title>fleetup check — "), "{ctx}");
    assert!(
        Regex::new(r#"<time id="taken" datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">"#)
            .unwrap()
            .is_match(&dom),
        "{ctx}"
    );

    // The matrix: hosts per group and version, as the browser parsed them.
    for (group, version, n) in [
        ("web", "1.0.0", 2),
        ("web", "0.9.0", 1),
        ("web", "1.1.0", 0),
        ("web", "unknown", 0),
        ("db", "1.1.0", 2),
        ("db", "unknown", 1),
        ("db", "1.0.0", 0),
        ("lab", "1.0.0", 2),
        ("lab", "1.1.0", 2),
        ("lab", "0.9.0", 1),
        ("lab", "unknown", 1),
        ("all", "1.0.0", 2),
        ("all", "1.1.0", 2),
        ("all", "0.9.0", 1),
        ("all", "unknown", 2),
    ] {
        let found = cell(&dom, group, version);
        assert_eq!(
            found.as_ref().map(|c| c.0),
            Some(n),
            "{group} × {version}: {found:?}; {ctx}"
        );
    }
    assert_eq!(
        cell(&dom, "web", "0.9.0").unwrap().1,
        "count drift",
        "{ctx}"
    );
    assert_eq!(
        cell(&dom, "web", "1.0.0").unwrap().1,
        "count majority",
        "{ctx}"
    );
    assert_eq!(
        cell(&dom, "db", "1.1.0").unwrap().1,
        "count majority",
        "{ctx}"
    );
    assert!(
        dom.contains(r#"<tr data-group="lab" class="split">"#),
        "2 on 1.0.0, 2 on 1.1.0: {ctx}"
    );
    // Groups ordered as the inventories declare them, `all` last.
    let rows: Vec<&str> = Regex::new(r#"<tr data-group="([^"]+)""#)
        .unwrap()
        .captures_iter(&dom)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert_eq!(rows, ["lab", "web", "db", "all"], "{ctx}");

    // The drifted host carries the class, in the drift list and the per-host table; no other.
    let drifted: Vec<&str> = Regex::new(r#"<td class="host drift" data-host="([^"]+)">"#)
        .unwrap()
        .captures_iter(&dom)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert_eq!(drifted, ["host003", "host003"], "{ctx}");
    assert!(
        dom.contains(r#"<tr class="drift" data-host="host003" data-group="web"><td class="host drift" data-host="host003">host003</td><td>web</td><td class="version">0.9.0</td><td class="version">1.0.0</td></tr>"#),
        "{ctx}"
    );

    // The summary.
    for (key, n) in [
        ("hosts", 7),
        ("upgrade", 3),
        ("none", 2),
        ("unreachable", 1),
        ("refuse", 1),
        ("drift", 1),
    ] {
        assert_eq!(summary_count(&dom, key), Some(n), "{key}; {ctx}");
    }
    assert!(
        dom.contains(r#"<strong id="exit-code">1</strong>"#),
        "{ctx}"
    );
    assert!(
        dom.contains(
            r#"<li data-channel="stable" data-version="1.1.0"><strong>demoapp 1.1.0</strong>"#
        ),
        "{ctx}"
    );

    // The unreachable host, with its message; the host that printed markup, as text.
    let problem = Regex::new(
        r#"<tr class="problem bad" data-host="ghost" data-result="unreachable"><td class="host" data-host="ghost">ghost</td><td class="result bad">unreachable</td><td class="message">connect: ([^<]+)"#,
    )
    .unwrap();
    let message = problem
        .captures(&dom)
        .unwrap_or_else(|| panic!("ghost is not listed as unreachable; {ctx}"));
    assert!(message[1].contains(&ghost_addr), "{}; {ctx}", &message[1]);
    assert!(
        dom.contains(r#"<tr class="problem warn" data-host="host006" data-result="refuse">"#),
        "{ctx}"
    );
    assert!(
        dom.contains("&lt;script&gt;alert('pwned')&lt;/script&gt;"),
        "the markup shown as text; {ctx}"
    );
    assert!(
        !dom.contains("<script"),
        "no script element in the DOM; {ctx}"
    );

    // Per host: what an upgrade would do.
    for (host, action, from, to) in [
        ("host001", "upgrade", "1.0.0", "1.1.0"),
        ("host003", "upgrade", "0.9.0", "1.1.0"),
        ("host004", "none", "1.1.0", "1.1.0"),
    ] {
        let row = Regex::new(&format!(
            r#"<tr data-host="{host}" data-result="{action}" class="[^"]*"><td class="host[^"]*" data-host="{host}">.*?</td><td class="groups">[^<]*</td><td class="channel">stable</td><td class="result ok">{action}</td><td class="version from">{from}</td><td class="version to">{to}</td>"#
        ))
        .unwrap();
        assert!(row.is_match(&dom), "{host}; {ctx}");
    }
    assert!(
        dom.contains(r#"<td class="groups">lab, web</td>"#),
        "host001's groups; {ctx}"
    );

    // Nothing left behind on the hosts: check changes nothing.
    assert_eq!(
        std::fs::read_to_string(bin("host003")).unwrap(),
        crate::fleet::demoapp("0.9.0")
    );
}

/// `upgrade --output html` on the quick start's local fleet: the matrix shows what the hosts
/// run after the run (web1 and web2 upgraded, db1 failed at its probe: version unknown).
#[test]
fn upgrade_html_shows_the_versions_the_hosts_run_afterwards() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    std::os::unix::fs::symlink(crate::support::repo_path("examples"), dir.join("examples"))
        .unwrap();
    let bin = |h: &str| dir.join(format!("target/quickstart/{h}/opt/demoapp/demoapp"));
    install(&bin("web1"), "1.0.0");
    install(&bin("web2"), "1.0.0");
    std::fs::create_dir_all(bin("db1")).unwrap();
    let out = run(fleetup()
        .current_dir(dir)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .args([
            "-i",
            "examples/quickstart/inventory.yml",
            "upgrade",
            "--yes",
        ])
        .arg("--retry-file")
        .arg(dir.join("run.retry"))
        .args(["--output", "html"]));
    assert_eq!(out.status.code(), Some(1), "db1 fails: {}", describe(&out));
    let page = String::from_utf8(out.stdout).unwrap();
    for (group, version, n) in [
        ("web", "1.1.0", 2),
        ("db", "unknown", 1),
        ("all", "1.1.0", 2),
        ("all", "unknown", 1),
    ] {
        assert_eq!(
            cell(&page, group, version).map(|c| c.0),
            Some(n),
            "{group} × {version}:\n{page}"
        );
    }
    assert!(
        cell(&page, "web", "1.0.0").is_none(),
        "no host runs 1.0.0 any more:\n{page}"
    );
    assert!(page.contains(r#"<p class="ok" id="no-drift">"#), "{page}");
    assert_eq!(summary_count(&page, "upgraded"), Some(2), "{page}");
    assert_eq!(summary_count(&page, "failed"), Some(1), "{page}");
    assert!(
        page.contains(r#"<tr class="problem bad" data-host="db1" data-result="failed">"#),
        "{page}"
    );
    assert!(page.contains(r#"<th scope="col">time</th>"#), "{page}");
    assert!(
        page.contains(r#"<p id="retry">retry the failures with: <code>--limit @"#),
        "{page}"
    );
}

/// HTML reports host results: the commands that have none refuse it, before doing anything.
#[test]
fn releases_and_inventory_refuse_html() {
    let out = run(fleetup().args([
        "-i",
        "examples/quickstart/inventory.yml",
        "inventory",
        "--list",
        "--output",
        "html",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--output html reports host results; `fleetup inventory` prints JSON"),
        "{}",
        describe(&out)
    );
    let out = run(fleetup().args([
        "-i",
        "examples/quickstart/inventory.yml",
        "releases",
        "--output",
        "html",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--output html reports host results; `fleetup releases` has none"),
        "{}",
        describe(&out)
    );
}

/// A run that stops before any host (exit 2) still leaves a page saying why, escaped, instead
/// of an empty `audit.html`.
#[test]
fn a_run_that_stops_before_any_host_leaves_an_error_page() {
    let out = run(fleetup().args([
        "-i",
        "/nonexistent/<b>prod</b>.yml",
        "check",
        "--output",
        "html",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains(r#"data-exit-code="2""#), "{page}");
    assert!(
        page.contains("fleetup check: nothing was attempted"),
        "{page}"
    );
    assert!(
        page.contains("/nonexistent/&lt;b&gt;prod&lt;/b&gt;.yml") && !page.contains("<b>prod"),
        "the message is escaped: {page}"
    );
    assert!(page.trim_end().ends_with("</html>"), "{page}");
}

/// Configured as the default (`FLEETUP_OUTPUT`, `fleetup.toml`), html is for the fleet commands:
/// `inventory` and `releases` then print their usual output instead of failing.
#[test]
fn a_configured_html_output_does_not_break_the_other_commands() {
    let out = run(fleetup().env("FLEETUP_OUTPUT", "html").args([
        "-i",
        "examples/quickstart/inventory.yml",
        "inventory",
        "--list",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["web"]["hosts"].is_array(), "{doc}");
    let out = run(fleetup()
        .env("FLEETUP_OUTPUT", "html")
        .env("XDG_CACHE_HOME", tempfile::tempdir().unwrap().path())
        .args(["-i", "examples/quickstart/inventory.yml", "releases"]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1.1.0"),
        "{}",
        describe(&out)
    );
}
