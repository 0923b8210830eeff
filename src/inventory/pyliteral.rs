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

use serde_json::{Map, Value};

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

#[derive(Debug, Clone)]
enum Tok {
    Num(Lit),
    /// One string literal (several in a row are concatenated by the parser).
    Str(StrTok),
    Name(String),
    Op(&'static str),
    End,
}

#[derive(Debug, Clone)]
enum StrTok {
    Text(String),
    Bytes(Vec<u8>),
    /// An f-string: valid syntax, but a `JoinedStr` node that `literal_eval` refuses.
    Format,
}

impl PartialEq for Tok {
    /// Punctuation and the end compare equal; values never do (the parser only asks "is the
    /// next token this operator?").
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Tok::Op(a), Tok::Op(b)) => a == b,
            (Tok::End, Tok::End) => true,
            _ => false,
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

/// `None` from the lexer and parser means a Python `SyntaxError` (or a construct outside what
/// this module understands, which `literal_eval` would refuse as well).
type Syn<T> = Option<T>;

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            src,
            pos: 0,
            depth: 0,
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_blank(&mut self) {
        loop {
            match self.peek_char() {
                Some(' ' | '\t' | '\x0c') => self.pos += 1,
                Some('#') => self.pos = self.src.len(),
                _ => return,
            }
        }
    }

    fn peek(&mut self) -> Syn<Tok> {
        let save = self.pos;
        let tok = self.next_tok();
        self.pos = save;
        tok
    }

    fn next_tok(&mut self) -> Syn<Tok> {
        self.skip_blank();
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return Some(Tok::End);
        };
        if c.is_ascii_digit() || (c == '.' && rest[1..].starts_with(|c: char| c.is_ascii_digit())) {
            return self.number().map(Tok::Num);
        }
        if c == '\'' || c == '"' {
            return self.string("").map(Tok::Str);
        }
        if c == '_' || c.is_alphabetic() {
            let len = rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len());
            let name = &rest[..len];
            self.pos += len;
            let quoted = matches!(self.peek_char(), Some('\'' | '"'));
            let prefix = name.to_ascii_lowercase();
            if quoted
                && matches!(
                    prefix.as_str(),
                    "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf"
                )
            {
                return self.string(&prefix).map(Tok::Str);
            }
            return Some(Tok::Name(name.to_owned()));
        }
        for op in ["...", "(", ")", "[", "]", "{", "}", ",", ":", "+", "-", "~"] {
            if rest.starts_with(op) {
                // `**`, `//`, `->`, `:=` … are operators `literal_eval` never accepts.
                self.pos += op.len();
                return Some(Tok::Op(op));
            }
        }
        None
    }

    /// A run of digits with single underscores between them; returns the digits.
    fn digits(&mut self, radix: u32) -> String {
        let mut out = String::new();
        loop {
            match self.peek_char() {
                Some(c) if c.is_digit(radix) => {
                    out.push(c);
                    self.pos += 1;
                }
                Some('_') if !out.is_empty() => {
                    let after = self.rest()[1..].chars().next();
                    if after.is_some_and(|c| c.is_digit(radix)) {
                        self.pos += 1;
                    } else {
                        return out;
                    }
                }
                _ => return out,
            }
        }
    }

    fn number(&mut self) -> Syn<Lit> {
        let rest = self.rest().as_bytes();
        let radix = match (rest[0], rest.get(1).map(u8::to_ascii_lowercase)) {
            (b'0', Some(b'x')) => 16,
            (b'0', Some(b'o')) => 8,
            (b'0', Some(b'b')) => 2,
            _ => 10,
        };
        let lit = if radix == 10 {
            self.decimal()?
        } else {
            self.pos += 2;
            // An underscore may follow the prefix: `0x_1f` is valid Python.
            if self.peek_char() == Some('_') {
                self.pos += 1;
            }
            let digits = self.digits(radix);
            if digits.is_empty() {
                return None;
            }
            int_from_digits(&digits, radix)
        };
        // `1abc`, `0b12`, `1_`, `1e`: Python's "invalid literal" errors.
        if self
            .peek_char()
            .is_some_and(|c| is_ident_char(c) || c == '.')
        {
            return None;
        }
        Some(lit)
    }

    fn decimal(&mut self) -> Syn<Lit> {
        let int_part = self.digits(10);
        let mut text = int_part.clone();
        let mut is_float = false;
        if self.peek_char() == Some('.') {
            self.pos += 1;
            is_float = true;
            text.push('.');
            text.push_str(&self.digits(10));
        }
        if matches!(self.peek_char(), Some('e' | 'E')) {
            let save = self.pos;
            self.pos += 1;
            let mut exp = String::from("e");
            if let Some(sign @ ('+' | '-')) = self.peek_char() {
                exp.push(sign);
                self.pos += 1;
            }
            let digits = self.digits(10);
            if digits.is_empty() {
                self.pos = save;
                return None;
            }
            exp.push_str(&digits);
            text.push_str(&exp);
            is_float = true;
        }
        if matches!(self.peek_char(), Some('j' | 'J')) {
            self.pos += 1;
            return Some(Lit::Complex(0.0, text.parse().ok()?));
        }
        if is_float {
            return Some(Lit::Float(text.parse().ok()?));
        }
        // Python 3: "leading zeros in decimal integer literals are not permitted" (`0755`).
        if int_part.starts_with('0') && int_part.bytes().any(|b| b != b'0') {
            return None;
        }
        Some(int_from_digits(&int_part, 10))
    }

    /// A string literal after its (lower-cased) prefix, at the opening quote.
    fn string(&mut self, prefix: &str) -> Syn<StrTok> {
        let raw = prefix.contains('r');
        let bytes = prefix.contains('b');
        let format = prefix.contains('f');
        let rest = self.rest();
        let quote = rest.chars().next()?;
        let triple = rest.starts_with(&quote.to_string().repeat(3));
        self.pos += if triple { 3 } else { 1 };
        let mut text = String::new();
        let mut out_bytes: Vec<u8> = Vec::new();
        loop {
            let c = self.peek_char()?;
            self.pos += c.len_utf8();
            if c == quote {
                if !triple {
                    break;
                }
                if self.rest().starts_with(&quote.to_string().repeat(2)) {
                    self.pos += 2;
                    break;
                }
            }
            if c == '\n' && !triple {
                return None;
            }
            if bytes && !c.is_ascii() {
                // "bytes can only contain ASCII literal characters"
                return None;
            }
            if c == '\\' {
                let e = self.peek_char()?;
                self.pos += e.len_utf8();
                if bytes && !e.is_ascii() {
                    return None;
                }
                if raw || format {
                    // A raw string keeps the backslash (it only stops the quote ending it).
                    if bytes {
                        out_bytes.extend_from_slice(&[b'\\', e as u8]);
                    } else {
                        text.push('\\');
                        text.push(e);
                    }
                } else if bytes {
                    escape_bytes(self, e, &mut out_bytes)?;
                } else {
                    escape_text(self, e, &mut text)?;
                }
                continue;
            }
            if bytes {
                out_bytes.push(u8::try_from(c).ok()?);
            } else {
                text.push(c);
            }
        }
        Some(if format {
            StrTok::Format
        } else if bytes {
            StrTok::Bytes(out_bytes)
        } else {
            StrTok::Text(text)
        })
    }

    fn take_hex(&mut self, n: usize) -> Syn<u32> {
        let digits = self.rest().get(..n)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += n;
        u32::from_str_radix(digits, 16).ok()
    }

    /// Up to two more octal digits after the first one (`\1`, `\12`, `\123`).
    fn take_octal(&mut self, first: char) -> u32 {
        let mut value = first.to_digit(8).unwrap_or(0);
        for _ in 0..2 {
            match self.peek_char().and_then(|c| c.to_digit(8)) {
                Some(d) => {
                    value = value * 8 + d;
                    self.pos += 1;
                }
                None => break,
            }
        }
        value
    }

    // ---- grammar -------------------------------------------------------------------------

    /// The whole input: one expression, or several separated by commas (a tuple, as in
    /// `x=1, 2`).
    fn parse_top(&mut self) -> Syn<Lit> {
        if self.peek()? == Tok::End {
            return None;
        }
        let lit = self.maybe_tuple(&Tok::End)?.0;
        (self.next_tok()? == Tok::End).then_some(lit)
    }

    /// `a` (itself, parentheses make no node) or `a,` / `a, b` (a tuple), up to `close`.
    fn maybe_tuple(&mut self, close: &Tok) -> Syn<(Lit, Shape)> {
        let (mut items, comma) = self.comma_list(close)?;
        if comma {
            return Some((
                Lit::Tuple(items.into_iter().map(|(l, _)| l).collect()),
                Shape::Other,
            ));
        }
        items.pop()
    }

    /// One or more expressions separated by commas, with an optional trailing comma, up to
    /// (not including) `close`; tells whether there was a comma.
    fn comma_list(&mut self, close: &Tok) -> Syn<(Vec<(Lit, Shape)>, bool)> {
        let mut items = vec![self.expr()?];
        let mut comma = false;
        while self.peek()? == Tok::Op(",") {
            self.next_tok()?;
            comma = true;
            if self.peek()? == *close {
                break;
            }
            items.push(self.expr()?);
        }
        Some((items, comma))
    }

    /// Addition and subtraction, which `literal_eval` only accepts as `[+-]real ± imaginary`.
    fn expr(&mut self) -> Syn<(Lit, Shape)> {
        let mut left = self.unary()?;
        while let Tok::Op(op @ ("+" | "-")) = self.peek()? {
            self.next_tok()?;
            let right = self.unary()?;
            left = (binop(&left, op, &right), Shape::Other);
        }
        Some(left)
    }

    fn unary(&mut self) -> Syn<(Lit, Shape)> {
        match self.peek()? {
            Tok::Op(op @ ("+" | "-" | "~")) => {
                self.next_tok()?;
                self.enter()?;
                let (operand, shape) = self.unary()?;
                self.depth -= 1;
                let lit = match (op, shape, operand) {
                    (
                        _,
                        Shape::Constant,
                        n @ (Lit::Int(_) | Lit::BigInt(_) | Lit::Float(_) | Lit::Complex(..)),
                    ) => {
                        if op == "-" {
                            negate(n)
                        } else if op == "+" {
                            n
                        } else {
                            Lit::Malformed
                        }
                    }
                    _ => Lit::Malformed,
                };
                Some((lit, Shape::Signed))
            }
            _ => self.atom(),
        }
    }

    fn enter(&mut self) -> Syn<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn atom(&mut self) -> Syn<(Lit, Shape)> {
        let tok = self.next_tok()?;
        let lit = match tok {
            Tok::Num(n) => n,
            Tok::Str(first) => return self.strings(first).map(|l| (l, Shape::Constant)),
            Tok::Name(name) => match name.as_str() {
                "True" => Lit::Bool(true),
                "False" => Lit::Bool(false),
                "None" => Lit::None,
                _ if self.peek()? == Tok::Op("(") => {
                    // Only `set()` is a literal; other calls are beyond this module.
                    self.next_tok()?;
                    if name != "set" || self.next_tok()? != Tok::Op(")") {
                        return None;
                    }
                    return Some((Lit::Set(Vec::new()), Shape::Other));
                }
                _ => Lit::Malformed,
            },
            Tok::Op("...") => Lit::Ellipsis,
            Tok::Op(open @ ("(" | "[" | "{")) => {
                self.enter()?;
                let out = self.bracketed(open)?;
                self.depth -= 1;
                return Some(out);
            }
            _ => return None,
        };
        Some((lit, Shape::Constant))
    }

    /// Adjacent string literals, concatenated as Python does (`'a' "b"` is `"ab"`).
    fn strings(&mut self, first: StrTok) -> Syn<Lit> {
        let mut parts = vec![first];
        while let Tok::Str(_) = self.peek()? {
            let Tok::Str(s) = self.next_tok()? else {
                return None;
            };
            parts.push(s);
        }
        let any_bytes = parts.iter().any(|p| matches!(p, StrTok::Bytes(_)));
        let all_bytes = parts.iter().all(|p| matches!(p, StrTok::Bytes(_)));
        if any_bytes && !all_bytes {
            return None; // "cannot mix bytes and nonbytes literals"
        }
        if parts.iter().any(|p| matches!(p, StrTok::Format)) {
            return Some(Lit::Malformed);
        }
        Some(if all_bytes {
            Lit::Bytes(
                parts
                    .into_iter()
                    .flat_map(|p| {
                        if let StrTok::Bytes(b) = p {
                            b
                        } else {
                            Vec::new()
                        }
                    })
                    .collect(),
            )
        } else {
            Lit::Str(
                parts
                    .into_iter()
                    .map(|p| {
                        if let StrTok::Text(t) = p {
                            t
                        } else {
                            String::new()
                        }
                    })
                    .collect(),
            )
        })
    }

    /// After `(`, `[` or `{`.
    fn bracketed(&mut self, open: &str) -> Syn<(Lit, Shape)> {
        let close = Tok::Op(match open {
            "(" => ")",
            "[" => "]",
            _ => "}",
        });
        if self.peek()? == close {
            self.next_tok()?;
            let empty = match open {
                "(" => Lit::Tuple(Vec::new()),
                "[" => Lit::List(Vec::new()),
                _ => Lit::Dict(Vec::new()),
            };
            return Some((empty, Shape::Other));
        }
        let out = match open {
            // Parentheses alone make no node: `(-1)` is still a signed number.
            "(" => self.maybe_tuple(&close)?,
            "[" => {
                let items = self.comma_list(&close)?.0;
                (
                    Lit::List(items.into_iter().map(|(l, _)| l).collect()),
                    Shape::Other,
                )
            }
            _ => (self.dict_or_set(&close)?, Shape::Other),
        };
        (self.next_tok()? == close).then_some(out)
    }

    fn dict_or_set(&mut self, close: &Tok) -> Syn<Lit> {
        let first = self.expr()?.0;
        if self.peek()? == Tok::Op(":") {
            self.next_tok()?;
            let mut pairs = vec![(first, self.expr()?.0)];
            while self.peek()? == Tok::Op(",") {
                self.next_tok()?;
                if self.peek()? == *close {
                    break;
                }
                let k = self.expr()?.0;
                if self.next_tok()? != Tok::Op(":") {
                    return None;
                }
                pairs.push((k, self.expr()?.0));
            }
            return Some(Lit::Dict(pairs));
        }
        let mut items = vec![first];
        while self.peek()? == Tok::Op(",") {
            self.next_tok()?;
            if self.peek()? == *close {
                break;
            }
            items.push(self.expr()?.0);
        }
        Some(Lit::Set(items))
    }
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn escape_text(p: &mut Parser<'_>, e: char, out: &mut String) -> Syn<()> {
    let simple = match e {
        '\n' => Some(None),
        '\\' => Some(Some('\\')),
        '\'' => Some(Some('\'')),
        '"' => Some(Some('"')),
        'a' => Some(Some('\x07')),
        'b' => Some(Some('\x08')),
        'f' => Some(Some('\x0c')),
        'n' => Some(Some('\n')),
        'r' => Some(Some('\r')),
        't' => Some(Some('\t')),
        'v' => Some(Some('\x0b')),
        _ => None,
    };
    if let Some(c) = simple {
        out.extend(c);
        return Some(());
    }
    let code = match e {
        '0'..='7' => p.take_octal(e),
        'x' => p.take_hex(2)?,
        'u' => p.take_hex(4)?,
        'U' => p.take_hex(8)?,
        // `\N{...}` needs Unicode's name table; leave the value as the raw string.
        'N' => return None,
        // Unknown escapes stay as written (Python only warns).
        _ => {
            out.push('\\');
            out.push(e);
            return Some(());
        }
    };
    if code > 0x10_FFFF {
        return None;
    }
    // A lone surrogate cannot be held in UTF-8; `ansible-inventory` prints `?` for it.
    out.push(char::from_u32(code).unwrap_or('?'));
    Some(())
}

fn escape_bytes(p: &mut Parser<'_>, e: char, out: &mut Vec<u8>) -> Syn<()> {
    let byte = match e {
        '\n' => return Some(()),
        '\\' | '\'' | '"' => e as u8,
        'a' => 0x07,
        'b' => 0x08,
        'f' => 0x0c,
        'n' => b'\n',
        'r' => b'\r',
        't' => b'\t',
        'v' => 0x0b,
        // Python 3.11 keeps the low byte of `\777`.
        '0'..='7' => (p.take_octal(e) & 0xff) as u8,
        'x' => p.take_hex(2)? as u8,
        _ => {
            out.push(b'\\');
            out.extend_from_slice(e.to_string().as_bytes());
            return Some(());
        }
    };
    out.push(byte);
    Some(())
}

/// An integer from its digits (no sign, no underscores), exact at any size.
fn int_from_digits(digits: &str, radix: u32) -> Lit {
    if let Ok(v) = i128::from_str_radix(digits, radix) {
        return Lit::Int(v);
    }
    // Schoolbook base conversion into base 10^9 limbs, least significant first.
    let mut limbs: Vec<u64> = vec![0];
    for d in digits.chars().filter_map(|c| c.to_digit(radix)) {
        let mut carry = u64::from(d);
        for limb in &mut limbs {
            let v = *limb * u64::from(radix) + carry;
            *limb = v % 1_000_000_000;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            limbs.push(carry % 1_000_000_000);
            carry /= 1_000_000_000;
        }
    }
    let mut out = limbs.last().map(u64::to_string).unwrap_or_default();
    for limb in limbs.iter().rev().skip(1) {
        out.push_str(&format!("{limb:09}"));
    }
    Lit::BigInt(out)
}

fn negate(n: Lit) -> Lit {
    match n {
        // Parsed integers are never negative, so this cannot overflow.
        Lit::Int(v) => Lit::Int(-v),
        Lit::BigInt(s) => Lit::BigInt(
            s.strip_prefix('-')
                .map_or_else(|| format!("-{s}"), str::to_owned),
        ),
        Lit::Float(f) => Lit::Float(-f),
        Lit::Complex(re, im) => Lit::Complex(-re, -im),
        other => other,
    }
}

/// `literal_eval` accepts `a + b` / `a - b` only for a real (optionally signed) `a` and an
/// imaginary constant `b`: `1+2j`, `-1.5-2j`.
fn binop(left: &(Lit, Shape), op: &str, right: &(Lit, Shape)) -> Lit {
    let real = match left {
        (Lit::Int(_) | Lit::BigInt(_) | Lit::Float(_), Shape::Constant | Shape::Signed) => {
            as_f64(&left.0)
        }
        _ => return Lit::Malformed,
    };
    let (Lit::Complex(re, im), Shape::Constant) = right else {
        return Lit::Malformed;
    };
    // Python turns the real operand into `complex(real, 0.0)` and adds component-wise.
    if op == "+" {
        Lit::Complex(real + re, 0.0 + im)
    } else {
        Lit::Complex(real - re, 0.0 - im)
    }
}

fn as_f64(n: &Lit) -> f64 {
    match n {
        Lit::Int(v) => *v as f64,
        Lit::BigInt(s) => s.parse().unwrap_or(f64::NAN),
        Lit::Float(f) => *f,
        Lit::Bool(b) => f64::from(u8::from(*b)),
        _ => f64::NAN,
    }
}

// ---- evaluation: malformed nodes, hashing, de-duplication --------------------------------

/// Walks the tree in the order `literal_eval` converts it, failing on the first malformed
/// node or unhashable key, and builds sets and dicts with Python's equality.
fn finish(lit: Lit) -> Result<Lit, Fail> {
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

fn type_name(lit: &Lit) -> &'static str {
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

// ---- conversion to JSON, as Ansible's INI plugin converts the Python value ---------------

fn to_json(lit: &Lit) -> Result<Value, String> {
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

fn float_repr(f: f64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(text: &str) -> Option<Value> {
        parse(text)
    }

    #[test]
    fn integers_in_python3_syntax() {
        assert_eq!(p("42"), Some(json!(42)));
        assert_eq!(p("-1"), Some(json!(-1)));
        assert_eq!(p("+1"), Some(json!(1)));
        assert_eq!(p("0x1f"), Some(json!(31)));
        assert_eq!(p("0X_1F"), Some(json!(31)));
        assert_eq!(p("0o17"), Some(json!(15)));
        assert_eq!(p("0b101"), Some(json!(5)));
        assert_eq!(p("1_000"), Some(json!(1000)));
        assert_eq!(p("00"), Some(json!(0)));
        assert_eq!(p("0_0"), Some(json!(0)));
        assert_eq!(p("- 7"), Some(json!(-7)));
        assert_eq!(p("-(7)"), Some(json!(-7)));
        // Python 3 refuses a leading zero: Ansible keeps `0755` as the string (checked with
        // ansible-inventory 2.19: `f=0755` in [g:vars] gives "0755").
        assert_eq!(p("0755"), None);
        assert_eq!(p("1__0"), None);
        assert_eq!(p("1_"), None);
        assert_eq!(p("0b12"), None);
        assert_eq!(p("0x"), None);
        assert_eq!(p("12abc"), None);
        // `--1` parses but `literal_eval` refuses a sign on a signed number.
        assert_eq!(p("--1"), None);
        assert_eq!(p("-True"), None);
    }

    #[test]
    fn big_integers() {
        assert_eq!(
            p("0xffffffffffffffff"),
            Some(json!(18_446_744_073_709_551_615_u64))
        );
        assert_eq!(p("-9223372036854775808"), Some(json!(i64::MIN)));
        // Ansible prints the exact integer; serde_json cannot hold it, so fleetup keeps the
        // decimal digits as a string.
        assert_eq!(
            p("123456789012345678901234567890"),
            Some(json!("123456789012345678901234567890"))
        );
        let huge = format!("-0x{}", "f".repeat(40));
        assert_eq!(
            p(&huge),
            Some(json!("-1461501637330902918203684832716283019655932542975"))
        );
    }

    #[test]
    fn floats() {
        assert_eq!(p("1.5"), Some(json!(1.5)));
        assert_eq!(p("1e3"), Some(json!(1000.0)));
        assert_eq!(p(".5"), Some(json!(0.5)));
        assert_eq!(p("1."), Some(json!(1.0)));
        assert_eq!(p("1.e5"), Some(json!(100_000.0)));
        assert_eq!(p("1_0.5e-1_0"), Some(json!(10.5e-10)));
        // Leading zeros are fine in a float.
        assert_eq!(p("0755.5"), Some(json!(755.5)));
        assert_eq!(
            p("-0.0").unwrap().as_f64().unwrap().to_bits(),
            (-0.0f64).to_bits()
        );
        // `inf` and `nan` are names, not literals.
        assert_eq!(p("inf"), None);
        assert_eq!(p("nan"), None);
        assert_eq!(p("1e"), None);
        assert!(eval("1e400").is_err());
    }

    #[test]
    fn complex_numbers_become_their_python_str() {
        // ansible-inventory 2.19 prints these strings for c=1j c2=1+2j c3=-1j.
        assert_eq!(p("1j"), Some(json!("1j")));
        assert_eq!(p("1+2j"), Some(json!("(1+2j)")));
        assert_eq!(p("-1j"), Some(json!("(-0-1j)")));
        assert_eq!(p("(-1)+2j"), Some(json!("(-1+2j)")));
        assert_eq!(p("1-2j"), Some(json!("(1-2j)")));
        assert_eq!(p("-0.0+1j"), Some(json!("1j")));
        assert_eq!(p("1.5e20+2.5j"), Some(json!("(1.5e+20+2.5j)")));
        assert_eq!(p("0755j"), Some(json!("755j")));
        assert_eq!(p("1e16j"), Some(json!("1e+16j")));
        assert_eq!(p("1e400j"), Some(json!("infj")));
        // Not `real ± imaginary`: refused by literal_eval, kept as written.
        assert_eq!(p("1j+1"), None);
        assert_eq!(p("1+2j+3j"), None);
        assert_eq!(p("1 + 2"), None);
        assert_eq!(p("True + 1j"), None);
        assert_eq!(p("1 - -2j"), None);
    }

    #[test]
    fn constants() {
        assert_eq!(p("True"), Some(json!(true)));
        assert_eq!(p("False"), Some(json!(false)));
        assert_eq!(p("None"), Some(Value::Null));
        assert_eq!(p("..."), Some(json!("...")));
        assert_eq!(p("true"), None);
        assert_eq!(p("yes"), None);
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(p("'q'"), Some(json!("q")));
        assert_eq!(p(r#""a\"b""#), Some(json!("a\"b")));
        assert_eq!(p(r"'a\nb\t\\'"), Some(json!("a\nb\t\\")));
        assert_eq!(p(r#""\x41\101\u00e9\U0001F600""#), Some(json!("AAé😀")));
        assert_eq!(p(r"'\d'"), Some(json!("\\d")));
        assert_eq!(p(r#"r"\n""#), Some(json!("\\n")));
        assert_eq!(p(r#"u"x""#), Some(json!("x")));
        assert_eq!(p(r#""""tri"ple""""#), Some(json!("tri\"ple")));
        assert_eq!(p("'''a'b'''"), Some(json!("a'b")));
        assert_eq!(p(r#"'a' "b""#), Some(json!("ab")));
        assert_eq!(p("b'ab'"), Some(json!("ab")));
        assert_eq!(p(r"b'\xff'"), Some(json!("?")));
        assert_eq!(p(r"'\ud800'"), Some(json!("?")));
        assert_eq!(p("''"), Some(json!("")));
        assert_eq!(p("'x' # comment"), Some(json!("x")));
        // An f-string is a JoinedStr node: not a literal.
        assert_eq!(p(r#"f"x""#), None);
        assert_eq!(p(r#"'a' b'b'"#), None);
        assert_eq!(p("'unterminated"), None);
        assert_eq!(p(r"'\x4'"), None);
        assert_eq!(p(r"'\N{BULLET}'"), None);
        assert_eq!(p("b'é'"), None);
    }

    #[test]
    fn containers() {
        assert_eq!(p("[1, 2]"), Some(json!([1, 2])));
        assert_eq!(p("[1,]"), Some(json!([1])));
        assert_eq!(p("[]"), Some(json!([])));
        assert_eq!(p("(1, 2)"), Some(json!([1, 2])));
        assert_eq!(p("(1,)"), Some(json!([1])));
        assert_eq!(p("()"), Some(json!([])));
        assert_eq!(p("(1)"), Some(json!(1)));
        assert_eq!(p("[(1, 2)]"), Some(json!([[1, 2]])));
        assert_eq!(p("((1, 2),)"), Some(json!([[1, 2]])));
        // A bare comma list is a tuple (checked: `a=1, 2` in [g:vars] gives [1, 2]).
        assert_eq!(p("1, 2"), Some(json!([1, 2])));
        assert_eq!(p("{'a': 1}"), Some(json!({"a": 1})));
        assert_eq!(p("{}"), Some(json!({})));
        assert_eq!(p("set()"), Some(json!([])));
        assert_eq!(
            p(r#"[1, [2, {"k": (3,)}], ]"#),
            Some(json!([1, [2, {"k": [3]}]]))
        );
        assert_eq!(p("  [ 1 ,\t2 ]  "), Some(json!([1, 2])));
        assert_eq!(p("[1, x]"), None);
        assert_eq!(p("[1, 2"), None);
        assert_eq!(p("[*[1]]"), None);
        assert_eq!(p("set([1])"), None);
        assert_eq!(p("[1][0]"), None);
        assert_eq!(p("1 if True else 2"), None);
        assert_eq!(p(&"[".repeat(201)), None);
        assert_eq!(
            p(&format!("{}1{}", "[".repeat(50), "]".repeat(50))).map(|v| v.is_array()),
            Some(true)
        );
    }

    #[test]
    fn sets_follow_cpython_order_and_equality() {
        // All four checked against ansible-inventory 2.19.
        assert_eq!(p("{3,1,2}"), Some(json!([1, 2, 3])));
        assert_eq!(p("{5, 9, 13, 1, 8}"), Some(json!([1, 5, 8, 9, 13])));
        assert_eq!(p("{-1, -2, 0}"), Some(json!([0, -1, -2])));
        assert_eq!(
            p("{100, 3, 1000, 7, 64}"),
            Some(json!([64, 3, 100, 7, 1000]))
        );
        // 1.0 == 1: the first one stays.
        assert_eq!(p("{1.0, 1}"), Some(json!([1.0])));
        assert_eq!(p("{'b', 'a', 'b'}"), Some(json!(["b", "a"])));
    }

    #[test]
    fn dict_keys_as_python_json_writes_them() {
        // Checked: ansible-inventory prints {"1.5": 1, "2": 4, "null": 2, "true": 3}.
        assert_eq!(
            p("{1.5: 1, None: 2, True: 3, 2: 4}"),
            Some(json!({"1.5": 1, "null": 2, "true": 3, "2": 4}))
        );
        // `True == 1`: one key, the first spelling, the last value.
        assert_eq!(p("{1: 2, True: 3}"), Some(json!({"1": 3})));
        assert_eq!(
            p("{1e20: 1, -0.0: 2}"),
            Some(json!({"1e+20": 1, "-0.0": 2}))
        );
    }

    #[test]
    fn errors_ansible_does_not_survive() {
        // Python raises TypeError, which Ansible's INI plugin does not catch.
        assert!(
            eval("{[1]: 2}")
                .unwrap_err()
                .contains("unhashable type: 'list'")
        );
        assert!(eval("{(1, [2])}").is_err());
        // Complex and Ellipsis keys fail in Ansible too ("not taggable").
        assert!(eval("{1j: 1}").is_err());
        assert!(eval("{...: 1}").is_err());
        // A syntax error wins over an unhashable key, as in Python.
        assert_eq!(eval("{[1]: 2"), Ok(None));
        assert_eq!(parse("{[1]: 2}"), None);
    }

    #[test]
    fn not_literals() {
        for text in [
            "",
            "   ",
            "hello",
            "hello # comment",
            "a=b",
            "x y",
            "1 2",
            "@",
            "1 * 2",
            "1 ** 2",
            "~1",
            "'a'.upper()",
            "\0",
        ] {
            assert_eq!(p(text), None, "{text:?}");
        }
    }

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(0.00001), "1e-05");
        assert_eq!(float_repr(-0.0), "-0.0");
        assert_eq!(float_repr(123.456), "123.456");
        assert_eq!(float_repr(1.5e300), "1.5e+300");
    }
}
