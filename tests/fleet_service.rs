//! A real service on lab hosts: `examples/demo-service` serving HTTP on **port 80 of its host's
//! address as an unprivileged user** (`fleetup-demo`), upgraded by `fleetup upgrade` over
//! OpenSSH with a restart command and an HTTP health check. The new binary can only bind port 80
//! when fleetup re-applied `cap_net_bind_service` after giving it the old binary's owner; a
//! release that fails to start is rolled back automatically and the old version serves again.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::fleet::{field, json};
use crate::support::lab::Lab;
use crate::support::service::{
    Padding, Services, USER, get, install_as_package, kill_services, new_channel, release_bytes,
    require_port_80_privileged, require_service_tools, restart_command, service_inventory,
    service_pids, service_user, service_vars, services_gone_within,
};
use crate::support::{describe, fleetup, run};

/// Publishes `version` of the demo service (exiting at start when `broken`) on the channel in
/// `dir`.
fn publish(dir: &Path, version: &str, broken: bool) {
    crate::support::service::publish(dir, version, &release_bytes(version, Padding::None, broken));
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
    require_service_tools();
    require_port_80_privileged();
    let (uid, gid) = service_user();

    let work = tempfile::tempdir().unwrap();
    new_channel(work.path());
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
    let v100 = release_bytes("1.0.0", Padding::None, false);
    let bin = |h: &str| lab.opt_dir(h).join("demo/demo-service");
    for (h, _) in &hosts {
        install_as_package(&bin(h), &v100);
    }

    // Per-host variables (the address differs) in a second inventory merged with the lab's.
    let service_inventory = service_inventory(work.path(), &hosts, uid, gid, 10);
    let common = service_vars(work.path(), 5);
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
        let out = lab.ssh(h, &restart_command(addr, uid, gid, 10, None));
        assert!(out.status.success(), "{h}: first start: {}", describe(&out));
        assert_serves(addr, "1.0.0", uid, "1.0.0 started by hand");
    }

    // The upgrade: staged with root's ownership (which clears file capabilities), setcap again,
    // swapped, restarted as fleetup-demo, healthy on port 80.
    let up = fleet(&[], &["upgrade"]);
    assert_eq!(up.status.code(), Some(0), "{}", describe(&up));
    let doc = json(&up);
    let v110 = release_bytes("1.1.0", Padding::None, false);
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
    let killed = kill_services(&services.0);
    assert_eq!(
        killed.len(),
        hosts.len(),
        "one instance per host: {killed:?}"
    );
    assert!(
        services_gone_within(&services.0, Duration::from_secs(10)),
        "service instances survived SIGKILL"
    );
}
