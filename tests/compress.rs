//! `fleetup_compress`: the artifact sent compressed and decompressed on the host by the real
//! `zstd` / `gzip` commands, checked there against the artifact's own size and sha256; a host
//! without the decompressor gets it uncompressed; a bad stream stages nothing.

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use fleetup::compress::Compression;
use fleetup::plan::{Action, decide};
use fleetup::steps::{HostSettings, Outcome, Step, probe, upgrade};
use fleetup::transport::local::LocalTransport;
use serde_json::json;

use crate::fleet::{channel_vars, demoapp, field, install, json};
use crate::support::lab::Lab;
use crate::support::{artifact, describe, fleetup, require_root, run};

/// A demo binary of `version`, padded with executable-like text so it compresses like one.
fn binary(version: &str) -> Vec<u8> {
    let mut v = format!(
        "#!/bin/sh\ncase \"${{1:-}}\" in --version) echo \"demo {version}\" ;; esac\nexit 0\n"
    )
    .into_bytes();
    for i in 0..4000u32 {
        v.extend_from_slice(format!("# {i:08x} mov rax, [rbp-{}]\n", i % 97).as_bytes());
    }
    v
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.contains(".fleetup-bak-"))
        .collect();
    v.sort();
    v
}

/// Through the local transport: each compression stages the exact bytes; a corrupt stream,
/// a stream of other content and a stream that inflates past the artifact all fail the stage
/// with the target and its directory untouched.
#[tokio::test]
async fn compressed_streams_stage_exactly_or_nothing() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    let old = binary("1.0.0");
    std::fs::write(&app, &old).unwrap();
    std::fs::set_permissions(&app, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let t = LocalTransport::new("local-compress");
    let new = binary("1.1.0");
    let a = artifact(&new);

    for (policy, want) in [("zstd", Compression::Zstd), ("gzip", Compression::Gzip)] {
        std::fs::write(&app, &old).unwrap();
        let mut settings = HostSettings::for_binary(app.to_str().unwrap());
        settings.compress = fleetup::compress::CompressPolicy::parse(policy).unwrap();
        let p = probe(&t, &settings).await.unwrap();
        assert!(p.decompressors.contains(&want), "{:?}", p.decompressors);
        let plan = decide(&p, &settings, "1.1.0", &a, false);
        assert_eq!(plan.action, Action::Upgrade);
        assert_eq!(plan.compression, want);
        assert!(plan.reason().contains(&format!("({policy} compressed)")));

        // Bad streams first: garbage, another binary's stream, and one that inflates to more
        // than the artifact (a decompression bomb is cut at size + 1).
        let mut big = new.clone();
        big.extend(std::iter::repeat_n(b'#', 8 << 20));
        for (what, stream) in [
            (
                "garbage",
                Bytes::from_static(b"this is not a compressed stream"),
            ),
            ("other", Bytes::from(want.compress(&old).unwrap())),
            ("bomb", Bytes::from(want.compress(&big).unwrap())),
        ] {
            let e = upgrade(&t, &settings, &plan, stream, "run-c")
                .await
                .unwrap_err();
            assert_eq!(e.step, Step::Stage, "{policy} {what}: {e}");
            assert!(
                e.stderr.contains("received") || e.stderr.contains("sha256 mismatch"),
                "{policy} {what}: {e}"
            );
            assert_eq!(std::fs::read(&app).unwrap(), old, "{policy} {what}");
            assert_eq!(names(dir.path()), ["app"], "{policy} {what}: left behind");
        }

        let packed = Bytes::from(want.compress(&new).unwrap());
        assert!(packed.len() * 2 < new.len(), "{policy}: {}", packed.len());
        let out = upgrade(&t, &settings, &plan, packed, "run-c")
            .await
            .unwrap();
        assert!(matches!(out, Outcome::Upgraded { .. }), "{out:?}");
        assert_eq!(std::fs::read(&app).unwrap(), new, "{policy}");
        assert_eq!(names(dir.path()), ["app"]);
    }
}

/// Hides a command from one lab host: `/dev/null` bound over it in that host's own mount
/// namespace (`command -v` skips what is not a regular file).
fn hide_on_host(lab: &Lab, index: usize, path: &str) {
    let pid = lab.pids()[index].to_string();
    let out =
        run(Command::new("nsenter").args(["-t", &pid, "-m", "mount", "--bind", "/dev/null", path]));
    assert!(out.status.success(), "{}", describe(&out));
}

/// End to end over SSH: zstd to one host, gzip to another, and a host asking for zstd without
/// having it gets the plain bytes. Each ends with the exact release bytes, and `bytes_sent`
/// says what crossed the wire.
#[test]
fn lab_upgrade_with_zstd_gzip_and_a_host_without_zstd() {
    require_root();
    let lab = Lab::start(3);
    let names: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
    for h in &names {
        install(&lab.opt_dir(h).join("demoapp/demoapp"), "1.0.0");
    }
    hide_on_host(&lab, 2, "/usr/bin/zstd");
    let scratch = tempfile::tempdir().unwrap();
    let vars = scratch.path().join("compress.yml");
    std::fs::write(
        &vars,
        format!(
            "all:\n  hosts:\n    {}:\n      fleetup_compress: zstd\n    {}:\n      fleetup_compress: gzip\n    {}:\n      fleetup_compress: zstd\n",
            names[0], names[1], names[2]
        ),
    )
    .unwrap();
    let fleet = |args: &[&str]| {
        run(fleetup()
            .env("XDG_CACHE_HOME", scratch.path().join("cache"))
            .arg("-i")
            .arg(lab.inventory())
            .arg("-i")
            .arg(&vars)
            .args(["-e", &channel_vars(), "--output", "json"])
            .args(args))
    };

    let check = fleet(&["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", describe(&check));
    let doc = json(&check);
    let reason = |h: &str| field(&doc, h, "reason").as_str().unwrap().to_owned();
    assert!(reason(&names[0]).contains("(zstd compressed)"), "{doc:#}");
    assert!(reason(&names[1]).contains("(gzip compressed)"), "{doc:#}");
    assert!(!reason(&names[2]).contains("compressed"), "{doc:#}");

    let up = fleet(&["upgrade", "--yes"]);
    assert_eq!(up.status.code(), Some(0), "{}", describe(&up));
    let doc = json(&up);
    let want = demoapp("1.1.0");
    let size = json!(want.len());
    for h in &names {
        assert_eq!(field(&doc, h, "result"), "upgraded", "{doc:#}");
        let on_host = std::fs::read_to_string(lab.opt_dir(h).join("demoapp/demoapp")).unwrap();
        assert_eq!(on_host, want, "{h}");
        let out = lab.ssh(h, "/opt/demoapp/demoapp --version");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "demoapp 1.1.0\n");
    }
    for (i, c) in [(0, Compression::Zstd), (1, Compression::Gzip)] {
        let packed = c.compress(want.as_bytes()).unwrap().len();
        assert_eq!(
            field(&doc, &names[i], "bytes_sent"),
            json!(packed),
            "{}: {doc:#}",
            c.name()
        );
        assert_ne!(json!(packed), size);
    }
    assert_eq!(field(&doc, &names[2], "bytes_sent"), size, "{doc:#}");
}
