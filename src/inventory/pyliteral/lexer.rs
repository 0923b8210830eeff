//! Python's tokenizer for the literals `literal_eval` reads: numbers (exact at any size),
//! strings and bytes with every prefix and escape, names and punctuation. The [`Parser`] state
//! lives here; its grammar is in `parser.rs`.

use super::Lit;

#[derive(Debug, Clone)]
pub(super) enum Tok {
    Num(Lit),
    /// One string literal (several in a row are concatenated by the parser).
    Str(StrTok),
    Name(String),
    Op(&'static str),
    End,
}

#[derive(Debug, Clone)]
pub(super) enum StrTok {
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

pub(super) struct Parser<'a> {
    src: &'a str,
    pos: usize,
    pub(super) depth: usize,
}

/// `None` from the lexer and parser means a Python `SyntaxError` (or a construct outside what
/// this module understands, which `literal_eval` would refuse as well).
pub(super) type Syn<T> = Option<T>;

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a str) -> Self {
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

    pub(super) fn peek(&mut self) -> Syn<Tok> {
        let save = self.pos;
        let tok = self.next_tok();
        self.pos = save;
        tok
    }

    pub(super) fn next_tok(&mut self) -> Syn<Tok> {
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
