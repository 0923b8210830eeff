//! Unit tests of pattern selection, mostly on the example inventory of `testutil`.

use super::*;
use crate::inventory::testutil::example;

fn sel(p: &str) -> Vec<String> {
    select(&example(), p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[test]
fn splitting_follows_ansible() {
    assert_eq!(
        split_host_pattern("a,b[1], c[2:3] , d"),
        ["a", "b[1]", "c[2:3]", "d"]
    );
    assert_eq!(split_host_pattern("web:&db:!x"), ["web", "&db", "!x"]);
    assert_eq!(split_host_pattern("web[0:2]:db"), ["web[0:2]", "db"]);
    assert_eq!(split_host_pattern("web db"), ["web", "db"]);
    assert_eq!(split_host_pattern("web[1:3]"), ["web[1:3]"]);
    assert_eq!(split_host_pattern("db:80"), ["db:80"]);
    assert_eq!(split_host_pattern("fe80::1"), ["fe80::1"]);
    assert_eq!(split_host_pattern("10.0.0.1:22"), ["10.0.0.1:22"]);
    assert_eq!(split_host_pattern("~web\\d+"), ["~web\\d+"]);
    assert_eq!(split_host_pattern("web-:db"), ["web-", "db"]);
}

#[test]
fn order_and_set_operations() {
    assert_eq!(sel("all"), ["lonely", "web1", "web2", "web3", "db1"]);
    assert_eq!(sel("db:web"), ["db1", "web1", "web2", "web3"]);
    assert_eq!(sel("db:web:!web2"), ["db1", "web1", "web3"]);
    assert_eq!(sel("!web2"), ["lonely", "web1", "web3", "db1"]);
    assert_eq!(sel("!web2:db"), ["db1", "web1"]);
    assert_eq!(sel("&db:web"), ["web1"]);
    assert_eq!(sel("web1,web2 "), ["web1", "web2"]);
    assert_eq!(sel("web db"), ["web1", "web2", "web3", "db1"]);
}

#[test]
fn globs_and_regexes() {
    // `a*` and `al*` match the group `all` (Ansible's docstring says otherwise; its code
    // and its output agree with this).
    assert_eq!(sel("a*"), sel("all"));
    assert_eq!(sel("web*"), ["web1", "web2", "web3"]);
    assert_eq!(sel("~w"), ["web1", "web2", "web3"]);
    assert_eq!(sel("~web[12]"), ["web1", "web2"]);
    assert!(
        select(&example(), "~eb").is_err(),
        "re.match is anchored at the start"
    );
    assert_eq!(sel("[dw]*1"), ["web1", "db1"]);
    assert_eq!(sel("web[!1]"), sel("web2:web3"));
    assert!(select(&example(), "WEB").is_err(), "case-sensitive");
}

#[test]
fn subscripts_have_ansibles_quirks() {
    assert_eq!(sel("web[0]"), ["web1"]);
    assert_eq!(sel("web[-1]"), ["web3"]);
    assert_eq!(sel("web[0:1]"), ["web1", "web2"]);
    assert_eq!(sel("web[1:]"), ["web2", "web3"]);
    assert_eq!(sel("web[1:0]"), ["web2"]);
    assert_eq!(sel("web[0-1]"), ["web1", "web2"]);
    assert_eq!(sel("web[1:99]"), ["web2", "web3"]);
    assert_eq!(sel("prod[1:3]"), ["web2", "web3", "db1"]);
    assert_eq!(sel("prod:&db[1]"), ["web1"]);
    assert_eq!(sel("lonely[0]"), ["lonely"]);
    // `web*` is the group's hosts followed by the matching host names, duplicates kept
    // until the subscript is applied.
    assert_eq!(sel("web*[4]"), ["web2"]);
    let e = select(&example(), "web[5]").unwrap_err().to_string();
    assert!(e.contains("'web[5]'") && e.contains("out of range"), "{e}");
    let e = select(&example(), "web[2:1]").unwrap_err().to_string();
    assert!(e.contains("'web[2:1]' selects no hosts"), "{e}");
}

#[test]
fn exact_host_names_win_over_globs() {
    let mut inv = Inventory::new();
    for h in ["app*", "app1", "app2"] {
        inv.add_host(h, Some(ALL));
    }
    inv.add_host("web1", Some("web"));
    inv.reconcile();
    assert_eq!(select(&inv, "app*").unwrap(), ["app*"]);
    assert_eq!(select(&inv, "app?").unwrap(), ["app*", "app1", "app2"]);
    assert_eq!(select(&inv, "&app*").unwrap(), ["app*", "app1", "app2"]);
    assert_eq!(select(&inv, "app*:web").unwrap(), ["app*", "web1"]);
}

#[test]
fn host_that_is_also_a_group_name() {
    let mut inv = Inventory::new();
    inv.add_host("web", Some("x"));
    inv.add_host("w1", Some("web"));
    inv.reconcile();
    assert_eq!(select(&inv, "web").unwrap(), ["web"]);
    assert_eq!(select(&inv, "all:&web").unwrap(), ["w1"]);
}

#[test]
fn limit_files_are_terms_one_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("retry");
    std::fs::write(&f, "db1\n\n  web2  \n!web3\nweb*\n").unwrap();
    let p = format!("@{}", f.display());
    assert_eq!(sel(&p), ["db1", "web2", "web1"]);
    let e = select(&example(), "@/nonexistent/limit").unwrap_err();
    assert!(matches!(e, InventoryError::BadPattern { .. }), "{e}");
    let e = select(&example(), &format!("@{}", dir.path().display())).unwrap_err();
    assert!(matches!(e, InventoryError::BadPattern { .. }), "{e}");
}

#[test]
fn unmatched_terms_are_errors_with_a_hint() {
    let e = select(&example(), "web:wbe").unwrap_err();
    let InventoryError::NoMatch { pattern, hint } = &e else {
        panic!("{e}")
    };
    assert_eq!(pattern, "wbe");
    assert!(hint.contains("'web' (group)"), "{hint}");
    let e = select(&example(), "web:!nosuch").unwrap_err().to_string();
    assert!(e.contains("'!nosuch'"), "{e}");
    assert!(!e.contains("did you mean"), "{e}");
    let e = select(&example(), "localhost").unwrap_err().to_string();
    assert!(e.contains("'localhost'"), "{e}");
    let e = select(&example(), "empty").unwrap_err().to_string();
    assert!(e.contains("'empty' has no hosts"), "{e}");
    let e = select(&example(), "web:&db:!web1").unwrap_err().to_string();
    assert!(
        e.contains("'web:&db:!web1'") && e.contains("leave no host"),
        "{e}"
    );
    let e = select(&Inventory::new(), "all").unwrap_err().to_string();
    assert!(e.contains("no hosts"), "{e}");
    assert!(matches!(
        select(&example(), "~web(").unwrap_err(),
        InventoryError::BadPattern { .. }
    ));
}

#[test]
fn glob_classes_follow_fnmatch() {
    let m = |g: &str, s: &str| Matcher::new(g, g).unwrap().is_match(s);
    assert!(m("[]a]", "]") && m("[]a]", "a"));
    assert!(m("[!]a]", "b") && !m("[!]a]", "a"));
    assert!(m("w[", "w[") && !m("w[", "w"));
    assert!(m("[a-c]", "b") && !m("[a-c]", "-"));
    assert!(m("[a-]", "-") && m("[-a]", "-"));
    assert!(
        !m("[z-a]", "m") && !m("[z-a]", "z"),
        "reversed ranges are dropped"
    );
    assert!(m("[!z-a]", "q"), "a negated empty set is any character");
    assert!(m("a.b", "a.b") && !m("a.b", "axb"));
    assert!(m("[\\]", "\\"));
    assert!(m("[a-b-c]", "-") && m("[a-b-c]", "c"));
}

#[test]
fn closeness_forgives_case_swaps_short_names_and_wildcards() {
    assert_eq!(closeness("wbe", "web"), Some(1), "a swap is one edit");
    assert_eq!(closeness("WEB", "web"), Some(0), "case does not count");
    assert_eq!(
        closeness("web01", "web01.example.com"),
        Some(0),
        "short name"
    );
    assert_eq!(closeness("web01", "web011.example.com"), None);
    assert_eq!(
        closeness("wbe*", "web1"),
        Some(1),
        "a glob by its literal start"
    );
    assert_eq!(closeness("~wbe\\d+", "web1"), Some(1), "a regex too");
    assert_eq!(closeness("prd", "prod"), Some(1));
    assert_eq!(closeness("zzzzzz", "web"), None, "too far");
    assert_eq!(closeness("*", "web"), None, "nothing literal to compare");
    assert_eq!(closeness("d", "db"), None, "one letter says nothing");
}

/// An inventory of FQDN hosts in a few groups, as in `inventories/web-db.ini`.
fn fqdn_fleet() -> Inventory {
    let mut inv = Inventory::new();
    for h in ["web01.example.com", "web02.example.com", "db01.example.com"] {
        inv.add_host(h, Some(if h.starts_with("web") { "web" } else { "db" }));
    }
    inv.add_child("prod", "web", &crate::inventory::testutil::here())
        .unwrap();
    inv.add_child("prod", "db", &crate::inventory::testutil::here())
        .unwrap();
    inv.reconcile();
    inv
}

#[test]
fn no_match_names_the_nearest_groups_and_hosts() {
    let hint = |p: &str| match select(&fqdn_fleet(), p).unwrap_err() {
        InventoryError::NoMatch { hint, .. } => hint,
        e => panic!("{p}: {e}"),
    };
    assert_eq!(hint("web01"), " (did you mean 'web01.example.com' (host)?)");
    assert_eq!(hint("WEB"), " (did you mean 'web' (group)?)");
    assert_eq!(hint("prdo"), " (did you mean 'prod' (group)?)");
    assert_eq!(
        hint("wbe*"),
        " (did you mean 'web' (group), 'web01.example.com' (host), 'web02.example.com' (host)?)"
    );
    // Nothing close: the groups there are, and where to see everything.
    assert_eq!(
        hint("frontend"),
        " (no name is close; the groups are 'web', 'db', 'prod'; `fleetup inventory --graph` \
         shows every group and host)"
    );
    let e = select(&fqdn_fleet(), "web:!frontend")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("pattern '!frontend' matches no host or group (no name is close"),
        "{e}"
    );
    // Only hosts, no groups: the hosts are listed.
    let mut flat = Inventory::new();
    flat.add_host("alpha", None);
    flat.add_host("beta", None);
    flat.reconcile();
    assert_eq!(
        suggest(&flat, "gamma-ray", Names::Both),
        " (no name is close; the hosts are 'alpha', 'beta'; `fleetup inventory --graph` shows \
         every group and host)"
    );
    assert_eq!(suggest(&Inventory::new(), "x", Names::Both), "");
    assert_eq!(
        suggest(&fqdn_fleet(), "wbe", Names::Groups),
        " (did you mean 'web'?)"
    );
    assert_eq!(
        suggest(&fqdn_fleet(), "db1.example.com", Names::Hosts),
        " (did you mean 'db01.example.com'?)"
    );
}
