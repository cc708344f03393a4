//! Private aggregate reporting: counters per registered experiment, ε-local differential privacy at the
//! SDK's fixed ε, the device's ledger, and the report schema the collector accepts.
//!
//! # Mechanism (see `docs/privacy.md` for the threat model and the full argument)
//! Only experiments registered on the collector ([`Registry`], served at `GET /v1/experiments`) are
//! counted, and only their registered variants. A device keeps one pending cell per experiment: the
//! first variant it was shown and what happened after (seen, clicked, added to cart, purchased). It leaves
//! the device as one **report**, randomised over the experiment's [`CellLayout`]: the outcome for an A/B
//! test (whose arm, a hash of a random salt, travels in clear), the (variant, outcome) pair for a bandit
//! (whose pick depends on the history). The randomiser is GRR or OUE, whichever has the lower variance for
//! that domain at ε ([`Randomiser::for_domain`]); one report spends exactly [`REPORT_EPSILON`] = 2.
//!
//! The [`Ledger`] caps a device at [`DAILY_EPSILON`] = 4 per UTC day, [`MAX_EXPERIMENTS_PER_DAY`]
//! experiments per day and **one report per experiment in its lifetime** (so repeated reports of a stable
//! outcome cannot average the noise away). None of these can be set by the page or the registry.
//!
//! In clear: schema version, experiment id, hour, A/B arm, a random single-use report id. Never ε, a
//! segment, a user or device id, item ids, query text, or a finer timestamp.
//!
//! The builder is pure: the caller injects the clock and the RNG, so the browser, the CLI simulator and
//! the tests run the same code.

mod budget;
mod builder;
mod cells;
mod central;
#[cfg(feature = "dap")]
pub mod dap;
mod ldp;
mod outcome;
mod schema;

pub use budget::{
    eps_to_micros, Ledger, Refusal, DAILY_EPSILON, MAX_EXPERIMENTS_PER_DAY, MAX_REPORTED, REPORT_EPSILON,
};
pub use builder::{Built, Pending, Reporter, ReporterState, Tracked};
pub use cells::{CellLayout, Experiment, ExperimentMode, Registry, LDP_OUTCOMES, MAX_VARIANTS, MIN_K};
pub use central::{dap_cell, dap_cells, DapMeasurement, DapRoute, DapRouteTask};
pub use ldp::{grr_variance, olh_variance, oue_variance, Mechanism, Randomised, Randomiser};
pub use outcome::{
    CellCounters, Interaction, Outcome, CATEGORIES, MAX_CELLS, REVENUE_BUCKET_UPPER, REVENUE_BUCKET_VALUE,
    REVENUE_CLAMP, SEGMENTS,
};
pub use schema::{
    report_id, validate_id, Report, HOLDOUT_VARIANT, MAX_ID_LEN, REPORT_ID_HEX, SCHEMA_VERSION,
};
