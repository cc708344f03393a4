//! The Vitrine collector: ingests ε-LDP reports into SQLite, de-biases them, and serves statistics,
//! bandit priors and a dashboard. The binary (`main.rs`) only parses flags and calls [`server::spawn`].

pub mod error;
pub mod estimate;
pub mod server;
pub mod stats;
pub mod store;

pub use error::CollectorError;
pub use server::{app, spawn, Config, Running};
