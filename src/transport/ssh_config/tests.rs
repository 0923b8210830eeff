//! Tests of the ssh_config reader. The `ssh_g_*` tests compare [`SshConfig::resolve`] with what
//! OpenSSH's `ssh -G -F FILE alias` prints (it resolves the config without connecting); they
//! fail, not skip, when `ssh` is missing.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, text).unwrap();
    path
}

fn config(text: &str) -> (tempfile::TempDir, SshConfig) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "config", text);
    let config = SshConfig::load_with(&path, Path::new("/home/me"), Some("me")).unwrap();
    (dir, config)
}

fn resolve(config: &SshConfig, alias: &str) -> HostConfig {
    config.resolve(alias).unwrap()
}

fn jump(user: Option<&str>, host: &str, port: Option<u16>) -> JumpHost {
    JumpHost {
        user: user.map(str::to_owned),
        host: host.to_owned(),
        port,
    }
}

// ---- unit tests ------------------------------------------------------------------------------

#[test]
fn missing_file_is_empty() {
    let config =
        SshConfig::load_with(Path::new("/nonexistent/config"), Path::new("/h"), None).unwrap();
    assert_eq!(resolve(&config, "x"), HostConfig::default());
}

#[test]
fn unreadable_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = SshConfig::load_with(dir.path(), Path::new("/h"), None).unwrap_err();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
}

#[test]
fn line_syntax() {
    let (_d, c) = config(
        "# comment\n\
         \n\
         HOST=web\n\
         \tHostName = web.example.com # trailing comment\n\
         \x20 user\t\"alice smith\"\n\
         Port=2222\n\
         IdentityFile '/k/with space'\n\
         IdentityFile /k/back\\ slash\\\"q\n",
    );
    let h = resolve(&c, "web");
    assert_eq!(h.hostname.as_deref(), Some("web.example.com"));
    assert_eq!(h.user.as_deref(), Some("alice smith"));
    assert_eq!(h.port, Some(2222));
    assert_eq!(
        h.identity_files,
        vec![
            PathBuf::from("/k/with space"),
            PathBuf::from("/k/back slash\"q")
        ]
    );
}

#[test]
fn syntax_errors_name_file_and_line() {
    for (text, what) in [
        ("Host a\n  Port 0\n", ":2: Port"),
        ("Port 70000\n", ":1: Port"),
        ("Port x\n", ":1: Port"),
        ("User \"unterminated\n", ":1: unterminated"),
        ("Host\n", ":1: Host"),
        ("Host a\nUser a b\n", ":2: User"),
        (
            "StrictHostKeyChecking perhaps\n",
            ":1: StrictHostKeyChecking",
        ),
        ("ProxyJump user@:22\n", ":1: ProxyJump"),
        ("Host x\nProxyJump h:0\n", ":2: ProxyJump"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", text);
        let err = SshConfig::load_with(&path, Path::new("/h"), None).unwrap_err();
        assert!(err.contains(&format!("config{what}")), "{text:?}: {err}");
    }
}

#[test]
fn first_value_wins_identity_files_accumulate() {
    let (_d, c) = config(
        "User top\n\
         Host web*\n\
         \x20 User web\n\
         \x20 Port 2200\n\
         \x20 IdentityFile /k/a\n\
         Host *\n\
         \x20 User star\n\
         \x20 Port 22\n\
         \x20 IdentityFile /k/b\n\
         \x20 IdentityFile /k/a\n",
    );
    let h = resolve(&c, "web1");
    assert_eq!(h.user.as_deref(), Some("top"));
    assert_eq!(h.port, Some(2200));
    assert_eq!(
        h.identity_files,
        vec![PathBuf::from("/k/a"), PathBuf::from("/k/b")]
    );
    assert!(h.identity_files_configured);
    let h = resolve(&c, "db");
    assert_eq!(h.port, Some(22));
    assert_eq!(
        h.identity_files,
        vec![PathBuf::from("/k/b"), PathBuf::from("/k/a")]
    );
}

#[test]
fn host_patterns() {
    let (_d, c) = config(
        "Host a b?x *.lab !bad.lab\n  User one\n\
         Host !only-negated\n  User never\n\
         Host CaSe\n  User case\n",
    );
    for alias in ["a", "b1x", "x.lab"] {
        assert_eq!(resolve(&c, alias).user.as_deref(), Some("one"), "{alias}");
    }
    for alias in ["bad.lab", "b12x", "lab", "A", "other"] {
        assert_eq!(resolve(&c, alias).user, None, "{alias}");
    }
    assert_eq!(resolve(&c, "CaSe").user.as_deref(), Some("case"));
    assert_eq!(
        resolve(&c, "case").user,
        None,
        "Host patterns are case-sensitive"
    );
}

#[test]
fn match_blocks_are_skipped_with_a_warning_and_do_not_leak() {
    let (_d, c) = config(
        "Host web\n  Port 2201\n\
         Match host web\n  User from-match\n  Port 2202\n  IdentityFile /k/match\n\
         Host *\n  User star\n",
    );
    let h = resolve(&c, "web");
    assert_eq!(h.user.as_deref(), Some("star"));
    assert_eq!(h.port, Some(2201));
    assert!(h.identity_files.is_empty());
    assert_eq!(resolve(&c, "other").user.as_deref(), Some("star"));
    assert_eq!(resolve(&c, "other").port, None);
    assert_eq!(c.warnings().len(), 1);
    assert!(
        c.warnings()[0].contains("config:3: Match"),
        "{:?}",
        c.warnings()
    );
}

#[test]
fn tokens_and_tilde() {
    let (_d, c) = config(
        "Host web*\n\
         \x20 HostName %h.EXAMPLE.com\n\
         \x20 IdentityFile ~/.ssh/id_%h_%r_%p_%n_%u_%%\n\
         \x20 IdentityFile %d/k\n\
         \x20 UserKnownHostsFile ~/kh/%h ~\n\
         Host plain\n\
         \x20 User bob\n\
         \x20 IdentityFile /k/%r@%h:%p\n\
         Host nouser\n\
         \x20 IdentityFile /k/%r@%h:%p\n",
    );
    let h = resolve(&c, "web1");
    assert_eq!(h.hostname.as_deref(), Some("web1.example.com"));
    assert_eq!(
        h.identity_files,
        vec![
            PathBuf::from("/home/me/.ssh/id_web1.example.com_me_22_web1_me_%"),
            PathBuf::from("/home/me/k"),
        ]
    );
    assert_eq!(
        h.user_known_hosts_files,
        Some(vec![
            PathBuf::from("/home/me/kh/web1.example.com"),
            PathBuf::from("/home/me")
        ])
    );
    let h = resolve(&c, "nouser");
    assert_eq!(h.identity_files, vec![PathBuf::from("/k/me@nouser:22")]);
    let h = resolve(&c, "plain");
    assert_eq!(h.identity_files, vec![PathBuf::from("/k/bob@plain:22")]);

    let (_d, c) = config("IdentityFile /k/${HOME}/x\n");
    let home = std::env::var("HOME").unwrap();
    assert_eq!(
        resolve(&c, "x").identity_files,
        vec![PathBuf::from(format!("/k/{home}/x"))]
    );
}

#[test]
fn unsupported_tokens_are_refused() {
    for line in [
        "IdentityFile /k/%C",
        "IdentityFile /k/%l",
        "UserKnownHostsFile /k/%k",
        "IdentityFile ~root/.ssh/id",
        "IdentityFile /k/${FLEETUP_SURELY_UNSET_VARIABLE}",
        "HostName %p.example.com",
        "IdentityFile /k/%",
    ] {
        let (_d, c) = config(&format!("{line}\n"));
        let err = c.resolve("x").unwrap_err();
        let option = line.split(' ').next().unwrap();
        assert!(err.contains(option), "{line}: {err}");
    }
    // %u without a known local user.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "config", "IdentityFile /k/%u\n");
    let c = SshConfig::load_with(&path, Path::new("/h"), None).unwrap();
    assert!(c.resolve("x").unwrap_err().contains("local user"));
}

#[test]
fn none_values() {
    let (_d, c) = config(
        "Host a\n  IdentityFile none\n  UserKnownHostsFile none\n  ProxyJump none\n\
         Host *\n  ProxyJump j\n  UserKnownHostsFile /kh\n  ProxyCommand nc %h %p\n",
    );
    let h = resolve(&c, "a");
    assert!(h.identity_files.is_empty());
    assert!(h.identity_files_configured);
    assert_eq!(h.user_known_hosts_files, Some(vec![]));
    assert!(h.proxy_jump.is_empty());
    assert_eq!(h.proxy_command, None);
    let h = resolve(&c, "b");
    assert!(!h.identity_files_configured);
    assert_eq!(h.proxy_jump, vec![jump(None, "j", None)]);
    assert_eq!(h.proxy_command, None, "ProxyJump came first");
    assert_eq!(h.user_known_hosts_files, Some(vec![PathBuf::from("/kh")]));
}

#[test]
fn proxy_jump_parsing() {
    assert_eq!(
        parse_proxy_jump("u1@j1:2201,ssh://u2@j2:2202,j3,[::1]:2203,u@[fe80::1],ssh://j4/")
            .unwrap(),
        vec![
            jump(Some("u1"), "j1", Some(2201)),
            jump(Some("u2"), "j2", Some(2202)),
            jump(None, "j3", None),
            jump(None, "::1", Some(2203)),
            jump(Some("u"), "fe80::1", None),
            jump(None, "j4", None),
        ]
    );
    assert_eq!(
        parse_proxy_jump("a@b@host").unwrap(),
        vec![jump(Some("a@b"), "host", None)]
    );
    assert_eq!(parse_proxy_jump("NONE").unwrap(), vec![]);
    for bad in [
        "",
        "h:",
        "h:0",
        "h:99999",
        "@h",
        "[::1",
        "[::1]x",
        "ssh://h/path",
        "-oProxy",
        "a,,b",
    ] {
        assert!(parse_proxy_jump(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn include_relative_to_dot_ssh_with_globs() {
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    write(&ssh, "conf.d/20-b.conf", "Host b\n  User from-b\n");
    write(
        &ssh,
        "conf.d/10-a.conf",
        "Host a b\n  User from-a\n  Port 2001\n",
    );
    write(&ssh, "conf.d/.hidden.conf", "Host *\n  User hidden\n");
    write(&ssh, "conf.d/notes.txt", "Host *\n  User txt\n");
    write(home.path(), "extra", "Host c\n  User from-tilde\n");
    let path = write(
        &ssh,
        "config",
        "Include conf.d/*.conf ~/extra /nonexistent/* missing-file\nHost *\n  User star\n",
    );
    let c = SshConfig::load_with(&path, home.path(), Some("me")).unwrap();
    assert_eq!(resolve(&c, "a").user.as_deref(), Some("from-a"));
    assert_eq!(
        resolve(&c, "b").user.as_deref(),
        Some("from-a"),
        "10-a before 20-b"
    );
    assert_eq!(resolve(&c, "c").user.as_deref(), Some("from-tilde"));
    assert_eq!(resolve(&c, "d").user.as_deref(), Some("star"));
}

#[test]
fn include_in_inactive_block_never_matches_and_keeps_block_state() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(
        dir.path(),
        "inc",
        "Host *\n  Port 2001\nHost x\n  User inc-x\n",
    );
    let path = write(
        dir.path(),
        "config",
        &format!(
            "Host never\n  Include {inc}\nHost x\n  Include {inc}\n  IdentityFile /k/x\n",
            inc = inc.display()
        ),
    );
    let c = SshConfig::load_with(&path, dir.path(), None).unwrap();
    let h = resolve(&c, "x");
    assert_eq!(h.port, Some(2001));
    assert_eq!(h.user.as_deref(), Some("inc-x"));
    // After the include's `Host x`… the including `Host x` block goes on.
    assert_eq!(h.identity_files, vec![PathBuf::from("/k/x")]);
    let h = resolve(&c, "y");
    assert_eq!(
        h.port, None,
        "Host * inside an inactive block's include never matches"
    );
    let h = resolve(&c, "never");
    assert_eq!(h.port, Some(2001));
}

#[test]
fn include_recursion_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    fs::write(&path, format!("Include {}\n", path.display())).unwrap();
    let err = SshConfig::load_with(&path, dir.path(), None).unwrap_err();
    assert!(err.contains("nested too deeply"), "{err}");
}

// ---- cross-checks with ssh -G ----------------------------------------------------------------

/// `ssh -G -F config alias`, as key → values.
fn ssh_g(config: &Path, alias: &str) -> BTreeMap<String, Vec<String>> {
    let out = Command::new("ssh")
        .arg("-G")
        .arg("-F")
        .arg(config)
        .arg(alias)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ssh -G (is OpenSSH installed?): {e}"));
    assert!(
        out.status.success(),
        "ssh -G -F {} {alias}: {}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((key, value)) = line.split_once(' ') {
            map.entry(key.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    map
}

/// Home directory and user name as ssh sees them (from the password database).
fn ssh_home_and_user() -> (PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "config", "UserKnownHostsFile %d/%u\n");
    let g = ssh_g(&path, "x");
    let value = &g["userknownhostsfile"][0];
    let (home, user) = value.rsplit_once('/').unwrap();
    (PathBuf::from(home), user.to_owned())
}

fn assert_same_as_ssh(config_path: &Path, alias: &str) {
    let (home, user) = ssh_home_and_user();
    let ours = SshConfig::load_with(config_path, &home, Some(&user))
        .unwrap()
        .resolve(alias)
        .unwrap();
    let g = ssh_g(config_path, alias);
    let one = |key: &str| g.get(key).map(|v| v[0].clone());
    let ctx = format!("alias {alias}: ours {ours:#?}\nssh -G {g:#?}");

    assert_eq!(
        ours.hostname
            .clone()
            .unwrap_or_else(|| alias.to_ascii_lowercase()),
        one("hostname").unwrap(),
        "hostname, {ctx}"
    );
    assert_eq!(
        ours.user.clone().unwrap_or(user),
        one("user").unwrap(),
        "user, {ctx}"
    );
    assert_eq!(
        ours.port.unwrap_or(22).to_string(),
        one("port").unwrap(),
        "port, {ctx}"
    );
    let known: Vec<String> = match &ours.user_known_hosts_files {
        None => vec![
            format!("{}/.ssh/known_hosts", home.display()),
            format!("{}/.ssh/known_hosts2", home.display()),
        ],
        Some(files) if files.is_empty() => vec!["none".into()],
        Some(files) => files.iter().map(|f| f.display().to_string()).collect(),
    };
    assert_eq!(
        known,
        one("userknownhostsfile")
            .unwrap()
            .split(' ')
            .map(str::to_owned)
            .collect::<Vec<_>>(),
        "userknownhostsfile, {ctx}"
    );
    let strict = match ours
        .strict_host_key_checking
        .as_deref()
        .map(str::to_ascii_lowercase)
    {
        None => "ask".to_owned(),
        Some(v) if v == "yes" || v == "true" => "true".into(),
        Some(v) if v == "no" || v == "off" || v == "false" => "false".into(),
        Some(v) => v,
    };
    assert_eq!(
        strict,
        one("stricthostkeychecking").unwrap(),
        "strict, {ctx}"
    );
    let jumps = one("proxyjump")
        .map(|j| parse_proxy_jump(&j).unwrap())
        .unwrap_or_default();
    assert_eq!(ours.proxy_jump, jumps, "proxyjump, {ctx}");
    assert_eq!(
        ours.proxy_command,
        one("proxycommand"),
        "proxycommand, {ctx}"
    );
    // ssh -G prints IdentityFile unexpanded (and the defaults when none is set): compare the
    // configured ones with `~/` replaced (tokens there are compared by
    // `ssh_g_agrees_on_tokens_in_paths`).
    if g["identityfile"].iter().any(|f| f.contains('%')) {
        // Checked by the caller.
    } else if ours.identity_files_configured {
        let theirs: Vec<PathBuf> = g["identityfile"]
            .iter()
            .filter(|f| *f != "none")
            .map(|f| match f.strip_prefix("~/") {
                Some(rest) => home.join(rest),
                None => PathBuf::from(f),
            })
            .collect();
        assert_eq!(ours.identity_files, theirs, "identityfile, {ctx}");
    } else {
        assert!(
            g["identityfile"]
                .iter()
                .all(|f| f.starts_with("~/.ssh/id_")),
            "identityfile defaults, {ctx}"
        );
    }
}

#[test]
fn ssh_g_agrees_on_a_rich_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    write(
        dir.path(),
        "inc/10-lab.conf",
        "Host *.lab\n  User lab\n  ProxyJump ops@bastion:2222,ssh://root@gw:2200,[::1]:2201\nHost *\n  Port 2001\n",
    );
    write(dir.path(), "inc/20-x.conf", "Host x.lab\n  User x-lab\n");
    write(
        dir.path(),
        "inc/never.conf",
        "Host *\n  User never\n  Port 9\n",
    );
    let path = write(
        dir.path(),
        "config",
        &format!(
            "# a rich config\n\
             IdentityFile ~/.ssh/top\n\
             Host web? web1? !web13\n\
             \x20 HostName %h.example.com\n\
             \x20 User=deploy\n\
             \x20 Port 2222\n\
             \x20 IdentityFile {d}/keys/web\n\
             \x20 UserKnownHostsFile {d}/kh/%h-%p ~/kh2\n\
             \x20 StrictHostKeyChecking accept-new\n\
             Host nobody\n\
             \x20 Include {d}/inc/never.conf\n\
             Match host zzz\n\
             \x20 User from-match\n\
             \x20 IdentityFile {d}/keys/match\n\
             Host db*\n\
             \x20 ProxyCommand ssh -W %h:%p gw\n\
             \x20 ProxyJump ignored\n\
             \x20 UserKnownHostsFile none\n\
             \x20 StrictHostKeyChecking no\n\
             Host db2\n\
             \x20 StrictHostKeyChecking yes\n\
             \x20 IdentityFile none\n\
             Include {d}/inc/*.conf\n\
             Host *\n\
             \x20 User fallback\n\
             \x20 IdentityFile {d}/keys/star\n\
             \x20 IdentityFile {d}/keys/web\n\
             \x20 UserKnownHostsFile {d}/kh/star\n\
             \x20 ProxyJump j1,j2:2200\n"
        ),
    );
    for alias in [
        "web1", "web12", "web13", "WEB1", "db1", "db2", "x.lab", "y.lab", "nobody", "other",
        "10.0.0.1",
    ] {
        assert_same_as_ssh(&path, alias);
    }
}

#[test]
fn ssh_g_agrees_on_tokens_in_paths() {
    // ssh -G expands UserKnownHostsFile: put the same tokens in IdentityFile and compare.
    let dir = tempfile::tempdir().unwrap();
    let (home, user) = ssh_home_and_user();
    let tokens = "/t/%h/%p/%r/%u/%n/%d/%%/x";
    let path = write(
        dir.path(),
        "config",
        &format!(
            "Host tok*\n  HostName TOK.%h.Example\n  User ruser\n  Port 2022\n  \
             IdentityFile {tokens}\n  UserKnownHostsFile {tokens} ~/y\n\
             Host *\n  IdentityFile {tokens}\n  UserKnownHostsFile {tokens}\n"
        ),
    );
    for alias in ["tok1", "other"] {
        assert_same_as_ssh(&path, alias);
        let ours = SshConfig::load_with(&path, &home, Some(&user))
            .unwrap()
            .resolve(alias)
            .unwrap();
        let theirs = ssh_g(&path, alias)["userknownhostsfile"][0].clone();
        assert_eq!(
            ours.identity_files[0].display().to_string(),
            theirs.split(' ').next().unwrap(),
            "{alias}"
        );
    }
}
