//! Vitrine: on-device personalization for storefronts — the SDK core, shared by the browser (wasm) and
//! native tools.
//!
//! Where things live:
//! - [`engine`]: what this build of the engine is and can do (version, SIMD, backends).
//! - [`model`]: the quantized text encoder ([`Encoder`]) loaded from one GGUF file.
//! - [`history`]: the shopper's events (view, click, add_to_cart, purchase, search), bounded.
//! - [`catalog`]: precomputed catalog vectors ([`Catalog`]), a compact binary file loaded from bytes.
//! - [`copy`]: promo copy selection (Thompson-sampling bandit blended with fit, sticky A/B with holdout).
//! - [`report`]: on-device counters made ε-locally-differentially-private, and the report schema.
//! - `web/`: the only `#[wasm_bindgen]` code; it converts JS values and delegates to plain Rust.
//! - [`typescript`]: the package's TypeScript types, generated from the Rust types `web/` converts.
//!
//! Everything here is plain Rust that compiles natively and for `wasm32-unknown-unknown`, so the CLI and
//! the tests exercise exactly the code the browser runs.

pub mod backend;
pub mod catalog;
pub mod copy;
pub mod engine;
pub mod error;
pub mod history;
pub mod model;
pub mod rank;
pub mod report;
pub mod sdk;
#[cfg(not(target_arch = "wasm32"))]
pub mod typescript;

pub use catalog::Catalog;
pub use error::{Error, Result};
pub use model::{Encoder, SessionModel, SessionStep};
pub use sdk::Vitrine;

#[cfg(all(target_arch = "wasm32", feature = "bindings"))]
pub mod web;
