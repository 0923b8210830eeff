//! `--max-fail-percentage` and `--keep-going`: when a rolling run stops.
//!
//! The budget is **fleet-wide**, unlike Ansible's `max_fail_percentage`, which is checked
//! against each batch alone (so there one failure in a `serial: 1` batch is 100% and exceeds
//! any budget). After every batch, with `F` the hosts of the whole run so far that failed,
//! were unreachable or were rolled back, `N` the selected hosts and `P` the percentage:
//!
//! ```text
//! stop  ⇔  F × 100 > P × N
//! ```
//!
//! Strictly greater: with `P = 50` and 4 hosts, 2 failures are within the budget and 3 are
//! not. Without `--max-fail-percentage`, `P` is 0, so any failure stops the run. With
//! `--keep-going` the run never stops early. `P` is taken to the nearest thousandth of a
//! percent and the comparison is then exact integer arithmetic.

/// Thousandths of a percent in 100%.
const FULL: u64 = 100_000;

/// When a rolling run stops. `Default` is the default of the command line: no percentage
/// (any failure stops), not keep-going.
///
/// Build it with [`Budget::new`], which checks the percentage; should the fields be set
/// directly to a percentage outside `0..=100`, [`Budget::should_stop`] clamps it (NaN counts
/// as 0). `keep_going` overrides `max_fail_percentage`; a command line should refuse both.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Budget {
    /// `P`, from 0 to 100; `None` means 0.
    pub max_fail_percentage: Option<f64>,
    /// Never stop early: every selected host is attempted.
    pub keep_going: bool,
}

/// A percentage that is not a number from 0 to 100.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error(
        "invalid max fail percentage '{given}': expected a number from 0 to 100, such as 10 \
         or 12.5"
    )]
    NotANumber { given: String },
    #[error("max fail percentage {given} is out of range: expected a number from 0 to 100")]
    OutOfRange { given: String },
}

impl Budget {
    /// A budget, the percentage checked to be a finite number from 0 to 100.
    pub fn new(max_fail_percentage: Option<f64>, keep_going: bool) -> Result<Self, BudgetError> {
        if let Some(p) = max_fail_percentage {
            check_range(p, &p.to_string())?;
        }
        Ok(Self {
            max_fail_percentage,
            keep_going,
        })
    }

    /// Parses a `--max-fail-percentage` value: a number from 0 to 100 (`10`, `12.5`), a
    /// trailing `%` allowed, whitespace ignored.
    pub fn parse_percentage(text: &str) -> Result<f64, BudgetError> {
        let trimmed = text.trim();
        let number = trimmed.strip_suffix('%').unwrap_or(trimmed).trim_end();
        // Rust's float syntax also takes `inf`, `NaN` and `1e2`; only plain decimals here.
        let plain = !number.is_empty()
            && number
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+');
        let p: f64 = match number.parse() {
            Ok(p) if plain => p,
            _ => {
                return Err(BudgetError::NotANumber {
                    given: text.to_owned(),
                });
            }
        };
        check_range(p, trimmed)?;
        Ok(p)
    }

    /// Whether the run stops now, before the next batch: `failed_so_far × 100 > P × selected`
    /// (see the module documentation), never with `keep_going`. `failed_so_far` counts the
    /// failed, unreachable and rolled-back hosts of the whole run so far.
    pub fn should_stop(&self, failed_so_far: usize, selected: usize) -> bool {
        if self.keep_going {
            return false;
        }
        failed_so_far as u128 * u128::from(FULL) > u128::from(self.milli()) * selected as u128
    }

    /// The most failures the run can take without stopping, `⌊P × selected / 100⌋`; `None`
    /// with `keep_going` (no limit). With the default budget, 0.
    pub fn allowed_failures(&self, selected: usize) -> Option<usize> {
        if self.keep_going {
            return None;
        }
        let allowed = u128::from(self.milli()) * selected as u128 / u128::from(FULL);
        // `allowed <= selected`, so it fits.
        Some(usize::try_from(allowed).unwrap_or(selected))
    }

    /// `P` in thousandths of a percent, clamped to `0..=100%`.
    fn milli(&self) -> u64 {
        let p = self.max_fail_percentage.unwrap_or(0.0);
        if p.is_nan() {
            return 0;
        }
        // Clamped to 0..=100 000 first, so the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let milli = (p.clamp(0.0, 100.0) * 1000.0).round() as u64;
        milli
    }
}

fn check_range(p: f64, given: &str) -> Result<(), BudgetError> {
    if !(0.0..=100.0).contains(&p) {
        return Err(BudgetError::OutOfRange {
            given: given.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(p: Option<f64>) -> Budget {
        Budget::new(p, false).unwrap()
    }

    #[test]
    fn strictly_greater_than_the_budget_stops() {
        let b = budget(Some(50.0));
        assert!(!b.should_stop(0, 4));
        assert!(!b.should_stop(1, 4));
        assert!(!b.should_stop(2, 4), "exactly at the budget: go on");
        assert!(b.should_stop(3, 4));
        assert_eq!(b.allowed_failures(4), Some(2));
    }

    #[test]
    fn default_is_zero_any_failure_stops() {
        for b in [Budget::default(), budget(None), budget(Some(0.0))] {
            assert!(!b.should_stop(0, 100));
            assert!(b.should_stop(1, 100));
            assert!(b.should_stop(1, 1));
            assert_eq!(b.allowed_failures(100), Some(0));
        }
    }

    #[test]
    fn hundred_percent_never_stops() {
        let b = budget(Some(100.0));
        for n in 0..=20 {
            assert!(!b.should_stop(n, n), "{n} of {n}");
        }
        assert_eq!(b.allowed_failures(20), Some(20));
    }

    #[test]
    fn keep_going_never_stops() {
        for p in [None, Some(0.0), Some(10.0)] {
            let b = Budget::new(p, true).unwrap();
            assert!(!b.should_stop(20, 20));
            assert!(!b.should_stop(1, 0));
            assert_eq!(b.allowed_failures(20), None);
        }
    }

    #[test]
    fn nothing_selected() {
        let b = budget(Some(10.0));
        assert!(!b.should_stop(0, 0));
        assert!(b.should_stop(1, 0));
        assert_eq!(b.allowed_failures(0), Some(0));
    }

    #[test]
    fn the_documented_example() {
        // 20 hosts, --serial 1,25%, --max-fail-percentage 10: two failures allowed.
        let b = budget(Some(10.0));
        assert_eq!(b.allowed_failures(20), Some(2));
        assert!(!b.should_stop(1, 20), "the canary alone is 5%");
        assert!(!b.should_stop(2, 20), "10% is within the budget");
        assert!(b.should_stop(3, 20), "15% is over it");
    }

    #[test]
    fn exact_at_fractional_budgets() {
        // 12.5% of 8 is exactly 1.
        let b = budget(Some(12.5));
        assert!(!b.should_stop(1, 8));
        assert!(b.should_stop(2, 8));
        // 10.1% of 1000 is exactly 101, which floats would not compute exactly.
        let b = budget(Some(10.1));
        assert!(!b.should_stop(101, 1000));
        assert!(b.should_stop(102, 1000));
        // 33.333% of 3 is just under 1.
        let b = budget(Some(33.333));
        assert!(b.should_stop(1, 3));
        assert_eq!(b.allowed_failures(3), Some(0));
    }

    #[test]
    fn fields_set_directly_are_clamped() {
        let b = Budget {
            max_fail_percentage: Some(250.0),
            keep_going: false,
        };
        assert!(!b.should_stop(10, 10));
        let b = Budget {
            max_fail_percentage: Some(f64::NAN),
            keep_going: false,
        };
        assert!(b.should_stop(1, 10));
        let b = Budget {
            max_fail_percentage: Some(-5.0),
            keep_going: false,
        };
        assert!(b.should_stop(1, 10));
    }

    #[test]
    fn new_checks_the_range() {
        assert!(Budget::new(Some(0.0), false).is_ok());
        assert!(Budget::new(Some(100.0), false).is_ok());
        for p in [-0.1, 100.5, f64::NAN, f64::INFINITY] {
            let e = Budget::new(Some(p), false).unwrap_err().to_string();
            assert!(e.contains("from 0 to 100"), "{p}: {e}");
        }
    }

    #[test]
    fn parse_percentage_takes_plain_numbers() {
        assert_eq!(Budget::parse_percentage("10"), Ok(10.0));
        assert_eq!(Budget::parse_percentage(" 12.5 "), Ok(12.5));
        assert_eq!(Budget::parse_percentage("25%"), Ok(25.0));
        assert_eq!(Budget::parse_percentage("0"), Ok(0.0));
        assert_eq!(Budget::parse_percentage("100"), Ok(100.0));
        for bad in ["", "%", "ten", "nan", "inf", "1e1", "10%%", "5 5"] {
            let e = Budget::parse_percentage(bad).unwrap_err();
            assert!(matches!(e, BudgetError::NotANumber { .. }), "{bad:?}: {e}");
            assert!(e.to_string().contains(&format!("'{bad}'")), "{e}");
        }
        for bad in ["-1", "101", "100.001"] {
            let e = Budget::parse_percentage(bad).unwrap_err();
            assert!(matches!(e, BudgetError::OutOfRange { .. }), "{bad:?}: {e}");
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
