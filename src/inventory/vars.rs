//! Reading typed values out of a host's merged variables, with errors that name the variable.
//! Inventories type values loosely (INI gives strings, YAML 1.1 gives `yes` as a boolean), so
//! every reader accepts what Ansible would and refuses the rest clearly.

use serde_json::Value;

use super::Vars;

/// A string variable (a number is taken as its text); empty or null is unset; NUL is refused.
pub fn string(vars: &Vars, name: &str) -> Result<Option<String>, String> {
    match vars.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) if s.contains('\0') => Err(format!("{name} contains a NUL byte")),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!("{name} must be a string, not {other}")),
    }
}

/// A boolean as Ansible accepts one: `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0` (INI
/// values arrive as strings).
pub fn boolean(vars: &Vars, name: &str) -> Result<Option<bool>, String> {
    match vars.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(Some(true)),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(Some(false)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" | "y" | "t" => Ok(Some(true)),
            "false" | "no" | "off" | "0" | "n" | "f" | "" => Ok(Some(false)),
            _ => Err(format!("{name} {s:?} is not a boolean")),
        },
        Some(other) => Err(format!("{name} must be a boolean, not {other}")),
    }
}

/// A whole number, written as a number or as a string of digits.
pub fn number(vars: &Vars, name: &str) -> Result<Option<u64>, String> {
    match vars.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{name} {n} is not a whole number")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{name} {s:?} is not a whole number")),
        Some(other) => Err(format!("{name} must be a number, not {other}")),
    }
}

/// A list of strings; one string is a list of one.
pub fn list(vars: &Vars, name: &str) -> Result<Vec<String>, String> {
    match vars.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(format!("{name}: every entry must be a string"))
            })
            .collect(),
        Some(other) => Err(format!("{name} must be a string or a list, not {other}")),
    }
}
