use std::path::Path;

use base64::Engine;

use super::args::{parse_artifact, parse_expires, parse_version};
use super::*;

fn no_password() -> Passwords {
    Passwords {
        env: None,
        terminal: false,
    }
}

fn password(p: &str) -> Passwords {
    Passwords {
        env: Some(p.to_owned()),
        terminal: false,
    }
}

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

#[test]
fn artifacts_need_go_names() {
    let (os, arch, file) = parse_artifact("linux/amd64=target/app").unwrap();
    assert_eq!((os.as_str(), arch.as_str()), ("linux", "amd64"));
    assert_eq!(file, Path::new("target/app"));
    // `=` in the file name is kept.
    assert_eq!(
        parse_artifact("darwin/arm64=a=b").unwrap().2,
        Path::new("a=b")
    );
    let err = parse_artifact("linux/x86_64=app").unwrap_err().to_string();
    assert!(err.contains("did you mean linux/amd64?"), "{err}");
    let err = parse_artifact("macos/aarch64=app").unwrap_err().to_string();
    assert!(err.contains("did you mean darwin/arm64?"), "{err}");
    let err = parse_artifact("linux/sparc=app").unwrap_err().to_string();
    assert!(err.contains("known for linux: linux/386"), "{err}");
    for bad in ["linux-amd64=app", "linux/amd64", "linux/amd64=", "=app"] {
        let err = parse_artifact(bad).unwrap_err().to_string();
        assert!(err.contains("OS/ARCH=FILE"), "{bad}: {err}");
    }
}

#[test]
fn expires_is_a_duration_or_a_time_in_the_future() {
    let now = ts("2026-01-01T00:00:00Z");
    assert_eq!(
        parse_expires("90d", now).unwrap(),
        ts("2026-04-01T00:00:00Z")
    );
    assert_eq!(
        parse_expires("12h", now).unwrap(),
        ts("2026-01-01T12:00:00Z")
    );
    assert_eq!(
        parse_expires("2w", now).unwrap(),
        ts("2026-01-15T00:00:00Z")
    );
    assert_eq!(
        parse_expires("2030-01-01T00:00:00Z", now).unwrap(),
        ts("2030-01-01T00:00:00Z")
    );
    assert_eq!(
        parse_expires("2030-01-01T02:00:00.75+02:00", now).unwrap(),
        ts("2030-01-01T00:00:00Z")
    );
    for bad in ["2020-01-01T00:00:00Z", "0d", "-1d", "soon", "90", "d", ""] {
        assert!(parse_expires(bad, now).is_err(), "{bad}");
    }
}

#[test]
fn versions_are_semver() {
    assert!(parse_version("2.0.0-rc.1").is_ok());
    let err = parse_version("v1.2.3").unwrap_err().to_string();
    assert!(err.contains("write 1.2.3, without the v"), "{err}");
    assert!(parse_version("1.2").is_err());
}

#[test]
fn no_password_and_no_terminal_is_a_clear_error() {
    let err = no_password()
        .get(Path::new("k.key"), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("k.key"), "{err}");
    assert!(err.contains(PASSWORD_ENV), "{err}");
    assert!(err.contains("-W"), "{err}");
    let err = password("").get(Path::new("k"), true).unwrap_err();
    assert!(err.to_string().contains("empty password"), "{err}");
    // An existing key may have an empty password (minisign allows it).
    assert_eq!(password("").get(Path::new("k"), false).unwrap(), "");
}

fn keypair(dir: &Path, unencrypted: bool, passwords: &Passwords) -> KeyPairWritten {
    keygen(
        &KeygenRequest {
            public_key: &dir.join("k.pub"),
            secret_key: &dir.join("keys/k.key"),
            unencrypted,
            force: false,
        },
        passwords,
    )
    .unwrap()
}

#[test]
fn keygen_sign_verify_round_trip_with_a_password() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let written = keypair(dir.path(), false, &password("hunter2"));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&written.secret_key), 0o600);
    assert_eq!(mode(&dir.path().join("keys")), 0o700);
    let pub_text = std::fs::read_to_string(&written.public_key).unwrap();
    assert_eq!(
        pub_text,
        format!(
            "untrusted comment: minisign public key {}\n{}\n",
            written.key_id, written.public_key_base64
        )
    );

    let err = load_secret_key(&written.secret_key, &password("wrong"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("wrong password"), "{err}");
    let err = load_secret_key(&written.secret_key, &no_password())
        .unwrap_err()
        .to_string();
    assert!(err.contains(PASSWORD_ENV), "{err}");

    let key = load_secret_key(&written.secret_key, &password("hunter2")).unwrap();
    assert_eq!(key.key_id(), written.key_id);
    let file = dir.path().join("data.bin");
    std::fs::write(&file, b"payload").unwrap();
    let sig = sign_file(&key, &file, None, None).unwrap();
    assert_eq!(sig, dir.path().join("data.bin.minisig"));
    let verified = verify_file(&written.public_key_base64, &file, None, false).unwrap();
    assert!(
        verified
            .trusted_comment
            .ends_with("\tfile:data.bin\thashed"),
        "{}",
        verified.trusted_comment
    );
    std::fs::write(&file, b"payloaD").unwrap();
    assert!(verify_file(&written.public_key_base64, &file, None, false).is_err());

    // Existing files are kept unless forced.
    let again = KeygenRequest {
        public_key: &written.public_key,
        secret_key: &written.secret_key,
        unencrypted: true,
        force: false,
    };
    let err = keygen(&again, &no_password()).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
    let forced = keygen(
        &KeygenRequest {
            force: true,
            ..again
        },
        &no_password(),
    )
    .unwrap();
    assert_ne!(forced.key_id, written.key_id);
}

#[test]
fn an_unencrypted_key_with_a_zero_checksum_signs() {
    // What `minisign -G -W` 0.11 writes: no checksum.
    let dir = tempfile::tempdir().unwrap();
    let written = keypair(dir.path(), true, &no_password());
    let text = std::fs::read_to_string(&written.secret_key).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = b64.decode(text.lines().nth(1).unwrap()).unwrap();
    let n = bytes.len();
    bytes[n - 32..].fill(0);
    std::fs::write(
        &written.secret_key,
        format!(
            "untrusted comment: minisign encrypted secret key\n{}\n",
            b64.encode(&bytes)
        ),
    )
    .unwrap();
    let key = load_secret_key(&written.secret_key, &no_password()).unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    sign_file(&key, &file, Some("hello"), None).unwrap();
    let v = verify_file(&written.public_key_base64, &file, None, false).unwrap();
    assert_eq!(v.trusted_comment, "hello");

    // A damaged secret half is caught when signing, not written as a bad signature.
    bytes[70] ^= 1; // in the Ed25519 seed
    std::fs::write(
        &written.secret_key,
        format!("untrusted comment: x\n{}\n", b64.encode(&bytes)),
    )
    .unwrap();
    let key = load_secret_key(&written.secret_key, &no_password()).unwrap();
    assert!(sign_file(&key, &file, None, None).is_err());
}

#[test]
fn comments_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let written = keypair(dir.path(), true, &no_password());
    let key = load_secret_key(&written.secret_key, &no_password()).unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let err = sign_file(&key, &file, Some("a\nb"), None).unwrap_err();
    assert!(err.to_string().contains("one line"), "{err}");
    assert!(sign_file(&key, &file, None, Some("a\rb")).is_err());
    assert!(!dir.path().join("f.minisig").exists());
}

#[test]
fn an_index_with_unknown_fields_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stable.json");
    let text = r#"{"product":"p","channel":"stable","expires":"2030-01-01T00:00:00Z","mirror":"x",
      "releases":[{"version":"1.0.0","artifacts":[{"os":"linux","arch":"amd64","url":"u",
      "size":1,"sha256":"00","arm":"v7"}]}]}"#;
    let err = super::channel::parse_index(&path, text.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mirror, releases[0].artifacts[0].arm"),
        "{err}"
    );
}

#[test]
fn every_publish_stamps_the_index_with_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let written = keypair(dir.path(), true, &no_password());
    let key = load_secret_key(&written.secret_key, &no_password()).unwrap();
    let artifact = dir.path().join("app");
    std::fs::write(&artifact, b"#!/bin/sh\n").unwrap();
    let spec = [format!("linux/amd64={}", artifact.display())];
    let releases = dir.path().join("releases");
    let publish = |version: &str, now: &str| {
        let req = PublishRequest {
            dir: &releases,
            channel: "stable",
            product: "app",
            version,
            label: None,
            notes: None,
            expires: "2030-01-01T00:00:00Z",
            replace: false,
            artifacts: &spec,
        };
        plan_publish(&req, ts(now)).unwrap().execute(&key).unwrap();
        let bytes = std::fs::read(releases.join("stable.json")).unwrap();
        let sig = std::fs::read_to_string(releases.join("stable.json.minisig")).unwrap();
        let verified = key
            .trusted_keys()
            .unwrap()
            .verify("stable.json", &bytes, &sig, false)
            .unwrap();
        let index =
            crate::release::ChannelIndex::parse("stable.json", "stable", &bytes, ts(now)).unwrap();
        (
            index.published.clone(),
            crate::release::history::index_time(&index, &verified.trusted_comment),
        )
    };
    let (published, time) = publish("1.0.0", "2026-01-01T10:00:00.5Z");
    assert_eq!(published, "2026-01-01T10:00:00Z");
    assert_eq!(time, Some(ts("2026-01-01T10:00:00Z")));
    let (published, time) = publish("1.1.0", "2026-02-01T10:00:00Z");
    assert_eq!(published, "2026-02-01T10:00:00Z");
    assert_eq!(time, Some(ts("2026-02-01T10:00:00Z")));
}
