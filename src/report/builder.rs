//! The report builder: counts outcomes per registered experiment and turns them into randomised reports
//! within the device's ledger. Pure — the clock and the RNG are arguments — so the browser, the simulator
//! and the tests share it.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::budget::{eps_to_micros, Ledger, Refusal, REPORT_EPSILON};
use super::cells::{Experiment, ExperimentMode, Registry};
use super::central::{DapMeasurement, DapRoute};
use super::ldp::Randomiser;
use super::outcome::{CellCounters, Interaction, MAX_CELLS, SEGMENTS};
use super::schema::{report_id, validate_id, Report, HOLDOUT_VARIANT, SCHEMA_VERSION};
use crate::{Error, Result};

/// One experiment's pending counters on this device: about the first variant it was shown (a device
/// reports one cell per experiment; later exposures to other variants of a bandit are not counted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[cfg_attr(not(target_arch = "wasm32"), ts(rename = "PendingCell"))]
pub struct Pending {
    /// The measured variant (or `holdout`).
    pub variant: String,
    /// What happened after it was shown.
    pub counters: CellCounters,
    /// The shopper's segment when first shown the variant (`0..SEGMENTS`): a DAP task with a segment
    /// axis puts the cell there. Never in a local-DP report. `None` for counters kept by an SDK that
    /// did not record it.
    #[serde(default)]
    pub segment: Option<u8>,
}

/// Whether an event was counted, and if not why (for `diagnostics()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tracked {
    /// Counted.
    Counted,
    /// Not counted: the reason.
    Not(String),
}

/// The persisted part of a [`Reporter`]: pending counters by experiment id.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[cfg_attr(not(target_arch = "wasm32"), ts(rename = "ReportState"))]
pub struct ReporterState {
    /// Pending counters.
    pub pending: Vec<(String, Pending)>,
}

/// One device's counting state: pending counters, consent, and which experiments go to DAP.
#[derive(Clone, Debug)]
pub struct Reporter {
    pending: BTreeMap<String, Pending>,
    consent: bool,
    dap: DapRoute,
}

/// What [`Reporter::build_all`] built: local-DP reports, DAP measurements, and why others were not.
#[derive(Clone, Debug, Default)]
pub struct Built {
    /// Randomised reports for the collector.
    pub reports: Vec<Report>,
    /// Cells for the DAP module to seal (no noise, no ε: the aggregators add central noise).
    pub dap: Vec<DapMeasurement>,
    /// Per dropped or waiting experiment, why.
    pub why: Vec<(String, String)>,
}

impl Default for Reporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter {
    /// Empty counters, consent assumed until [`Reporter::set_consent`] says otherwise.
    pub fn new() -> Self {
        Self {
            pending: BTreeMap::new(),
            consent: true,
            dap: DapRoute::default(),
        }
    }

    /// Experiments measured through DAP from now on (the page configured `dap` and the collector lists
    /// their tasks).
    pub fn set_dap_route(&mut self, route: DapRoute) {
        self.dap = route;
    }

    /// Consent given or withdrawn (including Global Privacy Control). Withdrawal deletes the counters.
    pub fn set_consent(&mut self, consent: bool) {
        self.consent = consent;
        if !consent {
            self.pending.clear();
        }
    }

    /// Whether counting is allowed.
    pub fn consent(&self) -> bool {
        self.consent
    }

    /// Forget every pending counter (the shopper's wipe).
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// What must survive a reload.
    pub fn state(&self) -> ReporterState {
        ReporterState {
            pending: self.pending.clone().into_iter().collect(),
        }
    }

    /// Restores [`Reporter::state`] (untrusted input: invalid entries are dropped; nothing without
    /// consent).
    pub fn restore(&mut self, state: ReporterState) {
        if !self.consent {
            return;
        }
        self.pending = state
            .pending
            .into_iter()
            .filter(|(e, p)| {
                validate_id("experiment", e).is_ok()
                    && validate_id("variant", &p.variant).is_ok()
                    && p.segment.is_none_or(|s| s < SEGMENTS)
                    && p.counters.revenue.is_finite()
                    && p.counters.revenue >= 0.0
            })
            .take(MAX_CELLS)
            .collect();
    }

    /// Pending counters by experiment.
    pub fn pending(&self) -> &BTreeMap<String, Pending> {
        &self.pending
    }

    /// Count `event` for `variant` (a registered variant, or `holdout` in an A/B test) of `exp`.
    pub fn track(&mut self, exp: &Experiment, variant: &str, event: Interaction) -> Result<Tracked> {
        self.track_in(exp, variant, event, 0)
    }

    /// [`Reporter::track`] for a shopper in `segment` (`0..SEGMENTS`, the nearest shipped centroid):
    /// an impression that starts the experiment's counters keeps it; later events do not move it.
    pub fn track_in(
        &mut self,
        exp: &Experiment,
        variant: &str,
        event: Interaction,
        segment: u8,
    ) -> Result<Tracked> {
        if !self.consent {
            return Ok(Tracked::Not("no consent".into()));
        }
        let registered = exp.variant_index(variant).is_some()
            || (variant == HOLDOUT_VARIANT && exp.mode == ExperimentMode::Ab && exp.holdout > 0.0);
        if !registered {
            return Err(Error::InvalidInput(format!(
                "variant {variant} is not registered for experiment {} ({:?})",
                exp.id, exp.variants
            )));
        }
        if !self.pending.contains_key(&exp.id) {
            if event != Interaction::Impression {
                return Ok(Tracked::Not(format!(
                    "no impression of {} was counted first",
                    exp.id
                )));
            }
            if self.pending.len() >= MAX_CELLS {
                return Ok(Tracked::Not(format!(
                    "{MAX_CELLS} experiments already wait to be reported"
                )));
            }
            self.pending.insert(
                exp.id.clone(),
                Pending {
                    variant: variant.to_owned(),
                    counters: CellCounters::default(),
                    segment: Some(segment.min(SEGMENTS - 1)),
                },
            );
        }
        let Some(p) = self.pending.get_mut(&exp.id) else {
            return Ok(Tracked::Not("not pending".into()));
        };
        if p.variant != variant {
            return Ok(Tracked::Not(format!(
                "this device measures variant {} of {} (the first it was shown)",
                p.variant, exp.id
            )));
        }
        p.counters.track(event)?;
        Ok(Tracked::Counted)
    }

    /// Builds one report per pending experiment that the `ledger` allows on the day of `now_secs`,
    /// charging it. Experiments no longer registered or running, and ones this device already reported,
    /// are dropped; ones over today's limits wait for a later day. Returns the reports and, per dropped or
    /// waiting experiment, why. Only local-DP reports: for a reporter with a DAP route use
    /// [`Reporter::build_all`].
    pub fn build<R: Rng + ?Sized>(
        &mut self,
        registry: &Registry,
        ledger: &mut Ledger,
        now_secs: u64,
        rng: &mut R,
    ) -> (Vec<Report>, Vec<(String, String)>) {
        let b = self.build_all(registry, ledger, now_secs, rng);
        (b.reports, b.why)
    }

    /// [`Reporter::build`], with the experiments of the DAP route built as DAP measurements: they spend
    /// no ε but count against the experiments per day and the one report per experiment in a lifetime.
    pub fn build_all<R: Rng + ?Sized>(
        &mut self,
        registry: &Registry,
        ledger: &mut Ledger,
        now_secs: u64,
        rng: &mut R,
    ) -> Built {
        let mut out = Built::default();
        if !self.consent {
            return out;
        }
        let day = now_secs / 86_400;
        // Saturates in the year 491,000-odd; the hour is the only time that leaves the device.
        let hour = u32::try_from(now_secs / 3600).unwrap_or(u32::MAX);
        for (id, p) in std::mem::take(&mut self.pending) {
            let Some(exp) = registry.get(&id).filter(|e| e.is_active(now_secs)) else {
                out.why
                    .push((id, "not registered or not running: counters dropped".into()));
                continue;
            };
            let Some(outcome) = p.counters.outcome() else {
                continue;
            };
            let dap = match self.dap.task(&id) {
                None => None,
                Some(t) if !t.ready => {
                    // Keys missing, or a visit that fetched (its report would be sent in a later one, maybe
                    // after the collector collected the window of its time).
                    let why = "the DAP report waits for a visit that can seal and send it at once";
                    out.why.push((id.clone(), why.into()));
                    self.pending.insert(id, p);
                    continue;
                }
                Some(t) if t.segments > 0 && p.segment.is_none() => {
                    // Counted before this device kept segments: its segment is unknown, and a guess
                    // would skew one segment.
                    let why = "counted without a segment, which the DAP task needs: dropped";
                    out.why.push((id, why.into()));
                    continue;
                }
                Some(t) => match t.measure(&p.variant, p.segment.unwrap_or(0), outcome) {
                    Some(m) => Some(m),
                    None => {
                        let why = format!("variant {} is not measured by the DAP task: dropped", p.variant);
                        out.why.push((id, why));
                        continue;
                    }
                },
            };
            let micros = if dap.is_some() {
                0
            } else {
                eps_to_micros(REPORT_EPSILON)
            };
            match ledger.charge(exp, day, micros) {
                Ok(()) => {}
                Err(r @ Refusal::AlreadyReported) => {
                    out.why.push((id, r.to_string()));
                    continue;
                }
                Err(r @ Refusal::Today(_)) => {
                    out.why.push((id.clone(), r.to_string()));
                    self.pending.insert(id, p);
                    continue;
                }
            }
            if let Some(m) = dap {
                out.dap.push(m);
                continue;
            }
            let layout = exp.layout();
            let variant_index = exp.variant_index(&p.variant).unwrap_or(0);
            // ε and the domain are the SDK's and the registry's: neither comes from the page.
            let Ok(rr) = Randomiser::for_domain(layout.domain(), REPORT_EPSILON) else {
                continue;
            };
            let r = rr.randomise(layout.value(variant_index, outcome), rng);
            out.reports.push(Report {
                v: SCHEMA_VERSION,
                experiment: id,
                hour,
                arm: (exp.mode == ExperimentMode::Ab).then(|| p.variant.clone()),
                id: report_id(rng.random()),
                r,
            });
        }
        out
    }
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests;
