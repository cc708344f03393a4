//! The wire format of a report (JSON via serde) and the validation both the device and the collector run.
//!
//! ```json
//! {"v":1,"hour":491234,"epsilon":1.0,
//!  "entries":[{"experiment":"hero-copy","variant":"B","segment":3,"bits":[0,1,0,0,1,0,0]}]}
//! ```
//! `hour` is hours since the Unix epoch (the only time there is); `epsilon` is what each entry spent;
//! `bits` is the OUE-randomised one-hot outcome. There is deliberately no field for an id of any kind,
//! and unknown fields are rejected, so nothing identifying can ride along.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::ldp::Oue;
use super::outcome::{CATEGORIES, SEGMENTS};
use crate::{Error, Result};

/// Version of this schema; the collector refuses others.
pub const SCHEMA_VERSION: u32 = 1;
/// Entries one report may hold (a device's daily budget allows far fewer at sensible ε).
pub const MAX_ENTRIES_PER_REPORT: usize = 16;
/// Reports one POST may hold (a device's delayed queue, or a simulator's batch).
pub const MAX_REPORTS_PER_BATCH: usize = 256;
/// Longest experiment or variant id, in bytes.
pub const MAX_ID_LEN: usize = 64;
/// The variant label under which the holdout arm of an A/B test reports (it is shown the control).
pub const HOLDOUT_VARIANT: &str = "holdout";

/// One device's report: entries built at the same time with the same ε.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub v: u32,
    /// Hours since the Unix epoch when the report was built.
    pub hour: u32,
    /// ε spent by each entry.
    pub epsilon: f64,
    /// One per reported cell.
    pub entries: Vec<Entry>,
}

/// One randomised cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(target_arch = "wasm32"), ts(rename = "ReportEntry"))]
pub struct Entry {
    /// Experiment or placement id.
    pub experiment: String,
    /// Variant id (or [`HOLDOUT_VARIANT`]).
    pub variant: String,
    /// Segment `< 8`.
    pub segment: u8,
    /// [`CATEGORIES`] randomised bits, each 0 or 1.
    pub bits: Vec<u8>,
}

/// The body of `POST /v1/reports`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// 1 to [`MAX_REPORTS_PER_BATCH`] reports.
    pub reports: Vec<Report>,
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

impl Report {
    /// Check everything a hostile sender could get wrong. `now_hour` bounds the hour to the last 30 days
    /// and at most one hour ahead (clock skew).
    pub fn validate(&self, now_hour: u32) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidInput(msg));
        if self.v != SCHEMA_VERSION {
            return bad(format!(
                "report version {} is not {SCHEMA_VERSION}; update the SDK",
                self.v
            ));
        }
        Oue::new(self.epsilon)?;
        if self.hour > now_hour.saturating_add(1) || self.hour < now_hour.saturating_sub(24 * 30) {
            return bad(format!(
                "hour {} is not within the last 30 days of {now_hour}; send hours since the Unix epoch",
                self.hour
            ));
        }
        if self.entries.is_empty() || self.entries.len() > MAX_ENTRIES_PER_REPORT {
            return bad(format!(
                "a report holds 1–{MAX_ENTRIES_PER_REPORT} entries, this one {}; split it",
                self.entries.len()
            ));
        }
        let mut seen = HashSet::new();
        for e in &self.entries {
            validate_id("experiment", &e.experiment)?;
            validate_id("variant", &e.variant)?;
            if e.segment >= SEGMENTS {
                return bad(format!("segment {} is not below {SEGMENTS}", e.segment));
            }
            if e.bits.len() != CATEGORIES || e.bits.iter().any(|&b| b > 1) {
                return bad(format!(
                    "bits must be {CATEGORIES} values of 0 or 1, got {:?}",
                    e.bits
                ));
            }
            if !seen.insert((&e.experiment, &e.variant, e.segment)) {
                return bad(format!(
                    "cell ({}, {}, {}) appears twice in one report; one entry per cell",
                    e.experiment, e.variant, e.segment
                ));
            }
        }
        Ok(())
    }
}

impl Batch {
    /// Validate the batch and every report in it.
    pub fn validate(&self, now_hour: u32) -> Result<()> {
        if self.reports.is_empty() || self.reports.len() > MAX_REPORTS_PER_BATCH {
            return Err(Error::InvalidInput(format!(
                "a batch holds 1–{MAX_REPORTS_PER_BATCH} reports, this one {}; split it",
                self.reports.len()
            )));
        }
        for (i, r) in self.reports.iter().enumerate() {
            r.validate(now_hour)
                .map_err(|e| Error::InvalidInput(format!("report {i}: {e}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let e = Entry {
            experiment: "hero".into(),
            variant: "A".into(),
            segment: 2,
            bits: vec![0, 1, 0, 0, 0, 0, 1],
        };
        Report {
            v: 1,
            hour: 1000,
            epsilon: 1.0,
            entries: vec![e],
        }
    }

    #[test]
    fn accepts_a_good_report_and_rejects_unknown_fields() {
        report().validate(1000).unwrap();
        let json = serde_json::to_string(&report()).unwrap();
        assert!(serde_json::from_str::<Report>(&json).is_ok());
        let with_id = json.replacen("{\"v\"", "{\"user_id\":\"u1\",\"v\"", 1);
        assert!(serde_json::from_str::<Report>(&with_id).is_err());
    }

    #[test]
    fn rejects_hostile_values() {
        let mut r = report();
        r.entries[0].segment = 9;
        assert!(r.validate(1000).is_err());
        let mut r = report();
        r.entries[0].bits[0] = 2;
        assert!(r.validate(1000).is_err());
        let mut r = report();
        r.epsilon = -1.0;
        assert!(r.validate(1000).is_err());
        let mut r = report();
        r.entries.push(r.entries[0].clone());
        assert!(r.validate(1000).is_err());
        assert!(report().validate(5000).is_err(), "a month-old hour");
    }
}
