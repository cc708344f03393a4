//! Which experiments go to DAP instead of local noise, and what the engine hands the DAP module for one:
//! a cell index, never a report. The engine decides and charges the ledger; the DAP module (a wasm of its
//! own, `dap-wasm/`, loaded only by pages that configure `dap`) shards and seals the one-hot vector.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::outcome::{Outcome, CATEGORIES};
use super::schema::validate_id;
use crate::{Error, Result};

/// One experiment's DAP task as the engine needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DapRouteTask {
    /// The registered experiment.
    pub experiment: String,
    /// The task's variants in cell order (the collector's `GET /v1/dap-tasks`).
    pub variants: Vec<String>,
    /// A report can be sealed and sent in this visit: both aggregators' HPKE configurations are loaded
    /// and the visit fetched nothing.
    pub ready: bool,
}

/// The experiments measured through DAP on this device. An experiment with a task is never reported with
/// local noise: while its task is not ready its counters wait, so one experiment's reports never mix the
/// two mechanisms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DapRoute {
    tasks: BTreeMap<String, DapRouteTask>,
}

impl DapRoute {
    /// Parses the host's `[{experiment, variants, ready}]` (ids checked as the registry's are).
    pub fn from_json(text: &str) -> Result<Self> {
        let list: Vec<DapRouteTask> = serde_json::from_str(text).map_err(|e| {
            Error::InvalidInput(format!(
                "the DAP route is not [{{experiment, variants, ready}}] ({e})"
            ))
        })?;
        let mut tasks = BTreeMap::new();
        for t in list {
            validate_id("experiment", &t.experiment)?;
            if t.variants.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "the DAP task of {} has no variants",
                    t.experiment
                )));
            }
            for v in &t.variants {
                validate_id("variant", v)?;
            }
            tasks.insert(t.experiment.clone(), t);
        }
        Ok(Self { tasks })
    }

    /// The task of `experiment`, if it is measured through DAP.
    pub fn task(&self, experiment: &str) -> Option<&DapRouteTask> {
        self.tasks.get(experiment)
    }
}

/// One shopper's window of one experiment, for the DAP module to shard: cell `cell` of `cells` is 1, every
/// other 0 (`src/report/dap`, "Cell layout"). It stays in the Worker's memory: only the sealed shares leave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DapMeasurement {
    /// The experiment (and so the DAP task).
    pub experiment: String,
    /// `variant · CATEGORIES + outcome category`.
    pub cell: u32,
    /// The task's length: variants × CATEGORIES.
    pub cells: u32,
}

impl DapRouteTask {
    /// The measurement of `variant` reaching `outcome`; `None` for a variant the task does not carry
    /// (an A/B holdout, or a registry changed since the task was provisioned).
    pub fn measure(&self, variant: &str, outcome: Outcome) -> Option<DapMeasurement> {
        let index = self.variants.iter().position(|v| v == variant)?;
        Some(DapMeasurement {
            experiment: self.experiment.clone(),
            cell: u32::try_from(index * CATEGORIES + outcome.category()).ok()?,
            cells: u32::try_from(self.variants.len() * CATEGORIES).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_follow_the_dap_layout_and_bad_routes_are_refused() {
        let route = DapRoute::from_json(r#"[{"experiment": "hero", "variants": ["A", "B"], "ready": true}]"#)
            .unwrap();
        let t = route.task("hero").unwrap();
        // Literal values of the layout in src/report/dap: 7 categories per variant.
        assert_eq!(t.measure("A", Outcome::Seen).unwrap().cell, 0);
        let m = t.measure("B", Outcome::Purchased { bucket: 3 }).unwrap();
        assert_eq!((m.cell, m.cells), (13, 14));
        assert_eq!(t.measure("holdout", Outcome::Seen), None);
        assert!(route.task("other").is_none());
        for bad in [
            "{}",
            r#"[{"experiment": "hero", "variants": [], "ready": true}]"#,
            r#"[{"experiment": "a b", "variants": ["A"], "ready": true}]"#,
            r#"[{"experiment": "hero", "variants": ["A"], "ready": true, "epsilon": 9}]"#,
        ] {
            assert!(DapRoute::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dap_experiments_spend_no_epsilon_wait_for_their_keys_and_count_once() {
        use crate::report::{Experiment, ExperimentMode, Interaction, Ledger, Registry, Reporter};
        use rand::{rngs::StdRng, SeedableRng};
        const NOW: u64 = 1_800_000_000;
        let exp = |id: &str| Experiment {
            id: id.into(),
            slot: id.into(),
            variants: vec!["A".into(), "B".into()],
            mode: ExperimentMode::Ab,
            holdout: 0.0,
            k: 100,
            start: NOW - 86_400,
            end: None,
        };
        let reg = Registry {
            v: 1,
            experiments: vec![exp("dap"), exp("ldp")],
        };
        let mut r = Reporter::new();
        for e in &reg.experiments {
            r.track(e, "B", Interaction::Impression).unwrap();
            r.track(e, "B", Interaction::Click).unwrap();
        }
        let route = |ready| {
            DapRoute::from_json(&format!(
                r#"[{{"experiment": "dap", "variants": ["A", "B"], "ready": {ready}}}]"#
            ))
            .unwrap()
        };
        let mut rng = StdRng::seed_from_u64(3);
        let mut ledger = Ledger::new();
        r.set_dap_route(route(false));
        let b = r.build_all(&reg, &mut ledger, NOW, &mut rng);
        assert_eq!(b.reports.len(), 1, "the local-DP experiment goes out");
        assert!(b.dap.is_empty() && b.why[0].1.contains("waits"), "{:?}", b.why);
        assert_eq!(ledger.spent(NOW / 86_400), 2.0);
        r.set_dap_route(route(true));
        let b = r.build_all(&reg, &mut ledger, NOW, &mut rng);
        // B clicked: cell 1 · 7 + 1.
        assert_eq!(
            b.dap,
            vec![DapMeasurement {
                experiment: "dap".into(),
                cell: 8,
                cells: 14
            }]
        );
        assert!(b.reports.is_empty());
        assert_eq!(ledger.spent(NOW / 86_400), 2.0, "DAP spends no local ε");
        r.track(&reg.experiments[0], "B", Interaction::Impression)
            .unwrap();
        let b = r.build_all(&reg, &mut ledger, NOW + 86_400, &mut rng);
        assert!(b.dap.is_empty() && b.why[0].1.contains("lifetime"), "{:?}", b.why);
    }
}
