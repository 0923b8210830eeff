//! The `yaml` inventory plugin: top-level keys are groups, each with `hosts`, `vars` and
//! `children`; warnings and errors are decided as `plugins/inventory/yaml.py` decides them.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::{Node, Yaml, load_doc, syntax};
use crate::inventory::address::{self, Address};
use crate::inventory::{Inventory, InventoryError, Origin, Result, Vars, check_host_name, range};

/// Reads one YAML inventory file into `inv`.
pub fn parse(inv: &mut Inventory, path: &Path, text: &str) -> Result<()> {
    let doc = load_doc(path, text)?;
    let at = |line: usize| Origin {
        file: path.to_path_buf(),
        line,
    };
    let pairs = match &doc.value {
        // `if not data`: an empty document or an empty mapping.
        Yaml::Null => return Err(syntax(at(doc.line), "parsed empty YAML file")),
        Yaml::Map(pairs) if pairs.is_empty() => {
            return Err(syntax(at(doc.line), "parsed empty YAML file"));
        }
        Yaml::Map(pairs) => pairs,
        other => {
            return Err(syntax(
                at(doc.line),
                format!(
                    "YAML inventory has invalid structure, it should be a dictionary, got: {}",
                    other.type_name()
                ),
            ));
        }
    };
    if let Some((k, v)) = pairs
        .iter()
        .find(|(k, _)| k.value == Yaml::Str("plugin".into()))
    {
        if v.value.truthy() {
            return Err(syntax(
                at(k.line),
                "this is an inventory plugin configuration file (it has a 'plugin' key), not a YAML \
                 inventory; fleetup does not run inventory plugins",
            ));
        }
    }
    let mut p = Plugin { inv, path };
    for (name, data) in pairs {
        p.group(name, data)?;
    }
    Ok(())
}

static RE_INVALID_GROUP_CHARS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\d\W]|[^\w]").expect("regex"));

struct Plugin<'a> {
    inv: &'a mut Inventory,
    path: &'a Path,
}

impl Plugin<'_> {
    fn at(&self, line: usize) -> Origin {
        Origin {
            file: self.path.to_path_buf(),
            line,
        }
    }

    fn warn(&self, line: usize, msg: &str) {
        tracing::warn!("{}: {msg}", self.at(line));
    }

    /// yaml.py's `_parse_group`: returns the group's name (even when the entry was skipped, as
    /// Ansible does; the caller's `add_child` then decides).
    fn group(&mut self, name: &Node, data: &Node) -> Result<Yaml> {
        let section_pairs = match &data.value {
            Yaml::Map(pairs) => Some(pairs),
            Yaml::Null => None,
            _ => {
                self.warn(
                    name.line,
                    &format!(
                        "skipping '{}' as this is not a valid group definition",
                        name.value.key_string()
                    ),
                );
                return Ok(name.value.clone());
            }
        };
        let group = match &name.value {
            Yaml::Str(s) if !s.is_empty() => s.clone(),
            Yaml::Str(_) => {
                return Err(InventoryError::BadGroupName {
                    origin: self.at(name.line),
                    name: String::new(),
                    reason: "empty".into(),
                });
            }
            other => {
                return Err(InventoryError::BadGroupName {
                    origin: self.at(name.line),
                    name: other.key_string(),
                    reason: format!("expected a string but got {}", other.type_name()),
                });
            }
        };
        if RE_INVALID_GROUP_CHARS.is_match(&group) {
            self.warn(
                name.line,
                &format!("invalid characters were found in group name '{group}' but not replaced"),
            );
        }
        self.inv.add_group(&group);
        let Some(pairs) = section_pairs else {
            return Ok(Yaml::Str(group));
        };

        // A string where a section's mapping is expected is a one-key mapping; any other
        // non-mapping section is an error (checked for all three before any is read).
        let is_section = |k: &Node| matches!(&k.value, Yaml::Str(s) if matches!(s.as_str(), "vars" | "children" | "hosts"));
        for (k, v) in pairs {
            if is_section(k) && !matches!(v.value, Yaml::Map(_) | Yaml::Null | Yaml::Str(_)) {
                return Err(syntax(
                    self.at(v.line),
                    format!(
                        "invalid \"{}\" entry for \"{group}\" group, requires a dictionary, found \"{}\" instead",
                        k.value.key_string(),
                        v.value.type_name()
                    ),
                ));
            }
        }
        for (k, v) in pairs {
            let converted;
            let entries: &[(Node, Node)] = match &v.value {
                Yaml::Map(entries) => entries,
                Yaml::Str(s) if is_section(k) => {
                    converted = [(
                        Node {
                            value: Yaml::Str(s.clone()),
                            line: v.line,
                        },
                        Node {
                            value: Yaml::Null,
                            line: v.line,
                        },
                    )];
                    &converted
                }
                Yaml::Null => continue, // an empty key is skipped silently
                other => {
                    self.warn(
                        k.line,
                        &format!(
                            "skipping key ({}) in group ({group}) as it is not a mapping, it is a {}",
                            k.value.key_string(),
                            other.type_name()
                        ),
                    );
                    continue;
                }
            };
            match &k.value {
                Yaml::Str(s) if s == "vars" => {
                    for (var, value) in entries {
                        self.set_group_var(&group, var, value)?;
                    }
                }
                Yaml::Str(s) if s == "children" => {
                    for (sub, subdata) in entries {
                        let child = self.group(sub, subdata)?;
                        self.add_child(&group, &child, sub.line)?;
                    }
                }
                Yaml::Str(s) if s == "hosts" => {
                    for (pattern, hostdata) in entries {
                        self.hosts(&group, pattern, hostdata)?;
                    }
                }
                other => self.warn(
                    k.line,
                    &format!(
                        "skipping unexpected key ({}) in group ({group}), only \"vars\", \"children\" and \"hosts\" are valid",
                        other.key_string()
                    ),
                ),
            }
        }
        Ok(Yaml::Str(group))
    }

    fn set_group_var(&mut self, group: &str, var: &Node, value: &Node) -> Result<()> {
        let key = var.value.key_string();
        let json = value.to_json();
        if key == "ansible_group_priority" && crate::inventory::python_int(&json).is_none() {
            return Err(syntax(
                self.at(value.line),
                format!("ansible_group_priority must be an integer, got {json}"),
            ));
        }
        self.inv.set_group_var(group, &key, json);
        Ok(())
    }

    /// `InventoryData.add_child`: the child may be a group or, surprisingly, a host.
    fn add_child(&mut self, parent: &str, child: &Yaml, line: usize) -> Result<()> {
        match child {
            Yaml::Str(c) if self.inv.group(c).is_some() => {
                self.inv.add_child(parent, c, &self.at(line))
            }
            Yaml::Str(c) if self.inv.host(c).is_some() => {
                self.inv.add_host(c, Some(parent));
                Ok(())
            }
            other => Err(syntax(
                self.at(line),
                format!("'{}' is not a known host nor group", other.key_string()),
            )),
        }
    }

    fn hosts(&mut self, group: &str, pattern: &Node, data: &Node) -> Result<()> {
        let Yaml::Str(text) = &pattern.value else {
            return Err(syntax(
                self.at(pattern.line),
                format!(
                    "host pattern {} must be a string; enclose integers/floats in quotation marks",
                    pattern.value.key_string()
                ),
            ));
        };
        let address = address::parse(text).unwrap_or_else(|| Address::whole(text));
        let port = address.ansible_port();
        let names = if address.host.contains('[') {
            range::expand(&address.host)
                .map_err(|e| syntax(self.at(pattern.line), format!("host pattern '{text}': {e}")))?
        } else {
            vec![address.host]
        };
        let vars: &[(Node, Node)] = match &data.value {
            Yaml::Null => &[],
            Yaml::Map(pairs) => pairs,
            other => {
                return Err(syntax(
                    self.at(data.line),
                    format!(
                        "invalid data for host '{text}': expected a dictionary, got {}",
                        other.type_name()
                    ),
                ));
            }
        };
        self.inv
            .room_for(&names)
            .map_err(|e| syntax(self.at(pattern.line), format!("host pattern '{text}': {e}")))?;
        for name in names {
            check_host_name(&name).map_err(|reason| InventoryError::BadHostName {
                origin: self.at(pattern.line),
                name: name.clone(),
                reason,
            })?;
            let new = self.inv.host(&name).is_none();
            self.inv.add_host(&name, Some(group));
            // Ansible sets the port only when it creates the host, and not for port 0.
            if let Some(port) = port.as_ref().filter(|_| new) {
                self.inv.set_host_var(&name, "ansible_port", port.clone());
            }
            for (k, v) in vars {
                self.inv
                    .set_host_var(&name, &k.value.key_string(), v.to_json());
            }
        }
        Ok(())
    }
}

/// Variables from a loaded document that must be a mapping (group_vars files, `-e @file`).
pub(crate) fn mapping_to_vars(node: &Node) -> Option<Vars> {
    match &node.value {
        Yaml::Map(pairs) => Some(
            pairs
                .iter()
                .map(|(k, v)| (k.value.key_string(), v.to_json()))
                .collect(),
        ),
        _ => None,
    }
}

/// Whether a loaded document is "falsy" in Python (ignored when it is a vars file).
pub(crate) fn is_empty_doc(node: &Node) -> bool {
    !node.value.truthy()
}
