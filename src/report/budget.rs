//! The device's reporting ledger: the day's ε spend, the experiments reported today and in the device's
//! lifetime. The SDK's constants, not the page's: the page (and the registry it controls) cannot raise
//! them. The browser keeps one ledger per origin and merges it as a running maximum, so any number of
//! tabs, workers and instances share one budget that only goes up.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::cells::Experiment;

/// ε one report spends. Apple's differential privacy uses ε = 2 to 8 per donation with several donations
/// a day; we spend 2 per report and cap the day at 4 (docs/privacy.md, "Why these numbers").
pub const REPORT_EPSILON: f64 = 2.0;
/// ε a device may spend per UTC day, all experiments together.
pub const DAILY_EPSILON: f64 = 4.0;
/// Experiments a device reports on per UTC day at most (DAP reports spend no local ε but count here).
pub const MAX_EXPERIMENTS_PER_DAY: usize = 4;
/// Experiments remembered as reported; a full ledger refuses new ones (it reads as spent).
pub const MAX_REPORTED: usize = 1024;

/// ε in millionths, rounded **up**: rounding up is what keeps the sum of spends under the budget.
pub fn eps_to_micros(epsilon: f64) -> u64 {
    // A stray NaN must never become a free spend of 0.
    let micros = (epsilon * 1e6).ceil();
    if micros.is_finite() && micros >= 0.0 {
        micros as u64
    } else {
        u64::MAX
    }
}

/// Why a report cannot be built now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This device already reported this experiment: its lifetime cap is one report.
    AlreadyReported,
    /// Today's limits are reached (ε, experiments, or a damaged ledger); try on a later day.
    Today(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::AlreadyReported => write!(
                f,
                "this device already reported this experiment (lifetime cap: one report per experiment)"
            ),
            Refusal::Today(why) => write!(f, "{why}; counters wait for a later day"),
        }
    }
}

/// What one device has spent. Serialised into the browser's one per-origin record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    /// Format version (1).
    pub v: u32,
    /// UTC day (days since the epoch) the daily fields are about.
    pub day: u64,
    /// Micro-ε spent on `day`.
    pub spent_micros: u64,
    /// Experiments reported on `day`.
    pub today: BTreeSet<String>,
    /// No more reports on `day` (set when a damaged record was read).
    #[serde(default)]
    pub closed: bool,
    /// Experiments this device has reported, ever.
    pub reported: BTreeSet<String>,
    /// Every experiment started at or before this time (seconds) counts as reported: what a damaged
    /// record's lifetime set held is unknown, so it is taken as everything up to then.
    #[serde(default)]
    pub reported_started_by: Option<u64>,
}

impl Ledger {
    /// A fresh ledger (a device that never reported).
    pub fn new() -> Self {
        Self {
            v: 1,
            ..Self::default()
        }
    }

    /// Reads a stored record: absent is fresh, **damaged reads as spent** (today closed, and every
    /// experiment started by `now` taken as reported), so corrupting storage never refills anything.
    pub fn from_stored(json: Option<&str>, now_secs: u64) -> Self {
        let Some(json) = json else {
            return Self::new();
        };
        match serde_json::from_str::<Ledger>(json) {
            Ok(l) if l.v == 1 && l.reported.len() <= MAX_REPORTED => l,
            _ => Self {
                v: 1,
                day: now_secs / 86_400,
                spent_micros: eps_to_micros(DAILY_EPSILON),
                today: BTreeSet::new(),
                closed: true,
                reported: BTreeSet::new(),
                reported_started_by: Some(now_secs),
            },
        }
    }

    /// Merges `other` as a running maximum: the later day wins; on the same day spends take the maximum
    /// and sets the union. Stale copies can never lower what is recorded.
    pub fn merge(&mut self, other: &Ledger) {
        if other.day > self.day {
            self.day = other.day;
            self.spent_micros = other.spent_micros;
            self.today = other.today.clone();
            self.closed = other.closed;
        } else if other.day == self.day {
            self.spent_micros = self.spent_micros.max(other.spent_micros);
            self.today.extend(other.today.iter().cloned());
            self.closed |= other.closed;
        }
        self.reported.extend(other.reported.iter().cloned());
        // Option's order puts None below every Some: the maximum keeps the latest damage seen.
        self.reported_started_by = self.reported_started_by.max(other.reported_started_by);
    }

    fn roll(&mut self, day: u64) {
        // A clock that goes backwards keeps the later day's spending.
        if day > self.day {
            self.day = day;
            self.spent_micros = 0;
            self.today.clear();
            self.closed = false;
        }
    }

    /// Whether `exp` was reported by this device already.
    pub fn has_reported(&self, exp: &Experiment) -> bool {
        self.reported.contains(&exp.id) || self.reported_started_by.is_some_and(|t| exp.start <= t)
    }

    /// Whether a report on `exp` costing `micros` fits on `day`.
    pub fn check(&mut self, exp: &Experiment, day: u64, micros: u64) -> Result<(), Refusal> {
        if self.has_reported(exp) {
            return Err(Refusal::AlreadyReported);
        }
        self.roll(day);
        let today = |m: String| Err(Refusal::Today(m));
        if self.closed {
            return today("today's reporting is closed (the stored budget record was damaged)".into());
        }
        if self.reported.len() >= MAX_REPORTED {
            return today(format!(
                "the device has reported {MAX_REPORTED} experiments; its ledger is full"
            ));
        }
        if self.today.len() >= MAX_EXPERIMENTS_PER_DAY {
            return today(format!(
                "{MAX_EXPERIMENTS_PER_DAY} experiments were reported today"
            ));
        }
        if self.spent_micros.saturating_add(micros) > eps_to_micros(DAILY_EPSILON) {
            return today(format!("today's ε budget of {DAILY_EPSILON} is spent"));
        }
        Ok(())
    }

    /// Records a report on `exp` costing `micros` on `day`, if [`Ledger::check`] allows it.
    pub fn charge(&mut self, exp: &Experiment, day: u64, micros: u64) -> Result<(), Refusal> {
        self.check(exp, day, micros)?;
        self.spent_micros += micros;
        self.today.insert(exp.id.clone());
        self.reported.insert(exp.id.clone());
        Ok(())
    }

    /// ε spent on `day`.
    pub fn spent(&self, day: u64) -> f64 {
        if day == self.day {
            self.spent_micros as f64 / 1e6
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::cells::ExperimentMode;

    fn exp(id: &str) -> Experiment {
        Experiment {
            id: id.into(),
            slot: id.into(),
            variants: vec!["A".into()],
            mode: ExperimentMode::Ab,
            holdout: 0.0,
            k: 100,
            start: 0,
            end: None,
        }
    }

    const R: u64 = 2_000_000;

    #[test]
    fn two_reports_a_day_one_per_experiment_ever() {
        let mut l = Ledger::new();
        assert!(l.charge(&exp("a"), 5, R).is_ok());
        assert_eq!(l.charge(&exp("a"), 5, R), Err(Refusal::AlreadyReported));
        assert!(l.charge(&exp("b"), 5, R).is_ok());
        assert!(
            matches!(l.charge(&exp("c"), 5, R), Err(Refusal::Today(_))),
            "4 ε spent"
        );
        assert!(
            l.charge(&exp("c"), 4, R).is_err(),
            "going back a day refills nothing"
        );
        assert!(l.charge(&exp("c"), 6, R).is_ok(), "a new day does");
        assert_eq!(l.charge(&exp("a"), 9, R), Err(Refusal::AlreadyReported));
        // DAP reports spend no ε but count against the experiments per day.
        let mut l = Ledger::new();
        for i in 0..4 {
            l.charge(&exp(&format!("d{i}")), 1, 0).unwrap();
        }
        assert!(l.charge(&exp("d4"), 1, 0).is_err());
    }

    #[test]
    fn merge_is_a_running_maximum() {
        let mut a = Ledger::new();
        a.charge(&exp("a"), 5, R).unwrap();
        let stale = Ledger::new();
        let mut merged = stale.clone();
        merged.merge(&a);
        let mut other_way = a.clone();
        other_way.merge(&stale);
        assert_eq!(merged, a, "a stale copy never lowers the record");
        assert_eq!(other_way, a);
        let mut b = Ledger::new();
        b.charge(&exp("b"), 5, R).unwrap();
        a.merge(&b);
        assert_eq!(a.spent(5), 2.0, "same day: the maximum, not the sum");
        assert_eq!(a.reported.len(), 2);
    }

    #[test]
    fn damaged_record_reads_as_spent() {
        let now = 20 * 86_400;
        for bad in [
            "{",
            "{\"v\":1}",
            "null",
            "{\"v\":9,\"day\":0,\"spent_micros\":0,\"today\":[],\"reported\":[]}",
        ] {
            let mut l = Ledger::from_stored(Some(bad), now);
            assert!(l.check(&exp("new"), now / 86_400, R).is_err(), "{bad}");
            assert!(
                l.check(&exp("new"), now / 86_400 + 1, R).is_err(),
                "experiment started before: {bad}"
            );
            let later = Experiment {
                start: now + 1,
                ..exp("later")
            };
            assert!(
                l.check(&later, now / 86_400 + 1, R).is_ok(),
                "a later experiment on a later day"
            );
        }
        assert_eq!(Ledger::from_stored(None, now), Ledger::new());
        assert_eq!(eps_to_micros(f64::NAN), u64::MAX);
    }
}
