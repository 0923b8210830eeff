//! The demo service on lab hosts (`examples/demo-service`): its releases and their channel, the
//! unprivileged user it runs as, the restart command that starts it on a host's port 80, its
//! processes, and `GET /` on it. Shared by tests/fleet_service.rs, tests/faults_kill.rs and
//! tests/faults_net.rs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{describe, fleetup, repo, require_root, require_tool, run};

/// Where the service lives on every host, and its directory.
pub const BIN: &str = "/opt/demo/demo-service";
pub const DIR: &str = "/opt/demo";
/// Its file name (and its product name on the channel).
pub const NAME: &str = "demo-service";
/// The unprivileged user it runs as.
pub const USER: &str = "fleetup-demo";

/// Fails the test unless it runs as root with what the service needs: `setcap`/`getcap`,
/// `setpriv` and `curl`.
pub fn require_service_tools() {
    require_root();
    for tool in ["setcap", "getcap"] {
        require_tool(tool, "apt-get install libcap2-bin");
    }
    require_tool("setpriv", "apt-get install util-linux");
    require_tool("curl", "apt-get install curl");
}

/// Fails the test when any user may bind port 80 here: then it could not tell whether the
/// capability matters.
pub fn require_port_80_privileged() {
    let unprivileged_start: u32 =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    assert!(
        unprivileged_start > 80,
        "net.ipv4.ip_unprivileged_port_start is {unprivileged_start}: any user may bind port 80 \
         here, so this test could not tell whether the capability matters"
    );
}

/// The compiled `examples/demo-service` (built here: `cargo test --test main` does not build
/// examples), once per test process.
pub fn demo_service_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let profile_dir = Path::new(env!("CARGO_BIN_EXE_fleetup")).parent().unwrap();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(repo())
            .args(["build", "--quiet", "--example", "demo-service"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let out = run(&mut cmd);
        assert!(
            out.status.success(),
            "cargo build --example demo-service: {}",
            describe(&out)
        );
        let exe = profile_dir.join("examples/demo-service");
        assert!(exe.is_file(), "{exe:?} was not built");
        exe
    })
}

/// What a release carries between the program and its version trailer.
#[derive(Debug, Clone, Copy)]
pub enum Padding {
    /// Nothing.
    None,
    /// This many zero bytes (an upload, and the hashing on the host, take time).
    Zeros(usize),
    /// Copies of the program up to this total size — real machine code, as compressible as a
    /// binary is.
    CopiesUpTo(usize),
}

/// Release `version` of the demo service: the program, `padding`, then the trailer it reads
/// from its own end (with `broken`, one that makes it exit at start).
pub fn release_bytes(version: &str, padding: Padding, broken: bool) -> Vec<u8> {
    let exe = std::fs::read(demo_service_exe()).unwrap();
    let fail = if broken { "FLEETUP_DEMO_FAIL=1\n" } else { "" };
    let trailer = format!("\n{fail}FLEETUP_DEMO_VERSION={version}\n");
    let mut bytes = exe.clone();
    match padding {
        Padding::None => {}
        Padding::Zeros(n) => bytes.resize(bytes.len() + n, 0),
        Padding::CopiesUpTo(size) => {
            while bytes.len() + trailer.len() < size {
                let room = size - trailer.len() - bytes.len();
                bytes.extend_from_slice(&exe[..room.min(exe.len())]);
            }
        }
    }
    bytes.extend_from_slice(trailer.as_bytes());
    bytes
}

/// `fleetup release …` in `dir`, which must succeed.
pub fn release_cmd(dir: &Path, args: &[&str]) {
    let out = run(fleetup().current_dir(dir).arg("release").args(args));
    assert!(
        out.status.success(),
        "fleetup release {args:?}: {}",
        describe(&out)
    );
}

/// A channel in `dir/releases` signed by a fresh key in `dir` (`k.key`); returns the public
/// key's path.
pub fn new_channel(dir: &Path) -> PathBuf {
    release_cmd(dir, &["keygen", "-p", "k.pub", "-s", "k.key", "-W"]);
    dir.join("k.pub")
}

/// Publishes `bytes` as `version` of the demo service for this machine's os/arch on the channel
/// in `dir` (see [`new_channel`]).
pub fn publish(dir: &Path, version: &str, bytes: &[u8]) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let file = dir.join(format!("build-{version}"));
    std::fs::write(&file, bytes).unwrap();
    let artifact = format!("linux/{arch}={}", file.display());
    release_cmd(
        dir,
        &[
            "publish",
            "--dir",
            "releases",
            "--product",
            NAME,
            "--version",
            version,
            "-s",
            "k.key",
            &artifact,
        ],
    );
}

/// `id FLAG USER` as a number.
pub fn id(flag: &str, user: &str) -> u32 {
    let out = run(Command::new("id").args([flag, user]));
    assert!(out.status.success(), "id {flag} {user}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Runs `useradd ARGS` unless `user` exists; retried while another test holds the passwd lock.
pub fn ensure_user(user: &str, args: &[&str]) {
    for _ in 0..100 {
        if run(Command::new("id").arg(user)).status.success() {
            return;
        }
        let out = run(Command::new("useradd").args(args).arg(user));
        // 0 created, 9 created meanwhile by another test, 10 passwd busy: try again.
        match out.status.code() {
            Some(0 | 9) => return,
            Some(10) => std::thread::sleep(Duration::from_millis(100)),
            _ => panic!("useradd {user}: {}", describe(&out)),
        }
    }
    panic!("useradd {user}: /etc/passwd stayed locked");
}

/// Creates the system user `fleetup-demo` when missing; returns its uid and gid.
pub fn service_user() -> (u32, u32) {
    ensure_user(USER, &["--system", "--no-create-home"]);
    let (uid, gid) = (id("-u", USER), id("-g", USER));
    assert_ne!(uid, 0, "{USER} must not be root");
    (uid, gid)
}

/// Installs `bytes` at `bin` as a package would: root-owned, 0755, allowed to bind low ports
/// (`cap_net_bind_service`).
pub fn install_as_package(bin: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::write(bin, bytes).unwrap();
    std::fs::set_permissions(bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = run(Command::new("setcap")
        .arg("cap_net_bind_service=+ep")
        .arg(bin));
    assert!(out.status.success(), "setcap: {}", describe(&out));
}

/// The restart command for the host at `addr`, run with `sh -c` on the host (as root, over
/// SSH). It stops this host's instance only (lab hosts share the machine's process table: the
/// pid file is under the host's own /opt), starts the binary detached as `uid`:`gid` on
/// `addr:80`, and returns once it answers — or fails with the service's log once it exits or
/// after `start_secs` without an answer. With `hang_on` (`(version, seconds)`), it first hangs
/// (`sleep SECONDS`) when the binary in place is that version.
///
/// `setpriv` execs the binary in place, so the pid file names the service itself (`runuser`
/// would stay as its parent). Dropping root clears every capability: only the file's
/// `cap_net_bind_service` lets it bind port 80.
pub fn restart_command(
    addr: &str,
    uid: u32,
    gid: u32,
    start_secs: u32,
    hang_on: Option<(&str, &str)>,
) -> String {
    restart_command_for(BIN, addr, uid, gid, start_secs, hang_on)
}

/// [`restart_command`] for the service installed at `bin` (its pid file and log beside it).
pub fn restart_command_for(
    bin: &str,
    addr: &str,
    uid: u32,
    gid: u32,
    start_secs: u32,
    hang_on: Option<(&str, &str)>,
) -> String {
    let dir = Path::new(bin).parent().unwrap().display().to_string();
    let hang = hang_on.map_or_else(String::new, |(v, seconds)| {
        format!(
            "if {bin} --version 2>/dev/null | grep -qx 'demo-service {v}'; then exec sleep {seconds}; fi\n"
        )
    });
    let tries = start_secs * 10;
    format!(
        r#"set -u
{hang}d={dir}
alive() {{ s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; case "$s" in ''|Z*) return 1;; esac; }}
if [ -s "$d/pid" ]; then
  old=$(cat "$d/pid")
  kill "$old" 2>/dev/null
  n=0
  while alive "$old"; do
    n=$((n + 1)); [ "$n" -gt 100 ] && {{ echo "old instance $old still running" >&2; exit 1; }}
    sleep 0.1
  done
fi
rm -f "$d/pid"
setsid -f sh -c 'echo $$ > {dir}/pid && exec setpriv --reuid={uid} --regid={gid} --init-groups -- {bin} {addr}:80' </dev/null >"$d/log" 2>&1
n=0
while :; do
  if curl -s -o /dev/null --max-time 1 http://{addr}:80/; then echo "started, pid $(cat "$d/pid")"; exit 0; fi
  pid=$(cat "$d/pid" 2>/dev/null || true)
  if [ -n "$pid" ] && ! alive "$pid"; then echo "demo-service exited at start:" >&2; cat "$d/log" >&2; exit 1; fi
  n=$((n + 1)); [ "$n" -gt {tries} ] && {{ echo "not listening on {addr}:80 after {start_secs} s:" >&2; cat "$d/log" >&2; exit 1; }}
  sleep 0.1
done
"#
    )
}

/// Pids of the processes whose command line is exactly `words`, in order.
pub fn pids_of(words: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = words
        .iter()
        .flat_map(|w| [w.as_bytes(), b"\0"].concat())
        .collect();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if std::fs::read(entry.path().join("cmdline")).is_ok_and(|c| c == want) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
}

/// Pids of the service instances for `addr` (command line exactly `BIN addr:80`).
pub fn service_pids(addr: &str) -> Vec<u32> {
    service_pids_for(BIN, addr)
}

/// Pids of the instances of the service at `bin` for `addr`.
pub fn service_pids_for(bin: &str, addr: &str) -> Vec<u32> {
    pids_of(&[bin, &format!("{addr}:80")])
}

/// Sends `kill -SIG` to `pids` (nothing when there are none).
pub fn kill(sig: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = run(Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string)));
}

/// SIGKILLs every service instance for `addrs`; returns their pids.
pub fn kill_services(addrs: &[String]) -> Vec<u32> {
    let mut killed = Vec::new();
    for addr in addrs {
        let pids = service_pids(addr);
        kill("KILL", &pids);
        killed.extend(pids);
    }
    killed
}

/// Waits up to `timeout` until no service instance for `addrs` is left; whether none is.
pub fn services_gone_within(addrs: &[String], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if addrs.iter().all(|a| service_pids(a).is_empty()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills every service instance for its addresses on drop, also when the test panics.
pub struct Services(pub Vec<String>);

impl Drop for Services {
    fn drop(&mut self) {
        kill_services(&self.0);
    }
}

/// `GET /` on `addr:80` from the controller (connecting within 5 s, reading within 10 s): the
/// body of a 200, or what went wrong.
pub fn get(addr: &str) -> Result<String, String> {
    get_within(addr, Duration::from_secs(5), Duration::from_secs(10))
}

/// [`get`] with its own connect and read timeouts.
pub fn get_within(addr: &str, connect: Duration, read: Duration) -> Result<String, String> {
    let sa: SocketAddr = format!("{addr}:80").parse().unwrap();
    let mut s =
        TcpStream::connect_timeout(&sa, connect).map_err(|e| format!("connect {sa}: {e}"))?;
    s.set_read_timeout(Some(read)).unwrap();
    s.write_all(format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .map_err(|e| format!("send to {sa}: {e}"))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .map_err(|e| format!("read from {sa}: {e}"))?;
    match resp.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200 ") => Ok(body.to_owned()),
        _ => Err(format!("{sa} answered {resp:?}")),
    }
}

/// Writes `dir/service.yml`, an inventory (merged with the lab's) giving each of `hosts`
/// (name, address) its restart command ([`restart_command`] waiting `start_secs`) and its
/// health URL; returns its path.
pub fn service_inventory(
    dir: &Path,
    hosts: &[(String, String)],
    uid: u32,
    gid: u32,
    start_secs: u32,
) -> PathBuf {
    let mut host_vars = serde_json::Map::new();
    for (h, addr) in hosts {
        host_vars.insert(
            h.clone(),
            serde_json::json!({
                "fleetup_restart_command": restart_command(addr, uid, gid, start_secs, None),
                "fleetup_health_url": format!("http://{addr}:80/"),
            }),
        );
    }
    let path = dir.join("service.yml");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&serde_json::json!({"all": {"hosts": host_vars}})).unwrap(),
    )
    .unwrap();
    path
}

/// The variables (for `-e`) every host shares: the channel in `dir` (see [`new_channel`]), the
/// service's binary, its version command, and the health check's timeout.
pub fn service_vars(dir: &Path, health_timeout: u32) -> String {
    serde_json::json!({
        "fleetup_source": dir.join("releases"),
        "fleetup_public_keys": [dir.join("k.pub")],
        "fleetup_binary": BIN,
        "fleetup_version_command": "{binary} --version",
        "fleetup_health_timeout": health_timeout,
    })
    .to_string()
}
