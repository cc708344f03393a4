//! The wasm boundary: the only `#[wasm_bindgen]` code. Each export converts JS values, calls plain Rust
//! and returns `Result<_, JsError>`, so nothing can panic into the page. Structured values cross as plain
//! JS objects converted by serde (serde-wasm-bindgen), in the shapes `pkg-template/types.d.ts` declares
//! (generated from the same Rust types); every error carries the stable `code` of its
//! [`crate::error::ErrorCode`].

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::engine::EngineInfo;
use crate::error::Error;

mod encoder;
#[cfg(feature = "gpu")]
mod gpu;
mod vitrine;
pub use encoder::WebEncoder;
#[cfg(feature = "gpu")]
pub use gpu::WebGpuBackend;
pub use vitrine::WebVitrine;

/// What the engine is: `{ version, simd128, arch }`.
#[wasm_bindgen(js_name = engineInfo)]
pub fn engine_info() -> Result<JsValue, JsError> {
    to_js(&EngineInfo::current())
}

/// A JS `Error` with the message of `e` and its stable `code` (`err.code === 'invalid_input'`).
pub(crate) fn js_error(e: Error) -> JsError {
    let err = JsError::new(&e.to_string());
    // A clone is a second handle on the same JS object: setting `code` through it sets it on `err`.
    let object = JsValue::from(err.clone());
    // Setting a property on a fresh Error object cannot fail; if it ever did, the message still says why.
    let _ = js_sys::Reflect::set(&object, &"code".into(), &e.code().as_str().into());
    err
}

/// Converts the crate's errors at the boundary. `?` on a [`crate::Error`] would compile too (wasm-bindgen
/// converts any error into a `JsError`) but would drop the `code`: exports use `.js()` instead.
pub(crate) trait OrJs<T> {
    fn js(self) -> Result<T, JsError>;
}

impl<T> OrJs<T> for crate::Result<T> {
    fn js(self) -> Result<T, JsError> {
        self.map_err(js_error)
    }
}

/// A page value (`what` names it in the error) as a Rust type; a value of the wrong shape is an
/// `invalid_input` error naming the field.
///
/// Through a `serde_json::Value`: serde-wasm-bindgen reads a struct by looking up its declared fields
/// only, so an unknown key (`{limt: 3}`) would pass silently where `deny_unknown_fields` must refuse it.
/// The tree also gives NaN and ±∞ the meaning they had as JSON (`null`), so a NaN price is no price.
pub(crate) fn from_js<T: DeserializeOwned>(what: &str, value: JsValue) -> Result<T, JsError> {
    let invalid = |e: &dyn std::fmt::Display| js_error(Error::InvalidInput(format!("{what}: {e}")));
    let tree: serde_json::Value = serde_wasm_bindgen::from_value(value).map_err(|e| invalid(&e))?;
    serde_json::from_value(tree).map_err(|e| invalid(&e))
}

/// A Rust value as a plain JS object (maps as objects, `None` as `null`, integers as numbers).
pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| {
            js_error(Error::InvalidInput(format!(
                "a result could not be converted for JavaScript: {e}"
            )))
        })
}

/// `null` and `undefined` mean "not given".
pub(crate) fn given(value: &JsValue) -> bool {
    !(value.is_null() || value.is_undefined())
}
