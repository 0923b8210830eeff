//! Many hosts behind one bastion: fleetup opens one connection to the bastion and tunnels every
//! host through it, so the bastion's sshd `MaxStartups` (10 unauthenticated connections by
//! default, then random refusals) is never the limit.

use std::time::{Duration, Instant};

use crate::fleet::{channel_vars, field, install, json};
use crate::support::lab::Lab;
use crate::support::{describe, fleetup, require_root, run};

/// Makes host 0 of `lab` a bastion that refuses a second connection while one is still
/// unauthenticated (`MaxStartups 1`), and waits until it answers again.
fn strict_bastion(lab: &Lab) {
    let name = &lab.hosts()[0].name;
    let config = lab.dir().join(format!("hosts/{name}/sshd_config"));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("MaxStartups 1000:30:2000"), "{text}");
    std::fs::write(
        &config,
        text.replace("MaxStartups 1000:30:2000", "MaxStartups 1"),
    )
    .unwrap();
    let pid = lab.pids()[0].to_string();
    let out = run(std::process::Command::new("kill").args(["-HUP", &pid]));
    assert!(out.status.success(), "{}", describe(&out));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if lab.ssh(name, "true").status.success() {
            return;
        }
        assert!(Instant::now() < deadline, "the bastion did not come back");
    }
}

#[test]
fn six_hosts_through_a_bastion_that_takes_one_connection_at_a_time() {
    require_root();
    let lab = Lab::start(7);
    let cache = tempfile::tempdir().unwrap();
    let bastion = lab.hosts()[0].clone();
    let behind: Vec<String> = lab.hosts()[1..].iter().map(|h| h.name.clone()).collect();
    for h in &behind {
        install(&lab.opt_dir(h).join("demoapp/demoapp"), "1.0.0");
    }
    strict_bastion(&lab);

    let out = run(fleetup()
        .env("XDG_CACHE_HOME", cache.path())
        .arg("-i")
        .arg(lab.inventory())
        .args(["-e", &channel_vars(), "--output", "json", "-f", "6"])
        .args(["-e", &format!("fleetup_jump_host=root@{}", bastion.addr)])
        .args(["-l", &behind.join(","), "upgrade", "--yes"]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc = json(&out);
    for h in &behind {
        assert_eq!(field(&doc, h, "result"), "upgraded", "{doc:#}");
        let v = lab.ssh(h, "/opt/demoapp/demoapp --version");
        assert_eq!(String::from_utf8_lossy(&v.stdout), "demoapp 1.1.0\n", "{h}");
    }
}
