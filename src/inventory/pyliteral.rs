//! Python's `ast.literal_eval` for the values of INI inventory variables.
//!
//! Ansible's INI plugin runs every variable value through `ast.literal_eval` and keeps the raw
//! string when that fails. This module accepts exactly what `literal_eval` accepts (Python 3
//! syntax: `0755` is not a number, `1_000` is), and converts the result the way Ansible 2.19
//! then converts it: tuples and sets become lists, bytes become text, complex numbers and `...`
//! become their Python `str()`.
//!
//! Known differences from Ansible, all on values nobody writes in an inventory:
//! - integers beyond the 64-bit range are kept as a JSON string of their decimal digits
//!   (Ansible keeps an exact integer, which `serde_json` cannot hold);
//! - a float literal that overflows to infinity (`1e400`) is refused (Ansible stores `inf`,
//!   which JSON cannot express);
//! - `\N{NAME}` escapes are not decoded: the value stays the raw string;
//! - lone surrogates (`'\ud800'`) and bytes that are not UTF-8 become `?`, which is what
//!   `ansible-inventory` prints for them;
//! - a set's order follows CPython's for numbers (`{3, 1, 2}` gives `[1, 2, 3]`, as Ansible
//!   shows); sets of strings keep the written order, where CPython's order depends on the
//!   per-process hash seed.
//!
//! The stages, one module each: `lexer` (Python's tokens), `parser` (the grammar `literal_eval`
//! accepts), `evaluate` (malformed nodes, hashing, set order), `convert` (to JSON).

mod convert;
mod evaluate;
mod lexer;
mod parser;

use serde_json::Value;

use convert::to_json;
use evaluate::finish;
use lexer::Parser;

/// Parses `text` as a Python literal; `None` when it is not one (the caller keeps the string).
pub fn parse(text: &str) -> Option<Value> {
    eval(text).ok().flatten()
}

/// Like [`parse`], but tells apart "not a literal" (`Ok(None)`: Ansible keeps the string) from a
/// literal Ansible fails the whole inventory on (`Err`), such as `{[1]: 2}` (Python raises
/// `TypeError: unhashable type`, which Ansible does not catch).
pub fn eval(text: &str) -> Result<Option<Value>, String> {
    // `literal_eval` strips leading spaces and tabs itself (anything else would be an
    // indentation error in `eval` mode).
    let text = text.trim_start_matches([' ', '\t']);
    let Some(lit) = Parser::new(text).parse_top() else {
        return Ok(None);
    };
    match finish(lit) {
        Ok(lit) => to_json(&lit).map(Some),
        Err(Fail::NotLiteral) => Ok(None),
        Err(Fail::Error(e)) => Err(e),
    }
}

/// What Python's `literal_eval` evaluates to, before Ansible's conversions.
#[derive(Debug, Clone)]
enum Lit {
    Int(i128),
    /// An integer beyond `i128`, as decimal digits with an optional leading `-`.
    BigInt(String),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(Vec<u8>),
    Bool(bool),
    None,
    Ellipsis,
    List(Vec<Lit>),
    Tuple(Vec<Lit>),
    Set(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
    /// Valid Python syntax that `literal_eval` refuses ("malformed node"): a name, `--1`,
    /// `1 + 2`, an f-string. Kept in the tree so that errors come out in Python's order.
    Malformed,
}

/// How an expression was written, which decides what `literal_eval` accepts around it: only a
/// constant may be negated, only `[+-]number +/- complex` may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Constant,
    Signed,
    Other,
}

#[derive(Debug)]
enum Fail {
    NotLiteral,
    Error(String),
}

/// Python's tokenizer nests at most 200 brackets ("too many nested parentheses").
const MAX_DEPTH: usize = 200;

#[cfg(test)]
mod tests;
