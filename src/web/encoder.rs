//! The text encoder across the wasm boundary: `Encoder.fromBytes(bytes)`, `embed(texts)`, `dims`.

use wasm_bindgen::prelude::*;

use super::OrJs;
use crate::model::Encoder;

/// A loaded sentence encoder. Vectors are unit length, row-major in one `Float32Array`.
#[wasm_bindgen(js_name = Encoder)]
pub struct WebEncoder {
    inner: Encoder,
}

#[wasm_bindgen(js_class = Encoder)]
impl WebEncoder {
    /// Loads a model made by `vitrine convert` from its bytes; throws a clear error on truncated,
    /// foreign or corrupted bytes.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<WebEncoder, JsError> {
        Ok(Self {
            inner: Encoder::from_gguf_bytes(bytes).js()?,
        })
    }

    /// The plain encoder, for the engine to own.
    pub(crate) fn into_inner(self) -> Encoder {
        self.inner
    }

    /// Length of each vector.
    #[wasm_bindgen(getter)]
    pub fn dims(&self) -> usize {
        self.inner.dims()
    }

    /// SHA-256 of the weights: vectors compare only between encoders that share it.
    #[wasm_bindgen(getter)]
    pub fn checksum(&self) -> String {
        self.inner.checksum().to_string()
    }

    /// Embeds the texts as one batch: `texts.length × dims` floats, row after row, in order.
    pub fn embed(&self, texts: Vec<String>) -> Result<Vec<f32>, JsError> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = self.inner.embed(&refs).js()?;
        Ok(vectors.concat())
    }
}
