//! `--serial` / `fleetup_serial`: the sizes of the rolling batches.
//!
//! A spec is a list of entries, each a host count (`5`) or a percentage of the selected hosts
//! (`10%`, `12.5%`). Batch *i* takes entry *i*; the last entry repeats until every host is in a
//! batch. A percentage is of the **total selected hosts** (not of the hosts left), rounded down
//! but at least 1, as Ansible rounds; no batch is larger than the hosts left. Unlike Ansible,
//! which multiplies floats (`29%` of 100 hosts is 28 there), the arithmetic is exact: a
//! percentage is kept in thousandths of a percent, so it has at most three decimals.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// The most entries a spec may have. The last entry repeats, so a longer list is never
/// needed; the cap keeps a typo (or a generated list) from becoming a huge plan.
pub const MAX_SERIAL_ENTRIES: usize = 100;

/// Thousandths of a percent in 100%.
const FULL: u32 = 100_000;

/// What a bad spec is refused with; the messages name the entry and say what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SerialError {
    #[error(
        "empty serial spec: expected a host count such as 5, a percentage such as 10%, \
         or a comma-separated list such as 1,10%,25%"
    )]
    Empty,
    #[error(
        "invalid serial entry '{entry}' (entry {position}): {reason}; expected a positive host \
         count such as 5 or a percentage such as 10% (above 0%, at most 100%)"
    )]
    BadEntry {
        /// 1-based position of the entry in the spec.
        position: usize,
        entry: String,
        reason: String,
    },
    #[error(
        "serial spec has {count} entries; at most {max} are allowed (the last entry repeats, \
         so a long list is never needed)"
    )]
    TooMany { count: usize, max: usize },
    #[error(
        "serial value must be a host count, a string such as \"1,10%,25%\", or a list of \
         counts and percentage strings such as [1, \"10%\", \"25%\"]; got {found}"
    )]
    BadValue { found: String },
}

/// One entry of a [`SerialSpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialEntry {
    /// This many hosts (at least 1).
    Count(usize),
    /// This share of the selected hosts, in thousandths of a percent: `12.5%` is `12_500`,
    /// `100%` is `100_000`. Always in `1..=100_000`.
    Percent(u32),
}

impl SerialEntry {
    /// The batch size this entry asks for when `total` hosts are selected, before it is
    /// capped to the hosts left: a count as is, a percentage of `total` rounded down, at
    /// least 1.
    pub fn size(self, total: usize) -> usize {
        match self {
            Self::Count(n) => n,
            Self::Percent(milli) => {
                let share = total as u128 * u128::from(milli) / u128::from(FULL);
                // `share <= total`, so it fits.
                usize::try_from(share).unwrap_or(total).max(1)
            }
        }
    }
}

impl fmt::Display for SerialEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Percent(milli) => {
                let (whole, frac) = (milli / 1000, milli % 1000);
                if frac == 0 {
                    write!(f, "{whole}%")
                } else {
                    let frac = format!("{frac:03}");
                    write!(f, "{whole}.{}%", frac.trim_end_matches('0'))
                }
            }
        }
    }
}

/// The batch sizes of a rolling run. Build one with [`SerialSpec::parse`] (the `--serial`
/// flag), [`SerialSpec::from_json`] (the `fleetup_serial` inventory variable) or
/// [`SerialSpec::all`] (the default: one batch of every host, which is also `Default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialSpec {
    /// Never empty, at most [`MAX_SERIAL_ENTRIES`].
    entries: Vec<SerialEntry>,
}

impl Default for SerialSpec {
    fn default() -> Self {
        Self::all()
    }
}

impl SerialSpec {
    /// One batch of every selected host (`100%`): what a run without `--serial` does.
    pub fn all() -> Self {
        Self {
            entries: vec![SerialEntry::Percent(FULL)],
        }
    }

    /// Parses a spec such as `1,10%,25%`, `5` or `100%`. Entries are separated by commas;
    /// whitespace around an entry is ignored.
    pub fn parse(spec: &str) -> Result<Self, SerialError> {
        if spec.trim().is_empty() {
            return Err(SerialError::Empty);
        }
        let parts: Vec<&str> = spec.split(',').collect();
        check_count(parts.len())?;
        let entries = parts
            .iter()
            .enumerate()
            .map(|(i, part)| parse_entry(part.trim(), i + 1))
            .collect::<Result<_, _>>()?;
        Ok(Self { entries })
    }

    /// Reads the `fleetup_serial` inventory variable: an integer (`5`), a string spec
    /// (`"1,10%,25%"`), or a list of integers and percentage strings (`[1, "10%", "25%"]`,
    /// as Ansible's `serial:` takes). Each list item is one entry.
    pub fn from_json(value: &Value) -> Result<Self, SerialError> {
        match value {
            Value::String(s) => Self::parse(s),
            Value::Number(n) => Ok(Self {
                entries: vec![parse_entry(&n.to_string(), 1)?],
            }),
            Value::Array(items) => {
                if items.is_empty() {
                    return Err(SerialError::Empty);
                }
                check_count(items.len())?;
                let entries = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| list_item(item, i + 1))
                    .collect::<Result<_, _>>()?;
                Ok(Self { entries })
            }
            other => Err(SerialError::BadValue {
                found: describe(other),
            }),
        }
    }

    /// The entries, in order; never empty.
    pub fn entries(&self) -> &[SerialEntry] {
        &self.entries
    }

    /// The batch sizes for `n_hosts` selected hosts, in order: batch *i* takes entry *i*
    /// ([`SerialEntry::size`]), the last entry repeating, each batch capped to the hosts left.
    /// The sizes are all at least 1 and add up to `n_hosts`; no hosts, no batches.
    pub fn batches(&self, n_hosts: usize) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut left = n_hosts;
        let mut i = 0;
        while left > 0 {
            let Some(entry) = self.entries.get(i).or(self.entries.last()) else {
                // Unreachable: a spec is never empty. Everything left in one batch.
                sizes.push(left);
                break;
            };
            let size = entry.size(n_hosts).clamp(1, left);
            sizes.push(size);
            left -= size;
            i += 1;
        }
        sizes
    }
}

impl FromStr for SerialSpec {
    type Err = SerialError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for SerialSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

fn check_count(count: usize) -> Result<(), SerialError> {
    if count > MAX_SERIAL_ENTRIES {
        return Err(SerialError::TooMany {
            count,
            max: MAX_SERIAL_ENTRIES,
        });
    }
    Ok(())
}

fn list_item(item: &Value, position: usize) -> Result<SerialEntry, SerialError> {
    match item {
        Value::Number(n) => parse_entry(&n.to_string(), position),
        Value::String(s) if s.contains(',') => Err(SerialError::BadEntry {
            position,
            entry: s.clone(),
            reason: "a list item is one entry; write the items separately, \
                     or the whole spec as one string"
                .to_owned(),
        }),
        Value::String(s) => parse_entry(s.trim(), position),
        other => Err(SerialError::BadValue {
            found: format!("{} as list item {position}", describe(other)),
        }),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

/// One trimmed entry, at 1-based `position`.
fn parse_entry(text: &str, position: usize) -> Result<SerialEntry, SerialError> {
    let parsed = match text.strip_suffix('%') {
        Some(number) => parse_percent(number.trim_end()).map(SerialEntry::Percent),
        None => parse_count(text).map(SerialEntry::Count),
    };
    parsed.map_err(|reason| SerialError::BadEntry {
        position,
        entry: text.to_owned(),
        reason: reason.to_owned(),
    })
}

fn parse_count(text: &str) -> Result<usize, &'static str> {
    if text.is_empty() {
        return Err("the entry is empty");
    }
    if text.starts_with('-') {
        return Err("a host count cannot be negative");
    }
    let decimal = text
        .split_once('.')
        .is_some_and(|(whole, frac)| is_digits(whole) && is_digits(frac));
    if decimal {
        return Err("a host count must be a whole number");
    }
    if !is_digits(text) {
        return Err("not a number");
    }
    match text.parse::<usize>() {
        Ok(0) => Err("a batch of 0 hosts would never end"),
        Ok(n) => Ok(n),
        Err(_) => Err("the number is too large"),
    }
}

/// A percentage without its `%`, in thousandths of a percent.
fn parse_percent(text: &str) -> Result<u32, &'static str> {
    if text.is_empty() {
        return Err("'%' needs a number before it");
    }
    if text.starts_with('-') {
        return Err("a percentage cannot be negative");
    }
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if !is_digits(whole) || (text.contains('.') && !is_digits(frac)) {
        return Err("not a number");
    }
    if frac.len() > 3 {
        return Err("a percentage has at most 3 decimals");
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > 3 {
        return Err("a percentage must be at most 100%");
    }
    // At most 3 digits each, so these parse and cannot overflow.
    let whole: u32 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| "not a number")?
    };
    let frac: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<3}").parse().map_err(|_| "not a number")?
    };
    match whole * 1000 + frac {
        0 => Err("0% would be a batch of no hosts"),
        milli if milli > FULL => Err("a percentage must be at most 100%"),
        milli => Ok(milli),
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(s: &str) -> SerialSpec {
        SerialSpec::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn batches(s: &str, n: usize) -> Vec<usize> {
        spec(s).batches(n)
    }

    fn err(s: &str) -> String {
        match SerialSpec::parse(s) {
            Ok(v) => panic!("{s:?} parsed as {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_worked_examples() {
        assert_eq!(batches("1,10%,25%", 100), [1, 10, 25, 25, 25, 14]);
        assert_eq!(batches("1,50%", 3), [1, 1, 1]);
        assert_eq!(batches("1,50%", 4), [1, 2, 1]);
        assert_eq!(batches("100%", 17), [17]);
        assert_eq!(batches("3", 7), [3, 3, 1]);
        assert_eq!(batches("1", 1), [1]);
        assert_eq!(batches("50%", 1), [1]);
        assert_eq!(batches("1,25%", 20), [1, 5, 5, 5, 4]);
    }

    #[test]
    fn no_hosts_no_batches() {
        assert!(batches("1,10%", 0).is_empty());
        assert!(SerialSpec::all().batches(0).is_empty());
    }

    #[test]
    fn default_is_one_batch_of_everything() {
        assert_eq!(SerialSpec::default(), SerialSpec::all());
        assert_eq!(SerialSpec::all().batches(250), [250]);
        assert_eq!(SerialSpec::all().batches(1), [1]);
        assert_eq!(SerialSpec::all().to_string(), "100%");
    }

    #[test]
    fn percentages_are_of_the_total_rounded_down_at_least_one() {
        // 10% of 15 is 1.5: one host per batch, not 2.
        assert_eq!(batches("10%", 15), [1; 15]);
        // 1% of 50 is 0.5, rounded up to the minimum of 1.
        assert_eq!(batches("1%", 3), [1, 1, 1]);
        // Of the total, not of what is left: 50% of 10 is 5 each time.
        assert_eq!(batches("2,50%", 10), [2, 5, 3]);
        assert_eq!(batches("12.5%", 16), [2; 8]);
        assert_eq!(batches("12.5%", 8), [1; 8]);
        assert_eq!(batches("0.001%", 100_000), vec![1; 100_000]);
    }

    #[test]
    fn arithmetic_is_exact_where_ansibles_floats_are_not() {
        // Python: int(29 / 100.0 * 100) == 28.
        assert_eq!(batches("29%", 100), [29, 29, 29, 13]);
        assert_eq!(batches("57%", 100), [57, 43]);
    }

    #[test]
    fn a_batch_never_exceeds_the_hosts_left() {
        assert_eq!(batches("10", 3), [3]);
        assert_eq!(batches("1,1000", 5), [1, 4]);
        assert_eq!(batches(&usize::MAX.to_string(), 2), [2]);
    }

    #[test]
    fn sizes_add_up_and_are_positive() {
        for s in [
            "1",
            "7",
            "1,10%,25%",
            "33.333%",
            "1,2,3,100%",
            "5%,1",
            "100%,1",
        ] {
            let sp = spec(s);
            for n in 0..=300 {
                let b = sp.batches(n);
                assert_eq!(b.iter().sum::<usize>(), n, "{s} with {n}");
                assert!(b.iter().all(|&x| x >= 1), "{s} with {n}: {b:?}");
            }
        }
    }

    #[test]
    fn entries_are_trimmed() {
        assert_eq!(
            spec(" 1, 2 ,50% ").entries(),
            [
                SerialEntry::Count(1),
                SerialEntry::Count(2),
                SerialEntry::Percent(50_000)
            ]
        );
        assert_eq!(spec("10 %").entries(), [SerialEntry::Percent(10_000)]);
        assert_eq!(spec("007").entries(), [SerialEntry::Count(7)]);
        assert_eq!(spec("0100%").entries(), [SerialEntry::Percent(FULL)]);
    }

    #[test]
    fn display_round_trips() {
        for s in ["1,10%,25%", "5", "100%", "12.5%", "0.001%", "33.33%,2"] {
            assert_eq!(spec(s).to_string(), s);
            assert_eq!(spec(&spec(s).to_string()), spec(s));
        }
        assert_eq!(spec(" 1 , 12.50% ").to_string(), "1,12.5%");
        assert_eq!("3,50%".parse::<SerialSpec>(), Ok(spec("3,50%")));
    }

    #[test]
    fn errors_name_the_entry_and_what_is_expected() {
        assert!(err("").contains("empty serial spec"));
        assert!(err("  ").contains("empty serial spec"));
        for (bad, entry, reason) in [
            ("0", "'0' (entry 1)", "0 hosts"),
            ("1,0", "'0' (entry 2)", "0 hosts"),
            ("-3", "'-3'", "negative"),
            ("-10%", "'-10%'", "negative"),
            ("0%", "'0%'", "0%"),
            ("0.000%", "'0.000%'", "0%"),
            ("101%", "'101%'", "at most 100%"),
            ("100.001%", "'100.001%'", "at most 100%"),
            (
                "99999999999999999999999%",
                "'99999999999999999999999%'",
                "at most 100%",
            ),
            ("abc", "'abc'", "not a number"),
            ("1,x%", "'x%' (entry 2)", "not a number"),
            ("%", "'%'", "needs a number"),
            ("1.5", "'1.5'", "whole number"),
            ("+5", "'+5'", "not a number"),
            ("1e3", "'1e3'", "not a number"),
            ("12.5", "'12.5'", "whole number"),
            ("1.2345%", "'1.2345%'", "3 decimals"),
            ("1.%", "'1.%'", "not a number"),
            ("1,,2", "'' (entry 2)", "empty"),
            ("1,", "'' (entry 2)", "empty"),
            (
                "99999999999999999999999",
                "'99999999999999999999999'",
                "too large",
            ),
        ] {
            let msg = err(bad);
            assert!(msg.contains(entry), "{bad}: {msg}");
            assert!(msg.contains(reason), "{bad}: {msg}");
            assert!(
                msg.contains("expected a positive host count"),
                "{bad}: {msg}"
            );
        }
    }

    #[test]
    fn at_most_a_hundred_entries() {
        let ok = vec!["1"; MAX_SERIAL_ENTRIES].join(",");
        assert_eq!(spec(&ok).entries().len(), MAX_SERIAL_ENTRIES);
        let too_many = vec!["1"; MAX_SERIAL_ENTRIES + 1].join(",");
        assert_eq!(
            SerialSpec::parse(&too_many),
            Err(SerialError::TooMany {
                count: 101,
                max: 100
            })
        );
        assert!(err(&too_many).contains("at most 100"));
    }

    #[test]
    fn from_json_takes_ansibles_shapes() {
        let from = |v: Value| SerialSpec::from_json(&v).unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(from(json!(5)), spec("5"));
        assert_eq!(from(json!("1,10%,25%")), spec("1,10%,25%"));
        assert_eq!(from(json!("30%")), spec("30%"));
        assert_eq!(from(json!([1, "10%", "25%"])), spec("1,10%,25%"));
        assert_eq!(from(json!(["2", " 50% "])), spec("2,50%"));
    }

    #[test]
    fn from_json_refuses_what_is_not_a_spec() {
        let bad = |v: Value| match SerialSpec::from_json(&v) {
            Ok(s) => panic!("{v} accepted as {s}"),
            Err(e) => e.to_string(),
        };
        assert!(bad(json!(0)).contains("'0'"));
        assert!(bad(json!(-2)).contains("negative"));
        assert!(bad(json!(2.5)).contains("whole number"));
        assert!(bad(json!(true)).contains("got the boolean true"));
        assert!(bad(json!(null)).contains("got null"));
        assert!(bad(json!({"a": 1})).contains("got a mapping"));
        assert!(bad(json!([])).contains("empty serial spec"));
        assert!(bad(json!("")).contains("empty serial spec"));
        assert!(bad(json!([1, [2]])).contains("a list as list item 2"));
        assert!(bad(json!([1, "10%,25%"])).contains("one entry"));
        assert!(bad(json!([1, "0%"])).contains("'0%' (entry 2)"));
        assert!(bad(json!(vec![1; 101])).contains("at most 100"));
    }
}
