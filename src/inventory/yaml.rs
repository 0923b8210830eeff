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

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::LazyLock;

use regex::Regex;
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};
use serde_json::{Map, Number, Value};

use super::address::{self, Address};
use super::{Inventory, InventoryError, Origin, Result, Vars, check_host_name, range};

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

/// Loads a YAML (or JSON) document into a value with YAML 1.1 typing. An empty document is
/// `null`. Mapping keys that are not strings become the strings Ansible's JSON output shows
/// (`1`, `true`, `null`, `1.5`).
pub fn load_value(path: &Path, text: &str) -> Result<Value> {
    Ok(load_doc(path, text)?.to_json())
}

// ---------------------------------------------------------------------------------------------
// Typed YAML values
// ---------------------------------------------------------------------------------------------

/// A loaded YAML value, keeping what the inventory plugin needs and JSON loses: whether a
/// mapping key is a string, and the line each node starts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    /// Python ints are unbounded; wider than i128 falls back to `Float`.
    Int(i128),
    Float(f64),
    Str(String),
    /// A YAML timestamp, already in the ISO form Ansible prints (`2001-12-14`,
    /// `2001-12-14T21:59:43.100000-05:00`).
    Time(String),
    Seq(Vec<Node>),
    /// Pairs in document order, duplicate keys already resolved (first position, last value).
    Map(Vec<(Node, Node)>),
}

/// A [`Yaml`] value and the (1-based) line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Yaml,
    pub line: usize,
}

impl Yaml {
    fn type_name(&self) -> &'static str {
        match self {
            Yaml::Null => "null",
            Yaml::Bool(_) => "bool",
            Yaml::Int(_) => "int",
            Yaml::Float(_) => "float",
            Yaml::Str(_) => "str",
            Yaml::Time(_) => "date",
            Yaml::Seq(_) => "list",
            Yaml::Map(_) => "dict",
        }
    }

    /// Python truthiness.
    fn truthy(&self) -> bool {
        match self {
            Yaml::Null => false,
            Yaml::Bool(b) => *b,
            Yaml::Int(i) => *i != 0,
            Yaml::Float(f) => *f != 0.0,
            Yaml::Str(s) => !s.is_empty(),
            Yaml::Time(_) => true,
            Yaml::Seq(v) => !v.is_empty(),
            Yaml::Map(v) => !v.is_empty(),
        }
    }

    /// How Python would print this as a dict key in `json.dumps` / an error message.
    fn key_string(&self) -> String {
        match self {
            Yaml::Str(s) | Yaml::Time(s) => s.clone(),
            Yaml::Null => "null".into(),
            Yaml::Bool(b) => b.to_string(),
            Yaml::Int(i) => i.to_string(),
            Yaml::Float(f) => py_float_repr(*f),
            Yaml::Seq(_) | Yaml::Map(_) => format!("{self:?}"),
        }
    }

    /// Python dict-key identity: `1 == 1.0 == True`. `None` when unhashable (list, dict).
    fn py_key(&self) -> Option<String> {
        Some(match self {
            Yaml::Null => "N".into(),
            Yaml::Bool(b) => format!("n{}", i32::from(*b)),
            Yaml::Int(i) => format!("n{i}"),
            #[allow(clippy::cast_possible_truncation)]
            Yaml::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30 => {
                format!("n{}", *f as i128)
            }
            Yaml::Float(f) => format!("f{f}"),
            Yaml::Str(s) => format!("s{s}"),
            Yaml::Time(t) => format!("t{t}"),
            Yaml::Seq(_) | Yaml::Map(_) => return None,
        })
    }
}

impl Node {
    /// The JSON value Ansible would show. Python ints that do not fit JSON's range become
    /// floats; `.inf`/`.nan` (which JSON cannot hold) become the strings `inf`, `-inf`, `nan`.
    pub fn to_json(&self) -> Value {
        match &self.value {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Int(i) => {
                if let Ok(v) = i64::try_from(*i) {
                    Value::from(v)
                } else if let Ok(v) = u64::try_from(*i) {
                    Value::from(v)
                } else {
                    #[allow(clippy::cast_precision_loss)]
                    float_json(*i as f64)
                }
            }
            Yaml::Float(f) => float_json(*f),
            Yaml::Str(s) | Yaml::Time(s) => Value::String(s.clone()),
            Yaml::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Yaml::Map(pairs) => {
                let mut m = Map::new();
                for (k, v) in pairs {
                    m.insert(k.value.key_string(), v.to_json());
                }
                Value::Object(m)
            }
        }
    }
}

fn float_json(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("nan".into()),
        None if f > 0.0 => Value::String("inf".into()),
        None => Value::String("-inf".into()),
    }
}

/// Python's `repr(float)` (as `json.dumps` writes float dict keys).
fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let sci = format!("{f:e}"); // shortest round-trip digits: "1.5e20", "-1e-7"
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    }
}

// ---------------------------------------------------------------------------------------------
// Loader: events -> nodes -> typed values
// ---------------------------------------------------------------------------------------------

/// A composed YAML node, before construction (aliases share the anchored node).
#[derive(Debug)]
enum Raw {
    Scalar {
        value: String,
        style: ScalarStyle,
        tag: Option<String>,
        line: usize,
    },
    Seq {
        items: Vec<Rc<Raw>>,
        tag: Option<String>,
        line: usize,
    },
    Map {
        pairs: Vec<(Rc<Raw>, Rc<Raw>)>,
        tag: Option<String>,
        line: usize,
    },
}

impl Raw {
    fn line(&self) -> usize {
        match self {
            Raw::Scalar { line, .. } | Raw::Seq { line, .. } | Raw::Map { line, .. } => *line,
        }
    }
}

const TAG_PREFIX: &str = "tag:yaml.org,2002:";
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

fn scan_error(path: &Path, e: &ScanError) -> InventoryError {
    syntax(
        Origin {
            file: path.to_path_buf(),
            line: e.marker().line().max(1),
        },
        format!("YAML syntax error: {}", e.info()),
    )
}

/// Events to one document's node tree (`None` for an empty stream).
fn compose(path: &Path, text: &str) -> Result<Option<Rc<Raw>>> {
    let mut c = Composer {
        path,
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
    };
    let mut doc = None;
    loop {
        let (ev, span) = c.next()?;
        match ev {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => return Ok(doc),
            Event::DocumentStart(_) => {
                if doc.is_some() {
                    return Err(syntax(
                        Origin {
                            file: path.to_path_buf(),
                            line: span.start.line(),
                        },
                        "expected a single document in the stream, but found another document",
                    ));
                }
                let (ev, span) = c.next()?;
                doc = Some(c.node(ev, span)?);
            }
            other => {
                return Err(syntax(
                    Origin {
                        file: path.to_path_buf(),
                        line: span.start.line(),
                    },
                    format!("unexpected YAML event {other:?}"),
                ));
            }
        }
    }
}

struct Composer<'a> {
    path: &'a Path,
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Rc<Raw>>,
}

impl<'a> Composer<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        match self.parser.next_event() {
            Some(Ok(x)) => Ok(x),
            Some(Err(e)) => Err(scan_error(self.path, &e)),
            None => Err(syntax(
                Origin {
                    file: self.path.to_path_buf(),
                    line: 1,
                },
                "unexpected end of YAML stream",
            )),
        }
    }

    fn node(&mut self, ev: Event<'a>, span: Span) -> Result<Rc<Raw>> {
        let line = span.start.line().max(1);
        let tag_str = |t: Option<std::borrow::Cow<'_, saphyr_parser::Tag>>| {
            t.map(|t| format!("{}{}", t.handle, t.suffix))
        };
        let (node, anchor) = match ev {
            Event::Alias(id) => {
                return self.anchors.get(&id).cloned().ok_or_else(|| {
                    syntax(
                        Origin {
                            file: self.path.to_path_buf(),
                            line,
                        },
                        "found undefined (or recursive) alias",
                    )
                });
            }
            Event::Scalar(value, style, anchor, tag) => (
                Raw::Scalar {
                    value: value.into_owned(),
                    style,
                    tag: tag_str(tag),
                    line,
                },
                anchor,
            ),
            Event::SequenceStart(anchor, tag) => {
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, span)?);
                }
                (
                    Raw::Seq {
                        items,
                        tag: tag_str(tag),
                        line,
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, tag) => {
                let mut pairs = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let k = self.node(ev, span)?;
                    let (ev, span) = self.next()?;
                    let v = self.node(ev, span)?;
                    pairs.push((k, v));
                }
                (
                    Raw::Map {
                        pairs,
                        tag: tag_str(tag),
                        line,
                    },
                    anchor,
                )
            }
            other => {
                return Err(syntax(
                    Origin {
                        file: self.path.to_path_buf(),
                        line,
                    },
                    format!("unexpected YAML event {other:?}"),
                ));
            }
        };
        let node = Rc::new(node);
        if anchor > 0 {
            self.anchors.insert(anchor, Rc::clone(&node));
        }
        Ok(node)
    }
}

/// What an untagged plain scalar resolves to (PyYAML's `Resolver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Timestamp,
    Merge,
    Value,
    Str,
}

static RE_BOOL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
        .expect("regex")
});
static RE_FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?",
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
        r"|[-+]?\.(?:inf|Inf|INF)",
        r"|\.(?:nan|NaN|NAN))$"
    ))
    .expect("regex")
});
static RE_INT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[-+]?0b[0-1_]+",
        r"|[-+]?0[0-7_]+",
        r"|[-+]?(?:0|[1-9][0-9_]*)",
        r"|[-+]?0x[0-9a-fA-F_]+",
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$"
    ))
    .expect("regex")
});
static RE_NULL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:~|null|Null|NULL|)$").expect("regex"));
static RE_TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]",
        r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?",
        r"(?:[Tt]|[ \t]+)[0-9][0-9]?",
        r":[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?",
        r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$"
    ))
    .expect("regex")
});
/// PyYAML's `SafeConstructor.timestamp_regexp`, to take a resolved timestamp apart.
static RE_TIMESTAMP_PARTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?P<year>[0-9][0-9][0-9][0-9])-(?P<month>[0-9][0-9]?)-(?P<day>[0-9][0-9]?)",
        r"(?:(?:[Tt]|[ \t]+)(?P<hour>[0-9][0-9]?):(?P<minute>[0-9][0-9]):(?P<second>[0-9][0-9])",
        r"(?:\.(?P<fraction>[0-9]*))?",
        r"(?:[ \t]*(?P<tz>Z|(?P<tz_sign>[-+])(?P<tz_hour>[0-9][0-9]?)(?::(?P<tz_minute>[0-9][0-9]))?))?)?$"
    ))
    .expect("regex")
});

/// PyYAML's implicit resolution of a plain scalar (YAML 1.1).
fn resolve(value: &str) -> Kind {
    if RE_BOOL.is_match(value) {
        Kind::Bool
    } else if RE_FLOAT.is_match(value) {
        Kind::Float
    } else if RE_INT.is_match(value) {
        Kind::Int
    } else if value == "<<" {
        Kind::Merge
    } else if RE_NULL.is_match(value) {
        Kind::Null
    } else if RE_TIMESTAMP.is_match(value) {
        Kind::Timestamp
    } else if value == "=" {
        Kind::Value
    } else {
        Kind::Str
    }
}

/// How a plain scalar of a JSON document resolves (they are only numbers, booleans, null).
fn resolve_json(value: &str) -> Kind {
    match value {
        "true" | "false" => Kind::Bool,
        "null" => Kind::Null,
        v if v.contains(['.', 'e', 'E']) => Kind::Float,
        _ => Kind::Int,
    }
}

struct Constructor<'a> {
    path: &'a Path,
    /// The text is valid JSON: plain scalars follow JSON typing, duplicate keys are silent,
    /// and `{"__ansible_unsafe": ..}` / `{"__ansible_vault": ..}` are Ansible's JSON encodings.
    json: bool,
    budget: usize,
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

    fn construct(&mut self, raw: &Raw) -> Result<Node> {
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

fn split_sign(value: &str) -> (i128, &str) {
    match value.as_bytes().first() {
        Some(b'-') => (-1, &value[1..]),
        Some(b'+') => (1, &value[1..]),
        _ => (1, value),
    }
}

/// PyYAML's `construct_yaml_int`.
fn construct_int(value: &str) -> Option<Yaml> {
    let cleaned: String = value.trim().replace('_', "");
    let (sign, v) = split_sign(&cleaned);
    let parsed = if v == "0" {
        Some(0)
    } else if let Some(b) = v.strip_prefix("0b") {
        i128::from_str_radix(b, 2).ok()
    } else if let Some(h) = v.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()
    } else if v.starts_with('0') {
        i128::from_str_radix(v, 8).ok()
    } else if v.contains(':') {
        let mut total: i128 = 0;
        for part in v.split(':') {
            total = total
                .checked_mul(60)?
                .checked_add(part.parse::<i128>().ok()?)?;
        }
        Some(total)
    } else if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        match v.parse::<i128>() {
            Ok(i) => Some(i),
            // Wider than i128: Python keeps it exact, JSON cannot; keep the magnitude.
            #[allow(clippy::cast_precision_loss)]
            Err(_) => return v.parse::<f64>().ok().map(|f| Yaml::Float(sign as f64 * f)),
        }
    } else {
        None
    };
    parsed.map(|i| Yaml::Int(sign * i))
}

/// PyYAML's `construct_yaml_float`.
fn construct_float(value: &str) -> Option<f64> {
    let cleaned = value.trim().replace('_', "").to_ascii_lowercase();
    let (sign, v) = split_sign(&cleaned);
    #[allow(clippy::cast_precision_loss)]
    let sign = sign as f64;
    if v == ".inf" {
        return Some(sign * f64::INFINITY);
    }
    if v == ".nan" {
        return Some(f64::NAN);
    }
    if v.contains(':') {
        let mut total = 0.0;
        for part in v.split(':') {
            total = total * 60.0 + py_float(part)?;
        }
        return Some(sign * total);
    }
    py_float(v).map(|f| sign * f)
}

/// Python's `float(str)` for the forms YAML produces.
fn py_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.starts_with(['+', '-']) && s.len() == 1 {
        return None;
    }
    s.parse::<f64>().ok()
}

/// PyYAML's `construct_yaml_timestamp`, printed as ansible-inventory prints the Python `date` /
/// `datetime` (`isoformat()`). Invalid dates (`2001-02-30`) are errors, as in Python.
fn construct_timestamp(value: &str) -> Option<String> {
    let c = RE_TIMESTAMP_PARTS.captures(value)?;
    let num = |name: &str| c.name(name).and_then(|m| m.as_str().parse::<u32>().ok());
    let (year, month, day) = (num("year")?, num("month")?, num("day")?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year == 0 || day == 0 || day > days_in_month {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    let Some(hour) = num("hour") else {
        return Some(date);
    };
    let (minute, second) = (num("minute")?, num("second")?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut out = format!("{date}T{hour:02}:{minute:02}:{second:02}");
    if let Some(f) = c
        .name("fraction")
        .map(|m| m.as_str())
        .filter(|f| !f.is_empty())
    {
        let mut f: String = f.chars().take(6).collect();
        while f.len() < 6 {
            f.push('0');
        }
        if f != "000000" {
            out.push('.');
            out.push_str(&f);
        }
    }
    if let Some(sign) = c.name("tz_sign") {
        let (h, m) = (num("tz_hour")?, num("tz_minute").unwrap_or(0));
        if h * 60 + m >= 24 * 60 {
            return None;
        }
        if h == 0 && m == 0 {
            out.push_str("+00:00");
        } else {
            out.push_str(&format!("{}{h:02}:{m:02}", sign.as_str()));
        }
    } else if c.name("tz").is_some() {
        out.push_str("+00:00");
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// The inventory plugin
// ---------------------------------------------------------------------------------------------

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
        if key == "ansible_group_priority" && super::python_int(&json).is_none() {
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

#[cfg(test)]
mod tests;
