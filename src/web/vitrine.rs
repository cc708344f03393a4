//! The SDK object across the wasm boundary. Structured values cross as JSON strings (the JS wrapper
//! parses them): one conversion path, and serde's errors name the offending field.

use rand::rngs::StdRng;
use rand::SeedableRng;
use wasm_bindgen::prelude::*;

use super::WebEncoder;
use crate::catalog::Catalog;
use crate::copy::Segments;
use crate::history::Event;
use crate::model::SessionModel;
use crate::rank::{Candidate, Placement, Rules};
use crate::report::Interaction;
use crate::sdk::{Config, CopyOptions, CopyVariant};
use crate::Vitrine;

fn parse<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T, JsError> {
    serde_json::from_str(json).map_err(|e| JsError::new(&format!("{what}: {e}")))
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, JsError> {
    serde_json::to_string(value).map_err(|e| JsError::new(&e.to_string()))
}

fn now() -> f64 {
    js_sys::Date::now()
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
}

#[wasm_bindgen(js_class = Engine)]
impl WebVitrine {
    /// `config`: JSON of `{history: {maxEvents, maxAgeDays}, dailyEpsilon, entryEpsilon}`;
    /// `salt`: the device's A/B salt (16+ random bytes kept by the page, never sent).
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str, salt: &[u8]) -> Result<WebVitrine, JsError> {
        let config: Config = parse("config", config)?;
        Ok(Self {
            inner: Vitrine::new(config, salt)?,
            rng: StdRng::from_os_rng(),
            products: Vec::new(),
        })
    }

    /// Loads the text encoder from its GGUF bytes (verified).
    #[wasm_bindgen(js_name = loadEncoder)]
    pub fn load_encoder(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        let enc = WebEncoder::from_bytes(bytes)?;
        self.inner.set_encoder(enc.into_inner())?;
        Ok(())
    }

    /// Adds precomputed catalog vectors; returns how many the engine has.
    #[wasm_bindgen(js_name = loadCatalog)]
    pub fn load_catalog(&mut self, bytes: &[u8]) -> Result<usize, JsError> {
        Ok(self.inner.load_catalog(&Catalog::from_bytes(bytes)?)?)
    }

    /// Loads a trained session model (GGUF from `vitrine train`, verified) for forYou.
    #[wasm_bindgen(js_name = loadSessionModel)]
    pub fn load_session_model(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        Ok(self
            .inner
            .set_session_model(SessionModel::from_gguf_bytes(bytes)?)?)
    }

    /// Loads segment centroids (the JSON `vitrine segments` writes).
    #[wasm_bindgen(js_name = loadSegments)]
    pub fn load_segments(&mut self, json: &str) -> Result<(), JsError> {
        Ok(self.inner.set_segments(Segments::from_json(json)?)?)
    }

    /// Records an event (JSON); throws on a malformed one, which is not stored.
    pub fn track(&mut self, event: &str) -> Result<(), JsError> {
        let event: Event = parse("event", event)?;
        Ok(self.inner.track(event, now())?)
    }

    /// Sets the page's products (JSON array of `{id, title?, category?, price?}`); returns how many.
    #[wasm_bindgen(js_name = setProducts)]
    pub fn set_products(&mut self, products: &str) -> Result<usize, JsError> {
        self.products = parse("products", products)?;
        Ok(self.products.len())
    }

    /// Ranks: `placement` JSON `{placement: "forYou" | "similarTo" | …}`, candidates JSON array (or
    /// `undefined` for the products set by `setProducts`), rules JSON; returns the results as JSON.
    pub fn rank(
        &mut self,
        placement: &str,
        candidates: Option<String>,
        rules: &str,
    ) -> Result<String, JsError> {
        let placement: Placement = parse("placement", placement)?;
        let rules: Rules = parse("rules", rules)?;
        let ranked = match candidates {
            Some(c) => {
                let candidates: Vec<Candidate> = parse("candidates", &c)?;
                self.inner.rank(&placement, &candidates, &rules, now())?
            }
            None => self.inner.rank(&placement, &self.products, &rules, now())?,
        };
        json(&ranked)
    }

    /// The texts `rank` (with these candidates and search `queries`) or `pickCopy` (with these `copy`
    /// texts) would encode on the CPU, history included, as JSON `[[key, text], …]`: a GPU encoder of the
    /// same model encodes them first and hands the vectors to `putVectors`. `candidates`: JSON array, or
    /// `undefined` for the products set by `setProducts`; `queries`, `copy`: JSON arrays of strings.
    #[wasm_bindgen(js_name = pendingTexts)]
    pub fn pending_texts(
        &self,
        candidates: Option<String>,
        queries: &str,
        copy: &str,
    ) -> Result<String, JsError> {
        let queries: Vec<String> = parse("queries", queries)?;
        let copy: Vec<String> = parse("copy", copy)?;
        let pending = match candidates {
            Some(c) => {
                let candidates: Vec<Candidate> = parse("candidates", &c)?;
                self.inner.pending_texts(&candidates, &queries, &copy)
            }
            None => self.inner.pending_texts(&self.products, &queries, &copy),
        };
        json(&pending)
    }

    /// Caches vectors from another backend: `keys` JSON array (from `pendingTexts`), `vectors` one
    /// encoder-length vector per key, concatenated.
    #[wasm_bindgen(js_name = putVectors)]
    pub fn put_vectors(&mut self, keys: &str, vectors: &[f32]) -> Result<(), JsError> {
        let keys: Vec<String> = parse("keys", keys)?;
        Ok(self.inner.put_vectors(keys, vectors)?)
    }

    /// Picks copy for a slot; `variants` JSON `[{id, text}]`, `options` JSON; returns the pick as JSON.
    #[wasm_bindgen(js_name = pickCopy)]
    pub fn pick_copy(&mut self, slot: &str, variants: &str, options: &str) -> Result<String, JsError> {
        let variants: Vec<CopyVariant> = parse("variants", variants)?;
        let options: CopyOptions = parse("options", options)?;
        json(
            &self
                .inner
                .pick_copy(slot, &variants, options, now(), &mut self.rng)?,
        )
    }

    /// Counts an outcome of a shown variant: `kind` is `click`, `add_to_cart` or `purchase`.
    #[wasm_bindgen(js_name = recordOutcome)]
    pub fn record_outcome(
        &mut self,
        slot: &str,
        report_variant: &str,
        segment: u8,
        kind: &str,
        revenue: f64,
    ) -> Result<(), JsError> {
        let outcome = match kind {
            "impression" => Interaction::Impression,
            "click" => Interaction::Click,
            "add_to_cart" => Interaction::AddToCart,
            "purchase" => Interaction::Purchase { revenue },
            other => {
                return Err(JsError::new(&format!(
                    "outcome `{other}` is not one of impression, click, add_to_cart, purchase"
                )))
            }
        };
        Ok(self.inner.record(slot, report_variant, segment, outcome)?)
    }

    /// The session intent (unit length, zeros without history).
    pub fn intent(&mut self) -> Result<Vec<f32>, JsError> {
        Ok(self.inner.intent(now())?)
    }

    /// The shopper's own events as JSON `{version, events}`: `export()`, and what IndexedDB keeps.
    #[wasm_bindgen(js_name = exportHistory)]
    pub fn export_history(&self) -> Result<String, JsError> {
        json(&self.inner.history().snapshot())
    }

    /// Restores a persisted history; returns how many damaged records were skipped.
    #[wasm_bindgen(js_name = restoreHistory)]
    pub fn restore_history(&mut self, snapshot: &str) -> Result<usize, JsError> {
        Ok(self.inner.history_mut().restore(snapshot, now())?)
    }

    /// Forgets the history, encoded vectors and pending report counters.
    pub fn clear(&mut self) {
        self.inner.clear();
    }

    /// Sets consent (false also when the Global Privacy Control signal is on): off wipes the counters.
    #[wasm_bindgen(js_name = setConsent)]
    pub fn set_consent(&mut self, consent: bool) {
        self.inner.set_consent(consent);
    }

    /// The collector's `/v1/priors` JSON.
    #[wasm_bindgen(js_name = setPriors)]
    pub fn set_priors(&mut self, priors: &str) -> Result<(), JsError> {
        Ok(self.inner.set_priors(priors)?)
    }

    /// Pending counters and the ε budget, as JSON to persist until the next visit.
    #[wasm_bindgen(js_name = reportState)]
    pub fn report_state(&self) -> Result<String, JsError> {
        json(&self.inner.report_state())
    }

    /// Restores [`Self::report_state`].
    #[wasm_bindgen(js_name = restoreReportState)]
    pub fn restore_report_state(&mut self, state: &str) -> Result<(), JsError> {
        Ok(self.inner.restore_report_state(state)?)
    }

    /// Builds one randomised report (JSON) from the pending counters; `undefined` when there is nothing
    /// to send, no consent, or no ε left today.
    #[wasm_bindgen(js_name = buildReport)]
    pub fn build_report(&mut self) -> Result<Option<String>, JsError> {
        self.inner
            .build_report(now(), &mut self.rng)
            .map(|r| json(&r))
            .transpose()
    }

    /// What runs: encoder, intent model, vector counts, history size (JSON).
    pub fn diagnostics(&self) -> Result<String, JsError> {
        json(&self.inner.diagnostics())
    }
}
