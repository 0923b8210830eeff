//! The evaluated Python value to JSON, as Ansible's INI plugin converts it: tuples and sets
//! become lists, bytes text, complex numbers and `...` their Python `str()`.

use serde_json::{Map, Value};

use super::Lit;
use super::evaluate::type_name;

pub(super) fn to_json(lit: &Lit) -> Result<Value, String> {
    Ok(match lit {
        Lit::Int(v) => int_json(*v),
        Lit::BigInt(s) => Value::String(s.clone()),
        Lit::Float(f) => Value::from(serde_json::Number::from_f64(*f).ok_or_else(|| {
            "the number overflows to infinity; quote it if you mean the text".to_owned()
        })?),
        Lit::Complex(re, im) => Value::String(complex_repr(*re, *im)),
        Lit::Str(s) => Value::String(s.clone()),
        Lit::Bytes(b) => Value::String(bytes_text(b)),
        Lit::Bool(b) => Value::Bool(*b),
        Lit::None => Value::Null,
        Lit::Ellipsis => Value::String("...".to_owned()),
        Lit::List(items) | Lit::Tuple(items) | Lit::Set(items) => {
            Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Lit::Dict(pairs) => {
            let mut map = Map::new();
            for (k, v) in pairs {
                map.insert(key_text(k)?, to_json(v)?);
            }
            Value::Object(map)
        }
        Lit::Malformed => return Err("not a literal".to_owned()),
    })
}

fn int_json(v: i128) -> Value {
    if let Ok(v) = i64::try_from(v) {
        Value::from(v)
    } else if let Ok(v) = u64::try_from(v) {
        Value::from(v)
    } else {
        Value::String(v.to_string())
    }
}

/// A dict key as JSON text, as Python's `json` writes non-string keys.
fn key_text(k: &Lit) -> Result<String, String> {
    Ok(match k {
        Lit::Str(s) => s.clone(),
        Lit::Int(v) => v.to_string(),
        Lit::BigInt(s) => s.clone(),
        Lit::Float(f) if f.is_finite() => float_repr(*f),
        Lit::Float(f) => if *f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned(),
        Lit::Bool(b) => b.to_string(),
        Lit::None => "null".to_owned(),
        other => {
            return Err(format!(
                "a dict key of type '{}' is not supported (use a string key)",
                type_name(other)
            ));
        }
    })
}

/// Bytes as text: UTF-8, each byte that is not becomes `?` (what `ansible-inventory` prints).
fn bytes_text(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(chunk.invalid().iter().map(|_| '?'));
    }
    out
}

/// Python's `repr(float)` digits: shortest round-trip, exponent form outside 1e-4..1e16.
/// `dot_zero` adds `.0` to integral values, as `repr(float)` does and `repr(complex)` does not.
fn py_float_format(f: f64, dot_zero: bool) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let (neg, mantissa) = mantissa
        .strip_prefix('-')
        .map_or((false, mantissa), |m| (true, m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let point = exp + 1; // digits before the decimal point
    let mut out = String::from(if neg { "-" } else { "" });
    if point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat(point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else {
        let point = point as usize;
        if digits.len() <= point {
            out.push_str(&digits);
            out.push_str(&"0".repeat(point - digits.len()));
            if dot_zero {
                out.push_str(".0");
            }
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

pub(super) fn float_repr(f: f64) -> String {
    py_float_format(f, true)
}

/// Python's `repr(complex)`: `1j`, `(1+2j)`, `(-0-1j)`.
fn complex_repr(re: f64, im: f64) -> String {
    let imag = py_float_format(im, false);
    if re == 0.0 && re.is_sign_positive() {
        return format!("{imag}j");
    }
    let sign = if imag.starts_with('-') { "" } else { "+" };
    format!("({}{sign}{imag}j)", py_float_format(re, false))
}
