//! The lab starts and stops real OpenSSH hosts.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::lab::{Lab, Traces, reap, script};
use crate::support::{describe, fleetup, require_tool, run};

/// How long a stopped lab's processes may take to disappear (down already waits for them).
const GONE: Duration = Duration::from_secs(5);

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn assert_gone(traces: &Traces) {
    let left = traces.remaining_after(GONE);
    assert!(
        left.is_empty(),
        "the lab in {:?} left processes behind:\n{}",
        traces.dir,
        left.join("\n")
    );
}

#[test]
fn three_hosts_strict_keys_private_opt_and_clean_stop() {
    let lab = Lab::start(3);
    let names: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
    assert_eq!(names, ["host001", "host002", "host003"]);
    let addrs: Vec<&str> = lab.hosts().iter().map(|h| h.addr.as_str()).collect();
    assert_eq!(lab.pids().len(), 3);
    assert_eq!(lab.namespaces().len(), 3);

    // Every host answers, with strict host key checking against the plain and hashed files.
    for host in lab.hosts() {
        let out = lab.ssh(&host.name, "echo ok; id -u");
        assert!(out.status.success(), "{}: {}", host.name, describe(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "ok\n0\n",
            "{}",
            describe(&out)
        );
        let out = run(lab
            .ssh_command(&host.addr, &lab.known_hosts_hashed())
            .arg("true"));
        assert!(
            out.status.success(),
            "{} via hashed known_hosts: {}",
            host.name,
            describe(&out)
        );
    }
    let kh = std::fs::read_to_string(lab.known_hosts()).unwrap();
    for addr in &addrs {
        assert!(
            kh.lines()
                .any(|l| l.starts_with(&format!("{addr} ssh-ed25519 "))),
            "{kh}"
        );
    }
    let inv = std::fs::read_to_string(lab.inventory()).unwrap();
    for needle in [
        "    lab:",
        "        host003:",
        &format!("          ansible_host: {}", addrs[2]),
        "        ansible_user: root",
        &format!(
            "        ansible_ssh_private_key_file: {}",
            lab.client_key().display()
        ),
        &format!(
            "        fleetup_known_hosts: {}",
            lab.known_hosts().display()
        ),
        "        fleetup_binary: /opt/demoapp/demoapp",
    ] {
        assert!(inv.contains(needle), "inventory lacks {needle:?}:\n{inv}");
    }

    // The real `ansible-inventory` reads the inventory: group `lab`, every host and its vars.
    require_tool("ansible-inventory", "pip install ansible-core");
    let out = run(Command::new("ansible-inventory")
        .arg("-i")
        .arg(lab.inventory())
        .arg("--list")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "False"));
    assert!(out.status.success(), "{}", describe(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        listed["lab"]["hosts"],
        serde_json::json!(names),
        "{listed:#}"
    );
    let vars = &listed["_meta"]["hostvars"]["host002"];
    assert_eq!(vars["ansible_host"], addrs[1], "{listed:#}");
    assert_eq!(vars["ansible_user"], "root", "{listed:#}");
    let key = lab.client_key().display().to_string();
    assert_eq!(
        vars["ansible_ssh_private_key_file"],
        key.as_str(),
        "{listed:#}"
    );
    // ... and fleetup reads it exactly as Ansible does.
    let ours = run(fleetup()
        .arg("-i")
        .arg(lab.inventory())
        .args(["inventory", "--list"]));
    assert_eq!(
        ours.stdout,
        out.stdout,
        "fleetup differs from ansible-inventory:\n{}",
        describe(&ours)
    );

    // /opt is private to each host: same path, different directories, none of it on the machine.
    let name = unique("lab-probe");
    let file = format!("/opt/{name}");
    let out = lab.ssh(
        "host001",
        &format!("echo on-host001 > {file} && cat {file}"),
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "on-host001\n");
    let out = lab.ssh("host002", &format!("test ! -e {file} && ls /opt"));
    assert!(
        out.status.success(),
        "host002 sees host001's {file}: {}",
        describe(&out)
    );
    assert!(
        !Path::new(&file).exists(),
        "{file} leaked into the machine's real /opt"
    );
    assert_eq!(
        std::fs::read_to_string(lab.opt_dir("host001").join(&name)).unwrap(),
        "on-host001\n"
    );
    assert!(!lab.opt_dir("host002").join(&name).exists());
    let out = lab.ssh("host003", "findmnt -no TARGET,SOURCE /opt");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hosts/host003/opt"),
        "{}",
        describe(&out)
    );

    // A wrong key for a host in known_hosts, or no entry at all: strict checking refuses.
    let pub2 =
        std::fs::read_to_string(lab.dir().join("hosts/host002/ssh_host_ed25519_key.pub")).unwrap();
    let mut fields = pub2.split_whitespace();
    let (kt, kk) = (fields.next().unwrap(), fields.next().unwrap());
    let wrong = lab.dir().join("known_hosts.wrong");
    std::fs::write(&wrong, format!("{} {kt} {kk}\n", addrs[0])).unwrap();
    let out = run(lab.ssh_command("host001", &wrong).arg("true"));
    assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Host key verification failed"),
        "{}",
        describe(&out)
    );
    let empty = lab.dir().join("known_hosts.empty");
    std::fs::write(&empty, "").unwrap();
    let out = run(lab.ssh_command("host001", &empty).arg("true"));
    assert_eq!(out.status.code(), Some(255), "{}", describe(&out));

    // `up` on a running lab is refused and leaves it running.
    let out = run(script().args(["up", "3", "--dir"]).arg(lab.dir()));
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already running"),
        "{}",
        describe(&out)
    );
    assert!(lab.ssh("host001", "true").status.success());

    // A session that leaves a daemon behind: down must take it too.
    let out = lab.ssh("host002", "nohup sleep 600 >/dev/null 2>&1 &");
    assert!(out.status.success(), "{}", describe(&out));

    let traces = lab.traces();
    let dir = lab.dir().to_owned();
    assert!(
        !traces.remaining().is_empty(),
        "the running lab should be visible"
    );
    drop(lab);
    assert_gone(&traces);
    assert!(!dir.exists(), "a passing test's lab dir is removed");
    // `down` is safe to run again.
    let out = run(script().args(["down", "--dir"]).arg(&dir));
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn hundred_hosts_start_serve_ssh_and_stop() {
    const N: usize = 100;
    let lab = Lab::start(N);
    let started_in = lab.started_in();
    assert_eq!(lab.hosts().len(), N);

    // An SSH session on every host, 16 at a time; each writes its name into its own /opt.
    let t = Instant::now();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(host) = lab.hosts().get(i) else {
                        break;
                    };
                    let cmd = format!("echo {} > /opt/who && cat /opt/who", host.name);
                    let out = lab.ssh(&host.name, &cmd);
                    let expected = format!("{}\n", host.name);
                    if !out.status.success() || String::from_utf8_lossy(&out.stdout) != expected {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{}: {}", host.name, describe(&out)));
                    }
                }
            });
        }
    });
    let ssh_in = t.elapsed();
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} hosts failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for host in lab.hosts() {
        let who = std::fs::read_to_string(lab.opt_dir(&host.name).join("who")).unwrap();
        assert_eq!(
            who,
            format!("{}\n", host.name),
            "/opt of {} is not its own",
            host.name
        );
    }

    let traces = lab.traces();
    assert_eq!(traces.pids.len(), N);
    assert_eq!(
        traces
            .namespaces
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        N,
        "every host has its own mount namespace"
    );
    let stopped_in = lab.stop();
    assert_gone(&traces);
    println!(
        "lab of {N} hosts: started in {:.1}s, {N} ssh sessions in {:.1}s, stopped in {:.1}s",
        started_in.as_secs_f64(),
        ssh_in.as_secs_f64(),
        stopped_in.as_secs_f64()
    );
    assert!(
        started_in < Duration::from_secs(60),
        "{N} hosts took {started_in:?} to start"
    );
}

#[test]
fn a_panicking_test_leaves_no_lab_behind() {
    let (tx, rx) = mpsc::channel();
    let result = std::thread::Builder::new()
        .name("lab-panics".into())
        .spawn(move || {
            let lab = Lab::start(2);
            assert!(lab.ssh("host002", "true").status.success());
            tx.send(lab.traces()).unwrap();
            panic!("deliberate panic with a running lab");
        })
        .unwrap()
        .join();
    assert!(result.is_err(), "the thread should have panicked");
    let traces = rx.recv().expect("the lab started");
    assert_eq!(traces.pids.len(), 2);
    assert_gone(&traces);
    // A failed test keeps its lab directory for inspection; this one failed on purpose.
    let _ = std::fs::remove_dir_all(&traces.dir);
}

#[test]
fn reap_stops_a_lab_whose_owner_died() {
    let mut owner = Command::new("sleep")
        .arg("600")
        .spawn()
        .expect("spawn sleep");
    let lab = Lab::start_owned_by(2, owner.id());
    assert!(lab.ssh("host001", "true").status.success());
    let traces = lab.traces();

    // The owner is alive: reap leaves the lab alone.
    reap();
    let out = run(script().args(["status", "--dir"]).arg(lab.dir()));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 of 2 hosts running"),
        "{}",
        describe(&out)
    );
    assert!(
        lab.ssh("host002", "true").status.success(),
        "reap stopped a lab whose owner lives"
    );

    // kill -9 of the owner: the next reap stops the lab.
    owner.kill().unwrap();
    owner.wait().unwrap();
    reap();
    assert_gone(&traces);
    let out = run(script().args(["status", "--dir"]).arg(lab.dir()));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not running"),
        "{}",
        describe(&out)
    );
    // Dropping the reaped lab runs `down` once more, which must be harmless.
    drop(lab);
}
