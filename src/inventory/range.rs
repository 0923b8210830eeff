//! Host ranges: `web[01:20].example.com`, `[0:10:5]`, `db-[a:f]`.
//!
//! Follows Ansible's `expand_hostname_range`: the first `[...]` is expanded, and each result is
//! expanded again while it still contains a `[`, so several ranges give a cartesian product
//! with the leftmost range varying slowest. A start with a leading zero fixes the width
//! (`[01:10]` gives `01` … `10`, and both ends must then have the same width); `[1:03]` is not
//! padded. A missing start means 0 (`[:3]`). Alphabetic bounds are looked up in
//! `a…zA…Z`, so `[x:B]` runs `x y z A B`.
//!
//! Two deliberate differences: Ansible silently expands a numeric range whose start is after
//! its end (`[05:01]`) or whose step is negative to no host at all, dropping the line; fleetup
//! refuses both. And fleetup refuses a pattern that would expand to more than
//! [`MAX_HOSTS`] names.

/// The most names one pattern may expand to.
pub const MAX_HOSTS: usize = 1_000_000;

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Expands every range in `pattern`; a pattern without a range expands to itself.
pub fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    if pattern.contains('[') {
        expand_into(pattern, &mut out)?;
    } else {
        out.push(pattern.to_owned());
    }
    Ok(out)
}

fn expand_into(name: &str, out: &mut Vec<String>) -> Result<(), String> {
    // Ansible cuts the name at the first `[` and the first `]`, whichever comes first.
    let (Some(open), Some(close)) = (name.find('['), name.find(']')) else {
        return Err(format!(
            "unterminated host range in '{name}' (a '[' needs a matching ']')"
        ));
    };
    if name.contains('|') {
        // Ansible splits on '|' internally and fails on such names.
        return Err(format!(
            "'{name}': a host name with a range cannot contain '|'"
        ));
    }
    let (lo, hi) = (open.min(close), open.max(close));
    let (head, spec, tail) = (&name[..lo], &name[lo + 1..hi], &name[hi + 1..]);
    for item in sequence(spec)? {
        let host = format!("{head}{item}{tail}");
        if host.contains('[') {
            expand_into(&host, out)?;
        } else {
            if out.len() >= MAX_HOSTS {
                return Err(format!(
                    "host range in '{name}' expands to more than {MAX_HOSTS} names"
                ));
            }
            out.push(host);
        }
    }
    Ok(())
}

/// The values of one range, `begin:end` or `begin:end:step`, as text.
fn sequence(spec: &str) -> Result<Vec<String>, String> {
    let bounds: Vec<&str> = spec.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(format!(
            "host range [{spec}] must be begin:end or begin:end:step"
        ));
    }
    let begin = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(format!("host range [{spec}] must specify an end value"));
    }
    let step_text = bounds.get(2).copied().unwrap_or("1");
    let width = if begin.starts_with('0') && begin.chars().count() > 1 {
        if begin.chars().count() != end.chars().count() {
            return Err(format!(
                "host range [{spec}]: begin '{begin}' is zero-padded, so end '{end}' must have the same width"
            ));
        }
        begin.chars().count()
    } else {
        0
    };

    // Ansible looks the bounds up as substrings of a…zA…Z.
    if let (Some(b), Some(e)) = (LETTERS.find(begin), LETTERS.find(end)) {
        if b > e {
            return Err(format!(
                "host range [{spec}]: begin '{begin}' comes after end '{end}'"
            ));
        }
        let step = py_int(step_text)
            .ok_or_else(|| format!("host range [{spec}]: step '{step_text}' is not a number"))?;
        let step = check_step(step, spec)?;
        return Ok(LETTERS[b..=e]
            .chars()
            .step_by(step)
            .map(String::from)
            .collect());
    }

    let number = |text: &str, what: &str| {
        py_int(text).ok_or_else(|| {
            format!("host range [{spec}]: {what} '{text}' is not a number (and the bounds are not both letters)")
        })
    };
    let (b, e, step) = (
        number(begin, "begin")?,
        number(end, "end")?,
        number(step_text, "step")?,
    );
    let step = check_step(step, spec)?;
    if b > e {
        // Ansible expands this to nothing, silently dropping the hosts.
        return Err(format!("host range [{spec}]: begin {b} is after end {e}"));
    }
    let count = (e - b) / step as i128 + 1;
    if count > MAX_HOSTS as i128 {
        return Err(format!(
            "host range [{spec}] expands to more than {MAX_HOSTS} names"
        ));
    }
    Ok((b..=e)
        .step_by(step)
        .map(|v| format!("{v:0width$}"))
        .collect())
}

fn check_step(step: i128, spec: &str) -> Result<usize, String> {
    match usize::try_from(step) {
        Ok(0) => Err(format!("host range [{spec}]: the step must not be zero")),
        Ok(step) => Ok(step),
        // Ansible expands a negative step to nothing.
        Err(_) => Err(format!("host range [{spec}]: the step must be positive")),
    }
}

/// Python's `int(text)`: surrounding whitespace, an optional sign, digits with single
/// underscores between them.
pub(crate) fn py_int(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    let value: i128 = digits.replace('_', "").parse().ok()?;
    // Bounds this large cannot be a real fleet; refuse rather than overflow.
    (value < 1 << 64).then_some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(pattern: &str) -> Vec<String> {
        expand(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    #[test]
    fn no_range_is_the_name_itself() {
        assert_eq!(ok("web.example.com"), ["web.example.com"]);
        // Only a '[' starts a range (Ansible's detect_range).
        assert_eq!(ok("odd]name"), ["odd]name"]);
    }

    #[test]
    fn numeric_with_and_without_padding() {
        assert_eq!(
            ok("web[01:03].example.com"),
            [
                "web01.example.com",
                "web02.example.com",
                "web03.example.com"
            ]
        );
        assert_eq!(ok("w[1:3]"), ["w1", "w2", "w3"]);
        assert_eq!(ok("w[8:11]"), ["w8", "w9", "w10", "w11"]);
        assert_eq!(ok("w[08:11]"), ["w08", "w09", "w10", "w11"]);
        // Checked with ansible-inventory: only a zero-padded *start* pads; `[1:03]` does not.
        assert_eq!(ok("w[1:03]"), ["w1", "w2", "w3"]);
        assert_eq!(ok("w[0:2]"), ["w0", "w1", "w2"]);
        // A missing start is 0 (ansible-inventory gives w0…w3).
        assert_eq!(ok("w[:3]"), ["w0", "w1", "w2", "w3"]);
    }

    #[test]
    fn stride() {
        assert_eq!(ok("w[0:10:5]"), ["w0", "w5", "w10"]);
        assert_eq!(ok("w[001:010:3]"), ["w001", "w004", "w007", "w010"]);
        assert_eq!(ok("w[a:f:2]"), ["wa", "wc", "we"]);
    }

    #[test]
    fn alphabetic() {
        assert_eq!(
            ok("db-[a:f]"),
            ["db-a", "db-b", "db-c", "db-d", "db-e", "db-f"]
        );
        // Ansible walks a…zA…Z, so lower case runs into upper case (checked).
        assert_eq!(ok("w[x:B]"), ["wx", "wy", "wz", "wA", "wB"]);
        // Bounds are looked up as substrings of that alphabet: `[ab:cd]` is a…c (checked).
        assert_eq!(ok("w[ab:cd]"), ["wa", "wb", "wc"]);
    }

    #[test]
    fn several_ranges_leftmost_slowest() {
        assert_eq!(ok("w[1:2]x[a:b]"), ["w1xa", "w1xb", "w2xa", "w2xb"]);
        assert_eq!(ok("w[1:3].[a:b]").len(), 6);
        assert_eq!(
            ok("10.0.[1:2].[8:9]"),
            ["10.0.1.8", "10.0.1.9", "10.0.2.8", "10.0.2.9"]
        );
    }

    #[test]
    fn ansible_cuts_at_the_first_bracket_of_either_kind() {
        // `w]1:2[` expands to w1, w2 in Ansible too.
        assert_eq!(ok("w]1:2["), ["w1", "w2"]);
    }

    #[test]
    fn errors() {
        let err = |p: &str| expand(p).unwrap_err();
        assert!(err("w[05:01]").contains("after end"), "{}", err("w[05:01]"));
        assert!(err("w[f:a]").contains("comes after"));
        // Ansible also refuses a descending alphabetic range across cases.
        assert!(err("w[Y:b]").contains("comes after"));
        assert!(err("w[1:3:0]").contains("zero"));
        assert!(err("w[1:3:-1]").contains("positive"));
        assert!(err("w[a:c:0]").contains("zero"));
        assert!(err("w[1:3:x]").contains("step"));
        assert!(err("w[a:c:x]").contains("step 'x'"));
        assert!(err("w[a:3]").contains("not a number"));
        assert!(err("w[1:c]").contains("not a number"));
        assert!(err("w[01:3]").contains("same width"));
        assert!(err("w[1:3").contains("unterminated"));
        assert!(err("w[1]").contains("begin:end"));
        assert!(err("w[1:2:3:4]").contains("begin:end"));
        assert!(err("w[1:]").contains("end value"));
        assert!(err("w[1:2]|x").contains('|'));
        assert!(err("w[0:9999999]").contains("more than"));
        assert!(err("a[0:999]b[0:999]c[0:9]").contains("more than"));
    }

    #[test]
    fn python_int_rules_for_bounds() {
        assert_eq!(ok("w[1_0:11]"), ["w10", "w11"]);
        assert_eq!(ok("w[-1:1]"), ["w-1", "w0", "w1"]);
        assert!(expand("w[1__0:11]").is_err());
    }

    /// Property tests: random templates of literal text and ranges, expanded, against a
    /// reference model that lists each range's values and takes their cartesian product
    /// (leftmost range slowest).
    mod properties {
        use proptest::prelude::*;

        use super::super::{LETTERS, expand};

        /// One range of a template, and the values it stands for.
        #[derive(Debug, Clone)]
        struct Range {
            spec: String,
            values: Vec<String>,
            /// Zero-padded width (0: not padded); numeric ranges only.
            width: usize,
            numeric: bool,
        }

        fn numeric() -> impl Strategy<Value = Range> {
            (
                0u64..120,
                1usize..6,
                1u64..4,
                0u64..3,
                any::<bool>(),
                0usize..3,
                any::<bool>(),
            )
                .prop_map(|(begin, n, step, extra, padded, pad, explicit_step)| {
                    let extra = extra % step; // an end past the last value, short of a step
                    let end = begin + (n as u64 - 1) * step + extra;
                    let digits = end.to_string().len();
                    // A padded begin has a leading zero and more than one digit.
                    let width = if padded { digits + 1 + pad } else { 0 };
                    let (b, e) = if padded {
                        (format!("{begin:0width$}"), format!("{end:0width$}"))
                    } else if begin == 0 && !explicit_step {
                        (String::new(), end.to_string()) // `[:e]` starts at 0
                    } else {
                        (begin.to_string(), end.to_string())
                    };
                    let spec = if step == 1 && !explicit_step {
                        format!("{b}:{e}")
                    } else {
                        format!("{b}:{e}:{step}")
                    };
                    let values = (begin..=end)
                        .step_by(step as usize)
                        .map(|v| format!("{v:0width$}"))
                        .collect();
                    Range {
                        spec,
                        values,
                        width,
                        numeric: true,
                    }
                })
        }

        fn alphabetic() -> impl Strategy<Value = Range> {
            (0usize..52, 0usize..8, 1usize..4).prop_map(|(begin, len, step)| {
                let end = (begin + len).min(51);
                let letters: Vec<char> = LETTERS.chars().collect();
                let spec = if step == 1 {
                    format!("{}:{}", letters[begin], letters[end])
                } else {
                    format!("{}:{}:{step}", letters[begin], letters[end])
                };
                let values = letters[begin..=end]
                    .iter()
                    .step_by(step)
                    .map(char::to_string)
                    .collect();
                Range {
                    spec,
                    values,
                    width: 0,
                    numeric: false,
                }
            })
        }

        /// Literal text: host-name characters (no bracket, no `|`).
        fn literal() -> impl Strategy<Value = String> {
            "[a-z0-9.-]{0,4}"
        }

        /// A template: literal, then up to three (range, literal) pairs.
        fn template() -> impl Strategy<Value = (String, Vec<Range>, Vec<String>)> {
            (
                literal(),
                prop::collection::vec((prop_oneof![numeric(), alphabetic()], literal()), 0..4),
            )
                .prop_map(|(head, parts)| {
                    let mut text = head.clone();
                    let mut literals = vec![head];
                    let mut ranges = Vec::new();
                    for (r, lit) in parts {
                        text.push_str(&format!("[{}]{lit}", r.spec));
                        ranges.push(r);
                        literals.push(lit);
                    }
                    (text, ranges, literals)
                })
        }

        /// The reference model: the cartesian product, leftmost range slowest.
        fn model(ranges: &[Range], literals: &[String]) -> Vec<String> {
            let mut names = vec![literals[0].clone()];
            for (r, lit) in ranges.iter().zip(&literals[1..]) {
                names = names
                    .iter()
                    .flat_map(|n| r.values.iter().map(move |v| format!("{n}{v}{lit}")))
                    .collect();
            }
            names
        }

        /// A regex every name of the template matches.
        fn template_regex(ranges: &[Range], literals: &[String]) -> regex::Regex {
            let mut re = format!("^{}", regex::escape(&literals[0]));
            for (r, lit) in ranges.iter().zip(&literals[1..]) {
                re.push_str(
                    match (r.numeric, r.width) {
                        (true, 0) => r"(\d+)".to_owned(),
                        (true, w) => format!(r"(\d{{{w}}})"),
                        (false, _) => "([a-zA-Z])".to_owned(),
                    }
                    .as_str(),
                );
                re.push_str(&regex::escape(lit));
            }
            re.push('$');
            regex::Regex::new(&re).unwrap()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn expansion_is_the_cartesian_product((text, ranges, literals) in template()) {
                let names = expand(&text).map_err(TestCaseError::fail)?;
                // The count is the product of the range lengths.
                let product: usize = ranges.iter().map(|r| r.values.len()).product();
                prop_assert_eq!(names.len(), product);
                // Same names, same order as the model.
                prop_assert_eq!(&names, &model(&ranges, &literals));
                // Every name matches its template, each range's part padded to its width.
                let re = template_regex(&ranges, &literals);
                for name in &names {
                    prop_assert!(re.is_match(name), "{} does not match {}", name, re.as_str());
                    prop_assert!(!name.contains('['));
                }
            }

            #[test]
            fn a_numeric_range_round_trips(
                head in literal(), tail in literal(), r in numeric(),
            ) {
                // Reading the numbers back gives begin, begin + step, …; padded ones keep
                // their width.
                let names = expand(&format!("{head}[{}]{tail}", r.spec)).map_err(TestCaseError::fail)?;
                let middles: Vec<&str> = names
                    .iter()
                    .map(|n| &n[head.len()..n.len() - tail.len()])
                    .collect();
                prop_assert_eq!(&middles, &r.values.iter().map(String::as_str).collect::<Vec<_>>());
                if r.width > 0 {
                    prop_assert!(middles.iter().all(|m| m.len() == r.width));
                }
                let numbers: Vec<u64> = middles.iter().map(|m| m.parse().unwrap()).collect();
                prop_assert!(numbers.windows(2).all(|w| w[0] < w[1]));
            }

            #[test]
            fn text_without_a_bracket_is_itself(name in "[^\\[]{0,12}") {
                prop_assert_eq!(expand(&name).map_err(TestCaseError::fail)?, vec![name]);
            }

            #[test]
            fn arbitrary_text_never_panics(text in "[\\[\\]:0-9a-zA-Z_|+ -]{0,24}") {
                if let Ok(names) = expand(&text) {
                    prop_assert!(!names.is_empty());
                    prop_assert!(names.iter().all(|n| !n.contains('[')));
                }
            }
        }
    }
}
