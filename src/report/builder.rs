//! The report builder: drains on-device counters into one randomised report within the ε budget. Pure —
//! the clock and the RNG are arguments — so the browser, the simulator and the tests share it.

use rand::Rng;

use super::budget::{Budget, DEFAULT_DAILY_EPSILON};
use super::ldp::Oue;
use super::outcome::{CellKey, Counters, Interaction};
use super::schema::{Entry, Report, MAX_ENTRIES_PER_REPORT, SCHEMA_VERSION};
use crate::Result;

/// Default ε one entry spends: three entries a day fit the default daily budget.
pub const DEFAULT_ENTRY_EPSILON: f64 = 1.0;

/// How a device reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReportConfig {
    /// ε per entry.
    pub entry_epsilon: f64,
    /// Daily ε budget.
    pub daily_epsilon: f64,
    /// Entries per report at most.
    pub max_entries: usize,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            entry_epsilon: DEFAULT_ENTRY_EPSILON,
            daily_epsilon: DEFAULT_DAILY_EPSILON,
            max_entries: MAX_ENTRIES_PER_REPORT,
        }
    }
}

/// The persisted part of a [`Reporter`].
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ReporterState {
    /// Pending counters.
    pub counters: Counters,
    /// The daily budget and today's spend.
    pub budget: Budget,
}

/// One device's reporting state: counters, budget and consent.
#[derive(Clone, Debug)]
pub struct Reporter {
    counters: Counters,
    budget: Budget,
    oue: Oue,
    entry_micros: u64,
    max_entries: usize,
    consent: bool,
}

impl Reporter {
    /// A reporter with empty counters and a fresh budget.
    pub fn new(config: ReportConfig) -> Result<Self> {
        // ε is quantised to whole micro-ε so the integer accounting and the mechanism agree exactly.
        let entry_micros = (config.entry_epsilon * 1e6).round();
        let oue = Oue::new(entry_micros / 1e6)?;
        Ok(Self {
            counters: Counters::default(),
            budget: Budget::new(config.daily_epsilon)?,
            oue,
            entry_micros: entry_micros as u64,
            max_entries: config.max_entries.clamp(1, MAX_ENTRIES_PER_REPORT),
            consent: true,
        })
    }

    /// Restore a persisted budget (the browser keeps it across reloads so a reload cannot refill it).
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// The budget, for persisting.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Consent given or withdrawn (including Global Privacy Control). Withdrawal wipes the counters.
    pub fn set_consent(&mut self, consent: bool) {
        self.consent = consent;
        if !consent {
            self.counters.clear();
        }
    }

    /// What must survive a reload: the pending counters and the budget spent today.
    pub fn state(&self) -> ReporterState {
        ReporterState {
            counters: self.counters.clone(),
            budget: self.budget.clone(),
        }
    }

    /// Restores [`Reporter::state`] from an earlier visit. A budget with another daily limit is kept
    /// only if it is stricter, so a page cannot raise its own ε by changing the setting.
    pub fn restore(&mut self, state: ReporterState) {
        if self.consent {
            self.counters = state.counters;
        }
        if state.budget.daily_micros() <= self.budget.daily_micros() {
            self.budget = state.budget;
        } else {
            self.budget.carry_spent(&state.budget);
            // The stricter limit stays; what was spent under the old one still counts.
        }
    }

    /// Whether reporting is allowed.
    pub fn consent(&self) -> bool {
        self.consent
    }

    /// Count one event; ignored without consent.
    pub fn track(&mut self, key: &CellKey, event: Interaction) -> Result<()> {
        if !self.consent {
            return Ok(());
        }
        self.counters.track(key, event)
    }

    /// Pending counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// ε spent on the day of `now_unix_secs`.
    pub fn spent(&mut self, now_unix_secs: u64) -> f64 {
        self.budget.spent(now_unix_secs / 86_400)
    }

    /// Build one report from the pending cells, spending ε per entry while the day's budget allows.
    /// Reported cells are removed; cells the budget cannot cover wait for a later day. `None` when there
    /// is nothing to send, no consent, or no budget left.
    pub fn build<R: Rng + ?Sized>(&mut self, now_unix_secs: u64, rng: &mut R) -> Option<Report> {
        if !self.consent {
            return None;
        }
        let day = now_unix_secs / 86_400;
        let mut entries = Vec::new();
        let mut full = false;
        for (key, counters) in self.counters.drain() {
            // Clicks without an impression say nothing reportable: such cells are dropped.
            let Some(outcome) = counters.outcome() else {
                continue;
            };
            full =
                full || entries.len() >= self.max_entries || !self.budget.try_spend(day, self.entry_micros);
            if full {
                self.counters.restore(key, counters);
                continue;
            }
            let bits = self.oue.encode(outcome.category(), rng).to_vec();
            entries.push(Entry {
                experiment: key.experiment,
                variant: key.variant,
                segment: key.segment,
                bits,
            });
        }
        if entries.is_empty() {
            return None;
        }
        // Saturates in the year 491,000-odd; the hour is the only time that leaves the device.
        let hour = u32::try_from(now_unix_secs / 3600).unwrap_or(u32::MAX);
        Some(Report {
            v: SCHEMA_VERSION,
            hour,
            epsilon: self.oue.epsilon,
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    const NOW: u64 = 1_800_000_000;

    fn reporter() -> Reporter {
        Reporter::new(ReportConfig::default()).unwrap()
    }

    #[test]
    fn budget_caps_entries_per_day_and_is_never_exceeded() {
        let mut r = reporter();
        let mut rng = StdRng::seed_from_u64(1);
        for i in 0..10 {
            r.track(
                &CellKey::new("e", &format!("v{i}"), 0).unwrap(),
                Interaction::Impression,
            )
            .unwrap();
        }
        let rep = r.build(NOW, &mut rng).unwrap();
        assert_eq!(rep.entries.len(), 3, "3.0 / 1.0 per entry");
        assert!(r.spent(NOW) <= DEFAULT_DAILY_EPSILON);
        assert!(
            r.build(NOW + 60, &mut rng).is_none(),
            "budget spent: reporting stops"
        );
        assert_eq!(r.counters().len(), 7, "unreported cells wait");
        let next_day = r.build(NOW + 86_400, &mut rng).unwrap();
        assert_eq!(next_day.entries.len(), 3);
        next_day.validate((NOW / 3600 + 24) as u32).unwrap();
    }

    #[test]
    fn random_schedules_never_overspend() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..200 {
            let eps = rng.random_range(0.1..2.5);
            let cfg = ReportConfig {
                entry_epsilon: eps,
                ..ReportConfig::default()
            };
            let mut r = Reporter::new(cfg).unwrap();
            let mut spent_today = 0.0;
            for step in 0..20 {
                let n = rng.random_range(0..6);
                for i in 0..n {
                    let key = CellKey::new("e", &format!("v{step}-{i}"), 0).unwrap();
                    // The 64-cell cap may refuse some when the budget holds cells back; that is fine here.
                    let _ = r.track(&key, Interaction::Impression);
                }
                if let Some(rep) = r.build(NOW + step * 600, &mut rng) {
                    spent_today += rep.epsilon * rep.entries.len() as f64;
                }
                assert!(
                    spent_today <= DEFAULT_DAILY_EPSILON + 1e-9,
                    "spent {spent_today} at ε {eps}"
                );
            }
        }
    }

    #[test]
    fn no_consent_no_report() {
        let mut r = reporter();
        r.track(&CellKey::new("e", "A", 0).unwrap(), Interaction::Impression)
            .unwrap();
        r.set_consent(false);
        assert!(r.counters().is_empty());
        r.track(&CellKey::new("e", "A", 0).unwrap(), Interaction::Impression)
            .unwrap();
        assert!(r.build(NOW, &mut StdRng::seed_from_u64(0)).is_none());
    }

    #[test]
    fn report_json_has_no_identifying_fields() {
        let mut r = reporter();
        r.track(&CellKey::new("hero", "B", 4).unwrap(), Interaction::Impression)
            .unwrap();
        let rep = r.build(NOW, &mut StdRng::seed_from_u64(0)).unwrap();
        let v = serde_json::to_value(&rep).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["entries", "epsilon", "hour", "v"]);
        assert_eq!(v["hour"], NOW / 3600);
    }
}
