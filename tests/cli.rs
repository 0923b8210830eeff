//! The command line as an operator meets it: exit codes, errors, help.

use crate::support::{describe, fleetup, run};

#[test]
fn host_commands_without_a_trusted_key_exit_2_before_touching_a_host() {
    for cmd in [&["check"][..], &["upgrade"]] {
        let out = run(fleetup()
            .args(["-i", "examples/quickstart/inventory.yml"])
            .args(["-e", r#"{"fleetup_public_keys": []}"#])
            .args(cmd));
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no trusted key"), "{}", describe(&out));
        assert!(
            !err.contains("probe ok"),
            "no host was contacted: {}",
            describe(&out)
        );
    }
}

#[test]
fn missing_inventory_exits_2() {
    let out = run(fleetup().args(["inventory", "--list"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("-i PATH"),
        "{}",
        describe(&out)
    );
}

/// Writes `text` to a fresh file named `name` in a temp dir that lives as long as the guard.
fn inventory_file(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn bad_inventory_exits_2_naming_file_and_line() {
    let cases = [
        (
            "bad-section.ini",
            "[web]\nweb1\n[web:hostz]\nweb2\n",
            3,
            "hostz",
        ),
        ("bad-range.ini", "[web]\nweb[05:01]\n", 2, "[05:01]"),
        (
            "dash.ini",
            "[web]\nweb1\n-oProxyCommand=evil\n",
            3,
            "-oProxyCommand=evil",
        ),
        (
            "cycle.ini",
            "[a:children]\nb\n[b:children]\na\n",
            0,
            "cycle",
        ),
    ];
    for (name, text, line, needle) in cases {
        let (_dir, path) = inventory_file(name, text);
        let out = run(fleetup().arg("-i").arg(&path).args(["inventory", "--list"]));
        assert_eq!(out.status.code(), Some(2), "{name}: {}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(name),
            "{name}: file not named: {}",
            describe(&out)
        );
        if line > 0 {
            assert!(
                err.contains(&format!("{name}:{line}")),
                "{name}: line not named: {}",
                describe(&out)
            );
        }
        assert!(
            err.contains(needle),
            "{name}: cause not named: {}",
            describe(&out)
        );
        assert!(
            out.stdout.is_empty(),
            "{name}: printed output despite the error"
        );
    }
}

#[test]
fn a_limit_that_matches_nothing_exits_2_naming_the_term() {
    let out = run(fleetup().args([
        "-i",
        "inventories/web-db.ini",
        "-l",
        "web:!nosuchhost",
        "inventory",
        "--list",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nosuchhost"),
        "{}",
        describe(&out)
    );
}

#[test]
fn inventory_host_prints_merged_vars_and_refuses_unknown_hosts() {
    let (_dir, path) = inventory_file(
        "prec.ini",
        "[web]\nw1 x=host\nw2\n[web:vars]\nx=group\ny=3\n[all:vars]\nz=True\n",
    );
    let out = run(fleetup()
        .arg("-i")
        .arg(&path)
        .args(["inventory", "--host", "w1"]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let vars: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(vars, serde_json::json!({"x": "host", "y": 3, "z": true}));

    let out =
        run(fleetup()
            .arg("-i")
            .arg(&path)
            .args(["-e", "x=cli", "inventory", "--host", "w2"]));
    let vars: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(vars["x"], serde_json::json!("cli"), "{}", describe(&out));

    let out = run(fleetup()
        .arg("-i")
        .arg(&path)
        .args(["inventory", "--host", "w9"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("w9"),
        "{}",
        describe(&out)
    );
}

#[test]
fn quickstart_inventory_graph_shows_its_three_hosts() {
    let out = run(fleetup().args([
        "inventory",
        "-i",
        "examples/quickstart/inventory.yml",
        "--graph",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("@all:\n"), "{}", describe(&out));
    for host in ["|--web1", "|--web2", "|--db1", "|--@web:", "|--@db:"] {
        assert!(text.contains(host), "missing {host}: {}", describe(&out));
    }
}
