//! `fleetup inventory --list` and `--graph`, in the shapes `ansible-inventory` prints.
//!
//! `--list` (ansible-core 2.19 `cli/inventory.py`, `json_inventory`): one object per group
//! reachable from `all`, with `hosts` (the group's own hosts, in order, limited to the
//! selection; never for `all`) and `children` (every child group's name, even one that is
//! itself dropped as empty); empty keys are dropped, and a group left with nothing is dropped
//! (its name still appears in its parent's `children`). `_meta.hostvars` holds the merged
//! variables of each selected host that has any, without Ansible's internal variables.
//!
//! `_meta.profile`: ansible-core 2.19 prints `"profile": "inventory_legacy"` (the name of its
//! JSON encoder profile); earlier releases did not. fleetup prints it, so that its output and
//! 2.19's compare equal without special cases; consumers of older output ignore unknown keys.
//!
//! Keys are sorted, as Ansible's `json.dumps(sort_keys=True)` sorts them, at every level.
//!
//! `--graph` (`_graph_group`): `@group:`, then each child group (recursively, so a group under
//! two parents is drawn twice), then the group's own hosts; `all` lists no hosts of its own.
//! Empty groups are drawn. Unlike Ansible, which ignores `--limit` in `--graph`, fleetup draws
//! only the selected hosts: the tree shows what fleetup would work on. Without a limit the
//! output is Ansible's, byte for byte, up to [`MAX_GRAPH_BYTES`] (where Ansible would go on
//! drawing the exponential tree of a ladder of diamonds, fleetup stops and says so).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{ALL, Inventory};

/// Variables Ansible never shows in `--list` (`constants.INTERNAL_STATIC_VARS`).
const INTERNAL_VARS: &[&str] = &[
    "ansible_async_path",
    "ansible_collection_name",
    "ansible_config_file",
    "ansible_dependent_role_names",
    "ansible_diff_mode",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_play_batch",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_role_names",
    "ansible_playbook_python",
    "ansible_role_name",
    "ansible_role_names",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "hostvars",
    "playbook_dir",
    "play_hosts",
    "role_name",
    "role_names",
    "role_path",
    "role_uuid",
];

/// The encoder profile ansible-core 2.19 names in `_meta.profile`.
pub const PROFILE: &str = "inventory_legacy";

/// The `ansible-inventory --list` document for the `selected` hosts.
pub fn list(inv: &Inventory, selected: &[String]) -> Value {
    let chosen: HashSet<&str> = selected.iter().map(String::as_str).collect();
    let mut doc = Map::new();
    let mut seen: HashSet<String> = HashSet::new();
    format_group(inv, ALL, &chosen, &mut seen, &mut doc);

    let mut hostvars = Map::new();
    for host in selected {
        let vars = shown_vars(inv, host);
        if !vars.is_empty() {
            hostvars.insert(host.clone(), Value::Object(vars));
        }
    }
    let mut meta = Map::new();
    meta.insert("hostvars".into(), Value::Object(hostvars));
    meta.insert("profile".into(), Value::String(PROFILE.into()));
    doc.insert("_meta".into(), Value::Object(meta));
    sort_keys(Value::Object(doc))
}

fn format_group(
    inv: &Inventory,
    name: &str,
    chosen: &HashSet<&str>,
    seen: &mut HashSet<String>,
    doc: &mut Map<String, Value>,
) {
    let Some(group) = inv.group(name) else { return };
    let mut entry = Map::new();
    if name != ALL {
        let hosts: Vec<Value> = group
            .hosts
            .iter()
            .filter(|h| chosen.contains(h.as_str()))
            .map(|h| Value::String(h.clone()))
            .collect();
        if !hosts.is_empty() {
            entry.insert("hosts".into(), Value::Array(hosts));
        }
    }
    if !group.children.is_empty() {
        let children = group
            .children
            .iter()
            .map(|c| Value::String(c.clone()))
            .collect();
        entry.insert("children".into(), Value::Array(children));
    }
    for child in &group.children {
        if !seen.contains(child) {
            format_group(inv, child, chosen, seen, doc);
            seen.insert(child.clone());
        }
    }
    if !entry.is_empty() {
        doc.insert(name.to_owned(), Value::Object(entry));
    }
}

/// A host's variables as `--list` shows them: merged, without internal variables, and
/// without `ansible_group_priority` when it came from a group (Ansible stores a group's
/// priority apart from its variables, so hosts never inherit it).
fn shown_vars(inv: &Inventory, host: &str) -> Map<String, Value> {
    let own_priority = inv
        .host(host)
        .is_some_and(|h| h.vars.contains_key("ansible_group_priority"))
        || inv.extra_vars().contains_key("ansible_group_priority");
    inv.host_vars(host)
        .into_iter()
        .filter(|(k, _)| !INTERNAL_VARS.contains(&k.as_str()))
        .filter(|(k, _)| own_priority || k != "ansible_group_priority")
        .collect()
}

/// The same value with every object's keys in sorted order (a no-op unless serde_json keeps
/// insertion order).
fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// The most bytes `--graph` draws. A group under two parents is drawn under each, so a ladder
/// of diamonds (`g0` → `a0`, `b0` → `g1` → …, a few hundred bytes of inventory) would draw
/// 2^n subtrees; the drawing stops past this, with a last line saying so. Any inventory whose
/// shared groups do not multiply like that draws whole (a million hosts take about 20 MiB).
pub const MAX_GRAPH_BYTES: usize = 64 << 20;

/// The `ansible-inventory --graph` tree under `group`, limited to the `selected` hosts.
/// Lines end in `\n`, including the last (Ansible's `display` adds it). Stops after
/// [`MAX_GRAPH_BYTES`].
pub fn graph(inv: &Inventory, group: &str, selected: &[String]) -> String {
    let chosen: HashSet<&str> = selected.iter().map(String::as_str).collect();
    let mut out = String::new();
    if graph_group(inv, group, 0, &chosen, &mut out).is_none() {
        out.push_str(&format!(
            "... (the graph stops here, past {} MiB: groups under several parents are drawn \
             under each of them; `--list` shows each group once)\n",
            MAX_GRAPH_BYTES >> 20
        ));
    }
    out
}

/// Draws one line; `None` once the drawing is past [`MAX_GRAPH_BYTES`].
fn graph_line(out: &mut String, depth: usize, name: &str) -> Option<()> {
    if out.len() > MAX_GRAPH_BYTES {
        return None;
    }
    if depth > 0 {
        out.push_str(&"  |".repeat(depth));
        out.push_str("--");
    }
    out.push_str(name);
    out.push('\n');
    Some(())
}

fn graph_group(
    inv: &Inventory,
    name: &str,
    depth: usize,
    chosen: &HashSet<&str>,
    out: &mut String,
) -> Option<()> {
    let Some(group) = inv.group(name) else {
        return Some(());
    };
    graph_line(out, depth, &format!("@{name}:"))?;
    for child in &group.children {
        graph_group(inv, child, depth + 1, chosen, out)?;
    }
    if name != ALL {
        for host in group.hosts.iter().filter(|h| chosen.contains(h.as_str())) {
            graph_line(out, depth + 1, host)?;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Vars;
    use crate::inventory::testutil::{example, here};
    use serde_json::json;

    fn all_hosts(inv: &Inventory) -> Vec<String> {
        inv.group_hosts(ALL)
    }

    #[test]
    fn list_matches_ansible_inventory() {
        let inv = example();
        let expected = json!({
            "_meta": {
                "hostvars": {
                    "db1": {"p": 1},
                    "lonely": {"a": 1},
                    "web1": {"p": 1, "x": 1},
                    "web2": {"p": 1},
                    "web3": {"ansible_port": 2222, "p": 1}
                },
                "profile": "inventory_legacy"
            },
            "all": {"children": ["ungrouped", "prod", "empty"]},
            "db": {"hosts": ["db1", "web1"]},
            "prod": {"children": ["web", "db"]},
            "ungrouped": {"hosts": ["lonely"]},
            "web": {"hosts": ["web1", "web2", "web3"]}
        });
        assert_eq!(list(&inv, &all_hosts(&inv)), expected);
    }

    #[test]
    fn list_with_a_limit_drops_empty_groups_but_keeps_child_names() {
        // `ansible-inventory --list --limit db`
        let inv = example();
        let expected = json!({
            "_meta": {
                "hostvars": {"db1": {"p": 1}, "web1": {"p": 1, "x": 1}},
                "profile": "inventory_legacy"
            },
            "all": {"children": ["ungrouped", "prod", "empty"]},
            "db": {"hosts": ["db1", "web1"]},
            "prod": {"children": ["web", "db"]},
            "web": {"hosts": ["web1"]}
        });
        assert_eq!(list(&inv, &["db1".into(), "web1".into()]), expected);
    }

    #[test]
    fn hosts_without_vars_are_not_in_hostvars_and_internal_vars_are_hidden() {
        let mut inv = Inventory::new();
        inv.add_host("bare", Some("g"));
        inv.add_host("tagged", Some("g"));
        inv.set_host_var("tagged", "inventory_file", json!("/x"));
        inv.set_group_var("g", "ansible_group_priority", json!(5));
        inv.reconcile();
        let doc = list(&inv, &all_hosts(&inv));
        assert_eq!(doc["_meta"]["hostvars"], json!({}));
        inv.set_extra_vars(Vars::from([("e".to_owned(), json!("1"))]));
        let doc = list(&inv, &all_hosts(&inv));
        assert_eq!(
            doc["_meta"]["hostvars"],
            json!({"bare": {"e": "1"}, "tagged": {"e": "1"}})
        );
    }

    #[test]
    fn nested_keys_are_sorted() {
        let mut inv = Inventory::new();
        inv.add_host("h", None);
        inv.set_host_var("h", "z", json!({"b": 1, "a": [{"y": 1, "x": 2}]}));
        inv.reconcile();
        let text = serde_json::to_string(&list(&inv, &all_hosts(&inv))).unwrap();
        assert!(text.contains(r#"{"a":[{"x":2,"y":1}],"b":1}"#), "{text}");
    }

    #[test]
    fn graph_matches_ansible_inventory_byte_for_byte() {
        let inv = example();
        let expected = "\
@all:
  |--@ungrouped:
  |  |--lonely
  |--@prod:
  |  |--@web:
  |  |  |--web1
  |  |  |--web2
  |  |  |--web3
  |  |--@db:
  |  |  |--db1
  |  |  |--web1
  |--@empty:
";
        assert_eq!(graph(&inv, ALL, &all_hosts(&inv)), expected);
        let expected = "\
@prod:
  |--@web:
  |  |--web1
  |  |--web2
  |  |--web3
  |--@db:
  |  |--db1
  |  |--web1
";
        assert_eq!(graph(&inv, "prod", &all_hosts(&inv)), expected);
    }

    #[test]
    fn graph_shows_only_selected_hosts() {
        let inv = example();
        let expected = "\
@prod:
  |--@web:
  |  |--web1
  |--@db:
  |  |--db1
  |  |--web1
";
        assert_eq!(
            graph(&inv, "prod", &["db1".into(), "web1".into()]),
            expected
        );
    }

    #[test]
    fn diamonds_are_drawn_under_each_parent_and_listed_once() {
        let mut inv = Inventory::new();
        inv.add_child("a", "b", &here()).unwrap();
        inv.add_child("a", "c", &here()).unwrap();
        inv.add_child("b", "d", &here()).unwrap();
        inv.add_child("c", "d", &here()).unwrap();
        inv.add_host("h", Some("d"));
        inv.reconcile();
        let g = graph(&inv, "a", &all_hosts(&inv));
        assert_eq!(
            g,
            "@a:\n  |--@b:\n  |  |--@d:\n  |  |  |--h\n  |--@c:\n  |  |--@d:\n  |  |  |--h\n"
        );
        let doc = list(&inv, &all_hosts(&inv));
        assert_eq!(doc["d"], json!({"hosts": ["h"]}));
        assert_eq!(doc["c"], json!({"children": ["d"]}));
        assert!(doc.get("ungrouped").is_none());
    }

    #[test]
    fn a_ladder_of_diamonds_stops_drawing_past_the_cap() {
        // Found while fuzzing: 28 diamonds (1.6 KB of INI) drew 2^28 subtrees, gigabytes, as
        // ansible-inventory does; the graph now stops past MAX_GRAPH_BYTES and says so.
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
        let g = graph(&inv, ALL, &all_hosts(&inv));
        assert!(
            g.len() > MAX_GRAPH_BYTES && g.len() < MAX_GRAPH_BYTES + 4096,
            "{}",
            g.len()
        );
        assert!(
            g.starts_with("@all:\n  |--@ungrouped:\n  |--@g0:\n"),
            "{}",
            &g[..100]
        );
        let last = g.lines().last().unwrap();
        assert!(
            last.starts_with("... (the graph stops here, past 64 MiB"),
            "{last}"
        );
        assert!(g.ends_with('\n'));
    }
}
