//! The shopper's history on this device: typed events and a bounded store (count and age limits).

pub mod event;

pub use event::{Event, EventKind};
