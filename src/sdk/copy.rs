//! Promo copy and reporting on the SDK object: picks a variant for a slot (semantic fit to the session
//! intent + bandit, or a sticky A/B split), counts what happens to it, and builds private reports.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::vectors::VectorStore;
use super::Vitrine;
use crate::copy::{self, Mode, Posteriors, Why};
use crate::error::{Error, Result};
use crate::model::Role;
use crate::rank::dot;
use crate::report::{CellKey, Event as Outcome, Report, ReporterState};

/// A copy variant as the page passes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyVariant {
    /// Variant id (`[A-Za-z0-9_.:-]`, ≤ 64 bytes); the first is the control.
    pub id: String,
    /// The copy text, embedded to measure its fit to the session.
    pub text: String,
}

/// How to pick: `{"mode":"bandit","fitWeight":1}` (default) or `{"mode":"ab","holdout":0.1}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "camelCase", deny_unknown_fields)]
pub enum CopyOptions {
    /// Thompson sampling blended with semantic fit.
    #[serde(rename_all = "camelCase")]
    Bandit {
        /// How much fit moves the sampled rate (default 1).
        #[serde(default = "one")]
        fit_weight: f32,
    },
    /// Sticky split; the holdout share sees the control.
    Ab {
        /// Share held out, in [0, 1).
        #[serde(default)]
        holdout: f64,
    },
}

fn one() -> f32 {
    1.0
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self::Bandit { fit_weight: 1.0 }
    }
}

/// The pick and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyPick {
    /// The slot (experiment) id.
    pub slot: String,
    /// The variant to show.
    pub variant: String,
    /// Its text.
    pub text: String,
    /// The label outcomes are counted under (`holdout` for the A/B holdout).
    pub report_variant: String,
    /// The on-device segment of the session (the only context a report carries).
    pub segment: u8,
    /// Each variant's cosine to the session intent, in variant order.
    pub fits: Vec<f32>,
    /// The scores behind the choice.
    pub why: Why,
}

/// Where a copy variant's text vector is cached (beside queries, apart from product ids).
pub(super) fn variant_key(text: &str) -> String {
    VectorStore::query_key(&format!("copy:{text}"))
}

impl Vitrine {
    /// Picks a copy variant for `slot` and counts an impression for it.
    pub fn pick_copy<R: Rng + ?Sized>(
        &mut self,
        slot: &str,
        variants: &[CopyVariant],
        options: CopyOptions,
        now_ms: f64,
        rng: &mut R,
    ) -> Result<CopyPick> {
        if variants.is_empty() || variants.len() > 32 {
            return Err(Error::InvalidInput(format!(
                "pickCopy({slot}): pass 1..=32 variants, got {}",
                variants.len()
            )));
        }
        let intent = self.intent(now_ms)?;
        let segment = self.segment_of(&intent);
        let mut fits = Vec::with_capacity(variants.len());
        for v in variants {
            let fit = match (&self.encoder, intent.iter().any(|x| *x != 0.0)) {
                (Some(enc), true) => {
                    let key = variant_key(&v.text);
                    let text = enc.with_role(Role::Passage, &v.text);
                    dot(&intent, self.vectors.text_vector(enc, key, &text)?)
                }
                _ => 0.0,
            };
            fits.push(fit);
        }
        let candidates: Vec<copy::Candidate> = variants
            .iter()
            .zip(&fits)
            .map(|(v, f)| copy::Candidate {
                id: v.id.clone(),
                fit: *f,
            })
            .collect();
        let mode = match options {
            CopyOptions::Bandit { fit_weight } => Mode::Bandit { fit_weight },
            CopyOptions::Ab { holdout } => Mode::Ab { holdout },
        };
        let choice = copy::choose(
            slot,
            &candidates,
            segment,
            mode,
            &self.posteriors,
            &self.salt,
            rng,
        )?;
        let text = variants
            .iter()
            .find(|v| v.id == choice.variant)
            .map(|v| v.text.clone())
            .unwrap_or_default();
        self.record(slot, &choice.report_variant, segment, Outcome::Impression)?;
        Ok(CopyPick {
            slot: slot.to_owned(),
            variant: choice.variant,
            text,
            report_variant: choice.report_variant,
            segment,
            fits,
            why: choice.why,
        })
    }

    /// Counts an outcome (`click`, `add_to_cart`, `purchase` with revenue) of a shown variant.
    pub fn record(&mut self, slot: &str, report_variant: &str, segment: u8, outcome: Outcome) -> Result<()> {
        let key = CellKey::new(slot, report_variant, segment)?;
        if let Outcome::Click = outcome {
            self.posteriors.observe(slot, report_variant, segment, true);
        }
        self.reporter.track(&key, outcome)
    }

    /// Uses the collector's `/v1/priors` document for the bandit.
    pub fn set_priors(&mut self, json: &str) -> Result<()> {
        self.posteriors = Posteriors::from_priors_json(json)?;
        Ok(())
    }

    /// Consent (and the Global Privacy Control signal, which the page folds in): off wipes the counters.
    pub fn set_consent(&mut self, consent: bool) {
        self.reporter.set_consent(consent);
    }

    /// Pending counters and budget, for the browser to persist until the next visit.
    pub fn report_state(&self) -> ReporterState {
        self.reporter.state()
    }

    /// Restores [`Vitrine::report_state`] from an earlier visit.
    pub fn restore_report_state(&mut self, json: &str) -> Result<()> {
        let state: ReporterState = serde_json::from_str(json)
            .map_err(|e| Error::InvalidInput(format!("report state is damaged ({e}); it will be reset")))?;
        self.reporter.restore(state);
        Ok(())
    }

    /// Drains the counters into one randomised report within the ε budget (`None`: nothing to send,
    /// no consent, or the budget is spent).
    pub fn build_report<R: Rng + ?Sized>(&mut self, now_ms: f64, rng: &mut R) -> Option<Report> {
        self.reporter.build((now_ms / 1000.0).max(0.0) as u64, rng)
    }

    /// The segment (0..8) of an intent: its nearest shipped centroid; 0 without centroids or history.
    pub fn segment_of(&self, intent: &[f32]) -> u8 {
        self.segments.as_ref().map_or(0, |s| s.assign(intent))
    }
}
