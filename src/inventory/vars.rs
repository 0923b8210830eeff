//! Reading typed values out of a host's merged variables, with errors that name the variable.
//! Inventories type values loosely (INI gives strings, YAML 1.1 gives `yes` as a boolean), so
//! every reader accepts what Ansible would and refuses the rest clearly.

use serde_json::Value;

use super::Vars;

/// Longest string value fleetup reads from a variable (the settings of each variable cap it
/// further where a shorter limit applies: a path, a user name, a URL). A value is passed as
/// one argv word on the host, and Linux refuses any single word over 128 KiB.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

fn check_length(name: &str, s: &str) -> Result<(), String> {
    if s.len() > MAX_VALUE_BYTES {
        return Err(format!(
            "{name} is {} bytes long: at most {MAX_VALUE_BYTES} are accepted",
            s.len()
        ));
    }
    Ok(())
}

/// A string variable (a number is taken as its text); empty or null is unset; NUL is refused,
/// and so is a value over [`MAX_VALUE_BYTES`].
pub fn string(vars: &Vars, name: &str) -> Result<Option<String>, String> {
    match vars.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) if s.contains('\0') => Err(format!("{name} contains a NUL byte")),
        Some(Value::String(s)) => check_length(name, s).map(|()| Some(s.clone())),
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

/// A list of strings; one string is a list of one. Each is capped at [`MAX_VALUE_BYTES`]
/// and may not hold a NUL.
pub fn list(vars: &Vars, name: &str) -> Result<Vec<String>, String> {
    let entry = |s: &str| {
        if s.contains('\0') {
            return Err(format!("{name} contains a NUL byte"));
        }
        check_length(name, s).map(|()| s.to_owned())
    };
    match vars.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![entry(s)?]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or(format!("{name}: every entry must be a string"))
                    .and_then(entry)
            })
            .collect(),
        Some(other) => Err(format!("{name} must be a string or a list, not {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testutil::vars;
    use serde_json::json;

    #[test]
    fn strings_and_lists_are_capped_and_refuse_nul() {
        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        let fits = "x".repeat(MAX_VALUE_BYTES);
        let v = vars(json!({"s": long, "ok": fits, "n": "a\0b", "l": ["a", long], "ln": ["a\0"]}));
        assert!(string(&v, "s").unwrap_err().contains("at most"));
        assert_eq!(
            string(&v, "ok").unwrap().map(|s| s.len()),
            Some(MAX_VALUE_BYTES)
        );
        assert!(string(&v, "n").unwrap_err().contains("NUL"));
        assert!(list(&v, "l").unwrap_err().contains("at most"));
        assert!(list(&v, "s").unwrap_err().contains("at most"));
        assert!(list(&v, "ln").unwrap_err().contains("NUL"));
        assert_eq!(list(&v, "missing").unwrap(), Vec::<String>::new());
    }
}
