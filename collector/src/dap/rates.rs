//! Per-variant rates from DAP cells. A cell is an exact count of shoppers plus the discrete-Laplace
//! noise both aggregators add (variance `σ²` per cell, independent across cells). A rate is `x / n`
//! (`x`: the variant's cells at or past a funnel stage, `n`: all its cells).
//!
//! The aggregators also release the batch's report count `R` without noise, and the cells of all `V`
//! variants add up to it. So each variant's total is corrected by an equal share of the difference,
//! `n' = n + (R − Σ n) / V`, which takes a fraction `1/V` of its noise out. With `a = 1 − 1/V` (1 when
//! `R` is not used), the delta method gives the noise variance of `x / n'` as
//! `σ² · (|stage cells| · (n' − a·x)² + |other cells| · a²x² + (V − 1) · 7 · x² / V²) / n'⁴`
//! (and of `1 − y/n'`, `y` the cells before the stage, the same with the roles swapped), added to the
//! sampling variance `p(1 − p)/n'`.

use vitrine::report::{Experiment, CATEGORIES, SEGMENTS};

use super::schedule::DapWindow;
use crate::estimate::Interval;
use crate::stats::{Built, Rates, WindowStats};

/// Cells from the funnel stage on: clicked (1), added to cart (2), purchased (3 and the revenue buckets).
const STAGES: [usize; 3] = [1, 2, 3];

/// How the variant totals are read: corrected by the report count (`a < 1`) or as summed.
#[derive(Clone, Copy)]
struct Totals {
    /// `1 − 1/V` with the report count, 1 without.
    a: f64,
    /// Variants whose noise enters through the correction (`V − 1`, or 0).
    others: f64,
    /// `V`.
    v: f64,
}

/// One rate with its interval, from one variant's `cells` and its corrected total `n`. With the report
/// count, `x / n` and `1 − y / n` (`y`: the cells before the stage) are different estimators; the one
/// with the smaller noise variance is used (for the small rates of a funnel, the complement: its
/// numerator is the big "seen" count, whose share of the correction cancels).
fn rate(cells: &[f64], n: f64, from: usize, noise_var: f64, t: Totals) -> Option<Interval> {
    if n < 1.0 {
        return None;
    }
    let x: f64 = cells[from..].iter().sum();
    let y: f64 = cells[..from].iter().sum();
    let (above, below) = ((cells.len() - from) as f64, from as f64);
    // σ²-free noise terms of an estimator whose numerator `z` sums `own` cells.
    let term = |own: f64, other: f64, z: f64| {
        own * (n - t.a * z).powi(2)
            + other * (t.a * z).powi(2)
            + t.others * CATEGORIES as f64 * z * z / (t.v * t.v)
    };
    let (direct, complement) = (term(above, below, x), term(below, above, y));
    let (p, noise) = if complement < direct {
        (1.0 - y / n, complement)
    } else {
        (x / n, direct)
    };
    let pc = p.clamp(0.0, 1.0);
    let sampling = pc * (1.0 - pc) / n;
    Some(Interval::new(
        p,
        (sampling + noise_var * noise / n.powi(4)).sqrt(),
    ))
}

/// Segments in a vector of `len` cells for `exp`'s variants: 1 without a segment axis, `None` when the
/// length fits no layout (a task provisioned for other variants).
pub fn segments_of(exp: &Experiment, len: usize) -> Option<usize> {
    let per = exp.variants.len() * CATEGORIES;
    (per > 0 && len % per == 0 && (1..=usize::from(SEGMENTS)).contains(&(len / per))).then(|| len / per)
}

/// The experiment's cells with the segment axis summed out (`variant · CATEGORIES + outcome`), and the
/// noise variance of each summed cell: `segments` independent noised cells, so `segments · σ²`.
pub fn fold(exp: &Experiment, cells: &[f64], noise_var: f64) -> Option<(Vec<f64>, f64)> {
    let s = segments_of(exp, cells.len())?;
    let mut folded = vec![0.0; exp.variants.len() * CATEGORIES];
    for (i, c) in cells.iter().enumerate() {
        // Cell i is ((variant · s) + segment) · CATEGORIES + outcome.
        let (variant, outcome) = (i / CATEGORIES / s, i % CATEGORIES);
        folded[variant * CATEGORIES + outcome] += c;
    }
    Some((folded, noise_var * s as f64))
}

/// One segment's cells (`variant · CATEGORIES + outcome`) of a vector with `segments` segments.
fn segment_cells(cells: &[f64], segments: usize, segment: usize) -> Vec<f64> {
    cells
        .chunks(CATEGORIES)
        .skip(segment)
        .step_by(segments)
        .flatten()
        .copied()
        .collect()
}

/// Rates of every registered variant with at least one (estimated) shopper, registry order.
/// `cells` is the experiment's vector (`((variant · segments) + segment) · CATEGORIES + outcome`; the
/// segments are summed out first, see [`fold`]); `reports`, the batch's exact report count when known
/// (it only changes anything when there is noise).
pub fn rates(exp: &Experiment, cells: &[f64], noise_var: f64, reports: Option<u64>) -> Vec<Rates> {
    let Some((folded, noise_var)) = fold(exp, cells, noise_var) else {
        return Vec::new();
    };
    let cells = folded.as_slice();
    let v = exp.variants.len() as f64;
    let sum: f64 = cells.iter().sum();
    let (t, shift) = match reports {
        Some(r) if noise_var > 0.0 => (
            Totals {
                a: 1.0 - 1.0 / v,
                others: v - 1.0,
                v,
            },
            (r as f64 - sum) / v,
        ),
        _ => (
            Totals {
                a: 1.0,
                others: 0.0,
                v,
            },
            0.0,
        ),
    };
    exp.variants
        .iter()
        .zip(cells.chunks(CATEGORIES))
        .filter_map(|(variant, c)| {
            let n = c.iter().sum::<f64>() + shift;
            let [ctr, atc, cvr] = STAGES.map(|s| rate(c, n, s, noise_var, t));
            Some(Rates {
                variant: variant.clone(),
                impressions: n.max(0.0).round() as u64,
                estimated: noise_var > 0.0,
                ctr: ctr?,
                atc_rate: atc?,
                cvr: cvr?,
            })
        })
        .collect()
}

/// The experiment's released DAP windows as statistics: whole-run rates over the summed cells (the
/// noise variances add up too), per-window rates, and the variants' exposures for the SRM test (the
/// variants split evenly: a holdout is not a DAP cell). `None` without a released window.
pub(crate) fn built(exp: &Experiment, windows: &[DapWindow]) -> Option<Built> {
    let released: Vec<(&DapWindow, &Vec<f64>)> = released(exp, windows).collect();
    let (first, _) = released.first()?;
    let mut total = vec![0.0; exp.variants.len() * CATEGORIES];
    let mut noise_var = 0.0;
    for (w, cells) in &released {
        let (folded, var) = fold(exp, cells, w.noise_var)?;
        total.iter_mut().zip(folded).for_each(|(t, c)| *t += c);
        noise_var += var;
    }
    let reports: u64 = released.iter().filter_map(|(w, _)| w.reports).sum();
    let variants = rates(exp, &total, noise_var, Some(reports));
    let counts: Vec<u64> = variants.iter().map(|r| r.impressions).collect();
    let v = exp.variants.len();
    let last = released.last().map_or(first.start, |(w, _)| w.start + w.duration);
    Some(Built {
        variants,
        reports,
        srm: (exp.mode == vitrine::report::ExperimentMode::Ab).then(|| (counts, vec![1.0 / v as f64; v])),
        span: (first.start, last),
        windows: released
            .iter()
            .enumerate()
            .map(|(i, (w, cells))| WindowStats {
                seq: i as u64 + 1,
                start: w.start,
                end: w.start + w.duration,
                variants: rates(exp, cells, w.noise_var, w.reports),
            })
            .collect(),
    })
}

/// The experiment's released windows whose cells fit its variants.
fn released<'a>(
    exp: &'a Experiment,
    windows: &'a [DapWindow],
) -> impl Iterator<Item = (&'a DapWindow, &'a Vec<f64>)> {
    windows
        .iter()
        .filter(|w| w.experiment == exp.id && w.state == "released")
        .filter_map(|w| Some((w, w.cells.as_ref()?)))
        .filter(|(_, c)| segments_of(exp, c.len()).is_some())
}

/// Per-segment rates of a task with a segment axis, over its released windows (without the report-count
/// correction, which holds only for the whole batch): `(segment, variants' rates)` for each segment with
/// shoppers, and the task's segment count. Empty without a segment axis. Windows of another segment
/// count (a re-provisioned task) are left out.
pub fn segment_rates(exp: &Experiment, windows: &[DapWindow]) -> (usize, Vec<(u8, Vec<Rates>)>) {
    let released: Vec<_> = released(exp, windows).collect();
    let Some(s) = released.last().and_then(|(_, c)| segments_of(exp, c.len())) else {
        return (0, Vec::new());
    };
    if s < 2 {
        return (s, Vec::new());
    }
    let len = s * exp.variants.len() * CATEGORIES;
    let mut total = vec![0.0; len];
    let mut noise_var = 0.0;
    for (w, cells) in released.iter().filter(|(_, c)| c.len() == len) {
        total.iter_mut().zip(cells.iter()).for_each(|(t, c)| *t += c);
        noise_var += w.noise_var;
    }
    let per = (0..s)
        .map(|seg| {
            (
                seg as u8,
                rates(exp, &segment_cells(&total, s, seg), noise_var, None),
            )
        })
        .filter(|(_, r)| !r.is_empty())
        .collect();
    (s, per)
}

/// A draw of discrete Laplace noise of scale `t` (`P(x) ∝ e^{−|x|/t}`), as the difference of two
/// geometric variables: what one aggregator adds to a cell, for simulations and tests (Janus's own noise
/// comes from prio and is not seeded).
pub fn discrete_laplace<R: rand::Rng + ?Sized>(rng: &mut R, t: f64) -> f64 {
    let q = (-1.0 / t).exp();
    let mut geometric = || ((1.0 - rng.random::<f64>()).ln() / q.ln()).floor();
    geometric() - geometric()
}

#[cfg(test)]
#[path = "rates_tests.rs"]
mod tests;
