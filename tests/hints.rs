//! Errors that say what to do, and what they say works: the commands a message suggests are
//! run as an operator would paste them (against real OpenSSH lab hosts, a real HTTP server),
//! and fleetup then gets past the error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::fleet::{channel_vars, field, install, json};
use crate::support::http::HttpServer;
use crate::support::lab::Lab;
use crate::support::{describe, fleetup, repo_path, require_root, require_tool, run};

/// `fleetup check --output json` of the lab with `known_hosts` as its only known_hosts file.
fn lab_check(lab: &Lab, cache: &Path, known_hosts: &Path, args: &[&str]) -> Output {
    run(fleetup()
        .env("XDG_CACHE_HOME", cache)
        .arg("-i")
        .arg(lab.inventory())
        .args(["-e", &channel_vars(), "--output", "json"])
        .arg("-e")
        .arg(format!("fleetup_known_hosts={}", known_hosts.display()))
        .args(args)
        .arg("check"))
}

/// The `reason` of `host` in a JSON report.
fn reason(out: &Output, host: &str) -> String {
    field(&json(out), host, "reason")
        .as_str()
        .unwrap_or_else(|| panic!("no reason for {host}: {}", describe(out)))
        .to_owned()
}

/// The text between the backticks that follow `after` in `text`.
fn quoted_after<'a>(text: &'a str, after: &str) -> &'a str {
    let start = text
        .find(after)
        .unwrap_or_else(|| panic!("no {after:?} in: {text}"))
        + after.len();
    let rest = text[start..]
        .strip_prefix('`')
        .unwrap_or_else(|| panic!("no command after {after:?} in: {text}"));
    &rest[..rest.find('`').expect("closing backtick")]
}

/// Runs a suggested command line with sh, as pasted.
fn paste(command: &str, path: Option<&Path>) -> Output {
    let mut sh = Command::new("sh");
    sh.args(["-c", command]);
    if let Some(dir) = path {
        let path = std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        sh.env("PATH", path);
    }
    let out = run(&mut sh);
    assert!(out.status.success(), "`{command}`: {}", describe(&out));
    out
}

/// `SHA256:…` of a public key file, as `ssh-keygen -lf` prints it.
fn fingerprint_of(pub_file: &Path) -> String {
    let out = run(Command::new("ssh-keygen").arg("-lf").arg(pub_file));
    assert!(out.status.success(), "{}", describe(&out));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

/// The host's own public key file in the lab (what "check it on the host" reads).
fn host_key_pub(lab: &Lab, host: &str) -> PathBuf {
    lab.dir()
        .join("hosts")
        .join(host)
        .join("ssh_host_ed25519_key.pub")
}

#[test]
fn lab_unknown_host_key_names_the_ssh_keyscan_that_adds_it() {
    require_root();
    require_tool("ssh-keyscan", "apt-get install openssh-client");
    let lab = Lab::start(1);
    let cache = tempfile::tempdir().unwrap();
    let host = lab.hosts()[0].clone();
    install(&lab.opt_dir(&host.name).join("demoapp/demoapp"), "1.0.0");
    let kh = lab.dir().join("known_hosts.empty");
    std::fs::write(&kh, "").unwrap();

    let refused = lab_check(&lab, cache.path(), &kh, &[]);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let why = reason(&refused, &host.name);
    // The exact command: the port, the key's type, the address, the file fleetup reads.
    let scan = quoted_after(&why, "then add the key with ");
    assert_eq!(
        scan,
        format!(
            "ssh-keyscan -p 22 -t ed25519 {} >> {}",
            host.addr,
            kh.display()
        ),
        "{why}"
    );
    // The fingerprint to check out of band is the host's own key's, and where to read it.
    let real = fingerprint_of(&host_key_pub(&lab, &host.name));
    assert!(why.contains(&format!("ssh-ed25519 key {real}")), "{why}");
    assert!(
        why.contains("out of band")
            && why.contains("`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`"),
        "{why}"
    );
    assert!(
        why.contains("fleetup_host_key_checking=accept-new"),
        "{why}"
    );
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        "",
        "nothing recorded"
    );

    // Pasted as it is, it fixes the run: strict checking now accepts the host.
    paste(scan, None);
    let ok = lab_check(&lab, cache.path(), &kh, &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));
    assert_eq!(field(&json(&ok), &host.name, "action"), "upgrade");
    let scanned = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(
        scanned.lines().filter(|l| !l.starts_with('#')).count(),
        1,
        "one key, of the type asked for: {scanned}"
    );
    assert_eq!(fingerprint_of(&kh), real, "the key scanned is the host's");
}

#[test]
fn lab_changed_host_key_warns_before_its_fix_and_the_fix_works() {
    require_root();
    let lab = Lab::start(1);
    let cache = tempfile::tempdir().unwrap();
    let host = lab.hosts()[0].clone();
    install(&lab.opt_dir(&host.name).join("demoapp/demoapp"), "1.0.0");
    // Another key on file for the host: a reinstall, or someone in the middle.
    let other = lab.dir().join("other_key");
    let made = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other));
    assert!(made.status.success(), "{}", describe(&made));
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let kh = lab.dir().join("known_hosts.changed");
    std::fs::write(&kh, format!("# mine\n{} {other_pub}", host.addr)).unwrap();

    let refused = lab_check(&lab, cache.path(), &kh, &[]);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let why = reason(&refused, &host.name);
    assert!(why.contains("HOST KEY CHANGED"), "{why}");
    let warn = why.find("man-in-the-middle").expect(&why);
    let dont = why.find("Do NOT just scan the key again").expect(&why);
    let remove_at = why.find("ssh-keygen -R").expect(&why);
    assert!(
        warn < dont && dont < remove_at,
        "the warning comes before the fix: {why}"
    );
    assert!(
        why.contains(&fingerprint_of(&other.with_extension("pub")))
            && why.contains(&fingerprint_of(&host_key_pub(&lab, &host.name)))
            && why.contains(&format!("{}:2", kh.display())),
        "both fingerprints and the line on file: {why}"
    );
    let remove = quoted_after(&why, "remove the old entry with ");
    assert_eq!(
        remove,
        format!("ssh-keygen -R {} -f {}", host.addr, kh.display())
    );
    let scan = quoted_after(&why, "and add the new key with ");

    // Once the new key is confirmed, the two commands fix it.
    paste(remove, None);
    let left = std::fs::read_to_string(&kh).unwrap();
    assert!(
        !left.contains(other_pub.split_whitespace().nth(1).unwrap()),
        "the old entry is gone: {left}"
    );
    paste(scan, None);
    let ok = lab_check(&lab, cache.path(), &kh, &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));
}

#[test]
fn lab_unknown_key_behind_a_bastion_is_scanned_from_the_bastion() {
    require_root();
    require_tool("ssh-keyscan", "apt-get install openssh-client");
    let lab = Lab::start(2);
    let cache = tempfile::tempdir().unwrap();
    let (bastion, target) = (lab.hosts()[0].clone(), lab.hosts()[1].clone());
    install(&lab.opt_dir(&target.name).join("demoapp/demoapp"), "1.0.0");
    // Only the bastion's key is on file.
    let all = std::fs::read_to_string(lab.known_hosts()).unwrap();
    let kh = lab.dir().join("known_hosts.bastion");
    let bastion_line: String = all
        .lines()
        .filter(|l| l.starts_with(&format!("{} ", bastion.addr)))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!bastion_line.is_empty(), "{all}");
    std::fs::write(&kh, &bastion_line).unwrap();
    let jump = format!("fleetup_jump_host=root@{}", bastion.addr);

    let refused = lab_check(&lab, cache.path(), &kh, &["-e", &jump, "-l", &target.name]);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let why = reason(&refused, &target.name);
    let scan = quoted_after(&why, "then add the key with ");
    assert_eq!(
        scan,
        format!(
            "ssh -p 22 root@{} 'ssh-keyscan -p 22 -t ed25519 {}' >> {}",
            bastion.addr,
            target.addr,
            kh.display()
        ),
        "{why}"
    );

    // Pasted on a controller whose ssh knows the bastion (here: the lab's key and
    // known_hosts, through a `ssh` wrapper first on PATH, as ~/.ssh/config would).
    let bin = tempfile::tempdir().unwrap();
    let wrapper = bin.path().join("ssh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {} -F {} -o BatchMode=yes -o StrictHostKeyChecking=yes \
             -o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null \"$@\"\n",
            require_tool("ssh", "apt-get install openssh-client").display(),
            lab.dir().join("ssh_config").display(),
            lab.known_hosts().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    paste(scan, Some(bin.path()));
    let ok = lab_check(&lab, cache.path(), &kh, &["-e", &jump, "-l", &target.name]);
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));
    assert_eq!(field(&json(&ok), &target.name, "action"), "upgrade");
}

#[test]
fn lab_refused_key_says_how_to_install_it() {
    require_root();
    let lab = Lab::start(1);
    let cache = tempfile::tempdir().unwrap();
    let host = lab.hosts()[0].clone();
    install(&lab.opt_dir(&host.name).join("demoapp/demoapp"), "1.0.0");
    let key = lab.dir().join("new_key");
    let made = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key));
    assert!(made.status.success(), "{}", describe(&made));
    let with_key = format!("ansible_ssh_private_key_file={}", key.display());

    let refused = lab_check(&lab, cache.path(), &lab.known_hosts(), &["-e", &with_key]);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    let why = reason(&refused, &host.name);
    assert!(
        why.contains("authentication as root failed") && why.contains("refused"),
        "{why}"
    );
    assert!(
        why.contains(&format!(
            "`ssh-copy-id -i {}.pub -p 22 root@{}`",
            key.display(),
            host.addr
        )) && why.contains("ansible_user")
            && why.contains("~root/.ssh/authorized_keys"),
        "{why}"
    );
    // What ssh-copy-id does, done to the file this lab's sshd reads: then the key works.
    let mut keys = std::fs::read_to_string(lab.dir().join("authorized_keys")).unwrap();
    keys.push_str(&std::fs::read_to_string(key.with_extension("pub")).unwrap());
    std::fs::write(lab.dir().join("authorized_keys"), keys).unwrap();
    let ok = lab_check(&lab, cache.path(), &lab.known_hosts(), &["-e", &with_key]);
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));

    // A key file that is not there says which variable to fix.
    let gone = format!(
        "ansible_ssh_private_key_file={}",
        lab.dir().join("no_such_key").display()
    );
    let refused = lab_check(&lab, cache.path(), &lab.known_hosts(), &["-e", &gone]);
    let why = reason(&refused, &host.name);
    assert!(
        why.contains("no_such_key: it does not exist (check ansible_ssh_private_key_file"),
        "{why}"
    );
}

/// Exit 2 with exactly this on stderr.
fn fails_with(out: &Output, stderr: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", describe(out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        stderr,
        "{}",
        describe(out)
    );
}

#[test]
fn patterns_that_match_nothing_name_what_is_close() {
    let inv = |args: &[&str]| run(fleetup().args(["-i", "inventories/web-db.ini"]).args(args));
    // A short name of an FQDN host.
    fails_with(
        &inv(&["-l", "web01", "inventory", "--list"]),
        "fleetup: pattern 'web01' matches no host or group (did you mean 'web01.example.com' (host)?)\n",
    );
    // Case, swapped letters, a glob.
    fails_with(
        &inv(&["-l", "WEB:!db", "inventory", "--list"]),
        "fleetup: pattern 'WEB' matches no host or group (did you mean 'web' (group)?)\n",
    );
    fails_with(
        &inv(&["-l", "prdo", "inventory", "--list"]),
        "fleetup: pattern 'prdo' matches no host or group (did you mean 'prod' (group)?)\n",
    );
    // Nothing close: the groups there are. The same before a fleet command touches anything.
    let out = inv(&["-l", "frontend", "check"]);
    fails_with(
        &out,
        "fleetup: pattern 'frontend' matches no host or group (no name is close; the groups \
         are 'web', 'db', 'prod'; `fleetup inventory --graph` shows every group and host)\n",
    );
    // inventory --host and --graph GROUP.
    fails_with(
        &inv(&["inventory", "--host", "db1.example.com"]),
        "fleetup: host 'db1.example.com' is not in the inventory (did you mean 'db01.example.com'?)\n",
    );
    fails_with(
        &inv(&["inventory", "--graph", "wbe"]),
        "fleetup: group 'wbe' is not in the inventory (did you mean 'web'?)\n",
    );
}

#[test]
fn missing_files_and_settings_say_what_to_do() {
    // An inventory path with the wrong extension.
    fails_with(
        &run(fleetup().args(["-i", "inventories/web-db.yaml", "inventory", "--list"])),
        "fleetup: cannot read inventory inventories/web-db.yaml: No such file or directory \
         (os error 2) (did you mean inventories/web-db.yml, inventories/web-db.ini?)\n",
    );
    // `-e @file` is an extra vars file, not an inventory.
    let out = run(fleetup().args([
        "-i",
        "inventories/web-db.ini",
        "-e",
        "@inventories/vars.yml",
        "inventory",
        "--list",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("fleetup: cannot read extra vars file inventories/vars.yml: "),
        "{}",
        describe(&out)
    );
    // A retry file that is not there.
    let out = run(fleetup().args([
        "-i",
        "inventories/web-db.ini",
        "-l",
        "@inventories/nothing.retry",
        "inventory",
        "--list",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`@FILE` reads host names from FILE"),
        "{}",
        describe(&out)
    );

    // No fleetup_source: where to set it.
    let scratch = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo_path("examples"), scratch.path().join("examples")).unwrap();
    for h in ["web1", "web2", "db1"] {
        install(
            &scratch
                .path()
                .join(format!("target/quickstart/{h}/opt/demoapp/demoapp")),
            "1.0.0",
        );
    }
    let quick = |args: &[&str]| {
        run(fleetup()
            .current_dir(scratch.path())
            .env("XDG_CACHE_HOME", scratch.path().join("cache"))
            .args(["-i", "examples/quickstart/inventory.yml"])
            .args(args))
    };
    let out = quick(&[
        "-e",
        r#"{"fleetup_source": null}"#,
        "--output",
        "json",
        "check",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let why = reason(&out, "web1");
    assert!(
        why.contains("fleetup_source is not set")
            && why.contains("-e fleetup_source=URL")
            && why.contains("`fleetup_source: https://releases.example.com/app`"),
        "{why}"
    );

    // A channel that is not at a directory source: the channels that are.
    let out = quick(&["-e", "fleetup_channel=beta", "releases"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no channel \"beta\" at file://")
            && err.contains("(the channels there: stable)")
            && err.contains("fleetup_channel"),
        "{err}"
    );
}

#[test]
fn a_channel_missing_on_an_http_source_says_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["stable.json", "stable.json.minisig"] {
        std::fs::copy(
            repo_path("examples/quickstart/releases").join(f),
            dir.path().join(f),
        )
        .unwrap();
    }
    let server = HttpServer::start(dir.path());
    let releases = |channel: &str| {
        run(fleetup().args([
            "releases",
            "--source",
            &server.base_url(),
            "--channel",
            channel,
            "--public-key",
            "examples/quickstart/minisign.pub",
        ]))
    };
    let ok = releases("stable");
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));
    let out = releases("beta");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}beta.json.minisig: HTTP 404 Not Found: no channel \"beta\" at {}; check the \
             channel (fleetup_channel, --channel) and the source (fleetup_source, --source)",
            server.base_url(),
            server.base_url()
        )) && err.contains("`fleetup release publish --channel beta`"),
        "{err}"
    );
}
