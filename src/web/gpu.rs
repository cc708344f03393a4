//! The encoder's WebGPU backend across the wasm boundary: `GpuBackend.create(engine, model, device)`
//! attaches a GPU to the engine's own encoder and calibrates it per workload ([`Encoder::calibrate`]),
//! `embed(texts)` encodes on the GPU. Both return promises: WebGPU is asynchronous.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::vitrine::WebVitrine;
use crate::backend::select::{Backend, Calibration, DevicePreference};
use crate::model::Encoder;

fn js_err(e: crate::Error) -> JsValue {
    super::js_error(e).into()
}

/// The engine's encoder with a GPU attached, and which backend won each workload.
#[wasm_bindgen(js_name = GpuBackend)]
pub struct WebGpuBackend {
    encoder: Rc<Encoder>,
    choice: Calibration,
}

#[wasm_bindgen(js_class = GpuBackend)]
impl WebGpuBackend {
    /// Attaches a WebGPU device to `engine`'s encoder (its weights go to the GPU from the encoder's own
    /// copy: `_model`, the bytes it was loaded from, is no longer read, nor copied into wasm memory) and,
    /// for `device` `auto`, times both backends on one query and on a batch of titles. Resolves to the
    /// backend; rejects with the reason when the GPU cannot serve (the engine then stays on the CPU).
    pub fn create(engine: &WebVitrine, _model: JsValue, device: &str) -> js_sys::Promise {
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
            encoder.device().start_gpu().await.map_err(js_err)?;
            let choice = encoder.calibrate(pref).await;
            Ok(WebGpuBackend { encoder, choice }.into())
        })
    }

    /// Encodes `texts` on the GPU: resolves to one `Float32Array` of `texts.length × dims` values,
    /// row after row; rejects on any GPU error (nothing is cached).
    pub fn embed(&self, texts: Vec<String>) -> js_sys::Promise {
        let encoder = Rc::clone(&self.encoder);
        future_to_promise(async move {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let vectors = encoder.embed_on(&refs, Backend::Webgpu).await.map_err(js_err)?;
            Ok(js_sys::Float32Array::from(vectors.concat().as_slice()).into())
        })
    }

    /// `{query, batch}`: each workload's `BackendChoice` (backend, reason, adapter, calibration).
    pub fn choice(&self) -> Result<JsValue, JsError> {
        super::to_js(&self.choice)
    }
}
