//! The shopper's history on this device: typed events and a bounded store (count and age limits).

pub mod event;
pub mod store;

pub use event::{Event, EventKind};
pub use store::{History, Snapshot, StoreConfig};
