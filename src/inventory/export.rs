//! `fleetup inventory --list` and `--graph`, in the shapes `ansible-inventory` prints.

use serde_json::Value;

use super::Inventory;

/// The `ansible-inventory --list` document for the `selected` hosts.
pub fn list(inv: &Inventory, selected: &[String]) -> Value {
    let _ = (inv, selected);
    Value::Null
}

/// The `ansible-inventory --graph` tree under `group`, limited to the `selected` hosts.
pub fn graph(inv: &Inventory, group: &str, selected: &[String]) -> String {
    let _ = (inv, group, selected);
    String::new()
}
