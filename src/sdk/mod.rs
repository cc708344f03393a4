//! The SDK object a page talks to ([`Vitrine`]): the history, the product and query vectors, the models,
//! and the placements built on them. Plain Rust — `web/` wraps it for the browser, the CLI and tests
//! drive it natively. The clock is an argument, so every call is reproducible.

mod copy;
mod models;
mod placements;
mod vectors;

use std::collections::BTreeMap;
use std::rc::Rc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::copy::{Posteriors, Segments};
use crate::error::{Error, Result};
use crate::history::{Event, EventKind, History, StoreConfig};
use crate::model::session::{zero_shot_intent, SessionModel, SessionStep};
use crate::model::{Encoder, Role};
use crate::rank::{Candidate, Placement, Ranked, Rules};
use crate::report::{Ledger, Registry, Reporter};
use vectors::VectorStore;

pub use crate::copy::CopyOptions;
pub use copy::{BuiltReports, CopyPick, CopyVariant};

/// Settings for [`Vitrine::new`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
#[cfg_attr(not(target_arch = "wasm32"), ts(rename = "EngineConfig", optional_fields))]
pub struct Config {
    /// History limits (500 events, 30 days by default). Reporting has no settings: its ε and caps are
    /// the SDK's constants (`report::REPORT_EPSILON`, `DAILY_EPSILON`, …), not the page's.
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>"))]
    pub history: StoreConfig,
}

/// What the engine runs on right now, for the page's diagnostics panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), ts(rename = "EngineDiagnostics"))]
pub struct Diagnostics {
    /// Whether a text encoder is loaded (needed for search, copy and products missing from the catalog).
    pub encoder: bool,
    /// `"zero-shot"` (weighted mean of history vectors) until a session model is loaded.
    pub intent_model: String,
    /// Segment centroids loaded (0: every report goes under segment 0).
    pub segments: usize,
    /// Vectors from the catalog file.
    pub catalog_vectors: usize,
    /// Vectors encoded on this device and cached.
    pub encoded_vectors: usize,
    /// Events in the history.
    pub history_events: usize,
    /// The collector's registry: how many experiments it lists, or why there is none.
    pub registry: String,
    /// Per slot (and `report:EXPERIMENT`): whether the last pick or report was counted, and if not why.
    pub reporting: BTreeMap<String, String>,
}

/// The on-device personalization engine.
pub struct Vitrine {
    history: History,
    /// Shared (`Rc`) so that a GPU backend can encode with the same model beside the engine.
    encoder: Option<Rc<Encoder>>,
    vectors: VectorStore,
    reporter: Reporter,
    /// The collector's public registry: only its experiments are counted.
    registry: Option<Registry>,
    /// The device's ledger as last read from its one record, merged (running maximum).
    ledger: Ledger,
    /// Why the last pick per slot was (not) counted, for diagnostics.
    reporting: BTreeMap<String, String>,
    posteriors: Posteriors,
    /// Random per-device salt of the A/B split: kept on the device, never reported.
    salt: Vec<u8>,
    /// Segment centroids (unit vectors in the encoder's space), shipped with the model.
    segments: Option<Segments>,
    /// The trained session model; the zero-shot intent serves without it.
    session: Option<SessionModel>,
    /// Product vectors mapped into the session model's scoring space, by product id.
    projected: FxHashMap<String, Vec<f32>>,
    /// The last candidates' title words, for forYou's word overlap (see `placements`). In a lock because
    /// `rank` fills it while the history's steps borrow the engine; shared with the call's explanations.
    words: std::sync::Mutex<Option<std::sync::Arc<placements::CandidateWords>>>,
}

impl Vitrine {
    /// An engine with an empty history and no models yet. `salt` is the device's A/B salt (16+ random
    /// bytes the page keeps in local storage).
    pub fn new(config: Config, salt: &[u8]) -> Result<Self> {
        if salt.len() < 16 {
            return Err(Error::InvalidInput(
                "the device salt must be at least 16 random bytes".into(),
            ));
        }
        Ok(Self {
            history: History::new(config.history)?,
            encoder: None,
            vectors: VectorStore::default(),
            reporter: Reporter::new(),
            registry: None,
            ledger: Ledger::new(),
            reporting: BTreeMap::new(),
            posteriors: Posteriors::flat(),
            salt: salt.to_vec(),
            segments: None,
            session: None,
            projected: FxHashMap::default(),
            words: Default::default(),
        })
    }

    /// The history, oldest event first.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The history, for restoring a persisted snapshot or clearing it.
    pub fn history_mut(&mut self) -> &mut History {
        &mut self.history
    }

    /// Records an event at `now_ms` (ms since the epoch).
    pub fn track(&mut self, event: Event, now_ms: f64) -> Result<()> {
        self.history.push(event, now_ms)
    }

    /// Forgets the history, every vector encoded on this device, the pending report counters, the local
    /// bandit posterior (its own counts of what was shown and clicked here) and the A/B salt (a fresh
    /// random one replaces it: [`Self::salt`] to persist it). The ledger stays: a wipe must not buy a
    /// fresh privacy budget.
    pub fn clear(&mut self) {
        use rand::{Rng, SeedableRng};
        self.history.clear();
        self.vectors.clear_encoded();
        self.projected.clear();
        self.reporter.clear();
        self.posteriors.clear_local();
        self.reporting.clear();
        self.salt = rand::rngs::StdRng::from_os_rng().random::<[u8; 16]>().to_vec();
    }

    /// The device's A/B salt (the browser persists it; it never leaves the device).
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// What runs, for diagnostics.
    pub fn diagnostics(&self) -> Diagnostics {
        Diagnostics {
            encoder: self.encoder.is_some(),
            intent_model: match &self.session {
                Some(m) => format!("session model ({} steps, {} dims)", m.max_len(), m.out_dims()),
                None => "zero-shot".into(),
            },
            segments: self.segments.as_ref().map_or(0, |s| s.centroids.len()),
            catalog_vectors: self.vectors.catalog_len(),
            encoded_vectors: self.vectors.encoded_len(),
            history_events: self.history.len(),
            registry: match &self.registry {
                Some(r) => format!("{} registered experiments", r.experiments.len()),
                None => "none loaded: nothing is counted (no collector, no consent, or offline)".into(),
            },
            reporting: self.reporting.clone(),
        }
    }

    /// Orders `candidates` for `placement` under `rules`, each result with its reasons.
    pub fn rank(
        &mut self,
        placement: &Placement,
        candidates: &[Candidate],
        rules: &Rules,
        now_ms: f64,
    ) -> Result<Vec<Ranked>> {
        rules.validate()?;
        self.history.prune(now_ms);
        if candidates.len() > 10_000 {
            return Err(Error::InvalidInput(format!(
                "{} candidates; pass at most 10000 (pre-filter on the page or the server)",
                candidates.len()
            )));
        }
        let mut seen = FxHashSet::default();
        for c in candidates {
            c.validate()?;
            if !seen.insert(c.id.as_str()) {
                return Err(Error::InvalidInput(format!(
                    "candidate id {} appears twice",
                    c.id
                )));
            }
        }
        self.vectors.begin_call();
        self.ensure_history_vectors()?;
        self.vectors.ensure(self.encoder.as_deref(), candidates)?;
        if matches!(placement, Placement::ForYou) {
            self.ensure_projected(candidates)?;
        }
        placements::rank(self, placement, candidates, rules)
    }

    /// The session intent in the encoder's space (unit length; all zeros with no usable history).
    pub fn intent(&mut self, now_ms: f64) -> Result<Vec<f32>> {
        self.history.prune(now_ms);
        self.vectors.begin_call();
        self.ensure_history_vectors()?;
        let steps = self.steps();
        Ok(zero_shot_intent(
            &steps.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        ))
    }

    /// Maps candidate vectors into the session model's space once (cached by id; a batch per call).
    fn ensure_projected(&mut self, candidates: &[Candidate]) -> Result<()> {
        let Some(model) = &self.session else { return Ok(()) };
        let mut ids = Vec::new();
        let mut flat = Vec::new();
        for c in candidates {
            if let (false, Some(v)) = (self.projected.contains_key(&c.id), self.vectors.get(&c.id)) {
                ids.push(c.id.clone());
                flat.extend_from_slice(v);
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let out = model.item_vectors(&flat)?;
        for (id, v) in ids.into_iter().zip(out.chunks(model.out_dims())) {
            self.projected.insert(id, v.to_vec());
        }
        Ok(())
    }

    /// The session model's intent and the projected vectors, when a model is loaded and the history has
    /// steps: forYou scores `dot(intent, projected)`; otherwise the zero-shot intent on text vectors.
    fn model_intent(&self, steps: &[(&Event, SessionStep)]) -> Result<Option<Vec<f32>>> {
        match &self.session {
            Some(m) if !steps.is_empty() => {
                // A viewed product's item vector is usually cached already (it was a candidate).
                let items: Vec<Option<&[f32]>> = steps
                    .iter()
                    .map(|(e, _)| match (e.kind, &e.product_id) {
                        (EventKind::Search, _) | (_, None) => None,
                        (_, Some(id)) => self.projected.get(id).map(Vec::as_slice),
                    })
                    .collect();
                let steps: Vec<SessionStep> = steps.iter().map(|(_, s)| *s).collect();
                Ok(Some(m.intent_with_items(&steps, &items)?))
            }
            _ => Ok(None),
        }
    }

    /// Encodes whatever the history needs and the engine lacks: searched queries, titled products.
    fn ensure_history_vectors(&mut self) -> Result<()> {
        let Some(enc) = self.encoder.as_ref() else {
            return Ok(());
        };
        let texts = self.history_texts();
        let texts = self.vectors.missing(texts);
        self.vectors.encode_into(enc, texts)
    }

    /// `(key, text)` of every history event that can have a vector: searched queries, titled products.
    fn history_texts(&self) -> Vec<(String, String)> {
        self.history
            .events()
            .filter_map(|e| match (e.kind, &e.query, &e.product_id, &e.title) {
                (EventKind::Search, Some(q), _, _) => {
                    Some((VectorStore::query_key(q), self.role_text(Role::Query, q)))
                }
                (_, _, Some(id), Some(title)) => Some((id.clone(), self.role_text(Role::Passage, title))),
                _ => None,
            })
            .collect()
    }

    /// The score weights for the loaded encoder's cosines (MiniLM's without an encoder: a catalog alone
    /// carries no weights, and the shipped catalogs are MiniLM's).
    pub fn scores(&self) -> crate::model::Scores {
        self.encoder.as_ref().map(|e| *e.scores()).unwrap_or_default()
    }

    /// `text` as the loaded encoder embeds it in `role` (its file may ask for a prefix, as e5 does):
    /// every path that encodes, here or on the GPU, gets the same text for the same key.
    pub(super) fn role_text(&self, role: Role, text: &str) -> String {
        match &self.encoder {
            Some(enc) => enc.with_role(role, text).into_owned(),
            None => text.to_owned(),
        }
    }

    /// The `(key, text)` pairs that ranking `candidates` (with `queries`, for search) or picking among
    /// `copy` texts would encode on the CPU: a faster encoder of the same model (the GPU backend) may
    /// encode them first and hand the vectors to [`Self::put_vectors`].
    pub fn pending_texts(
        &self,
        candidates: &[Candidate],
        queries: &[String],
        copy: &[String],
    ) -> Vec<(String, String)> {
        let queries = queries
            .iter()
            .map(|q| (VectorStore::query_key(q), self.role_text(Role::Query, q)));
        let copy = copy
            .iter()
            .map(|t| (copy::variant_key(t), self.role_text(Role::Passage, t)));
        let titles =
            VectorStore::titled(candidates).map(|(id, t)| (id.to_owned(), self.role_text(Role::Passage, t)));
        let all = self
            .history_texts()
            .into_iter()
            .chain(titles)
            .chain(queries)
            .chain(copy);
        self.vectors.lacking(all)
    }

    /// Caches vectors for `keys` (from [`Self::pending_texts`]) made by another backend of the loaded
    /// encoder; `flat` holds one vector per key.
    pub fn put_vectors(&mut self, keys: Vec<String>, flat: &[f32]) -> Result<()> {
        let dims = self
            .encoder
            .as_ref()
            .map(|e| e.dims())
            .ok_or_else(|| Error::InvalidInput("putVectors needs the encoder loaded first".into()))?;
        self.vectors.put(keys, flat, dims)
    }

    /// History events that have a vector, oldest first, as intent-model steps.
    fn steps(&self) -> Vec<(&Event, SessionStep<'_>)> {
        let mut prev_ts: Option<f64> = None;
        let mut out = Vec::new();
        for e in self.history.events() {
            let key = match (e.kind, &e.query, &e.product_id) {
                (EventKind::Search, Some(q), _) => VectorStore::query_key(q),
                (_, _, Some(id)) => id.clone(),
                _ => continue,
            };
            let Some(vector) = self.vectors.get(&key) else {
                continue;
            };
            let ts = e.ts.unwrap_or(0.0);
            let gap_secs = prev_ts.map(|p| ((ts - p) / 1000.0).max(0.0) as f32);
            prev_ts = Some(ts);
            out.push((
                e,
                SessionStep {
                    vector,
                    kind: e.kind,
                    gap_secs,
                },
            ));
        }
        out
    }
}
