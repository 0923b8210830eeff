//! Fixtures shared by the unit tests of several inventory modules, so that each exists once.

use serde_json::json;

use super::{Inventory, Origin, UNGROUPED, Vars};

/// A JSON object as host variables (the unit tests of variable readers and settings).
pub fn vars(v: serde_json::Value) -> Vars {
    match v {
        serde_json::Value::Object(m) => m.into_iter().collect(),
        other => panic!("not an object: {other}"),
    }
}

/// An origin for builder calls whose errors the test does not look at.
pub fn here() -> Origin {
    Origin {
        file: "t".into(),
        line: 1,
    }
}

/// The example inventory of the export and pattern tests; `ansible-inventory` was run on it
/// for their expected outputs:
/// ```ini
/// lonely a=1
/// [web]
/// web1 x=1
/// web2
/// web3:2222
/// [db]
/// db1
/// web1
/// [prod:children]
/// web
/// db
/// [empty]
/// [prod:vars]
/// p=1
/// ```
pub fn example() -> Inventory {
    let mut inv = Inventory::new();
    inv.add_host("lonely", Some(UNGROUPED));
    inv.set_host_var("lonely", "a", json!(1));
    for h in ["web1", "web2", "web3"] {
        inv.add_host(h, Some("web"));
    }
    inv.set_host_var("web1", "x", json!(1));
    inv.set_host_var("web3", "ansible_port", json!(2222));
    inv.add_host("db1", Some("db"));
    inv.add_host("web1", Some("db"));
    inv.add_child("prod", "web", &here()).unwrap();
    inv.add_child("prod", "db", &here()).unwrap();
    inv.add_group("empty");
    inv.set_group_var("prod", "p", json!(1));
    inv.reconcile();
    inv
}
