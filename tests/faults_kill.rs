//! The controller killed (SIGKILL), interrupted (SIGINT, SIGTERM, twice) or run twice at once,
//! over a lab of real OpenSSH hosts, each running a real service: `examples/demo-service`
//! serving HTTP on port 80 of its address as the unprivileged `fleetup-demo` (it can bind port
//! 80 only through the file capability fleetup must re-apply), padded to a few MiB so uploads
//! take time.
//!
//! After every fault, on every host: the binary is byte for byte the old release or the new
//! one (never anything else), root-owned, mode 0755, with `cap_net_bind_service`; the service
//! answers. Then a run without a fault finishes, every host on the new release, and no temp
//! file and no lock is left.
//!
//! The points where the controller is killed are drawn from a seed, printed first (set
//! `FLEETUP_FAULT_SEED` to replay one).

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::lab::Lab;
use crate::support::service::{
    BIN, NAME, Padding, get_within, install_as_package, kill_services, new_channel, publish,
    release_bytes, require_service_tools, restart_command, service_inventory, service_user,
    service_vars, services_gone_within,
};
use crate::support::{describe, fleetup, run};

/// Bytes added to the program, so that an upload (and the hashing on the host) takes time.
const PADDING: usize = 12 << 20;
const HOSTS: usize = 6;
const OLD: &str = "1.0.0";
const NEW: &str = "2.0.0";
/// How long a restart waits for the service to answer.
const START_SECS: u32 = 15;

// ---------------------------------------------------------------------------------------------
// The releases and the service (tests/support/service.rs).

/// Release `version`: the program, padding, and the version trailer `demo-service` reads.
fn release(version: &str) -> Vec<u8> {
    release_bytes(version, Padding::Zeros(PADDING), false)
}

/// Kills the service instances of `addrs` and waits (up to 10 s) until they are gone.
fn stop_services(addrs: &[String]) {
    kill_services(addrs);
    services_gone_within(addrs, Duration::from_secs(10));
}

/// The version `addr:80` serves, waiting up to 30 s for it to answer (a restart that the
/// killed controller had started goes on on the host).
fn serves(addr: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match get_within(addr, Duration::from_secs(3), Duration::from_secs(5)) {
            Ok(body) => {
                return body
                    .strip_prefix("demo-service ")
                    .map(|v| v.trim().to_owned())
                    .ok_or(body);
            }
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A lab of hosts running the service, and fleetup runs against it.

struct Fleet {
    lab: Lab,
    work: tempfile::TempDir,
    hosts: Vec<(String, String)>,
    uid: u32,
    gid: u32,
    old: Vec<u8>,
    new: Vec<u8>,
    service_inventory: PathBuf,
    common: String,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        stop_services(&self.addrs());
    }
}

impl Fleet {
    fn start() -> Fleet {
        require_service_tools();
        let (uid, gid) = service_user();
        let work = tempfile::tempdir().unwrap();
        new_channel(work.path());
        for version in [OLD, NEW] {
            publish(work.path(), version, &release(version));
        }
        let lab = Lab::start(HOSTS);
        let hosts: Vec<(String, String)> = lab
            .hosts()
            .iter()
            .map(|h| (h.name.clone(), h.addr.clone()))
            .collect();
        let service_inventory = service_inventory(work.path(), &hosts, uid, gid, START_SECS);
        let common = service_vars(work.path(), 10);
        Fleet {
            lab,
            hosts,
            uid,
            gid,
            old: release(OLD),
            new: release(NEW),
            service_inventory,
            common,
            work,
        }
    }

    fn addrs(&self) -> Vec<String> {
        self.hosts.iter().map(|(_, a)| a.clone()).collect()
    }

    fn dir(&self, host: &str) -> PathBuf {
        self.lab.opt_dir(host).join("demo")
    }

    /// Every host back to the old release, installed as a package would (root, 0755, the
    /// capability), started by hand; nothing else in its directory.
    fn reset(&self) {
        stop_services(&self.addrs());
        for (h, addr) in &self.hosts {
            let dir = self.dir(h);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            install_as_package(&dir.join(NAME), &self.old);
            let restart = restart_command(addr, self.uid, self.gid, START_SECS, None);
            let out = self.lab.ssh(h, &restart);
            assert!(out.status.success(), "{h}: start: {}", describe(&out));
        }
    }

    /// `fleetup … upgrade` with jsonl on stdout, started (not waited for).
    fn spawn(&self, args: &[&str]) -> Running {
        let mut cmd = fleetup();
        cmd.env("XDG_CACHE_HOME", self.work.path().join("cache"))
            .arg("-i")
            .arg(self.lab.inventory())
            .arg("-i")
            .arg(&self.service_inventory)
            .args(["-e", &self.common])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Running::spawn(cmd)
    }

    /// Asserts every host is intact after `when`: the old or the new release byte for byte,
    /// root-owned, 0755, with the capability, and serving. Returns, per host, (the release on
    /// disk, the version served).
    fn assert_intact(&self, when: &str) -> Vec<(&'static str, String)> {
        let mut states = Vec::new();
        for (h, addr) in &self.hosts {
            let bin = self.dir(h).join(NAME);
            let bytes = std::fs::read(&bin).unwrap();
            let on_disk = if bytes == self.old {
                OLD
            } else if bytes == self.new {
                NEW
            } else {
                panic!(
                    "{when}: {h}: {BIN} is neither {OLD} nor {NEW} ({} bytes): a torn binary",
                    bytes.len()
                )
            };
            let meta = std::fs::metadata(&bin).unwrap();
            assert_eq!(
                (meta.uid(), meta.gid(), meta.mode() & 0o7777),
                (0, 0, 0o755),
                "{when}: {h}: owner and mode of {on_disk}"
            );
            let cap = run(Command::new("getcap").arg(&bin));
            assert!(
                String::from_utf8_lossy(&cap.stdout).contains("cap_net_bind_service=ep"),
                "{when}: {h}: the capability of {on_disk}: {}",
                describe(&cap)
            );
            let served = serves(addr).unwrap_or_else(|e| panic!("{when}: {h}: no service: {e}"));
            assert!(
                served == OLD || served == NEW,
                "{when}: {h} serves {served:?}"
            );
            states.push((on_disk, served));
        }
        states
    }

    /// Temp files and locks beside the binary on every host (file names).
    fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        for (h, _) in &self.hosts {
            for e in std::fs::read_dir(self.dir(h)).unwrap().flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with(&format!(".{NAME}.fleetup")) {
                    left.push(format!("{h}:{n}"));
                }
            }
        }
        left
    }

    /// Backups of the binary on `host`.
    fn backups(&self, host: &str) -> Vec<String> {
        let mut b: Vec<String> = std::fs::read_dir(self.dir(host))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("{NAME}.fleetup-bak-")))
            .collect();
        b.sort();
        b
    }

    /// A run without a fault: it must finish with every host on the new release, intact,
    /// and nothing left behind. `after_kill`: the state each host was left in by the fault.
    fn assert_next_run_finishes(&self, when: &str, after: &[(&'static str, String)]) {
        let done = self
            .spawn(&["--output", "jsonl", "upgrade"])
            .finish(Duration::from_secs(300));
        assert_eq!(
            done.status.code(),
            Some(0),
            "{when}: the next run: {}",
            done.describe()
        );
        let states = self.assert_intact(&format!("{when}, then the next run"));
        for (i, ((h, _), (on_disk, served))) in self.hosts.iter().zip(&states).enumerate() {
            assert_eq!(*on_disk, NEW, "{when}: {h} after the next run");
            let result = done.host(h)["result"].clone();
            assert!(
                result == "upgraded" || result == "unchanged",
                "{when}: {h}: {result}: {}",
                done.describe()
            );
            // Killed between its swap and its restart, a host has the new binary while the old
            // process still serves: the next run sees the dead run's lock and does the restart
            // and health check that run did not get to.
            assert_eq!(
                served, NEW,
                "{when}: {h} serves {served} after the next run"
            );
            if after[i].0 == NEW && after[i].1 != NEW {
                assert_eq!(
                    result,
                    "upgraded",
                    "{when}: {h} was left unrestarted and must be restarted: {}",
                    done.describe()
                );
                eprintln!("{when}: {h}: restart cut off by the kill, done by the next run");
            }
        }
        let left = self.leftovers();
        assert!(left.is_empty(), "{when}: left after the next run: {left:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// A running fleetup: its jsonl events as they come, its stderr.

struct Running {
    child: Child,
    events: Receiver<Value>,
    seen: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

struct Done {
    status: ExitStatus,
    events: Vec<Value>,
    stderr: String,
    /// From the signal to the exit.
    exited_after: Duration,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd.spawn().expect("spawn fleetup");
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let keep = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                keep.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Running {
            child,
            events,
            seen: Vec::new(),
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the `n`th event that `pred` accepts; false when the run ended (or `timeout`
    /// passed) first.
    fn wait_for(&mut self, n: usize, timeout: Duration, pred: impl Fn(&Value) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut count = self.seen.iter().filter(|v| pred(v)).count();
        while count < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) => {
                    if pred(&v) {
                        count += 1;
                    }
                    self.seen.push(v);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return false,
            }
        }
        true
    }

    /// Takes every event already written, until none came for `quiet` (for a stopped run:
    /// what it printed before the signal landed).
    fn drain(&mut self, quiet: Duration) {
        while let Ok(v) = self.events.recv_timeout(quiet) {
            self.seen.push(v);
        }
    }

    fn signal(&self, sig: &str) {
        let out = run(Command::new("kill").args([&format!("-{sig}"), &self.pid().to_string()]));
        assert!(out.status.success(), "kill -{sig}: {}", describe(&out));
    }

    /// Waits for the exit (killing it past `timeout`), with every event.
    fn finish(mut self, timeout: Duration) -> Done {
        let from = Instant::now();
        let deadline = from + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let s = self.child.wait().unwrap();
                panic!(
                    "fleetup did not end within {timeout:?}; killed: {s:?}\n{}",
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let exited_after = from.elapsed();
        // The reader ends with the pipe.
        while let Ok(v) = self.events.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(v);
        }
        std::thread::sleep(Duration::from_millis(50));
        Done {
            status,
            events: self.seen,
            stderr: self.stderr.lock().unwrap().clone(),
            exited_after,
        }
    }
}

fn is_step(step: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["event"] == "step" && v["step"] == step
}

fn is_event(kind: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["event"] == kind
}

impl Done {
    fn describe(&self) -> String {
        let events: Vec<String> = self.events.iter().map(Value::to_string).collect();
        format!(
            "exit {:?}\n--- events\n{}\n--- stderr\n{}",
            self.status.code(),
            events.join("\n"),
            self.stderr
        )
    }

    fn host(&self, host: &str) -> &Value {
        self.events
            .iter()
            .find(|v| v["event"] == "host" && v["host"] == host)
            .unwrap_or_else(|| panic!("no host line for {host}: {}", self.describe()))
    }

    fn summary(&self) -> &Value {
        let last = self.events.last().unwrap_or(&Value::Null);
        assert_eq!(
            last["event"],
            "summary",
            "the last line: {}",
            self.describe()
        );
        last
    }

    /// Hosts whose step `step` was reported.
    fn did(&self, step: &str) -> Vec<String> {
        self.events
            .iter()
            .filter(|v| v["event"] == "step" && v["step"] == step)
            .map(|v| v["host"].as_str().unwrap().to_owned())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The seed and the kill points.

/// splitmix64: a small, good enough generator for choosing kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    let seed = std::env::var("FLEETUP_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("faults_kill: seed {seed} (FLEETUP_FAULT_SEED={seed} replays these kill points)");
    seed
}

/// Where to kill: after the `nth` event of a kind, then `delay_ms` more.
#[derive(Debug, Clone, Copy)]
struct Point {
    /// `probe`: hosts are being probed; `lock`: uploads in flight; `stage`: swaps; `swap`:
    /// restarts and health checks; `host`: some hosts done, others in flight.
    after: &'static str,
    nth: usize,
    delay_ms: u64,
}

fn points(rng: &mut Rng) -> Vec<Point> {
    ["probe", "lock", "stage", "swap", "host", "lock"]
        .into_iter()
        .map(|after| Point {
            after,
            nth: 1 + rng.below(HOSTS as u64 - 1) as usize,
            delay_ms: rng.below(400),
        })
        .collect()
}

/// Waits for `p` in `r`; false when the run ended first.
fn reach(r: &mut Running, p: Point) -> bool {
    let ok = match p.after {
        "host" => r.wait_for(p.nth, Duration::from_secs(120), is_event("host")),
        step => r.wait_for(p.nth, Duration::from_secs(120), move |v| {
            v["event"] == "step" && v["step"] == step
        }),
    };
    std::thread::sleep(Duration::from_millis(p.delay_ms));
    ok
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// SIGKILL at points drawn from the seed: probing, uploading, swapping, restarting, some hosts
/// done. Every host stays whole and serving; the next run cleans up and finishes.
#[test]
fn lab_controller_killed_at_random_points_leaves_every_host_whole() {
    let mut rng = Rng(seed());
    let fleet = Fleet::start();
    for p in points(&mut rng) {
        let when = format!("SIGKILL after {} #{} + {} ms", p.after, p.nth, p.delay_ms);
        fleet.reset();
        let mut r = fleet.spawn(&["--forks", "2", "--output", "jsonl", "upgrade"]);
        let reached = reach(&mut r, p);
        r.signal("KILL");
        let killed = r.finish(Duration::from_secs(30));
        assert!(
            reached || killed.status.code() == Some(0),
            "{when}: the point was not reached: {}",
            killed.describe()
        );
        // Past the last hosts' point (`host #5` of 6, plus the delay) a loaded machine may
        // finish the run before the signal lands: then there is nothing torn to look for, but
        // every host must be whole and new all the same.
        if killed.status.code() != Some(0) {
            assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&killed.status),
                Some(9),
                "{when}: {}",
                killed.describe()
            );
        } else {
            eprintln!("{when}: the run finished before the signal landed");
        }
        let after = fleet.assert_intact(&when);
        // The remote commands of the killed run wind down on their own (a stage script sees
        // its stdin end); what they leave is the next run's to clean.
        std::thread::sleep(Duration::from_secs(1));
        let swapped = killed.did("swap");
        for ((h, _), (on_disk, _)) in fleet.hosts.iter().zip(&after) {
            if swapped.contains(h) {
                assert_eq!(*on_disk, NEW, "{when}: {h} reported its swap");
            }
        }
        eprintln!(
            "{when}: on disk {:?}, left behind {:?}",
            after.iter().map(|a| a.0).collect::<Vec<_>>(),
            fleet.leftovers()
        );
        fleet.assert_next_run_finishes(&when, &after);
    }
}

/// SIGINT during the uploads: hosts not started are skipped, hosts uploading are stopped
/// (temp file removed, lock released), the report says "interrupted", exit 130 — and nothing
/// is left on any host, at once.
#[test]
fn lab_sigint_during_uploads_stops_cleanly_with_exit_130() {
    let fleet = Fleet::start();
    fleet.reset();
    let mut r = fleet.spawn(&["--forks", "2", "--output", "jsonl", "upgrade"]);
    assert!(r.wait_for(2, Duration::from_secs(120), is_step("lock")));
    std::thread::sleep(Duration::from_millis(100));
    r.signal("INT");
    let done = r.finish(Duration::from_secs(120));
    eprintln!("SIGINT: exited {:?} after the signal", done.exited_after);
    assert_eq!(done.status.code(), Some(130), "{}", done.describe());
    let stopped = done
        .events
        .iter()
        .find(|v| v["event"] == "stopped")
        .unwrap_or_else(|| panic!("no stopped event: {}", done.describe()));
    assert!(
        stopped["reason"]
            .as_str()
            .unwrap()
            .starts_with("interrupted by SIGINT"),
        "{stopped}"
    );
    let summary = done.summary();
    assert_eq!(summary["exit_code"], 130);
    assert!(
        summary["stopped"]
            .as_str()
            .unwrap()
            .contains("interrupted by SIGINT")
    );
    assert!(
        done.stderr.contains("fleetup: interrupted by SIGINT"),
        "the operator is told at once: {}",
        done.stderr
    );
    let mut results = Vec::new();
    for (h, _) in &fleet.hosts {
        let rep = done.host(h);
        let result = rep["result"].as_str().unwrap().to_owned();
        match result.as_str() {
            "upgraded" => {}
            "skipped" | "failed" => {
                let why = rep["error"].as_str().unwrap_or_default();
                assert!(why.contains("interrupted by SIGINT"), "{h}: {rep}");
            }
            other => panic!("{h}: {other}: {}", done.describe()),
        }
        results.push(result);
    }
    assert!(
        results.iter().filter(|r| *r == "skipped").count() >= 2,
        "hosts not started are skipped: {results:?}"
    );
    // A clean stop: nothing to clear, right away.
    assert_eq!(
        fleet.leftovers(),
        Vec::<String>::new(),
        "{}",
        done.describe()
    );
    let after = fleet.assert_intact("after SIGINT");
    for ((h, _), ((on_disk, served), result)) in fleet.hosts.iter().zip(after.iter().zip(&results))
    {
        let want = if result == "upgraded" { NEW } else { OLD };
        assert_eq!((*on_disk, served.as_str()), (want, want), "{h}: {result}");
    }
    fleet.assert_next_run_finishes("after SIGINT", &after);
}

/// SIGHUP (the controller's terminal or SSH session went away) stops the run as SIGTERM does,
/// instead of killing it between two steps: exit 129, a complete report, nothing left behind.
#[test]
fn lab_sighup_stops_cleanly_with_exit_129() {
    let fleet = Fleet::start();
    fleet.reset();
    let mut r = fleet.spawn(&[
        "--forks",
        "2",
        "--no-progress",
        "--output",
        "jsonl",
        "upgrade",
    ]);
    assert!(r.wait_for(1, Duration::from_secs(120), is_step("lock")));
    r.signal("HUP");
    let done = r.finish(Duration::from_secs(120));
    assert_eq!(done.status.code(), Some(129), "{}", done.describe());
    assert_eq!(done.summary()["exit_code"], 129);
    assert!(
        done.stderr.contains("stopped: interrupted by SIGHUP"),
        "{}",
        done.describe()
    );
    assert_eq!(fleet.leftovers(), Vec::<String>::new());
    fleet.assert_intact("after SIGHUP");
}

/// SIGTERM while hosts restart: those past their swap finish (restart, health check), the
/// others stop; exit 143. Plain lines and the text report say "interrupted".
#[test]
fn lab_sigterm_after_swaps_finishes_those_hosts_and_exits_143() {
    let fleet = Fleet::start();
    fleet.reset();
    let mut r = fleet.spawn(&[
        "--forks",
        "2",
        "--no-progress",
        "--output",
        "jsonl",
        "upgrade",
    ]);
    assert!(r.wait_for(2, Duration::from_secs(120), is_step("swap")));
    let swapped: Vec<String> = r
        .seen
        .iter()
        .filter(|v| v["event"] == "step" && v["step"] == "swap")
        .map(|v| v["host"].as_str().unwrap().to_owned())
        .collect();
    r.signal("TERM");
    let done = r.finish(Duration::from_secs(120));
    assert_eq!(done.status.code(), Some(143), "{}", done.describe());
    assert_eq!(done.summary()["exit_code"], 143);
    for h in &swapped {
        assert_eq!(
            done.host(h)["result"],
            "upgraded",
            "{h} was past its swap: it is finished: {}",
            done.describe()
        );
    }
    assert!(
        done.stderr.contains("stopped: interrupted by SIGTERM"),
        "the plain lines say it: {}",
        done.stderr
    );
    assert_eq!(fleet.leftovers(), Vec::<String>::new());
    let after = fleet.assert_intact("after SIGTERM");
    for ((h, _), (on_disk, served)) in fleet.hosts.iter().zip(&after) {
        if swapped.contains(h) {
            assert_eq!((*on_disk, served.as_str()), (NEW, NEW), "{h}");
        }
    }

    // The text report, too.
    fleet.reset();
    let r = fleet.spawn(&["--forks", "2", "--no-progress", "upgrade"]);
    // Plain lines go to stderr: wait for the first lock there.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !r.stderr.lock().unwrap().contains(" lock ok:") {
        assert!(
            Instant::now() < deadline,
            "no lock line: {}",
            r.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    r.signal("INT");
    let done = r.finish(Duration::from_secs(120));
    assert_eq!(done.status.code(), Some(130), "{}", done.describe());
    let report: Vec<String> = done
        .events
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect();
    let report = report.join("\n");
    assert!(
        report.contains("stopped: interrupted by SIGINT"),
        "the text report: {report}"
    );
    assert!(report.contains("(exit 130)"), "{report}");
    assert_eq!(fleet.leftovers(), Vec::<String>::new());
    let after = fleet.assert_intact("after SIGINT, text report");
    fleet.assert_next_run_finishes("after SIGINT, text report", &after);
}

/// A second SIGINT exits at once; whatever the hosts were left with, the next run clears.
#[test]
fn lab_second_sigint_exits_at_once_and_the_next_run_cleans_up() {
    let fleet = Fleet::start();
    fleet.reset();
    let mut r = fleet.spawn(&["--forks", "3", "--output", "jsonl", "upgrade"]);
    assert!(r.wait_for(3, Duration::from_secs(120), is_step("lock")));
    r.signal("INT");
    std::thread::sleep(Duration::from_millis(30));
    r.signal("INT");
    let done = r.finish(Duration::from_secs(60));
    assert_eq!(done.status.code(), Some(130), "{}", done.describe());
    assert!(
        done.exited_after < Duration::from_secs(5),
        "at once: {:?}",
        done.exited_after
    );
    assert!(
        done.stderr.contains("SIGINT again: exiting at once"),
        "{}",
        done.stderr
    );
    let after = fleet.assert_intact("after two SIGINTs");
    eprintln!("after two SIGINTs: left behind {:?}", fleet.leftovers());
    fleet.assert_next_run_finishes("after two SIGINTs", &after);
}

/// Two runs on the same hosts. First made to meet: run A holds the locks of the hosts it is
/// uploading to (it is stopped there with SIGSTOP) while run B goes: B fails exactly those
/// hosts at the lock step, naming A; B upgrades the others; A, continued, finishes its own
/// and refuses the hosts B changed under it. Then both started at once. Every host ends on
/// the new release, upgraded once (one backup), intact, nothing left.
#[test]
fn lab_two_runs_at_once_never_corrupt_a_host() {
    let fleet = Fleet::start();
    fleet.reset();
    let mut a = fleet.spawn(&["--forks", "2", "--output", "jsonl", "upgrade"]);
    assert!(a.wait_for(2, Duration::from_secs(120), is_step("lock")));
    a.signal("STOP");
    // On a loaded machine A may have got past a host's swap before the signal landed: only
    // the hosts it stopped on before their swap still hold a lock B must meet.
    a.drain(Duration::from_millis(500));
    let past_swap = |h: &str| {
        a.seen.iter().any(|v| {
            v["host"] == h
                && (v["event"] == "host" || (v["event"] == "step" && v["step"] == "swap"))
        })
    };
    let held: Vec<String> = a
        .seen
        .iter()
        .filter(|v| v["event"] == "step" && v["step"] == "lock")
        .map(|v| v["host"].as_str().unwrap().to_owned())
        .filter(|h| !past_swap(h))
        .collect();
    assert!(!held.is_empty(), "A stopped holding no lock: {:?}", a.seen);
    let b = fleet
        .spawn(&["--forks", "6", "--output", "jsonl", "upgrade"])
        .finish(Duration::from_secs(300));
    a.signal("CONT");
    let a_pid = a.pid();
    let a = a.finish(Duration::from_secs(300));
    assert_eq!(b.status.code(), Some(1), "{}", b.describe());
    for h in &held {
        let rep = b.host(h);
        assert_eq!(rep["result"], "failed", "{h}: {rep}");
        assert_eq!(rep["failure"]["step"], "lock", "{h}: {rep}");
        let msg = rep["failure"]["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!(
                "{h} is being upgraded by another fleetup run (run "
            )) && msg.contains(&format!(" pid {a_pid}, lock taken ")),
            "{h}: the holder is named: {msg}"
        );
        assert_eq!(a.host(h)["result"], "upgraded", "{}", a.describe());
    }
    assert_runs_upgraded_each_host_once(&fleet, &[&a, &b], "A stopped while B ran");

    fleet.reset();
    let one = fleet.spawn(&["--forks", "3", "--output", "jsonl", "upgrade"]);
    let two = fleet.spawn(&["--forks", "3", "--output", "jsonl", "upgrade"]);
    let (one, two) = (
        one.finish(Duration::from_secs(300)),
        two.finish(Duration::from_secs(300)),
    );
    for d in [&one, &two] {
        assert!(matches!(d.status.code(), Some(0 | 1)), "{}", d.describe());
    }
    assert_runs_upgraded_each_host_once(&fleet, &[&one, &two], "both at once");
}

fn assert_runs_upgraded_each_host_once(fleet: &Fleet, runs: &[&Done], when: &str) {
    for (h, _) in &fleet.hosts {
        let results: Vec<String> = runs
            .iter()
            .map(|d| d.host(h)["result"].as_str().unwrap().to_owned())
            .collect();
        let why: Vec<String> = runs
            .iter()
            .map(|d| {
                let m = d.host(h)["failure"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                m.lines().next().unwrap_or("").chars().take(100).collect()
            })
            .collect();
        eprintln!("{when}: {h}: {results:?} {why:?}");
        assert_eq!(
            results.iter().filter(|r| *r == "upgraded").count(),
            1,
            "{when}: {h} upgraded once: {results:?}"
        );
        for (d, r) in runs.iter().zip(&results) {
            if r == "failed" {
                let step = d.host(h)["failure"]["step"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                assert!(
                    step == "lock" || step == "swap",
                    "{when}: {h} failed at {step}: {}",
                    d.describe()
                );
            } else {
                assert!(r == "upgraded" || r == "unchanged", "{when}: {h}: {r}");
            }
        }
        let backups = fleet.backups(h);
        assert_eq!(
            backups.len(),
            1,
            "{when}: {h}: one swap, one backup: {backups:?}"
        );
        assert!(
            backups[0].starts_with(&format!("{NAME}.fleetup-bak-{OLD}-")),
            "{backups:?}"
        );
    }
    let after = fleet.assert_intact(when);
    for ((h, _), (on_disk, served)) in fleet.hosts.iter().zip(&after) {
        assert_eq!((*on_disk, served.as_str()), (NEW, NEW), "{when}: {h}");
    }
    assert_eq!(fleet.leftovers(), Vec::<String>::new(), "{when}");
}
