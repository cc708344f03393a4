//! The Vitrine collector: an experiment registry, ingestion of ε-LDP reports into SQLite, release of
//! disjoint windows of at least k reports, de-biased statistics with a verdict, bandit priors and a
//! dashboard. The binary (`main.rs`) only parses flags and calls [`server::spawn`] or the registry.

pub mod admin;
pub mod dap;
pub mod error;
pub mod estimate;
pub mod power;
pub mod registry;
pub mod server;
pub mod stats;
pub mod store;
mod writer;

pub use error::CollectorError;
pub use server::{app, spawn, Config, Running};
