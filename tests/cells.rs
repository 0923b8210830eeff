//! Pydio Cells fleets (#8): lab hosts — real OpenSSH servers, each running the demo service as
//! its "Cells" at `/opt/pydio/bin/cells` — upgraded from a stand-in Cells update server
//! (`tests/support/cells.rs`: a real HTTP server speaking Cells' protocol, signing with an RSA
//! key made by openssl), with the example inventory's variables.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use crate::fleet::{field, json};
use crate::support::cells::{Answer, CellsServer, Published, Quirk};
use crate::support::lab::Lab;
use crate::support::service::{
    Padding, Services, get, install_as_package, release_bytes, require_port_80_privileged,
    require_service_tools, restart_command_for, service_user,
};
use crate::support::{describe, fleetup, run};

/// Where the example inventory puts Cells, and so where each lab host has it.
const CELLS_BIN: &str = "/opt/pydio/bin/cells";

/// This machine's GOARCH (the lab hosts are this machine).
fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The variables `examples/cells/inventory.yml` gives a host that binds port 443 itself, as
/// `fleetup inventory --host` prints them.
fn example_vars() -> serde_json::Map<String, Value> {
    let out = run(fleetup().args([
        "-i",
        "examples/cells/inventory.yml",
        "inventory",
        "--host",
        "cells-us-01.example.org",
    ]));
    assert!(out.status.success(), "{}", describe(&out));
    let Value::Object(vars) = serde_json::from_slice(&out.stdout).unwrap() else {
        panic!("not an object");
    };
    vars
}

/// A second inventory giving each lab host the example's Cells variables, with only what a lab
/// must change: the lab's SSH user (root), the stand-in server and its key (in Cells' PEM
/// quirk), a restart command instead of systemd, the health check on the service's port 80,
/// shorter timeouts.
fn cells_inventory(dir: &Path, lab: &Lab, cells: &CellsServer, uid: u32, gid: u32) -> PathBuf {
    let example = example_vars();
    for (name, want) in [
        ("fleetup_binary", json!(CELLS_BIN)),
        ("fleetup_version_command", json!("{binary} version")),
        ("fleetup_service", json!("cells")),
        ("fleetup_cells_package", json!("PydioHome")),
        ("fleetup_setcap", json!("auto")),
        ("fleetup_bind_port", json!(443)),
    ] {
        assert_eq!(example.get(name), Some(&want), "examples/cells: {name}");
    }
    let mut hosts = serde_json::Map::new();
    for h in lab.hosts() {
        let mut vars = example.clone();
        vars.remove("ansible_user");
        vars.remove("fleetup_service");
        vars.remove("fleetup_health_command");
        vars.insert("fleetup_source".into(), json!(cells.source_url()));
        vars.insert("fleetup_public_keys".into(), json!([cells.keys.quirk]));
        vars.insert(
            "fleetup_restart_command".into(),
            json!(restart_command_for(CELLS_BIN, &h.addr, uid, gid, 10, None)),
        );
        vars.insert(
            "fleetup_health_url".into(),
            json!(format!("http://{}:80/", h.addr)),
        );
        vars.insert("fleetup_health_timeout".into(), json!(10));
        vars.insert("fleetup_restart_timeout".into(), json!(30));
        vars.insert("fleetup_bind_port".into(), json!(80));
        hosts.insert(h.name.clone(), Value::Object(vars));
    }
    let path = dir.join("cells.json");
    std::fs::write(&path, json!({"all": {"hosts": hosts}}).to_string()).unwrap();
    path
}

fn cells_bytes(version: &str) -> Vec<u8> {
    release_bytes(version, Padding::None, false)
}

fn getcap(path: &Path) -> String {
    let out = run(std::process::Command::new("getcap").arg(path));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Each request body has exactly Cells' five fields.
fn assert_request(req: &Value, channel: &str, version: &str) {
    assert_eq!(
        req,
        &json!({
            "Channel": channel,
            "PackageName": "PydioHome",
            "CurrentVersion": version,
            "GOOS": "linux",
            "GOARCH": goarch(),
        }),
        "the request body, field by field"
    );
}

#[test]
fn lab_cells_fleet_upgrades_from_the_update_server_with_its_signatures() {
    require_service_tools();
    require_port_80_privileged();
    let (uid, gid) = service_user();
    let work = tempfile::tempdir().unwrap();
    let cells = CellsServer::start();
    let arch = goarch();
    for v in ["4.4.4", "4.4.5"] {
        cells.publish("stable", "PydioHome", v, "linux", arch, &cells_bytes(v));
    }
    let v445_other_arch = cells.publish(
        "stable",
        "PydioHome",
        "4.4.5",
        "linux",
        if arch == "arm64" { "amd64" } else { "arm64" },
        b"another platform's binary",
    );
    let rc = cells.publish(
        "dev",
        "PydioHome",
        "4.5.0-rc1",
        "linux",
        arch,
        &cells_bytes("4.5.0-rc1"),
    );
    cells.publish(
        "stable",
        "PydioEnterprise",
        "9.0.0",
        "linux",
        arch,
        &cells_bytes("9.0.0"),
    );
    let patch = cells.publish("stable", "PydioHome", "4.4.6", "linux", arch, b"patch");
    cells.misbehave(&patch, Quirk::Patch);

    let lab = Lab::start(3);
    let names: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
    let addrs: Vec<String> = lab.hosts().iter().map(|h| h.addr.clone()).collect();
    let bin = |h: &str| lab.opt_dir(h).join("pydio/bin/cells");
    // Two hosts run 4.4.3 and one 4.4.4, installed as a package (with cap_net_bind_service)
    // and started by hand; the third has no capability yet: fleetup_bind_port 80 must set it.
    let started = |h: &str, addr: &str| {
        let out = lab.ssh(h, &restart_command_for(CELLS_BIN, addr, uid, gid, 10, None));
        assert!(out.status.success(), "{h}: first start: {}", describe(&out));
    };
    let services = Services(addrs.clone());
    for (i, h) in names.iter().enumerate() {
        let version = if i == 2 { "4.4.4" } else { "4.4.3" };
        install_as_package(&bin(h), &cells_bytes(version));
        started(h, &addrs[i]);
    }
    let inventory = cells_inventory(work.path(), &lab, &cells, uid, gid);
    let cache = work.path().join("cache");
    let fleet = |args: &[&str]| -> Output {
        run(fleetup()
            .current_dir(work.path())
            .env("XDG_CACHE_HOME", &cache)
            .env("XDG_STATE_HOME", work.path().join("state"))
            .arg("-i")
            .arg(lab.inventory())
            .arg("-i")
            .arg(&inventory)
            .args(["--output", "json"])
            .args(args))
    };

    // check: one request per distinct (version, os, arch), the whole fleet to 4.4.5.
    let check = fleet(&["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", describe(&check));
    let doc = json(&check);
    for (i, h) in names.iter().enumerate() {
        assert_eq!(field(&doc, h, "result"), "upgrade", "{doc:#}");
        let from = if i == 2 { "4.4.4" } else { "4.4.3" };
        assert_eq!(field(&doc, h, "from"), from, "{doc:#}");
        assert_eq!(field(&doc, h, "to"), "4.4.5", "{doc:#}");
    }
    let mut requests = cells.requests();
    requests.sort_by_key(|r| r["CurrentVersion"].to_string());
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_request(&requests[0], "stable", "4.4.3");
    assert_request(&requests[1], "stable", "4.4.4");
    assert_eq!(
        doc["summary"]["releases"][0]["product"], "PydioHome",
        "{doc:#}"
    );
    assert_eq!(doc["summary"]["releases"][0]["version"], "4.4.5");
    assert_eq!(cells.downloads(&v445_other_arch), 0);

    // upgrade: every host on 4.4.5, downloaded once, signature checked, setcap'd, serving.
    let up = fleet(&["upgrade", "--yes"]);
    assert_eq!(up.status.code(), Some(0), "{}", describe(&up));
    let doc = json(&up);
    let want = cells_bytes("4.4.5");
    for (i, h) in names.iter().enumerate() {
        assert_eq!(field(&doc, h, "result"), "upgraded", "{doc:#}");
        assert_eq!(field(&doc, h, "to"), "4.4.5");
        assert!(
            std::fs::read(bin(h)).unwrap() == want,
            "{h}: 4.4.5 in place"
        );
        assert!(
            getcap(&bin(h)).contains("cap_net_bind_service=ep"),
            "{h}: {:?}",
            getcap(&bin(h))
        );
        assert_eq!(
            get(&addrs[i]).as_deref(),
            Ok("demo-service 4.4.5\n"),
            "{h} serves the new version"
        );
    }
    assert_eq!(
        cells.requests().len(),
        4,
        "upgrade asked again, once per (version, os, arch)"
    );

    // Run again: the server offers nothing newer, every host is unchanged, one request.
    let again = fleet(&["upgrade", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    let doc = json(&again);
    for h in &names {
        assert_eq!(field(&doc, h, "result"), "unchanged", "{doc:#}");
    }
    let requests = cells.requests();
    assert_eq!(requests.len(), 5, "{requests:#?}");
    assert_request(&requests[4], "stable", "4.4.5");
    let check = fleet(&["check"]);
    let doc = json(&check);
    assert!(
        field(&doc, &names[0], "reason")
            .as_str()
            .is_some_and(|r| r.contains("offers nothing newer")),
        "{doc:#}"
    );

    // --version of a version the server does not offer these hosts: refused, nothing changed.
    let older = fleet(&[
        "upgrade",
        "--yes",
        "--version",
        "4.4.4",
        "--allow-downgrade",
    ]);
    assert_eq!(older.status.code(), Some(2), "{}", describe(&older));
    let err = String::from_utf8_lossy(&older.stderr);
    assert!(
        err.contains("PydioHome has no version 4.4.4 on channel \"stable\""),
        "{err}"
    );
    assert!(std::fs::read(bin(&names[0])).unwrap() == want);

    // The dev channel: pre-releases count; one host goes to 4.5.0-rc1.
    let dev = fleet(&[
        "-e",
        "fleetup_channel=dev",
        "-l",
        names[0].as_str(),
        "upgrade",
        "--yes",
    ]);
    assert_eq!(dev.status.code(), Some(0), "{}", describe(&dev));
    let doc = json(&dev);
    assert_eq!(field(&doc, &names[0], "to"), "4.5.0-rc1", "{doc:#}");
    assert_eq!(cells.downloads(&rc), 1);
    assert_request(cells.requests().last().unwrap(), "dev", "4.4.5");
    assert_eq!(get(&addrs[0]).as_deref(), Ok("demo-service 4.5.0-rc1\n"));

    // Rolled back: the report warns that Cells' data is not.
    let back = run(fleetup()
        .env("XDG_STATE_HOME", work.path().join("state"))
        .arg("-i")
        .arg(lab.inventory())
        .arg("-i")
        .arg(&inventory)
        .args(["-l", names[0].as_str(), "rollback", "--yes"]));
    assert_eq!(back.status.code(), Some(0), "{}", describe(&back));
    let text = String::from_utf8_lossy(&back.stdout);
    assert!(
        text.contains("Cells: the binary is rolled back, not the data"),
        "{}",
        describe(&back)
    );
    assert!(std::fs::read(bin(&names[0])).unwrap() == want);
    drop(services);
}

/// What a host's binary directory holds, with each file's bytes, mode and mtime.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>, u32, i64)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
                m.mode(),
                m.mtime_nsec() + m.mtime() * 1_000_000_000,
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn lab_cells_bad_binaries_and_bad_answers_are_refused_before_any_host_is_touched() {
    let work = tempfile::tempdir().unwrap();
    let lab = Lab::start(1);
    let h = lab.hosts()[0].name.clone();
    let bin = lab.opt_dir(&h).join("pydio/bin/cells");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::write(&bin, cells_bytes("4.4.3")).unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let before = snapshot(bin.parent().unwrap());
    let cache = work.path().join("cache");

    let upgrade = |cells: &CellsServer, keys: Value, more: &[&str]| -> Output {
        let vars = json!({
            "fleetup_source": cells.source_url(),
            "fleetup_public_keys": keys,
            "fleetup_binary": CELLS_BIN,
            "fleetup_version_command": "{binary} version",
        });
        run(fleetup()
            .current_dir(work.path())
            .env("XDG_CACHE_HOME", &cache)
            .env("XDG_STATE_HOME", work.path().join("state"))
            .arg("-i")
            .arg(lab.inventory())
            .args(["-e", &vars.to_string()])
            .args(more)
            .args(["upgrade", "--yes"]))
    };
    let v445 = cells_bytes("4.4.5");
    // Each case on a server of its own: 4.4.5 published, then made to misbehave.
    let case = |setup: &dyn Fn(&CellsServer, &Published),
                keys: &dyn Fn(&CellsServer) -> Value,
                want: &str|
     -> CellsServer {
        let cells = CellsServer::start();
        let p = cells.publish("stable", "PydioHome", "4.4.5", "linux", goarch(), &v445);
        setup(&cells, &p);
        let out = upgrade(&cells, keys(&cells), &[]);
        assert_eq!(out.status.code(), Some(2), "{want}: {}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "want {want:?} in: {err}");
        assert_eq!(
            snapshot(bin.parent().unwrap()),
            before,
            "{want}: the host's directory is untouched"
        );
        assert!(
            walk_files(&cache)
                .iter()
                .all(|f| std::fs::read(f).unwrap() != v445),
            "{want}: a refused binary is not kept in the cache"
        );
        cells
    };
    let quirk = |q: Quirk| move |c: &CellsServer, p: &Published| c.misbehave(p, q.clone());
    let ours = |c: &CellsServer| json!([c.keys.quirk]);
    let answer = |a: Answer| move |c: &CellsServer, _: &Published| c.set_answer(a.clone());

    case(
        &quirk(Quirk::SignedByOtherKey),
        &ours,
        "BinarySignature does not verify with the configured key",
    );
    case(
        &quirk(Quirk::SignatureOverOtherBytes),
        &ours,
        "BinarySignature does not verify with the configured key",
    );
    case(
        &quirk(Quirk::NoSignature),
        &ours,
        "missing checksum and signature infos",
    );
    case(
        &quirk(Quirk::NoChecksum),
        &ours,
        "missing checksum and signature infos",
    );
    case(
        &quirk(Quirk::ChecksumOfOtherBytes),
        &ours,
        "nothing was cached",
    );
    case(
        &quirk(Quirk::TamperedAfterSigning),
        &ours,
        "nothing was cached",
    );
    case(
        &quirk(Quirk::HashType("md5".into())),
        &ours,
        "BinaryHashType \"md5\" is not supported",
    );
    case(
        &answer(Answer::problem("Service unavailable", "database is down")),
        &ours,
        "could not connect to the update server, error code was 500: Service unavailable (database is down)",
    );
    case(&answer(Answer::status(404)), &ours, "error code was 404");
    case(&answer(Answer::Garbage), &ours, "not an update response");
    // The right binary, but the operator trusts another key (standard SPKI PEM).
    case(
        &|_: &CellsServer, _: &Published| {},
        &|c: &CellsServer| json!([c.keys.other_spki]),
        "BinarySignature does not verify with the configured key",
    );
    // No key at all: refused before any host is contacted or the server asked.
    let keyless = case(
        &|_: &CellsServer, _: &Published| {},
        &|_: &CellsServer| json!([]),
        "no key configured",
    );
    assert!(keyless.requests().is_empty(), "the server was not asked");

    // The same lab and a well-behaved server: the upgrade goes through, with the key given
    // inline as standard SPKI text.
    let cells = CellsServer::start();
    cells.publish("stable", "PydioHome", "4.4.5", "linux", goarch(), &v445);
    let out = upgrade(&cells, json!([cells.keys.spki_pem]), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(std::fs::read(&bin).unwrap() == v445);
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn releases_lists_what_a_cells_server_offers_and_downloads_with_its_signature() {
    let work = tempfile::tempdir().unwrap();
    let cells = CellsServer::start();
    for (channel, v) in [
        ("stable", "4.4.4"),
        ("stable", "4.4.5"),
        ("stable", "4.4.10"),
        ("stable", "4.4.10-rc1"),
    ] {
        cells.publish(channel, "PydioHome", v, "linux", "amd64", &cells_bytes(v));
    }
    let unsigned = cells.publish("stable", "PydioHome", "4.4.11", "linux", "amd64", b"x");
    cells.misbehave(&unsigned, Quirk::NoSignature);
    cells.publish("stable", "PydioHome", "4.4.5", "linux", "arm64", b"arm");
    let cache = work.path().join("cache");
    let releases = |args: &[&str]| -> Output {
        run(fleetup()
            .env("XDG_CACHE_HOME", &cache)
            .args(["releases", "--source", &cells.source_url(), "--public-key"])
            .arg(&cells.keys.quirk)
            .args(["--os", "linux", "--arch", "amd64"])
            .args(args))
    };

    let out = releases(&["--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions: Vec<&str> = doc["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(
        versions,
        ["4.4.11", "4.4.10", "4.4.5", "4.4.4"],
        "newest first by semver, the pre-release hidden: {doc:#}"
    );
    assert!(
        doc["releases"][0]["refused"]
            .as_str()
            .is_some_and(|r| r.contains("missing checksum and signature")),
        "{doc:#}"
    );
    assert_eq!(
        doc["releases"][1]["sha256"],
        crate::support::sha256_hex(&cells_bytes("4.4.10"))
    );
    assert_eq!(
        cells.requests(),
        [
            json!({"Channel": "stable", "PackageName": "PydioHome", "CurrentVersion": "0.0.0",
                "GOOS": "linux", "GOARCH": "amd64"})
        ]
    );

    // As a 4.4.5 host would ask, pre-releases shown; text marks the unsigned binary.
    let out = releases(&["--current-version", "4.4.5", "--pre"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let listed: Vec<&str> = text
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(listed, ["4.4.11", "4.4.10", "4.4.10-rc1"], "{text}");
    assert!(text.contains("[refused: missing checksum"), "{text}");
    assert_eq!(cells.requests()[1]["CurrentVersion"], "4.4.5");

    // --download: the newest that would be accepted is asked for by version; the unsigned one
    // is refused.
    let out = releases(&["--download", "--version", "4.4.10"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let cached = text
        .lines()
        .find(|l| l.starts_with("cached 4.4.10 linux/amd64"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(cached.ends_with("(signature verified)"), "{cached}");
    let path = cached.split_whitespace().nth(4).unwrap();
    assert!(std::fs::read(path).unwrap() == cells_bytes("4.4.10"));
    let out = releases(&["--download", "--version", "4.4.11"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing checksum and signature infos"),
        "{}",
        describe(&out)
    );

    // Signed by another key: downloaded, refused, not kept.
    let other = CellsServer::start();
    let p = other.publish(
        "stable",
        "PydioHome",
        "4.4.5",
        "linux",
        "amd64",
        &cells_bytes("4.4.5"),
    );
    other.misbehave(&p, Quirk::SignedByOtherKey);
    let out = run(fleetup()
        .env("XDG_CACHE_HOME", &cache)
        .args(["releases", "--source", &other.source_url(), "--public-key"])
        .arg(&other.keys.spki)
        .args(["--os", "linux", "--arch", "amd64", "--download"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("BinarySignature does not verify"),
        "{}",
        describe(&out)
    );
    assert!(
        walk_files(&cache)
            .iter()
            .all(|f| std::fs::read(f).unwrap() != cells_bytes("4.4.5")),
        "not kept in the cache"
    );
}
