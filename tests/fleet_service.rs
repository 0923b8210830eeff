//! A real service on lab hosts: `examples/demo-service` serving HTTP on **port 80 of its host's
//! address as an unprivileged user** (`fleetup-demo`), upgraded by `fleetup upgrade` over
//! OpenSSH with a restart command and an HTTP health check. The new binary can only bind port 80
//! when fleetup re-applied `cap_net_bind_service` after giving it the old binary's owner; a
//! release that fails to start is rolled back automatically and the old version serves again.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::fleet::{field, json};
use crate::support::lab::Lab;
use crate::support::{describe, fleetup, repo, require_root, require_tool, run};

/// Where the service lives on every host.
const BIN: &str = "/opt/demo/demo-service";
/// The unprivileged user it runs as.
const USER: &str = "fleetup-demo";

/// The compiled `examples/demo-service` (built here: `cargo test --test main` does not build
/// examples), once per test process.
fn demo_service_exe() -> &'static Path {
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

/// The same program as release `version`: the trailer `demo-service` reads from itself.
fn release_bytes(version: &str, broken: bool) -> Vec<u8> {
    let mut bytes = std::fs::read(demo_service_exe()).unwrap();
    bytes.extend_from_slice(b"\n");
    if broken {
        bytes.extend_from_slice(b"FLEETUP_DEMO_FAIL=1\n");
    }
    bytes.extend_from_slice(format!("FLEETUP_DEMO_VERSION={version}\n").as_bytes());
    bytes
}

/// `fleetup release …` in `dir`, which must succeed.
fn release_cmd(dir: &Path, args: &[&str]) {
    let out = run(fleetup().current_dir(dir).arg("release").args(args));
    assert!(
        out.status.success(),
        "fleetup release {args:?}: {}",
        describe(&out)
    );
}

/// A channel in `dir/releases` signed by a fresh key in `dir`; returns the public key's path.
fn new_channel(dir: &Path) -> PathBuf {
    release_cmd(dir, &["keygen", "-p", "k.pub", "-s", "k.key", "-W"]);
    dir.join("k.pub")
}

/// Publishes `version` of the demo service for this machine's os/arch on the channel in `dir`.
fn publish(dir: &Path, version: &str, broken: bool) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let file = dir.join(format!("build-{version}"));
    std::fs::write(&file, release_bytes(version, broken)).unwrap();
    let artifact = format!("linux/{arch}={}", file.display());
    release_cmd(
        dir,
        &[
            "publish",
            "--dir",
            "releases",
            "--product",
            "demo-service",
            "--version",
            version,
            "-s",
            "k.key",
            &artifact,
        ],
    );
}

/// `id FLAG USER` as a number.
fn id(flag: &str) -> u32 {
    let out = run(Command::new("id").args([flag, USER]));
    assert!(out.status.success(), "id {flag} {USER}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Creates the system user `fleetup-demo` when missing; returns its uid and gid.
fn service_user() -> (u32, u32) {
    if !run(Command::new("id").arg(USER)).status.success() {
        let out = run(Command::new("useradd").args(["--system", "--no-create-home", USER]));
        // 9: created meanwhile by another test process.
        assert!(
            matches!(out.status.code(), Some(0 | 9)),
            "useradd {USER}: {}",
            describe(&out)
        );
    }
    let (uid, gid) = (id("-u"), id("-g"));
    assert_ne!(uid, 0, "{USER} must not be root");
    (uid, gid)
}

/// The restart command for the host at `addr`, run with `sh -c` on the host (as root, over
/// SSH). It stops this host's instance only (both lab hosts share the machine's process table:
/// the pid file is under the host's own /opt), starts the binary detached as `fleetup-demo` on
/// `addr:80`, and returns once it answers — or fails with the service's log once it exits.
/// `setpriv` execs the binary in place, so the pid file names the service itself (`runuser`
/// would stay as its parent). Dropping root clears every capability: only the file's
/// `cap_net_bind_service` lets it bind port 80.
fn restart_command(addr: &str, uid: u32, gid: u32) -> String {
    format!(
        r#"set -u
d=/opt/demo
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
setsid -f sh -c 'echo $$ > /opt/demo/pid && exec setpriv --reuid={uid} --regid={gid} --init-groups -- {BIN} {addr}:80' </dev/null >"$d/log" 2>&1
n=0
while :; do
  if curl -s -o /dev/null --max-time 1 http://{addr}:80/; then echo "started, pid $(cat "$d/pid")"; exit 0; fi
  pid=$(cat "$d/pid" 2>/dev/null || true)
  if [ -n "$pid" ] && ! alive "$pid"; then echo "demo-service exited at start:" >&2; cat "$d/log" >&2; exit 1; fi
  n=$((n + 1)); [ "$n" -gt 100 ] && {{ echo "not listening on {addr}:80 after 10 s:" >&2; cat "$d/log" >&2; exit 1; }}
  sleep 0.1
done
"#
    )
}

/// Pids of the service instances for `addr` (command line exactly `BIN addr:80`).
fn service_pids(addr: &str) -> Vec<u32> {
    let want = format!("{BIN}\0{addr}:80\0");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if std::fs::read(entry.path().join("cmdline")).is_ok_and(|c| c == want.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// Kills every service instance of the lab's hosts, also when the test panics.
struct Services(Vec<String>);

impl Services {
    fn kill_all(&self) -> Vec<u32> {
        let mut killed = Vec::new();
        for addr in &self.0 {
            for pid in service_pids(addr) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                killed.push(pid);
            }
        }
        killed
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// `GET /` on `addr:80` from the controller: the body of a 200, or what went wrong.
fn get(addr: &str) -> Result<String, String> {
    let sa: SocketAddr = format!("{addr}:80").parse().unwrap();
    let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(5))
        .map_err(|e| format!("connect {sa}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .map_err(|e| format!("send to {sa}: {e}"))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .map_err(|e| format!("read from {sa}: {e}"))?;
    let (head, body) = resp
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP response from {sa}: {resp:?}"))?;
    if !head.starts_with("HTTP/1.1 200 ") {
        return Err(format!("{sa} answered {head:?}"));
    }
    Ok(body.to_owned())
}

/// Asserts that `addr:80` answers `demo-service VERSION` from exactly one process, running as
/// `uid` (real, effective, saved and filesystem ids), which is the one listening there.
fn assert_serves(addr: &str, version: &str, uid: u32, when: &str) {
    assert_eq!(
        get(addr).as_deref(),
        Ok(format!("demo-service {version}\n").as_str()),
        "{when}: {addr}:80"
    );
    let pids = service_pids(addr);
    assert_eq!(pids.len(), 1, "{when}: one instance for {addr}: {pids:?}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", pids[0])).unwrap();
    let uids: Vec<&str> = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .collect();
    let want = uid.to_string();
    assert_eq!(
        uids,
        [&want[..]; 4],
        "{when}: pid {} runs as {USER}",
        pids[0]
    );
    let ss = run(Command::new("ss").args(["-Hltnp", &format!("src {addr}:80")]));
    let ss = String::from_utf8_lossy(&ss.stdout);
    assert!(
        ss.contains(&format!("pid={},", pids[0])),
        "{when}: {addr}:80 is listened on by pid {}: {ss}",
        pids[0]
    );
}

fn getcap(path: &Path) -> String {
    let out = run(Command::new("getcap").arg(path));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn lab_service_on_port_80_as_unprivileged_user_setcap_restart_health_and_rollback() {
    require_root();
    for tool in ["setcap", "getcap"] {
        require_tool(tool, "apt-get install libcap2-bin");
    }
    require_tool("setpriv", "apt-get install util-linux");
    require_tool("curl", "apt-get install curl");
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
    let (uid, gid) = service_user();

    let work = tempfile::tempdir().unwrap();
    let public_key = new_channel(work.path());
    publish(work.path(), "1.0.0", false);
    publish(work.path(), "1.1.0", false);

    let lab = Lab::start(2);
    let hosts: Vec<(String, String)> = lab
        .hosts()
        .iter()
        .map(|h| (h.name.clone(), h.addr.clone()))
        .collect();
    let services = Services(hosts.iter().map(|(_, a)| a.clone()).collect());

    // 1.0.0 installed as a package would: root-owned, 0755, allowed to bind low ports.
    let v100 = release_bytes("1.0.0", false);
    let bin = |h: &str| lab.opt_dir(h).join("demo/demo-service");
    for (h, _) in &hosts {
        std::fs::create_dir_all(bin(h).parent().unwrap()).unwrap();
        std::fs::write(bin(h), &v100).unwrap();
        std::fs::set_permissions(bin(h), std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let out = run(Command::new("setcap")
            .arg("cap_net_bind_service=+ep")
            .arg(bin(h)));
        assert!(out.status.success(), "setcap: {}", describe(&out));
    }

    // Per-host variables (the address differs) in a second inventory merged with the lab's.
    let mut host_vars = serde_json::Map::new();
    for (h, addr) in &hosts {
        host_vars.insert(
            h.clone(),
            serde_json::json!({
                "fleetup_restart_command": restart_command(addr, uid, gid),
                "fleetup_health_url": format!("http://{addr}:80/"),
            }),
        );
    }
    let service_inventory = work.path().join("service.yml");
    std::fs::write(
        &service_inventory,
        serde_json::to_string_pretty(&serde_json::json!({"all": {"hosts": host_vars}})).unwrap(),
    )
    .unwrap();
    let common = serde_json::json!({
        "fleetup_source": work.path().join("releases"),
        "fleetup_public_keys": [public_key],
        "fleetup_binary": BIN,
        "fleetup_version_command": "{binary} --version",
        "fleetup_health_timeout": 5,
    })
    .to_string();
    let cache = work.path().join("cache");
    // Every `-e` goes before the subcommand: today `fleetup -e A upgrade -e B` drops A (the
    // occurrences after the subcommand replace those before it instead of adding to them).
    let fleet = |more_vars: &[&str], args: &[&str]| {
        let started = Instant::now();
        let mut cmd = fleetup();
        cmd.env("XDG_CACHE_HOME", &cache)
            .arg("-i")
            .arg(lab.inventory())
            .arg("-i")
            .arg(&service_inventory)
            .args(["-e", &common, "--output", "json"]);
        for vars in more_vars {
            cmd.args(["-e", vars]);
        }
        let out = run(cmd.args(args));
        eprintln!("fleetup {args:?}: {:?}", started.elapsed());
        out
    };

    // Started once by hand (as an operator would), through OpenSSH.
    for (h, addr) in &hosts {
        let out = lab.ssh(h, &restart_command(addr, uid, gid));
        assert!(out.status.success(), "{h}: first start: {}", describe(&out));
        assert_serves(addr, "1.0.0", uid, "1.0.0 started by hand");
    }

    // The upgrade: staged with root's ownership (which clears file capabilities), setcap again,
    // swapped, restarted as fleetup-demo, healthy on port 80.
    let up = fleet(&[], &["upgrade"]);
    assert_eq!(up.status.code(), Some(0), "{}", describe(&up));
    let doc = json(&up);
    let v110 = release_bytes("1.1.0", false);
    for (h, addr) in &hosts {
        assert_eq!(field(&doc, h, "result"), "upgraded", "{doc:#}");
        assert_eq!(field(&doc, h, "from"), "1.0.0", "{doc:#}");
        assert_eq!(field(&doc, h, "to"), "1.1.0", "{doc:#}");
        assert_serves(addr, "1.1.0", uid, "after the upgrade to 1.1.0");
        assert!(
            std::fs::read(bin(h)).unwrap() == v110,
            "{h}: 1.1.0 in place"
        );
        assert!(
            getcap(&bin(h)).contains("cap_net_bind_service=ep"),
            "{h}: capability re-applied to the new file: {:?}",
            getcap(&bin(h))
        );
        let meta = std::fs::metadata(bin(h)).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (0, 0, 0o755)
        );
    }

    // A broken release: it exits at start, the restart fails, the old binary comes back,
    // is restarted and healthy.
    publish(work.path(), "1.2.0", true);
    let up = fleet(&[], &["upgrade", "--version", "1.2.0"]);
    assert_eq!(up.status.code(), Some(1), "{}", describe(&up));
    let doc = json(&up);
    for (h, addr) in &hosts {
        assert_eq!(field(&doc, h, "result"), "rolled_back", "{doc:#}");
        let err = field(&doc, h, "error")
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            err.contains("broken on purpose"),
            "{h}: the restart's failure in the report: {err:?}\n{doc:#}"
        );
        assert_serves(addr, "1.1.0", uid, "after rolling back 1.2.0");
        assert!(
            std::fs::read(bin(h)).unwrap() == v110,
            "{h}: 1.1.0's bytes are back"
        );
        assert!(getcap(&bin(h)).contains("cap_net_bind_service=ep"), "{h}");
    }

    // A good release without the capability: it cannot bind port 80 as fleetup-demo, so it is
    // rolled back too — the capability is what makes an upgrade work.
    publish(work.path(), "1.3.0", false);
    let up = fleet(&["fleetup_setcap=false"], &["upgrade"]);
    assert_eq!(up.status.code(), Some(1), "{}", describe(&up));
    let doc = json(&up);
    for (h, addr) in &hosts {
        assert_eq!(field(&doc, h, "result"), "rolled_back", "{doc:#}");
        assert_eq!(field(&doc, h, "to"), "1.3.0", "{doc:#}");
        let err = field(&doc, h, "error")
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            err.contains("cannot bind") && err.contains("ermission denied"),
            "{h}: the bind failure in the report: {err:?}\n{doc:#}"
        );
        assert_serves(
            addr,
            "1.1.0",
            uid,
            "after rolling back 1.3.0 without setcap",
        );
        assert!(
            std::fs::read(bin(h)).unwrap() == v110,
            "{h}: 1.1.0's bytes are back"
        );
        assert!(getcap(&bin(h)).contains("cap_net_bind_service=ep"), "{h}");
    }

    // The same 1.3.0 with the capability (`auto`: the old binary has it) is fine.
    let up = fleet(&[], &["upgrade"]);
    assert_eq!(up.status.code(), Some(0), "{}", describe(&up));
    let doc = json(&up);
    for (h, addr) in &hosts {
        assert_eq!(field(&doc, h, "result"), "upgraded", "{doc:#}");
        assert_serves(addr, "1.3.0", uid, "after the upgrade to 1.3.0 with setcap");
    }

    // Nothing left running.
    let killed = services.kill_all();
    assert_eq!(
        killed.len(),
        hosts.len(),
        "one instance per host: {killed:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while hosts.iter().any(|(_, a)| !service_pids(a).is_empty()) {
        assert!(
            Instant::now() < deadline,
            "service instances survived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
