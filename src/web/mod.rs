//! The wasm boundary: the only `#[wasm_bindgen]` code. Each export converts JS values, calls plain Rust
//! and returns `Result<_, JsError>`, so nothing can panic into the page.

use wasm_bindgen::prelude::*;

use crate::engine::EngineInfo;

#[cfg(feature = "dap")]
mod dap;
mod encoder;
#[cfg(feature = "gpu")]
mod gpu;
mod vitrine;
#[cfg(feature = "dap")]
pub use dap::{WebDapReporter, WebDapUpload};
pub use encoder::WebEncoder;
#[cfg(feature = "gpu")]
pub use gpu::WebGpuBackend;
pub use vitrine::WebVitrine;

/// What the engine is: `{ version, simd128, arch }`.
#[wasm_bindgen(js_name = engineInfo)]
pub fn engine_info() -> Result<JsValue, JsError> {
    to_js(&EngineInfo::current())
}

/// Serialises a value into a plain JS object through JSON (small values only: info, diagnostics).
fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    let json = serde_json::to_string(value).map_err(|e| JsError::new(&e.to_string()))?;
    js_sys::JSON::parse(&json).map_err(|_| JsError::new("engine info is not valid JSON"))
}
