//! `fleetup releases` as an operator runs it: the quick start's committed channel, an http
//! source served by a real HTTP server, trust failures, and `--download` into the cache.

use std::process::Output;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::release_fetch::{ART, Fixture, Key};
use crate::support::http::{Fault, HttpServer};
use crate::support::{describe, fleetup, repo_path, run};

/// The id of the quick start's key, read from its `.pub` file's comment
/// (`untrusted comment: minisign public key <ID>`).
fn quickstart_key_id() -> String {
    let text = std::fs::read_to_string(repo_path("examples/quickstart/minisign.pub")).unwrap();
    text.lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_quick_start_channel_lists_newest_first_and_names_its_key() {
    let out = run(fleetup().args(["releases", "-i", "examples/quickstart/inventory.yml"]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("signed by key {}", quickstart_key_id())),
        "{}",
        describe(&out)
    );
    let new = text.find("\n1.1.0 ").expect("1.1.0 listed");
    let old = text.find("\n1.0.0 ").expect("1.0.0 listed");
    assert!(new < old, "newest first:\n{text}");
}

#[test]
fn json_output_has_each_artifact_with_its_real_size_and_sha256() {
    let out = run(fleetup().args([
        "releases",
        "-i",
        "examples/quickstart/inventory.yml",
        "--output",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["key_id"], json!(quickstart_key_id()));
    let releases = doc["releases"].as_array().unwrap();
    assert_eq!(releases[0]["version"], "1.1.0");
    assert_eq!(releases[1]["version"], "1.0.0");
    for r in releases {
        for a in r["artifacts"].as_array().unwrap() {
            let file = repo_path("examples/quickstart/releases").join(a["url"].as_str().unwrap());
            let bytes = std::fs::read(&file).unwrap();
            assert_eq!(a["size"], json!(bytes.len()), "{file:?}");
            assert_eq!(
                a["sha256"],
                json!(hex::encode(Sha256::digest(&bytes))),
                "{file:?}"
            );
        }
    }
}

#[test]
fn an_untrusted_key_or_no_key_exits_2_and_says_which() {
    let stranger = Key::new();
    let out = run(fleetup()
        .args([
            "releases",
            "--source",
            "examples/quickstart/releases",
            "--public-key",
        ])
        .arg(stranger.b64()));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&quickstart_key_id()) && err.contains(&stranger.id()),
        "{}",
        describe(&out)
    );
    assert!(
        err.contains("stable.json"),
        "the file is named: {}",
        describe(&out)
    );

    let out = run(fleetup().args([
        "releases",
        "-i",
        "examples/quickstart/inventory.yml",
        "-e",
        r#"{"fleetup_public_keys": []}"#,
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr(&out).contains("no trusted key"),
        "{}",
        describe(&out)
    );
}

#[test]
fn hosts_on_two_channels_must_be_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("two.ini");
    std::fs::write(
        &inv,
        "[web]\nw1\n[db]\nd1 fleetup_channel=dev\n[all:vars]\nfleetup_source=/srv/rel\nfleetup_public_keys=['k.pub']\n",
    )
    .unwrap();
    let out = run(fleetup().arg("-i").arg(&inv).arg("releases"));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("2 release channels") && err.contains("dev") && err.contains("--limit"),
        "{}",
        describe(&out)
    );
}

#[test]
fn an_expired_index_exits_2_with_both_times() {
    let f = Fixture::new();
    let mut doc = f.doc();
    doc["expires"] = json!("2020-01-01T00:00:00Z");
    f.publish(&doc, &f.key);
    let out = run(fleetup()
        .args(["releases", "--source"])
        .arg(f.dir.path())
        .arg("--public-key")
        .arg(f.key.b64()));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr(&out).contains("expired at 2020-01-01T00:00:00Z"),
        "{}",
        describe(&out)
    );
}

#[test]
fn download_over_http_is_verified_cached_and_never_repeated() {
    let f = Fixture::new();
    let server = HttpServer::start(f.dir.path());
    let releases = |extra: &[&str]| {
        run(fleetup()
            .env("XDG_CACHE_HOME", f.cache_dir.path())
            .args([
                "releases",
                "--download",
                "--no-progress",
                "--source",
                &server.base_url(),
                "--public-key",
            ])
            .arg(f.key.b64())
            .args(extra))
    };
    let out = releases(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let cached = f
        .cache_dir
        .path()
        .join("fleetup/sha256")
        .join(hex::encode(Sha256::digest(&f.artifact)));
    assert_eq!(
        std::fs::read(&cached).expect("artifact in the cache"),
        f.artifact
    );
    assert!(
        stdout(&out).contains("cached 2.0.0 linux/amd64"),
        "{}",
        describe(&out)
    );
    assert_eq!(server.requests(&format!("/{ART}")), 1);

    let again = releases(&[]);
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    assert_eq!(
        server.requests(&format!("/{ART}")),
        1,
        "a cached artifact is not downloaded again"
    );

    // The older release, tampered in transit: refused, named, and not cached.
    server.set_fault("/demoapp-1.0.0-linux-amd64", Fault::FlipByte(10));
    let out = releases(&["--version", "1.0.0"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("demoapp-1.0.0-linux-amd64") && err.contains("sha256"),
        "{}",
        describe(&out)
    );
    let entries = std::fs::read_dir(f.cache_dir.path().join("fleetup/sha256"))
        .unwrap()
        .count();
    assert_eq!(
        entries, 1,
        "only the verified 2.0.0 artifact is in the cache"
    );
}
