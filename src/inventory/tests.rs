//! Unit tests of the inventory model: precedence, `ungrouped`, cycles, host name checks.

use super::testutil::here;
use super::*;
use serde_json::json;

#[test]
fn precedence_child_beats_parent_host_beats_group_extra_beats_all() {
    let mut inv = Inventory::new();
    inv.add_host("h", Some("web"));
    inv.add_child("prod", "web", &here()).unwrap();
    inv.set_group_var(ALL, "x", json!("all"));
    inv.set_group_var("prod", "x", json!("prod"));
    assert_eq!(inv.host_vars("h")["x"], json!("prod"));
    inv.set_group_var("web", "x", json!("web"));
    assert_eq!(inv.host_vars("h")["x"], json!("web"));
    inv.set_host_var("h", "x", json!("host"));
    assert_eq!(inv.host_vars("h")["x"], json!("host"));
    inv.set_extra_vars(Vars::from([("x".to_owned(), json!("extra"))]));
    assert_eq!(inv.host_vars("h")["x"], json!("extra"));
}

#[test]
fn cycle_is_refused() {
    let mut inv = Inventory::new();
    inv.add_child("a", "b", &here()).unwrap();
    inv.add_child("b", "c", &here()).unwrap();
    let err = inv.add_child("c", "a", &here()).unwrap_err();
    assert!(matches!(err, InventoryError::Cycle { .. }), "{err}");
    assert!(inv.add_child("a", "a", &here()).is_err());
}

#[test]
fn all_is_never_a_child() {
    // Found while fuzzing: `[g:children]` listing `all` was accepted, then `reconcile` put `g`
    // under `all`, a cycle that sent `inventory --graph` into endless recursion (a stack
    // overflow). ansible-inventory fails on it ("creates a recursive dependency loop").
    let mut inv = Inventory::new();
    let err = inv.add_child("g", ALL, &here()).unwrap_err();
    assert!(matches!(err, InventoryError::Cycle { .. }), "{err}");
    inv.add_child("g", "h", &here()).unwrap();
    assert!(inv.add_child("h", ALL, &here()).is_err());
    inv.reconcile();
    assert_eq!(inv.group(ALL).unwrap().parents, Vec::<String>::new());
    assert_eq!(
        crate::inventory::export::graph(&inv, ALL, &[])
            .lines()
            .count(),
        4
    );
}

#[test]
fn reconcile_moves_hosts_in_and_out_of_ungrouped() {
    let mut inv = Inventory::new();
    inv.add_host("lonely", None);
    inv.add_host("both", Some(UNGROUPED));
    inv.add_host("both", Some("web"));
    inv.reconcile();
    assert_eq!(inv.group(UNGROUPED).unwrap().hosts, vec!["lonely"]);
    assert_eq!(inv.group(ALL).unwrap().children, vec![UNGROUPED, "web"]);
}

#[test]
fn depth_is_longest_path() {
    let mut inv = Inventory::new();
    inv.add_child("a", "b", &here()).unwrap();
    inv.add_child("b", "c", &here()).unwrap();
    inv.add_child("a", "c", &here()).unwrap();
    inv.reconcile();
    assert_eq!(inv.depth("a"), 1);
    assert_eq!(inv.depth("c"), 3);
}

#[test]
fn depth_of_a_ladder_of_diamonds_is_quick() {
    // Found while fuzzing (fuzz/fuzz_targets/inventory_ini.rs): g0 → a0, b0 → g1 → a1, b1 → …
    // has 2^n paths from the top; walking each one hung `inventory --list` on 1.6 KB of INI.
    let mut inv = Inventory::new();
    let n = 40;
    for i in 0..n {
        for side in ["a", "b"] {
            inv.add_child(&format!("g{i}"), &format!("{side}{i}"), &here())
                .unwrap();
            inv.add_child(&format!("{side}{i}"), &format!("g{}", i + 1), &here())
                .unwrap();
        }
    }
    inv.add_host("leaf", Some(&format!("g{n}")));
    inv.reconcile();
    let start = std::time::Instant::now();
    assert_eq!(inv.depth(&format!("g{n}")), 2 * n + 1);
    assert_eq!(inv.host_vars("leaf").len(), 0);
    // Exponential time would not end; linear time is microseconds.
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn big_groups_take_linear_time() {
    // Found while fuzzing: `[g]` then `h[0:999999]` (14 bytes of INI) did not load in 5 minutes,
    // each host being looked for in the group's whole list, and again when `reconcile` took
    // hosts out of `ungrouped`.
    let n = 200_000;
    let start = std::time::Instant::now();
    let mut inv = Inventory::new();
    for i in 0..n {
        inv.add_host(&format!("h{i}"), Some(UNGROUPED));
    }
    for i in 0..n {
        inv.add_host(&format!("h{i}"), Some("web"));
        inv.add_host(&format!("h{i}"), Some("web"));
    }
    inv.reconcile();
    assert_eq!(inv.group("web").unwrap().hosts.len(), n);
    assert_eq!(
        inv.group("web").unwrap().hosts[n - 1],
        format!("h{}", n - 1)
    );
    assert!(inv.group(UNGROUPED).unwrap().hosts.is_empty());
    assert_eq!(inv.host("h7").unwrap().groups, ["web"]);
    // Quadratic time is many minutes here, even optimized; linear is about a second.
    assert!(
        start.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn host_names_that_look_like_options_are_refused() {
    assert!(check_host_name("-oProxyCommand=x").is_err());
    assert!(check_host_name("a b").is_err());
    assert!(check_host_name("web01.example.com").is_ok());
}

#[test]
fn user_names_are_plain_words() {
    for ok in [
        "root",
        "deploy",
        "svc-app_1",
        "user@EXAMPLE.COM",
        "DOMAIN\\user",
        "#1000",
        "a.b",
    ] {
        assert_eq!(check_user_name(ok), Ok(()), "{ok}");
    }
    for (bad, why) in [
        ("", "empty"),
        ("-oProxyCommand=x", "option"),
        ("root;touch x", "';'"),
        ("$(touch x)", "'$'"),
        ("`id`", "'`'"),
        ("a'b", "'\\''"),
        ("a\"b", "'\"'"),
        ("a b", "' '"),
        ("a\nb", "'\\n'"),
        ("../../etc/x", "'/'"),
        ("a|b", "'|'"),
        ("%r", "'%'"),
    ] {
        let err = check_user_name(bad).unwrap_err();
        assert!(err.contains(why), "{bad:?}: {err}");
    }
    assert!(check_user_name(&"u".repeat(MAX_USER_NAME_BYTES)).is_ok());
    assert!(
        check_user_name(&"u".repeat(MAX_USER_NAME_BYTES + 1))
            .unwrap_err()
            .contains("longer")
    );
}
