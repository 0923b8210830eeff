//! Tests of the known_hosts matcher and policy. The `ssh_keygen_*` tests shell out to OpenSSH's
//! `ssh-keygen` (they fail, not skip, when it is missing) to make real keys and hashed files and
//! to compare which lines match a name with `ssh-keygen -F`.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use russh::keys::{Algorithm, EcdsaCurve, HashAlg, PublicKey};

use super::*;

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (is OpenSSH installed?): {e}"));
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh key pair made by `ssh-keygen`; returns the public key.
fn keygen(dir: &Path, name: &str, kind: &str) -> PublicKey {
    let path = dir.join(name);
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", "", "-C", "comment-of-", "-f"])
        .arg(&path);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    let out = run(&mut cmd);
    assert!(out.status.success(), "ssh-keygen -t {kind} failed");
    let text = fs::read_to_string(path.with_extension("pub")).unwrap();
    PublicKey::from_openssh(&text).unwrap()
}

/// `type base64` of a key.
fn k(key: &PublicKey) -> String {
    PublicKey::new(key.key_data().clone(), "")
        .to_openssh()
        .unwrap()
}

/// Line numbers `ssh-keygen -F name -f file` reports.
fn keygen_lines(name: &str, file: &Path) -> BTreeSet<usize> {
    let out = run(Command::new("ssh-keygen")
        .arg("-F")
        .arg(name)
        .arg("-f")
        .arg(file));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(" found: line ").map(|(_, n)| n))
        .map(|n| n.split_whitespace().next().unwrap().parse().unwrap())
        .collect()
}

/// Line numbers this module matches for a name.
fn our_lines(known: &KnownHosts, name: &str) -> BTreeSet<usize> {
    known.matching(name).map(|e| e.line).collect()
}

fn load_text(text: &str) -> KnownHosts {
    let mut known = KnownHosts::default();
    known.add_text(Path::new("kh"), text);
    known
}

struct Keys {
    _dir: tempfile::TempDir,
    ed: PublicKey,
    ed2: PublicKey,
    rsa: PublicKey,
    ecdsa: PublicKey,
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    Keys {
        ed: keygen(dir.path(), "ed", "ed25519"),
        ed2: keygen(dir.path(), "ed2", "ed25519"),
        rsa: keygen(dir.path(), "rsa", "rsa"),
        ecdsa: keygen(dir.path(), "ecdsa", "ecdsa"),
        _dir: dir,
    }
}

// ---- pattern matching ------------------------------------------------------------------------

#[test]
fn glob_rules() {
    assert!(glob_match("*", ""));
    assert!(glob_match("*", "[a]:22"));
    assert!(glob_match("a?c", "abc"));
    assert!(!glob_match("a?c", "ac"));
    assert!(glob_match("*.example.com", "x.example.com"));
    assert!(!glob_match("*.example.com", "example.com"));
    assert!(glob_match("a*b*c", "aXbYbZc"));
    assert!(!glob_match("a*b*c", "aXbYbZ"));
    assert!(glob_match("10.0.0.*", "10.0.0.7"));
    assert!(glob_match("[*]:*", "[h]:2222"));
    assert!(!glob_match("[*]:*", "h"));
    assert!(glob_match("**?", "x"));
    assert!(!glob_match("", "x"));
    assert!(glob_match("", ""));
}

#[test]
fn negation_excludes_whole_line() {
    assert!(match_pattern_list("a.x", &["*.x", "!b.x"]));
    assert!(!match_pattern_list("b.x", &["*.x", "!b.x"]));
    assert!(!match_pattern_list("b.x", &["!b.x", "*.x"]));
    // Negations alone never match.
    assert!(!match_pattern_list("c.x", &["!b.x"]));
}

#[test]
fn lookup_name_port_rule() {
    assert_eq!(lookup_name("Host.Example", 22), "host.example");
    assert_eq!(lookup_name("host", 2222), "[host]:2222");
    assert_eq!(lookup_name("::1", 2222), "[::1]:2222");
}

// ---- parsing ---------------------------------------------------------------------------------

#[test]
fn parses_every_line_form_and_skips_bad_lines() {
    let keys = keys();
    let text = format!(
        "# comment\n\
         \n\
         \t  \n\
         host1 {ed}\n\
         host2,host3\t{rsa} a comment with spaces\n\
         \t  host4   {ecdsa}   \n\
         @revoked host5 {ed}\n\
         @cert-authority *.example.com {ed2}\n\
         @bogus host6 {ed}\n\
         host7\n\
         host8 ssh-ed25519 !!!notbase64\n\
         host9 ssh-rsa {ed_b64}\n\
         |1|c2FsdA==|aGFzaA== {ed}\n\
         @revoked @revoked host10 {ed}\n\
         host11 {ed}\r\n",
        ed = k(&keys.ed),
        ed2 = k(&keys.ed2),
        rsa = k(&keys.rsa),
        ecdsa = k(&keys.ecdsa),
        ed_b64 = k(&keys.ed).split(' ').nth(1).unwrap(),
    );
    let known = load_text(&text);
    let lines: Vec<usize> = known.entries.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![4, 5, 6, 7, 8, 15]);
    assert_eq!(known.entries[3].marker, Some(Marker::Revoked));
    assert_eq!(known.entries[4].marker, Some(Marker::CertAuthority));
    let warned: Vec<&str> = known
        .warnings()
        .iter()
        .map(|w| w.split(": skipped").next().unwrap())
        .collect();
    assert_eq!(warned, vec!["kh:10", "kh:11", "kh:12", "kh:13"]);
    assert!(
        known.warnings()[2].contains("ssh-rsa"),
        "{:?}",
        known.warnings()
    );
    // An unknown marker and a broken @revoked line are not skipped: they stop a load.
    assert_eq!(known.errors.len(), 2, "{:?}", known.errors);
    assert!(known.errors[0].starts_with("kh:9: unknown marker \"@bogus\""));
    assert!(known.errors[1].starts_with("kh:14: more than one marker"));
}

#[test]
fn a_revocation_that_does_not_parse_fails_the_load_naming_file_and_line() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kh");
    let good = format!("h {}\n", k(&keys.ed));
    for bad in [
        "@revoked h ssh-ed25519 !!!notbase64".to_owned(),
        format!(
            "@revoked h ssh-rsa {}",
            k(&keys.ed).split(' ').nth(1).unwrap()
        ),
        "@revoked h".to_owned(),
        "  @revoked".to_owned(),
        format!("@revokd h {}", k(&keys.ed)),
        format!("@REVOKED h {}", k(&keys.ed)),
    ] {
        fs::write(&file, format!("{good}{bad}\n")).unwrap();
        let err = KnownHosts::load(std::slice::from_ref(&file)).unwrap_err();
        assert!(
            err.contains(&format!("{}:2: ", file.display())) && err.contains("revocation"),
            "{bad}: {err}"
        );
    }
    // A broken @cert-authority line never makes a key acceptable: skipped, with a warning.
    fs::write(&file, format!("{good}@cert-authority * ssh-ed25519 !!!\n")).unwrap();
    let known = KnownHosts::load(std::slice::from_ref(&file)).unwrap();
    assert_eq!(known.warnings().len(), 1, "{:?}", known.warnings());
    assert_eq!(known.check("h", 22, &keys.ed), HostKeyStatus::Known);
}

#[test]
fn load_missing_is_empty_unreadable_and_oversized_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let known = KnownHosts::load(&[dir.path().join("nope")]).unwrap();
    assert!(known.is_empty());

    // A directory cannot be read as a file.
    let err = KnownHosts::load(&[dir.path().to_path_buf()]).unwrap_err();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");

    let big = dir.path().join("big");
    let f = fs::File::create(&big).unwrap();
    f.set_len(MAX_FILE_BYTES + 1).unwrap();
    let err = KnownHosts::load(std::slice::from_ref(&big)).unwrap_err();
    assert!(err.contains("big") && err.contains("16 MiB"), "{err}");
}

#[test]
fn load_reads_files_in_order_with_locations() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    fs::write(&a, format!("# a\nh {}\n", k(&keys.ed2))).unwrap();
    fs::write(&b, format!("h {}\n", k(&keys.rsa))).unwrap();
    let known = KnownHosts::load(&[a.clone(), dir.path().join("missing"), b.clone()]).unwrap();
    match known.check("h", 22, &keys.ed) {
        HostKeyStatus::Changed {
            expected,
            found,
            locations,
        } => {
            assert_eq!(
                expected,
                vec![fingerprint(&keys.ed2), fingerprint(&keys.rsa)]
            );
            assert_eq!(found, fingerprint(&keys.ed));
            assert_eq!(
                locations,
                vec![format!("{}:2", a.display()), format!("{}:1", b.display())]
            );
        }
        other => panic!("{other:?}"),
    }
    // Known in the second file although the first has another key for the host.
    assert_eq!(known.check("h", 22, &keys.rsa), HostKeyStatus::Known);
}

// ---- check -----------------------------------------------------------------------------------

#[test]
fn known_unknown_changed() {
    let keys = keys();
    let known = load_text(&format!(
        "web1,web2 {ed}\nweb3 {ed2}\nweb3 {ed}\n",
        ed = k(&keys.ed),
        ed2 = k(&keys.ed2)
    ));
    assert_eq!(known.check("web1", 22, &keys.ed), HostKeyStatus::Known);
    assert_eq!(known.check("WEB2", 22, &keys.ed), HostKeyStatus::Known);
    assert_eq!(known.check("web4", 22, &keys.ed), HostKeyStatus::Unknown);
    // Any entry with the key wins over entries with other keys.
    assert_eq!(known.check("web3", 22, &keys.ed), HostKeyStatus::Known);
    assert_eq!(known.check("web3", 22, &keys.ed2), HostKeyStatus::Known);
    match known.check("web1", 22, &keys.ed2) {
        HostKeyStatus::Changed {
            expected,
            found,
            locations,
        } => {
            assert_eq!(expected, vec![fingerprint(&keys.ed)]);
            assert_eq!(found, fingerprint(&keys.ed2));
            assert_eq!(locations, vec!["kh:1".to_string()]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn comment_does_not_matter() {
    let keys = keys();
    let known = load_text(&format!("h {} other comment\n", k(&keys.ed)));
    let mut presented = keys.ed;
    presented.set_comment("something else");
    assert_eq!(known.check("h", 22, &presented), HostKeyStatus::Known);
}

#[test]
fn other_key_types_only_is_changed_as_in_openssh() {
    // OpenSSH 9.2 against a real sshd: an RSA key on file, ed25519 presented → "REMOTE HOST
    // IDENTIFICATION HAS CHANGED … Offending RSA key", refused even with accept-new.
    let keys = keys();
    let known = load_text(&format!("h {}\n", k(&keys.rsa)));
    assert!(matches!(
        known.check("h", 22, &keys.ed),
        HostKeyStatus::Changed { .. }
    ));
    // … which the caller avoids by asking for the RSA key first.
    let preferred = known.preferred_algorithms("h", 22, &russh::Preferred::DEFAULT.key);
    assert!(matches!(preferred[0], Algorithm::Rsa { .. }));
    assert!(matches!(preferred[1], Algorithm::Rsa { .. }));
    assert_eq!(preferred.len(), russh::Preferred::DEFAULT.key.len());
    assert!(preferred.contains(&Algorithm::Ed25519));
}

#[test]
fn preferred_algorithms_order() {
    let keys = keys();
    let known = load_text(&format!(
        "h {}\n[p]:2222 {}\nq {}\n",
        k(&keys.ecdsa),
        k(&keys.ed),
        k(&keys.rsa)
    ));
    let default = russh::Preferred::DEFAULT.key;
    let ecdsa256 = Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    };
    assert_eq!(known.known_algorithms("h", 22), vec![ecdsa256.clone()]);
    assert_eq!(known.preferred_algorithms("h", 22, &default)[0], ecdsa256);
    assert_eq!(
        known.preferred_algorithms("p", 2222, &default)[0],
        Algorithm::Ed25519
    );
    // Nothing under [q]:2200: the bare name's keys, as the lookup falls back to it.
    assert_eq!(
        known.preferred_algorithms("q", 2200, &default)[0],
        Algorithm::Rsa {
            hash: Some(HashAlg::Sha512)
        }
    );
    // Nothing on file: unchanged.
    assert_eq!(
        known.preferred_algorithms("zz", 22, &default),
        default.to_vec()
    );
}

#[test]
fn port_rule() {
    let keys = keys();
    let known = load_text(&format!(
        "plain {ed}\n[bracketed]:2222 {ed}\n[both]:2222 {ed2}\nboth {ed}\n[p22]:22 {ed}\n",
        ed = k(&keys.ed),
        ed2 = k(&keys.ed2)
    ));
    assert_eq!(known.check("plain", 22, &keys.ed), HostKeyStatus::Known);
    assert_eq!(
        known.check("bracketed", 2222, &keys.ed),
        HostKeyStatus::Known
    );
    assert_eq!(
        known.check("bracketed", 22, &keys.ed),
        HostKeyStatus::Unknown
    );
    assert_eq!(
        known.check("bracketed", 2200, &keys.ed),
        HostKeyStatus::Unknown
    );
    // `[h]:22` never matches: port 22 is looked up as the bare name.
    assert_eq!(known.check("p22", 22, &keys.ed), HostKeyStatus::Unknown);
    // A bare entry does not match [plain]:2222, but ssh then checks "without port identifier"
    // and accepts the very key on file there (seen with OpenSSH 9.2 against a real sshd) …
    assert_eq!(known.check("plain", 2222, &keys.ed), HostKeyStatus::Known);
    // … only that key: another one is unknown, not changed (also as OpenSSH).
    assert_eq!(
        known.check("plain", 2222, &keys.ed2),
        HostKeyStatus::Unknown
    );
    // The bracketed entry decides when there is one: no fallback for a changed key.
    assert!(matches!(
        known.check("both", 2222, &keys.ed),
        HostKeyStatus::Changed { .. }
    ));
    assert_eq!(known.check("both", 2222, &keys.ed2), HostKeyStatus::Known);
}

#[test]
fn wildcards_and_negation() {
    let keys = keys();
    let known = load_text(&format!(
        "*.example.com,!bad.example.com {ed}\nweb?? {ed}\n[*.lab]:* {ed}\n10.0.0.* {ed}\n",
        ed = k(&keys.ed)
    ));
    assert_eq!(
        known.check("a.example.com", 22, &keys.ed),
        HostKeyStatus::Known
    );
    assert_eq!(
        known.check("bad.example.com", 22, &keys.ed),
        HostKeyStatus::Unknown
    );
    assert_eq!(known.check("web12", 22, &keys.ed), HostKeyStatus::Known);
    assert_eq!(known.check("web1", 22, &keys.ed), HostKeyStatus::Unknown);
    assert_eq!(known.check("x.lab", 2201, &keys.ed), HostKeyStatus::Known);
    assert_eq!(known.check("x.lab", 22, &keys.ed), HostKeyStatus::Unknown);
    assert_eq!(known.check("10.0.0.9", 22, &keys.ed), HostKeyStatus::Known);
    assert!(matches!(
        known.check("10.0.0.9", 22, &keys.ed2),
        HostKeyStatus::Changed { .. }
    ));
}

#[test]
fn revoked_wins() {
    let keys = keys();
    let known = load_text(&format!(
        "h {ed}\n@revoked * {ed2}\n@revoked [h]:2222 {ed}\n@revoked bare {ed}\n[bare]:2200 {ed}\n",
        ed = k(&keys.ed),
        ed2 = k(&keys.ed2)
    ));
    assert_eq!(
        known.check("h", 22, &keys.ed2),
        HostKeyStatus::Revoked {
            location: "kh:2".into()
        }
    );
    assert_eq!(known.check("h", 22, &keys.ed), HostKeyStatus::Known);
    assert_eq!(
        known.check("h", 2222, &keys.ed),
        HostKeyStatus::Revoked {
            location: "kh:3".into()
        }
    );
    // Revoked under the bare name applies on other ports too (stricter than OpenSSH).
    assert_eq!(
        known.check("bare", 2200, &keys.ed),
        HostKeyStatus::Revoked {
            location: "kh:4".into()
        }
    );
    // A revoked line is not a key on file: the host is otherwise unknown.
    assert_eq!(known.check("other", 22, &keys.ed), HostKeyStatus::Unknown);
}

#[test]
fn cert_authority_lines_never_make_a_key_known() {
    let keys = keys();
    let known = load_text(&format!("@cert-authority * {}\n", k(&keys.ed)));
    let ca_only = HostKeyStatus::CertAuthorityOnly {
        locations: vec!["kh:1".into()],
    };
    // Not Known even when the host presents the CA's own key; not Unknown either.
    assert_eq!(known.check("h", 22, &keys.ed), ca_only);
    assert_eq!(known.check("h", 22, &keys.ed2), ca_only);
    assert_eq!(known.check("h", 2222, &keys.ed2), ca_only);
    assert!(known.known_algorithms("h", 22).is_empty());

    // A CA for some names only; a plain key on file decides as without the CA line.
    let known = load_text(&format!(
        "@cert-authority *.example.com {ed}\nweb.example.com {ed2}\n@cert-authority [gw]:2222 {ed}\n",
        ed = k(&keys.ed),
        ed2 = k(&keys.ed2)
    ));
    assert_eq!(
        known.check("db.example.com", 22, &keys.ed),
        HostKeyStatus::CertAuthorityOnly {
            locations: vec!["kh:1".into()]
        }
    );
    assert_eq!(
        known.check("web.example.com", 22, &keys.ed2),
        HostKeyStatus::Known
    );
    assert!(matches!(
        known.check("web.example.com", 22, &keys.ed),
        HostKeyStatus::Changed { .. }
    ));
    assert_eq!(
        known.check("other.org", 22, &keys.ed),
        HostKeyStatus::Unknown
    );
    assert_eq!(
        known.check("gw", 2222, &keys.ed2),
        HostKeyStatus::CertAuthorityOnly {
            locations: vec!["kh:3".into()]
        }
    );
    assert_eq!(known.check("gw", 22, &keys.ed2), HostKeyStatus::Unknown);
    // A revoked key stays revoked under a CA.
    let known = load_text(&format!(
        "@cert-authority * {ed}\n@revoked h {ed2}\n",
        ed = k(&keys.ed),
        ed2 = k(&keys.ed2)
    ));
    assert!(matches!(
        known.check("h", 22, &keys.ed2),
        HostKeyStatus::Revoked { .. }
    ));
}

#[test]
fn hashed_entries_hand_made() {
    let keys = keys();
    let salt = [7u8; 20];
    let hash = |name: &str| {
        let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&salt).unwrap();
        mac.update(name.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    let s = base64::engine::general_purpose::STANDARD.encode(salt);
    let known = load_text(&format!(
        "|1|{s}|{} {ed}\n|1|{s}|{} {ed}\n",
        hash("host"),
        hash("[host]:2222"),
        ed = k(&keys.ed)
    ));
    assert_eq!(known.check("host", 22, &keys.ed), HostKeyStatus::Known);
    assert_eq!(known.check("HOST", 22, &keys.ed), HostKeyStatus::Known);
    assert_eq!(known.check("host", 2222, &keys.ed), HostKeyStatus::Known);
    assert!(matches!(
        known.check("host", 2222, &keys.ed2),
        HostKeyStatus::Changed { .. }
    ));
    assert_eq!(known.check("hos", 22, &keys.ed), HostKeyStatus::Unknown);
    // A salt of the wrong length is refused, as OpenSSH does.
    let short = load_text(&format!("|1|c2FsdA==|{} {}\n", hash("host"), k(&keys.ed)));
    assert!(short.is_empty() && short.warnings()[0].contains("salt"));
}

// ---- cross-checks with ssh-keygen -F ---------------------------------------------------------

const NAMES: &[&str] = &[
    "web1",
    "web2",
    "web10",
    "db.example.com",
    "bad.example.com",
    "x.example.org",
    "10.0.0.5",
    "10.0.1.5",
    "::1",
    "[web1]:2222",
    "[web2]:2222",
    "[db.example.com]:2200",
    "[10.0.0.5]:22",
    "[::1]:2222",
    "unrelated",
];

#[test]
fn ssh_keygen_agrees_on_plain_patterns() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("known_hosts");
    let ed = k(&keys.ed);
    let text = format!(
        "# fleet\n\
         web1,web2 {ed}\n\
         web?? {ed}\n\
         *.example.com,!bad.example.com {ed}\n\
         \t[web1]:2222\t{rsa}\n\
         @revoked db.example.com {ed}\n\
         10.0.0.* {ed}\n\
         ::1,[::1]:2222 {ed}\n\
         [*.example.com]:2200 {ed}\n\
         WEB1 {ecdsa}\n\
         !web2,web* {ed}\n\
         @cert-authority *.example.org {ed}\n\
         * {ed}\n\
         [web2]:* {ed}\n",
        rsa = k(&keys.rsa),
        ecdsa = k(&keys.ecdsa),
    );
    fs::write(&file, &text).unwrap();
    let known = KnownHosts::load(std::slice::from_ref(&file)).unwrap();
    assert!(known.warnings().is_empty(), "{:?}", known.warnings());
    for name in NAMES {
        assert_eq!(
            our_lines(&known, name),
            keygen_lines(name, &file),
            "lines matching {name}"
        );
    }
}

#[test]
fn ssh_keygen_agrees_on_hashed_entries() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("known_hosts");
    let plain = [
        "web1",
        "web2",
        "db.example.com",
        "10.0.0.5",
        "::1",
        "[web1]:2222",
        "[::1]:2222",
        "[10.0.0.5]:22",
    ];
    let mut text = String::new();
    for (i, name) in plain.iter().enumerate() {
        let key = if i % 2 == 0 { &keys.ed } else { &keys.rsa };
        text.push_str(&format!("{name} {}\n", k(key)));
    }
    fs::write(&file, &text).unwrap();
    let out = run(Command::new("ssh-keygen").arg("-H").arg("-f").arg(&file));
    assert!(out.status.success());
    let hashed = fs::read_to_string(&file).unwrap();
    assert!(
        hashed.lines().all(|l| l.starts_with("|1|")),
        "ssh-keygen -H left unhashed lines: {hashed}"
    );
    let known = KnownHosts::load(std::slice::from_ref(&file)).unwrap();
    assert_eq!(known.entries.len(), plain.len());
    for name in NAMES.iter().chain(&plain) {
        assert_eq!(
            our_lines(&known, name),
            keygen_lines(name, &file),
            "lines matching {name}"
        );
    }
    // And the verdicts follow.
    assert_eq!(known.check("web1", 22, &keys.ed), HostKeyStatus::Known);
    assert!(matches!(
        known.check("web2", 22, &keys.ed),
        HostKeyStatus::Changed { .. }
    ));
    assert_eq!(known.check("web1", 2222, &keys.rsa), HostKeyStatus::Known);
    assert_eq!(known.check("::1", 2222, &keys.ed), HostKeyStatus::Known);
    assert_eq!(known.check("web3", 22, &keys.ed), HostKeyStatus::Unknown);
}

#[test]
fn fingerprint_matches_ssh_keygen_l() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["ed25519", "rsa", "ecdsa"] {
        let key = keygen(dir.path(), kind, kind);
        let out = run(Command::new("ssh-keygen")
            .arg("-l")
            .arg("-f")
            .arg(dir.path().join(format!("{kind}.pub"))));
        let printed = String::from_utf8_lossy(&out.stdout);
        let theirs = printed.split_whitespace().nth(1).unwrap();
        assert_eq!(fingerprint(&key), theirs, "{kind}");
        assert!(theirs.starts_with("SHA256:"));
    }
}

// ---- append ----------------------------------------------------------------------------------

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn append_creates_file_and_dirs_private_and_ssh_keygen_finds_it() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("new/.ssh/known_hosts");
    append(&file, "Web1.Example.com", 22, &keys.ed).unwrap();
    append(&file, "web1.example.com", 2222, &keys.rsa).unwrap();
    append(&file, "::1", 2200, &keys.ecdsa).unwrap();
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    assert_eq!(mode(&dir.path().join("new")), 0o700);
    let text = fs::read_to_string(&file).unwrap();
    assert_eq!(
        text,
        format!(
            "web1.example.com {}\n[web1.example.com]:2222 {}\n[::1]:2200 {}\n",
            k(&keys.ed),
            k(&keys.rsa),
            k(&keys.ecdsa)
        )
    );
    assert_eq!(keygen_lines("web1.example.com", &file), BTreeSet::from([1]));
    assert_eq!(
        keygen_lines("[web1.example.com]:2222", &file),
        BTreeSet::from([2])
    );
    assert_eq!(keygen_lines("[::1]:2200", &file), BTreeSet::from([3]));
    let known = KnownHosts::load(&[file]).unwrap();
    assert_eq!(
        known.check("web1.example.com", 22, &keys.ed),
        HostKeyStatus::Known
    );
    assert_eq!(
        known.check("web1.example.com", 2222, &keys.rsa),
        HostKeyStatus::Known
    );
    assert_eq!(known.check("::1", 2200, &keys.ecdsa), HostKeyStatus::Known);
}

#[test]
fn append_keeps_existing_lines_and_mode() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("known_hosts");
    // No newline at the end of the last line: it must stay intact.
    fs::write(&file, format!("# mine\nold {}", k(&keys.ed2))).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    append(&file, "new", 22, &keys.ed).unwrap();
    assert_eq!(mode(&file), 0o644, "an existing file's mode is left alone");
    let text = fs::read_to_string(&file).unwrap();
    assert_eq!(
        text,
        format!("# mine\nold {}\nnew {}\n", k(&keys.ed2), k(&keys.ed))
    );
}

#[test]
fn append_refuses_names_that_are_not_plain() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("known_hosts");
    for host in [
        "", "*", "a,b", "a b", "!a", "@revoked", "|1|x", "a\nb", "[a]:1", "a?", "#a",
    ] {
        let err = append(&file, host, 22, &keys.ed).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{host:?}");
    }
    assert!(!file.exists());
}

// ---- policy ----------------------------------------------------------------------------------

#[test]
fn policy_parse() {
    use HostKeyPolicy::*;
    for (value, want) in [
        ("strict", Strict),
        ("yes", Strict),
        ("YES", Strict),
        ("true", Strict),
        ("ask", Strict),
        ("accept-new", AcceptNew),
        ("off", Off),
        ("no", Off),
        ("false", Off),
    ] {
        assert_eq!(HostKeyPolicy::parse(value), Ok(want), "{value}");
    }
    assert!(HostKeyPolicy::parse("maybe").is_err());
    assert!(HostKeyPolicy::parse("").is_err());
    assert_eq!(HostKeyPolicy::default(), Strict);
}

#[test]
fn policy_decisions() {
    use HostKeyPolicy::*;
    let keys = keys();
    let file = Path::new("/home/u/.ssh/known_hosts");
    let changed = HostKeyStatus::Changed {
        expected: vec![fingerprint(&keys.ed2)],
        found: fingerprint(&keys.ed),
        locations: vec!["/home/u/.ssh/known_hosts:3".into()],
    };
    let revoked = HostKeyStatus::Revoked {
        location: "/home/u/.ssh/known_hosts:9".into(),
    };
    let files = [
        file.to_path_buf(),
        PathBuf::from("/home/u/.ssh/known_hosts2"),
    ];
    let at = Lookup {
        host: "web1",
        port: 2222,
        files: &files,
        record_file: file,
        via: &[],
    };
    let d = |status: &HostKeyStatus, policy| decide(status, policy, &at, &keys.ed);

    for policy in [Strict, AcceptNew, Off] {
        assert_eq!(d(&HostKeyStatus::Known, policy), Ok(Decision::Accept));
        let err = d(&revoked, policy).unwrap_err();
        assert!(
            err.contains("REVOKED") && err.contains("known_hosts:9"),
            "{err}"
        );
        assert!(err.contains("web1 port 2222") && err.contains(&fingerprint(&keys.ed)));
    }

    let err = d(&HostKeyStatus::Unknown, Strict).unwrap_err();
    assert!(err.contains("web1 port 2222"), "{err}");
    assert!(err.contains(&fingerprint(&keys.ed)), "{err}");
    assert!(
        err.contains("`ssh-keyscan -p 2222 -t ed25519 web1 >> /home/u/.ssh/known_hosts`"),
        "the exact command, of the key's type: {err}"
    );
    assert!(
        err.contains("out of band")
            && err.contains("`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`"),
        "how to check the fingerprint on the host: {err}"
    );
    assert!(
        err.contains("/home/u/.ssh/known_hosts, /home/u/.ssh/known_hosts2"),
        "every file read: {err}"
    );
    assert!(
        err.contains("fleetup_host_key_checking=accept-new"),
        "{err}"
    );
    assert_eq!(
        d(&HostKeyStatus::Unknown, AcceptNew),
        Ok(Decision::AcceptAndRecord)
    );
    assert_eq!(d(&HostKeyStatus::Unknown, Off), Ok(Decision::Accept));

    for policy in [Strict, AcceptNew] {
        let err = d(&changed, policy).unwrap_err();
        assert!(
            err.contains("CHANGED") && err.contains("web1 port 2222"),
            "{err}"
        );
        assert!(err.contains(&fingerprint(&keys.ed)), "{err}");
        assert!(err.contains(&fingerprint(&keys.ed2)), "{err}");
        assert!(err.contains("known_hosts:3"), "{err}");
        assert!(
            err.contains("`ssh-keygen -R '[web1]:2222' -f /home/u/.ssh/known_hosts`"),
            "the old entry's own file: {err}"
        );
        // The fix is there, but only after the warning and the out-of-band check.
        let warn = err.find("man-in-the-middle").expect(&err);
        let confirm = err.find("confirm out of band").expect(&err);
        let scan = err.find("ssh-keyscan").expect(&err);
        assert!(warn < confirm && confirm < scan, "{err}");
        assert!(err.contains("Do NOT just scan the key again"), "{err}");
    }
    assert_eq!(d(&changed, Off), Ok(Decision::Accept));

    let ca_only = HostKeyStatus::CertAuthorityOnly {
        locations: vec!["/home/u/.ssh/known_hosts:7".into()],
    };
    for policy in [Strict, AcceptNew] {
        let err = d(&ca_only, policy).unwrap_err();
        assert!(
            err.contains("@cert-authority")
                && err.contains("known_hosts:7")
                && err.contains("does not support host certificates")
                && err.contains("web1 port 2222")
                && err.contains(&fingerprint(&keys.ed))
                && err.contains("ssh-keyscan -p 2222 -t ed25519 web1 >> /home/u/.ssh/known_hosts")
                && err.contains(&format!("host key checking: {policy}")),
            "{err}"
        );
    }
    assert_eq!(d(&ca_only, Off), Ok(Decision::Accept));
}

#[test]
fn keyscan_hints_name_the_key_type_and_the_jump_hosts() {
    let keys = keys();
    let file = Path::new("/root/.ssh/known_hosts");
    let files = [file.to_path_buf()];
    let unknown = |at: &Lookup<'_>, key: &PublicKey| {
        decide(&HostKeyStatus::Unknown, HostKeyPolicy::Strict, at, key).unwrap_err()
    };
    let direct = Lookup {
        host: "10.0.0.5",
        port: 22,
        files: &files,
        record_file: file,
        via: &[],
    };
    for (key, t) in [(&keys.rsa, "rsa"), (&keys.ecdsa, "ecdsa")] {
        let err = unknown(&direct, key);
        assert!(
            err.contains(&format!(
                "`ssh-keyscan -p 22 -t {t} 10.0.0.5 >> /root/.ssh/known_hosts`"
            )) && err.contains(&format!("/etc/ssh/ssh_host_{t}_key.pub")),
            "{err}"
        );
    }

    // Behind a bastion: scanned from the bastion (the host may be reachable only from there).
    let one = [("jump".to_owned(), "bastion.example.com".to_owned(), 2222)];
    let behind = Lookup {
        via: &one,
        ..direct
    };
    let err = unknown(&behind, &keys.ed);
    assert!(
        err.contains(
            "`ssh -p 2222 jump@bastion.example.com 'ssh-keyscan -p 22 -t ed25519 10.0.0.5' >> /root/.ssh/known_hosts`"
        ),
        "{err}"
    );
    // Behind two: through the first, on the second.
    let two = [
        ("ops".to_owned(), "gw".to_owned(), 22),
        ("jump".to_owned(), "fd00::1".to_owned(), 2022),
    ];
    let err = unknown(
        &Lookup {
            via: &two,
            ..direct
        },
        &keys.ed,
    );
    assert!(
        err.contains(
            "`ssh -J ops@gw:22 -p 2022 jump@fd00::1 'ssh-keyscan -p 22 -t ed25519 10.0.0.5' >> /root/.ssh/known_hosts`"
        ),
        "{err}"
    );
    let three = [
        ("a".to_owned(), "fd00::2".to_owned(), 22),
        ("b".to_owned(), "h".to_owned(), 22),
        ("c".to_owned(), "i".to_owned(), 22),
    ];
    let err = unknown(
        &Lookup {
            via: &three,
            ..direct
        },
        &keys.ed,
    );
    assert!(
        err.contains("`ssh -J 'a@[fd00::2]:22,b@h:22' -p 22 c@i "),
        "{err}"
    );
}
