//! The DAP-09 collection of one time interval, as Janus 0.7's leader serves it: `PUT` a collection job,
//! `POST` to poll it until the leader has the helper's share, open both aggregate shares with the
//! collector's HPKE key and add them up (prio's `unshard`).

use std::time::Duration as StdDuration;

use hpke::aead::AesGcm128;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR};
use janus_messages::codec::{Decode, Encode, ParameterizedDecode};
use janus_messages::query_type::TimeInterval;
use janus_messages::{
    AggregateShareAad, BatchSelector, Collection, CollectionReq, Duration, HpkeCiphertext, Interval, Query,
    Role, TaskId, Time,
};
use prio::field::{Field128, FieldElementWithInteger};
use prio::vdaf::prio3::{Prio3Histogram, Prio3SumVec};
use prio::vdaf::Vdaf;
use vitrine::report::dap::{DapTask, VdafSpec};

use super::{unb64, TaskSecret};
use crate::error::CollectorError;

/// One collected interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Collected {
    /// Reports the aggregators accepted into the batch (invalid ones are not counted).
    pub reports: u64,
    /// Per cell: the sum over those reports plus both aggregators' noise (so possibly negative).
    pub cells: Vec<f64>,
}

/// Where a collection job stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Poll {
    /// The result.
    Ready(Collected),
    /// The leader is still aggregating or waiting for the helper.
    Pending,
    /// The leader gave up on the job: its batch has fewer than `min_batch_size` reports (the usual
    /// reason) or aggregation failed. The interval is used up either way.
    Abandoned(String),
}

/// The collection endpoints of one task on one leader.
pub struct Job<'a> {
    agent: &'a ureq::Agent,
    url: String,
    token: &'a str,
    task_id: TaskId,
    interval: Interval,
    vdaf: &'a VdafSpec,
    secret: &'a TaskSecret,
}

/// An HTTP client for the leader: errors as statuses, a bound on every request.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(StdDuration::from_secs(30)))
        .build()
        .into()
}

fn dap_err(what: &str) -> impl Fn(janus_messages::Error) -> CollectorError + '_ {
    move |e| CollectorError::Dap(format!("{what}: {e}"))
}

impl<'a> Job<'a> {
    /// The job `job_id` (16 bytes, base64url) over `[start, start + duration)` of `task`.
    pub fn new(
        agent: &'a ureq::Agent,
        leader: &str,
        task: &'a DapTask,
        secret: &'a TaskSecret,
        job_id: &str,
        start: u64,
        duration: u64,
    ) -> Result<Self, CollectorError> {
        let task_id: TaskId = task.task_id.parse().map_err(dap_err("task id"))?;
        let interval = Interval::new(
            Time::from_seconds_since_epoch(start),
            Duration::from_seconds(duration),
        )
        .map_err(dap_err("interval"))?;
        Ok(Self {
            agent,
            url: format!(
                "{}/tasks/{}/collection_jobs/{job_id}",
                leader.trim_end_matches('/'),
                task.task_id
            ),
            token: &secret.collector_auth_token,
            task_id,
            interval,
            vdaf: &task.vdaf,
            secret,
        })
    }

    fn read(mut r: ureq::http::Response<ureq::Body>) -> Result<(u16, Vec<u8>), CollectorError> {
        let status = r.status().as_u16();
        let body = r
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| CollectorError::Dap(format!("reading the leader's answer: {e}")))?;
        Ok((status, body))
    }

    fn unreachable(&self, e: ureq::Error) -> CollectorError {
        CollectorError::Dap(format!("the leader at {} did not answer: {e}", self.url))
    }

    /// Creates the job (`201 Created`; Janus answers the same `PUT` again with 201 too). `Ok(false)`:
    /// the leader holds fewer than `min_batch_size` reports for the interval (`invalidBatchSize`), so
    /// nothing was created and the interval is not used up.
    pub fn start(&self) -> Result<bool, CollectorError> {
        let body = CollectionReq::<TimeInterval>::new(Query::new_time_interval(self.interval), Vec::new())
            .get_encoded()
            .map_err(|e| CollectorError::Dap(format!("encoding the collection request: {e}")))?;
        let r = self
            .agent
            .put(&self.url)
            .header("content-type", CollectionReq::<TimeInterval>::MEDIA_TYPE)
            .header("authorization", &format!("Bearer {}", self.token))
            .send(&body[..])
            .map_err(|e| self.unreachable(e))?;
        match Self::read(r)? {
            (201, _) => Ok(true),
            (400, body) if String::from_utf8_lossy(&body).contains("invalidBatchSize") => Ok(false),
            (status, body) => Err(CollectorError::Dap(format!(
                "the leader refused the collection of {:?} ({status}): {}",
                self.interval,
                String::from_utf8_lossy(&body)
            ))),
        }
    }

    /// Asks once whether the job is done.
    pub fn poll(&self) -> Result<Poll, CollectorError> {
        let r = self
            .agent
            .post(&self.url)
            .header("authorization", &format!("Bearer {}", self.token))
            .send_empty()
            .map_err(|e| self.unreachable(e))?;
        match Self::read(r)? {
            (200, body) => self.open(&body).map(Poll::Ready),
            (202, _) => Ok(Poll::Pending),
            (status, body) => {
                let text = String::from_utf8_lossy(&body).into_owned();
                if text.contains("abandoned") {
                    Ok(Poll::Abandoned(text))
                } else {
                    Err(CollectorError::Dap(format!(
                        "polling the collection failed ({status}): {text}"
                    )))
                }
            }
        }
    }

    /// Polls every `every` until ready or abandoned, at most `limit`.
    pub fn wait(&self, every: StdDuration, limit: StdDuration) -> Result<Poll, CollectorError> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            match self.poll()? {
                Poll::Pending if std::time::Instant::now() < deadline => std::thread::sleep(every),
                other => return Ok(other),
            }
        }
    }

    fn open(&self, body: &[u8]) -> Result<Collected, CollectorError> {
        let c = Collection::<TimeInterval>::get_decoded(body)
            .map_err(|e| CollectorError::Dap(format!("the leader's collection is not DAP-09: {e}")))?;
        let aad = AggregateShareAad::new(
            self.task_id,
            Vec::new(),
            BatchSelector::new_time_interval(self.interval),
        )
        .get_encoded()
        .map_err(|e| CollectorError::Dap(format!("encoding the AAD: {e}")))?;
        let sk_bytes = unb64(&self.secret.hpke_private_key, "the collector's HPKE private key")?;
        let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(&sk_bytes)
            .map_err(|e| CollectorError::Dap(format!("the collector's HPKE private key: {e}")))?;
        let open = |role: Role, ct: &HpkeCiphertext| -> Result<Vec<u8>, CollectorError> {
            if u8::from(*ct.config_id()) != self.secret.hpke_config_id {
                return Err(CollectorError::Dap(format!(
                    "the {role:?}'s share is sealed to HPKE config {}, not ours",
                    u8::from(*ct.config_id())
                )));
            }
            let info = [
                b"dap-09 aggregate share".as_slice(),
                &[role as u8, Role::Collector as u8],
            ]
            .concat();
            let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(ct.encapsulated_key())
                .map_err(|e| CollectorError::Dap(format!("the {role:?}'s encapsulated key: {e}")))?;
            hpke::single_shot_open::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
                &OpModeR::Base,
                &sk,
                &enc,
                &info,
                ct.payload(),
                &aad,
            )
            .map_err(|e| CollectorError::Dap(format!("the {role:?}'s aggregate share does not open: {e}")))
        };
        let shares = [
            open(Role::Leader, c.leader_encrypted_aggregate_share())?,
            open(Role::Helper, c.helper_encrypted_aggregate_share())?,
        ];
        let reports = c.report_count();
        let sums = match *self.vdaf {
            VdafSpec::Histogram { length, chunk_length } => {
                let v = Prio3Histogram::new_histogram(2, length, chunk_length).map_err(vdaf_err)?;
                unshard(&v, &shares, reports)?
            }
            VdafSpec::SumVec {
                bits,
                length,
                chunk_length,
            } => {
                let v = Prio3SumVec::new_sum_vec(2, bits, length, chunk_length).map_err(vdaf_err)?;
                unshard(&v, &shares, reports)?
            }
        };
        Ok(Collected {
            reports,
            cells: sums.into_iter().map(signed).collect(),
        })
    }
}

fn vdaf_err(e: prio::vdaf::VdafError) -> CollectorError {
    CollectorError::Dap(format!("the task's VDAF: {e}"))
}

/// Decodes both aggregate shares and adds them up.
fn unshard<V>(vdaf: &V, shares: &[Vec<u8>; 2], reports: u64) -> Result<Vec<u128>, CollectorError>
where
    V: Vdaf<AggregationParam = (), AggregateResult = Vec<u128>> + prio::vdaf::Collector,
    V::AggregateShare: for<'p> ParameterizedDecode<(&'p V, &'p ())>,
{
    let decoded = shares
        .iter()
        .map(|b| V::AggregateShare::get_decoded_with_param(&(vdaf, &()), b))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CollectorError::Dap(format!("an aggregate share does not decode: {e}")))?;
    let n = usize::try_from(reports).map_err(|_| CollectorError::Dap("report count overflows".into()))?;
    vdaf.unshard(&(), decoded, n).map_err(vdaf_err)
}

/// A field element read as a signed integer: the aggregators' noise is added modulo the field's prime,
/// so a count pushed below 0 comes back just under the modulus.
fn signed(x: u128) -> f64 {
    let p = Field128::modulus();
    if x > p / 2 {
        -((p - x) as f64)
    } else {
        x as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_below_zero_reads_as_a_negative_count() {
        let p = Field128::modulus();
        assert_eq!(signed(5), 5.0);
        assert_eq!(signed(p - 3), -3.0);
        assert_eq!(signed(p - 1), -1.0);
    }
}
