//! Which experiments go to DAP instead of local noise, and what the engine hands the DAP module for one:
//! a cell index, never a report. The engine decides and charges the ledger; the DAP module (a wasm of its
//! own, `dap-wasm/`, loaded only by pages that configure `dap`) shards and seals the one-hot vector.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::outcome::{Outcome, CATEGORIES, SEGMENTS};
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
    /// Segments the task measures as an axis of its cells (0: none; see [`dap_cell`]).
    #[serde(default)]
    pub segments: u8,
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
            if t.segments > SEGMENTS {
                return Err(Error::InvalidInput(format!(
                    "the DAP task of {} has {} segments; at most {SEGMENTS}",
                    t.experiment, t.segments
                )));
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

/// The DAP cell of one shopper's window: `((variant · S) + segment) · CATEGORIES + outcome`, where `S` is
/// the task's segment count (0 and 1 mean no segment axis: `variant · CATEGORIES + outcome`). A segment
/// the task does not have (a page whose segments file has more centroids than the task) counts in the
/// task's last segment. Segments are the shipped centroids' indices (`src/copy/segments.rs`).
pub fn dap_cell(variant: usize, segment: u8, segments: u8, outcome: Outcome) -> usize {
    let s = usize::from(segments.max(1));
    (variant * s + usize::from(segment).min(s - 1)) * CATEGORIES + outcome.category()
}

/// Cells of a task with `variants` variants and `segments` segments (see [`dap_cell`]).
pub fn dap_cells(variants: usize, segments: u8) -> usize {
    variants * usize::from(segments.max(1)) * CATEGORIES
}

/// One shopper's window of one experiment, for the DAP module to shard: cell `cell` of `cells` is 1, every
/// other 0 (`src/report/dap`, "Cell layout"). It stays in the Worker's memory: only the sealed shares leave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DapMeasurement {
    /// The experiment (and so the DAP task).
    pub experiment: String,
    /// The cell ([`dap_cell`]).
    pub cell: u32,
    /// The task's length ([`dap_cells`]).
    pub cells: u32,
}

impl DapRouteTask {
    /// The measurement of `variant` reaching `outcome` in `segment` (the shopper's segment when first
    /// shown the variant); `None` for a variant the task does not carry (an A/B holdout, or a registry
    /// changed since the task was provisioned).
    pub fn measure(&self, variant: &str, segment: u8, outcome: Outcome) -> Option<DapMeasurement> {
        let index = self.variants.iter().position(|v| v == variant)?;
        Some(DapMeasurement {
            experiment: self.experiment.clone(),
            cell: u32::try_from(dap_cell(index, segment, self.segments, outcome)).ok()?,
            cells: u32::try_from(dap_cells(self.variants.len(), self.segments)).ok()?,
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
        assert_eq!(t.measure("A", 0, Outcome::Seen).unwrap().cell, 0);
        let m = t.measure("B", 5, Outcome::Purchased { bucket: 3 }).unwrap();
        assert_eq!(
            (m.cell, m.cells),
            (13, 14),
            "no segment axis: the segment is not in the cell"
        );
        assert_eq!(t.measure("holdout", 0, Outcome::Seen), None);
        // With 8 segments: ((1 · 8) + 5) · 7 + 6 = 97 of 2 · 8 · 7 = 112.
        let seg = DapRoute::from_json(
            r#"[{"experiment": "hero", "variants": ["A", "B"], "segments": 8, "ready": true}]"#,
        )
        .unwrap();
        let m = seg
            .task("hero")
            .unwrap()
            .measure("B", 5, Outcome::Purchased { bucket: 3 })
            .unwrap();
        assert_eq!((m.cell, m.cells), (97, 112));
        // 3 segments: a device segment past the task's counts in its last, ((0 · 3) + 2) · 7 + 1 = 15.
        let three = DapRoute::from_json(
            r#"[{"experiment": "hero", "variants": ["A", "B"], "segments": 3, "ready": true}]"#,
        )
        .unwrap();
        let m = three
            .task("hero")
            .unwrap()
            .measure("A", 7, Outcome::Clicked)
            .unwrap();
        assert_eq!((m.cell, m.cells), (15, 42));
        assert!(route.task("other").is_none());
        for bad in [
            "{}",
            r#"[{"experiment": "hero", "variants": [], "ready": true}]"#,
            r#"[{"experiment": "a b", "variants": ["A"], "ready": true}]"#,
            r#"[{"experiment": "hero", "variants": ["A"], "ready": true, "epsilon": 9}]"#,
            r#"[{"experiment": "hero", "variants": ["A"], "ready": true, "segments": 9}]"#,
        ] {
            assert!(DapRoute::from_json(bad).is_err(), "{bad}");
        }
    }

    use crate::report::{Experiment, ExperimentMode, Interaction, Ledger, Registry, Reporter, ReporterState};
    use rand::{rngs::StdRng, SeedableRng};

    const NOW: u64 = 1_800_000_000;

    /// A running A/B experiment with variants A and B.
    fn exp(id: &str) -> Experiment {
        Experiment {
            id: id.into(),
            slot: id.into(),
            variants: vec!["A".into(), "B".into()],
            mode: ExperimentMode::Ab,
            holdout: 0.0,
            k: 100,
            start: NOW - 86_400,
            end: None,
        }
    }

    #[test]
    fn dap_experiments_spend_no_epsilon_wait_for_their_keys_and_count_once() {
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

    #[test]
    fn the_segment_of_the_first_impression_places_the_cell() {
        let exp = exp("hero");
        let reg = Registry {
            v: 1,
            experiments: vec![exp.clone()],
        };
        let mut r = Reporter::new();
        r.track_in(&exp, "A", Interaction::Impression, 5).unwrap();
        // Later events in another segment (the session moved on) do not move the cell.
        r.track_in(&exp, "A", Interaction::Click, 2).unwrap();
        r.track_in(&exp, "A", Interaction::Impression, 2).unwrap();
        // A restored state with a segment out of range is dropped (untrusted storage).
        let mut state = r.state();
        state.pending[0].1.segment = Some(8);
        let mut restored = Reporter::new();
        restored.restore(state);
        assert!(restored.pending().is_empty());
        restored.restore(
            serde_json::from_str::<ReporterState>(&serde_json::to_string(&r.state()).unwrap()).unwrap(),
        );
        assert_eq!(restored.pending()["hero"].segment, Some(5));
        r.set_dap_route(
            DapRoute::from_json(
                r#"[{"experiment": "hero", "variants": ["A", "B"], "segments": 8, "ready": true}]"#,
            )
            .unwrap(),
        );
        let b = r.build_all(&reg, &mut Ledger::new(), NOW, &mut StdRng::seed_from_u64(1));
        // A in segment 5, clicked: ((0 · 8) + 5) · 7 + 1 = 36 of 112.
        assert_eq!((b.dap[0].cell, b.dap[0].cells), (36, 112));
        // Counters stored by an SDK that kept no segment: dropped for a segmented task, not guessed.
        let old = r#"{"pending": [["hero", {"variant": "B", "counters": {"impressions": 1, "clicks": 0, "add_to_carts": 0, "purchases": 0, "revenue": 0.0}}]]}"#;
        let mut r = Reporter::new();
        r.restore(serde_json::from_str(old).unwrap());
        assert_eq!(r.pending()["hero"].segment, None);
        r.set_dap_route(
            DapRoute::from_json(
                r#"[{"experiment": "hero", "variants": ["A", "B"], "segments": 8, "ready": true}]"#,
            )
            .unwrap(),
        );
        let b = r.build_all(&reg, &mut Ledger::new(), NOW, &mut StdRng::seed_from_u64(1));
        assert!(
            b.dap.is_empty() && b.why[0].1.contains("without a segment"),
            "{:?}",
            b.why
        );
    }
}
