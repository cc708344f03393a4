//! Models the SDK runs on the device: the quantized BERT text encoder (GGUF), the session model over
//! the shopper's events, and their building blocks.
//!
//! Plain Rust on candle's CPU tensors, loaded from bytes: it compiles natively and for
//! `wasm32-unknown-unknown`, so the CLI and tests run exactly what the browser runs.

pub mod bert;
pub mod encoder;
pub mod gguf;
pub mod lexical;
pub mod scores;
pub mod session;
pub mod session_config;
pub mod session_file;
pub mod zero_shot;

pub use encoder::{Encoder, Role};
pub use scores::Scores;
pub use session::{zero_shot_intent, SessionModel, SessionStep};
