//! One device's DAP client for one task: cached HPKE configurations and the upload request it builds.

use janus_messages::codec::{Decode, Encode};
use janus_messages::{
    HpkeCiphertext, HpkeConfig, HpkeConfigId, HpkeConfigList, InputShareAad, PlaintextInputShare, Report,
    ReportId, ReportMetadata, Role, TaskId, Time,
};

use super::seal::{input_share_info, seal, supported};
use super::vdaf::{one_hot, Instance, VdafSpec};
use super::{DapConfig, DapTask};
use crate::{Error, Result};

/// How long fetched HPKE configurations are used before the host is asked to fetch them again. Janus
/// rotates keys over days and keeps old ones for decryption, so a day is safe.
pub const HPKE_CONFIG_TTL_SECS: u64 = 24 * 3600;

/// A request the host makes for the client (the core never does I/O).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HpkeConfigRequest {
    /// `leader` or `helper`.
    pub aggregator: &'static str,
    /// `GET` this; expect `application/dap-hpke-config-list`.
    pub url: String,
}

/// The report upload: `PUT url` with `Content-Type: content_type` and `body`, no credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRequest {
    /// `{leader}/tasks/{task_id}/reports`.
    pub url: String,
    /// `application/dap-report`.
    pub content_type: &'static str,
    /// The encoded DAP-09 `Report`.
    pub body: Vec<u8>,
}

/// Builds DAP-09 reports for one task.
pub struct DapClient {
    task: DapTask,
    task_id: TaskId,
    vdaf: Instance,
    leader: String,
    helper: String,
    /// Leader's and helper's configurations, with the time they were fetched.
    configs: Option<(HpkeConfig, HpkeConfig, u64)>,
}

fn base(url: &str) -> String {
    format!("{}/", url.trim_end_matches('/'))
}

impl DapClient {
    /// A client for `experiment`'s task in `config`.
    pub fn new(config: &DapConfig, experiment: &str) -> Result<Self> {
        let task = config.task(experiment)?.clone();
        task.check()?;
        let task_id: TaskId = task.task_id.parse().map_err(|e| {
            Error::Dap(format!(
                "task id {:?} is not 32 bytes of base64url: {e}",
                task.task_id
            ))
        })?;
        Ok(Self {
            vdaf: task.vdaf.instance()?,
            task,
            task_id,
            leader: base(&config.leader),
            helper: base(&config.helper),
            configs: None,
        })
    }

    /// The task this client reports to.
    pub fn task(&self) -> &DapTask {
        &self.task
    }

    /// The HPKE configuration fetches still needed at `now` (none while the cache is fresh).
    pub fn hpke_config_requests(&self, now_unix_secs: u64) -> Vec<HpkeConfigRequest> {
        match self.configs {
            Some((_, _, at)) if now_unix_secs.saturating_sub(at) < HPKE_CONFIG_TTL_SECS => Vec::new(),
            _ => [("leader", &self.leader), ("helper", &self.helper)]
                .into_iter()
                .map(|(aggregator, url)| HpkeConfigRequest {
                    aggregator,
                    url: format!("{url}hpke_config?task_id={}", self.task_id),
                })
                .collect(),
        }
    }

    /// Caches the two `application/dap-hpke-config-list` bodies; the first supported config of each
    /// list is used.
    pub fn set_hpke_configs(&mut self, leader: &[u8], helper: &[u8], now_unix_secs: u64) -> Result<()> {
        let pick = |who: &str, bytes: &[u8]| -> Result<HpkeConfig> {
            let list = HpkeConfigList::get_decoded(bytes).map_err(|e| {
                Error::Dap(format!(
                    "the {who}'s hpke_config answer is not an HPKE config list: {e}"
                ))
            })?;
            list.hpke_configs()
                .iter()
                .find(|c| supported(c))
                .cloned()
                .ok_or_else(|| Error::Dap(format!("the {who} offers no HPKE config this client supports")))
        };
        self.configs = Some((pick("leader", leader)?, pick("helper", helper)?, now_unix_secs));
        Ok(())
    }

    /// Forgets the cached configurations (after the leader answers `outdatedConfig`).
    pub fn clear_hpke_configs(&mut self) {
        self.configs = None;
    }

    /// Builds the upload of one measurement (a cell vector, see [`super::one_hot`]) at `now`. The report
    /// time is rounded down to the task's `time_precision`, as DAP requires.
    pub fn build(&self, cells: &[u64], now_unix_secs: u64) -> Result<UploadRequest> {
        self.build_inner(cells, now_unix_secs, false)
    }

    /// A report whose leader measurement share is altered after sharding: what a fake client could send.
    /// Both aggregators must reject it (the proof no longer verifies). For tests and `vitrine simulate`.
    #[doc(hidden)]
    pub fn build_malformed(&self, cells: &[u64], now_unix_secs: u64) -> Result<UploadRequest> {
        self.build_inner(cells, now_unix_secs, true)
    }

    fn build_inner(&self, cells: &[u64], now: u64, corrupt: bool) -> Result<UploadRequest> {
        let Some((leader_cfg, helper_cfg, _)) = &self.configs else {
            return Err(Error::Dap(
                "no HPKE configurations yet: fetch hpke_config_requests() and pass them to set_hpke_configs()".into(),
            ));
        };
        let id: [u8; ReportId::LEN] = rand::random();
        let shards = self.vdaf.shard(&self.task.vdaf, cells, &id)?;
        let time = Time::from_seconds_since_epoch(now - now % self.task.time_precision);
        let metadata = ReportMetadata::new(ReportId::from(id), time);
        let aad = InputShareAad::new(self.task_id, metadata.clone(), shards.public_share.clone())
            .get_encoded()
            .map_err(|e| Error::Dap(format!("encoding the report failed: {e}")))?;
        let [mut leader_share, helper_share] = shards.input_shares;
        if corrupt {
            // The leader's measurement share opens the share (field elements, little-endian): one more
            // in the low byte of the first cell's share.
            leader_share[0] = leader_share[0].wrapping_add(1);
        }
        let sealed = |cfg: &HpkeConfig, role: Role, share: Vec<u8>| -> Result<_> {
            let plain = PlaintextInputShare::new(Vec::new(), share)
                .get_encoded()
                .map_err(|e| Error::Dap(format!("encoding the report failed: {e}")))?;
            seal(cfg, &input_share_info(role), &plain, &aad)
        };
        let report = Report::new(
            metadata,
            shards.public_share,
            sealed(leader_cfg, Role::Leader, leader_share)?,
            sealed(helper_cfg, Role::Helper, helper_share)?,
        );
        Ok(UploadRequest {
            url: format!("{}tasks/{}/reports", self.leader, self.task_id),
            content_type: Report::MEDIA_TYPE,
            body: report
                .get_encoded()
                .map_err(|e| Error::Dap(format!("encoding the report failed: {e}")))?,
        })
    }
}

/// X25519's encapsulated key, and the AEAD tag every supported HPKE suite appends (AES-GCM and
/// ChaCha20Poly1305 alike): a sealed share is its plaintext plus these.
const HPKE_ENCAPPED_BYTES: usize = 32;
const HPKE_TAG_BYTES: usize = 16;

/// The size of one upload body for `vdaf`: every report of a task has it (the shares are fixed-size
/// field vectors). Computed by sharding a one-hot vector and encoding the report with ciphertexts of the
/// sizes HPKE gives, without keys.
pub fn report_bytes(vdaf: &VdafSpec) -> Result<usize> {
    let enc = |e: janus_messages::codec::CodecError| Error::Dap(format!("encoding the report failed: {e}"));
    let shards = vdaf
        .instance()?
        .shard(vdaf, &one_hot(vdaf.length(), 0)?, &[0; ReportId::LEN])?;
    let metadata = ReportMetadata::new(
        ReportId::from([0; ReportId::LEN]),
        Time::from_seconds_since_epoch(0),
    );
    let [leader, helper] = shards.input_shares;
    let sealed = |share: Vec<u8>| -> Result<HpkeCiphertext> {
        let plain = PlaintextInputShare::new(Vec::new(), share)
            .get_encoded()
            .map_err(enc)?;
        Ok(HpkeCiphertext::new(
            HpkeConfigId::from(0),
            vec![0; HPKE_ENCAPPED_BYTES],
            vec![0; plain.len() + HPKE_TAG_BYTES],
        ))
    };
    let report = Report::new(metadata, shards.public_share, sealed(leader)?, sealed(helper)?);
    Ok(report.get_encoded().map_err(enc)?.len())
}
