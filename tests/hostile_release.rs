//! A hostile or broken release server, end to end: `fleetup check` and `fleetup upgrade --yes
//! --output json` against a lab of real OpenSSH hosts, with the channel published by fleetup's
//! own publisher and served by a real HTTP server that misbehaves on purpose.
//!
//! For every case: exit 2 (nothing attempted), an error naming the URL and the cause, on
//! stderr and in the JSON document, and every host exactly as it was: each file under its
//! `/opt` with the same bytes, mode, owner and mtime, the binary's directory with the same
//! mtime (so no temp file, lock or backup was even created and removed), and no `fleetup` name
//! in it. Each test ends with a clean upgrade of the same lab, to show the hosts were there to
//! be touched all along.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fleet::{demoapp, install, json};
use crate::support::http::{Fault, HttpServer};
use crate::support::lab::Lab;
use crate::support::{describe, fleetup, require_root, run};

/// This machine's arch in Go's names: the lab hosts run here, so it is theirs too.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no Go arch name known here for {other}"),
    }
}

/// A work directory with release sources under it, served over HTTP, and a lab of 2 hosts
/// running demoapp 1.0.0.
struct Bench {
    work: tempfile::TempDir,
    server: HttpServer,
    lab: Lab,
    hosts: Vec<String>,
    caches: std::cell::Cell<usize>,
}

impl Bench {
    fn new() -> Self {
        require_root();
        let work = tempfile::tempdir().unwrap();
        let server = HttpServer::start(work.path());
        let lab = Lab::start(2);
        let hosts: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
        for h in &hosts {
            install(&lab.opt_dir(h).join("demoapp/demoapp"), "1.0.0");
        }
        let b = Self {
            work,
            server,
            lab,
            hosts,
            caches: std::cell::Cell::new(0),
        };
        b.release(&["keygen", "-p", "k.pub", "-s", "k.key", "-W"]);
        b
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.work.path().join(rel)
    }

    /// `fleetup release ARGS` in the work directory; must succeed.
    fn release(&self, args: &[&str]) {
        let out = run(fleetup()
            .current_dir(self.work.path())
            .arg("release")
            .args(args));
        assert!(
            out.status.success(),
            "fleetup release {args:?}: {}",
            describe(&out)
        );
    }

    /// Writes demoapp `version` (the quick start's script) to a build file and returns it.
    fn build(&self, version: &str) -> PathBuf {
        let file = self.path(&format!("build-{version}"));
        std::fs::write(&file, demoapp(version)).unwrap();
        file
    }

    /// Publishes `file` as demoapp `version` for this machine's linux/arch into the source
    /// directory `dir`, signed by `key`.
    fn publish(&self, dir: &str, key: &str, version: &str, file: &Path, expires: &str) {
        let artifact = format!("linux/{}={}", go_arch(), file.display());
        self.release(&[
            "publish",
            "--dir",
            dir,
            "--product",
            "demoapp",
            "--version",
            version,
            "--expires",
            expires,
            "-s",
            key,
            &artifact,
        ]);
    }

    /// The URL of `rel` on the server.
    fn url(&self, rel: &str) -> String {
        self.server.url(rel)
    }

    /// The URL of the artifact of `version` in the source directory `dir`.
    fn artifact_url(&self, dir: &str, version: &str) -> String {
        self.url(&artifact_path(dir, version))
    }

    /// A cache directory of its own.
    fn new_cache(&self) -> PathBuf {
        self.caches.set(self.caches.get() + 1);
        let dir = self.path(&format!("cache-{}", self.caches.get()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `fleetup -i LAB -e VARS --output json ARGS` with the source `dir` (served over HTTP),
    /// trusting `k.pub`, with `vars` added.
    fn fleet(&self, cache: &Path, dir: &str, vars: Value, args: &[&str]) -> Output {
        let mut all = json!({
            "fleetup_source": self.url(&format!("{dir}/")),
            "fleetup_public_keys": [self.path("k.pub")],
        });
        let Value::Object(vars) = vars else {
            panic!("vars must be an object: {vars}")
        };
        all.as_object_mut().unwrap().extend(vars);
        run(fleetup()
            .env("XDG_CACHE_HOME", cache)
            .arg("-i")
            .arg(self.lab.inventory())
            .args(["-e", &all.to_string(), "--output", "json"])
            .args(args))
    }

    fn upgrade(&self, cache: &Path, dir: &str, vars: Value) -> Output {
        self.fleet(cache, dir, vars, &["upgrade", "--yes"])
    }

    fn check(&self, cache: &Path, dir: &str, vars: Value) -> Output {
        self.fleet(cache, dir, vars, &["check"])
    }

    /// Every host's `/opt`, as comparable lines.
    fn hosts_state(&self) -> Vec<(String, Vec<String>)> {
        self.hosts
            .iter()
            .map(|h| (h.clone(), tree(&self.lab.opt_dir(h))))
            .collect()
    }

    /// Asserts that no host changed since `before`, and that no fleetup file is beside the
    /// binary.
    fn assert_untouched(&self, case: &str, before: &[(String, Vec<String>)]) {
        assert_eq!(self.hosts_state(), before, "{case}: a host was touched");
        for h in &self.hosts {
            let dir = self.lab.opt_dir(h).join("demoapp");
            let names: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names, ["demoapp"], "{case}: {h}: {dir:?} holds more");
            assert_eq!(
                std::fs::read_to_string(dir.join("demoapp")).unwrap(),
                demoapp("1.0.0"),
                "{case}: {h}"
            );
        }
    }

    /// Ends with a clean upgrade from `dir`: every host upgraded to `version`.
    fn assert_clean_upgrade_works(&self, dir: &str, version: &str) {
        let cache = self.new_cache();
        let before = self.hosts_state();
        let out = self.upgrade(&cache, dir, json!({}));
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let doc = json(&out);
        for h in &self.hosts {
            let host = doc["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["host"] == h.as_str())
                .unwrap_or_else(|| panic!("{h} not in {doc:#}"));
            assert_eq!(host["result"], "upgraded", "{doc:#}");
            assert_eq!(
                std::fs::read_to_string(self.lab.opt_dir(h).join("demoapp/demoapp")).unwrap(),
                demoapp(version)
            );
        }
        assert_ne!(
            self.hosts_state(),
            before,
            "the state comparison sees an upgrade"
        );
    }
}

fn artifact_path(dir: &str, version: &str) -> String {
    format!("{dir}/demoapp-{version}-linux-{}", go_arch())
}

/// One line per file or directory under `root` (itself included): path, type, mode, owner,
/// size, mtime, and the sha256 of a file's bytes. Sorted.
fn tree(root: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut todo = vec![root.to_owned()];
    while let Some(p) = todo.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let content = if m.is_file() {
            hex::encode(Sha256::digest(std::fs::read(&p).unwrap()))
        } else {
            String::new()
        };
        out.push(format!(
            "{rel:?} {:o} {}:{} {} {}.{:09} {content}",
            m.mode(),
            m.uid(),
            m.gid(),
            m.size(),
            m.mtime(),
            m.mtime_nsec()
        ));
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
        }
    }
    out.sort();
    out
}

/// Asserts exit 2 with an error holding every one of `needles`, on stderr and in the JSON
/// document (which reports no host); returns the error.
fn refused(case: &str, out: &Output, needles: &[&str]) -> String {
    assert_eq!(out.status.code(), Some(2), "{case}: {}", describe(out));
    let doc = json(out);
    let error = doc["error"].as_str().unwrap_or_default().to_owned();
    assert_eq!(doc["summary"]["exit_code"], 2, "{case}: {doc:#}");
    assert_eq!(doc["hosts"], json!([]), "{case}: {doc:#}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in needles {
        assert!(
            error.contains(needle),
            "{case}: {needle:?} not in the error: {error}"
        );
        assert!(
            stderr.contains(needle),
            "{case}: {needle:?} not on stderr: {stderr}"
        );
    }
    error
}

/// Asserts that `check` planned an upgrade of every host (it does not download artifacts).
fn plans_upgrade(case: &str, out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{case}: {}", describe(out));
    for h in json(out)["hosts"].as_array().unwrap() {
        assert_eq!(h["action"], "upgrade", "{case}: {}", describe(out));
    }
}

/// A copy of `/bin/true` (an ELF of this machine) claiming to be for another machine:
/// AArch64 here on x86-64, x86-64 elsewhere.
fn elf_of_another_machine(to: &Path) -> &'static str {
    let mut bytes = std::fs::read("/bin/true").unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");
    assert_eq!(bytes[5], 1, "a little-endian machine");
    let (machine, name) = if go_arch() == "amd64" {
        (183u16, "AArch64")
    } else {
        (62u16, "x86-64")
    };
    bytes[18..20].copy_from_slice(&machine.to_le_bytes());
    std::fs::write(to, bytes).unwrap();
    name
}

/// Tampered, truncated, endless, stalled and trickling artifacts, and an ELF of the wrong
/// arch: every one refused after the hosts were probed, before any was touched.
#[test]
fn hostile_artifacts_are_refused_before_any_host_is_touched() {
    let b = Bench::new();
    let file = b.build("1.1.0");
    b.publish("good", "k.key", "1.1.0", &file, "30d");
    let size = std::fs::metadata(&file).unwrap().len();
    let art = artifact_path("good", "1.1.0");
    let url = b.artifact_url("good", "1.1.0");
    let before = b.hosts_state();

    // check plans without downloading: it says upgrade, whatever the artifact's server does.
    b.server.set_fault(&art, Fault::FlipByte(10));
    let cache = b.new_cache();
    plans_upgrade("check", &b.check(&cache, "good", json!({})));

    type Case<'a> = (&'a str, Fault, Value, Vec<String>);
    let cases: Vec<Case> = vec![
        (
            "tampered artifact",
            Fault::FlipByte(10),
            json!({}),
            vec![
                url.clone(),
                format!("expected {size} bytes with sha256"),
                "nothing was cached".into(),
            ],
        ),
        (
            "more bytes than announced, no length",
            Fault::Endless,
            json!({}),
            vec![
                url.clone(),
                format!("more than the {size} bytes the index announces"),
            ],
        ),
        (
            "a longer length announced",
            Fault::AnnounceLength(size + 1000),
            json!({}),
            vec![
                url.clone(),
                format!(
                    "the server announces {} bytes, the index {size}",
                    size + 1000
                ),
            ],
        ),
        (
            "body shorter than announced",
            Fault::CloseAfter(40),
            json!({}),
            // Resumed twice with a range, 40 bytes each time, then given up.
            vec![url.clone(), format!("(after 120 of {size} bytes)")],
        ),
        (
            "stalled mid-body",
            Fault::StallAfter(40),
            json!({"fleetup_fetch_idle_timeout": 1, "fleetup_fetch_timeout": 60}),
            vec![
                url.clone(),
                "no data for 1s (idle timeout)".into(),
                format!("of {size} bytes"),
            ],
        ),
        (
            "slow loris, a byte a second",
            Fault::Trickle(Duration::from_secs(1)),
            json!({"fleetup_fetch_timeout": 3}),
            vec![
                url.clone(),
                "timed out: not done within the total deadline of 3s".into(),
            ],
        ),
    ];
    for (case, fault, vars, needles) in cases {
        b.server.set_fault(&art, fault);
        let cache = b.new_cache();
        let started = Instant::now();
        let out = b.upgrade(&cache, "good", vars);
        let took = started.elapsed();
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        refused(case, &out, &needles);
        b.assert_untouched(case, &before);
        // The bounded timeouts bound the run (generously: a loaded 2-core machine).
        assert!(took < Duration::from_secs(45), "{case}: took {took:?}");
        eprintln!("{case}: refused in {took:?}");
        assert!(
            !cache.join("fleetup/sha256").exists()
                || std::fs::read_dir(cache.join("fleetup/sha256"))
                    .unwrap()
                    .next()
                    .is_none(),
            "{case}: nothing verified in the cache"
        );
    }
    b.server.clear_fault(&art);

    // The file on the server itself truncated: the server honestly announces fewer bytes.
    let full = std::fs::read(b.path(&art)).unwrap();
    std::fs::write(b.path(&art), &full[..full.len() / 2]).unwrap();
    let cache = b.new_cache();
    let out = b.upgrade(&cache, "good", json!({}));
    refused(
        "truncated artifact",
        &out,
        &[
            &url,
            &format!(
                "the server announces {} bytes, the index {size}: not this artifact",
                full.len() / 2
            ),
        ],
    );
    b.assert_untouched("truncated artifact", &before);
    std::fs::write(b.path(&art), &full).unwrap();

    // The right name, a validly signed index, the right sha256: an ELF for another machine.
    let elf = b.path("build-elf");
    let machine = elf_of_another_machine(&elf);
    b.publish("arch", "k.key", "1.1.0", &elf, "30d");
    let cache = b.new_cache();
    plans_upgrade("wrong arch, check", &b.check(&cache, "arch", json!({})));
    let out = b.upgrade(&cache, "arch", json!({}));
    let arch_url = b.artifact_url("arch", "1.1.0");
    let needed = if go_arch() == "amd64" {
        "x86-64 (64-bit, little-endian)"
    } else {
        "AArch64 (64-bit, little-endian)"
    };
    refused(
        "wrong arch",
        &out,
        &[
            &arch_url,
            &format!("wrong binary for linux/{}", go_arch()),
            &format!("an ELF binary for {machine} (64-bit, little-endian)"),
            &format!("which needs {needed}"),
        ],
    );
    b.assert_untouched("wrong arch", &before);
    // Verified content stays cached, and is refused again from the cache.
    let again = b.upgrade(&cache, "arch", json!({}));
    refused("wrong arch, from the cache", &again, &[&arch_url, machine]);
    assert_eq!(b.server.requests(&artifact_path("arch", "1.1.0")), 1);
    b.assert_untouched("wrong arch, from the cache", &before);

    b.assert_clean_upgrade_works("good", "1.1.0");
}

/// A trickling index, an expired one, one signed by a stranger, and a replayed older one:
/// refused by `check` and by `upgrade` before any host is even contacted.
#[test]
fn hostile_indexes_are_refused_by_check_and_upgrade() {
    let b = Bench::new();
    let v110 = b.build("1.1.0");
    let v120 = b.build("1.2.0");
    b.publish("good", "k.key", "1.1.0", &v110, "30d");
    let before = b.hosts_state();

    // A slow loris on the index itself.
    let index = "good/stable.json";
    b.server
        .set_fault(index, Fault::Trickle(Duration::from_secs(1)));
    for args in [&["check"][..], &["upgrade", "--yes"]] {
        let cache = b.new_cache();
        let started = Instant::now();
        let out = b.fleet(&cache, "good", json!({"fleetup_fetch_timeout": 2}), args);
        let case = format!("trickling index, {}", args[0]);
        refused(
            &case,
            &out,
            &[&b.url(index), "not done within the total deadline of 2s"],
        );
        assert!(started.elapsed() < Duration::from_secs(40), "{case}");
        b.assert_untouched(&case, &before);
    }
    b.server.clear_fault(index);

    // Expired: published to expire in one second, used three seconds later.
    b.publish("expired", "k.key", "1.1.0", &v110, "1s");
    std::thread::sleep(Duration::from_secs(3));
    for args in [&["check"][..], &["upgrade", "--yes"]] {
        let cache = b.new_cache();
        let out = b.fleet(&cache, "expired", json!({}), args);
        let case = format!("expired index, {}", args[0]);
        refused(
            &case,
            &out,
            &[&b.url("expired/stable.json"), "expired at ", "re-sign"],
        );
        b.assert_untouched(&case, &before);
    }

    // Signed by a key the hosts do not trust.
    b.release(&["keygen", "-p", "stranger.pub", "-s", "stranger.key", "-W"]);
    let stranger = key_id(&b.path("stranger.pub"));
    let ours = key_id(&b.path("k.pub"));
    b.publish("stranger", "stranger.key", "1.1.0", &v110, "30d");
    for args in [&["check"][..], &["upgrade", "--yes"]] {
        let cache = b.new_cache();
        let out = b.fleet(&cache, "stranger", json!({}), args);
        let case = format!("unknown key, {}", args[0]);
        refused(
            &case,
            &out,
            &[
                &b.url("stranger/stable.json"),
                &format!("signed by key {stranger}, which is not trusted (trusted: {ours})"),
            ],
        );
        b.assert_untouched(&case, &before);
    }

    // Replayed: 1.1.0's index, then (a second later) 1.2.0's; once fleetup accepted the newer
    // one, the older one — still validly signed and unexpired — is refused.
    b.publish("replay", "k.key", "1.1.0", &v110, "30d");
    let old = (
        std::fs::read(b.path("replay/stable.json")).unwrap(),
        std::fs::read(b.path("replay/stable.json.minisig")).unwrap(),
    );
    let old_time = published(&old.0);
    std::thread::sleep(Duration::from_millis(1100));
    b.publish("replay", "k.key", "1.2.0", &v120, "30d");
    let new = (
        std::fs::read(b.path("replay/stable.json")).unwrap(),
        std::fs::read(b.path("replay/stable.json.minisig")).unwrap(),
    );
    let new_time = published(&new.0);
    assert!(old_time < new_time, "{old_time} < {new_time}");
    let serve = |pair: &(Vec<u8>, Vec<u8>)| {
        std::fs::write(b.path("replay/stable.json"), &pair.0).unwrap();
        std::fs::write(b.path("replay/stable.json.minisig"), &pair.1).unwrap();
    };
    let cache = b.new_cache();
    let seen = b.check(&cache, "replay", json!({}));
    plans_upgrade("replay: the newer index", &seen);
    serve(&old);
    let replay_url = b.url("replay/stable.json");
    for args in [&["check"][..], &["upgrade", "--yes"]] {
        let out = b.fleet(&cache, "replay", json!({}), args);
        let case = format!("replayed index, {}", args[0]);
        let e = refused(
            &case,
            &out,
            &[
                &replay_url,
                &format!(
                    "index published at {old_time}, older than the index published at {new_time} already accepted"
                ),
                "replayed or stale mirror",
                &cache.join("fleetup/indexes").display().to_string(),
            ],
        );
        b.assert_untouched(&case, &before);
        eprintln!("{case}: {e}");
    }
    // `fleetup releases` refuses it too (it would list, or --download, the older releases).
    let listed = b.fleet(&cache, "replay", json!({}), &["releases"]);
    assert_eq!(listed.status.code(), Some(2), "{}", describe(&listed));
    assert!(
        String::from_utf8_lossy(&listed.stderr).contains("replayed or stale mirror"),
        "{}",
        describe(&listed)
    );
    // The old index is valid in itself: a controller that never saw the newer one takes it.
    let fresh = b.new_cache();
    plans_upgrade(
        "replay: a fresh cache",
        &b.check(&fresh, "replay", json!({})),
    );
    // The same newer index again is fine (equal, not older).
    serve(&new);
    plans_upgrade(
        "replay: the newer index again",
        &b.check(&cache, "replay", json!({})),
    );
    b.assert_untouched("replay", &before);

    b.assert_clean_upgrade_works("good", "1.1.0");
}

/// The `published` field of an index.
fn published(index: &[u8]) -> String {
    let doc: Value = serde_json::from_slice(index).unwrap();
    doc["published"]
        .as_str()
        .expect("the publisher stamps the index")
        .to_owned()
}

/// The key id in a minisign `.pub` file's comment.
fn key_id(pubkey: &Path) -> String {
    let text = std::fs::read_to_string(pubkey).unwrap();
    text.lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned()
}
