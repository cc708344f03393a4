//! Promo copy and reporting on the SDK object: picks a variant for a slot (semantic fit to the session
//! intent + bandit, or a sticky A/B split), counts what happens to it when the slot runs a registered
//! experiment, and builds private reports within the device's ledger.
//!
//! The pick always works: with no registry (no consent, offline, no collector) or an unregistered slot,
//! the page's variants are chosen and shown, nothing is counted, and `diagnostics().reporting` says why.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::vectors::VectorStore;
use super::Vitrine;
use crate::copy::{self, CopyOptions, Posteriors, Why};
use crate::error::{Error, Result};
use crate::model::Role;
use crate::rank::dot;
use crate::report::{
    Built, DapMeasurement, DapRoute, Experiment, ExperimentMode, Interaction, Ledger, Registry, Report,
    ReporterState, Tracked,
};

/// A copy variant as the page passes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CopyVariant {
    /// Variant id (`[A-Za-z0-9_.:-]`, ≤ 64 bytes); the first is the control.
    pub id: String,
    /// The copy text, embedded to measure its fit to the session.
    pub text: String,
}

/// The pick and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct CopyPick {
    /// The slot id.
    pub slot: String,
    /// The registered experiment the pick is counted under, if any.
    pub experiment: Option<String>,
    /// Whether this impression was counted for a report (see `diagnostics().reporting` if not).
    pub counted: bool,
    /// The variant to show.
    pub variant: String,
    /// Its text.
    pub text: String,
    /// The label outcomes are counted under (`holdout` for the A/B holdout).
    pub report_variant: String,
    /// The on-device segment of the session: local only, it never leaves the device.
    pub segment: u8,
    /// Each variant's cosine to the session intent, in the page's variant order.
    pub fits: Vec<f32>,
    /// The scores behind the choice.
    pub why: Why,
}

/// Reports built by [`Vitrine::build_reports`] and the ledger to store back in the same transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuiltReports {
    /// One per reported experiment, each to be sent in its own request.
    pub reports: Vec<Report>,
    /// Cells of the experiments measured through DAP, for the DAP module to seal (each then sent in its
    /// own request).
    pub dap: Vec<DapMeasurement>,
    /// The merged, charged ledger.
    pub ledger: Ledger,
}

/// Where a copy variant's text vector is cached (beside queries, apart from product ids).
pub(super) fn variant_key(text: &str) -> String {
    VectorStore::query_key(&format!("copy:{text}"))
}

fn secs(now_ms: f64) -> u64 {
    (now_ms / 1000.0).max(0.0) as u64
}

impl Vitrine {
    /// The bandit at the loaded encoder's fit weight (its file's [`crate::model::Scores`]; MiniLM's 8
    /// without one): what `pickCopy` does when the page passes no options.
    pub fn default_copy_options(&self) -> CopyOptions {
        CopyOptions::Bandit {
            fit_weight: self.scores().fit_weight,
        }
    }

    /// The page's `pickCopy` options as JSON (`None`: the default). A bandit without `fitWeight` takes
    /// the loaded encoder's, since a weight per unit of cosine means nothing across encoders.
    pub fn copy_options(&self, options: Option<serde_json::Value>) -> Result<CopyOptions> {
        let Some(mut json) = options else {
            return Ok(self.default_copy_options());
        };
        if let Some(o) = json.as_object_mut() {
            if o.get("mode").and_then(|m| m.as_str()) == Some("bandit") && !o.contains_key("fitWeight") {
                o.insert("fitWeight".into(), self.scores().fit_weight.into());
            }
        }
        serde_json::from_value(json).map_err(|e| Error::InvalidInput(format!("options: {e}")))
    }

    /// Picks a copy variant for `slot` and, for a registered experiment, counts an impression of it.
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
                    dot(&intent, self.vectors.text_vector(enc, key, &text)?)?
                }
                _ => 0.0,
            };
            fits.push(fit);
        }
        let page: Vec<copy::Arm> = variants
            .iter()
            .zip(&fits)
            .map(|(v, f)| copy::Arm {
                id: v.id.clone(),
                fit: *f,
            })
            .collect();
        let (exp, reason) = self.experiment_for(slot, &page, now_ms);
        // A registered experiment picks among its registered variants, in its mode; otherwise the page's.
        let (key, candidates, mode) = match &exp {
            Some(e) => {
                let c = e
                    .variants
                    .iter()
                    .filter_map(|id| page.iter().find(|c| &c.id == id).cloned())
                    .collect::<Vec<_>>();
                let mode = match (e.mode, options) {
                    (ExperimentMode::Ab, _) => CopyOptions::Ab { holdout: e.holdout },
                    (ExperimentMode::Bandit, bandit @ CopyOptions::Bandit { .. }) => bandit,
                    (ExperimentMode::Bandit, CopyOptions::Ab { .. }) => self.default_copy_options(),
                };
                (e.id.clone(), c, mode)
            }
            None => (slot.to_owned(), page, options),
        };
        let choice = copy::choose(
            &key,
            &candidates,
            segment,
            mode,
            &self.posteriors,
            &self.salt,
            rng,
        )?;
        // The bandit's own trials: every pick shown, counted for a report or not (a click alone would
        // lock the first clicked variant in on this device).
        self.posteriors.impression(&key, &choice.report_variant);
        let text = variants
            .iter()
            .find(|v| v.id == choice.variant)
            .map(|v| v.text.clone())
            .unwrap_or_default();
        let status = match &exp {
            Some(e) => self
                .reporter
                .track_in(e, &choice.report_variant, Interaction::Impression, segment)?,
            None => Tracked::Not(reason),
        };
        let counted = status == Tracked::Counted;
        self.reporting.insert(
            slot.to_owned(),
            match (&exp, status) {
                (Some(e), Tracked::Counted) => format!("counted under registered experiment {}", e.id),
                (_, Tracked::Not(why)) => format!("not counted: {why}"),
                (None, Tracked::Counted) => String::new(),
            },
        );
        Ok(CopyPick {
            slot: slot.to_owned(),
            experiment: exp.map(|e| e.id),
            counted,
            variant: choice.variant,
            text,
            report_variant: choice.report_variant,
            segment,
            fits,
            why: choice.why,
        })
    }

    /// The registered experiment running on `slot` whose variants the page passes, or why there is none.
    fn experiment_for(&self, slot: &str, page: &[copy::Arm], now_ms: f64) -> (Option<Experiment>, String) {
        if !self.reporter.consent() {
            return (None, "no consent".into());
        }
        let Some(registry) = &self.registry else {
            return (
                None,
                "no registry loaded (no collector, offline, or not fetched yet)".into(),
            );
        };
        let Some(exp) = registry.active_for_slot(slot, secs(now_ms)) else {
            return (None, format!("slot {slot} runs no registered experiment"));
        };
        if let Some(missing) = exp.variants.iter().find(|v| !page.iter().any(|c| &c.id == *v)) {
            return (
                None,
                format!(
                    "experiment {} registers variant {missing}, which the page did not pass",
                    exp.id
                ),
            );
        }
        if self.ledger.has_reported(exp) {
            return (
                None,
                format!("this device already reported experiment {}", exp.id),
            );
        }
        (Some(exp.clone()), String::new())
    }

    /// Counts an outcome (`click`, `add_to_cart`, `purchase` with revenue) of a shown variant.
    pub fn record(
        &mut self,
        slot: &str,
        report_variant: &str,
        outcome: Interaction,
        now_ms: f64,
    ) -> Result<()> {
        let exp = self
            .registry
            .as_ref()
            .and_then(|r| r.active_for_slot(slot, secs(now_ms)))
            .cloned();
        let key = exp.as_ref().map_or(slot, |e| e.id.as_str());
        if let Interaction::Click = outcome {
            // The local posterior learns from every click, counted or not: it never leaves the device.
            // (Its impressions are counted by the pick.)
            self.posteriors.click(key, report_variant);
        }
        match exp {
            Some(e) if self.reporter.pending().contains_key(&e.id) => {
                if let Tracked::Not(why) = self.reporter.track(&e, report_variant, outcome)? {
                    self.reporting
                        .insert(slot.to_owned(), format!("outcome not counted: {why}"));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Uses the collector's `/v1/priors` document for the bandit.
    pub fn set_priors(&mut self, json: &str) -> Result<()> {
        self.posteriors = Posteriors::from_priors_json(json)?;
        Ok(())
    }

    /// Uses the collector's `/v1/experiments` registry: only its experiments are counted.
    pub fn set_registry(&mut self, json: &str) -> Result<()> {
        self.registry = Some(Registry::from_json(json)?);
        Ok(())
    }

    /// The device's ledger as last read or written (the browser passes the stored one before building).
    pub fn set_ledger(&mut self, json: Option<&str>, now_ms: f64) {
        let stored = Ledger::from_stored(json, secs(now_ms));
        self.ledger.merge(&stored);
    }

    /// Consent (and the Global Privacy Control signal, which the page folds in): off deletes the counters.
    pub fn set_consent(&mut self, consent: bool) {
        self.reporter.set_consent(consent);
    }

    /// Pending counters, for the browser to persist until they are reported.
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

    /// Builds the reports the ledger allows. `stored` is the ledger as read from the device's one record
    /// (damaged reads as spent); it is merged with this engine's copy as a running maximum, charged, and
    /// returned to be written back in the same transaction. Nothing without a registry or consent.
    pub fn build_reports<R: Rng + ?Sized>(
        &mut self,
        stored: Option<&str>,
        now_ms: f64,
        rng: &mut R,
    ) -> BuiltReports {
        self.set_ledger(stored, now_ms);
        let mut ledger = self.ledger.clone();
        let built = match &self.registry {
            Some(reg) if self.reporter.consent() => {
                let built = self.reporter.build_all(reg, &mut ledger, secs(now_ms), rng);
                for (exp, w) in &built.why {
                    self.reporting.insert(format!("report:{exp}"), w.clone());
                }
                built
            }
            _ => Built::default(),
        };
        self.ledger = ledger.clone();
        BuiltReports {
            reports: built.reports,
            dap: built.dap,
            ledger,
        }
    }

    /// Experiments measured through DAP (`[{experiment, variants, ready}]`, from the DAP module): they
    /// are never reported with local noise, and wait while not `ready`.
    pub fn set_dap_route(&mut self, json: &str) -> Result<()> {
        self.reporter.set_dap_route(DapRoute::from_json(json)?);
        Ok(())
    }

    /// The segment (0..8) of an intent: its nearest shipped centroid; 0 without centroids or history.
    /// It picks priors on the device and, for a DAP task with a segment axis, the cell of the
    /// secret-shared report (aggregated with central noise); it never enters a local-DP report.
    pub fn segment_of(&self, intent: &[f32]) -> u8 {
        self.segments.as_ref().map_or(0, |s| s.assign(intent))
    }
}
