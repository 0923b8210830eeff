//! Host patterns for `--limit`, with Ansible's semantics and evaluation order.
//!
//! What Ansible does (ansible-core 2.19, `inventory/manager.py`), and so what this does:
//!
//! - **Splitting.** A pattern with a `,` is split on `,`. Without one, a pattern that parses as
//!   one address (`host:22`, an IPv6 address, `web[1:3]`) stays whole; anything else is cut
//!   into runs of characters other than whitespace, `:` and `[]`, a bracketed `[…]` counting
//!   as part of its run (so `web[0:2]:db` is `web[0:2]` and `db`, and `a b` is two terms).
//! - **Order.** Plain terms first, then `&` terms, then `!` terms, each group in the order
//!   written; `all` is prepended when there is no plain term.
//! - **A term.** A plain term that is exactly a host name is that host, even when it looks like
//!   a glob. Otherwise (and always for `&`/`!` terms) the term may end in a subscript `[i]`,
//!   `[i:j]` (inclusive) or `[i:]`; what precedes it is matched against group names (a glob,
//!   or `~regex` matched at the start only, like Python's `re.match`), every matching group
//!   bringing its hosts; host names are matched too when no group matched, or when the term
//!   is a regex or contains `.`, `?`, `*` or `[`. Duplicates are kept until the subscript is
//!   applied, as Ansible keeps them (`web*[4]` indexes the group's hosts followed by the
//!   matching host names).
//! - **Subscripts.** `[i]` (negative counts from the end; out of range is an error), `[i:j]`
//!   inclusive and clamped, `[i:]` to the end, `[i:0]` is `[i]` (Ansible reads end 0 as
//!   "no end"), `[i-j]` is the old spelling of `[i:j]`.
//! - **`@file`.** Each line of the file, trimmed, is a term in its own right (a line `!web3`
//!   excludes); empty lines are skipped. Lines are not split further.
//! - **Result.** Union keeps the first occurrence; `&` and `!` filter, keeping order.
//!
//! Where fleetup departs from Ansible, on purpose: a term matching no host and no group is an
//! error naming that term (Ansible warns and goes on), and so is a selection that ends up
//! empty; there is no implicit `localhost`; an out-of-range `[i]` is an error naming the term.
//! Regexes use the `regex` crate, which has no look-around or back-references: such a pattern
//! is refused as invalid rather than misread.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::{ALL, Inventory, InventoryError, Result, address};

/// The hosts `pattern` selects, in Ansible's order.
pub fn select(inv: &Inventory, pattern: &str) -> Result<Vec<String>> {
    let mut terms = Vec::new();
    for term in split_host_pattern(pattern) {
        if let Some(path) = term.strip_prefix('@') {
            terms.extend(read_limit_file(&term, path)?);
        } else {
            terms.push(term);
        }
    }
    let terms = order_patterns(terms);

    let mut hosts: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut plain_empty = true;
    for term in &terms {
        if let Some(rest) = term.strip_prefix('!') {
            let that: HashSet<String> = match_one(inv, term, rest)?.into_iter().collect();
            hosts.retain(|h| !that.contains(h));
        } else if let Some(rest) = term.strip_prefix('&') {
            let that: HashSet<String> = match_one(inv, term, rest)?.into_iter().collect();
            hosts.retain(|h| that.contains(h));
        } else if inv.host(term).is_some() {
            hosts.push(term.clone());
            plain_empty = false;
        } else {
            let that = match_one(inv, term, term)?;
            plain_empty &= that.is_empty();
            hosts.extend(that);
        }
    }
    // Union keeps the first occurrence; filtering kept relative order, so this is Ansible's
    // final `deduplicate_list`.
    hosts.retain(|h| seen.insert(h.clone()));
    if hosts.is_empty() {
        return Err(InventoryError::NoMatch {
            pattern: pattern.to_owned(),
            hint: empty_hint(inv, &terms, plain_empty),
        });
    }
    Ok(hosts)
}

/// Why a pattern whose terms each matched something still selects nothing.
fn empty_hint(inv: &Inventory, terms: &[String], plain_empty: bool) -> String {
    if inv.hosts().next().is_none() {
        return " (the inventory has no hosts)".to_owned();
    }
    if !plain_empty {
        return " (its ':&' and ':!' terms leave no host selected)".to_owned();
    }
    let plain: Vec<&str> = terms
        .iter()
        .filter(|t| !t.starts_with(['&', '!']))
        .map(String::as_str)
        .collect();
    if plain.iter().all(|t| inv.group(t).is_some()) {
        format!(" (group {} has no hosts)", quoted_list(&plain))
    } else {
        format!(" ({} selects no hosts)", quoted_list(&plain))
    }
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ansible's `split_host_pattern`.
fn split_host_pattern(pattern: &str) -> Vec<String> {
    static RUNS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").expect("valid regex"));
    let parts: Vec<&str> = if pattern.contains(',') {
        pattern.split(',').collect()
    } else if address::is_address(pattern) {
        vec![pattern]
    } else {
        RUNS.find_iter(pattern).map(|m| m.as_str()).collect()
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Ansible's `order_patterns`.
fn order_patterns(terms: Vec<String>) -> Vec<String> {
    let (mut plain, mut and, mut not) = (Vec::new(), Vec::new(), Vec::new());
    for t in terms {
        match t.chars().next() {
            None => {}
            Some('!') => not.push(t),
            Some('&') => and.push(t),
            Some(_) => plain.push(t),
        }
    }
    if plain.is_empty() {
        plain.push(ALL.to_owned());
    }
    plain.into_iter().chain(and).chain(not).collect()
}

/// The terms of an `@file` limit: one per non-empty line, trimmed.
fn read_limit_file(term: &str, path: &str) -> Result<Vec<String>> {
    let bad = |reason: String| InventoryError::BadPattern {
        pattern: term.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        bad(format!(
            "cannot read limit file {path}: {e} (`@FILE` reads host names from FILE, one per \
             line, such as the retry file an upgrade writes beside the inventory when hosts \
             are left to retry; check the path)"
        ))
    })?;
    if !meta.is_file() {
        return Err(bad(format!("limit file {path} is not a regular file")));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad(format!("cannot read limit file {path}: {e}")))?;
    Ok(text
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// A subscript: `[i]`, or `[start:end]` with `end` `None` for `[start:]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscript {
    Index(i64),
    Range(i64, Option<i64>),
}

/// Ansible's `_split_subscript`: the expression, and its subscript if it has one.
fn split_subscript(pattern: &str) -> (&str, Option<Subscript>) {
    static SUB: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$").expect("valid regex")
    });
    if pattern.starts_with('~') {
        return (pattern, None);
    }
    let Some(c) = SUB.captures(pattern) else {
        return (pattern, None);
    };
    let expr = c.get(1).map_or("", |m| m.as_str());
    let int = |s: &str| {
        s.parse::<i64>().unwrap_or(if s.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        })
    };
    let sub = if let Some(i) = c.get(2) {
        Subscript::Index(int(i.as_str()))
    } else {
        let start = int(&c[3]);
        let end = c
            .get(5)
            .map(|m| m.as_str())
            .filter(|s| !s.is_empty())
            .map(int);
        Subscript::Range(start, end)
    };
    (expr, Some(sub))
}

/// Ansible's `_apply_subscript`; `None` when an index is out of range.
fn apply_subscript(hosts: Vec<String>, sub: Option<Subscript>) -> Option<Vec<String>> {
    let Some(sub) = sub else { return Some(hosts) };
    if hosts.is_empty() {
        return Some(hosts);
    }
    let len = hosts.len() as i64;
    let single = |i: i64| {
        let i = if i < 0 { i.checked_add(len)? } else { i };
        (0..len)
            .contains(&i)
            .then(|| vec![hosts[i as usize].clone()])
    };
    match sub {
        Subscript::Index(i) | Subscript::Range(i, Some(0)) => single(i),
        Subscript::Range(start, end) => {
            let end = end.unwrap_or(len - 1).saturating_add(1).min(len);
            let start = start.min(len);
            Some(if start < end {
                hosts[start as usize..end as usize].to_vec()
            } else {
                Vec::new()
            })
        }
    }
}

/// Ansible's `_match_one_pattern` for one term (`body` is the term without `&`/`!`).
/// A term that matches no group and no host is an error naming it.
fn match_one(inv: &Inventory, term: &str, body: &str) -> Result<Vec<String>> {
    let (expr, sub) = split_subscript(body);
    let (hosts, matched) = enumerate_matches(inv, term, expr)?;
    if !matched {
        return Err(InventoryError::NoMatch {
            pattern: term.to_owned(),
            hint: nearest_hint(inv, expr),
        });
    }
    let n = hosts.len();
    apply_subscript(hosts, sub).ok_or_else(|| InventoryError::NoMatch {
        pattern: term.to_owned(),
        hint: format!(" (the subscript is out of range: '{expr}' matches {n} host(s))"),
    })
}

/// Ansible's `_enumerate_matches`: hosts of matching groups, then matching host names when no
/// group matched or the expression is a regex or glob-like. Duplicates are kept. The flag says
/// whether anything (a group, even an empty one, or a host) matched.
fn enumerate_matches(inv: &Inventory, term: &str, expr: &str) -> Result<(Vec<String>, bool)> {
    let matcher = Matcher::new(term, expr)?;
    let mut results = Vec::new();
    let mut any_group = false;
    for g in inv.groups() {
        if matcher.is_match(&g.name) {
            any_group = true;
            results.extend(inv.group_hosts(&g.name));
        }
    }
    let mut any_host = false;
    if !any_group || expr.starts_with('~') || expr.contains(['.', '?', '*', '[']) {
        for h in inv.hosts() {
            if matcher.is_match(&h.name) {
                any_host = true;
                results.push(h.name.clone());
            }
        }
    }
    Ok((results, any_group || any_host))
}

/// A compiled term: `~regex` (anchored at the start, like Python's `re.match`) or a glob
/// (anchored at both ends, case-sensitive, like `fnmatch.translate` + `re.match`).
#[derive(Debug)]
struct Matcher(Regex);

impl Matcher {
    fn new(term: &str, expr: &str) -> Result<Self> {
        let source = match expr.strip_prefix('~') {
            Some(re) => format!(r"\A(?:{re})"),
            None => format!(r"(?s)\A(?:{})\z", glob_to_regex(expr)),
        };
        Regex::new(&source)
            .map(Matcher)
            .map_err(|e| InventoryError::BadPattern {
                pattern: term.to_owned(),
                reason: format!("not a valid regular expression: {e}"),
            })
    }

    fn is_match(&self, name: &str) -> bool {
        self.0.is_match(name)
    }
}

/// Python 3.11's `fnmatch.translate`, emitted for the `regex` crate: `*`, `?`, `[seq]`,
/// `[!seq]` (a `]` first in the set is literal, an unclosed `[` is literal, reversed ranges
/// such as `z-a` are dropped as Python drops them).
fn glob_to_regex(pat: &str) -> String {
    let p: Vec<char> = pat.chars().collect();
    let n = p.len();
    let mut out = String::new();
    let mut i = 0;
    while i < n {
        let c = p[i];
        i += 1;
        match c {
            '*' => {
                while i < n && p[i] == '*' {
                    i += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < n && p[j] == '!' {
                    j += 1;
                }
                if j < n && p[j] == ']' {
                    j += 1;
                }
                while j < n && p[j] != ']' {
                    j += 1;
                }
                if j >= n {
                    out.push_str(r"\[");
                } else {
                    out.push_str(&glob_class(&p[i..j]));
                    i = j + 1;
                }
            }
            c => out.push_str(&lit(c)),
        }
    }
    out
}

/// A character as a regex literal that is safe inside and outside a class.
fn lit(c: char) -> String {
    format!(r"\x{{{:x}}}", c as u32)
}

/// One `[...]` set of a glob (`body` is what is between the brackets), as Python's fnmatch
/// reads it: split into chunks at range hyphens, drop reversed ranges, then read the result
/// the way `re` reads a class.
fn glob_class(body: &[char]) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Ch(char),
        Hyphen,
    }
    let toks: Vec<Tok> = if !body.contains(&'-') {
        body.iter().map(|&c| Tok::Ch(c)).collect()
    } else {
        let mut chunks: Vec<Vec<char>> = Vec::new();
        let mut start = 0;
        let mut k = if body.first() == Some(&'!') { 2 } else { 1 };
        while let Some(off) = body
            .get(k..)
            .and_then(|rest| rest.iter().position(|&c| c == '-'))
        {
            let h = k + off;
            chunks.push(body[start..h].to_vec());
            start = h + 1;
            k = h + 3;
        }
        let last = body.get(start..).map(<[char]>::to_vec).unwrap_or_default();
        if !last.is_empty() {
            chunks.push(last);
        } else if let Some(prev) = chunks.last_mut() {
            prev.push('-');
        }
        let mut k = chunks.len();
        while k > 1 {
            k -= 1;
            let (a, b) = (chunks[k - 1].last().copied(), chunks[k].first().copied());
            if let (Some(a), Some(b)) = (a, b)
                && a > b
            {
                let mut merged = chunks[k - 1][..chunks[k - 1].len() - 1].to_vec();
                merged.extend_from_slice(&chunks[k][1..]);
                chunks[k - 1] = merged;
                chunks.remove(k);
            }
        }
        let mut toks = Vec::new();
        for (idx, chunk) in chunks.iter().enumerate() {
            if idx > 0 {
                toks.push(Tok::Hyphen);
            }
            toks.extend(chunk.iter().map(|&c| Tok::Ch(c)));
        }
        toks
    };
    if toks.is_empty() {
        return "[^\\x{0}-\\x{10FFFF}]".to_owned(); // Python's `(?!)`: matches nothing
    }
    if toks == [Tok::Ch('!')] {
        return ".".to_owned();
    }
    let (negate, toks) = match toks.first() {
        Some(Tok::Ch('!')) => (true, &toks[1..]),
        _ => (false, &toks[..]),
    };
    let mut items = String::new();
    let mut i = 0;
    while i < toks.len() {
        let lo = match toks[i] {
            Tok::Ch(c) => c,
            Tok::Hyphen => '-',
        };
        if let (Some(Tok::Hyphen), Some(Tok::Ch(hi))) = (toks.get(i + 1), toks.get(i + 2))
            && toks[i] != Tok::Hyphen
            && lo <= *hi
        {
            items.push_str(&format!("{}-{}", lit(lo), lit(*hi)));
            i += 3;
        } else {
            items.push_str(&lit(lo));
            i += 1;
        }
    }
    if items.is_empty() {
        // `[!]`-like: a negated empty set matches any character.
        return if negate {
            ".".to_owned()
        } else {
            "[^\\x{0}-\\x{10FFFF}]".to_owned()
        };
    }
    format!("[{}{items}]", if negate { "^" } else { "" })
}

/// " (did you mean …?)" listing the group and host names closest to `expr`, or the groups
/// there are when none is close.
fn nearest_hint(inv: &Inventory, expr: &str) -> String {
    suggest(inv, expr, Names::Both)
}

/// Which names [`suggest`] looks among.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    Groups,
    Hosts,
    Both,
}

/// What `wanted`, a name or pattern term that matched nothing, may have meant: `" (did you mean
/// 'web' (group), 'web01.example.com' (host)?)"` — the closest names by edit distance (case
/// and swapped letters forgiven; a short name is close to its FQDN; a glob or regex by its
/// literal start) — or, when nothing is close, the names there are to pick from. Starts with
/// a space; empty for an inventory with nothing to suggest.
pub fn suggest(inv: &Inventory, wanted: &str, among: Names) -> String {
    let mut candidates: Vec<(&str, &str)> = Vec::new();
    if among != Names::Hosts {
        candidates.extend(
            inv.groups()
                .filter(|g| g.name != ALL && g.name != "ungrouped")
                .map(|g| (g.name.as_str(), "group")),
        );
    }
    if among != Names::Groups {
        candidates.extend(inv.hosts().map(|h| (h.name.as_str(), "host")));
    }
    let mut near: Vec<(usize, usize, &str, &str)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(order, &(name, kind))| {
            closeness(wanted, name).map(|d| (d, order, name, kind))
        })
        .collect();
    near.sort();
    // Only the best and nearly best: a long name is within a few edits of many others.
    if let Some(&(best, ..)) = near.first() {
        near.retain(|&(d, ..)| d <= best + 1);
    }
    if !near.is_empty() {
        let names: Vec<String> = near
            .iter()
            .take(5)
            .map(|&(_, _, name, kind)| match among {
                Names::Both => format!("'{name}' ({kind})"),
                _ => format!("'{name}'"),
            })
            .collect();
        return format!(" (did you mean {}?)", names.join(", "));
    }
    // Nothing close: what there is, groups first (there are fewer of them).
    let groups: Vec<(&str, &str)> = candidates
        .iter()
        .copied()
        .filter(|(_, k)| *k == "group")
        .collect();
    let pool = if groups.is_empty() {
        &candidates
    } else {
        &groups
    };
    if pool.is_empty() {
        return String::new();
    }
    const LISTED: usize = 8;
    let what = if groups.is_empty() { "hosts" } else { "groups" };
    let mut names = pool
        .iter()
        .take(LISTED)
        .map(|(name, _)| format!("'{name}'"))
        .collect::<Vec<_>>()
        .join(", ");
    if pool.len() > LISTED {
        names.push_str(&format!(", … ({} in all)", pool.len()));
    }
    let more = if among == Names::Groups {
        ""
    } else {
        "; `fleetup inventory --graph` shows every group and host"
    };
    format!(" (no name is close; the {what} are {names}{more})")
}

/// How far `name` is from `wanted` (0 is as close as it gets), or `None` when too far to
/// suggest. Case does not count; a swap of two letters is one edit; `web01` is close to
/// `web01.example.com`; a glob or regex (`wbe*`, `~wbe\d`) is compared by its literal start
/// with the start of the name.
fn closeness(wanted: &str, name: &str) -> Option<usize> {
    let wanted = wanted.to_lowercase();
    let name = name.to_lowercase();
    let (literal, prefix_only) = match wanted.strip_prefix('~') {
        Some(re) => (literal_start(re, r"\.^$*+?()[]{}|"), true),
        None if wanted.contains(['*', '?', '[']) => (literal_start(&wanted, "*?["), true),
        None => (wanted.as_str(), false),
    };
    let len = literal.chars().count();
    if len < 2 {
        return None;
    }
    if name
        .strip_prefix(literal)
        .is_some_and(|rest| rest.starts_with('.'))
    {
        return Some(0); // a short name of an FQDN
    }
    let d = if prefix_only {
        let start: String = name.chars().take(len).collect();
        strsim::osa_distance(literal, &start)
    } else {
        strsim::osa_distance(literal, &name)
    };
    (d <= (len / 3).max(1)).then_some(d)
}

/// The part of `s` before the first of `special`.
fn literal_start<'a>(s: &'a str, special: &str) -> &'a str {
    s.find(|c| special.contains(c)).map_or(s, |i| &s[..i])
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
