//! Ansible's YAML inventory format (the `yaml` inventory plugin), read with YAML 1.1 rules as
//! Ansible's PyYAML loader reads them.
//!
//! Two layers:
//! - a loader ([`load_value`], [`load_doc`]) that turns YAML (or JSON) text into typed values
//!   the way ansible-core 2.19 does: the text is first tried as JSON (`1e3` is then the float
//!   1000.0), otherwise read as YAML 1.1 with PyYAML's implicit resolvers (`yes` is a bool but
//!   `"yes"` a string, `0755` is 493, `1:30` is 90, `1e3` is a string, ...), merge keys,
//!   anchors and aliases; `!unsafe` re-resolves its value as if it were plain, `!vault` is
//!   refused (fleetup does not decrypt);
//! - the inventory plugin ([`parse`]): top-level keys are groups, each with `hosts`, `vars` and
//!   `children`, warnings and errors decided as `plugins/inventory/yaml.py` decides them.
//!
//! The loader's stages, one module each: `compose` (events to raw nodes, aliases resolved),
//! `construct` (raw nodes to typed [`Node`]s, with `resolve` typing plain scalars); `value`
//! holds the typed values, `plugin` is the inventory plugin.

mod compose;
mod construct;
mod plugin;
mod resolve;
mod value;

use std::path::Path;

use serde_json::Value;

use super::{InventoryError, Origin, Result};
use compose::compose;
use construct::Constructor;

pub use plugin::parse;
pub(crate) use plugin::{is_empty_doc, mapping_to_vars};
pub use value::{Node, Yaml};

/// Loads a YAML (or JSON) document into a value with YAML 1.1 typing. An empty document is
/// `null`. Mapping keys that are not strings become the strings Ansible's JSON output shows
/// (`1`, `true`, `null`, `1.5`).
pub fn load_value(path: &Path, text: &str) -> Result<Value> {
    Ok(load_doc(path, text)?.to_json())
}

/// Nodes constructed per document at most (aliases are expanded, so "billion laughs" documents
/// would otherwise exhaust memory).
const NODE_BUDGET: usize = 10_000_000;

fn syntax(origin: Origin, message: impl Into<String>) -> InventoryError {
    InventoryError::Syntax {
        origin,
        message: message.into(),
    }
}

fn vault_error(path: &Path, line: usize) -> InventoryError {
    syntax(
        Origin {
            file: path.to_path_buf(),
            line,
        },
        "vault-encrypted values are not supported; decrypt them (ansible-vault decrypt) or pass \
         the value with -e",
    )
}

/// Loads one document as typed [`Node`]s. JSON first (as Ansible does), then YAML 1.1.
pub fn load_doc(path: &Path, text: &str) -> Result<Node> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with("$ANSIBLE_VAULT") {
        return Err(syntax(
            Origin {
                file: path.to_path_buf(),
                line: 1,
            },
            "vault-encrypted files are not supported; decrypt it (ansible-vault decrypt) or pass \
             its values with -e",
        ));
    }
    let json = serde_json::from_str::<Value>(text).ok();
    match compose(path, text) {
        Ok(raw) => {
            let mut c = Constructor {
                path,
                json: json.is_some(),
                budget: NODE_BUDGET,
            };
            match raw {
                Some(raw) => c.construct(&raw),
                None => Ok(Node {
                    value: Yaml::Null,
                    line: 1,
                }),
            }
        }
        // Valid JSON the YAML parser cannot read: take JSON's reading, without line numbers.
        Err(_) if json.is_some() => from_json(path, json.as_ref().unwrap_or(&Value::Null)),
        Err(e) => Err(e),
    }
}

fn from_json(path: &Path, v: &Value) -> Result<Node> {
    let value = match v {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Yaml::Int(i128::from(i)),
            (_, Some(u), _) => Yaml::Int(i128::from(u)),
            (_, _, f) => Yaml::Float(f.unwrap_or(f64::NAN)),
        },
        Value::String(s) => Yaml::Str(s.clone()),
        Value::Array(a) => Yaml::Seq(
            a.iter()
                .map(|v| from_json(path, v))
                .collect::<Result<_>>()?,
        ),
        Value::Object(o) => {
            if o.get("__ansible_vault").is_some_and(Value::is_string) {
                return Err(vault_error(path, 1));
            }
            if let Some(Value::String(s)) = o.get("__ansible_unsafe") {
                Yaml::Str(s.clone())
            } else {
                let mut pairs = Vec::new();
                for (k, v) in o {
                    pairs.push((
                        Node {
                            value: Yaml::Str(k.clone()),
                            line: 1,
                        },
                        from_json(path, v)?,
                    ));
                }
                Yaml::Map(pairs)
            }
        }
    };
    Ok(Node { value, line: 1 })
}

#[cfg(test)]
mod tests;
