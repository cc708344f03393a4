//! The encoder's WebGPU backend across the wasm boundary: `GpuBackend.create(engine, model, device)`
//! attaches the GPU to the engine's own encoder (shared, so the model is loaded once), calibrates it per
//! workload, and `embed(texts)` encodes on the GPU. Both return promises: WebGPU is asynchronous.

use std::rc::Rc;
use std::sync::Arc;

use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::vitrine::WebVitrine;
use crate::backend::gpu::GpuContext;
use crate::backend::select::{Backend, BackendChoice, DevicePreference};
use crate::model::Encoder;

/// The calibration's single query: a typical search.
const QUERY: &str = "red ceramic mug with a hand painted bird";
/// The calibration's batch: typical catalog titles (from the Online Retail demo data).
const TITLES: [&str; 16] = [
    "WHITE HANGING HEART T-LIGHT HOLDER",
    "REGENCY CAKESTAND 3 TIER",
    "JUMBO BAG RED RETROSPOT",
    "PARTY BUNTING",
    "ASSORTED COLOUR BIRD ORNAMENT",
    "SET OF 3 CAKE TINS PANTRY DESIGN",
    "PACK OF 72 RETROSPOT CAKE CASES",
    "LUNCH BAG RED RETROSPOT",
    "NATURAL SLATE HEART CHALKBOARD",
    "HEART OF WICKER SMALL",
    "JAM MAKING SET WITH JARS",
    "PAPER CHAIN KIT 50'S CHRISTMAS",
    "SET OF 4 PANTRY JELLY MOULDS",
    "SPOTTY BUNTING",
    "RABBIT NIGHT LIGHT",
    "CHRISTMAS LIGHTS 10 REINDEER",
];
/// Texts per GPU call: bounds the padding of one batch and the buffers it needs.
const CHUNK: usize = 64;

fn js_err(e: crate::Error) -> JsValue {
    super::js_error(e).into()
}

/// The engine's encoder with a GPU attached, and which backend won each workload.
#[wasm_bindgen(js_name = GpuBackend)]
pub struct WebGpuBackend {
    encoder: Rc<Encoder>,
    query: BackendChoice,
    batch: BackendChoice,
}

#[derive(Serialize)]
struct Choices<'a> {
    query: &'a BackendChoice,
    batch: &'a BackendChoice,
}

#[wasm_bindgen(js_class = GpuBackend)]
impl WebGpuBackend {
    /// Attaches a WebGPU device to `engine`'s encoder (`model`: the bytes it was loaded from) and,
    /// for `device` `auto`, times both backends on one query and on a batch of titles. Resolves to the
    /// backend; rejects with the reason when the GPU cannot serve (the engine then stays on the CPU).
    pub fn create(engine: &WebVitrine, model: Vec<u8>, device: &str) -> js_sys::Promise {
        let setup = device
            .parse::<DevicePreference>()
            .map_err(js_err)
            .and_then(|pref| {
                let encoder = engine.encoder().ok_or_else(|| {
                    js_err(crate::Error::InvalidInput(
                        "GpuBackend.create: load the encoder into the engine first".into(),
                    ))
                })?;
                Ok((pref, encoder))
            });
        future_to_promise(async move {
            let (pref, encoder) = setup?;
            let ctx = GpuContext::new().await.map_err(js_err)?;
            // The Arc is the native API's (threads share a context there); the browser has one thread,
            // so the context not being Send + Sync on wasm is harmless.
            #[allow(clippy::arc_with_non_send_sync)]
            let ctx = Arc::new(ctx);
            encoder.attach_gpu(ctx, &model).await.map_err(js_err)?;
            let mut query = encoder.select_backend(pref, &[QUERY]).await;
            let mut batch = encoder.select_backend(pref, &TITLES).await;
            if query.backend == Backend::Cpu && batch.backend == Backend::Cpu {
                // Nothing will run on the GPU: its copy of the weights (≈ 25 MB) is released.
                encoder.detach_gpu("the CPU was faster for every workload");
                for c in [&mut query, &mut batch] {
                    c.reason.push_str("; GPU released");
                }
            }
            Ok(WebGpuBackend {
                encoder,
                query,
                batch,
            }
            .into())
        })
    }

    /// Encodes `texts` on the GPU: resolves to one `Float32Array` of `texts.length × dims` values,
    /// row after row; rejects on any GPU error (nothing is cached).
    pub fn embed(&self, texts: Vec<String>) -> js_sys::Promise {
        let encoder = Rc::clone(&self.encoder);
        future_to_promise(async move {
            let mut flat = Vec::with_capacity(texts.len() * encoder.dims());
            for chunk in texts.chunks(CHUNK) {
                let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                for v in encoder.embed_on(&refs, Backend::Webgpu).await.map_err(js_err)? {
                    flat.extend(v);
                }
            }
            Ok(js_sys::Float32Array::from(flat.as_slice()).into())
        })
    }

    /// `{query, batch}`: each workload's `BackendChoice` (backend, reason, adapter, calibration).
    pub fn choice(&self) -> Result<JsValue, JsError> {
        super::to_js(&Choices {
            query: &self.query,
            batch: &self.batch,
        })
    }
}
