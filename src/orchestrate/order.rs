//! `--order`: the order the selected hosts are taken in, and so which hosts form the canary
//! and each later batch.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The order hosts are batched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostOrder {
    /// The order of the selection: inventory order, as the `--limit` pattern produced it.
    #[default]
    Inventory,
    /// By name, in natural order: runs of digits compare as numbers, so `web2` comes before
    /// `web10` and `10.0.0.9` before `10.0.0.10` (see [`natural_cmp`]).
    Sorted,
    /// A shuffle determined by a seed: the same seed and the same hosts give the same order.
    Shuffle,
}

/// An `--order` value that is not one of the names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown host order '{given}': expected inventory, sorted or shuffle")]
pub struct HostOrderError {
    pub given: String,
}

impl HostOrder {
    /// Every order, in the order `--help` lists them.
    pub const ALL: [Self; 3] = [Self::Inventory, Self::Sorted, Self::Shuffle];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inventory => "inventory",
            Self::Sorted => "sorted",
            Self::Shuffle => "shuffle",
        }
    }

    /// Puts `hosts` in this order. `seed` is used by [`HostOrder::Shuffle`] only (a
    /// Fisher–Yates shuffle driven by SplitMix64); the caller picks it, and should report it
    /// so a shuffled run can be repeated. `&mut Vec<String>` coerces to the slice.
    pub fn apply(self, hosts: &mut [String], seed: u64) {
        match self {
            Self::Inventory => {}
            Self::Sorted => hosts.sort_by(|a, b| natural_cmp(a, b)),
            Self::Shuffle => {
                let mut rng = SplitMix64(seed);
                for i in (1..hosts.len()).rev() {
                    hosts.swap(i, rng.below(i + 1));
                }
            }
        }
    }
}

impl fmt::Display for HostOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HostOrder {
    type Err = HostOrderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| HostOrderError {
                given: s.to_owned(),
            })
    }
}

/// Natural order of names: the names are cut into runs of ASCII digits and runs of other
/// characters; digit runs compare by numeric value (of any length, no overflow), other runs
/// as strings. Names equal that way (`web01`, `web1`) fall back to plain string order, so this
/// is a total order and sorting is deterministic.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        let (cx, rx) = split_run(x);
        let (cy, ry) = split_run(y);
        let ord = match (cx.is_empty(), cy.is_empty()) {
            (true, true) => return a.cmp(b),
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) if is_digit_run(cx) && is_digit_run(cy) => cmp_numbers(cx, cy),
            (false, false) => cx.cmp(cy),
        };
        if ord != Ordering::Equal {
            return ord;
        }
        (x, y) = (rx, ry);
    }
}

/// The first run of `s` (all digits, or no digits) and the rest.
fn split_run(s: &str) -> (&str, &str) {
    let Some(first) = s.chars().next() else {
        return (s, s);
    };
    let digit = first.is_ascii_digit();
    let end = s
        .char_indices()
        .find(|&(_, c)| c.is_ascii_digit() != digit)
        .map_or(s.len(), |(i, _)| i);
    s.split_at(end)
}

fn is_digit_run(run: &str) -> bool {
    run.starts_with(|c: char| c.is_ascii_digit())
}

/// Two digit runs by value.
fn cmp_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough to shuffle host names.
/// Not for anything secret.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-and-shift; the bias is below `n / 2^64`.
    fn below(&mut self, n: usize) -> usize {
        let wide = (u128::from(self.next_u64()) * n as u128) >> 64;
        // `wide < n`, so it fits.
        usize::try_from(wide).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("host{i}")).collect()
    }

    fn ordered(order: HostOrder, hosts: &[&str], seed: u64) -> Vec<String> {
        let mut v: Vec<String> = hosts.iter().map(|&h| h.to_owned()).collect();
        order.apply(&mut v, seed);
        v
    }

    #[test]
    fn inventory_keeps_the_order() {
        let hosts = ["web3", "db1", "web10", "web2"];
        assert_eq!(ordered(HostOrder::Inventory, &hosts, 7), hosts);
    }

    #[test]
    fn sorted_is_natural() {
        assert_eq!(
            ordered(HostOrder::Sorted, &["web10", "db1", "web2", "web1"], 0),
            ["db1", "web1", "web2", "web10"]
        );
        assert_eq!(
            ordered(
                HostOrder::Sorted,
                &["10.0.0.10", "10.0.0.9", "10.0.1.1", "9.1.1.1"],
                0
            ),
            ["9.1.1.1", "10.0.0.9", "10.0.0.10", "10.0.1.1"]
        );
        assert_eq!(
            ordered(
                HostOrder::Sorted,
                &["rack2-n10", "rack10-n1", "rack2-n9"],
                0
            ),
            ["rack2-n9", "rack2-n10", "rack10-n1"]
        );
    }

    #[test]
    fn natural_cmp_is_a_total_order() {
        assert_eq!(natural_cmp("web2", "web10"), Ordering::Less);
        assert_eq!(natural_cmp("web10", "web2"), Ordering::Greater);
        assert_eq!(natural_cmp("web", "web1"), Ordering::Less);
        assert_eq!(natural_cmp("web1", "web1"), Ordering::Equal);
        // Numerically equal: plain string order breaks the tie, both ways.
        assert_eq!(natural_cmp("web01", "web1"), Ordering::Less);
        assert_eq!(natural_cmp("web1", "web01"), Ordering::Greater);
        // Digit runs longer than any integer type.
        assert_eq!(
            natural_cmp("n99999999999999999999999", "n100000000000000000000000"),
            Ordering::Less
        );
        assert_eq!(natural_cmp("é2", "é10"), Ordering::Less);
        assert_eq!(natural_cmp("", "a"), Ordering::Less);
        assert_eq!(natural_cmp("", ""), Ordering::Equal);
    }

    #[test]
    fn shuffle_is_a_deterministic_permutation() {
        let hosts = names(20);
        let mut a = hosts.clone();
        HostOrder::Shuffle.apply(&mut a, 42);
        let mut again = hosts.clone();
        HostOrder::Shuffle.apply(&mut again, 42);
        assert_eq!(a, again, "same seed, same order");
        assert_ne!(a, hosts, "20 hosts are moved");
        let mut sorted = a.clone();
        sorted.sort_by(|x, y| natural_cmp(x, y));
        assert_eq!(sorted, hosts, "a permutation: nothing lost or repeated");
    }

    #[test]
    fn different_seeds_give_different_orders() {
        let hosts = names(20);
        let orders: HashSet<Vec<String>> = (0..50u64)
            .map(|seed| {
                let mut v = hosts.clone();
                HostOrder::Shuffle.apply(&mut v, seed);
                v
            })
            .collect();
        assert_eq!(orders.len(), 50);
        let mut one = hosts.clone();
        HostOrder::Shuffle.apply(&mut one, 1);
        let mut two = hosts;
        HostOrder::Shuffle.apply(&mut two, 2);
        assert_ne!(one, two);
    }

    #[test]
    fn shuffle_spreads_the_first_host() {
        // Every host should be able to be the canary: over 2000 seeds each of 10 hosts comes
        // first roughly 200 times.
        let hosts = names(10);
        let mut counts = [0usize; 10];
        for seed in 0..2000 {
            let mut v = hosts.clone();
            HostOrder::Shuffle.apply(&mut v, seed);
            let i = hosts.iter().position(|h| *h == v[0]).unwrap();
            counts[i] += 1;
        }
        assert!(
            counts.iter().all(|&c| (120..=280).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn shuffle_of_tiny_lists() {
        assert!(ordered(HostOrder::Shuffle, &[], 3).is_empty());
        assert_eq!(ordered(HostOrder::Shuffle, &["a"], 3), ["a"]);
    }

    #[test]
    fn splitmix_matches_the_reference() {
        // First outputs of the reference implementation seeded with 0, so the shuffle for a
        // given seed does not change between versions by accident.
        let mut r = SplitMix64(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn names_parse_and_print() {
        for o in HostOrder::ALL {
            assert_eq!(o.as_str().parse::<HostOrder>(), Ok(o));
            assert_eq!(o.to_string(), o.as_str());
        }
        assert_eq!(HostOrder::default(), HostOrder::Inventory);
        let e = "random".parse::<HostOrder>().unwrap_err().to_string();
        assert!(
            e.contains("'random'") && e.contains("inventory, sorted or shuffle"),
            "{e}"
        );
    }
}
