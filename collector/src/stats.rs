//! `/v1/stats` and `/v1/priors` documents, built from the stored cells with the k-report threshold.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vitrine::copy::{Prior, PriorsDoc};
use vitrine::report::HOLDOUT_VARIANT;

use crate::estimate::{beta_prior, estimate, srm_p_value, Counts, Interval, Metric};
use crate::store::CellRow;

/// Default release threshold: no number about a group of fewer reports leaves the collector.
pub const DEFAULT_K: u64 = 100;

/// The four rates of one group, each with its interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Exposures (entries) in the group: sent in clear, so exact.
    pub impressions: u64,
    /// Click-through rate.
    pub ctr: Interval,
    /// Add-to-cart rate.
    pub atc_rate: Interval,
    /// Conversion rate.
    pub cvr: Interval,
    /// Revenue per impression (clamped, bucket midpoints).
    pub revenue_per_impression: Interval,
}

/// One hour's rates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HourRates {
    /// Hours since the epoch.
    pub hour: u32,
    /// Rates of that hour.
    #[serde(flatten)]
    pub rates: Rates,
}

/// One variant: `released` false (and nothing else) below k reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantStats {
    /// Variant label.
    pub variant: String,
    /// Whether the group reached k reports.
    pub released: bool,
    /// Whole-period rates.
    #[serde(flatten)]
    pub rates: Option<Rates>,
    /// Hours with at least k reports each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hourly: Vec<HourRates>,
}

/// One experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentStats {
    /// Experiment id.
    pub experiment: String,
    /// Sample-ratio-mismatch p-value over released arms (holdout excluded) against an equal split;
    /// meaningful for A/B experiments only (a bandit's allocation is unequal by design).
    pub srm_p_value: Option<f64>,
    /// Variants in label order.
    pub variants: Vec<VariantStats>,
}

/// The body of `GET /v1/stats`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatsDoc {
    /// Schema version.
    pub v: u32,
    /// Release threshold.
    pub k: u64,
    /// Reports committed in total (what acknowledged requests add up to).
    pub reports_total: u64,
    /// Per experiment.
    pub experiments: Vec<ExperimentStats>,
}

type ByEps = BTreeMap<u64, Counts>;

fn groups(by_eps: &ByEps) -> Vec<(u64, Counts)> {
    by_eps.iter().map(|(e, c)| (*e, *c)).collect()
}

/// Rates of pooled counts, if they reach `k` entries.
pub fn rates(by_eps: &[(u64, Counts)], k: u64) -> Option<Rates> {
    let impressions: u64 = by_eps.iter().map(|(_, c)| c.n).sum();
    if impressions < k.max(1) {
        return None;
    }
    let m = |metric| estimate(by_eps, metric);
    Some(Rates {
        impressions,
        ctr: m(Metric::Ctr)?,
        atc_rate: m(Metric::AddToCart)?,
        cvr: m(Metric::Conversion)?,
        revenue_per_impression: m(Metric::RevenuePerImpression)?,
    })
}

#[derive(Default)]
struct VariantAcc {
    total: ByEps,
    hours: BTreeMap<u32, ByEps>,
}

/// Build the statistics document.
pub fn stats(rows: &[CellRow], k: u64, reports_total: u64) -> StatsDoc {
    let mut acc: BTreeMap<&str, BTreeMap<&str, VariantAcc>> = BTreeMap::new();
    for r in rows {
        let v = acc
            .entry(r.experiment.as_str())
            .or_default()
            .entry(r.variant.as_str())
            .or_default();
        v.total.entry(r.eps_micros).or_default().add(r.n, &r.ones);
        v.hours
            .entry(r.hour)
            .or_default()
            .entry(r.eps_micros)
            .or_default()
            .add(r.n, &r.ones);
    }
    let experiments = acc
        .into_iter()
        .map(|(experiment, variants)| {
            let variants: Vec<VariantStats> = variants
                .into_iter()
                .map(|(variant, a)| {
                    let rates = rates(&groups(&a.total), k);
                    let hourly = if rates.is_some() {
                        a.hours
                            .iter()
                            .filter_map(|(h, by)| rates_for_hour(*h, by, k))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    VariantStats {
                        variant: variant.to_owned(),
                        released: rates.is_some(),
                        rates,
                        hourly,
                    }
                })
                .collect();
            let arms: Vec<u64> = variants
                .iter()
                .filter(|v| v.variant != HOLDOUT_VARIANT)
                .filter_map(|v| v.rates.as_ref().map(|r| r.impressions))
                .collect();
            ExperimentStats {
                experiment: experiment.to_owned(),
                srm_p_value: srm_p_value(&arms),
                variants,
            }
        })
        .collect();
    StatsDoc {
        v: 1,
        k,
        reports_total,
        experiments,
    }
}

fn rates_for_hour(hour: u32, by: &ByEps, k: u64) -> Option<HourRates> {
    rates(&groups(by), k).map(|rates| HourRates { hour, rates })
}

/// Build the priors document: per segment and pooled over segments, for groups of at least k reports.
pub fn priors(rows: &[CellRow], k: u64) -> PriorsDoc {
    let mut acc: BTreeMap<(&str, &str, Option<u8>), ByEps> = BTreeMap::new();
    for r in rows {
        for seg in [Some(r.segment), None] {
            acc.entry((r.experiment.as_str(), r.variant.as_str(), seg))
                .or_default()
                .entry(r.eps_micros)
                .or_default()
                .add(r.n, &r.ones);
        }
    }
    let priors = acc
        .into_iter()
        .filter(|((_, variant, _), _)| *variant != HOLDOUT_VARIANT)
        .filter_map(|((experiment, variant, segment), by)| {
            let g = groups(&by);
            let reports: u64 = g.iter().map(|(_, c)| c.n).sum();
            if reports < k.max(1) {
                return None;
            }
            let (alpha, beta) = beta_prior(&estimate(&g, Metric::Ctr)?);
            Some(Prior {
                experiment: experiment.into(),
                variant: variant.into(),
                segment,
                alpha,
                beta,
                reports,
            })
        })
        .collect();
    PriorsDoc { v: 1, k, priors }
}
