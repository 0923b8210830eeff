//! What `literal_eval` does with the parsed tree: refuse malformed nodes and unhashable keys in
//! Python's order, compare numbers with Python's `==`, and order sets as CPython iterates them.

use super::{Fail, Lit};

/// Walks the tree in the order `literal_eval` converts it, failing on the first malformed
/// node or unhashable key, and builds sets and dicts with Python's equality.
pub(super) fn finish(lit: Lit) -> Result<Lit, Fail> {
    Ok(match lit {
        Lit::Malformed => return Err(Fail::NotLiteral),
        Lit::List(items) => Lit::List(items.into_iter().map(finish).collect::<Result<_, _>>()?),
        Lit::Tuple(items) => Lit::Tuple(items.into_iter().map(finish).collect::<Result<_, _>>()?),
        Lit::Set(items) => {
            let mut out: Vec<Lit> = Vec::new();
            for item in items {
                let item = finish(item)?;
                check_hashable(&item)?;
                if !out.iter().any(|o| py_eq(o, &item)) {
                    out.push(item);
                }
            }
            Lit::Set(cpython_set_order(out))
        }
        Lit::Dict(pairs) => {
            let mut out: Vec<(Lit, Lit)> = Vec::new();
            for (k, v) in pairs {
                let k = finish(k)?;
                let v = finish(v)?;
                check_hashable(&k)?;
                // An equal key keeps its first spelling and takes the new value (`{1: 'a',
                // True: 'b'}` is `{1: 'b'}`).
                match out.iter_mut().find(|(o, _)| py_eq(o, &k)) {
                    Some(slot) => slot.1 = v,
                    None => out.push((k, v)),
                }
            }
            Lit::Dict(out)
        }
        other => other,
    })
}

pub(super) fn type_name(lit: &Lit) -> &'static str {
    match lit {
        Lit::Int(_) | Lit::BigInt(_) => "int",
        Lit::Float(_) => "float",
        Lit::Complex(..) => "complex",
        Lit::Str(_) => "str",
        Lit::Bytes(_) => "bytes",
        Lit::Bool(_) => "bool",
        Lit::None => "NoneType",
        Lit::Ellipsis => "ellipsis",
        Lit::List(_) => "list",
        Lit::Tuple(_) => "tuple",
        Lit::Set(_) => "set",
        Lit::Dict(_) => "dict",
        Lit::Malformed => "expression",
    }
}

fn check_hashable(lit: &Lit) -> Result<(), Fail> {
    match lit {
        Lit::List(_) | Lit::Set(_) | Lit::Dict(_) => Err(Fail::Error(format!(
            "unhashable type: '{}' (a list, dict or set cannot be a dict key or set member)",
            type_name(lit)
        ))),
        Lit::Tuple(items) => items.iter().try_for_each(check_hashable),
        _ => Ok(()),
    }
}

/// Python's `==` between hashable literals: numbers compare by value across types.
fn py_eq(a: &Lit, b: &Lit) -> bool {
    match (a, b) {
        (Lit::Str(x), Lit::Str(y)) => x == y,
        (Lit::Bytes(x), Lit::Bytes(y)) => x == y,
        (Lit::None, Lit::None) | (Lit::Ellipsis, Lit::Ellipsis) => true,
        (Lit::Tuple(x), Lit::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| py_eq(a, b))
        }
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// A number in a form that compares exactly: (real as an exact decimal string, imaginary).
fn number(lit: &Lit) -> Option<(String, u64)> {
    let exact = |f: f64| {
        if f == 0.0 {
            "0".to_owned()
        } else if f.fract() == 0.0 {
            format!("{f:.0}")
        } else {
            format!("{f:?}")
        }
    };
    Some(match lit {
        Lit::Int(v) => (v.to_string(), 0),
        Lit::BigInt(s) => (s.clone(), 0),
        Lit::Bool(b) => (u8::from(*b).to_string(), 0),
        Lit::Float(f) => (exact(*f), 0),
        Lit::Complex(re, im) => (exact(*re), if *im == 0.0 { 0 } else { im.to_bits() }),
        _ => return None,
    })
}

// ---- CPython set iteration order ---------------------------------------------------------

const HASH_MODULUS: u64 = (1 << 61) - 1;
const HASH_BITS: u32 = 61;

/// CPython's `hash()` of an int, bool or float; `None` for other types (strings are hashed
/// with a per-process random key, so their order in a set is not reproducible anyway).
fn py_hash(lit: &Lit) -> Option<i64> {
    let from_mod = |negative: bool, m: u64| -> i64 {
        let h = if negative { -(m as i64) } else { m as i64 };
        if h == -1 { -2 } else { h }
    };
    match lit {
        Lit::Bool(b) => Some(i64::from(*b)),
        Lit::Int(v) => Some(from_mod(
            *v < 0,
            (v.unsigned_abs() % u128::from(HASH_MODULUS)) as u64,
        )),
        Lit::BigInt(s) => {
            let (neg, digits) = s
                .strip_prefix('-')
                .map_or((false, s.as_str()), |d| (true, d));
            let m = digits.bytes().fold(0u128, |acc, d| {
                (acc * 10 + u128::from(d - b'0')) % u128::from(HASH_MODULUS)
            });
            Some(from_mod(neg, m as u64))
        }
        Lit::Float(f) => hash_float(*f),
        _ => None,
    }
}

/// CPython's `_Py_HashDouble`.
fn hash_float(v: f64) -> Option<i64> {
    if v.is_nan() {
        return None;
    }
    if v.is_infinite() {
        return Some(if v > 0.0 { 314_159 } else { -314_159 });
    }
    let (mut m, mut e) = frexp(v.abs());
    let mut x: u64 = 0;
    while m != 0.0 {
        x = ((x << 28) & HASH_MODULUS) | (x >> (HASH_BITS - 28));
        m *= 268_435_456.0;
        e -= 28;
        let y = m as u64;
        m -= y as f64;
        x += y;
        if x >= HASH_MODULUS {
            x -= HASH_MODULUS;
        }
    }
    let bits = HASH_BITS as i32;
    let e: u32 = (if e >= 0 {
        e % bits
    } else {
        bits - 1 - ((-1 - e) % bits)
    })
    .unsigned_abs();
    x = ((x << e) & HASH_MODULUS) | (x >> (HASH_BITS - e));
    let h = if v < 0.0 {
        (x as i64).wrapping_neg()
    } else {
        x as i64
    };
    Some(if h == -1 { -2 } else { h })
}

/// `v = m * 2^e` with `0.5 <= m < 1` (C's `frexp`), for finite non-negative `v`.
fn frexp(v: f64) -> (f64, i32) {
    if v == 0.0 {
        return (0.0, 0);
    }
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale up first.
        let (m, e) = frexp(v * f64::from_bits(0x4350_0000_0000_0000)); // 2^54
        return (m, e - 54);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, exp - 1022)
}

/// Orders a set's (distinct) members as CPython iterates a set built by adding them one by
/// one: open addressing over a table of 8 slots that grows ×4 when 3/5 full.
fn cpython_set_order(items: Vec<Lit>) -> Vec<Lit> {
    let Some(hashes) = items.iter().map(py_hash).collect::<Option<Vec<i64>>>() else {
        return items;
    };
    const LINEAR_PROBES: usize = 9;
    fn insert(table: &mut [Option<usize>], hash: i64, idx: usize) {
        let mask = table.len() - 1;
        let mut perturb = hash as u64;
        let mut i = (hash as u64 as usize) & mask;
        loop {
            let probes = if i + LINEAR_PROBES <= mask {
                LINEAR_PROBES
            } else {
                0
            };
            if let Some(slot) = table[i..=i + probes].iter_mut().find(|s| s.is_none()) {
                *slot = Some(idx);
                return;
            }
            perturb >>= 5;
            i = (i
                .wrapping_mul(5)
                .wrapping_add(1)
                .wrapping_add(perturb as usize))
                & mask;
        }
    }
    let mut table: Vec<Option<usize>> = vec![None; 8];
    for (idx, &hash) in hashes.iter().enumerate() {
        insert(&mut table, hash, idx);
        let used = idx + 1;
        if used * 5 >= (table.len() - 1) * 3 {
            let min_used = if used > 50_000 { used * 2 } else { used * 4 };
            let mut size = 8;
            while size <= min_used {
                size <<= 1;
            }
            let old = std::mem::replace(&mut table, vec![None; size]);
            for i in old.into_iter().flatten() {
                insert(&mut table, hashes[i], i);
            }
        }
    }
    let mut slots: Vec<Option<Lit>> = items.into_iter().map(Some).collect();
    table
        .into_iter()
        .flatten()
        .filter_map(|i| slots[i].take())
        .collect()
}
