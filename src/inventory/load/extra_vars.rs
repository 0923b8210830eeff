//! `-e` extra vars as ansible's `load_extra_vars` reads them: `@file`, inline YAML/JSON, or
//! `key=value` pairs split and unquoted as `parse_kv` does.

use std::fs;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::file_error;
use crate::inventory::yaml;
use crate::inventory::{InventoryError, Result, Vars};

fn bad_extra(text: &str, reason: impl Into<String>) -> InventoryError {
    InventoryError::BadExtraVars {
        text: text.to_owned(),
        reason: reason.into(),
    }
}

/// ansible's `load_extra_vars`: each `-e` in order, later ones replacing earlier keys.
/// `@file` is a YAML/JSON file; text starting with `{` or `[` is YAML/JSON; anything else is
/// `key=value` pairs whose values stay strings (`-e x=3` gives `"3"`).
pub fn parse_extra_vars(args: &[String]) -> Result<Vars> {
    let mut out = Vars::new();
    for arg in args {
        if arg.is_empty() {
            continue;
        }
        let vars = if let Some(file) = arg.strip_prefix('@') {
            let path = Path::new(file);
            let text =
                fs::read_to_string(path).map_err(|e| file_error("extra vars file", path, e))?;
            let doc = yaml::load_doc(path, &text)?;
            yaml::mapping_to_vars(&doc)
                .ok_or_else(|| bad_extra(arg, "could not be made into a dictionary"))?
        } else if arg.starts_with(['/', '.']) {
            return Err(bad_extra(arg, "to read a file, prepend its name with '@'"));
        } else if arg.starts_with(['{', '[']) {
            let doc = yaml::load_doc(Path::new("<extra vars>"), arg).map_err(|e| match e {
                InventoryError::Syntax { message, origin } => {
                    bad_extra(arg, format!("{message} (line {})", origin.line))
                }
                other => bad_extra(arg, other.to_string()),
            })?;
            yaml::mapping_to_vars(&doc)
                .ok_or_else(|| bad_extra(arg, "could not be made into a dictionary"))?
        } else {
            parse_kv(arg).map_err(|reason| bad_extra(arg, reason))?
        };
        out.extend(vars);
    }
    Ok(out)
}

static ESCAPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\\U[a-fA-F0-9]{8}|\\u[a-fA-F0-9]{4}|\\x[a-fA-F0-9]{2}|\\N\{[^}]+\}|\\[\\'"abfnrtv]"#,
    )
    .expect("regex")
});

/// ansible's `_decode_escapes` (Python `unicode-escape` on each escape). `\N{NAME}` escapes
/// and escapes of invalid code points are left as written.
pub(super) fn decode_escapes(s: &str) -> String {
    ESCAPE
        .replace_all(s, |c: &regex::Captures<'_>| {
            let m = &c[0];
            let decoded = match &m[1..2] {
                "U" | "u" | "x" => u32::from_str_radix(&m[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
                "N" => None,
                "a" => Some('\x07'),
                "b" => Some('\x08'),
                "f" => Some('\x0c'),
                "n" => Some('\n'),
                "r" => Some('\r'),
                "t" => Some('\t'),
                "v" => Some('\x0b'),
                other => other.chars().next(),
            };
            decoded.map_or_else(|| m.to_owned(), String::from)
        })
        .into_owned()
}

/// ansible's `unquote`.
pub(super) fn unquote(s: &str) -> &str {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    if n > 1 && chars[0] == chars[n - 1] && matches!(chars[0], '"' | '\'') && chars[n - 2] != '\\' {
        &s[chars[0].len_utf8()..s.len() - chars[n - 1].len_utf8()]
    } else {
        s
    }
}

/// ansible's `parse_kv(args, check_raw=False)`: words without an unescaped `=` are joined
/// into `_raw_params` (so `-e foo` sets `_raw_params: foo`, as Ansible does).
pub fn parse_kv(args: &str) -> std::result::Result<Vars, String> {
    let mut options = Vars::new();
    let mut raw: Vec<String> = Vec::new();
    'words: for orig in split_args(args)? {
        let x = decode_escapes(&orig);
        if !x.contains('=') {
            raw.push(orig);
            continue;
        }
        // The first `=` after the first character that is not preceded by a backslash.
        let mut pos = 0;
        loop {
            let from = pos + x[pos..].chars().next().map_or(1, char::len_utf8);
            match x.get(from..).and_then(|rest| rest.find('=')) {
                Some(i) => {
                    pos = from + i;
                    if x.as_bytes()[pos - 1] != b'\\' {
                        break;
                    }
                }
                None => {
                    raw.push(x.replace("\\=", "="));
                    continue 'words;
                }
            }
        }
        let (k, v) = (&x[..pos], &x[pos + 1..]);
        options.insert(
            k.trim().to_owned(),
            Value::String(unquote(v.trim()).to_owned()),
        );
    }
    if !raw.is_empty() {
        options.insert("_raw_params".into(), Value::String(join_args(&raw)));
    }
    Ok(options)
}

fn join_args(parts: &[String]) -> String {
    let mut out = String::new();
    for p in parts {
        if !(out.is_empty() || out.ends_with('\n')) {
            out.push(' ');
        }
        out.push_str(p);
    }
    out
}

fn quote_state(token: &str, mut quote: Option<char>) -> Option<char> {
    let mut prev = None;
    for c in token.chars() {
        if matches!(c, '"' | '\'') && prev != Some('\\') {
            match quote {
                Some(q) if q == c => quote = None,
                Some(_) => {}
                None => quote = Some(c),
            }
        }
        prev = Some(c);
    }
    quote
}

fn jinja_depth(token: &str, depth: usize, open: &str, close: &str) -> usize {
    let (o, c) = (token.matches(open).count(), token.matches(close).count());
    (depth + o).saturating_sub(c)
}

/// ansible's `split_args`: split on spaces and newlines, keeping quoted text and Jinja2
/// blocks (`{{ }}`, `{% %}`, `{# #}`) together.
pub(super) fn split_args(args: &str) -> std::result::Result<Vec<String>, String> {
    let mut params: Vec<String> = Vec::new();
    if args.is_empty() {
        return Ok(params);
    }
    fn last(params: &mut Vec<String>) -> &mut String {
        if params.is_empty() {
            params.push(String::new());
        }
        params.last_mut().expect("not empty")
    }
    let items: Vec<&str> = args.split('\n').collect();
    let mut quote = None;
    let mut inside_quotes = false;
    let (mut print, mut block, mut comment) = (0usize, 0usize, 0usize);
    for (item_idx, item) in items.iter().enumerate() {
        let mut line_continuation = false;
        for (idx, token) in item.split(' ').enumerate() {
            if token.is_empty() && idx != 0 {
                last(&mut params).push(' ');
                continue;
            }
            if token == "\\" && !inside_quotes {
                line_continuation = true;
                continue;
            }
            let was_inside_quotes = inside_quotes;
            quote = quote_state(token, quote);
            inside_quotes = quote.is_some();
            let in_block = print > 0 || block > 0 || comment > 0;
            let mut appended = false;
            if inside_quotes && !was_inside_quotes && !in_block {
                params.push(token.to_owned());
                appended = true;
            } else if in_block || inside_quotes || was_inside_quotes {
                let spacer = if idx > 0 { " " } else { "" };
                let l = last(&mut params);
                l.push_str(spacer);
                l.push_str(token);
                appended = true;
            }
            for (depth, open, close) in [
                (&mut print, "{{", "}}"),
                (&mut block, "{%", "%}"),
                (&mut comment, "{#", "#}"),
            ] {
                let before = *depth;
                *depth = jinja_depth(token, *depth, open, close);
                if *depth != before && !appended {
                    params.push(token.to_owned());
                    appended = true;
                }
            }
            if print == 0
                && block == 0
                && comment == 0
                && !inside_quotes
                && !appended
                && !token.is_empty()
            {
                params.push(token.to_owned());
            }
        }
        if items.len() > 1 && item_idx != items.len() - 1 && !line_continuation {
            last(&mut params).push('\n');
        }
    }
    if print > 0 || block > 0 || comment > 0 || inside_quotes {
        return Err(format!(
            "failed at splitting arguments, either an unbalanced jinja2 block or quotes: {args}"
        ));
    }
    Ok(params)
}
