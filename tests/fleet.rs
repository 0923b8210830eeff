//! `fleetup check`, `upgrade` and `rollback` end to end: the quick start's local fleet, and a
//! lab of real OpenSSH hosts, both fed from the quick start's signed channel.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::lab::Lab;
use crate::support::{describe, fleetup, repo_path, require_root, run};

/// The quick start's demoapp at `version`, as the release channel ships it.
pub(crate) fn demoapp(version: &str) -> String {
    std::fs::read_to_string(repo_path("examples/quickstart/demoapp.in"))
        .unwrap()
        .replace("@VERSION@", version)
}

pub(crate) fn install(path: &Path, version: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, demoapp(version)).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

pub(crate) fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", describe(out)))
}

/// `host → field` of a `--output json` report.
pub(crate) fn field(doc: &Value, host: &str, key: &str) -> Value {
    doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == host)
        .unwrap_or_else(|| panic!("{host} not in {doc:#}"))[key]
        .clone()
}

/// The quick start's inventory, run from a scratch directory that has the repository's
/// `examples/` and its own `target/quickstart/` hosts, exactly as README's command runs it.
#[test]
fn quick_start_check_upgrade_rerun_and_rollback() {
    let scratch = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo_path("examples"), scratch.path().join("examples")).unwrap();
    let bin = |h: &str| {
        scratch
            .path()
            .join(format!("target/quickstart/{h}/opt/demoapp/demoapp"))
    };
    for h in ["web1", "web2", "db1"] {
        install(&bin(h), "1.0.0");
    }
    let fleet = |args: &[&str]| {
        run(fleetup()
            .current_dir(scratch.path())
            .env("XDG_CACHE_HOME", scratch.path().join("cache"))
            .args([
                "-i",
                "examples/quickstart/inventory.yml",
                "--output",
                "json",
            ])
            .args(args))
    };

    let check = fleet(&["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", describe(&check));
    let doc = json(&check);
    for h in ["web1", "web2", "db1"] {
        assert_eq!(field(&doc, h, "action"), "upgrade", "{doc:#}");
        assert_eq!(field(&doc, h, "current"), "1.0.0");
        assert_eq!(field(&doc, h, "target"), "1.1.0");
    }
    assert_eq!(
        std::fs::read_to_string(bin("web1")).unwrap(),
        demoapp("1.0.0"),
        "check changed nothing"
    );

    let up = fleet(&["upgrade"]);
    assert_eq!(up.status.code(), Some(0), "{}", describe(&up));
    // Not on a terminal: one plain line per host step, host first, for a CI log.
    let log = String::from_utf8_lossy(&up.stderr);
    for line in [
        "web1 probe ok: 1.0.0",
        "web1 lock ok:",
        "web1 stage ok:",
        "web1 swap ok: backup demoapp.fleetup-bak-1.0.0-",
        "web1 upgraded 1.0.0 -> 1.1.0",
    ] {
        assert!(
            log.lines().any(|l| l.starts_with(line)),
            "no line {line:?} in:\n{log}"
        );
    }
    assert!(!log.contains('\x1b'), "no escape codes in a log:\n{log}");
    let doc = json(&up);
    for h in ["web1", "web2", "db1"] {
        assert_eq!(
            field(&doc, h, "result"),
            "upgraded",
            "check predicted upgrade: {doc:#}"
        );
        assert_eq!(std::fs::read_to_string(bin(h)).unwrap(), demoapp("1.1.0"));
    }

    let again = fleet(&["upgrade"]);
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    assert_eq!(field(&json(&again), "web2", "result"), "unchanged");
    assert_eq!(field(&json(&fleet(&["check"])), "web2", "action"), "none");

    let back = fleet(&["rollback", "-l", "web1"]);
    assert_eq!(back.status.code(), Some(0), "{}", describe(&back));
    assert_eq!(field(&json(&back), "web1", "result"), "rolled_back");
    assert_eq!(
        std::fs::read_to_string(bin("web1")).unwrap(),
        demoapp("1.0.0")
    );
    assert_eq!(
        std::fs::read_to_string(bin("web2")).unwrap(),
        demoapp("1.1.0"),
        "--limit kept web2 out"
    );
}

/// Extra vars pointing a lab at the quick start's channel.
pub(crate) fn channel_vars() -> String {
    serde_json::json!({
        "fleetup_source": repo_path("examples/quickstart/releases"),
        "fleetup_public_keys": [repo_path("examples/quickstart/minisign.pub")],
    })
    .to_string()
}

fn lab_fleet(lab: &Lab, cache: &Path, known_hosts: Option<&PathBuf>, args: &[&str]) -> Output {
    let mut cmd = fleetup();
    cmd.env("XDG_CACHE_HOME", cache)
        .arg("-i")
        .arg(lab.inventory())
        .args(["-e", &channel_vars(), "--output", "json"]);
    if let Some(kh) = known_hosts {
        cmd.arg("-e")
            .arg(format!("fleetup_known_hosts={}", kh.display()));
    }
    run(cmd.args(args))
}

#[test]
fn lab_upgrade_over_ssh_with_backups_rerun_and_rollback() {
    require_root();
    let lab = Lab::start(3);
    let cache = tempfile::tempdir().unwrap();
    let names: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
    for h in &names {
        install(&lab.opt_dir(h).join("demoapp/demoapp"), "1.0.0");
    }

    let check = lab_fleet(&lab, cache.path(), None, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", describe(&check));
    for h in &names {
        assert_eq!(
            field(&json(&check), h, "action"),
            "upgrade",
            "{}",
            describe(&check)
        );
    }

    let up = lab_fleet(&lab, cache.path(), None, &["upgrade"]);
    assert_eq!(up.status.code(), Some(0), "{}", describe(&up));
    for h in &names {
        assert_eq!(
            field(&json(&up), h, "result"),
            "upgraded",
            "{}",
            describe(&up)
        );
        // Seen from the host itself, over OpenSSH: the new version, and the old one kept as a backup.
        let out = lab.ssh(h, "/opt/demoapp/demoapp --version; ls /opt/demoapp");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("demoapp 1.1.0\n"), "{h}: {text}");
        assert!(text.contains("demoapp.fleetup-bak-1.0.0-"), "{h}: {text}");
    }

    let again = lab_fleet(&lab, cache.path(), None, &["upgrade"]);
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    assert_eq!(field(&json(&again), &names[0], "result"), "unchanged");

    let back = lab_fleet(&lab, cache.path(), None, &["rollback", "-l", &names[1]]);
    assert_eq!(back.status.code(), Some(0), "{}", describe(&back));
    let out = lab.ssh(&names[1], "/opt/demoapp/demoapp --version");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "demoapp 1.0.0\n");
}

#[test]
fn lab_changed_host_key_fails_that_host_only_and_names_both_fingerprints() {
    require_root();
    let lab = Lab::start(2);
    let cache = tempfile::tempdir().unwrap();
    let names: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
    for h in &names {
        install(&lab.opt_dir(h).join("demoapp/demoapp"), "1.0.0");
    }
    // A known_hosts where the second host has somebody else's key (the first host's).
    let text = std::fs::read_to_string(lab.known_hosts()).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let first_key = lines[0].split_once(' ').unwrap().1;
    let second_addr = lines[1].split_once(' ').unwrap().0;
    let forged = format!("{}\n{second_addr} {first_key}\n", lines[0]);
    let kh = lab.dir().join("known_hosts.forged");
    std::fs::write(&kh, forged).unwrap();

    let up = lab_fleet(&lab, cache.path(), Some(&kh), &["upgrade"]);
    assert_eq!(up.status.code(), Some(1), "{}", describe(&up));
    let doc = json(&up);
    assert_eq!(field(&doc, &names[0], "result"), "upgraded", "{doc:#}");
    assert_eq!(field(&doc, &names[1], "result"), "unreachable", "{doc:#}");
    let err = field(&doc, &names[1], "error")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        err.matches("SHA256:").count() >= 2,
        "both fingerprints named: {err}"
    );
    let out = lab.ssh(&names[1], "/opt/demoapp/demoapp --version");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "demoapp 1.0.0\n",
        "the refused host was not touched"
    );
}

#[test]
fn lab_unknown_host_key_strict_refuses_accept_new_records_then_strict_accepts() {
    require_root();
    let lab = Lab::start(1);
    let cache = tempfile::tempdir().unwrap();
    let host = lab.hosts()[0].name.clone();
    install(&lab.opt_dir(&host).join("demoapp/demoapp"), "1.0.0");
    let kh = lab.dir().join("known_hosts.empty");
    std::fs::write(&kh, "").unwrap();

    let strict = lab_fleet(&lab, cache.path(), Some(&kh), &["check"]);
    assert_eq!(strict.status.code(), Some(1), "{}", describe(&strict));
    assert_eq!(
        field(&json(&strict), &host, "action"),
        "unreachable",
        "{}",
        describe(&strict)
    );
    let why = field(&json(&strict), &host, "reason")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(why.contains("ssh-keyscan"), "the fix is named: {why}");
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        "",
        "strict records nothing"
    );

    let accept = lab_fleet(
        &lab,
        cache.path(),
        Some(&kh),
        &["-e", "fleetup_host_key_checking=accept-new", "check"],
    );
    assert_eq!(accept.status.code(), Some(0), "{}", describe(&accept));
    assert_eq!(field(&json(&accept), &host, "action"), "upgrade");
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert!(
        recorded.contains(&lab.hosts()[0].addr),
        "accept-new recorded the key: {recorded:?}"
    );

    let strict_again = lab_fleet(&lab, cache.path(), Some(&kh), &["check"]);
    assert_eq!(
        strict_again.status.code(),
        Some(0),
        "{}",
        describe(&strict_again)
    );
}

/// A host whose variables are wrong fails alone, named with the variable; the others go on.
#[test]
fn a_host_with_bad_variables_fails_alone() {
    let scratch = tempfile::tempdir().unwrap();
    let good = scratch.path().join("good/demoapp");
    let bad = scratch.path().join("bad/demoapp");
    install(&good, "1.0.0");
    install(&bad, "1.0.0");
    let inv = scratch.path().join("inv.yml");
    let text = format!(
        "all:\n  vars:\n    ansible_connection: local\n    fleetup_source: {}\n    fleetup_public_keys: [{}]\n  hosts:\n    good:\n      fleetup_binary: {}\n    bad:\n      fleetup_binary: {}\n      fleetup_backups: 0\n",
        repo_path("examples/quickstart/releases").display(),
        repo_path("examples/quickstart/minisign.pub").display(),
        good.display(),
        bad.display(),
    );
    std::fs::write(&inv, text).unwrap();
    let out = run(fleetup()
        .env("XDG_CACHE_HOME", scratch.path().join("cache"))
        .arg("-i")
        .arg(&inv)
        .args(["--output", "json", "upgrade"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let doc = json(&out);
    assert_eq!(field(&doc, "good", "result"), "upgraded", "{doc:#}");
    assert_eq!(field(&doc, "bad", "result"), "failed", "{doc:#}");
    assert!(
        field(&doc, "bad", "error")
            .as_str()
            .unwrap()
            .contains("fleetup_backups"),
        "{doc:#}"
    );
    assert_eq!(
        std::fs::read_to_string(&bad).unwrap(),
        demoapp("1.0.0"),
        "the bad host was not touched"
    );
}

/// A login user for the lab (the lab's sshd takes the lab key for any user): not locked, so
/// OpenSSH lets it in, with `sudoers` as its sudo rule.
fn lab_user(name: &str, sudoers: &str) -> PathBuf {
    let exists = std::process::Command::new("id")
        .arg(name)
        .output()
        .unwrap()
        .status
        .success();
    if !exists {
        let out = run(std::process::Command::new("useradd").args(["-M", "-s", "/bin/sh", name]));
        assert!(out.status.success(), "{}", describe(&out));
    }
    // `useradd` locks the password (`!`), and sshd refuses locked accounts: `*` is "no
    // password", not locked.
    let out = run(std::process::Command::new("usermod").args(["-p", "*", name]));
    assert!(out.status.success(), "{}", describe(&out));
    let rule = PathBuf::from(format!("/etc/sudoers.d/{name}"));
    std::fs::write(&rule, format!("{name} ALL=(ALL) {sudoers}\n")).unwrap();
    std::fs::set_permissions(&rule, std::os::unix::fs::PermissionsExt::from_mode(0o440)).unwrap();
    rule
}

#[test]
fn lab_become_with_sudo_and_sudo_that_wants_a_password() {
    require_root();
    let lab = Lab::start(1);
    let cache = tempfile::tempdir().unwrap();
    let host = lab.hosts()[0].name.clone();
    let bin = lab.opt_dir(&host).join("demoapp/demoapp");
    install(&bin, "1.0.0");
    let ok_rule = lab_user("fleetup-sshop", "NOPASSWD: ALL");
    let pw_rule = lab_user("fleetup-sshpw", "ALL");

    let as_user = |user: &str| {
        lab_fleet(
            &lab,
            cache.path(),
            None,
            &[
                "-e",
                &format!("ansible_user={user} ansible_become=True"),
                "upgrade",
            ],
        )
    };
    let refused = as_user("fleetup-sshpw");
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let err = field(&json(&refused), &host, "error")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(err.contains("sudo needs a password"), "{err}");
    assert_eq!(std::fs::read_to_string(&bin).unwrap(), demoapp("1.0.0"));

    let done = as_user("fleetup-sshop");
    assert_eq!(done.status.code(), Some(0), "{}", describe(&done));
    assert_eq!(field(&json(&done), &host, "result"), "upgraded");
    let meta = std::fs::metadata(&bin).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&meta),
        0,
        "still owned by root"
    );
    assert_eq!(std::fs::read_to_string(&bin).unwrap(), demoapp("1.1.0"));
    for rule in [ok_rule, pw_rule] {
        let _ = std::fs::remove_file(rule);
    }
}

#[test]
fn lab_upgrade_through_a_jump_host() {
    require_root();
    let lab = Lab::start(2);
    let cache = tempfile::tempdir().unwrap();
    let (jump, target) = (&lab.hosts()[0], &lab.hosts()[1]);
    install(&lab.opt_dir(&target.name).join("demoapp/demoapp"), "1.0.0");
    let via = |spec: String| {
        let jump_var = format!("fleetup_jump_host={spec}");
        lab_fleet(
            &lab,
            cache.path(),
            None,
            &["-l", &target.name, "-e", &jump_var, "upgrade"],
        )
    };
    // Through a jump host that is not there, the target cannot be reached: the jump is used.
    let out = via(format!("root@{}:2", jump.addr));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        field(&json(&out), &target.name, "result"),
        "unreachable",
        "{}",
        describe(&out)
    );

    let out = via(format!("root@{}", jump.addr));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(field(&json(&out), &target.name, "result"), "upgraded");
    let out = lab.ssh(&target.name, "/opt/demoapp/demoapp --version");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "demoapp 1.1.0\n");
}

#[test]
fn lab_upgrade_with_the_key_in_an_ssh_agent_only() {
    require_root();
    let lab = Lab::start(1);
    let scratch = tempfile::tempdir().unwrap();
    let host = lab.hosts()[0].name.clone();
    install(&lab.opt_dir(&host).join("demoapp/demoapp"), "1.0.0");
    let sock = scratch.path().join("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent")
        .args(["-D", "-a"])
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent (openssh-client)");
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let add = run(std::process::Command::new("ssh-add")
        .arg(lab.client_key())
        .env("SSH_AUTH_SOCK", &sock));
    assert!(add.status.success(), "{}", describe(&add));

    // No key file anywhere (none in the inventory, an empty home): only the agent has it.
    let upgrade = |agent_sock: Option<&Path>| {
        let mut cmd = fleetup();
        match agent_sock {
            Some(s) => cmd.env("SSH_AUTH_SOCK", s),
            None => cmd.env_remove("SSH_AUTH_SOCK"),
        };
        let no_key = r#"{"ansible_ssh_private_key_file": null}"#;
        run(cmd
            .env("HOME", scratch.path())
            .env("XDG_CACHE_HOME", scratch.path().join("cache"))
            .arg("-i")
            .arg(lab.inventory())
            .args([
                "-e",
                &channel_vars(),
                "-e",
                no_key,
                "--output",
                "json",
                "upgrade",
            ]))
    };
    let without = upgrade(None);
    assert_eq!(
        field(&json(&without), &host, "result"),
        "unreachable",
        "{}",
        describe(&without)
    );
    let out = upgrade(Some(&sock));
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(field(&json(&out), &host, "result"), "upgraded");
}
