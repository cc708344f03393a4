//! The wire format of a report (JSON via serde) and the checks both the device and the collector run.
//!
//! ```json
//! {"v":2,"experiment":"hero","hour":491234,"arm":"B","id":"5f0c…(32 hex)","r":2}
//! ```
//! One report per request. In clear: the schema version, a registered experiment id, the hour (hours
//! since the Unix epoch, the only time there is), the A/B arm (absent for a bandit, whose variant is
//! inside the randomised part) and a random single-use id the collector de-duplicates resends by. `r` is
//! the randomised value: a number (GRR) or a bit list (OUE), as the experiment's layout says. ε is not
//! sent: it is the SDK's constant. Unknown fields are rejected, so nothing identifying can ride along.

use serde::{Deserialize, Serialize};

use super::budget::REPORT_EPSILON;
use super::cells::{Experiment, ExperimentMode};
use super::ldp::{Randomised, Randomiser};
use crate::{Error, Result};

/// Version of this schema; the collector refuses others.
pub const SCHEMA_VERSION: u32 = 2;
/// Longest experiment, slot or variant id, in bytes.
pub const MAX_ID_LEN: usize = 64;
/// The arm label under which the holdout of an A/B test reports (it is shown the control).
pub const HOLDOUT_VARIANT: &str = "holdout";
/// Hex digits of a report id (128 random bits).
pub const REPORT_ID_HEX: usize = 32;

/// One device's report about one experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub v: u32,
    /// A registered experiment id.
    pub experiment: String,
    /// Hours since the Unix epoch when the report was built.
    pub hour: u32,
    /// The A/B arm (a variant id or `holdout`); absent in bandit mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<String>,
    /// Random single-use id (lowercase hex): a resend of the same report counts once.
    pub id: String,
    /// The randomised value.
    pub r: Randomised,
}

/// Ids are short and plain, so they cannot smuggle free text (a query, an item list) out of the device.
pub fn validate_id(what: &str, id: &str) -> Result<()> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.chars().all(plain) {
        return Err(Error::InvalidInput(format!(
            "{what} id {:?} must be 1–{MAX_ID_LEN} characters of [A-Za-z0-9_.:-]; use a short code name",
            id.chars().take(80).collect::<String>()
        )));
    }
    Ok(())
}

/// A fresh report id from `bytes` (16 random bytes).
pub fn report_id(bytes: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(REPORT_ID_HEX);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

impl Report {
    /// The checks that need no registry: version, id shapes, and an hour within the last 30 days and at
    /// most one hour ahead (clock skew).
    pub fn validate(&self, now_hour: u32) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidInput(msg));
        if self.v != SCHEMA_VERSION {
            return bad(format!(
                "report version {} is not {SCHEMA_VERSION}; update the SDK",
                self.v
            ));
        }
        validate_id("experiment", &self.experiment)?;
        if let Some(arm) = &self.arm {
            validate_id("arm", arm)?;
        }
        let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if self.id.len() != REPORT_ID_HEX || !self.id.chars().all(hex) {
            return bad(format!(
                "report id must be {REPORT_ID_HEX} lowercase hex digits (16 random bytes)"
            ));
        }
        if self.hour > now_hour.saturating_add(1) || self.hour < now_hour.saturating_sub(24 * 30) {
            return bad(format!(
                "hour {} is not within the last 30 days of {now_hour}; send hours since the Unix epoch",
                self.hour
            ));
        }
        Ok(())
    }

    /// The checks against the registered experiment: running at the report's hour, the arm in clear
    /// exactly when the layout has arms and one of them, and the randomised part of the layout's shape.
    pub fn validate_for(&self, exp: &Experiment) -> Result<Randomiser> {
        let bad = |msg: String| Err(Error::InvalidInput(format!("experiment {}: {msg}", exp.id)));
        let hour_start = u64::from(self.hour) * 3600;
        if hour_start + 3600 <= exp.start || exp.end.is_some_and(|e| hour_start >= e) {
            return bad(format!(
                "hour {} is outside the experiment's run; reports before its start or after its end are refused",
                self.hour
            ));
        }
        let layout = exp.layout();
        match (&self.arm, exp.mode) {
            (Some(arm), ExperimentMode::Ab) if layout.arms.contains(arm) => {}
            (Some(arm), ExperimentMode::Ab) => {
                return bad(format!("arm {arm} is not registered ({:?})", layout.arms))
            }
            (None, ExperimentMode::Ab) => return bad("an A/B report names its arm".into()),
            (Some(_), ExperimentMode::Bandit) => {
                return bad("a bandit report carries its variant inside `r`, never in clear".into())
            }
            (None, ExperimentMode::Bandit) => {}
        }
        let rr = Randomiser::for_domain(layout.domain(), REPORT_EPSILON)?;
        if !rr.accepts(&self.r) {
            return bad(format!(
                "`r` must be {} for this experiment's {} cells",
                match rr.mechanism {
                    super::ldp::Mechanism::Grr => "one value below the domain size",
                    super::ldp::Mechanism::Oue => "one 0/1 bit per cell",
                },
                layout.domain()
            ));
        }
        Ok(rr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp() -> Experiment {
        Experiment {
            id: "hero".into(),
            slot: "banner".into(),
            variants: vec!["A".into(), "B".into()],
            mode: ExperimentMode::Ab,
            holdout: 0.0,
            k: 100,
            start: 3600 * 1000,
            end: None,
        }
    }

    fn report() -> Report {
        Report {
            v: SCHEMA_VERSION,
            experiment: "hero".into(),
            hour: 1000,
            arm: Some("A".into()),
            id: report_id([7; 16]),
            r: Randomised::Value(1),
        }
    }

    #[test]
    fn accepts_a_good_report_and_rejects_unknown_fields() {
        report().validate(1000).unwrap();
        report().validate_for(&exp()).unwrap();
        assert_eq!(report_id([0xa5; 16]), "a5".repeat(16));
        let json = serde_json::to_string(&report()).unwrap();
        assert!(serde_json::from_str::<Report>(&json).is_ok());
        for extra in [
            "\"user_id\":\"u1\"",
            "\"segment\":3",
            "\"epsilon\":0.1",
            "\"variant\":\"B\"",
        ] {
            let with = json.replacen("{\"v\"", &format!("{{{extra},\"v\""), 1);
            assert!(serde_json::from_str::<Report>(&with).is_err(), "{extra}");
        }
    }

    #[test]
    fn rejects_wrong_shapes_for_the_layout() {
        let e = exp();
        let mut r = report();
        r.r = Randomised::Value(4);
        assert!(r.validate_for(&e).is_err(), "value outside the 4 outcomes");
        r.r = Randomised::Bits(vec![0, 1, 0, 0]);
        assert!(r.validate_for(&e).is_err(), "bits where GRR is expected");
        let mut r = report();
        r.arm = Some("C".into());
        assert!(r.validate_for(&e).is_err(), "unregistered arm");
        r.arm = None;
        assert!(r.validate_for(&e).is_err(), "A/B without arm");
        let bandit = Experiment {
            mode: ExperimentMode::Bandit,
            ..exp()
        };
        assert!(report().validate_for(&bandit).is_err(), "bandit arm in clear");
        let ended = Experiment {
            end: Some(3600 * 1000),
            ..exp()
        };
        assert!(report().validate_for(&ended).is_err(), "ended");
        let mut r = report();
        r.id = "ABC".into();
        assert!(r.validate(1000).is_err());
        assert!(report().validate(5000).is_err(), "a month-old hour");
    }
}
