//! `/v1/stats` and `/v1/priors`, built only from released windows (each ≥ k reports per arm, disjoint),
//! so any sum or difference of what is published covers whole windows: no group below k can be isolated.
//! Per variant: rates with intervals, lift against the control, chance to beat it, and a plain verdict.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vitrine::copy::{Prior, PriorsDoc};
use vitrine::report::{
    Experiment, ExperimentMode, Randomiser, Registry, HOLDOUT_VARIANT, REPORT_EPSILON, SEGMENTS,
};

use crate::dap::schedule::DapWindow;
use crate::estimate::{beta_prior, estimate, normal_cdf, srm_p_value, z95, Interval, Metric, Noised};
use crate::power::shoppers_per_arm;
use crate::store::WindowRow;

/// The three rates of one variant, each with its interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Variant (or `holdout`).
    pub variant: String,
    /// Exposures: exact for an A/B arm (in clear), estimated for a bandit variant (inside the noise).
    pub impressions: u64,
    /// Whether `impressions` is an estimate.
    pub estimated: bool,
    /// Click-through rate.
    pub ctr: Interval,
    /// Add-to-cart rate.
    pub atc_rate: Interval,
    /// Conversion rate.
    pub cvr: Interval,
}

/// One variant against the control, on CTR.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The variant.
    pub variant: String,
    /// CTR difference (variant − control).
    pub diff: Interval,
    /// Relative lift (variant / control − 1) with Fieller's interval; absent while the control's CTR
    /// is not clearly above 0.
    pub lift: Option<Interval>,
    /// P(variant's CTR > control's) under the normal approximation.
    pub chance_to_beat: f64,
    /// `wins`, `loses` or `undecided` (95 % interval of the difference against 0).
    pub outcome: String,
}

/// One released window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    /// Window number.
    pub seq: u64,
    /// First report's hour, seconds since the epoch.
    pub start: u64,
    /// Release time, seconds.
    pub end: u64,
    /// Rates in this window.
    pub variants: Vec<Rates>,
}

/// One experiment with at least one released window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentStats {
    /// Experiment id.
    pub experiment: String,
    /// `ab` or `bandit`.
    pub mode: ExperimentMode,
    /// `ldp` (randomised reports to this collector) or `dap` (aggregated by a Janus leader and helper).
    pub source: String,
    /// Release threshold.
    pub k: u64,
    /// Reports in released windows.
    pub reports: u64,
    /// Sample-ratio-mismatch p-value of the A/B arms against the registered split.
    pub srm_p_value: Option<f64>,
    /// Whole-run rates per variant, registry order.
    pub variants: Vec<Rates>,
    /// Each variant against the control (the first registered variant).
    pub comparisons: Vec<Comparison>,
    /// A sentence a marketer can act on.
    pub verdict: String,
    /// Per released window.
    pub windows: Vec<WindowStats>,
    /// Per segment, for a DAP task with a segment axis (each segment's own noise, no report-count
    /// correction); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<SegmentStats>,
}

/// One segment's rates (DAP tasks with a segment axis).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentStats {
    /// The segment (the shipped centroid's index).
    pub segment: u8,
    /// The task's last segment when it has fewer than [`SEGMENTS`]: devices whose segment is past the
    /// task's count there too, so it is shown as "this and later" and gives no prior of its own.
    #[serde(default)]
    pub and_later: bool,
    /// Its variants' rates.
    pub variants: Vec<Rates>,
}

/// The body of `GET /v1/stats`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatsDoc {
    /// Schema version.
    pub v: u32,
    /// Experiments with released windows only: nothing names an unreleased group.
    pub experiments: Vec<ExperimentStats>,
}

type Arms = BTreeMap<String, Noised>;

fn rates(exp: &Experiment, rr: &Randomiser, arms: &Arms) -> Vec<Rates> {
    let layout = exp.layout();
    let mut labels: Vec<String> = exp.variants.clone();
    if exp.mode == ExperimentMode::Ab && arms.contains_key(HOLDOUT_VARIANT) {
        labels.push(HOLDOUT_VARIANT.into());
    }
    labels
        .iter()
        .enumerate()
        .filter_map(|(j, label)| {
            let c = match exp.mode {
                ExperimentMode::Ab => arms.get(label)?,
                ExperimentMode::Bandit => arms.get("")?,
            };
            let m = |metric| estimate(&layout, rr, c, j, metric);
            let (ctr, exposures) = m(Metric::Ctr)?;
            Some(Rates {
                variant: label.clone(),
                impressions: exposures.max(0.0).round() as u64,
                estimated: exp.mode == ExperimentMode::Bandit,
                ctr,
                atc_rate: m(Metric::AddToCart)?.0,
                cvr: m(Metric::Conversion)?.0,
            })
        })
        .collect()
}

fn compare(control: &Rates, v: &Rates) -> Comparison {
    let (c, x) = (control.ctr, v.ctr);
    let se = (c.se * c.se + x.se * x.se).sqrt();
    let diff = Interval::new(x.estimate - c.estimate, se);
    let lift = fieller_lift(&x, &c);
    let outcome = if diff.lo > 0.0 {
        "wins"
    } else if diff.hi < 0.0 {
        "loses"
    } else {
        "undecided"
    };
    Comparison {
        variant: v.variant.clone(),
        diff,
        lift,
        chance_to_beat: if se > 0.0 {
            normal_cdf(diff.estimate / se)
        } else {
            0.5
        },
        outcome: outcome.into(),
    }
}

/// The relative lift `x / c − 1` with Fieller's 95 % interval: the ratios `r` the data cannot reject,
/// `(x − r·c)² ≤ z²·(se_x² + r²·se_c²)`. At `r = 1` that is exactly the difference's test, so the lift
/// interval excludes 0 exactly when the verdict calls a winner (the delta method's symmetric interval
/// did not: "B wins (+51.9 %, 95 % interval −4.4 % to +108.1 %)"). `None` while the control's CTR is not
/// clearly above 0: the set of ratios is then unbounded and a relative lift means nothing yet.
fn fieller_lift(x: &Interval, c: &Interval) -> Option<Interval> {
    let z2 = z95() * z95();
    let a = c.estimate * c.estimate - z2 * c.se * c.se;
    if a <= 0.0 {
        return None;
    }
    let b = x.estimate * c.estimate;
    let k = x.estimate * x.estimate - z2 * x.se * x.se;
    let d = (b * b - a * k).max(0.0).sqrt();
    let r = x.estimate / c.estimate;
    Some(Interval {
        estimate: r - 1.0,
        lo: (b - d) / a - 1.0,
        hi: (b + d) / a - 1.0,
        // The delta method's standard error, for the normal approximation readers expect beside it.
        se: (x.se * x.se + r * r * c.se * c.se).sqrt() / c.estimate,
    })
}

fn pct(x: f64) -> String {
    format!("{:+.1} %", 100.0 * x)
}

/// The plain sentence: the best winner, the control if every variant loses, or how many more shoppers
/// per arm it takes to see a 10 % lift (or the observed one, if larger) at 80 % power.
fn verdict(variants: &[Rates], comps: &[Comparison], days: f64) -> String {
    let Some(control) = variants.first() else {
        return "no data released yet".into();
    };
    let best = comps
        .iter()
        .filter(|c| c.outcome == "wins")
        .max_by(|a, b| a.diff.estimate.total_cmp(&b.diff.estimate));
    if let Some(b) = best {
        let lift = b.lift.map_or(String::new(), |l| {
            format!(
                " (CTR {} vs {}, 95 % interval {} to {})",
                pct(l.estimate),
                control.variant,
                pct(l.lo),
                pct(l.hi)
            )
        });
        return format!("{} wins{lift}", b.variant);
    }
    if !comps.is_empty() && comps.iter().all(|c| c.outcome == "loses") {
        return format!("{} (the control) wins: every variant does worse", control.variant);
    }
    let per_shopper = |r: &Rates| r.ctr.se * r.ctr.se * r.impressions.max(1) as f64;
    let more = comps
        .iter()
        .filter_map(|c| {
            let v = variants.iter().find(|r| r.variant == c.variant)?;
            let delta = c.diff.estimate.abs().max(0.1 * control.ctr.estimate.max(0.01));
            let need = shoppers_per_arm(per_shopper(control), per_shopper(v), delta, 0.05, 0.8);
            Some(need - (control.impressions.min(v.impressions)) as f64)
        })
        .fold(0.0_f64, f64::max)
        .max(0.0);
    let per_day = control.impressions as f64 / days.max(1.0 / 24.0);
    let when = if per_day > 0.0 {
        format!(" (≈ {:.0} days at today's traffic)", (more / per_day).ceil())
    } else {
        String::new()
    };
    let rounded = ((more / 100.0).ceil() as u64 * 100).to_string();
    // Thousands separated, as a marketer reads a count.
    let mut grouped = String::new();
    for (i, c) in rounded.chars().enumerate() {
        if i > 0 && (rounded.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("no difference detectable yet: ≈ {grouped} more shoppers per arm{when}")
}

/// One experiment's rates, whatever reports they come from.
pub(crate) struct Built {
    /// Whole-run rates per variant, registry order.
    pub variants: Vec<Rates>,
    /// Per released window.
    pub windows: Vec<WindowStats>,
    /// Reports behind the rates.
    pub reports: u64,
    /// Per arm: exposures and the registered share, for the sample-ratio-mismatch test (A/B only).
    pub srm: Option<(Vec<u64>, Vec<f64>)>,
    /// First window's start and last window's end, seconds.
    pub span: (u64, u64),
}

fn from_ldp(exp: &Experiment, rows: &[&WindowRow]) -> Option<Built> {
    let rr = Randomiser::for_domain(exp.layout().domain(), REPORT_EPSILON).ok()?;
    let mut total = Arms::new();
    let mut per_window: BTreeMap<u64, (u64, u64, Arms)> = BTreeMap::new();
    for w in rows {
        total.entry(w.arm.clone()).or_default().add(&w.noised);
        let e = per_window.entry(w.seq).or_insert((w.start, w.end, Arms::new()));
        e.2.entry(w.arm.clone()).or_default().add(&w.noised);
    }
    let first = per_window.values().map(|w| w.0).min().unwrap_or(0);
    let last = per_window.values().map(|w| w.1).max().unwrap_or(0);
    let srm = (exp.mode == ExperimentMode::Ab).then(|| {
        let arms = exp.layout().arms;
        let share = |a: &String| {
            if a == HOLDOUT_VARIANT {
                exp.holdout
            } else {
                (1.0 - exp.holdout) / exp.variants.len() as f64
            }
        };
        let counts = arms.iter().map(|a| total.get(a).map_or(0, |c| c.n)).collect();
        (counts, arms.iter().map(share).collect())
    });
    Some(Built {
        variants: rates(exp, &rr, &total),
        reports: total.values().map(|c| c.n).sum(),
        srm,
        span: (first, last),
        windows: per_window
            .into_iter()
            .map(|(seq, (start, end, arms))| WindowStats {
                seq,
                start,
                end,
                variants: rates(exp, &rr, &arms),
            })
            .collect(),
    })
}

/// Build the statistics document from released windows: local-DP windows, or for an experiment with a
/// DAP task, its released DAP windows.
pub fn stats(registry: &Registry, windows: &[WindowRow], dap: &[DapWindow]) -> StatsDoc {
    let mut by_exp: BTreeMap<&str, Vec<&WindowRow>> = BTreeMap::new();
    for w in windows {
        by_exp.entry(w.experiment.as_str()).or_default().push(w);
    }
    let experiments = registry
        .experiments
        .iter()
        .filter_map(|exp| {
            let (b, source) = match crate::dap::rates::built(exp, dap) {
                Some(b) => (b, "dap"),
                None => (from_ldp(exp, by_exp.get(exp.id.as_str())?)?, "ldp"),
            };
            let comps: Vec<Comparison> = match b.variants.split_first() {
                Some((c, rest)) if c.variant == exp.variants[0] => rest
                    .iter()
                    .filter(|v| v.variant != HOLDOUT_VARIANT)
                    .map(|v| compare(c, v))
                    .collect(),
                _ => Vec::new(),
            };
            Some(ExperimentStats {
                experiment: exp.id.clone(),
                mode: exp.mode,
                source: source.into(),
                k: exp.k,
                reports: b.reports,
                srm_p_value: b.srm.and_then(|(counts, shares)| srm_p_value(&counts, &shares)),
                verdict: verdict(
                    &b.variants,
                    &comps,
                    b.span.1.saturating_sub(b.span.0) as f64 / 86_400.0,
                ),
                comparisons: comps,
                variants: b.variants,
                windows: b.windows,
                segments: segment_stats(exp, dap),
            })
        })
        .collect();
    StatsDoc { v: 2, experiments }
}

/// Per-segment rates of a DAP task with a segment axis (empty otherwise).
fn segment_stats(exp: &Experiment, dap: &[DapWindow]) -> Vec<SegmentStats> {
    let (n, per) = crate::dap::rates::segment_rates(exp, dap);
    per.into_iter()
        .map(|(segment, variants)| SegmentStats {
            segment,
            and_later: usize::from(segment) + 1 == n && n < usize::from(SEGMENTS),
            variants,
        })
        .collect()
}

/// Build the priors document: per experiment and variant over all released windows, and per segment
/// for a DAP task with a segment axis (local-DP reports never carry a segment: only pooled priors).
pub fn priors(registry: &Registry, windows: &[WindowRow], dap: &[DapWindow]) -> PriorsDoc {
    let doc = stats(registry, windows, dap);
    let prior = |experiment: &str, segment: Option<u8>, v: &Rates| {
        let (alpha, beta) = beta_prior(&v.ctr);
        Prior {
            experiment: experiment.to_owned(),
            variant: v.variant.clone(),
            segment,
            alpha,
            beta,
            reports: v.impressions,
        }
    };
    let priors = doc
        .experiments
        .iter()
        .flat_map(|e| {
            let pooled = e.variants.iter().map(move |v| (None, v));
            let segmented = e
                .segments
                .iter()
                .filter(|s| !s.and_later)
                .flat_map(|s| s.variants.iter().map(move |v| (Some(s.segment), v)));
            pooled
                .chain(segmented)
                .filter(|(_, v)| v.variant != HOLDOUT_VARIANT)
                .map(|(segment, v)| prior(&e.experiment, segment, v))
        })
        .collect();
    PriorsDoc { v: 1, k: 0, priors }
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
