//! Raw nodes to typed [`Node`]s (PyYAML's `SafeConstructor` as Ansible configures it): tags,
//! merge keys, duplicate keys, Ansible's JSON encodings of unsafe and vault values.

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use saphyr_parser::ScalarStyle;

use super::compose::Raw;
use super::resolve::{
    Kind, construct_float, construct_int, construct_timestamp, resolve, resolve_json,
};
use super::{Node, Yaml, syntax, vault_error};
use crate::inventory::{InventoryError, Origin, Result};

const TAG_PREFIX: &str = "tag:yaml.org,2002:";

pub(super) struct Constructor<'a> {
    pub(super) path: &'a Path,
    /// The text is valid JSON: plain scalars follow JSON typing, duplicate keys are silent,
    /// and `{"__ansible_unsafe": ..}` / `{"__ansible_vault": ..}` are Ansible's JSON encodings.
    pub(super) json: bool,
    pub(super) budget: usize,
}

impl Constructor<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> InventoryError {
        syntax(
            Origin {
                file: self.path.to_path_buf(),
                line,
            },
            message,
        )
    }

    pub(super) fn construct(&mut self, raw: &Raw) -> Result<Node> {
        self.budget = self.budget.checked_sub(1).ok_or_else(|| {
            self.err(
                raw.line(),
                "document too large (too many aliased nodes to expand)",
            )
        })?;
        let line = raw.line();
        let value = match raw {
            Raw::Scalar {
                value, style, tag, ..
            } => {
                let kind = match tag.as_deref() {
                    None if *style == ScalarStyle::Plain => {
                        if self.json {
                            resolve_json(value)
                        } else {
                            resolve(value)
                        }
                    }
                    None => Kind::Str,
                    // `!` and `!unsafe` re-resolve the value as if it were plain (ansible's
                    // `_resolve_and_construct_object`): `!unsafe 123` is the int 123.
                    Some("!" | "!unsafe") => resolve(value),
                    Some("!vault" | "!vault-encrypted") => {
                        return Err(vault_error(self.path, line));
                    }
                    Some(t) => match t.strip_prefix(TAG_PREFIX) {
                        Some("null") => Kind::Null,
                        Some("bool") => Kind::Bool,
                        Some("int") => Kind::Int,
                        Some("float") => Kind::Float,
                        Some("timestamp") => Kind::Timestamp,
                        Some("str" | "python/unicode" | "binary") => Kind::Str,
                        Some("merge") => Kind::Merge,
                        Some("value") => Kind::Value,
                        Some("seq" | "map" | "set" | "omap" | "pairs" | "python/dict") => {
                            return Err(self.err(
                                line,
                                format!("the tag '{t}' needs a collection, found a scalar"),
                            ));
                        }
                        _ => return Err(self.unknown_tag(line, t)),
                    },
                };
                self.scalar(kind, value, line)?
            }
            Raw::Seq { items, tag, .. } => match tag
                .as_deref()
                .map(|t| t.strip_prefix(TAG_PREFIX).unwrap_or(t))
            {
                None | Some("!" | "!unsafe" | "seq") => Yaml::Seq(
                    items
                        .iter()
                        .map(|i| self.construct(i))
                        .collect::<Result<_>>()?,
                ),
                Some("omap" | "pairs") => {
                    let mut out = Vec::new();
                    for item in items {
                        let Raw::Map { pairs, line, .. } = &**item else {
                            return Err(self.err(item.line(), "expected a mapping of length 1"));
                        };
                        let [(k, v)] = pairs.as_slice() else {
                            return Err(self.err(*line, "expected a single mapping item"));
                        };
                        let pair = vec![self.construct(k)?, self.construct(v)?];
                        out.push(Node {
                            value: Yaml::Seq(pair),
                            line: *line,
                        });
                    }
                    Yaml::Seq(out)
                }
                Some("!vault" | "!vault-encrypted") => return Err(vault_error(self.path, line)),
                Some(t) => return Err(self.unknown_tag(line, tag.as_deref().unwrap_or(t))),
            },
            Raw::Map { pairs, tag, .. } => match tag
                .as_deref()
                .map(|t| t.strip_prefix(TAG_PREFIX).unwrap_or(t))
            {
                None | Some("!" | "!unsafe" | "map" | "python/dict") => self.mapping(pairs)?,
                Some("set") => match self.mapping(pairs)? {
                    Yaml::Map(pairs) => Yaml::Seq(pairs.into_iter().map(|(k, _)| k).collect()),
                    other => other,
                },
                Some("!vault" | "!vault-encrypted") => return Err(vault_error(self.path, line)),
                Some(t) => return Err(self.unknown_tag(line, tag.as_deref().unwrap_or(t))),
            },
        };
        Ok(Node { value, line })
    }

    fn unknown_tag(&self, line: usize, tag: &str) -> InventoryError {
        self.err(
            line,
            format!("could not determine a constructor for the tag '{tag}'"),
        )
    }

    fn scalar(&self, kind: Kind, value: &str, line: usize) -> Result<Yaml> {
        Ok(match kind {
            Kind::Null => Yaml::Null,
            Kind::Str => Yaml::Str(value.to_owned()),
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" | "true" | "on" => Yaml::Bool(true),
                "no" | "false" | "off" => Yaml::Bool(false),
                _ => return Err(self.err(line, format!("invalid boolean '{value}'"))),
            },
            Kind::Int => {
                if self.json {
                    match value.parse::<i128>() {
                        Ok(i) => Yaml::Int(i),
                        Err(_) => Yaml::Float(value.parse().unwrap_or(f64::NAN)),
                    }
                } else {
                    construct_int(value)
                        .ok_or_else(|| self.err(line, format!("invalid integer '{value}'")))?
                }
            }
            Kind::Float => {
                if self.json {
                    Yaml::Float(
                        value
                            .parse()
                            .map_err(|_| self.err(line, format!("invalid number '{value}'")))?,
                    )
                } else {
                    Yaml::Float(
                        construct_float(value)
                            .ok_or_else(|| self.err(line, format!("invalid float '{value}'")))?,
                    )
                }
            }
            Kind::Timestamp => Yaml::Time(
                construct_timestamp(value)
                    .ok_or_else(|| self.err(line, format!("invalid timestamp '{value}'")))?,
            ),
            Kind::Merge => return Err(self.unknown_tag(line, "tag:yaml.org,2002:merge")),
            Kind::Value => return Err(self.unknown_tag(line, "tag:yaml.org,2002:value")),
        })
    }

    /// `<<` merge keys (PyYAML's `flatten_mapping`): merged pairs go first, so the mapping's
    /// own keys win; in a list of merged mappings, the first one wins.
    fn flatten(&self, pairs: &[(Rc<Raw>, Rc<Raw>)]) -> Result<Vec<(Rc<Raw>, Rc<Raw>)>> {
        let mut merge = Vec::new();
        let mut own = Vec::new();
        for (k, v) in pairs {
            if !self.json && is_merge_key(k) {
                match &**v {
                    Raw::Map { pairs: sub, .. } => merge.extend(self.flatten(sub)?),
                    Raw::Seq { items, .. } => {
                        let mut subs = Vec::new();
                        for item in items {
                            let Raw::Map { pairs: sub, .. } = &**item else {
                                return Err(self.err(item.line(), "expected a mapping for merging"));
                            };
                            subs.push(self.flatten(sub)?);
                        }
                        for sub in subs.into_iter().rev() {
                            merge.extend(sub);
                        }
                    }
                    Raw::Scalar { .. } => {
                        return Err(self.err(
                            v.line(),
                            "expected a mapping or list of mappings for merging",
                        ));
                    }
                }
            } else {
                own.push((Rc::clone(k), Rc::clone(v)));
            }
        }
        merge.extend(own);
        Ok(merge)
    }

    fn mapping(&mut self, pairs: &[(Rc<Raw>, Rc<Raw>)]) -> Result<Yaml> {
        let flat = self.flatten(pairs)?;
        let mut out: Vec<(Node, Node)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (k, v) in &flat {
            let key = match &**k {
                // A plain `=` key is the string "=" (PyYAML's flatten_mapping).
                Raw::Scalar {
                    value,
                    style: ScalarStyle::Plain,
                    tag: None,
                    line,
                } if value == "=" => Node {
                    value: Yaml::Str("=".into()),
                    line: *line,
                },
                _ => self.construct(k)?,
            };
            let Some(pk) = key.value.py_key() else {
                return Err(self.err(
                    key.line,
                    "found unhashable key (a list or mapping used as a key)",
                ));
            };
            let value = self.construct(v)?;
            if let Some(&i) = index.get(&pk) {
                if !self.json {
                    tracing::warn!(
                        "{}:{}: found duplicate mapping key '{}', using the last value",
                        self.path.display(),
                        key.line,
                        key.value.key_string()
                    );
                }
                out[i].1 = value;
            } else {
                index.insert(pk, out.len());
                out.push((key, value));
            }
        }
        if self.json {
            let find = |name: &str| out.iter().find(|(k, _)| k.value == Yaml::Str(name.into()));
            if let Some((_, v)) = find("__ansible_vault") {
                if matches!(v.value, Yaml::Str(_)) {
                    return Err(vault_error(self.path, v.line));
                }
            }
            if let Some((_, v)) = find("__ansible_unsafe") {
                if let Yaml::Str(s) = &v.value {
                    return Ok(Yaml::Str(s.clone()));
                }
            }
        }
        Ok(Yaml::Map(out))
    }
}

fn is_merge_key(k: &Raw) -> bool {
    match k {
        Raw::Scalar {
            value,
            style: ScalarStyle::Plain,
            tag: None,
            ..
        } => value == "<<",
        Raw::Scalar { tag: Some(t), .. } => t == "tag:yaml.org,2002:merge",
        _ => false,
    }
}
