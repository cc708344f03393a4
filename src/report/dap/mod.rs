//! DAP reports (IETF Distributed Aggregation Protocol, draft 09, as Janus 0.7 speaks it): the device
//! splits its measurement into two Prio3 shares, seals each with HPKE to one aggregator, and the leader
//! and the helper add central noise only to the total.
//!
//! The core builds the bytes; the host moves them (JS `fetch` in the browser, a native HTTP client in the
//! CLI), so the same Rust code runs in the Worker and natively:
//! 1. [`DapClient::hpke_config_requests`] names the two `GET …/hpke_config?task_id=…` the host makes;
//!    their bodies go to [`DapClient::set_hpke_configs`], cached for [`HPKE_CONFIG_TTL_SECS`].
//! 2. [`DapClient::build`] shards one measurement and returns the [`UploadRequest`]: a `PUT` of
//!    `application/dap-report` to the leader. One report per request; nothing else travels with it.
//!
//! In DAP mode the device adds no local noise and spends no local ε: privacy comes from the secret
//! sharing (neither aggregator alone sees a measurement) and the noise the aggregators add to the total
//! (`dp_strategy` of the task). The daily caps on experiments and reports per device still apply and are
//! the caller's to enforce.
//!
//! # Cell layout
//! One report per experiment window is one vector over the experiment's cells: cell
//! `variant · CATEGORIES + outcome.category()` is 1, every other cell 0, where the outcome is the deepest
//! funnel stage the shopper reached ([`crate::report::Outcome`]: seen, clicked, added to cart, purchased in
//! one of four revenue buckets). Stages are nested, so impressions, clicks, add-to-carts, purchases and
//! the revenue histogram of every variant are sums of cells. The same vector goes to either VDAF:
//! - `Prio3Histogram` (one-hot checked by the proof): Janus calibrates its noise to an L1 sensitivity of
//!   2 whatever the length;
//! - `Prio3SumVec` with `bits = 1`: each cell 0 or 1, not checked to be one-hot, so one device could claim
//!   several outcomes; Janus calibrates its noise to `length · (2^bits − 1)`, the worst case.
//!
//! With the same ε the histogram's noise is `length / 2` times smaller (7× for two variants): it is the
//! default of `scripts/dap.sh`.
//!
//! A task may add **segments** (the shopper's nearest shipped centroid, `0..8`) as an axis:
//! cell `((variant · segments) + segment) · CATEGORIES + outcome` ([`crate::report::dap_cell`]), opt-in,
//! for histogram tasks with central noise, and only while a report stays within [`MAX_REPORT_BYTES`]
//! ([`DapTask::check`]).

mod client;
mod seal;
#[cfg(test)]
mod tests;
mod vdaf;

pub use client::{report_bytes, DapClient, HpkeConfigRequest, UploadRequest, HPKE_CONFIG_TTL_SECS};
pub use vdaf::{cell_index, noise_variance, one_hot, VdafSpec};

use serde::{Deserialize, Serialize};

use super::{dap_cells, SEGMENTS};
use crate::{Error, Result};

/// The largest report a task may make (bytes of the upload body): segments are an axis of the cells only
/// while one report stays this small.
pub const MAX_REPORT_BYTES: usize = 4096;

/// The aggregators and the tasks a device reports to: what `scripts/dap.sh` writes for the SDK. It
/// holds no secret (the collector's credentials live in a file of their own).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DapConfig {
    /// Leader base URL (uploads go there), e.g. `http://127.0.0.1:9001/`.
    pub leader: String,
    /// Helper base URL (only its HPKE configuration is fetched).
    pub helper: String,
    /// One DAP task per registered experiment.
    pub tasks: Vec<DapTask>,
}

impl DapConfig {
    /// Parses and checks the JSON file `scripts/dap.sh` writes.
    pub fn from_json(text: &str) -> Result<Self> {
        let cfg: Self = serde_json::from_str(text).map_err(|e| {
            Error::Dap(format!(
                "the DAP config is not valid JSON of the expected shape ({e})"
            ))
        })?;
        for t in &cfg.tasks {
            t.check()?;
        }
        Ok(cfg)
    }

    /// The task of `experiment`.
    pub fn task(&self, experiment: &str) -> Result<&DapTask> {
        self.tasks
            .iter()
            .find(|t| t.experiment == experiment)
            .ok_or_else(|| Error::Dap(format!("no DAP task for experiment {experiment:?}")))
    }
}

/// One experiment's DAP task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DapTask {
    /// The registered experiment id this task measures.
    pub experiment: String,
    /// DAP task id, 32 bytes in unpadded base64url.
    pub task_id: String,
    /// Variant ids in cell order (the first is the control).
    pub variants: Vec<String>,
    /// The VDAF both aggregators run.
    pub vdaf: VdafSpec,
    /// Report times are rounded down to a multiple of this (seconds); collections are aligned to it.
    pub time_precision: u64,
    /// A batch with fewer reports is never released.
    pub min_batch_size: u64,
    /// ε of the discrete-Laplace noise each aggregator adds to its share of the total; `None`: no noise.
    #[serde(default)]
    pub noise_epsilon: Option<f64>,
    /// Segments as an axis of the cells (`0`: none; at most [`SEGMENTS`], histogram tasks with noise
    /// only, and only while a report stays within [`MAX_REPORT_BYTES`]). Opt-in: every variant × outcome total then sums `segments` noised
    /// cells, so the main comparison needs more shoppers (BENCHMARKS.md, "DAP").
    #[serde(default, skip_serializing_if = "is_zero")]
    pub segments: u8,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl DapTask {
    /// Checks that the VDAF's length is the experiment's cells, that a segment axis has what it needs
    /// (a histogram, central noise, reports within [`MAX_REPORT_BYTES`]), and that the rest is usable.
    pub fn check(&self) -> Result<()> {
        if self.segments > SEGMENTS {
            return Err(Error::Dap(format!(
                "task {:?}: {} segments; at most {SEGMENTS}",
                self.experiment, self.segments
            )));
        }
        let want = dap_cells(self.variants.len(), self.segments);
        if self.variants.is_empty() || self.vdaf.length() != want {
            return Err(Error::Dap(format!(
                "task {:?}: {} variants and {} segments need a VDAF of length {want} (variants × segments × outcomes), found {}",
                self.experiment,
                self.variants.len(),
                self.segments,
                self.vdaf.length()
            )));
        }
        if self.time_precision == 0 || self.min_batch_size == 0 {
            return Err(Error::Dap(format!(
                "task {:?}: time_precision and min_batch_size must be positive",
                self.experiment
            )));
        }
        if matches!(self.noise_epsilon, Some(e) if !(e.is_finite() && e > 0.0)) {
            return Err(Error::Dap(format!(
                "task {:?}: noise_epsilon must be > 0",
                self.experiment
            )));
        }
        self.vdaf.instance()?;
        if self.segments > 0 {
            self.check_segments()?;
        }
        Ok(())
    }

    /// What a segment axis needs. The page chooses every event the segment comes from (and the
    /// centroids), so it could make a segment of one shopper: only noise per cell protects that cell,
    /// and only a histogram keeps the noise per cell as it is (a sum vector's noise grows with the
    /// length, and it does not check that a shopper marks one cell).
    fn check_segments(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Dap(format!("task {:?}: {why}", self.experiment)));
        if !matches!(self.vdaf, VdafSpec::Histogram { .. }) {
            return bad("segments need a histogram VDAF".into());
        }
        if self.noise_epsilon.is_none() {
            return bad("segments need central noise (noise_epsilon): the page chooses the segment, so exact per-segment counts could single out one shopper".into());
        }
        let bytes = report_bytes(&self.vdaf)?;
        if bytes > MAX_REPORT_BYTES {
            return bad(format!(
                "a report of {} cells is {bytes} B, over {MAX_REPORT_BYTES} B: use fewer segments or variants",
                self.vdaf.length()
            ));
        }
        Ok(())
    }

    /// Position of `variant` in the cell order.
    pub fn variant_index(&self, variant: &str) -> Result<usize> {
        self.variants.iter().position(|v| v == variant).ok_or_else(|| {
            Error::Dap(format!(
                "variant {variant:?} is not registered for {:?}",
                self.experiment
            ))
        })
    }
}
