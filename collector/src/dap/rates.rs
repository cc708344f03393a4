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

use vitrine::report::{Experiment, CATEGORIES};

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

/// Rates of every registered variant with at least one (estimated) shopper, registry order.
/// `cells` is the experiment's vector (`variant · CATEGORIES + outcome`); `reports`, the batch's exact
/// report count when known (it only changes anything when there is noise).
pub fn rates(exp: &Experiment, cells: &[f64], noise_var: f64, reports: Option<u64>) -> Vec<Rates> {
    if cells.len() != exp.variants.len() * CATEGORIES {
        return Vec::new();
    }
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
    let released: Vec<(&DapWindow, &Vec<f64>)> = windows
        .iter()
        .filter(|w| w.experiment == exp.id && w.state == "released")
        .filter_map(|w| Some((w, w.cells.as_ref()?)))
        .filter(|(_, c)| c.len() == exp.variants.len() * CATEGORIES)
        .collect();
    let (first, _) = released.first()?;
    let mut total = vec![0.0; exp.variants.len() * CATEGORIES];
    let mut noise_var = 0.0;
    for (w, cells) in &released {
        total.iter_mut().zip(cells.iter()).for_each(|(t, c)| *t += c);
        noise_var += w.noise_var;
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

/// A draw of discrete Laplace noise of scale `t` (`P(x) ∝ e^{−|x|/t}`), as the difference of two
/// geometric variables: what one aggregator adds to a cell, for simulations and tests (Janus's own noise
/// comes from prio and is not seeded).
pub fn discrete_laplace<R: rand::Rng + ?Sized>(rng: &mut R, t: f64) -> f64 {
    let q = (-1.0 / t).exp();
    let mut geometric = || ((1.0 - rng.random::<f64>()).ln() / q.ln()).floor();
    geometric() - geometric()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use vitrine::report::dap::{noise_variance, VdafSpec};
    use vitrine::report::ExperimentMode;

    fn exp() -> Experiment {
        Experiment {
            id: "hero".into(),
            slot: "s".into(),
            variants: vec!["A".into(), "B".into()],
            mode: ExperimentMode::Ab,
            holdout: 0.0,
            k: 100,
            start: 0,
            end: None,
        }
    }

    #[test]
    fn exact_cells_give_the_counted_rates() {
        // A: 1000 shown, 50 clicked of which 20 carted of which 10 bought; B: 1000, 80, 30, 12.
        let mut cells = vec![0.0; 14];
        cells[..7].copy_from_slice(&[950.0, 30.0, 10.0, 4.0, 3.0, 2.0, 1.0]);
        cells[7..].copy_from_slice(&[920.0, 50.0, 18.0, 5.0, 4.0, 2.0, 1.0]);
        let r = rates(&exp(), &cells, 0.0, Some(2000));
        assert_eq!(r[0].impressions, 1000);
        assert!((r[0].ctr.estimate - 0.05).abs() < 1e-12);
        assert!((r[0].atc_rate.estimate - 0.02).abs() < 1e-12);
        assert!((r[0].cvr.estimate - 0.01).abs() < 1e-12);
        assert!((r[1].ctr.estimate - 0.08).abs() < 1e-12);
        // No noise: the binomial standard error, sqrt(.05 · .95 / 1000) = 0.0068920.
        assert!((r[0].ctr.se - 0.006_892_0).abs() < 1e-6, "{:?}", r[0].ctr);
        assert!(!r[0].estimated);
    }

    #[test]
    fn intervals_cover_the_truth_under_seeded_central_noise() {
        // 2,000 shoppers per arm at CTR 5 % and 8 %; histogram task, ε = 1 per aggregator (scale 2).
        let spec = VdafSpec::histogram(14);
        let sigma2 = 2.0 * noise_variance(&spec, 1.0);
        let truth = [0.05, 0.08];
        let (mut covered, mut total) = (0, 0);
        let mut noisy_wider = true;
        for seed in 0..400 {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut cells = vec![0.0; 14];
            for (j, &ctr) in truth.iter().enumerate() {
                for _ in 0..2000 {
                    let clicked = rng.random::<f64>() < ctr;
                    cells[j * 7 + usize::from(clicked)] += 1.0;
                }
            }
            let exact = rates(&exp(), &cells, 0.0, None);
            for c in cells.iter_mut() {
                *c += discrete_laplace(&mut rng, 2.0) + discrete_laplace(&mut rng, 2.0);
            }
            let r = rates(&exp(), &cells, sigma2, Some(4000));
            for j in 0..2 {
                total += 1;
                covered += usize::from(r[j].ctr.lo <= truth[j] && truth[j] <= r[j].ctr.hi);
                noisy_wider &= r[j].ctr.se > exact[j].ctr.se;
            }
        }
        let share = covered as f64 / total as f64;
        // 800 intervals at a nominal 95 %: the binomial spread of the share is ±1.5 % (2 sd).
        assert!((0.93..=0.97).contains(&share), "coverage {share}");
        assert!(noisy_wider, "the noise must widen every interval");
    }

    #[test]
    fn the_noise_variance_matches_a_monte_carlo_of_the_estimator() {
        // Fixed true cells (no sampling randomness), so the spread over seeds is the noise's alone.
        let mut truth = vec![0.0; 14];
        truth[..7].copy_from_slice(&[1900.0, 60.0, 20.0, 10.0, 5.0, 3.0, 2.0]);
        truth[7..].copy_from_slice(&[1850.0, 90.0, 30.0, 15.0, 8.0, 4.0, 3.0]);
        let sigma2 = 2.0 * noise_variance(&VdafSpec::histogram(14), 1.0);
        for reports in [None, Some(4000)] {
            let se2 = |nv: f64| {
                rates(&exp(), &truth, nv, reports)
                    .iter()
                    .map(|r| r.ctr.se.powi(2))
                    .collect::<Vec<_>>()
            };
            let (with, without) = (se2(sigma2), se2(0.0));
            let mut rng = StdRng::seed_from_u64(11);
            let runs = 8000;
            let mut est = vec![Vec::new(); 2];
            for _ in 0..runs {
                let cells: Vec<f64> = truth
                    .iter()
                    .map(|c| c + discrete_laplace(&mut rng, 2.0) + discrete_laplace(&mut rng, 2.0))
                    .collect();
                for (j, r) in rates(&exp(), &cells, sigma2, reports).iter().enumerate() {
                    est[j].push(r.ctr.estimate);
                }
            }
            for j in 0..2 {
                let mean = est[j].iter().sum::<f64>() / runs as f64;
                let var = est[j].iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (runs - 1) as f64;
                let predicted = with[j] - without[j];
                assert!(
                    (var / predicted - 1.0).abs() < 0.1,
                    "{reports:?} variant {j}: {var} vs {predicted}"
                );
            }
        }
    }
}
