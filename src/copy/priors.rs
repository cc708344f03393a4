//! Beta posteriors for the bandit: priors from the collector's `/v1/priors` plus this device's own
//! impressions and clicks.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One Beta prior on a variant's click rate, as the collector publishes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prior {
    /// Experiment id.
    pub experiment: String,
    /// Variant id.
    pub variant: String,
    /// Segment, or `None` for the prior pooled over all segments (the fallback).
    pub segment: Option<u8>,
    /// Beta α (> 0).
    pub alpha: f64,
    /// Beta β (> 0).
    pub beta: f64,
    /// Reports behind it (informational).
    #[serde(default)]
    pub reports: u64,
}

/// The body of `GET /v1/priors`. Unknown fields are tolerated here (unlike in reports): an older SDK must
/// keep reading a newer collector's priors.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PriorsDoc {
    /// Schema version (1).
    pub v: u32,
    /// The collector's release threshold.
    #[serde(default)]
    pub k: u64,
    /// The priors.
    pub priors: Vec<Prior>,
}

type Key = (String, String, Option<u8>);

/// This device's own counts of one variant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Local {
    /// Times it was shown.
    pub impressions: u32,
    /// Times it was clicked.
    pub clicks: u32,
}

impl Local {
    /// `(successes, failures)`: clicks, and impressions without one (never negative, even when a page
    /// reports more clicks than impressions).
    pub fn counts(self) -> (f64, f64) {
        let clicks = self.clicks.min(self.impressions);
        (f64::from(clicks), f64::from(self.impressions - clicks))
    }
}

/// What the bandit samples from: per (experiment, variant, segment), collector prior + local counts.
#[derive(Clone, Debug, Default)]
pub struct Posteriors {
    priors: HashMap<Key, (f64, f64)>,
    local: HashMap<Key, Local>,
}

impl Posteriors {
    /// No collector priors: the bandit's semantic-fit prior alone (see [`crate::copy::choose_bandit`]).
    pub fn flat() -> Self {
        Self::default()
    }

    /// Parse the collector's `/v1/priors` JSON.
    pub fn from_priors_json(json: &str) -> Result<Self> {
        let doc: PriorsDoc = serde_json::from_str(json).map_err(|e| {
            Error::InvalidInput(format!(
                "priors JSON is not a /v1/priors document ({e}); fetch it from the collector or use flat priors"
            ))
        })?;
        Self::from_doc(&doc)
    }

    /// Build from a parsed document, refusing non-positive or non-finite parameters.
    pub fn from_doc(doc: &PriorsDoc) -> Result<Self> {
        let mut p = Self::default();
        for prior in &doc.priors {
            let ok = |x: f64| x.is_finite() && x > 0.0;
            if !(ok(prior.alpha) && ok(prior.beta)) {
                return Err(Error::InvalidInput(format!(
                    "prior for {}/{} has alpha {} beta {}; both must be finite and > 0",
                    prior.experiment, prior.variant, prior.alpha, prior.beta
                )));
            }
            let key = (prior.experiment.clone(), prior.variant.clone(), prior.segment);
            p.priors.insert(key, (prior.alpha, prior.beta));
        }
        Ok(p)
    }

    /// Set one prior (tests, or a page that supplies its own).
    pub fn set_prior(&mut self, experiment: &str, variant: &str, segment: Option<u8>, alpha: f64, beta: f64) {
        self.priors
            .insert((experiment.into(), variant.into(), segment), (alpha, beta));
    }

    /// Counts one local impression of `variant` (a trial).
    pub fn impression(&mut self, experiment: &str, variant: &str) {
        let c = self.local_mut(experiment, variant);
        c.impressions = c.impressions.saturating_add(1);
    }

    /// Counts one local click on `variant` (a success of an impression counted before).
    pub fn click(&mut self, experiment: &str, variant: &str) {
        let c = self.local_mut(experiment, variant);
        c.clicks = c.clicks.saturating_add(1);
    }

    /// Forgets this device's counts (the shopper's wipe); the collector's priors stay.
    pub fn clear_local(&mut self) {
        self.local.clear();
    }

    // A device's own counts are not split by segment: it is one shopper, whose segment moves with the
    // session, and an outcome (a click on the page) arrives without the segment its pick was made in.
    fn local_mut(&mut self, experiment: &str, variant: &str) -> &mut Local {
        self.local
            .entry((experiment.into(), variant.into(), None))
            .or_default()
    }

    /// The collector's Beta(α, β) for the variant: the segment's prior, else the pooled one; `None`
    /// when the collector has published none.
    pub fn prior(&self, experiment: &str, variant: &str, segment: u8) -> Option<(f64, f64)> {
        let key = |s| (experiment.to_owned(), variant.to_owned(), s);
        self.priors
            .get(&key(Some(segment)))
            .or_else(|| self.priors.get(&key(None)))
            .copied()
    }

    /// This device's counts of the variant (every segment).
    pub fn local(&self, experiment: &str, variant: &str) -> Local {
        let key = (experiment.to_owned(), variant.to_owned(), None);
        self.local.get(&key).copied().unwrap_or_default()
    }

    /// The collector's prior (flat Beta(1, 1) without one) updated with the local counts: clicks are
    /// successes, impressions without a click failures.
    pub fn beta(&self, experiment: &str, variant: &str, segment: u8) -> (f64, f64) {
        let (a, b) = self.prior(experiment, variant, segment).unwrap_or((1.0, 1.0));
        let (successes, failures) = self.local(experiment, variant).counts();
        (a + successes, b + failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_prior_then_pooled_then_flat_plus_local() {
        let json = r#"{"v":1,"k":100,"priors":[
            {"experiment":"e","variant":"A","segment":2,"alpha":5,"beta":95,"reports":400},
            {"experiment":"e","variant":"A","segment":null,"alpha":3,"beta":60},
            {"experiment":"e","variant":"A","segment":1,"alpha":2,"beta":9,"future_field":true}]}"#;
        let mut p = Posteriors::from_priors_json(json).unwrap();
        assert_eq!(p.beta("e", "A", 2), (5.0, 95.0));
        assert_eq!(p.beta("e", "A", 7), (3.0, 60.0));
        assert_eq!(p.beta("e", "B", 2), (1.0, 1.0));
        // Two impressions, one clicked: one success, one failure.
        p.impression("e", "A");
        p.impression("e", "A");
        p.click("e", "A");
        assert_eq!(p.beta("e", "A", 2), (6.0, 96.0));
        // A click without an impression is not a success; B has no collector prior.
        p.click("e", "B");
        assert_eq!(p.beta("e", "B", 2), (1.0, 1.0));
        assert_eq!(p.prior("e", "B", 2), None);
    }

    #[test]
    fn impressions_without_clicks_lower_the_posterior() {
        // One click on the first impression, then nine shown and ignored: 1 success in 10, not 1 in 1.
        let mut p = Posteriors::flat();
        p.impression("e", "A");
        p.click("e", "A");
        for _ in 0..9 {
            p.impression("e", "A");
        }
        assert_eq!(p.beta("e", "A", 0), (2.0, 10.0));
    }

    #[test]
    fn rejects_bad_priors() {
        assert!(Posteriors::from_priors_json("{}").is_err());
        let bad = r#"{"v":1,"priors":[{"experiment":"e","variant":"A","segment":0,"alpha":-1,"beta":2}]}"#;
        assert!(Posteriors::from_priors_json(bad).is_err());
    }
}
