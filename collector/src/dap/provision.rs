//! `vitrine-collector dap provision`: fresh ids, keys and tokens for each experiment's DAP task, written
//! as the two aggregators' task files (`janus_cli provision-tasks`), the SDK's public `dap-config.json`
//! and this collector's secret `collector-credentials.json`. Nothing here comes from a page.

use std::fmt::Write as _;
use std::path::Path;

use hpke::kem::X25519HkdfSha256;
use hpke::{Kem as _, Serializable};
use rand::Rng;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use vitrine::report::dap::{DapConfig, DapTask, VdafSpec};
use vitrine::report::dap_cells;

use super::{b64, Credentials, TaskSecret};
use crate::error::CollectorError;

/// Janus rejects reports whose time is further ahead than this (seconds).
const TOLERABLE_CLOCK_SKEW: u64 = 60;
/// Tasks expire after a year; provision again to extend.
const TASK_LIFETIME: u64 = 365 * 86_400;
/// ε is written to Janus as a fraction with this denominator.
const EPSILON_DENOMINATOR: u64 = 1000;

/// A registered experiment provisioned from a registry document gets these: the histogram (the smaller
/// noise for the same ε), hourly report times, batches of at least 100, ε = 1 per aggregator.
const REGISTRY_TIME_PRECISION: u64 = 3600;
const REGISTRY_MIN_BATCH: u64 = 100;
const REGISTRY_EPSILON: f64 = 1.0;

/// The task list `scripts/dap.sh start` passes (see `scripts/dap-tasks.json`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskList {
    tasks: Vec<TaskSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskSpec {
    /// The registered experiment.
    id: String,
    variants: Vec<String>,
    /// `histogram` or `sumvec`.
    vdaf: String,
    /// `sumvec`: bits per cell (default 1).
    #[serde(default)]
    bits: Option<usize>,
    time_precision: u64,
    min_batch_size: u64,
    #[serde(default)]
    noise_epsilon: Option<f64>,
    /// Segments as an axis of the cells (opt-in, ≤ 8, refused when a report would pass 4 KB).
    #[serde(default)]
    segments: u8,
}

/// Everything one provisioning run produces.
pub struct Provisioned {
    /// Tasks new in this run (the others came from the credentials it extended).
    pub added: usize,
    /// Public: the SDK and `vitrine simulate --dap-config` read it.
    pub config: DapConfig,
    /// Secret: `vitrine-collector --dap-config` reads it.
    pub credentials: Credentials,
    /// `janus_cli provision-tasks` input of the leader.
    pub leader_yaml: String,
    /// … and of the helper.
    pub helper_yaml: String,
}

struct Keypair {
    id: u8,
    public: String,
    private: String,
}

fn keypair() -> Keypair {
    let (sk, pk) = X25519HkdfSha256::gen_keypair(&mut rand::rng());
    Keypair {
        id: rand::rng().random(),
        public: b64(&pk.to_bytes()),
        private: b64(&sk.to_bytes()),
    }
}

fn token() -> String {
    b64(&rand::rng().random::<[u8; 16]>())
}

fn token_hash(token: &str) -> String {
    b64(&Sha256::digest(token.as_bytes()))
}

/// ε as Janus's `Ratio<BigUint>`: `[[numerator digits], [denominator digits]]`.
fn epsilon_yaml(eps: f64) -> String {
    let num = (eps * EPSILON_DENOMINATOR as f64).round() as u64;
    format!("[[{num}], [{EPSILON_DENOMINATOR}]]")
}

/// The ε Janus will use (after the rounding [`epsilon_yaml`] does).
pub fn effective_epsilon(eps: f64) -> f64 {
    (eps * EPSILON_DENOMINATOR as f64).round() / EPSILON_DENOMINATOR as f64
}

fn vdaf_yaml(spec: &VdafSpec, eps: Option<f64>) -> String {
    let mut s = match *spec {
        VdafSpec::Histogram { length, chunk_length } => {
            format!("!Prio3Histogram\n    length: {length}\n    chunk_length: {chunk_length}\n")
        }
        VdafSpec::SumVec {
            bits,
            length,
            chunk_length,
        } => format!(
            "!Prio3SumVec\n    bits: {bits}\n    length: {length}\n    chunk_length: {chunk_length}\n"
        ),
    };
    if let Some(e) = eps {
        let _ = write!(
            s,
            "    dp_strategy:\n      dp_strategy: PureDpDiscreteLaplace\n      budget:\n        epsilon: {}\n",
            epsilon_yaml(e)
        );
    }
    s
}

fn hpke_yaml(indent: &str, k: &Keypair) -> String {
    format!(
        "{indent}id: {}\n{indent}kem_id: X25519HkdfSha256\n{indent}kdf_id: HkdfSha256\n{indent}aead_id: Aes128Gcm\n{indent}public_key: \"{}\"\n",
        k.id, k.public
    )
}

/// The task list, or one task per experiment not ended of a registry document (`GET /v1/experiments`).
fn task_specs(json: &str) -> Result<Vec<TaskSpec>, CollectorError> {
    let bad = |e: &dyn std::fmt::Display| {
        CollectorError::Dap(format!(
            "not a task list ({{\"tasks\": […]}}) nor a registry ({{\"experiments\": […]}}): {e}"
        ))
    };
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(&e))?;
    if value.get("experiments").is_some() {
        let reg: vitrine::report::Registry = serde_json::from_value(value).map_err(|e| bad(&e))?;
        let running = reg.experiments.into_iter().filter(|e| e.end.is_none());
        return Ok(running
            .map(|e| TaskSpec {
                id: e.id,
                variants: e.variants,
                vdaf: "histogram".into(),
                bits: None,
                time_precision: REGISTRY_TIME_PRECISION,
                min_batch_size: REGISTRY_MIN_BATCH,
                noise_epsilon: Some(REGISTRY_EPSILON),
                segments: 0,
            })
            .collect());
    }
    let list: TaskList = serde_json::from_value(value).map_err(|e| bad(&e))?;
    Ok(list.tasks)
}

/// Builds everything for `tasks_json` (a task list or a registry) with aggregators at `leader` and
/// `helper` (base URLs), at `now`. With `existing` credentials, their tasks are kept as they are (ids and
/// keys unchanged, so nothing already reported is lost) and only experiments without a task are added:
/// the YAML files then hold only the new tasks, for `janus_cli provision-tasks`.
pub fn provision(
    tasks_json: &str,
    leader: &str,
    helper: &str,
    existing: Option<&Credentials>,
    now: u64,
) -> Result<Provisioned, CollectorError> {
    let specs = task_specs(tasks_json)?;
    let base = |u: &str| format!("{}/", u.trim_end_matches('/'));
    let (leader, helper) = (base(leader), base(helper));
    let mut rng = rand::rng();
    let mut config = DapConfig {
        leader: leader.clone(),
        helper: helper.clone(),
        tasks: Vec::new(),
    };
    let mut secrets = Vec::new();
    if let Some(c) = existing {
        if (c.config.leader.as_str(), c.config.helper.as_str()) != (leader.as_str(), helper.as_str()) {
            return Err(CollectorError::Dap(format!(
                "the existing tasks are for {} and {}, not {leader} and {helper}",
                c.config.leader, c.config.helper
            )));
        }
        config.tasks = c.config.tasks.clone();
        secrets = c.secrets.clone();
    }
    let kept = config.tasks.len();
    let (mut leader_yaml, mut helper_yaml) = (String::new(), String::new());
    for spec in specs {
        if existing.is_some_and(|c| c.task(&spec.id).is_some()) {
            continue;
        }
        let length = dap_cells(spec.variants.len(), spec.segments);
        let vdaf = match spec.vdaf.as_str() {
            "histogram" => VdafSpec::histogram(length),
            "sumvec" => VdafSpec::sum_vec(spec.bits.unwrap_or(1), length),
            other => {
                return Err(CollectorError::Dap(format!(
                    "task {:?}: vdaf {other:?} is not `histogram` or `sumvec`",
                    spec.id
                )))
            }
        };
        let task_id = b64(&rng.random::<[u8; 32]>());
        let task = DapTask {
            experiment: spec.id.clone(),
            task_id: task_id.clone(),
            variants: spec.variants,
            vdaf,
            time_precision: spec.time_precision,
            min_batch_size: spec.min_batch_size,
            noise_epsilon: spec.noise_epsilon.map(effective_epsilon),
            segments: spec.segments,
        };
        task.check().map_err(|e| CollectorError::Dap(e.to_string()))?;
        if config.tasks.iter().any(|t| t.experiment == task.experiment) {
            return Err(CollectorError::Dap(format!(
                "two tasks for experiment {:?}",
                task.experiment
            )));
        }
        let (collector, leader_keys, helper_keys) = (keypair(), keypair(), keypair());
        let (aggregator_token, collector_token) = (token(), token());
        let verify_key = b64(&rng.random::<[u8; 16]>());
        let common = |role: &str, peer: &str| {
            format!(
                "- task_id: \"{task_id}\"\n  peer_aggregator_endpoint: \"{peer}\"\n  query_type: TimeInterval\n  vdaf: {}  role: {role}\n  vdaf_verify_key: \"{verify_key}\"\n  max_batch_query_count: 1\n  task_expiration: {}\n  report_expiry_age: null\n  min_batch_size: {}\n  time_precision: {}\n  tolerable_clock_skew: {TOLERABLE_CLOCK_SKEW}\n  collector_hpke_config:\n{}",
                vdaf_yaml(&vdaf, task.noise_epsilon),
                now + TASK_LIFETIME,
                task.min_batch_size,
                task.time_precision,
                hpke_yaml("    ", &collector),
            )
        };
        let keys = |k: &Keypair| {
            format!(
                "  hpke_keys:\n  - config:\n{}    private_key: \"{}\"\n",
                hpke_yaml("      ", k),
                k.private
            )
        };
        let _ = write!(
            leader_yaml,
            "{}  aggregator_auth_token:\n    type: Bearer\n    token: \"{aggregator_token}\"\n  collector_auth_token_hash:\n    type: Bearer\n    hash: \"{}\"\n{}",
            common("Leader", &helper),
            token_hash(&collector_token),
            keys(&leader_keys)
        );
        let _ = write!(
            helper_yaml,
            "{}  aggregator_auth_token_hash:\n    type: Bearer\n    hash: \"{}\"\n  collector_auth_token_hash:\n{}",
            common("Helper", &leader),
            token_hash(&aggregator_token),
            keys(&helper_keys)
        );
        secrets.push(TaskSecret {
            experiment: task.experiment.clone(),
            collector_auth_token: collector_token,
            hpke_config_id: collector.id,
            hpke_public_key: collector.public,
            hpke_private_key: collector.private,
        });
        config.tasks.push(task);
    }
    if config.tasks.is_empty() {
        return Err(CollectorError::Dap("the task list has no tasks".into()));
    }
    Ok(Provisioned {
        added: config.tasks.len() - kept,
        credentials: Credentials {
            config: config.clone(),
            secrets,
        },
        config,
        leader_yaml,
        helper_yaml,
    })
}

/// Writes the four files into `out`, each to a temporary name then renamed into place (a running collector
/// re-reads the credentials when they change: it must never see half a file); the credentials readable by
/// their owner only.
pub fn write(p: &Provisioned, out: &Path) -> Result<(), CollectorError> {
    let io = |what: &str, e: std::io::Error| {
        CollectorError::Dap(format!("writing {what} in {}: {e}", out.display()))
    };
    std::fs::create_dir_all(out).map_err(|e| io("the directory", e))?;
    let files = [
        ("dap-config.json", json(&p.config), 0o644),
        ("leader-tasks.yaml", p.leader_yaml.clone(), 0o600),
        ("helper-tasks.yaml", p.helper_yaml.clone(), 0o600),
        ("collector-credentials.json", json(&p.credentials), 0o600),
    ];
    for (name, text, _mode) in files {
        let tmp = out.join(format!(".{name}.tmp"));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, _mode);
        let mut f = opts.open(&tmp).map_err(|e| io(name, e))?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| io(name, e))?;
        f.sync_all().map_err(|e| io(name, e))?;
        std::fs::rename(&tmp, out.join(name)).map_err(|e| io(name, e))?;
    }
    Ok(())
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

#[cfg(test)]
#[path = "provision_tests.rs"]
mod tests;
