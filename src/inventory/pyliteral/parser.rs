//! The expression grammar `literal_eval` accepts, over the tokens of `lexer.rs`: tuples, lists,
//! sets, dicts, unary signs, `real +/- imaginary`, implicit string concatenation.

use super::lexer::{Parser, StrTok, Syn, Tok};
use super::{Lit, MAX_DEPTH, Shape};

impl Parser<'_> {
    /// The whole input: one expression, or several separated by commas (a tuple, as in
    /// `x=1, 2`).
    pub(super) fn parse_top(&mut self) -> Syn<Lit> {
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
