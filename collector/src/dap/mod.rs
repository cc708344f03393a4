//! DAP mode (issue 16): provisioning one Janus task per experiment, collecting each experiment's closed
//! windows from the leader, and rates from the aggregated cells (exact counts plus the aggregators'
//! central noise) for the same statistics, priors and dashboard as the local-DP path.
//!
//! - [`provision`]: ids, keys and tokens for a task list, written as Janus's task files, the public
//!   `dap-config.json` the SDK reads and the secret `collector-credentials.json` this collector reads.
//! - [`collect`]: the DAP-09 collection of one interval (PUT a collection job, poll it, open the two
//!   aggregate shares, unshard).
//! - [`schedule`]: which disjoint, closed, `time_precision`-aligned intervals to collect next, and the
//!   table that remembers each (an interval can be collected once).
//! - [`rates`]: per-variant rates and intervals from one window's cells.
//! - [`run`]: the collector's loop over [`schedule`], reloading a rewritten credentials file.

pub mod collect;
pub mod provision;
pub mod rates;
pub mod run;
pub mod schedule;

use serde::{Deserialize, Serialize};
use vitrine::report::dap::{DapConfig, DapTask};

use crate::error::CollectorError;

/// What `vitrine-collector --dap-config FILE` reads. Secret: it holds the collector's HPKE private keys
/// and the tokens that authorise collections; `dap provision` writes it readable by its owner only.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The public configuration (the same as `dap-config.json`).
    pub config: DapConfig,
    /// One per task, same order.
    pub secrets: Vec<TaskSecret>,
}

/// The collector's secrets for one task.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSecret {
    /// The experiment (and so the task) these belong to.
    pub experiment: String,
    /// Sent as `Authorization: Bearer …` to the leader's collection endpoints.
    pub collector_auth_token: String,
    /// The collector's HPKE config id (the aggregate shares are sealed to it).
    pub hpke_config_id: u8,
    /// X25519 public key, base64url.
    pub hpke_public_key: String,
    /// X25519 private key, base64url.
    pub hpke_private_key: String,
}

impl Credentials {
    /// Reads and checks a credentials file.
    pub fn from_json(text: &str) -> Result<Self, CollectorError> {
        let c: Self = serde_json::from_str(text)
            .map_err(|e| CollectorError::Dap(format!("the credentials file: {e}")))?;
        // Re-checks every task through the core's own validation.
        let config = DapConfig::from_json(&serde_json::to_string(&c.config).unwrap_or_default())
            .map_err(|e| CollectorError::Dap(format!("the credentials file: {e}")))?;
        for t in &config.tasks {
            if !c.secrets.iter().any(|s| s.experiment == t.experiment) {
                return Err(CollectorError::Dap(format!(
                    "the credentials file has no secrets for the task of {:?}",
                    t.experiment
                )));
            }
        }
        Ok(c)
    }

    /// The task and secrets of `experiment`, if it has a DAP task.
    pub fn task(&self, experiment: &str) -> Option<(&DapTask, &TaskSecret)> {
        let t = self.config.tasks.iter().find(|t| t.experiment == experiment)?;
        let s = self.secrets.iter().find(|s| s.experiment == experiment)?;
        Some((t, s))
    }
}

/// Unpadded base64url, as DAP and Janus write ids and keys.
pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The inverse of [`b64`].
pub(crate) fn unb64(text: &str, what: &str) -> Result<Vec<u8>, CollectorError> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| CollectorError::Dap(format!("{what} is not unpadded base64url: {e}")))
}
