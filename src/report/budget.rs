//! The per-device daily ε budget: integer accounting that can never spend more than it was given.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Default privacy loss a device may spend per UTC day.
pub const DEFAULT_DAILY_EPSILON: f64 = 3.0;

/// ε in millionths, rounded **up**: rounding up is what keeps the sum of spends under the budget.
pub fn eps_to_micros(epsilon: f64) -> u64 {
    // Callers validate ε first; the clamp keeps a stray NaN from becoming a free spend of 0.
    let micros = (epsilon * 1e6).ceil();
    if micros.is_finite() && micros > 0.0 {
        micros as u64
    } else {
        u64::MAX
    }
}

/// What one device has spent on the current day. Serializable so the browser can persist it: a reload
/// must not refill the budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct Budget {
    daily_micros: u64,
    day: u64,
    spent_micros: u64,
}

impl Budget {
    /// A fresh budget of `daily_epsilon` per UTC day (finite, > 0).
    pub fn new(daily_epsilon: f64) -> Result<Self> {
        if !(daily_epsilon.is_finite() && daily_epsilon > 0.0) {
            return Err(Error::InvalidInput(format!(
                "daily ε budget {daily_epsilon} must be a positive number; the default is {DEFAULT_DAILY_EPSILON}"
            )));
        }
        // Rounded down, unlike spends, for the same reason.
        Ok(Self {
            daily_micros: (daily_epsilon * 1e6).floor() as u64,
            day: 0,
            spent_micros: 0,
        })
    }

    /// Move to `day` (days since the Unix epoch). A clock that goes backwards keeps the later day's
    /// spending: only a strictly later day refills the budget.
    fn roll(&mut self, day: u64) {
        if day > self.day {
            self.day = day;
            self.spent_micros = 0;
        }
    }

    /// Counts what `other` (an earlier visit's budget) spent on its day as spent here too.
    pub fn carry_spent(&mut self, other: &Budget) {
        if other.day > self.day {
            self.day = other.day;
            self.spent_micros = other.spent_micros;
        } else if other.day == self.day {
            self.spent_micros = self.spent_micros.max(other.spent_micros);
        }
    }

    /// Micro-ε still available on `day`.
    pub fn remaining_micros(&mut self, day: u64) -> u64 {
        self.roll(day);
        self.daily_micros.saturating_sub(self.spent_micros)
    }

    /// Spend `micros` on `day` if it fits entirely; otherwise spend nothing and return false.
    pub fn try_spend(&mut self, day: u64, micros: u64) -> bool {
        if micros <= self.remaining_micros(day) {
            self.spent_micros += micros;
            true
        } else {
            false
        }
    }

    /// ε spent so far on `day`.
    pub fn spent(&mut self, day: u64) -> f64 {
        self.roll(day);
        self.spent_micros as f64 / 1e6
    }

    /// The daily budget in micro-ε.
    pub fn daily_micros(&self) -> u64 {
        self.daily_micros
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spends_never_exceed_the_budget() {
        let mut b = Budget::new(3.0).unwrap();
        for eps in [0.7, 0.3, 1.1, 0.1, 2.9, 0.2, 0.4, 1.0] {
            b.try_spend(5, eps_to_micros(eps));
            assert!(b.spent(5) <= 3.0 + 1e-12);
        }
        // Exactly three entries of ε = 1 fit, a fourth does not.
        let mut b = Budget::new(3.0).unwrap();
        assert!((0..3).all(|_| b.try_spend(9, eps_to_micros(1.0))));
        assert!(!b.try_spend(9, eps_to_micros(1.0)));
        assert!(!b.try_spend(8, 1), "going back a day must not refill the budget");
        assert!(b.try_spend(10, eps_to_micros(1.0)), "a new day refills it");
    }

    #[test]
    fn nan_spend_is_never_free() {
        assert_eq!(eps_to_micros(f64::NAN), u64::MAX);
        assert_eq!(eps_to_micros(0.5), 500_000);
        assert!(Budget::new(f64::NAN).is_err());
    }
}
