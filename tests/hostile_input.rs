//! Hostile input, end to end against real OpenSSH hosts (issue #7).
//!
//! 1. Inventory values with shell metacharacters (`;`, `$()`, backticks, quotes, a newline, a
//!    leading `-`) in every variable that reaches a remote command or the SSH layer. Each value
//!    would create a *marker file* if any shell ever ran it — on the controller, in the remote
//!    session's working directory, or in the host's own `/opt`. Afterwards no marker exists
//!    anywhere, and each host either failed alone with a message naming it and the variable,
//!    or used the value literally (a binary path full of metacharacters really upgraded).
//!    A positive control (a health *command*, which is a shell command by design) proves the
//!    marker search finds markers where the hostile values would have put them.
//! 2. Host keys: a changed key under accept-new, a `@revoked` key also listed plainly (every
//!    mode), a `@cert-authority` line (not a host key), an unreadable revocation.
//!
//! `docs/security.md` says what these tests defend.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::fleet::{channel_vars, demoapp, field, install, json};
use crate::support::http::{Fault, HttpServer};
use crate::support::lab::Lab;
use crate::support::{describe, fleetup, repo_path, require_root, run};

// ---- markers ---------------------------------------------------------------------------------

/// Marker files: every name starts with a prefix unique to this test process and test, so a
/// marker found is one of ours, and the file names of the hostile values (which contain the
/// marker names followed by other characters) are never mistaken for one.
struct Markers {
    prefix: String,
    scratch: PathBuf,
}

impl Markers {
    fn new(test: &str, scratch: &Path) -> Self {
        Self {
            prefix: format!("PWNED-{}-{test}", std::process::id()),
            scratch: scratch.to_path_buf(),
        }
    }

    /// A marker's file name (relative: created in the working directory of whatever runs it).
    fn name(&self, n: &str) -> String {
        format!("{}-{n}", self.prefix)
    }

    /// A marker's absolute path in the scratch directory (the same on the controller and on
    /// the lab hosts, which share every directory but `/opt`).
    fn abs(&self, n: &str) -> String {
        format!("{}/{}", self.scratch.display(), self.name(n))
    }

    /// A marker in the host's own `/opt` (the lab's `opt_dir` of that host).
    fn opt(&self, n: &str) -> String {
        format!("/opt/{}", self.name(n))
    }

    /// Every marker file that exists: in the scratch directory and each host's `/opt` (whole
    /// trees), and directly in the directories a remote session or fleetup may run in (`/root`,
    /// `/`, `/tmp`, the machine's `/opt`, the repository).
    fn found(&self, lab: Option<&Lab>) -> Vec<PathBuf> {
        let mut roots: Vec<(PathBuf, usize)> = vec![(self.scratch.clone(), 16)];
        if let Some(lab) = lab {
            for h in lab.hosts() {
                roots.push((lab.opt_dir(&h.name), 16));
            }
        }
        for d in ["/root", "/", "/tmp", "/opt"] {
            roots.push((PathBuf::from(d), 1));
        }
        roots.push((repo_path(""), 1));
        let mut found = Vec::new();
        for (root, depth) in roots {
            walk(&root, depth, &mut |p: &Path| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                // A marker is a file named exactly PREFIX-N (N without separators).
                if let Some(rest) = name.as_deref().and_then(|n| n.strip_prefix(&self.prefix))
                    && rest.starts_with('-')
                    && rest[1..].chars().all(|c| c.is_ascii_alphanumeric())
                {
                    found.push(p.to_path_buf());
                }
            });
        }
        found.sort();
        found.dedup();
        found
    }

    fn remove(&self, lab: Option<&Lab>) {
        for p in self.found(lab) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Calls `f` on every entry under `dir`, `depth` levels deep, never following symlinks.
fn walk(dir: &Path, depth: usize, f: &mut dyn FnMut(&Path)) {
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        f(&p);
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&p, depth - 1, f);
        }
    }
}

// ---- inventory -------------------------------------------------------------------------------

/// A YAML string holding exactly `s` (a JSON string is a YAML double-quoted scalar).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// One inventory host: its name and variables (values written exactly).
struct HostEntry {
    name: String,
    vars: Vec<(String, Value)>,
}

impl HostEntry {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            vars: Vec::new(),
        }
    }

    fn var(mut self, k: &str, v: impl Into<Value>) -> Self {
        self.vars.push((k.to_owned(), v.into()));
        self
    }

    /// A lab host: `ansible_host` is its address.
    fn lab(name: &str, lab: &Lab, host: &str) -> Self {
        Self::new(name).var("ansible_host", lab.host(host).addr.clone())
    }
}

/// A YAML inventory reaching the lab as root with its key and known_hosts, following the
/// quick start's channel, with `hosts` (their variables win over the group's).
fn write_inventory(path: &Path, lab: &Lab, hosts: &[HostEntry]) {
    let channel: Value = serde_json::from_str(&channel_vars()).unwrap();
    let mut text = String::from("all:\n  vars:\n");
    let group = [
        ("ansible_user", Value::from("root")),
        (
            "ansible_ssh_private_key_file",
            lab.client_key().display().to_string().into(),
        ),
        (
            "fleetup_known_hosts",
            lab.known_hosts().display().to_string().into(),
        ),
        ("fleetup_binary", "/opt/demoapp/demoapp".into()),
        ("fleetup_source", channel["fleetup_source"].clone()),
        (
            "fleetup_public_keys",
            channel["fleetup_public_keys"].clone(),
        ),
    ];
    for (k, v) in group {
        text.push_str(&format!("    {k}: {v}\n"));
    }
    text.push_str("  hosts:\n");
    for h in hosts {
        text.push_str(&format!("    {}:\n", q(&h.name)));
        for (k, v) in &h.vars {
            let v = match v {
                Value::String(s) => q(s),
                other => other.to_string(),
            };
            text.push_str(&format!("      {k}: {v}\n"));
        }
    }
    std::fs::write(path, text).unwrap();
}

/// `fleetup -i INV --output json ARGS…` from the scratch directory, with its own cache and no
/// ssh-agent.
fn fleet(scratch: &Path, inventory: &Path, args: &[&str]) -> Output {
    run(fleetup()
        .current_dir(scratch)
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .env_remove("SSH_AUTH_SOCK")
        .arg("-i")
        .arg(inventory)
        .args(["--output", "json"])
        .args(args))
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// ---- values used literally -------------------------------------------------------------------

/// Values that are data, not commands — a binary path, the words of the version command, a
/// health URL — full of shell metacharacters reach the host as exactly those bytes: the
/// upgrade works on the path as written (and a rollback too), the version command's extra
/// words are arguments, the HTTP server sees the URL's path as written. No marker anywhere.
#[test]
fn lab_values_that_are_not_commands_reach_the_host_literally() {
    require_root();
    let lab = Lab::start(5);
    let scratch = tempfile::tempdir().unwrap();
    let m = Markers::new("literal", scratch.path());
    let h: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
    for name in &h {
        install(&lab.opt_dir(name).join("demoapp/demoapp"), "1.0.0");
    }

    // host 1: the positive control: a health *command* is a shell command by design, and the
    // markers it creates (in the session's directory and the host's /opt) must be found.
    let control = format!("touch {} {}", m.name("c1"), m.opt("c2"));

    // host 2: a binary path whose directory and file names hold shell that would run if the
    // path ever reached a shell unquoted (checked by hand: `sh -c "realpath -- $PATH"` creates
    // the four markers), with become (sudo -n -u root) in front of each command.
    let dir_part = format!(
        "we ird;touch${{IFS}}{};$(touch${{IFS}}{})&&touch {};x",
        m.name("b1"),
        m.name("b2"),
        m.name("b3")
    );
    let file_part = format!(
        "app'q'\"d\"`touch${{IFS}}{}`|cat;echo *?[x]{{a,b}}~!%^ -x \\ end",
        m.name("b4")
    );
    let odd_binary = format!("/opt/demoapp/{dir_part}/{file_part}");
    let odd_on_host = lab
        .opt_dir(&h[1])
        .join("demoapp")
        .join(&dir_part)
        .join(&file_part);
    install(&odd_on_host, "1.0.0");
    // host 5: unbalanced quotes and a lone backslash, which only correct quoting survives.
    let quotes_part = "it's \"odd\\ #name/-app'";
    let quotes_binary = format!("/opt/demoapp/{quotes_part}");
    let quotes_on_host = lab.opt_dir(&h[4]).join("demoapp").join(quotes_part);
    install(&quotes_on_host, "1.0.0");

    // host 3: a version command whose extra words look like shell: they are arguments.
    let version_command = format!(
        "{{binary}} --version ;touch${{IFS}}{} $(touch {}) `touch {}` | touch {} && touch {} > {}",
        m.name("v1"),
        m.name("v2"),
        m.name("v3"),
        m.opt("v4"),
        m.abs("v5"),
        m.opt("v6"),
    );

    // host 4: a health URL whose path holds shell: curl asks the server for exactly that.
    let www = tempfile::tempdir().unwrap();
    let server = HttpServer::start(www.path());
    let url_path = format!(
        "/health;touch$IFS{};$(touch$IFS{})`touch$IFS{}`'q'\"d\"|cat&",
        m.abs("u1"),
        m.opt("u2"),
        m.abs("u3")
    );
    server.set_fault(&url_path, Fault::Status(200));
    let health_url = format!("{}{}", server.base_url().trim_end_matches('/'), url_path);

    let inv = scratch.path().join("inventory.yml");
    write_inventory(
        &inv,
        &lab,
        &[
            HostEntry::lab("control", &lab, &h[0])
                .var("fleetup_health_command", control)
                .var("fleetup_health_timeout", 10),
            HostEntry::lab("odd-binary", &lab, &h[1])
                .var("fleetup_binary", odd_binary)
                .var("ansible_become", true),
            HostEntry::lab("odd-version-command", &lab, &h[2])
                .var("fleetup_version_command", version_command),
            HostEntry::lab("odd-health-url", &lab, &h[3])
                .var("fleetup_health_url", health_url)
                .var("fleetup_health_timeout", 10),
            HostEntry::lab("odd-quotes", &lab, &h[4]).var("fleetup_binary", quotes_binary),
        ],
    );

    let up = fleet(scratch.path(), &inv, &["upgrade", "--yes"]);
    // First of all: only the control's markers exist. The search sees the session's directory
    // (root's home) and the host's /opt, and nothing else ran.
    // Sorted as found() sorts: the lab's directory may sort before or after /root.
    let mut control_markers = vec![
        PathBuf::from("/root").join(m.name("c1")),
        lab.opt_dir(&h[0]).join(m.name("c2")),
    ];
    control_markers.sort();
    let found = m.found(Some(&lab));
    m.remove(Some(&lab));
    assert_eq!(
        found,
        control_markers,
        "markers: only the control's may exist\n{}",
        describe(&up)
    );
    assert_eq!(up.status.code(), Some(0), "{}", describe(&up));
    let doc = json(&up);
    for host in [
        "control",
        "odd-binary",
        "odd-version-command",
        "odd-health-url",
        "odd-quotes",
    ] {
        assert_eq!(field(&doc, host, "result"), "upgraded", "{host}: {doc:#}");
    }
    // The path as written was upgraded, its backup kept beside it under its literal name, and
    // no temp file or lock left.
    assert_eq!(read(&odd_on_host), demoapp("1.1.0"));
    assert_eq!(read(&quotes_on_host), demoapp("1.1.0"));
    let mut beside: Vec<String> = std::fs::read_dir(odd_on_host.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    beside.sort();
    assert_eq!(beside.len(), 2, "{beside:?}");
    assert_eq!(beside[0], file_part);
    assert!(
        beside[1].starts_with(&format!("{file_part}.fleetup-bak-1.0.0-")),
        "{beside:?}"
    );
    // curl asked for the path exactly as written.
    assert!(
        server.requests(&url_path) >= 1,
        "the health check did not ask for {url_path:?}"
    );

    // A rollback goes through the same path.
    let back = fleet(scratch.path(), &inv, &["rollback", "-l", "odd-binary"]);
    assert_eq!(back.status.code(), Some(0), "{}", describe(&back));
    assert_eq!(field(&json(&back), "odd-binary", "result"), "rolled_back");
    assert_eq!(read(&odd_on_host), demoapp("1.0.0"));

    let found = m.found(Some(&lab));
    m.remove(Some(&lab));
    assert!(found.is_empty(), "{found:?}\n{}", describe(&back));
}

// ---- values refused for their host -----------------------------------------------------------

/// One hostile variable on one host, and what must become of that host.
struct Case {
    host: &'static str,
    var: &'static str,
    value: String,
    /// `failed` (refused before any connection or command) or `unreachable` (used literally,
    /// and the connection could not be made with it).
    result: &'static str,
    /// Text the host's error must contain.
    needle: String,
}

impl Case {
    fn new(host: &'static str, var: &'static str, value: String, result: &'static str) -> Self {
        Self {
            host,
            var,
            value,
            result,
            needle: var.to_owned(),
        }
    }

    fn needle(mut self, needle: impl Into<String>) -> Self {
        self.needle = needle.into();
        self
    }
}

/// Every variable that reaches a remote command or the SSH layer, given hostile values in one
/// run, one host each (each its own lab host, left untouched), beside a good host that is
/// upgraded: each hostile host fails alone, with a message naming it and the variable (or,
/// for a file path used as written, naming that path), and no marker exists anywhere.
#[test]
fn lab_hostile_values_fail_only_their_host_and_never_run() {
    require_root();
    let scratch = tempfile::tempdir().unwrap();
    let m = Markers::new("refused", scratch.path());
    let s = scratch.path().display().to_string();
    let cases = vec![
        // Values of the steps (src/steps/settings.rs).
        Case::new(
            "binary-relative",
            "fleetup_binary",
            format!("x;touch${{IFS}}{}", m.name("1")),
            "failed",
        )
        .needle("not an absolute path"),
        Case::new(
            "binary-newline",
            "fleetup_binary",
            format!("/opt/demoapp/demoapp\ntouch {}", m.abs("2")),
            "failed",
        )
        .needle("newline"),
        Case::new(
            "binary-option",
            "fleetup_binary",
            format!("-oProxyCommand=touch${{IFS}}{}", m.abs("3")),
            "failed",
        )
        .needle("not an absolute path"),
        Case::new(
            "service-semicolon",
            "fleetup_service",
            format!("app;touch${{IFS}}{}", m.abs("4")),
            "failed",
        ),
        Case::new(
            "service-subst",
            "fleetup_service",
            format!("$(touch${{IFS}}{})", m.abs("5")),
            "failed",
        ),
        Case::new(
            "service-backtick",
            "fleetup_service",
            format!("`touch${{IFS}}{}`", m.abs("6")),
            "failed",
        ),
        Case::new(
            "service-option",
            "fleetup_service",
            "--host=evil".into(),
            "failed",
        )
        .needle("option"),
        Case::new("service-glob", "fleetup_service", "*".into(), "failed").needle("'*'"),
        Case::new(
            "url-newline",
            "fleetup_health_url",
            format!("http://127.0.0.1:1/\ntouch {}", m.abs("7")),
            "failed",
        ),
        Case::new(
            "url-option",
            "fleetup_health_url",
            format!("-o{}", m.abs("8")),
            "failed",
        ),
        Case::new(
            "url-quote-space",
            "fleetup_health_url",
            format!("http://127.0.0.1:1/' ;touch {}", m.abs("9")),
            "failed",
        ),
        Case::new(
            "url-glob",
            "fleetup_health_url",
            format!("http://127.0.0.1:1/${{IFS}}touch{}", m.name("10")),
            "failed",
        )
        .needle("glob"),
        Case::new(
            "become-user-semicolon",
            "ansible_become_user",
            format!("root;touch${{IFS}}{}", m.abs("11")),
            "failed",
        ),
        Case::new(
            "become-user-option",
            "ansible_become_user",
            "-s".into(),
            "failed",
        )
        .needle("option"),
        Case::new(
            "become-user-quote",
            "ansible_become_user",
            format!("root'\"$(touch${{IFS}}{})", m.abs("12")),
            "failed",
        ),
        Case::new(
            "become-bool",
            "ansible_become",
            format!("yes;touch${{IFS}}{}", m.abs("13")),
            "failed",
        ),
        Case::new(
            "timeout-text",
            "fleetup_command_timeout",
            format!("60;touch${{IFS}}{}", m.abs("14")),
            "failed",
        ),
        Case::new(
            "timeout-huge",
            "fleetup_command_timeout",
            "18446744073709551615".into(),
            "failed",
        )
        .needle("more than a week"),
        Case::new(
            "backups-text",
            "fleetup_backups",
            format!("3`touch${{IFS}}{}`", m.abs("15")),
            "failed",
        ),
        Case::new(
            "setcap-text",
            "fleetup_setcap",
            format!("yes;touch${{IFS}}{}", m.abs("16")),
            "failed",
        ),
        Case::new(
            "stale-text",
            "fleetup_lock_stale_after",
            format!("$(touch${{IFS}}{})", m.abs("17")),
            "failed",
        ),
        // Values of the connection (src/transport/connect.rs).
        Case::new(
            "host-option",
            "ansible_host",
            format!("-oProxyCommand=touch${{IFS}}{}", m.abs("18")),
            "failed",
        ),
        Case::new(
            "host-semicolon",
            "ansible_host",
            format!("127.0.0.1;touch${{IFS}}{}", m.abs("19")),
            "failed",
        ),
        Case::new(
            "host-subst",
            "ansible_host",
            format!("$(touch${{IFS}}{})", m.abs("20")),
            "failed",
        ),
        Case::new(
            "host-backtick",
            "ansible_host",
            format!("`touch${{IFS}}{}`", m.abs("21")),
            "failed",
        ),
        Case::new(
            "host-newline",
            "ansible_host",
            format!("127.0.0.1\ntouch {}", m.abs("22")),
            "failed",
        ),
        Case::new(
            "user-option",
            "ansible_user",
            format!("-oProxyCommand=touch${{IFS}}{}", m.abs("23")),
            "failed",
        ),
        Case::new(
            "user-semicolon",
            "ansible_user",
            format!("root;touch${{IFS}}{}", m.abs("24")),
            "failed",
        ),
        Case::new(
            "user-quotes",
            "ansible_user",
            format!("root'\"`touch${{IFS}}{}`", m.abs("25")),
            "failed",
        ),
        Case::new(
            "port-text",
            "ansible_port",
            format!("22;touch${{IFS}}{}", m.abs("26")),
            "failed",
        ),
        Case::new(
            "jump-option",
            "fleetup_jump_host",
            format!("-oProxyCommand=touch${{IFS}}{}", m.abs("27")),
            "failed",
        ),
        Case::new(
            "jump-user-option",
            "fleetup_jump_host",
            format!("-oProxyCommand=touch${{IFS}}{}@127.0.0.1", m.abs("28")),
            "failed",
        ),
        Case::new(
            "jump-subst",
            "fleetup_jump_host",
            format!("root@$(touch${{IFS}}{})", m.abs("29")),
            "failed",
        ),
        Case::new(
            "jump-semicolon",
            "fleetup_jump_host",
            format!("root@127.0.0.1;touch${{IFS}}{}", m.abs("30")),
            "failed",
        ),
        Case::new(
            "args-proxycommand",
            "ansible_ssh_common_args",
            format!("-o ProxyCommand=\"touch {}\"", m.abs("31")),
            "failed",
        )
        .needle("ansible_ssh_common_args sets a ProxyCommand"),
        Case::new(
            "args-proxycommand-joined",
            "ansible_ssh_extra_args",
            format!("-oProxyCommand=touch${{IFS}}{}", m.abs("32")),
            "failed",
        )
        .needle("ansible_ssh_extra_args sets a ProxyCommand"),
        Case::new(
            "args-jump-option",
            "ansible_ssh_common_args",
            format!("-J -oProxyCommand=touch${{IFS}}{}", m.abs("33")),
            "failed",
        ),
        Case::new(
            "connection-text",
            "ansible_connection",
            format!("local;touch${{IFS}}{}", m.abs("34")),
            "failed",
        ),
        Case::new(
            "checking-text",
            "fleetup_host_key_checking",
            format!("off;touch${{IFS}}{}", m.abs("35")),
            "failed",
        ),
        // Local file paths: used as written, on the controller, never run.
        Case::new(
            "key-file-subst",
            "ansible_ssh_private_key_file",
            format!("{s}/$(touch${{IFS}}{})", m.abs("36")),
            "unreachable",
        )
        .needle(format!("{s}/$(touch${{IFS}}{})", m.abs("36"))),
        Case::new(
            "known-hosts-semicolon",
            "fleetup_known_hosts",
            format!("{s}/;touch${{IFS}}{}", m.abs("37")),
            "unreachable",
        )
        .needle(format!("is not in {s}/;touch${{IFS}}{}", m.abs("37"))),
    ];
    let lab = Lab::start(cases.len() + 1);
    let h: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
    for name in &h {
        install(&lab.opt_dir(name).join("demoapp/demoapp"), "1.0.0");
    }
    let mut hosts = vec![HostEntry::lab("good", &lab, &h[0])];
    for (i, c) in cases.iter().enumerate() {
        let mut e = HostEntry::lab(c.host, &lab, &h[i + 1]);
        if c.var == "ansible_become_user" {
            e = e.var("ansible_become", true);
        }
        if c.var == "ansible_host" {
            e.vars.clear();
        }
        hosts.push(e.var(c.var, c.value.clone()));
    }
    // An inventory name that holds shell, with no ansible_host: it is the address, checked
    // as one.
    let odd_name = format!("web$(touch${{IFS}}{})", m.abs("38"));
    hosts.push(HostEntry::new(&odd_name));
    let inv = scratch.path().join("inventory.yml");
    write_inventory(&inv, &lab, &hosts);

    let up = fleet(scratch.path(), &inv, &["upgrade", "--yes"]);
    let found = m.found(Some(&lab));
    m.remove(Some(&lab));
    assert!(
        found.is_empty(),
        "a hostile value ran: {found:?}\n{}",
        describe(&up)
    );
    assert_eq!(up.status.code(), Some(1), "{}", describe(&up));
    let doc = json(&up);
    let log = String::from_utf8_lossy(&up.stderr).into_owned();
    assert_eq!(field(&doc, "good", "result"), "upgraded", "{doc:#}");
    assert_eq!(
        read(&lab.opt_dir(&h[0]).join("demoapp/demoapp")),
        demoapp("1.1.0")
    );
    for (i, c) in cases.iter().enumerate() {
        let err = text(&field(&doc, c.host, "error"));
        assert_eq!(field(&doc, c.host, "result"), c.result, "{}: {err}", c.host);
        assert!(
            err.contains(&c.needle),
            "{}: {:?} not in {err}",
            c.host,
            c.needle
        );
        if c.result == "failed" {
            assert!(
                err.contains(c.var),
                "{}: {} not named in {err}",
                c.host,
                c.var
            );
        }
        // The host is named on its line of the log, with the same message.
        let first = err.lines().next().unwrap_or_default();
        assert!(
            log.lines()
                .any(|l| l.starts_with(&format!("{} ", c.host)) && l.contains(first)),
            "{}: no log line names it with {first:?}:\n{log}",
            c.host
        );
        assert_eq!(
            read(&lab.opt_dir(&h[i + 1]).join("demoapp/demoapp")),
            demoapp("1.0.0"),
            "{}: its host was not touched",
            c.host
        );
    }
    let err = text(&field(&doc, &odd_name, "error"));
    assert_eq!(field(&doc, &odd_name, "result"), "failed", "{err}");
    assert!(
        err.contains("host name (no ansible_host)") && err.contains("'$'"),
        "{err}"
    );
    // The strict known_hosts check recorded nothing in the file named by the hostile value.
    assert!(!Path::new(&format!("{s}/;touch${{IFS}}{}", m.abs("37"))).exists());
}

/// Host names that are options stop the whole run before anything is contacted or run,
/// naming the file and line — in a YAML or INI inventory, or a `-i 'a,b,'` list.
#[test]
fn host_names_that_are_options_stop_the_run_before_anything_runs() {
    let scratch = tempfile::tempdir().unwrap();
    let m = Markers::new("names", scratch.path());
    let evil = format!("-oProxyCommand=touch${{IFS}}{}", m.abs("1"));
    let yml = scratch.path().join("inv.yml");
    std::fs::write(
        &yml,
        format!("all:\n  hosts:\n    good.example.com:\n    {}:\n", q(&evil)),
    )
    .unwrap();
    let ini = scratch.path().join("inv.ini");
    std::fs::write(&ini, format!("[web]\ngood.example.com\n{evil} x=1\n")).unwrap();
    let list = format!("good.example.com,{evil},");
    for (source, where_) in [
        (yml.display().to_string(), format!("{}:", yml.display())),
        (ini.display().to_string(), format!("{}:3", ini.display())),
        (list, String::new()),
    ] {
        for job in [&["check"][..], &["upgrade", "--yes"][..]] {
            let out = run(fleetup()
                .current_dir(scratch.path())
                .env("XDG_CACHE_HOME", scratch.path().join("cache"))
                .arg(format!("--inventory={source}"))
                .args(["-e", &channel_vars(), "-e", "fleetup_binary=/opt/x"])
                .args(job));
            assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("starts with '-'") && err.contains(&where_),
                "{source}: {err}"
            );
            assert!(
                out.stdout.is_empty(),
                "nothing attempted: {}",
                describe(&out)
            );
        }
    }
    let found = m.found(None);
    m.remove(None);
    assert!(found.is_empty(), "{found:?}");
}

// ---- host keys -------------------------------------------------------------------------------

/// `ssh-keygen -lf FILE`'s `SHA256:…` fingerprint.
fn fingerprint(pub_file: &Path) -> String {
    let out = run(Command::new("ssh-keygen").arg("-lf").arg(pub_file));
    assert!(out.status.success(), "{}", describe(&out));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

/// The lab's known_hosts line of `host` (`ADDR TYPE BASE64`).
fn known_line(lab: &Lab, host: &str) -> String {
    let addr = &lab.host(host).addr;
    read(&lab.known_hosts())
        .lines()
        .find(|l| l.split_whitespace().next() == Some(addr.as_str()))
        .unwrap_or_else(|| panic!("{addr} not in the lab's known_hosts"))
        .to_owned()
}

/// `fleetup -i LAB -e CHANNEL -e fleetup_known_hosts=FILE -e fleetup_host_key_checking=MODE`.
fn with_known_hosts(lab: &Lab, scratch: &Path, file: &Path, mode: &str, args: &[&str]) -> Output {
    run(fleetup()
        .current_dir(scratch)
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .arg("-i")
        .arg(lab.inventory())
        .args(["-e", &channel_vars(), "--output", "json", "-e"])
        .arg(format!(
            "fleetup_known_hosts={} fleetup_host_key_checking={mode}",
            file.display()
        ))
        .args(args))
}

/// A changed host key is refused under accept-new too (tests/fleet.rs covers strict), naming
/// the fingerprint on file and the one presented; nothing is recorded, nothing touched.
#[test]
fn lab_changed_host_key_is_refused_under_accept_new() {
    require_root();
    let lab = Lab::start(1);
    let scratch = tempfile::tempdir().unwrap();
    let host = lab.hosts()[0].name.clone();
    let bin = lab.opt_dir(&host).join("demoapp/demoapp");
    install(&bin, "1.0.0");
    // Somebody else's key on file for the host.
    let other = scratch.path().join("other");
    let out = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(&other));
    assert!(out.status.success(), "{}", describe(&out));
    let kh = scratch.path().join("known_hosts");
    let forged = format!(
        "{} {}",
        lab.host(&host).addr,
        read(&other.with_extension("pub")).trim()
    );
    std::fs::write(&kh, format!("{forged}\n")).unwrap();

    let up = with_known_hosts(
        &lab,
        scratch.path(),
        &kh,
        "accept-new",
        &["upgrade", "--yes"],
    );
    assert_eq!(up.status.code(), Some(1), "{}", describe(&up));
    let doc = json(&up);
    assert_eq!(field(&doc, &host, "result"), "unreachable", "{doc:#}");
    let err = text(&field(&doc, &host, "error"));
    let on_file = fingerprint(&other.with_extension("pub"));
    let presented = fingerprint(
        &lab.dir()
            .join(format!("hosts/{host}/ssh_host_ed25519_key.pub")),
    );
    assert_ne!(on_file, presented);
    assert!(err.contains("HOST KEY CHANGED"), "{err}");
    assert!(err.contains(&on_file) && err.contains(&presented), "{err}");
    assert!(err.contains(&format!("{}:1", kh.display())), "{err}");
    assert!(err.contains("host key checking: accept-new"), "{err}");
    assert_eq!(read(&kh), format!("{forged}\n"), "nothing recorded");
    assert_eq!(read(&bin), demoapp("1.0.0"), "not touched");
}

/// A key marked `@revoked` is refused in every mode — strict, accept-new and off — even when
/// the same key is also on file plainly; nothing is recorded, nothing touched.
#[test]
fn lab_revoked_host_key_is_refused_in_every_mode() {
    require_root();
    let lab = Lab::start(1);
    let scratch = tempfile::tempdir().unwrap();
    let host = lab.hosts()[0].name.clone();
    let bin = lab.opt_dir(&host).join("demoapp/demoapp");
    install(&bin, "1.0.0");
    let line = known_line(&lab, &host);
    let kh = scratch.path().join("known_hosts");
    let content = format!("{line}\n# revoked after the break-in\n@revoked {line}\n");
    std::fs::write(&kh, &content).unwrap();
    for mode in ["strict", "accept-new", "off"] {
        let up = with_known_hosts(&lab, scratch.path(), &kh, mode, &["upgrade", "--yes"]);
        assert_eq!(up.status.code(), Some(1), "{mode}: {}", describe(&up));
        let doc = json(&up);
        assert_eq!(
            field(&doc, &host, "result"),
            "unreachable",
            "{mode}: {doc:#}"
        );
        let err = text(&field(&doc, &host, "error"));
        assert!(
            err.contains("REVOKED HOST KEY")
                && err.contains(&format!("{}:3", kh.display()))
                && err.contains("whatever the host key checking"),
            "{mode}: {err}"
        );
        assert_eq!(read(&kh), content, "{mode}: nothing recorded");
        assert_eq!(read(&bin), demoapp("1.0.0"), "{mode}: not touched");
    }
    // Without the revocation the same file lets the host in: the refusal was the revocation.
    std::fs::write(&kh, format!("{line}\n")).unwrap();
    let ok = with_known_hosts(&lab, scratch.path(), &kh, "strict", &["check"]);
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));
}

/// A `@revoked` line that does not parse (a broken key, a misspelt marker) is not skipped as
/// OpenSSH skips it: every host checked against that file fails, naming file and line.
#[test]
fn lab_unreadable_revocation_fails_closed() {
    require_root();
    let lab = Lab::start(1);
    let scratch = tempfile::tempdir().unwrap();
    let host = lab.hosts()[0].name.clone();
    install(&lab.opt_dir(&host).join("demoapp/demoapp"), "1.0.0");
    let line = known_line(&lab, &host);
    let kh = scratch.path().join("known_hosts");
    let addr = &lab.host(&host).addr;
    for bad in [
        format!("@revoked {addr} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA-broken"),
        format!("@revokd {line}"),
    ] {
        std::fs::write(&kh, format!("{line}\n{bad}\n")).unwrap();
        for mode in ["strict", "off"] {
            let out = with_known_hosts(&lab, scratch.path(), &kh, mode, &["check"]);
            assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
            let doc = json(&out);
            let err = text(&field(&doc, &host, "error"));
            assert_eq!(field(&doc, &host, "result"), "failed", "{err}");
            assert!(
                err.contains(&format!("{}:2", kh.display())) && err.contains("revocation"),
                "{bad}: {err}"
            );
        }
    }
}

/// A `@cert-authority` line is not a host key. fleetup does not check host certificates, so
/// a host covered only by such a line is refused with strict and with accept-new (which does
/// not record a key for it), and accepted only with checking off; a plain line for the host
/// beside the CA line lets it in as usual.
#[test]
fn lab_cert_authority_line_is_not_a_host_key() {
    require_root();
    let lab = Lab::start(1);
    let scratch = tempfile::tempdir().unwrap();
    let host = lab.hosts()[0].name.clone();
    install(&lab.opt_dir(&host).join("demoapp/demoapp"), "1.0.0");
    let line = known_line(&lab, &host);
    let kh = scratch.path().join("known_hosts");
    // The host's own key, as a CA for it: still no host key on file.
    let ca = format!("@cert-authority {line}\n");
    std::fs::write(&kh, &ca).unwrap();
    let presented = fingerprint(
        &lab.dir()
            .join(format!("hosts/{host}/ssh_host_ed25519_key.pub")),
    );
    for mode in ["strict", "accept-new"] {
        let out = with_known_hosts(&lab, scratch.path(), &kh, mode, &["check"]);
        assert_eq!(out.status.code(), Some(1), "{mode}: {}", describe(&out));
        let doc = json(&out);
        assert_eq!(
            field(&doc, &host, "action"),
            "unreachable",
            "{mode}: {doc:#}"
        );
        let err = text(&field(&doc, &host, "reason"));
        assert!(
            err.contains("@cert-authority")
                && err.contains("does not support host certificates")
                && err.contains(&format!("{}:1", kh.display()))
                && err.contains(&presented)
                && err.contains("ssh-keyscan"),
            "{mode}: {err}"
        );
        assert_eq!(read(&kh), ca, "{mode}: nothing recorded");
    }
    let off = with_known_hosts(&lab, scratch.path(), &kh, "off", &["check"]);
    assert_eq!(off.status.code(), Some(0), "{}", describe(&off));
    assert!(
        String::from_utf8_lossy(&off.stderr).contains("host key checking is OFF"),
        "{}",
        describe(&off)
    );
    std::fs::write(&kh, format!("{ca}{line}\n")).unwrap();
    let both = with_known_hosts(&lab, scratch.path(), &kh, "strict", &["check"]);
    assert_eq!(both.status.code(), Some(0), "{}", describe(&both));
    assert_eq!(field(&json(&both), &host, "action"), "upgrade");
}

// ---- hostile file names on the host ----------------------------------------------------------

/// A file name with newlines in the binary's directory (anyone who can write there — often
/// the service's own user — can create one) must not forge lines of the probe's output. Before
/// the fix it could: a backup named `demoapp.fleetup-bak-x⏎stat=6755 0 0 …` made the new
/// binary setuid root, and `…⏎sha256=<target>` made the host report `unchanged` while it kept
/// the old binary.
#[test]
fn lab_file_names_with_newlines_do_not_forge_the_probe() {
    require_root();
    let lab = Lab::start(2);
    let scratch = tempfile::tempdir().unwrap();
    let h: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
    let bins: Vec<PathBuf> = h
        .iter()
        .map(|n| lab.opt_dir(n).join("demoapp/demoapp"))
        .collect();
    for b in &bins {
        install(b, "1.0.0");
    }
    let size = demoapp("1.0.0").len();
    let forged_stat = bins[0].with_file_name(format!(
        "demoapp.fleetup-bak-x\nstat=6755 0 0 {size} root root\nversion| demoapp 1.0.0"
    ));
    std::fs::write(&forged_stat, "").unwrap();
    let target = scratch.path().join("target");
    std::fs::write(&target, demoapp("1.1.0")).unwrap();
    let out = run(Command::new("sha256sum").arg(&target));
    let sha = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let forged_sha = bins[1].with_file_name(format!("demoapp.fleetup-bak-x\nsha256={sha}"));
    std::fs::write(&forged_sha, "").unwrap();

    let inv = scratch.path().join("inventory.yml");
    write_inventory(
        &inv,
        &lab,
        &[
            HostEntry::lab("forged-stat", &lab, &h[0]),
            HostEntry::lab("forged-sha", &lab, &h[1]),
        ],
    );
    let up = fleet(scratch.path(), &inv, &["upgrade", "--yes"]);
    let doc = json(&up);
    for host in ["forged-stat", "forged-sha"] {
        assert_eq!(field(&doc, host, "result"), "upgraded", "{host}: {doc:#}");
        assert_eq!(field(&doc, host, "from"), "1.0.0", "{host}: {doc:#}");
    }
    for b in &bins {
        assert_eq!(read(b), demoapp("1.1.0"));
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(b).unwrap().permissions());
        assert_eq!(mode & 0o7777, 0o755, "{}: mode {mode:o}", b.display());
    }
    assert!(
        forged_stat.exists() && forged_sha.exists(),
        "their files are left alone"
    );
}
