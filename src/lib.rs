//! Vitrine: on-device personalization for storefronts — the SDK core, shared by the browser (wasm) and
//! native tools.
//!
//! Where things live:
//! - [`engine`]: what this build of the engine is and can do (version, SIMD, backends).
//! - `web/`: the only `#[wasm_bindgen]` code; it converts JS values and delegates to plain Rust.
//!
//! Everything here is plain Rust that compiles natively and for `wasm32-unknown-unknown`, so the CLI and
//! the tests exercise exactly the code the browser runs.

pub mod engine;
pub mod error;

pub use error::{Error, Result};

#[cfg(target_arch = "wasm32")]
pub mod web;
