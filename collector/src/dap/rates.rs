//! Per-variant rates from DAP cells. A cell is an exact count of shoppers plus the discrete-Laplace
//! noise both aggregators add (variance `noise_var` per cell, independent across cells), so a rate
//! `x / n` (`x`: the cells at or past a funnel stage, `n`: all the variant's cells) has the sampling
//! variance `p(1 − p)/n` plus, by the delta method, `σ² · ((n − x)² · |stage cells| + x² · |other cells|) / n⁴`.

use vitrine::report::{Experiment, CATEGORIES};

use super::schedule::DapWindow;
use crate::estimate::Interval;
use crate::stats::{Built, Rates, WindowStats};

/// Cells from the funnel stage on: clicked (1), added to cart (2), purchased (3 and the revenue buckets).
const STAGES: [usize; 3] = [1, 2, 3];

/// One rate with its interval, from one variant's `cells`.
fn rate(cells: &[f64], from: usize, noise_var: f64) -> Option<Interval> {
    let n: f64 = cells.iter().sum();
    if n < 1.0 {
        return None;
    }
    let x: f64 = cells[from..].iter().sum();
    let p = x / n;
    let pc = p.clamp(0.0, 1.0);
    let sampling = pc * (1.0 - pc) / n;
    let above = (cells.len() - from) as f64;
    let below = from as f64;
    let noise = noise_var * ((n - x).powi(2) * above + x * x * below) / n.powi(4);
    Some(Interval::new(p, (sampling + noise).sqrt()))
}

/// Rates of every registered variant with at least one (estimated) shopper, registry order.
/// `cells` is the experiment's vector (`variant · CATEGORIES + outcome`).
pub fn rates(exp: &Experiment, cells: &[f64], noise_var: f64) -> Vec<Rates> {
    if cells.len() != exp.variants.len() * CATEGORIES {
        return Vec::new();
    }
    exp.variants
        .iter()
        .zip(cells.chunks(CATEGORIES))
        .filter_map(|(variant, c)| {
            let [ctr, atc, cvr] = STAGES.map(|s| rate(c, s, noise_var));
            Some(Rates {
                variant: variant.clone(),
                impressions: c.iter().sum::<f64>().max(0.0).round() as u64,
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
    let variants = rates(exp, &total, noise_var);
    let counts: Vec<u64> = total
        .chunks(CATEGORIES)
        .map(|c| c.iter().sum::<f64>().max(0.0).round() as u64)
        .collect();
    let v = exp.variants.len();
    let last = released.last().map_or(first.start, |(w, _)| w.start + w.duration);
    Some(Built {
        variants,
        reports: released.iter().filter_map(|(w, _)| w.reports).sum(),
        srm: (exp.mode == vitrine::report::ExperimentMode::Ab).then(|| (counts, vec![1.0 / v as f64; v])),
        span: (first.start, last),
        windows: released
            .iter()
            .enumerate()
            .map(|(i, (w, cells))| WindowStats {
                seq: i as u64 + 1,
                start: w.start,
                end: w.start + w.duration,
                variants: rates(exp, cells, w.noise_var),
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
        let r = rates(&exp(), &cells, 0.0);
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
            let exact = rates(&exp(), &cells, 0.0);
            for c in cells.iter_mut() {
                *c += discrete_laplace(&mut rng, 2.0) + discrete_laplace(&mut rng, 2.0);
            }
            let r = rates(&exp(), &cells, sigma2);
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
}
