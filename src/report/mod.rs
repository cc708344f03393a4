//! Private aggregate reporting: on-device counters, ε-local differential privacy, a daily ε budget, and
//! the report schema the collector accepts.
//!
//! # Mechanism (see `docs/privacy.md` for the full argument)
//! The device keeps counters per cell (placement or experiment, variant, segment < 8): impressions,
//! clicks, add-to-carts, purchases and clamped revenue. A cell leaves the device only as one **entry**:
//! its funnel outcome — the deepest stage reached, with purchases split by a clamped revenue bucket, a
//! value among [`CATEGORIES`] = 7 — one-hot encoded and then randomised with **optimized unary encoding**
//! (OUE, Wang et al., USENIX Security 2017): the true bit is kept at 1 with probability `p = 1/2`, every
//! other bit is set to 1 with probability `q = 1/(e^ε + 1)`. Any two outcomes differ in two bits, so the
//! likelihood ratio of any output is at most `p(1-q) / ((1-p)q) = e^ε`: **one entry spends exactly ε**
//! (default [`DEFAULT_ENTRY_EPSILON`] = 1.0), and a report of `m` entries spends `m·ε` by sequential
//! composition. The [`Budget`] is kept in integer micro-ε, so the accounting can never exceed the daily
//! budget (default [`DEFAULT_DAILY_EPSILON`] = 3.0): once spent, no entry is built until the next UTC day.
//!
//! What a report carries in clear, and why: the experiment id, the variant and the segment (the group key
//! the collector aggregates by), ε, and the hour bucket it was built in. Never a user or device id, item
//! ids, query text, or a finer timestamp; the device salt of the A/B split never leaves the device.
//!
//! The builder is pure: the caller injects the clock (`now_unix_secs`) and the RNG, so the browser, the
//! CLI simulator and the tests run the same code. Consent and Global Privacy Control are the caller's to
//! check: [`Reporter::set_consent`]`(false)` wipes the counters and stops all reporting.

mod budget;
mod builder;
mod ldp;
mod outcome;
mod schema;

pub use budget::{eps_to_micros, Budget, DEFAULT_DAILY_EPSILON};
pub use builder::{ReportConfig, Reporter, ReporterState, DEFAULT_ENTRY_EPSILON};
pub use ldp::{Oue, MAX_EPSILON, MIN_EPSILON};
pub use outcome::{
    CellCounters, CellKey, Counters, Interaction, Outcome, CATEGORIES, MAX_CELLS, REVENUE_BUCKET_UPPER,
    REVENUE_BUCKET_VALUE, REVENUE_CLAMP, SEGMENTS,
};
pub use schema::{
    validate_id, Batch, Entry, Report, HOLDOUT_VARIANT, MAX_ENTRIES_PER_REPORT, MAX_ID_LEN,
    MAX_REPORTS_PER_BATCH, SCHEMA_VERSION,
};
