//! The registered experiment (one record for the collector's registry, the SDK, the simulator and the DAP
//! path) and the cell layout of its reports: what travels in clear (an A/B arm), what is randomised (the
//! outcome, and in bandit mode the variant too), and which index each (variant, outcome) cell has.
//!
//! Layout per mode, with `V` registered variants and [`LDP_OUTCOMES`] = 4 outcomes:
//! - **A/B**: the arm is a hash of the device's random salt, not of its history, so it travels in clear
//!   (`arm`: a variant id or `holdout`); the randomised value is the outcome alone, domain 4.
//! - **Bandit**: the variant was chosen by fit to the history, so it goes inside the randomised value:
//!   `value = variant_index × 4 + outcome`, domain `4·V` (≤ 32).
//!
//! The DAP path (issue 16) uses the same cells with the full outcome (revenue buckets, [`CATEGORIES`]).

use serde::{Deserialize, Serialize};

use super::outcome::{Outcome, CATEGORIES};
use super::schema::{validate_id, HOLDOUT_VARIANT};
use crate::{Error, Result};

/// Variants one experiment may register (the bandit's randomised domain grows with them).
pub const MAX_VARIANTS: usize = 8;
/// Outcomes a local-DP report distinguishes: seen, clicked, added to cart, purchased. Revenue buckets
/// are left to DAP: at the SDK's ε each extra category costs precision (docs/privacy.md, "Cell layout").
pub const LDP_OUTCOMES: usize = 4;
/// Smallest release threshold the registry accepts.
pub const MIN_K: u64 = 10;

/// How an experiment assigns variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentMode {
    /// Sticky split by the device's salt; a holdout share sees the control.
    Ab,
    /// Thompson sampling blended with fit to the session: the variant depends on the history.
    Bandit,
}

impl std::str::FromStr for ExperimentMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ab" => Ok(Self::Ab),
            "bandit" => Ok(Self::Bandit),
            other => Err(Error::InvalidInput(format!(
                "mode {other:?} is not `ab` or `bandit`"
            ))),
        }
    }
}

/// One registered experiment, as the collector stores it and serves it at `GET /v1/experiments`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Experiment id: what reports name.
    pub id: String,
    /// The page's slot (`pickCopy(slot, …)`) the experiment measures.
    pub slot: String,
    /// Variant ids in order, the control first (1..=[`MAX_VARIANTS`]).
    pub variants: Vec<String>,
    /// Assignment mode.
    pub mode: ExperimentMode,
    /// A/B share in [0, 0.5] held out (shown the control, reported as `holdout`); 0 for bandits.
    #[serde(default)]
    pub holdout: f64,
    /// Release threshold: a window is released once each of its arms has at least k reports.
    pub k: u64,
    /// Start, seconds since the Unix epoch.
    pub start: u64,
    /// End (seconds since the epoch), once ended: later reports are refused.
    #[serde(default)]
    pub end: Option<u64>,
}

impl Experiment {
    /// Checks everything the registry promises about a record; a damaged registry is refused whole.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidInput(format!("experiment {}: {m}", self.id)));
        validate_id("experiment", &self.id)?;
        validate_id("slot", &self.slot)?;
        if self.variants.is_empty() || self.variants.len() > MAX_VARIANTS {
            return bad(format!(
                "register 1..={MAX_VARIANTS} variants, got {}",
                self.variants.len()
            ));
        }
        for (i, v) in self.variants.iter().enumerate() {
            validate_id("variant", v)?;
            if v == HOLDOUT_VARIANT {
                return bad(format!("`{HOLDOUT_VARIANT}` is reserved for the A/B holdout"));
            }
            if self.variants[..i].contains(v) {
                return bad(format!("variant {v} is listed twice"));
            }
        }
        let holdout_ok = match self.mode {
            ExperimentMode::Ab => (0.0..=0.5).contains(&self.holdout),
            ExperimentMode::Bandit => self.holdout == 0.0,
        };
        if !holdout_ok {
            return bad(format!(
                "holdout {} must be in [0, 0.5] for an A/B test and 0 for a bandit",
                self.holdout
            ));
        }
        if self.k < MIN_K {
            return bad(format!("k = {} is below the minimum {MIN_K}", self.k));
        }
        if self.end.is_some_and(|e| e < self.start) {
            return bad("ends before it starts".into());
        }
        Ok(())
    }

    /// Whether reports are accepted at `now` (seconds since the epoch).
    pub fn is_active(&self, now: u64) -> bool {
        self.start <= now && self.end.is_none_or(|e| now < e)
    }

    /// The layout of this experiment's reports.
    pub fn layout(&self) -> CellLayout {
        let arms = match self.mode {
            ExperimentMode::Ab => {
                let mut a = self.variants.clone();
                if self.holdout > 0.0 {
                    a.push(HOLDOUT_VARIANT.to_owned());
                }
                a
            }
            ExperimentMode::Bandit => Vec::new(),
        };
        CellLayout {
            mode: self.mode,
            arms,
            variants: self.variants.clone(),
        }
    }

    /// Index of a registered variant, or `None`.
    pub fn variant_index(&self, variant: &str) -> Option<usize> {
        self.variants.iter().position(|v| v == variant)
    }
}

/// Which cells an experiment's reports address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellLayout {
    /// Assignment mode.
    pub mode: ExperimentMode,
    /// Arms sent in clear: the A/B variants (and `holdout`); empty for a bandit.
    pub arms: Vec<String>,
    /// Registered variants, control first.
    pub variants: Vec<String>,
}

impl CellLayout {
    /// Size of the randomised domain: 4 outcomes (A/B), or variants × 4 (bandit).
    pub fn domain(&self) -> usize {
        match self.mode {
            ExperimentMode::Ab => LDP_OUTCOMES,
            ExperimentMode::Bandit => LDP_OUTCOMES * self.variants.len(),
        }
    }

    /// The randomised value of `outcome` for the variant at `variant_index` (ignored for A/B, whose arm
    /// travels in clear).
    pub fn value(&self, variant_index: usize, outcome: Outcome) -> usize {
        match self.mode {
            ExperimentMode::Ab => outcome.ldp_index(),
            ExperimentMode::Bandit => variant_index * LDP_OUTCOMES + outcome.ldp_index(),
        }
    }

    /// Values of the randomised domain that belong to the variant at `variant_index`: its outcomes.
    pub fn values_of(&self, variant_index: usize) -> std::ops::Range<usize> {
        match self.mode {
            ExperimentMode::Ab => 0..LDP_OUTCOMES,
            ExperimentMode::Bandit => variant_index * LDP_OUTCOMES..(variant_index + 1) * LDP_OUTCOMES,
        }
    }

    /// Cells of the DAP measurement (variant × full outcome incl. revenue buckets): same variants, finer
    /// outcomes, since central noise makes the extra categories affordable.
    pub fn dap_cells(&self) -> usize {
        let arms = match self.mode {
            ExperimentMode::Ab => self.arms.len(),
            ExperimentMode::Bandit => self.variants.len(),
        };
        arms * CATEGORIES
    }
}

/// The public registry document (`GET /v1/experiments`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    /// Document version (1).
    pub v: u32,
    /// Every registered experiment, ended ones included (anyone can audit what a store measured).
    pub experiments: Vec<Experiment>,
}

impl Registry {
    /// Parses and validates a registry document; any invalid record refuses the whole document.
    pub fn from_json(json: &str) -> Result<Self> {
        let r: Registry = serde_json::from_str(json).map_err(|e| {
            Error::InvalidInput(format!(
                "registry is not a /v1/experiments document ({e}); nothing will be counted"
            ))
        })?;
        if r.v != 1 {
            return Err(Error::InvalidInput(format!(
                "registry version {} is not 1; update the SDK",
                r.v
            )));
        }
        for e in &r.experiments {
            e.validate()?;
        }
        Ok(r)
    }

    /// The experiment with this id.
    pub fn get(&self, id: &str) -> Option<&Experiment> {
        self.experiments.iter().find(|e| e.id == id)
    }

    /// The experiment running on `slot` at `now`; the earliest-started one if several are.
    pub fn active_for_slot(&self, slot: &str, now: u64) -> Option<&Experiment> {
        self.experiments
            .iter()
            .filter(|e| e.slot == slot && e.is_active(now))
            .min_by_key(|e| e.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(mode: ExperimentMode, holdout: f64) -> Experiment {
        Experiment {
            id: "hero".into(),
            slot: "banner".into(),
            variants: vec!["A".into(), "B".into(), "C".into()],
            mode,
            holdout,
            k: 100,
            start: 1000,
            end: None,
        }
    }

    #[test]
    fn layouts_put_history_derived_picks_inside_the_randomised_value() {
        let ab = exp(ExperimentMode::Ab, 0.1).layout();
        assert_eq!(ab.arms, ["A", "B", "C", "holdout"]);
        assert_eq!(ab.domain(), 4);
        assert_eq!(ab.value(2, Outcome::Clicked), 1);
        let bandit = exp(ExperimentMode::Bandit, 0.0).layout();
        assert!(bandit.arms.is_empty(), "a bandit sends no arm in clear");
        assert_eq!(bandit.domain(), 12);
        assert_eq!(bandit.value(2, Outcome::Purchased { bucket: 3 }), 11);
        assert_eq!(bandit.values_of(1), 4..8);
        assert_eq!(bandit.dap_cells(), 3 * CATEGORIES);
    }

    #[test]
    fn registry_refuses_bad_records_and_finds_the_active_slot() {
        let mut e = exp(ExperimentMode::Ab, 0.1);
        e.validate().unwrap();
        for bad in [
            Experiment {
                holdout: 0.9,
                ..e.clone()
            },
            Experiment { k: 1, ..e.clone() },
            Experiment {
                variants: vec!["A".into(), "A".into()],
                ..e.clone()
            },
            Experiment {
                variants: (0..9).map(|i| format!("v{i}")).collect(),
                ..e.clone()
            },
            Experiment {
                variants: vec!["holdout".into()],
                ..e.clone()
            },
            Experiment {
                mode: ExperimentMode::Bandit,
                ..e.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        e.end = Some(2000);
        let r = Registry {
            v: 1,
            experiments: vec![e],
        };
        let r = Registry::from_json(&serde_json::to_string(&r).unwrap()).unwrap();
        assert!(r.active_for_slot("banner", 1500).is_some());
        assert!(r.active_for_slot("banner", 2000).is_none(), "ended");
        assert!(r.active_for_slot("banner", 999).is_none(), "not started");
        assert!(Registry::from_json(r#"{"v":1,"experiments":[{"id":"x"}]}"#).is_err());
    }
}
