//! The publisher's commands (`fleetup release keygen | sign | verify | publish`) against the
//! real `minisign` CLI, both ways: minisign verifies what fleetup signs, fleetup verifies what
//! minisign signs, and each signs with the other's keys.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{describe, fleetup, require_tool, run};

const PASSWORD: &str = "correct horse battery staple";

/// A temp dir to work in, with `fleetup` and `minisign` run from it.
struct Bench {
    dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Self {
        require_tool("minisign", "apt-get install minisign");
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    /// `fleetup` in the bench: no password in the environment, HOME in the bench, stdin null.
    fn fleetup(&self, args: &[&str]) -> Command {
        let mut cmd = fleetup();
        cmd.current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env_remove("MINISIGN_CONFIG_DIR")
            .env_remove("FLEETUP_KEY_PASSWORD")
            .stdin(Stdio::null())
            .args(["release"])
            .args(args);
        cmd
    }

    /// `fleetup` with the password in `FLEETUP_KEY_PASSWORD`.
    fn fleetup_pw(&self, args: &[&str]) -> Command {
        let mut cmd = self.fleetup(args);
        cmd.env("FLEETUP_KEY_PASSWORD", PASSWORD);
        cmd
    }

    fn ok(&self, cmd: &mut Command) -> Output {
        let out = run(cmd);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}\n{}", describe(&out));
        out
    }

    /// Runs `cmd`, expects exit 2 and returns stderr.
    fn fails(&self, cmd: &mut Command) -> String {
        let out = run(cmd);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}\n{}", describe(&out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `minisign ARGS` in the bench, `stdin` fed to it (minisign reads passwords from a
    /// stdin that is not a terminal).
    fn minisign(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new("minisign")
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run minisign");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn minisign_ok(&self, args: &[&str], stdin: &str) -> Output {
        let out = self.minisign(args, stdin);
        assert!(
            out.status.success(),
            "minisign {args:?}\n{}",
            describe(&out)
        );
        out
    }

    /// `minisign -V` of `file` with the key file `pubkey`: does it verify?
    fn minisign_verifies(&self, pubkey: &str, file: &str) -> bool {
        self.minisign(&["-V", "-p", pubkey, "-m", file], "")
            .status
            .success()
    }

    /// fleetup key pair: `-W` or password-protected (password from the environment).
    fn fleetup_keygen(&self, name: &str, unencrypted: bool) {
        let (p, s) = (format!("{name}.pub"), format!("{name}.key"));
        let mut args = vec!["keygen", "-p", &p, "-s", &s];
        if unencrypted {
            args.push("-W");
        }
        self.ok(&mut self.fleetup_pw(&args));
    }

    /// The key id in a `.pub` file's comment (`minisign public key <ID>`).
    fn key_id(&self, pubkey: &str) -> String {
        let text = self.read(pubkey);
        let first = text.lines().next().unwrap();
        first.rsplit(' ').next().unwrap().to_owned()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    stdout(&out).split_whitespace().next().unwrap().to_owned()
}

#[test]
fn minisign_verifies_what_fleetup_signs_with_an_unencrypted_key() {
    let b = Bench::new();
    let out = b.ok(&mut b.fleetup(&["keygen", "-p", "k.pub", "-s", "k.key", "-W"]));
    let text = stdout(&out);
    assert!(
        text.contains("wrote secret key k.key (NOT password-protected)"),
        "{text}"
    );
    let key_line = b.read("k.pub").lines().nth(1).unwrap().to_owned();
    assert!(text.contains(&key_line), "{text}");
    b.write("data.bin", b"some release bytes\n");
    let out = b.ok(&mut b.fleetup(&["sign", "-s", "k.key", "data.bin"]));
    assert!(
        stdout(&out).contains("wrote data.bin.minisig"),
        "{}",
        stdout(&out)
    );

    // minisign 0.11 prints the verification on stdout, as fleetup does.
    let out = b.minisign_ok(&["-V", "-p", "k.pub", "-m", "data.bin"], "");
    let err = stdout(&out);
    assert!(
        err.contains("Signature and comment signature verified"),
        "{err}"
    );
    // minisign's own default trusted comment shape.
    assert!(err.contains("\tfile:data.bin\thashed"), "{err}");
    assert!(
        b.minisign(&["-V", "-H", "-P", &key_line, "-m", "data.bin"], "")
            .status
            .success()
    );
    // minisign can sign with the key fleetup made.
    b.minisign_ok(
        &["-S", "-s", "k.key", "-m", "data.bin", "-x", "m.minisig"],
        "",
    );
    b.ok(&mut b.fleetup(&["verify", "-p", "k.pub", "-x", "m.minisig", "data.bin"]));
}

#[test]
fn minisign_verifies_what_fleetup_signs_with_a_password_protected_key() {
    let b = Bench::new();
    b.fleetup_keygen("k", false);
    let secret = b.read("k.key");
    assert!(secret.starts_with("untrusted comment: minisign encrypted secret key\n"));
    b.write("a.txt", b"alpha");
    b.write("b.txt", b"beta");
    let out = b.ok(&mut b.fleetup_pw(&[
        "sign",
        "-s",
        "k.key",
        "-t",
        "release 1.0",
        "-c",
        "hello",
        "a.txt",
        "b.txt",
    ]));
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));
    for f in ["a.txt", "b.txt"] {
        let out = b.minisign_ok(&["-V", "-p", "k.pub", "-m", f], "");
        assert!(
            stdout(&out).contains("Trusted comment: release 1.0"),
            "{}",
            describe(&out)
        );
    }
    assert!(
        b.read("a.txt.minisig")
            .starts_with("untrusted comment: hello\n")
    );
    // The wrong password is refused with the key named.
    let err = b.fails(
        b.fleetup(&["sign", "-s", "k.key", "a.txt"])
            .env("FLEETUP_KEY_PASSWORD", "nope"),
    );
    assert!(err.contains("k.key: wrong password"), "{err}");
    // minisign can sign with fleetup's encrypted key, given the password.
    b.minisign_ok(
        &["-S", "-s", "k.key", "-m", "a.txt", "-x", "m.minisig"],
        &format!("{PASSWORD}\n"),
    );
    b.ok(&mut b.fleetup(&["verify", "-p", "k.pub", "-x", "m.minisig", "a.txt"]));
}

#[test]
fn fleetup_verifies_what_minisign_signs_and_refuses_legacy_unless_allowed() {
    let b = Bench::new();
    b.minisign_ok(&["-G", "-W", "-p", "m.pub", "-s", "m.key"], "");
    b.write("f", b"payload");
    b.minisign_ok(&["-S", "-s", "m.key", "-m", "f"], "");
    let out = b.ok(&mut b.fleetup(&["verify", "-p", "m.pub", "f"]));
    let text = stdout(&out);
    assert!(
        text.starts_with("Signature and comment signature verified\nTrusted comment: timestamp:"),
        "{text}"
    );
    assert!(text.contains("\tfile:f\thashed"), "{text}");
    let key_line = b.read("m.pub").lines().nth(1).unwrap().to_owned();
    b.ok(&mut b.fleetup(&["verify", "-P", &key_line, "f"]));

    // Legacy (`-l`: signs the file itself, `Ed`).
    b.minisign_ok(
        &["-S", "-l", "-s", "m.key", "-m", "f", "-x", "legacy.minisig"],
        "",
    );
    assert!(
        b.minisign(
            &["-V", "-p", "m.pub", "-m", "f", "-x", "legacy.minisig"],
            ""
        )
        .status
        .success()
    );
    let err = b.fails(&mut b.fleetup(&["verify", "-p", "m.pub", "-x", "legacy.minisig", "f"]));
    assert!(err.contains("f: signature is not valid: legacy"), "{err}");
    let out = b.ok(&mut b.fleetup(&[
        "verify",
        "-p",
        "m.pub",
        "-x",
        "legacy.minisig",
        "--allow-legacy",
        "f",
    ]));
    assert!(stdout(&out).contains("Signature and comment signature verified"));
}

#[test]
fn fleetup_signs_with_keys_minisign_made() {
    let b = Bench::new();
    b.write("f", b"payload");
    // Password-protected: minisign reads it twice from stdin, fleetup from the environment.
    b.minisign_ok(
        &["-G", "-p", "enc.pub", "-s", "enc.key"],
        &format!("{PASSWORD}\n{PASSWORD}\n"),
    );
    b.ok(&mut b.fleetup_pw(&["sign", "-s", "enc.key", "f"]));
    assert!(b.minisign_verifies("enc.pub", "f"));
    // Unencrypted (`-W`, whose checksum minisign 0.11 leaves at zero).
    b.minisign_ok(&["-G", "-W", "-p", "w.pub", "-s", "w.key"], "");
    b.ok(&mut b.fleetup(&["sign", "-s", "w.key", "f"]));
    assert!(b.minisign_verifies("w.pub", "f"));
    assert!(
        !b.minisign_verifies("enc.pub", "f"),
        "the signature was replaced"
    );
    // Without a password and without a terminal: a clear error, not a hang.
    let err = b.fails(&mut b.fleetup(&["sign", "-s", "enc.key", "f"]));
    assert!(
        err.contains("enc.key: a password is needed but there is no terminal"),
        "{err}"
    );
    assert!(err.contains("FLEETUP_KEY_PASSWORD"), "{err}");
}

#[test]
fn a_signature_from_an_untrusted_key_names_both_key_ids() {
    let b = Bench::new();
    b.fleetup_keygen("signer", true);
    b.fleetup_keygen("trusted", true);
    b.write("f", b"payload");
    b.ok(&mut b.fleetup(&["sign", "-s", "signer.key", "f"]));
    let err = b.fails(&mut b.fleetup(&["verify", "-p", "trusted.pub", "f"]));
    let (signer, trusted) = (b.key_id("signer.pub"), b.key_id("trusted.pub"));
    assert_ne!(signer, trusted);
    assert!(
        err.contains(&format!(
            "f: signed by key {signer}, which is not trusted (trusted: {trusted})"
        )),
        "{err}"
    );
}

#[test]
fn changed_comment_truncated_signature_and_changed_file_all_fail() {
    let b = Bench::new();
    b.fleetup_keygen("k", true);
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    b.write("f", &data);
    b.ok(&mut b.fleetup(&["sign", "-s", "k.key", "-t", "version:1.0.0", "f"]));
    b.ok(&mut b.fleetup(&["verify", "-p", "k.pub", "f"]));
    let good = b.read("f.minisig");

    // A changed trusted comment.
    b.write(
        "f.minisig",
        good.replace("version:1.0.0", "version:9.0.0").as_bytes(),
    );
    let err = b.fails(&mut b.fleetup(&["verify", "-p", "k.pub", "f"]));
    assert!(err.contains("f: signature is not valid"), "{err}");
    assert!(!b.minisign_verifies("k.pub", "f"), "minisign agrees");

    // A truncated signature file.
    b.write("f.minisig", &good.as_bytes()[..good.len() - 30]);
    let err = b.fails(&mut b.fleetup(&["verify", "-p", "k.pub", "f"]));
    assert!(
        err.contains("f: signature is not valid: cannot read the signature"),
        "{err}"
    );
    assert!(!b.minisign_verifies("k.pub", "f"), "minisign agrees");

    // One changed byte in the file.
    b.write("f.minisig", good.as_bytes());
    let mut changed = data.clone();
    changed[2000] ^= 0x01;
    b.write("f", &changed);
    let err = b.fails(&mut b.fleetup(&["verify", "-p", "k.pub", "f"]));
    assert!(err.contains("f: signature is not valid"), "{err}");
    assert!(!b.minisign_verifies("k.pub", "f"), "minisign agrees");

    // And the original still verifies (the failures were about the changes).
    b.write("f", &data);
    b.ok(&mut b.fleetup(&["verify", "-p", "k.pub", "f"]));
}

#[test]
fn keygen_without_terminal_or_password_fails_fast() {
    let b = Bench::new();
    let mut child = b
        .fleetup(&["keygen", "-p", "k.pub", "-s", "k.key"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("keygen without terminal and without password did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("k.key: a password is needed but there is no terminal to ask on: set FLEETUP_KEY_PASSWORD, or pass -W"),
        "{err}"
    );
    assert!(!b.path("k.key").exists() && !b.path("k.pub").exists());
}

#[test]
fn keygen_defaults_permissions_and_no_silent_overwrite() {
    use std::os::unix::fs::PermissionsExt;
    let b = Bench::new();
    // Default secret key: ~/.minisign/minisign.key (HOME is the bench).
    b.ok(&mut b.fleetup(&["keygen", "-p", "k.pub", "-W"]));
    let sk = b.path(".minisign/minisign.key");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sk), 0o600);
    assert_eq!(mode(&b.path(".minisign")), 0o700);
    let before = (b.read("k.pub"), std::fs::read_to_string(&sk).unwrap());

    let err = b.fails(&mut b.fleetup(&["keygen", "-p", "k.pub", "-W"]));
    assert!(
        err.contains("minisign.key: already exists; pass --force to overwrite it"),
        "{err}"
    );
    assert_eq!(
        before,
        (b.read("k.pub"), std::fs::read_to_string(&sk).unwrap())
    );

    // Sign with the default key; minisign finds it at the same default place.
    b.write("f", b"x");
    b.ok(&mut b.fleetup(&["sign", "f"]));
    assert!(b.minisign_verifies("k.pub", "f"));
    b.minisign_ok(&["-S", "-m", "f", "-x", "m.minisig"], "");

    b.ok(&mut b.fleetup(&["keygen", "-p", "k.pub", "-W", "--force"]));
    assert_ne!(before.0, b.read("k.pub"));
    assert!(!b.minisign_verifies("k.pub", "f"), "a new key");
}

/// A publish in the bench with the `-W` key `k.key`.
fn publish(b: &Bench, version: &str, artifacts: &[&str], extra: &[&str]) -> Command {
    let mut args = vec![
        "publish",
        "--dir",
        "site",
        "--channel",
        "stable",
        "--product",
        "demoapp",
        "--version",
        version,
        "-s",
        "k.key",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(artifacts);
    b.fleetup(&args)
}

fn index(b: &Bench) -> serde_json::Value {
    serde_json::from_str(&b.read("site/stable.json")).unwrap()
}

fn versions(b: &Bench) -> Vec<String> {
    index(b)["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn publish_writes_an_index_minisign_verifies_with_true_sizes_and_hashes() {
    let b = Bench::new();
    b.fleetup_keygen("k", true);
    let amd64: Vec<u8> = (0..16752u32).map(|i| (i % 253) as u8).collect();
    b.write("app-amd64", &amd64);
    b.write("app-arm64", b"arm64 build");
    let out = b.ok(&mut publish(
        &b,
        "1.0.0",
        &["linux/amd64=app-amd64", "linux/arm64=app-arm64"],
        &[
            "--label",
            "first",
            "--notes",
            "hello",
            "--expires",
            "2099-01-01T00:00:00Z",
        ],
    ));
    let text = stdout(&out);
    assert!(
        text.contains("published demoapp 1.0.0 on channel stable: wrote site/stable.json (1 release, expires 2099-01-01T00:00:00Z) and site/stable.json.minisig"),
        "{text}"
    );

    let out = b.minisign_ok(&["-V", "-p", "k.pub", "-m", "site/stable.json"], "");
    let err = stdout(&out);
    assert!(
        err.contains("\tfile:stable.json\tproduct:demoapp\tchannel:stable\thashed"),
        "{err}"
    );
    let idx = index(&b);
    assert_eq!(idx["product"], "demoapp");
    assert_eq!(idx["channel"], "stable");
    assert_eq!(idx["expires"], "2099-01-01T00:00:00Z");
    let release = &idx["releases"][0];
    assert_eq!(release["label"], "first");
    assert_eq!(release["notes"], "hello");
    let artifacts = release["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 2);
    for (a, source) in artifacts.iter().zip(["app-amd64", "app-arm64"]) {
        let url = a["url"].as_str().unwrap();
        assert_eq!(
            url,
            format!("demoapp-1.0.0-linux-{}", a["arch"].as_str().unwrap())
        );
        let copy = b.path("site").join(url);
        assert_eq!(a["sha256"].as_str().unwrap(), sha256sum(&copy));
        assert_eq!(a["sha256"].as_str().unwrap(), sha256sum(&b.path(source)));
        assert_eq!(
            a["size"].as_u64().unwrap(),
            std::fs::metadata(&copy).unwrap().len()
        );
    }
    assert_eq!(artifacts[0]["size"], 16752);
    // The expiry defaults to 90 days ahead.
    b.write("app2", b"v2");
    b.ok(&mut publish(&b, "2.0.0", &["linux/amd64=app2"], &[]));
    let expires: jiff::Timestamp = index(&b)["expires"].as_str().unwrap().parse().unwrap();
    let days = (expires.as_second() - jiff::Timestamp::now().as_second()) / 86_400;
    assert!((89..=90).contains(&days), "{expires}");
    // fleetup's own verify agrees.
    b.ok(&mut b.fleetup(&["verify", "-p", "k.pub", "site/stable.json"]));
}

#[test]
fn publish_adds_releases_newest_first_and_refuses_a_duplicate() {
    let b = Bench::new();
    b.fleetup_keygen("k", false);
    for (v, bytes) in [("2.9.0", "a"), ("2.10.0", "b"), ("2.0.0-rc.1", "c")] {
        b.write(v, bytes.as_bytes());
        b.ok(publish(&b, v, &[&format!("linux/amd64={v}")], &[])
            .env("FLEETUP_KEY_PASSWORD", PASSWORD));
        assert!(b.minisign_verifies("k.pub", "site/stable.json"));
    }
    assert_eq!(versions(&b), ["2.10.0", "2.9.0", "2.0.0-rc.1"]);

    // The same version again: refused, nothing changed.
    let before = (
        b.read("site/stable.json"),
        b.read("site/stable.json.minisig"),
    );
    b.write("other", b"other bytes");
    let err = b.fails(
        publish(&b, "2.9.0", &["linux/amd64=other"], &[]).env("FLEETUP_KEY_PASSWORD", PASSWORD),
    );
    assert!(
        err.contains("site/stable.json: version 2.9.0 is already on channel stable (published "),
        "{err}"
    );
    assert!(err.contains("pass --replace"), "{err}");
    assert_eq!(
        before,
        (
            b.read("site/stable.json"),
            b.read("site/stable.json.minisig")
        )
    );
    assert_eq!(b.read("site/demoapp-2.9.0-linux-amd64"), "a");

    // --replace replaces it (and its artifact), keeping the others.
    b.ok(publish(&b, "2.9.0", &["linux/amd64=other"], &["--replace"])
        .env("FLEETUP_KEY_PASSWORD", PASSWORD));
    assert_eq!(versions(&b), ["2.10.0", "2.9.0", "2.0.0-rc.1"]);
    assert_eq!(b.read("site/demoapp-2.9.0-linux-amd64"), "other bytes");
    assert!(b.minisign_verifies("k.pub", "site/stable.json"));
}

#[test]
fn publish_refuses_bad_platforms_versions_and_foreign_files() {
    let b = Bench::new();
    b.fleetup_keygen("k", true);
    b.write("app", b"bytes");
    let err = b.fails(&mut publish(&b, "1.0.0", &["linux/x86_64=app"], &[]));
    assert!(
        err.contains("artifact \"linux/x86_64=app\": linux/x86_64 is not a Go os/arch pair; did you mean linux/amd64?"),
        "{err}"
    );
    let err = b.fails(&mut publish(&b, "1.0.0", &["amd64=app"], &[]));
    assert!(err.contains("expected OS/ARCH=FILE"), "{err}");
    let err = b.fails(&mut publish(&b, "v1.0.0", &["linux/amd64=app"], &[]));
    assert!(
        err.contains("--version \"v1.0.0\" is not a semantic version"),
        "{err}"
    );
    assert!(
        !b.path("site").exists(),
        "nothing written for a refused publish"
    );

    // An artifact name already taken by other bytes is not overwritten.
    std::fs::create_dir(b.path("site")).unwrap();
    b.write("site/demoapp-1.0.0-linux-amd64", b"someone else's");
    let err = b.fails(&mut publish(&b, "1.0.0", &["linux/amd64=app"], &[]));
    assert!(
        err.contains("site/demoapp-1.0.0-linux-amd64: exists with other content than app; refusing to overwrite it"),
        "{err}"
    );
    assert_eq!(b.read("site/demoapp-1.0.0-linux-amd64"), "someone else's");
    assert!(!b.path("site/stable.json").exists());
}

#[test]
fn publish_does_not_resign_a_tampered_or_foreign_index() {
    let b = Bench::new();
    b.fleetup_keygen("k", true);
    b.fleetup_keygen("other", true);
    b.write("app", b"bytes");
    b.ok(&mut publish(&b, "1.0.0", &["linux/amd64=app"], &[]));

    // Tamper with the signed index: point 1.0.0 at other bytes.
    let good = b.read("site/stable.json");
    let sha = sha256sum(&b.path("app"));
    let tampered = good.replace(&sha, &"0".repeat(64));
    assert_ne!(good, tampered);
    b.write("site/stable.json", tampered.as_bytes());
    let sig = b.read("site/stable.json.minisig");
    b.write("app2", b"v2");
    let err = b.fails(&mut publish(&b, "2.0.0", &["linux/amd64=app2"], &[]));
    assert!(
        err.contains(
            "site/stable.json: the current index does not verify with the public key of k.key"
        ),
        "{err}"
    );
    assert!(err.contains("refusing to re-sign it"), "{err}");
    assert_eq!(b.read("site/stable.json"), tampered);
    assert_eq!(b.read("site/stable.json.minisig"), sig);
    assert!(!b.minisign_verifies("k.pub", "site/stable.json"));

    // An intact index signed by another key is not taken over either.
    b.write("site/stable.json", good.as_bytes());
    let err = b.fails(&mut b.fleetup(&[
        "publish",
        "--dir",
        "site",
        "--product",
        "demoapp",
        "--version",
        "2.0.0",
        "-s",
        "other.key",
        "linux/amd64=app2",
    ]));
    assert!(
        err.contains(&format!(
            "signed by key {}, which is not trusted",
            b.key_id("k.pub")
        )),
        "{err}"
    );
    // Nor an index of another product, nor one without its signature.
    let err = b.fails(&mut b.fleetup(&[
        "publish",
        "--dir",
        "site",
        "--product",
        "otherapp",
        "--version",
        "2.0.0",
        "-s",
        "k.key",
        "linux/amd64=app2",
    ]));
    assert!(
        err.contains("site/stable.json: is the channel of product \"demoapp\", not \"otherapp\""),
        "{err}"
    );
    std::fs::remove_file(b.path("site/stable.json.minisig")).unwrap();
    let err = b.fails(&mut publish(&b, "2.0.0", &["linux/amd64=app2"], &[]));
    assert!(err.contains("exists but has no signature"), "{err}");
    assert_eq!(versions(&b), ["1.0.0"]);
}
