//! Promo copy selection: a Thompson-sampling bandit blended with semantic fit, or a sticky A/B split with
//! a holdout. Every choice says why (the scores it compared), and the RNG is injected so tests are seeded.
//!
//! - [`choose`] dispatches on [`CopyOptions`]: [`CopyOptions::Bandit`] samples each variant's click rate
//!   from a Beta posterior whose prior mean follows `fit`, the caller's cosine between the variant's text
//!   vector and the session intent, with a strength the data outgrow ([`Posteriors`]: the collector's
//!   `/v1/priors` plus this device's impressions and clicks; see [`choose_bandit`]);
//!   [`CopyOptions::Ab`] hashes the experiment id with a device salt (which never leaves the device) into
//!   a sticky bucket.
//! - The chosen [`Choice::report_variant`] is the label to count impressions and outcomes under
//!   ([`crate::report`]): the variant id, or `holdout` for the A/B holdout, which is shown the control.

mod ab;
mod bandit;
mod priors;
mod segments;

use rand::Rng;
use serde::{Deserialize, Serialize};

pub use ab::{ab_bucket, choose_ab};
pub use bandit::{choose_bandit, BASE_RATE, DEFAULT_FIT_WEIGHT, FIT_STRENGTH};
pub use priors::{Local, Posteriors, Prior, PriorsDoc};
pub use segments::{kmeans, Segments};

use crate::report::{validate_id, HOLDOUT_VARIANT};
use crate::{Error, Result};

/// A variant to choose among, with its semantic fit to the session (cosine in [-1, 1]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Arm {
    /// Variant id; the first candidate is the control.
    pub id: String,
    /// Cosine between the variant text vector and the session intent.
    pub fit: f32,
}

/// How to choose, as the page passes it to `pickCopy`: `{"mode":"bandit"}` (default; `fitWeight`: the model file's, 8 for MiniLM) or
/// `{"mode":"ab","holdout":0.1}`. For a registered experiment the registry's mode and holdout apply; the
/// page's only when unregistered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(tag = "mode", rename_all = "camelCase", deny_unknown_fields)]
pub enum CopyOptions {
    /// Thompson sampling with the semantic fit as each variant's prior (see [`choose_bandit`]).
    #[serde(rename_all = "camelCase")]
    Bandit {
        /// How far fit moves a variant's prior click rate, in logits per unit of cosine (default: the
        /// encoder's, from its model file; [`DEFAULT_FIT_WEIGHT`] for MiniLM); 0 ignores fit.
        #[serde(default = "default_fit_weight")]
        #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>", optional))]
        fit_weight: f32,
    },
    /// Deterministic sticky split; the holdout share sees the control and reports as `holdout`.
    Ab {
        /// Share of devices held out, in [0, 1).
        #[serde(default)]
        #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>", optional))]
        holdout: f64,
    },
}

fn default_fit_weight() -> f32 {
    DEFAULT_FIT_WEIGHT
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self::Bandit {
            fit_weight: DEFAULT_FIT_WEIGHT,
        }
    }
}

/// One variant's score in a bandit choice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct ArmScore {
    /// Variant id.
    pub variant: String,
    /// Posterior Beta parameters the rate was sampled from (fit prior, collector prior and this device's
    /// counts together).
    pub alpha: f64,
    /// See `alpha`.
    pub beta: f64,
    /// The sampled click rate.
    pub sampled_rate: f64,
    /// The semantic fit passed in.
    pub fit: f32,
    /// What the arms are compared on (the sampled rate): the highest wins.
    pub score: f64,
}

/// Why a variant was chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(tag = "mode", rename_all = "snake_case")]
#[cfg_attr(not(target_arch = "wasm32"), ts(rename = "CopyWhy"))]
pub enum Why {
    /// Bandit: every arm's score.
    Bandit {
        /// In candidate order.
        scores: Vec<ArmScore>,
    },
    /// A/B: the device's sticky bucket in [0, 1) and whether it fell in the holdout.
    Ab {
        /// Hash of experiment id and device salt, mapped to [0, 1).
        bucket: f64,
        /// Whether the bucket is below the holdout share.
        holdout: bool,
    },
}

/// The chosen copy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The variant to show.
    pub variant: String,
    /// The label to report under: `variant`, or `holdout`.
    pub report_variant: String,
    /// The scores behind the choice.
    pub why: Why,
}

/// Choose a variant for `experiment` and `segment`.
pub fn choose<R: Rng + ?Sized>(
    experiment: &str,
    candidates: &[Arm],
    segment: u8,
    options: CopyOptions,
    posteriors: &Posteriors,
    device_salt: &[u8],
    rng: &mut R,
) -> Result<Choice> {
    match options {
        CopyOptions::Bandit { fit_weight } => {
            choose_bandit(experiment, candidates, segment, fit_weight, posteriors, rng)
        }
        CopyOptions::Ab { holdout } => choose_ab(experiment, candidates, holdout, device_salt),
    }
}

/// Shared checks: ids plain, none called `holdout`, fits finite, at least one candidate.
fn validate_candidates(experiment: &str, candidates: &[Arm]) -> Result<()> {
    validate_id("experiment", experiment)?;
    if candidates.is_empty() {
        return Err(Error::InvalidInput(format!(
            "experiment {experiment} has no variants; pass at least one (the first is the control)"
        )));
    }
    for c in candidates {
        validate_id("variant", &c.id)?;
        if c.id == HOLDOUT_VARIANT {
            return Err(Error::InvalidInput(format!(
                "`{HOLDOUT_VARIANT}` is reserved for the A/B holdout; rename that variant"
            )));
        }
        if !c.fit.is_finite() {
            return Err(Error::InvalidInput(format!(
                "fit of variant {} is {}; pass the cosine to the session intent (or 0 when unknown)",
                c.id, c.fit
            )));
        }
    }
    Ok(())
}
