//! Ansible's `parse_address(address, allow_ranges=True)`, written once for every reader that
//! needs it: INI host lines, YAML host keys, `-i host1,host2:2222,` host lists, and the split of
//! a `--limit` pattern (a whole pattern that is an address is not split at its `:`).
//!
//! Source: `ansible/parsing/utils/addresses.py`. An address is an IPv4 address, an IPv6
//! address or a host name, any of them possibly with `[x:y]` ranges, possibly followed by a
//! port (`host:22`, `[::1]:22`, `[host]:22`).
//!
//! Known differences from Python's `re`, shared by every caller:
//! - Python's `$` also matches before a final newline (`"web1:22\n"` is host `web1`, port 22
//!   there); here it is not an address. No caller passes text with a trailing newline except a
//!   quoted YAML key.
//! - `\w` follows the `regex` crate's Unicode classes, which differ from Python's `str.isalnum`
//!   at the edges (Python takes `½`, the `regex` crate takes combining marks and `‿`).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// A host identifier and its port, as `parse_address` returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The address without its port; may still hold `[x:y]` ranges.
    pub host: String,
    /// The port's digits as written. Python reads them with `int()`, which has no upper bound,
    /// so they are kept as text; [`Address::ansible_port`] gives the value.
    pub port: Option<String>,
}

impl Address {
    /// What Ansible does with text that is not an address: the whole text is the host.
    pub fn whole(text: &str) -> Self {
        Address {
            host: text.to_owned(),
            port: None,
        }
    }

    /// The `ansible_port` Ansible sets for a host written with this address: none without a
    /// port and none for port 0 (Python's `if port:`), otherwise the number; a port past
    /// `u64` (which JSON here cannot hold) stays its digits, as a string.
    pub fn ansible_port(&self) -> Option<Value> {
        let digits = self.port.as_deref()?.trim_start_matches('0');
        if digits.is_empty() {
            return None;
        }
        Some(
            digits
                .parse::<u64>()
                .map_or_else(|_| Value::String(digits.to_owned()), Value::from),
        )
    }
}

/// `parse_address(address, allow_ranges=True)`: the address and its port, or `None` where
/// Python raises (the text is not a host identifier; callers then use it whole).
pub fn parse(address: &str) -> Option<Address> {
    let re = patterns();
    let mut host = address.to_owned();
    let mut port = None;
    // Python tries both port forms in turn, each on what the last one left, so `[a:1]:2`
    // loses two ports and the last one wins.
    for hostport in [&re.bracketed_hostport, &re.hostport] {
        if let Some(c) = hostport.captures(&host) {
            port = Some(c[2].to_owned());
            host = c[1].to_owned();
        }
    }
    (re.ipv4.is_match(&host) || re.ipv6.is_match(&host) || re.hostname.is_match(&host))
        .then_some(Address { host, port })
}

/// Whether `parse_address` accepts `text` (the test `split_host_pattern` makes).
pub fn is_address(text: &str) -> bool {
    parse(text).is_some()
}

struct Patterns {
    bracketed_hostport: Regex,
    hostport: Regex,
    ipv4: Regex,
    ipv6: Regex,
    hostname: Regex,
}

/// Python's `patterns`, compiled once.
fn patterns() -> &'static Patterns {
    static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
        let numeric_range = r"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]";
        let hex_range = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]";
        let alnum_range = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]";
        let i4 = format!("(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{numeric_range})");
        let i6 = format!("(?:[0-9a-f]{{1,4}}|{hex_range})");
        let ipv6 = [
            format!("(?:{i6}:){{7}}{i6}"),
            format!("(?:{i6}:){{1,6}}:"),
            format!("(?:{i6}:)(?::{i6}){{1,6}}"),
            format!("(?:{i6}:){{2}}(?::{i6}){{1,5}}"),
            format!("(?:{i6}:){{3}}(?::{i6}){{1,4}}"),
            format!("(?:{i6}:){{4}}(?::{i6}){{1,3}}"),
            format!("(?:{i6}:){{5}}(?::{i6}){{1,2}}"),
            format!("(?:{i6}:){{6}}(?::{i6})"),
            format!(":(?::{i6}){{1,6}}"),
            format!("{i6}?::"),
            format!(r"(?:0:){{6}}(?:{i6}\.){{3}}{i6}"),
            format!(r"::(?:ffff:)?(?:{i6}\.){{3}}{i6}"),
            format!(r"(?:0:){{5}}ffff:(?:{i6}\.){{3}}{i6}"),
        ]
        .join("|");
        // A label starts with a word character or a range, goes on with word characters, `-`
        // or ranges, and does not end with `_` or `-` (Python's look-behind `(?<![_-])`,
        // spelled here as "one character that is neither, or a longer label ending in one").
        let r = alnum_range;
        let label = format!(r"(?:(?:[^\W_]|{r})|(?:\w|{r})(?:[\w-]|{r})*(?:[^\W_]|{r}))");
        let re = |s: &str| Regex::new(s).unwrap_or_else(|e| panic!("address pattern {s}: {e}"));
        Patterns {
            bracketed_hostport: re(r"^\[(.+)\]:([0-9]+)$"),
            hostport: re(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$"),
            ipv4: re(&format!(r"(?i)^(?:{i4}\.){{3}}{i4}$")),
            ipv6: re(&format!("(?i)^(?:{ipv6})$")),
            hostname: re(&format!(r"(?i)^{label}(?:\.{label})*$")),
        }
    });
    &PATTERNS
}

#[cfg(test)]
mod tests {
    //! Expected values were checked against ansible-core's `parse_address`.

    use super::*;

    /// The result as a (host, port) pair, for short assertions.
    fn pa(s: &str) -> Option<(String, Option<String>)> {
        parse(s).map(|a| (a.host, a.port))
    }

    fn some(host: &str, port: Option<&str>) -> Option<(String, Option<String>)> {
        Some((host.into(), port.map(str::to_owned)))
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(pa("h:22"), some("h", Some("22")));
        assert_eq!(pa("web01:2222"), some("web01", Some("2222")));
        assert_eq!(pa("10.0.0.1:22"), some("10.0.0.1", Some("22")));
        assert_eq!(pa("a_b-c"), some("a_b-c", None));
        assert_eq!(pa("h:abc"), None);
    }

    #[test]
    fn ipv6_needs_brackets_for_a_port() {
        assert_eq!(pa("[::1]:22"), some("::1", Some("22")));
        assert_eq!(pa("[::1]:99"), some("::1", Some("99")));
        assert_eq!(pa("fe80::1"), some("fe80::1", None));
    }

    #[test]
    fn ranges() {
        assert_eq!(
            pa("192.168.0.[1:3]:22"),
            some("192.168.0.[1:3]", Some("22"))
        );
        assert_eq!(
            pa("web[01:03].ex.com:22"),
            some("web[01:03].ex.com", Some("22"))
        );
        // Alphabetic ranges are one letter to one letter.
        assert_eq!(pa("w[ab:cd]"), None);
        assert_eq!(pa("w[ab:cd]:22"), None);
    }

    #[test]
    fn labels_may_not_end_with_underscore_or_dash() {
        // Labels may not end with `_` or `-`, nor a name with a dot: then the whole text is
        // the host (checked: `bad_:33` and `h.a.:44` are host names, no port).
        assert_eq!(pa("web_"), None);
        assert_eq!(pa("web-.x"), None);
        assert_eq!(pa("bad_:33"), None);
        assert_eq!(pa("h.a.:44"), None);
    }

    #[test]
    fn both_port_forms_apply_in_turn() {
        // Checked: Python gives ('1', 3) for `[1:3]:9`, the bracketed port being overwritten.
        assert_eq!(pa("[1:3]:9"), some("1", Some("3")));
    }

    #[test]
    fn ports_have_no_upper_bound() {
        // Checked: `ansible-inventory` shows host `h` with ansible_port 99999999999999999999999
        // for `h:99999999999999999999999` in INI, YAML and `-i h:...,` host lists.
        let big = "99999999999999999999999";
        assert_eq!(pa(&format!("h:{big}")), some("h", Some(big)));
    }

    #[test]
    fn ansible_port_is_pythons_int_and_falsy_zero() {
        let port = |s: &str| parse(s).and_then(|a| a.ansible_port());
        assert_eq!(port("h:22"), Some(Value::from(22)));
        assert_eq!(port("h:022"), Some(Value::from(22)));
        assert_eq!(port("h:0"), None);
        assert_eq!(port("h:000"), None);
        assert_eq!(port("h"), None);
        assert_eq!(
            port("h:99999999999999999999999"),
            Some(Value::from("99999999999999999999999"))
        );
        assert_eq!(Address::whole("h:abc").ansible_port(), None);
    }

    #[test]
    fn is_address_for_pattern_splitting() {
        assert!(is_address("db:80"));
        assert!(is_address("fe80::1"));
        assert!(is_address("10.0.0.1:22"));
        assert!(is_address("web[1:3]"));
        assert!(!is_address("web:&db:!x"));
        assert!(!is_address("web[0:2]:db"));
        assert!(!is_address("web-:db"));
    }
}
