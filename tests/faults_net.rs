//! Faults and hostile conditions on lab hosts, through the CLI over real SSH (issue #7): the
//! connection dropped in the middle of an upload, a host unreachable from the start or gone
//! between its probe and its swap, a full disk, a directory that cannot be written, a missing
//! binary, a directory or a symlink loop where the binary should be, sudo that wants a
//! password, a user without rights on the binary, a restart that hangs.
//!
//! Every lab host runs `examples/demo-service` 1.0.0 — root-owned, 0755, with
//! `cap_net_bind_service` — serving HTTP on port 80 of its address as the unprivileged
//! `fleetup-demo`, and `fleetup upgrade --yes` takes it to 1.1.0 with a restart command and an
//! HTTP health check. For each faulted host the tests assert its result and failure (step, and a
//! message naming the host and the cause, in the JSON report and in the plain log), that the
//! binary's bytes, mode, owner and capability are what they were, that its directory holds no
//! temp file and no lock, and that the service still answers, from the same process; a healthy
//! host of the same run is upgraded.
//!
//! A host's files are read through `/proc/<its sshd>/root`, which shows its own mount namespace
//! (where a test may have mounted a small tmpfs or a read-only bind on `/opt/demo`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::fleet::{field, json};
use crate::support::lab::Lab;
use crate::support::service::{
    BIN, DIR, Padding, ensure_user, get, id, install_as_package, kill, kill_services, new_channel,
    pids_of, publish, release_bytes, require_port_80_privileged, require_service_tools,
    restart_command, service_pids, service_user,
};
use crate::support::{describe, fleetup, run, sha256_hex};

/// What every temp file, lock and lock temp of fleetup in `DIR` starts with.
const DOT_PREFIX: &str = ".demo-service.fleetup";
/// A login user without sudo rules, and one whose sudo wants a password.
const PLAIN_USER: &str = "fleetup-fnuser";
const PASSWORD_USER: &str = "fleetup-fnpw";
/// How long a restart waits for the service to answer.
const START_SECS: u32 = 10;

// ---------------------------------------------------------------------------------------------
// The service (tests/support/service.rs), the users
// ---------------------------------------------------------------------------------------------

/// A login user the lab's sshd lets in with the lab key: not locked (`*` is "no password").
fn login_user(user: &str) -> u32 {
    ensure_user(user, &["-M", "-s", "/bin/sh"]);
    let out = run(Command::new("usermod").args(["-p", "*", user]));
    assert!(out.status.success(), "usermod {user}: {}", describe(&out));
    id("-u", user)
}

/// A sudo rule for `user`, removed on drop.
struct SudoRule(PathBuf);

impl SudoRule {
    fn new(user: &str, rule: &str) -> SudoRule {
        let path = PathBuf::from(format!("/etc/sudoers.d/{user}"));
        std::fs::write(&path, format!("{user} ALL=(ALL) {rule}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o440)).unwrap();
        SudoRule(path)
    }
}

impl Drop for SudoRule {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Every process descending from `pid` (not `pid` itself), with its command name.
fn descendants(pid: u32) -> Vec<(u32, String)> {
    let mut procs = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let comm = head.split_once(" (").map_or("", |(_, c)| c).to_owned();
        if let Some(ppid) = rest
            .split_whitespace()
            .nth(1)
            .and_then(|w| w.parse::<u32>().ok())
        {
            procs.push((p, ppid, comm));
        }
    }
    let mut found = vec![(pid, String::new())];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i].0;
        found.extend(
            procs
                .iter()
                .filter(|(_, pp, _)| *pp == parent)
                .map(|(c, _, comm)| (*c, comm.clone())),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Kills the service instances and the hung restart of a lab's hosts, also when a test panics.
struct Leftovers {
    addrs: Vec<String>,
    hang: String,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        kill_services(&self.addrs);
        kill("KILL", &pids_of(&["sleep", &self.hang]));
    }
}

// ---------------------------------------------------------------------------------------------
// A lab whose hosts run the service
// ---------------------------------------------------------------------------------------------

/// What a host's binary and service look like; equal before and after a run that failed
/// before the swap.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostState {
    sha256: String,
    mode: u32,
    uid: u32,
    gid: u32,
    /// `getcap`'s words after the path.
    caps: String,
    /// The names in `/opt/demo`.
    listing: BTreeSet<String>,
    /// What `GET /` answers, and the service's pids.
    answer: Result<String, String>,
    service: Vec<u32>,
}

/// How a run ended: its exit code, its report (`{"hosts": […], "summary": …}`), its plain log.
struct Ran {
    code: Option<i32>,
    doc: Value,
    log: String,
}

impl Ran {
    fn from_json(out: &Output) -> Ran {
        Ran {
            code: out.status.code(),
            doc: json(out),
            log: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn result(&self, h: &str) -> Value {
        field(&self.doc, h, "result")
    }

    /// Asserts that `h` ended `result` at `step`, that the failure's message contains every
    /// one of `words`, that the report's full text names the host with it, and that the plain
    /// log's line for the host says it. Returns the message.
    fn assert_failed(&self, h: &str, result: &str, step: &str, words: &[&str]) -> String {
        let doc = &self.doc;
        assert_eq!(self.result(h), result, "{h}: {doc:#}\n{}", self.log);
        let failure = field(doc, h, "failure");
        assert_eq!(failure["step"], step, "{h}: {doc:#}");
        let message = failure["message"].as_str().unwrap_or_default().to_owned();
        for w in words {
            assert!(
                message.contains(w),
                "{h}: {w:?} not in {message:?}\n{doc:#}"
            );
        }
        let first = message.lines().next().unwrap_or_default();
        let error = field(doc, h, "error")
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            error.contains(h) && error.contains(first),
            "{h}: the report's text names the host and says {first:?}: {error}"
        );
        if failure["command"].is_string() {
            let named = format!("{h}: {step}: {first}");
            assert!(error.starts_with(&named), "{h}: {named:?}: {error}");
        }
        assert!(
            self.log
                .lines()
                .any(|l| l.starts_with(&format!("{h} {result}")) && l.contains(first)),
            "{h}: no plain line `{h} {result} …{first}` in:\n{}",
            self.log
        );
        message
    }
}

struct Site {
    lab: Lab,
    work: tempfile::TempDir,
    names: Vec<String>,
    uid: u32,
    gid: u32,
    old: Vec<u8>,
    new: Vec<u8>,
    /// The sshd listener of each host: its mount namespace is the host's.
    listeners: Mutex<HashMap<String, u32>>,
    host_vars: Mutex<BTreeMap<String, Map<String, Value>>>,
    cleanup: Leftovers,
}

impl Site {
    /// A lab of `n` hosts with a channel offering 1.1.0 (of `new_size` bytes when given). Hosts
    /// get their service with [`Site::install`] and [`Site::start_service`].
    fn new(n: usize, new_size: Option<usize>) -> Site {
        require_service_tools();
        require_port_80_privileged();
        let (uid, gid) = service_user();
        let work = tempfile::tempdir().unwrap();
        let old = release_bytes("1.0.0", Padding::None, false);
        let padding = new_size.map_or(Padding::None, Padding::CopiesUpTo);
        let new = release_bytes("1.1.0", padding, false);
        new_channel(work.path());
        publish(work.path(), "1.1.0", &new);
        let lab = Lab::start(n);
        let names: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
        let listeners = std::fs::read_to_string(lab.dir().join("run/pids"))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(pid, name)| (name.trim().to_owned(), pid.parse().unwrap()))
            .collect();
        // What a hung restart sleeps: its lab's own (labs never share an address block).
        let block = lab.hosts()[0].addr.split('.').nth(2).unwrap().to_owned();
        let leftovers = Leftovers {
            addrs: lab.hosts().iter().map(|h| h.addr.clone()).collect(),
            hang: format!("987.{block}"),
        };
        let site = Site {
            lab,
            work,
            names,
            uid,
            gid,
            old,
            new,
            listeners: Mutex::new(listeners),
            host_vars: Mutex::new(BTreeMap::new()),
            cleanup: leftovers,
        };
        for h in &site.names {
            let addr = site.addr(h);
            site.set_vars(
                h,
                // Host variables, which a test may change per host (`-e` would win over
                // them).
                json!({
                    "fleetup_binary": BIN,
                    "fleetup_restart_command": restart_command(&addr, uid, gid, START_SECS, None),
                    "fleetup_health_url": format!("http://{addr}:80/"),
                    "fleetup_health_timeout": 10,
                }),
            );
        }
        site
    }

    fn name(&self, i: usize) -> String {
        self.names[i].clone()
    }

    fn addr(&self, h: &str) -> String {
        self.lab.host(h).addr.clone()
    }

    fn listener(&self, h: &str) -> u32 {
        self.listeners.lock().unwrap()[h]
    }

    /// The host's `/opt` as the host sees it: through its sshd while that runs (its own mount
    /// namespace), else the directory the lab binds there.
    fn opt(&self, h: &str) -> PathBuf {
        let pid = self.listener(h);
        let config = format!("/hosts/{h}/sshd_config");
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&config) {
            PathBuf::from(format!("/proc/{pid}/root/opt"))
        } else {
            self.lab.opt_dir(h)
        }
    }

    fn dir(&self, h: &str) -> PathBuf {
        self.opt(h).join("demo")
    }

    fn bin(&self, h: &str) -> PathBuf {
        self.opt(h).join("demo/demo-service")
    }

    /// Runs `script` on `h` as root over OpenSSH; it must succeed.
    fn ssh(&self, h: &str, script: &str) -> String {
        let out = self.lab.ssh(h, script);
        assert!(out.status.success(), "{h}: {script}: {}", describe(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Installs 1.0.0 as a package would: root-owned, 0755, allowed to bind low ports.
    fn install(&self, h: &str) {
        install_as_package(&self.bin(h), &self.old);
    }

    /// Starts the service on `h` by hand (as an operator would) and checks it serves 1.0.0.
    fn start_service(&self, h: &str) {
        let addr = self.addr(h);
        self.ssh(
            h,
            &restart_command(&addr, self.uid, self.gid, START_SECS, None),
        );
        assert_eq!(get(&addr), Ok("demo-service 1.0.0\n".into()), "{h}");
    }

    /// Installs and starts the service on every host.
    fn install_all(&self) {
        for h in &self.names {
            self.install(h);
            self.start_service(h);
        }
    }

    /// Sets host variables of `h` (in a second inventory merged with the lab's).
    fn set_vars(&self, h: &str, vars: Value) {
        let Value::Object(vars) = vars else {
            panic!("host variables are an object: {vars}")
        };
        let mut all = self.host_vars.lock().unwrap();
        all.entry(h.to_owned()).or_default().extend(vars);
    }

    /// `fleetup -i LAB -i HOSTVARS -e CHANNEL [-e VARS…] ARGS`.
    fn command(&self, vars: &[&str], args: &[&str]) -> Command {
        let host_vars = self.work.path().join("hosts.json");
        let hosts: Map<String, Value> = self
            .host_vars
            .lock()
            .unwrap()
            .iter()
            .map(|(h, v)| (h.clone(), Value::Object(v.clone())))
            .collect();
        std::fs::write(
            &host_vars,
            serde_json::to_string_pretty(&json!({"all": {"hosts": hosts}})).unwrap(),
        )
        .unwrap();
        let common = json!({
            "fleetup_source": self.work.path().join("releases"),
            "fleetup_public_keys": [self.work.path().join("k.pub")],
        })
        .to_string();
        let mut cmd = fleetup();
        cmd.env("XDG_CACHE_HOME", self.work.path().join("cache"))
            .arg("-i")
            .arg(self.lab.inventory())
            .arg("-i")
            .arg(&host_vars)
            .args(["-e", &common]);
        // Every -e before the subcommand (see tests/fleet_service.rs).
        for v in vars {
            cmd.args(["-e", v]);
        }
        cmd.args(args);
        cmd
    }

    /// `fleetup … --output json upgrade --yes ARGS`.
    fn upgrade(&self, vars: &[&str], args: &[&str]) -> Ran {
        let started = Instant::now();
        let mut all = vec!["--output", "json", "upgrade", "--yes"];
        all.extend_from_slice(args);
        let out = run(&mut self.command(vars, &all));
        eprintln!("fleetup upgrade {args:?}: {:?}", started.elapsed());
        Ran::from_json(&out)
    }

    /// `fleetup … --output jsonl upgrade --yes ARGS`, calling `on_event` with each event as it
    /// is streamed.
    fn upgrade_streamed(
        &self,
        vars: &[&str],
        args: &[&str],
        mut on_event: impl FnMut(&Value),
    ) -> Ran {
        let mut all = vec!["--output", "jsonl", "upgrade", "--yes"];
        all.extend_from_slice(args);
        let child = self
            .command(vars, &all)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = Reaped(child);
        let mut stderr = child.0.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let mut hosts = Vec::new();
        let mut summary = Value::Null;
        for line in BufReader::new(child.0.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let v: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            on_event(&v);
            match v["event"].as_str() {
                Some("host") => hosts.push(v),
                Some("summary") => summary = v,
                _ => {}
            }
        }
        let code = child.0.wait().unwrap().code();
        Ran {
            code,
            doc: json!({"hosts": hosts, "summary": summary}),
            log: log.join().unwrap(),
        }
    }

    fn state(&self, h: &str) -> HostState {
        let bin = self.bin(h);
        let bytes = std::fs::read(&bin).unwrap_or_default();
        let meta = std::fs::metadata(&bin).ok();
        let getcap = run(Command::new("getcap").arg(&bin));
        let caps = String::from_utf8_lossy(&getcap.stdout)
            .trim()
            .strip_prefix(bin.to_str().unwrap())
            .unwrap_or_default()
            .trim()
            .to_owned();
        let addr = self.addr(h);
        HostState {
            sha256: sha256_hex(&bytes),
            mode: meta.as_ref().map_or(0, |m| m.mode() & 0o7777),
            uid: meta.as_ref().map_or(u32::MAX, MetadataExt::uid),
            gid: meta.as_ref().map_or(u32::MAX, MetadataExt::gid),
            caps,
            listing: self.listing(h),
            answer: get(&addr),
            service: service_pids(&addr),
        }
    }

    fn listing(&self, h: &str) -> BTreeSet<String> {
        std::fs::read_dir(self.dir(h))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// fleetup's temp files and locks in `h`'s `/opt/demo`.
    fn leftovers(&self, h: &str) -> Vec<String> {
        self.listing(h)
            .into_iter()
            .filter(|n| n.starts_with(DOT_PREFIX))
            .collect()
    }

    /// Asserts that `h` is as it was: the same binary (bytes, mode, owner, capability), the
    /// same files beside it (no temp file, no lock, no backup), the service answering 1.0.0 from
    /// the same process.
    fn assert_untouched(&self, h: &str, before: &HostState) {
        let now = self.state(h);
        assert_eq!(
            now.answer,
            Ok("demo-service 1.0.0\n".into()),
            "{h}: still serves"
        );
        assert!(
            before.caps.contains("cap_net_bind_service=ep"),
            "{h}: {before:?}"
        );
        assert_eq!(
            self.leftovers(h),
            Vec::<String>::new(),
            "{h}: no temp file, no lock"
        );
        assert_eq!(&now, before, "{h}: untouched");
    }

    /// Asserts that `h` was upgraded: 1.1.0's bytes with the old mode, owner and capability, a
    /// backup, no temp file or lock, the service restarted and answering 1.1.0.
    fn assert_upgraded(&self, ran: &Ran, h: &str) {
        assert_eq!(ran.result(h), "upgraded", "{h}: {:#}\n{}", ran.doc, ran.log);
        let now = self.state(h);
        assert_eq!(now.sha256, sha256_hex(&self.new), "{h}: 1.1.0 in place");
        assert_eq!((now.mode, now.uid, now.gid), (0o755, 0, 0), "{h}");
        assert!(now.caps.contains("cap_net_bind_service=ep"), "{h}: {now:?}");
        assert_eq!(
            self.leftovers(h),
            Vec::<String>::new(),
            "{h}: no temp file, no lock"
        );
        assert!(
            now.listing
                .iter()
                .any(|n| n.starts_with("demo-service.fleetup-bak-1.0.0-")),
            "{h}: a backup: {now:?}"
        );
        assert_eq!(
            now.answer,
            Ok("demo-service 1.1.0\n".into()),
            "{h}: serves 1.1.0"
        );
        assert_eq!(now.service.len(), 1, "{h}: one instance: {now:?}");
    }

    /// Kills `h`'s sshd listener and every process under it (its sessions, and what they run)
    /// at once, with SIGKILL: the host's sshd is gone.
    fn kill_sshd(&self, h: &str) -> Vec<(u32, String)> {
        let listener = self.listener(h);
        let mut all = descendants(listener);
        all.push((listener, "sshd".into()));
        let pids: Vec<u32> = all.iter().map(|(p, _)| *p).collect();
        kill("KILL", &pids);
        all
    }

    /// Starts `h`'s sshd again, as `scripts/lab up` does (same config, keys and `/opt`), and
    /// waits until it listens.
    fn restart_sshd(&self, h: &str) -> SshdGuard {
        let host_dir = self.lab.dir().join("hosts").join(h);
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(host_dir.join("sshd.log"))
            .unwrap();
        let child = Command::new("setsid")
            .args([
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                "/bin/sh",
                "-c",
            ])
            .arg(r#"mount --bind "$1" /opt && exec "$2" -D -e -f "$3""#)
            .arg(format!("lab-{h}"))
            .arg(host_dir.join("opt"))
            .arg("/usr/sbin/sshd")
            .arg(host_dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let pid = child.id();
        let guard = SshdGuard(Reaped(child));
        let sa: SocketAddr = format!("{}:22", self.addr(h)).parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&sa, Duration::from_secs(1)).is_err() {
            assert!(Instant::now() < deadline, "{h}: sshd did not come back");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.listeners.lock().unwrap().insert(h.to_owned(), pid);
        guard
    }
}

/// A child process killed (when still running) and waited for on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// An sshd started by a test (see [`Site::restart_sshd`]).
struct SshdGuard(#[allow(dead_code)] Reaped);

/// The host variables of a gate: `h`'s health check passes only once `go` exists, so its
/// batch (the first, with `--serial 1`) lasts until the test has done what it does between the
/// probes and the next batches.
fn gate(site: &Site, h: &str, go: &Path) {
    let addr = site.addr(h);
    site.set_vars(
        h,
        json!({
            "fleetup_health_url": null,
            "fleetup_health_command": format!(
                "test -e {} && curl -fsS -o /dev/null --max-time 2 http://{addr}:80/",
                go.display()
            ),
            "fleetup_health_timeout": 120,
        }),
    );
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

/// A temp file being written in `dir` (a stage's, not a lock's) and its size.
fn staging(dir: &Path) -> Option<(PathBuf, u64)> {
    let prefix = format!("{DOT_PREFIX}-");
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.starts_with(&prefix)
            .then(|| (e.path(), e.metadata().map_or(0, |m| m.len())))
    })
}

/// Runs `fleetup upgrade` while watching `h`'s directory: once the staged file has more than
/// `from` bytes (and less than all of them), `cut` is called once. Returns the run and what
/// `cut` returned with the size seen.
fn upgrade_cut<T: Send>(
    site: &Site,
    h: &str,
    vars: &[&str],
    from: u64,
    cut: impl FnOnce() -> T + Send,
) -> (Ran, Option<(u64, T)>) {
    let dir = site.dir(h);
    let total = site.new.len() as u64;
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if let Some((_, size)) = staging(&dir)
                    && size > from
                    && size < total
                {
                    return Some((size, cut()));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            None
        });
        let ran = site.upgrade(vars, &[]);
        done.store(true, Ordering::Relaxed);
        (ran, watcher.join().unwrap())
    })
}

/// Waits up to 10 s for `h`'s directory to hold no temp file; returns what is left.
fn leftovers_after(site: &Site, h: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<String> = site
            .leftovers(h)
            .into_iter()
            .filter(|n| !n.ends_with(".fleetup.lock"))
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a step says when the connection goes away while its command runs.
const LOST_MID_COMMAND: &str = "connection lost: while the command ran, the connection closed";

/// The SSH connection dropped in the middle of a 64 MiB upload: first only the sshd processes
/// serving fleetup's connection die, then the whole sshd with everything under it (the staging
/// shell included, so nothing on the host cleans up). Each time the host fails at `stage` with
/// its binary and service untouched, and the other host is upgraded; the next run, with the
/// default settings, clears the lock and the partial file the dead runs left, and upgrades.
/// (Needs the clearing of a lock whose run is gone from this controller, and the removal of
/// dead runs' temp files under the lock: branch faults-kill.)
#[test]
fn lab_ssh_dropped_mid_upload_leaves_the_binary_whole_and_the_next_run_cleans_up() {
    let site = Site::new(2, Some(64 << 20));
    site.install_all();
    let (a, b) = (site.name(0), site.name(1));
    let before = site.state(&a);

    // 1. The session's sshd processes die; the listener (and the staging shell) live on.
    let (ran, cut) = upgrade_cut(&site, &a, &[], 4 << 20, || {
        let sessions: Vec<u32> = descendants(site.listener(&a))
            .into_iter()
            .filter(|(_, comm)| comm.starts_with("sshd"))
            .map(|(p, _)| p)
            .collect();
        kill("KILL", &sessions);
        sessions
    });
    let (size, sessions) = cut.expect("the upload was cut while in flight");
    eprintln!("cut the session at {size} bytes: killed sshd {sessions:?}");
    assert!(!sessions.is_empty());
    assert_eq!(ran.code, Some(1), "{:#}", ran.doc);
    let message = ran.assert_failed(&a, "failed", "stage", &["connection lost"]);
    assert_eq!(
        message, LOST_MID_COMMAND,
        "the command is not repeated in the message"
    );
    site.assert_upgraded(&ran, &b);
    // The staging shell saw its input end short and removed its file.
    assert_eq!(leftovers_after(&site, &a), Vec::<String>::new());
    // The lock could not be given back over the lost connection: it stays, for the next run
    // to clear (its run is gone).
    assert_eq!(site.leftovers(&a), [format!("{DOT_PREFIX}.lock")]);
    let now = site.state(&a);
    assert_eq!(now.sha256, before.sha256, "{a}: the old binary, whole");
    assert_eq!(
        (now.mode, now.uid, now.gid, &now.caps),
        (before.mode, before.uid, before.gid, &before.caps)
    );
    assert_eq!(
        (&now.answer, &now.service),
        (&before.answer, &before.service),
        "{a}: still serving"
    );

    // 2. The next run clears the lock of the run that is gone, and this time the whole sshd
    //    dies during the upload, the staging shell with it: its partial file stays.
    let (ran, cut) = upgrade_cut(&site, &a, &[], 4 << 20, || site.kill_sshd(&a));
    let message = ran.assert_failed(&a, "failed", "stage", &["connection lost"]);
    assert_eq!(message, LOST_MID_COMMAND);
    let (size, killed) = cut.expect("the upload was cut while in flight");
    eprintln!("killed the whole sshd at {size} bytes: {killed:?}");
    assert!(
        killed.iter().any(|(_, c)| c == "sh"),
        "the staging shell too: {killed:?}"
    );
    assert_eq!(ran.code, Some(1), "{:#}", ran.doc);
    assert_eq!(ran.result(&b), "unchanged", "{:#}", ran.doc);
    let left = site.leftovers(&a);
    eprintln!("{a} after its sshd died: {left:?}");
    let partial = format!("{DOT_PREFIX}-");
    assert!(
        left.iter().any(|n| n.starts_with(&partial)),
        "the partial file is left: {left:?}"
    );
    let now = site.state(&a);
    assert_eq!(now.sha256, before.sha256, "{a}: the old binary, whole");
    assert_eq!(
        (&now.answer, &now.service),
        (&before.answer, &before.service),
        "{a}: still serving"
    );

    // 3. The host comes back; the next run clears the dead run's lock, removes the partial
    //    file under the lock, and upgrades.
    let _sshd = site.restart_sshd(&a);
    let last = site.upgrade(&[], &[]);
    assert_eq!(last.code, Some(0), "{:#}\n{}", last.doc, last.log);
    assert_eq!(
        site.leftovers(&a),
        Vec::<String>::new(),
        "{a}: the next run, holding the lock, removes the partial file of the run that died"
    );
    site.assert_upgraded(&last, &a);
    assert_eq!(last.result(&b), "unchanged");
}

/// A host unreachable from the start (its sshd gone before the run) fails at `connect`; a host
/// whose sshd goes away after its probe, before its batch, fails at `lock` with the connection
/// lost. Neither is touched, both keep serving, and the host of the first batch is upgraded.
#[test]
fn lab_host_unreachable_from_the_start_or_gone_between_probe_and_swap() {
    let site = Site::new(3, None);
    site.install_all();
    let (first, gone, down) = (site.name(0), site.name(1), site.name(2));
    let go = site.work.path().join("go");
    gate(&site, &first, &go);
    let (before_gone, before_down) = (site.state(&gone), site.state(&down));
    site.kill_sshd(&down);

    let mut killed = Vec::new();
    let ran = site.upgrade_streamed(&[], &["--serial", "1", "--keep-going"], |e| {
        if e["event"] == "batch_started" && e["batch"] == 1 {
            // Every host was probed; `gone` keeps its connection open for its batch.
            killed = site.kill_sshd(&gone);
            std::fs::write(&go, "").unwrap();
        }
    });
    assert!(
        killed.iter().filter(|(_, c)| c.starts_with("sshd")).count() >= 2,
        "the listener and fleetup's session: {killed:?}"
    );
    assert_eq!(ran.code, Some(1), "{:#}", ran.doc);
    site.assert_upgraded(&ran, &first);
    ran.assert_failed(&gone, "failed", "lock", &["connection lost"]);
    let addr = format!("{}:22", site.addr(&down));
    ran.assert_failed(&down, "unreachable", "connect", &[&addr, "refused"]);
    for (h, batch) in [(&first, 1), (&gone, 2), (&down, 3)] {
        assert_eq!(field(&ran.doc, h, "batch"), batch, "{:#}", ran.doc);
    }
    site.assert_untouched(&gone, &before_gone);
    site.assert_untouched(&down, &before_down);
}

/// Fills `dir` (a tmpfs) until it is full, then frees `keep` bytes.
fn fill(dir: &Path, keep: u64) {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5a_u8; 1 << 16];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {path:?}: {e}"),
        }
    }
    drop(f);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(written.saturating_sub(keep)).unwrap();
}

/// Space and permissions changing under a run. With `--serial 1`, every host is probed first,
/// then the first batch waits at its health check while the test fills a tmpfs on one host
/// (the probe saw room: the stage finds none) and takes a user's write permission on another.
/// A host whose tmpfs is too small from the start fails when deciding, before a byte is sent.
#[test]
fn lab_disk_full_and_directory_not_writable_fail_before_the_swap() {
    let site = Site::new(4, Some(24 << 20));
    let (first, filled, small, denied) = (site.name(0), site.name(1), site.name(2), site.name(3));
    let old = site.old.len() as u64;
    let new = site.new.len() as u64;
    for (h, bytes) in [
        (&filled, old + 2 * new + (8 << 20)),
        (&small, old + (512 << 10)),
    ] {
        site.ssh(
            h,
            &format!(
                "mkdir -p {DIR} && mount -t tmpfs -o size={}k,mode=0755 fleetup-faults {DIR}",
                bytes.div_ceil(1024)
            ),
        );
    }
    site.install_all();
    // `denied` logs in as a user who owns the directory and the binary.
    let uid = login_user(PLAIN_USER);
    let gid = id("-g", PLAIN_USER);
    for p in [site.dir(&denied), site.bin(&denied)] {
        std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
    }
    let out = run(Command::new("setcap")
        .arg("cap_net_bind_service=+ep")
        .arg(site.bin(&denied)));
    assert!(out.status.success(), "{}", describe(&out));
    site.set_vars(&denied, json!({"ansible_user": PLAIN_USER}));
    let go = site.work.path().join("go");
    gate(&site, &first, &go);
    let before: HashMap<String, HostState> = [&filled, &small, &denied]
        .iter()
        .map(|h| ((*h).clone(), site.state(h)))
        .collect();

    let ran = site.upgrade_streamed(&[], &["--serial", "1", "--keep-going"], |e| {
        if e["event"] == "batch_started" && e["batch"] == 1 {
            fill(&site.dir(&filled), 256 << 10);
            std::fs::set_permissions(site.dir(&denied), std::fs::Permissions::from_mode(0o555))
                .unwrap();
            std::fs::write(&go, "").unwrap();
        }
    });
    assert_eq!(ran.code, Some(1), "{:#}", ran.doc);
    site.assert_upgraded(&ran, &first);

    let no_space = format!("no space on {filled}:{DIR} for the 24.0 MiB release (");
    ran.assert_failed(
        &filled,
        "failed",
        "stage",
        &[&no_space, "No space left on device"],
    );
    assert!(
        field(&ran.doc, &filled, "bytes_sent").as_u64().unwrap() > 0,
        "the upload had begun"
    );
    std::fs::remove_file(site.dir(&filled).join("filler")).unwrap();
    site.assert_untouched(&filled, &before[&filled]);

    let where_ = format!("no space on {small}:{DIR}: ");
    ran.assert_failed(
        &small,
        "failed",
        "decide",
        &[&where_, "MiB free", "MiB needed"],
    );
    assert_eq!(field(&ran.doc, &small, "bytes_sent"), 0, "nothing was sent");
    site.assert_untouched(&small, &before[&small]);

    // The lock, the first thing written, finds the directory closed.
    let lock = format!("{DIR}/{DOT_PREFIX}.lock");
    ran.assert_failed(&denied, "failed", "lock", &[&lock, "Permission denied"]);
    std::fs::set_permissions(site.dir(&denied), std::fs::Permissions::from_mode(0o755)).unwrap();
    site.assert_untouched(&denied, &before[&denied]);
}

/// As root: a read-only directory, a missing binary, a directory and a symlink loop where the
/// binary should be. Each fails alone, read-only, with a message naming the host and the
/// cause, in the JSON report and in the text report; the healthy host is upgraded.
#[test]
fn lab_read_only_directory_missing_binary_directory_and_symlink_loop() {
    let site = Site::new(5, None);
    site.install_all();
    let (ro, missing, dir, looped, healthy) = (
        site.name(0),
        site.name(1),
        site.name(2),
        site.name(3),
        site.name(4),
    );
    site.ssh(
        &ro,
        &format!("mount --bind {DIR} {DIR} && mount -o remount,bind,ro {DIR}"),
    );
    site.set_vars(
        &missing,
        json!({"fleetup_binary": format!("{DIR}/missing")}),
    );
    std::fs::create_dir(site.dir(&dir).join("adir")).unwrap();
    site.set_vars(&dir, json!({"fleetup_binary": format!("{DIR}/adir")}));
    std::os::unix::fs::symlink("loop2", site.dir(&looped).join("loop")).unwrap();
    std::os::unix::fs::symlink("loop", site.dir(&looped).join("loop2")).unwrap();
    site.set_vars(&looped, json!({"fleetup_binary": format!("{DIR}/loop")}));
    let faulted = [&ro, &missing, &dir, &looped];
    let before: HashMap<String, HostState> = faulted
        .iter()
        .map(|h| ((*h).clone(), site.state(h)))
        .collect();

    let ran = site.upgrade(&[], &[]);
    assert_eq!(ran.code, Some(1), "{:#}", ran.doc);
    site.assert_upgraded(&ran, &healthy);
    let expect = [
        (&ro, "decide", format!("{ro}:{DIR}: not writable by root")),
        (
            &missing,
            "probe",
            format!(
                "fleetup_binary {DIR}/missing cannot be resolved on {missing}: it does not exist (realpath: {DIR}/missing: No such file or directory)"
            ),
        ),
        (
            &dir,
            "probe",
            format!("fleetup_binary {DIR}/adir on {dir} is a directory ({DIR}/adir), not a binary"),
        ),
        (
            &looped,
            "probe",
            format!(
                "fleetup_binary {DIR}/loop on {looped} is a symlink loop (realpath: {DIR}/loop: Too many levels of symbolic links)"
            ),
        ),
    ];
    for (h, step, message) in &expect {
        let got = ran.assert_failed(h, "failed", step, &[]);
        assert_eq!(&got, message, "{h}");
        assert_eq!(field(&ran.doc, h, "bytes_sent"), 0, "{h}");
        site.assert_untouched(h, &before[*h]);
    }
    assert!(site.dir(&dir).join("adir").is_dir());
    assert_eq!(
        std::fs::read_link(site.dir(&looped).join("loop")).unwrap(),
        Path::new("loop2")
    );

    // The text report says the same, one line per host in the table, then each in full.
    let out = run(&mut site.command(&[], &["upgrade", "--yes"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for (h, step, message) in &expect {
        let full = format!("\n{h} failed — {step}: {message}\n");
        assert!(text.contains(&full), "{full:?} not in:\n{text}");
        site.assert_untouched(h, &before[*h]);
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with(healthy.as_str()) && l.contains(" unchanged ")),
        "{text}"
    );
}

/// Users: one whose sudo wants a password (with `ansible_become`), one without write rights on
/// the binary's directory, one who may write the directory but cannot give a new file the
/// binary's owner (root). Each fails before the swap, names the user and the fix; the root
/// host is upgraded.
#[test]
fn lab_sudo_that_wants_a_password_and_users_without_rights_on_the_binary() {
    let site = Site::new(4, None);
    site.install_all();
    let (sudo, reader, owner, healthy) = (site.name(0), site.name(1), site.name(2), site.name(3));
    login_user(PASSWORD_USER);
    let uid = login_user(PLAIN_USER);
    let _rule = SudoRule::new(PASSWORD_USER, "ALL");
    site.set_vars(
        &sudo,
        json!({"ansible_user": PASSWORD_USER, "ansible_become": true}),
    );
    site.set_vars(&reader, json!({"ansible_user": PLAIN_USER}));
    site.set_vars(&owner, json!({"ansible_user": PLAIN_USER}));
    // `owner`'s user owns the directory; the binary stays root's.
    std::os::unix::fs::chown(site.dir(&owner), Some(uid), None).unwrap();
    let before: HashMap<String, HostState> = [&sudo, &reader, &owner]
        .iter()
        .map(|h| ((*h).clone(), site.state(h)))
        .collect();

    let ran = site.upgrade(&[], &[]);
    assert_eq!(ran.code, Some(1), "{:#}", ran.doc);
    site.assert_upgraded(&ran, &healthy);
    let pw = format!("sudo needs a password on {sudo}: ");
    ran.assert_failed(&sudo, "failed", "probe", &[&pw, "(fleetup runs sudo -n)"]);
    let not_writable = format!("{reader}:{DIR}: not writable by {PLAIN_USER}");
    ran.assert_failed(&reader, "failed", "decide", &[&not_writable]);
    let may_not = format!(
        "{PLAIN_USER} on {owner} may not give the new file the owner of {BIN} (root:root): "
    );
    ran.assert_failed(
        &owner,
        "failed",
        "stage",
        &[&may_not, "Operation not permitted", "ansible_become"],
    );
    for h in [&sudo, &reader, &owner] {
        site.assert_untouched(h, &before[h]);
    }

    // The text report, again: the same failures, nothing changed on them.
    let out = run(&mut site.command(&[], &["upgrade", "--yes"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for (h, step, what) in [
        (&sudo, "probe", pw.as_str()),
        (&reader, "decide", not_writable.as_str()),
        (&owner, "stage", may_not.as_str()),
    ] {
        let head = format!("\n{h} failed — {step}: {what}");
        assert!(text.contains(&head), "{head:?} not in:\n{text}");
        site.assert_untouched(h, &before[h]);
    }
}

/// A restart command that hangs once 1.1.0 is in place: the per-command timeout kills it (and
/// what it ran), the previous binary is put back, restarted and healthy: `rolled_back`, the
/// service answers 1.0.0 again; the other host is upgraded.
#[test]
fn lab_hung_restart_is_killed_by_its_timeout_and_the_host_rolled_back() {
    let site = Site::new(2, None);
    site.install_all();
    let (hung, healthy) = (site.name(0), site.name(1));
    let addr = site.addr(&hung);
    let hang = site.cleanup.hang.clone();
    site.set_vars(
        &hung,
        json!({
            "fleetup_restart_command": restart_command(&addr, site.uid, site.gid, START_SECS, Some(("1.1.0", &hang))),
            "fleetup_restart_timeout": 3,
        }),
    );
    let before = site.state(&hung);

    let ran = site.upgrade(&[], &[]);
    assert_eq!(ran.code, Some(1), "{:#}", ran.doc);
    site.assert_upgraded(&ran, &healthy);
    ran.assert_failed(
        &hung,
        "rolled_back",
        "restart",
        &["did not finish within 3 s (killed)"],
    );
    let error = field(&ran.doc, &hung, "error").as_str().unwrap().to_owned();
    assert!(error.contains("rolled back to 1.0.0"), "{error}");
    assert_eq!(field(&ran.doc, &hung, "to"), "1.1.0");
    assert_eq!(
        pids_of(&["sleep", &hang]),
        Vec::<u32>::new(),
        "the hung restart was killed"
    );

    let now = site.state(&hung);
    assert_eq!(
        now.answer,
        Ok("demo-service 1.0.0\n".into()),
        "serves 1.0.0 again"
    );
    assert_eq!(now.service.len(), 1, "{now:?}");
    assert_ne!(now.service, before.service, "restarted by the rollback");
    assert_eq!(
        (&now.sha256, now.mode, now.uid, now.gid, &now.caps),
        (
            &before.sha256,
            before.mode,
            before.uid,
            before.gid,
            &before.caps
        ),
        "1.0.0 back, whole, with its mode, owner and capability"
    );
    assert_eq!(
        site.leftovers(&hung),
        Vec::<String>::new(),
        "no temp file, no lock"
    );
}
