//! YAML 1.1 scalars as PyYAML types them: the implicit resolver (which plain scalars are bools,
//! ints, floats, nulls, timestamps) and the constructors that turn the text into the value.

use std::sync::LazyLock;

use regex::Regex;

use super::Yaml;

/// What an untagged plain scalar resolves to (PyYAML's `Resolver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) fn resolve(value: &str) -> Kind {
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
pub(super) fn resolve_json(value: &str) -> Kind {
    match value {
        "true" | "false" => Kind::Bool,
        "null" => Kind::Null,
        v if v.contains(['.', 'e', 'E']) => Kind::Float,
        _ => Kind::Int,
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
pub(super) fn construct_int(value: &str) -> Option<Yaml> {
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
pub(super) fn construct_float(value: &str) -> Option<f64> {
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
pub(super) fn construct_timestamp(value: &str) -> Option<String> {
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
