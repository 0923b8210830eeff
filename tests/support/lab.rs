//! The lab: real OpenSSH servers on loopback, for tests.
//!
//! [`Lab::start`] runs `scripts/lab up` in a directory of its own under `target/lab-tests/` and
//! on an address block `127.0.B.0/24` of its own; dropping the [`Lab`] runs `scripts/lab down`
//! (also when the test panics). Every host is a real `sshd` in its own mount namespace with its
//! own `/opt` (`DIR/hosts/hostNNN/opt` on this machine). See `docs/lab.md`.
//!
//! Address blocks: a process-wide counter (mixed with the pid) picks the first block to try, and
//! `scripts/lab up` claims blocks atomically in a machine-wide registry (`/run/fleetup-lab`), so
//! labs of parallel tests — in this process or in another test process — never share a host. A
//! claimed block makes the script exit 75 and the next block is tried.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{describe, repo, require_root, require_tool, run};

/// Blocks `127.0.B.0/24` tests may use; `127.0.1`–`127.0.63` stay free for labs started by
/// hand (`scripts/lab up` defaults to `127.0.1`).
const FIRST_BLOCK: u32 = 64;
const LAST_BLOCK: u32 = 255;
/// Exit code of `scripts/lab up` when an address block belongs to another lab.
const EXIT_BLOCK_BUSY: i32 = 75;

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// One host of a lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Inventory name, `host001` …
    pub name: String,
    /// Loopback address its sshd listens on (port 22).
    pub addr: String,
}

/// A running lab; dropping it stops every process of it.
#[derive(Debug)]
pub struct Lab {
    dir: PathBuf,
    hosts: Vec<Host>,
    started_in: Duration,
    running: bool,
}

/// `scripts/lab` as a command, run from the repository root.
pub fn script() -> Command {
    let mut cmd = Command::new(repo().join("scripts/lab"));
    cmd.current_dir(repo()).stdin(Stdio::null());
    cmd
}

/// Stops every lab on this machine whose owner process is gone (e.g. a test run killed with
/// `kill -9`).
pub fn reap() {
    let out = run(script().arg("reap"));
    assert!(
        out.status.success(),
        "scripts/lab reap failed: {}",
        describe(&out)
    );
}

impl Lab {
    /// Starts a lab of `n` hosts owned by this test process. Fails the test (never skips) when
    /// root or a tool is missing, or when a host does not come up.
    pub fn start(n: usize) -> Lab {
        Lab::start_owned_by(n, std::process::id())
    }

    /// Like [`Lab::start`], with another process as the owner: `scripts/lab reap` stops the lab
    /// once that process is gone.
    pub fn start_owned_by(n: usize, owner: u32) -> Lab {
        assert!(n >= 1, "a lab needs at least one host");
        require_root();
        require_tool("sshd", "apt-get install openssh-server");
        require_tool("ssh", "apt-get install openssh-client");
        require_tool("ssh-keygen", "apt-get install openssh-client");
        require_tool("unshare", "apt-get install util-linux");
        require_tool("flock", "apt-get install util-linux");
        require_tool("ss", "apt-get install iproute2");
        require_tool("pgrep", "apt-get install procps");
        reap();

        let seq = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let thread = std::thread::current();
        let label: String = thread
            .name()
            .unwrap_or("lab")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let dir = repo()
            .join("target/lab-tests")
            .join(format!("{label}-{pid}-{seq}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("cannot clear {dir:?}: {e}"));
        }

        let blocks = u32::try_from(n.div_ceil(254)).expect("host count");
        let span = LAST_BLOCK - FIRST_BLOCK + 1;
        assert!(
            blocks <= span,
            "{n} hosts do not fit in the test address range"
        );
        // Spread the first choice by pid so two test processes rarely try the same block.
        let first = (pid.wrapping_mul(31) + seq.wrapping_mul(7)) % span;
        let mut busy = Vec::new();
        for attempt in 0..span {
            let block = FIRST_BLOCK + (first + attempt) % span;
            if block + blocks - 1 > LAST_BLOCK {
                continue;
            }
            let net = format!("127.0.{block}");
            let started = Instant::now();
            let out = run(script()
                .args(["up", &n.to_string(), "--net", &net, "--timeout", "120"])
                .arg("--dir")
                .arg(&dir)
                .args(["--owner", &owner.to_string()]));
            let started_in = started.elapsed();
            match out.status.code() {
                Some(0) => {
                    let hosts = read_hosts(&dir);
                    assert_eq!(hosts.len(), n, "{}", describe(&out));
                    return Lab {
                        dir,
                        hosts,
                        started_in,
                        running: true,
                    };
                }
                Some(EXIT_BLOCK_BUSY) => busy.push(net),
                _ => panic!(
                    "scripts/lab up {n} --net {net} --dir {dir:?}: {}",
                    describe(&out)
                ),
            }
        }
        panic!(
            "no free address block for {n} hosts between 127.0.{FIRST_BLOCK} and 127.0.{LAST_BLOCK}; busy: {busy:?}"
        )
    }

    /// The lab directory (`DIR` of `scripts/lab`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The Ansible YAML inventory of the lab (group `lab`).
    pub fn inventory(&self) -> PathBuf {
        self.dir.join("inventory.yml")
    }

    /// A known_hosts file with a plain entry (address, host key) per host.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// The same entries, hashed by `ssh-keygen -H`.
    pub fn known_hosts_hashed(&self) -> PathBuf {
        self.dir.join("known_hosts.hashed")
    }

    /// The client private key every host accepts for root.
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    /// Every host, in order: `host001`, `host002`, …
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The host named `name_or_addr` (`host001`) or listening on that address.
    pub fn host(&self, name_or_addr: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name_or_addr || h.addr == name_or_addr)
            .unwrap_or_else(|| panic!("no host {name_or_addr} in the lab {:?}", self.dir))
    }

    /// The directory this machine sees as `/opt` of the host.
    pub fn opt_dir(&self, host: &str) -> PathBuf {
        self.dir
            .join("hosts")
            .join(&self.host(host).name)
            .join("opt")
    }

    /// How long `scripts/lab up` took.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The pids of the hosts' sshd listeners.
    pub fn pids(&self) -> Vec<u32> {
        read_words(&self.dir.join("run/pids"))
            .iter()
            .map(|w| w[0].parse().expect("pid in run/pids"))
            .collect()
    }

    /// The mount namespaces of the hosts (`mnt:[…]`), one per host, as recorded by `up`. Only
    /// meaningful while the lab runs: the kernel reuses the ids of freed namespaces.
    pub fn namespaces(&self) -> Vec<String> {
        read_words(&self.dir.join("run/mntns"))
            .into_iter()
            .map(|mut w| w.remove(1))
            .collect()
    }

    /// A snapshot of what identifies this lab's processes, to check after the lab is gone.
    pub fn traces(&self) -> Traces {
        Traces {
            dir: self.dir.clone(),
            pids: self.pids(),
            namespaces: self.namespaces(),
        }
    }

    /// OpenSSH's client, ready to run a command on `host` as root: batch mode, the lab's key,
    /// `known_hosts` as the only known-hosts file, strict host key checking, no user config.
    /// Append the remote command with `.arg(…)`.
    pub fn ssh_command(&self, host: &str, known_hosts: &Path) -> Command {
        let host = self.host(host);
        let mut cmd = Command::new("ssh");
        cmd.stdin(Stdio::null())
            .args(["-F", "/dev/null", "-p", "22", "-i"])
            .arg(self.client_key())
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "UpdateHostKeys=no",
            ])
            .args(["-o", "ConnectTimeout=30"])
            .arg(format!("root@{}", host.addr))
            .arg("--");
        cmd
    }

    /// Runs `command` on `host` (name or address) over SSH with the lab's known_hosts.
    pub fn ssh(&self, host: &str, command: &str) -> Output {
        run(self.ssh_command(host, &self.known_hosts()).arg(command))
    }

    /// Stops the lab now and returns how long `scripts/lab down` took.
    pub fn stop(mut self) -> Duration {
        let started = Instant::now();
        let out = self.down();
        assert!(
            out.status.success(),
            "scripts/lab down failed: {}",
            describe(&out)
        );
        started.elapsed()
    }

    fn down(&mut self) -> Output {
        self.running = false;
        run(script().args(["down", "--dir"]).arg(&self.dir))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.running {
            let out = self.down();
            if !out.status.success() {
                let msg = format!(
                    "scripts/lab down --dir {:?} failed: {}",
                    self.dir,
                    describe(&out)
                );
                if std::thread::panicking() {
                    eprintln!("{msg}");
                } else {
                    panic!("{msg}");
                }
            }
        }
        // Keep the directory (logs, /opt of every host) when the test failed.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// What identifies a lab's processes: its directory and sshd pids.
#[derive(Debug, Clone)]
pub struct Traces {
    pub dir: PathBuf,
    pub pids: Vec<u32>,
    pub namespaces: Vec<String>,
}

impl Traces {
    /// Every process still alive that belongs to the lab, described: a recorded sshd pid still
    /// running with the lab directory in its command line, a process whose command line names
    /// the lab directory (`pgrep -f`), or a process whose `/opt` is one of the lab's host
    /// directories and any process sharing its mount namespace. Empty once the lab is gone.
    ///
    /// Namespace ids recorded while the lab ran are not used: the kernel hands a freed mount
    /// namespace's id to the next namespace created, often another lab's host.
    pub fn remaining(&self) -> Vec<String> {
        let mut left = Vec::new();
        let dir = self.dir.to_string_lossy().into_owned();
        for pid in &self.pids {
            if let Some(cmdline) = live_cmdline(*pid)
                && cmdline.contains(&dir)
            {
                left.push(format!("recorded sshd {pid}: {cmdline}"));
            }
        }
        let out = run(Command::new("pgrep")
            .args(["-a", "-f", "--"])
            .arg(format!("{dir}/")));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            left.push(format!("pgrep -f {dir}/: {line}"));
        }

        // One pass over /proc: each process's mount namespace, and whether its /opt is bound
        // from DIR/hosts/hostNNN/opt (mountinfo's root field ends with `<dir name>/hosts/…`).
        let base = self
            .dir
            .file_name()
            .expect("lab dir name")
            .to_string_lossy()
            .into_owned();
        let marker = format!("/{base}/hosts/");
        let own_ns = std::fs::read_link("/proc/self/ns/mnt").ok();
        let mut procs = Vec::new();
        let mut ours = std::collections::HashSet::new();
        for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(ns) = std::fs::read_link(entry.path().join("ns/mnt")) else {
                continue;
            };
            let bound_here = std::fs::read_to_string(entry.path().join("mountinfo"))
                .unwrap_or_default()
                .lines()
                .any(|l| {
                    let f: Vec<&str> = l.split(' ').collect();
                    f.len() > 4
                        && f[4] == "/opt"
                        && f[3].trim_end_matches("//deleted").contains(&marker)
                        && f[3].trim_end_matches("//deleted").ends_with("/opt")
                });
            if bound_here && Some(&ns) != own_ns.as_ref() {
                ours.insert(ns.clone());
            }
            procs.push((pid, ns));
        }
        for (pid, ns) in procs {
            if ours.contains(&ns)
                && let Some(cmd) = live_cmdline(pid)
            {
                left.push(format!(
                    "pid {pid} in a host namespace {}: {cmd}",
                    ns.display()
                ));
            }
        }
        left
    }

    /// Waits up to `timeout` for [`Traces::remaining`] to become empty; returns what is left.
    pub fn remaining_after(&self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = self.remaining();
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The command line of a process that runs (not a zombie), or `None`.
fn live_cmdline(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit_once(") ")?.1.chars().next()?;
    if state == 'Z' {
        return None;
    }
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        String::from_utf8_lossy(&raw)
            .replace('\0', " ")
            .trim_end()
            .to_owned(),
    )
}

fn read_words(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

fn read_hosts(dir: &Path) -> Vec<Host> {
    read_words(&dir.join("hosts.txt"))
        .into_iter()
        .map(|w| Host {
            name: w[0].clone(),
            addr: w[1].clone(),
        })
        .collect()
}
