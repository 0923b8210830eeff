//! The command line as an operator meets it: exit codes, errors, help.

use crate::support::{describe, fleetup, run};

#[test]
fn unbuilt_commands_exit_2_and_say_so() {
    for cmd in [&["check"][..], &["upgrade"], &["rollback"]] {
        let out = run(fleetup().args(["-i", "inventories/web-db.ini"]).args(cmd));
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not implemented yet"), "{}", describe(&out));
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
