//! The SDK object across the wasm boundary. Page values (events, candidates, rules, copy variants and
//! options) arrive as JS objects and results leave as JS objects, converted by serde (see `web/mod.rs`);
//! only documents fetched as text (the collector's priors, a segments file) cross as the string they are.

use rand::rngs::StdRng;
use rand::SeedableRng;
use wasm_bindgen::prelude::*;

use super::{from_js, given, js_error, to_js, OrJs, WebEncoder};
use crate::catalog::Catalog;
use crate::copy::Segments;
use crate::error::Error;
use crate::history::Event;
use crate::model::SessionModel;
use crate::rank::{Candidate, Placement, Rules};
use crate::report::Interaction;
use crate::sdk::{Config, CopyVariant};
use crate::Vitrine;

fn now() -> f64 {
    js_sys::Date::now()
}

/// A persisted state as the JSON text the core restores from: an object (what this build stores) or
/// the JSON string earlier builds stored in IndexedDB.
fn persisted_json(what: &str, value: JsValue) -> Result<String, JsError> {
    if let Some(text) = value.as_string() {
        return Ok(text);
    }
    let value: serde_json::Value = from_js(what, value)?;
    Ok(value.to_string())
}

/// The engine: history, vectors, models, ranking, copy and reports.
#[wasm_bindgen(js_name = Engine)]
pub struct WebVitrine {
    inner: Vitrine,
    rng: StdRng,
    /// The page's product list, set once: `rank` without candidates uses it (no per-call conversion).
    products: Vec<Candidate>,
}

impl WebVitrine {
    /// The engine's encoder, shared with the GPU backend.
    pub(crate) fn encoder(&self) -> Option<std::rc::Rc<crate::model::Encoder>> {
        self.inner.encoder()
    }

    /// The candidates a call names, or the products set by `setProducts` when it names none.
    fn candidates(&self, value: JsValue) -> Result<std::borrow::Cow<'_, [Candidate]>, JsError> {
        Ok(if given(&value) {
            std::borrow::Cow::Owned(from_js::<Vec<Candidate>>("candidates", value)?)
        } else {
            std::borrow::Cow::Borrowed(&self.products)
        })
    }
}

#[wasm_bindgen(js_class = Engine)]
impl WebVitrine {
    /// `config`: an `EngineConfig` (`{history: {maxEvents, maxAgeDays}}`, every field optional; reporting's
    /// ε is the SDK's, not a setting); `salt`: the device's A/B salt (16+ random bytes kept by the page, never sent).
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue, salt: &[u8]) -> Result<WebVitrine, JsError> {
        let config: Config = if given(&config) {
            from_js("config", config)?
        } else {
            Config::default()
        };
        Ok(Self {
            inner: Vitrine::new(config, salt).js()?,
            rng: StdRng::from_os_rng(),
            products: Vec::new(),
        })
    }

    /// Loads the text encoder from its GGUF bytes (verified).
    #[wasm_bindgen(js_name = loadEncoder)]
    pub fn load_encoder(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        let enc = WebEncoder::from_bytes(bytes)?;
        self.inner.set_encoder(enc.into_inner()).js()
    }

    /// Adds precomputed catalog vectors; returns how many the engine has.
    #[wasm_bindgen(js_name = loadCatalog)]
    pub fn load_catalog(&mut self, bytes: &[u8]) -> Result<usize, JsError> {
        let catalog = Catalog::from_bytes(bytes).js()?;
        self.inner.load_catalog(&catalog).js()
    }

    /// Loads a trained session model (GGUF from `vitrine train`, verified) for forYou.
    #[wasm_bindgen(js_name = loadSessionModel)]
    pub fn load_session_model(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        let model = SessionModel::from_gguf_bytes(bytes).js()?;
        self.inner.set_session_model(model).js()
    }

    /// Loads segment centroids: the text of the JSON file `vitrine segments` writes.
    #[wasm_bindgen(js_name = loadSegments)]
    pub fn load_segments(&mut self, json: &str) -> Result<(), JsError> {
        let segments = Segments::from_json(json).js()?;
        self.inner.set_segments(segments).js()
    }

    /// Records a `ShopperEvent`; throws (`invalid_input`) on a malformed one, which is not stored.
    pub fn track(&mut self, event: JsValue) -> Result<(), JsError> {
        let event: Event = from_js("event", event)?;
        self.inner.track(event, now()).js()
    }

    /// Sets the page's products (an array of `Candidate`); returns how many.
    #[wasm_bindgen(js_name = setProducts)]
    pub fn set_products(&mut self, products: JsValue) -> Result<usize, JsError> {
        self.products = from_js("products", products)?;
        Ok(self.products.len())
    }

    /// Ranks for a `Placement` the `Candidate`s given (or, when `null`/`undefined`, the products set by
    /// `setProducts`) under `Rules` (`undefined`: the defaults); returns the `Ranked` results.
    pub fn rank(
        &mut self,
        placement: JsValue,
        candidates: JsValue,
        rules: JsValue,
    ) -> Result<JsValue, JsError> {
        let placement: Placement = from_js("placement", placement)?;
        let rules: Rules = if given(&rules) {
            from_js("rules", rules)?
        } else {
            Rules::default()
        };
        let ranked = if given(&candidates) {
            let candidates: Vec<Candidate> = from_js("candidates", candidates)?;
            self.inner.rank(&placement, &candidates, &rules, now())
        } else {
            self.inner.rank(&placement, &self.products, &rules, now())
        };
        to_js(&ranked.js()?)
    }

    /// The texts `rank` (with these candidates, or the products when `null`, and search `queries`) or
    /// `pickCopy` (with these `copy` texts) would encode on the CPU, history included, as `[key, text]`
    /// pairs: a GPU encoder of the same model encodes them first and hands the vectors to `putVectors`.
    #[wasm_bindgen(js_name = pendingTexts)]
    pub fn pending_texts(
        &self,
        candidates: JsValue,
        queries: Vec<String>,
        copy: Vec<String>,
    ) -> Result<JsValue, JsError> {
        let candidates = self.candidates(candidates)?;
        to_js(&self.inner.pending_texts(&candidates, &queries, &copy))
    }

    /// Caches vectors from another backend: `keys` from `pendingTexts`, `vectors` one encoder-length
    /// vector per key, concatenated.
    #[wasm_bindgen(js_name = putVectors)]
    pub fn put_vectors(&mut self, keys: Vec<String>, vectors: &[f32]) -> Result<(), JsError> {
        self.inner.put_vectors(keys, vectors).js()
    }

    /// Picks copy for a slot among `CopyVariant`s under `CopyOptions` (`undefined`: the bandit at the encoder's fit weight and its other
    /// defaults); returns the `CopyPick`.
    #[wasm_bindgen(js_name = pickCopy)]
    pub fn pick_copy(&mut self, slot: &str, variants: JsValue, options: JsValue) -> Result<JsValue, JsError> {
        let variants: Vec<CopyVariant> = from_js("variants", variants)?;
        let options = if given(&options) {
            Some(from_js::<serde_json::Value>("options", options)?)
        } else {
            None
        };
        let options = self.inner.copy_options(options).js()?;
        let pick = self
            .inner
            .pick_copy(slot, &variants, options, now(), &mut self.rng)
            .js()?;
        to_js(&pick)
    }

    /// Counts an outcome of a shown variant: `kind` is `impression`, `click`, `add_to_cart` or `purchase`.
    /// Counted only when the slot runs a registered experiment and this is the variant the device measures.
    #[wasm_bindgen(js_name = recordOutcome)]
    pub fn record_outcome(
        &mut self,
        slot: &str,
        report_variant: &str,
        kind: &str,
        revenue: f64,
    ) -> Result<(), JsError> {
        let outcome = match kind {
            "impression" => Interaction::Impression,
            "click" => Interaction::Click,
            "add_to_cart" => Interaction::AddToCart,
            "purchase" => Interaction::Purchase { revenue },
            other => {
                return Err(js_error(Error::InvalidInput(format!(
                    "outcome `{other}` is not one of impression, click, add_to_cart, purchase"
                ))))
            }
        };
        self.inner.record(slot, report_variant, outcome, now()).js()
    }

    /// The session intent (unit length, zeros without history).
    pub fn intent(&mut self) -> Result<Vec<f32>, JsError> {
        self.inner.intent(now()).js()
    }

    /// The shopper's own events, a `HistorySnapshot`: `export()`, and what IndexedDB keeps.
    #[wasm_bindgen(js_name = exportHistory)]
    pub fn export_history(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.history().snapshot())
    }

    /// Restores a persisted `HistorySnapshot` (or the JSON string earlier builds stored); returns how
    /// many damaged records were skipped.
    #[wasm_bindgen(js_name = restoreHistory)]
    pub fn restore_history(&mut self, snapshot: JsValue) -> Result<usize, JsError> {
        let json = persisted_json("history", snapshot)?;
        self.inner.history_mut().restore(&json, now()).js()
    }

    /// Forgets the history, encoded vectors, pending counters, the local posterior and the A/B salt;
    /// returns the fresh salt for the page's store to keep.
    pub fn clear(&mut self) -> Vec<u8> {
        self.inner.clear();
        self.inner.salt().to_vec()
    }

    /// Sets consent (false also when the Global Privacy Control signal is on): off wipes the counters.
    #[wasm_bindgen(js_name = setConsent)]
    pub fn set_consent(&mut self, consent: bool) {
        self.inner.set_consent(consent);
    }

    /// The collector's `/v1/priors` response text.
    #[wasm_bindgen(js_name = setPriors)]
    pub fn set_priors(&mut self, priors: &str) -> Result<(), JsError> {
        self.inner.set_priors(priors).js()
    }

    /// Pending counters and the ε budget (a `ReportState`), to persist until the next visit.
    #[wasm_bindgen(js_name = reportState)]
    pub fn report_state(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.report_state())
    }

    /// Restores [`Self::report_state`] (or the JSON string earlier builds stored).
    #[wasm_bindgen(js_name = restoreReportState)]
    pub fn restore_report_state(&mut self, state: JsValue) -> Result<(), JsError> {
        let json = persisted_json("report state", state)?;
        self.inner.restore_report_state(&json).js()
    }

    /// The collector's `/v1/experiments` registry JSON text: only its experiments are counted.
    #[wasm_bindgen(js_name = setRegistry)]
    pub fn set_registry(&mut self, registry: &str) -> Result<(), JsError> {
        self.inner.set_registry(registry).js()
    }

    /// The device's stored ledger JSON text (`undefined` when none; damaged reads as spent).
    #[wasm_bindgen(js_name = setLedger)]
    pub fn set_ledger(&mut self, ledger: Option<String>) {
        self.inner.set_ledger(ledger.as_deref(), now());
    }

    /// Builds the reports the ledger allows: `ledger` is the stored record's JSON text as read inside the
    /// caller's readwrite transaction; returns `{reports, dap, ledger}`, the ledger text to write back in it.
    #[wasm_bindgen(js_name = buildReports)]
    pub fn build_reports(&mut self, ledger: Option<String>) -> Result<JsValue, JsError> {
        to_js(&self.inner.build_reports(ledger.as_deref(), now(), &mut self.rng))
    }

    /// Experiments measured through DAP: `[{experiment, variants, ready}]` JSON text from the DAP module.
    #[wasm_bindgen(js_name = setDapRoute)]
    pub fn set_dap_route(&mut self, route: &str) -> Result<(), JsError> {
        self.inner.set_dap_route(route).js()
    }

    /// What runs: encoder, intent model, vector counts, history size (`EngineDiagnostics`).
    pub fn diagnostics(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.diagnostics())
    }
}
