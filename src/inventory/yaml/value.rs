//! The typed values the YAML loader produces: what the inventory plugin needs and JSON loses
//! (whether a mapping key is a string, the line each node starts on), and how Ansible's JSON
//! output shows them.

use serde_json::{Map, Number, Value};

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
    pub(super) fn type_name(&self) -> &'static str {
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
    pub(super) fn truthy(&self) -> bool {
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
    pub(super) fn key_string(&self) -> String {
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
    pub(super) fn py_key(&self) -> Option<String> {
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
pub(super) fn py_float_repr(f: f64) -> String {
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
