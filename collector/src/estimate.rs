//! Unbiased estimates from randomised counts, with intervals that include the privacy noise; the
//! sample-ratio-mismatch test; Beta priors for the bandit.
//!
//! A report's value `Y` (GRR) or bits `b` (OUE) over the experiment's domain of `d` cells gives, per cell,
//! `f̂_v = (c_v / n − q) / (p − q)`, unbiased for the share of reports whose true cell is `v` (`c_v`:
//! reports with `Y = v`, or bit `v` set). A linear statistic `Σ_v u_v f_v` is the mean of per-report values
//! `y = Σ_v u_v (1[·] − q)/(p − q)`, whose variance per report is
//! - GRR: `Var(u_Y) / (p − q)²`, taken from the observed frequencies of `Y` (noise and sampling in one);
//! - OUE: `[Σ u_v² q(1−q) + Σ π_v u_v² (p(1−p) − q(1−q))] / (p − q)²  +  Σ π_v u_v² − (Σ π_v u_v)²`
//!   (privacy noise plus the sampling of the true cells, plug-in shares clamped to [0, 1]).
//!
//! An A/B arm's metric is `c + Σ_o u_o π_o` over its own reports (its arm is in clear). A bandit variant's
//! metric is a ratio `N_j / D_j` of two statistics over all reports (its variant is inside the noise); its
//! variance comes from the delta method, `Var(Σ_o (w_o − m) f̂_(j,o)) / D_j²`.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
use vitrine::report::{CellLayout, ExperimentMode, Mechanism, Randomiser, LDP_OUTCOMES};

/// Randomised counts of one group of reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Noised {
    /// Reports.
    pub n: u64,
    /// Per cell of the domain: reports with that value (GRR) or with that bit set (OUE).
    pub counts: Vec<u64>,
}

impl Noised {
    /// Empty counts over `d` cells.
    pub fn new(d: usize) -> Self {
        Self {
            n: 0,
            counts: vec![0; d],
        }
    }

    /// Add another group's counts (same domain).
    pub fn add(&mut self, other: &Noised) {
        self.n += other.n;
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }
}

/// An estimate with its 95 % interval (unclamped: the estimator is unbiased, so it may leave [0, 1]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Point estimate.
    pub estimate: f64,
    /// Lower 95 % bound.
    pub lo: f64,
    /// Upper 95 % bound.
    pub hi: f64,
    /// Standard error (privacy noise + sampling).
    pub se: f64,
}

impl Interval {
    /// `estimate ± z95 · se`.
    pub fn new(estimate: f64, se: f64) -> Self {
        let z = z95();
        Self {
            estimate,
            lo: estimate - z * se,
            hi: estimate + z * se,
            se,
        }
    }
}

/// The per-variant metrics of a local-DP report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Share of exposures that clicked (or went deeper).
    Ctr,
    /// Share that added to cart (or purchased).
    AddToCart,
    /// Share that purchased.
    Conversion,
}

impl Metric {
    /// All metrics, in display order.
    pub const ALL: [Metric; 3] = [Metric::Ctr, Metric::AddToCart, Metric::Conversion];

    /// `(c, u)` with `metric = c + Σ_o u_o π_o` over the outcomes (seen, clicked, cart, purchased).
    /// Complements: under OUE they touch fewer noisy bits; under GRR both forms are the same number.
    pub fn linear(self) -> (f64, [f64; LDP_OUTCOMES]) {
        match self {
            Metric::Ctr => (1.0, [-1.0, 0.0, 0.0, 0.0]),
            Metric::AddToCart => (1.0, [-1.0, -1.0, 0.0, 0.0]),
            Metric::Conversion => (1.0, [-1.0, -1.0, -1.0, 0.0]),
        }
    }

    /// The metric's value for a known distribution of true outcomes (simulations, tests).
    pub fn truth(self, shares: &[f64; LDP_OUTCOMES]) -> f64 {
        let (c, u) = self.linear();
        c + u.iter().zip(shares).map(|(u, s)| u * s).sum::<f64>()
    }
}

/// z for a two-sided 95 % interval.
pub fn z95() -> f64 {
    normal_quantile(0.975)
}

/// The standard normal quantile.
pub fn normal_quantile(p: f64) -> f64 {
    // Normal::new(0, 1) cannot fail; the fallback only keeps the signature total.
    Normal::new(0.0, 1.0).map_or(f64::NAN, |n| n.inverse_cdf(p))
}

/// The standard normal CDF.
pub fn normal_cdf(x: f64) -> f64 {
    Normal::new(0.0, 1.0).map_or(f64::NAN, |n| n.cdf(x))
}

/// Mean of the de-biased statistic `Σ_v u_v f_v` over the reports of `c`, and its variance per report.
pub fn linear(rr: &Randomiser, c: &Noised, u: &[f64]) -> Option<(f64, f64)> {
    if c.n == 0 || c.counts.len() != rr.d || u.len() != rr.d {
        return None;
    }
    let (p, q, n) = (rr.p, rr.q, c.n as f64);
    let gap = p - q;
    let f: Vec<f64> = c.counts.iter().map(|&k| (k as f64 / n - q) / gap).collect();
    let mean = u.iter().zip(&f).map(|(u, f)| u * f).sum::<f64>();
    let var = match rr.mechanism {
        Mechanism::Grr => {
            let obs: Vec<f64> = c.counts.iter().map(|&k| k as f64 / n).collect();
            let m1 = obs.iter().zip(u).map(|(o, u)| o * u).sum::<f64>();
            let m2 = obs.iter().zip(u).map(|(o, u)| o * u * u).sum::<f64>();
            (m2 - m1 * m1).max(0.0) / (gap * gap)
        }
        Mechanism::Oue => {
            let pc: Vec<f64> = f.iter().map(|x| x.clamp(0.0, 1.0)).collect();
            let noise = u.iter().map(|u| u * u * q * (1.0 - q)).sum::<f64>()
                + pc.iter()
                    .zip(u)
                    .map(|(s, u)| s * u * u * (p * (1.0 - p) - q * (1.0 - q)))
                    .sum::<f64>();
            let m1 = pc.iter().zip(u).map(|(s, u)| s * u).sum::<f64>();
            let m2 = pc.iter().zip(u).map(|(s, u)| s * u * u).sum::<f64>();
            noise / (gap * gap) + (m2 - m1 * m1).max(0.0)
        }
    };
    Some((mean, var))
}

/// `metric` of the variant at `variant` (A/B: the arm's own reports in `c`; bandit: all reports), with
/// its interval and the estimated number of exposures behind it. `None` when there is no estimate (no
/// reports, or a bandit variant whose estimated exposure share is not positive).
pub fn estimate(
    layout: &CellLayout,
    rr: &Randomiser,
    c: &Noised,
    variant: usize,
    metric: Metric,
) -> Option<(Interval, f64)> {
    let (k, u) = metric.linear();
    let n = c.n as f64;
    match layout.mode {
        ExperimentMode::Ab => {
            let (mean, var) = linear(rr, c, &u)?;
            Some((Interval::new(k + mean, (var / n).sqrt()), n))
        }
        ExperimentMode::Bandit => {
            let cells = layout.values_of(variant);
            let weights = |f: &dyn Fn(usize) -> f64| -> Vec<f64> {
                (0..rr.d)
                    .map(|v| {
                        if cells.contains(&v) {
                            f(v - cells.start)
                        } else {
                            0.0
                        }
                    })
                    .collect()
            };
            let (d_hat, _) = linear(rr, c, &weights(&|_| 1.0))?;
            let w = |o: usize| k + u[o];
            let (n_hat, _) = linear(rr, c, &weights(&|o| w(o)))?;
            if d_hat <= 1e-9 {
                return None;
            }
            let m = n_hat / d_hat;
            let (_, var_z) = linear(rr, c, &weights(&|o| w(o) - m))?;
            Some((Interval::new(m, (var_z / n).sqrt() / d_hat), d_hat * n))
        }
    }
}

/// Chi-square goodness-of-fit p-value of the arms' exposure counts against the registered split (the
/// holdout's share given, the rest equal). Arms are in clear, so no de-biasing. `None` below 2 arms.
pub fn srm_p_value(counts: &[u64], expected_shares: &[f64]) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if counts.len() < 2 || total == 0 || counts.len() != expected_shares.len() {
        return None;
    }
    let chi2: f64 = counts
        .iter()
        .zip(expected_shares)
        .map(|(&o, s)| {
            let e = total as f64 * s;
            (o as f64 - e).powi(2) / e
        })
        .sum();
    let dist = ChiSquared::new((counts.len() - 1) as f64).ok()?;
    Some(1.0 - dist.cdf(chi2))
}

/// A Beta prior whose mean and variance match the CTR estimate: its strength (α + β) is as large as the
/// noisy data justify, so a prior from few or heavily noised reports stays weak.
pub fn beta_prior(ctr: &Interval) -> (f64, f64) {
    let m = ctr.estimate.clamp(0.001, 0.999);
    let var = (ctr.se * ctr.se).max(1e-12);
    let strength = (m * (1.0 - m) / var - 1.0).clamp(2.0, 1e6);
    (m * strength, (1.0 - m) * strength)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitrine::report::{Experiment, REPORT_EPSILON};

    fn layout(mode: ExperimentMode) -> CellLayout {
        Experiment {
            id: "e".into(),
            slot: "s".into(),
            variants: vec!["A".into(), "B".into()],
            mode,
            holdout: 0.0,
            k: 100,
            start: 0,
            end: None,
        }
        .layout()
    }

    /// Counts exactly at their expectation for true cell shares `pi`.
    fn expected(rr: &Randomiser, pi: &[f64], n: u64) -> Noised {
        let counts = pi
            .iter()
            .map(|s| (n as f64 * (rr.q + s * (rr.p - rr.q))).round() as u64)
            .collect();
        Noised { n, counts }
    }

    #[test]
    fn srm_detects_a_skewed_split() {
        assert!(srm_p_value(&[5000, 5000], &[0.5, 0.5]).unwrap() > 0.99);
        // 5000 vs 5300: chi² = 8.74, p ≈ 0.0031 (scipy.stats.chisquare).
        let p = srm_p_value(&[5000, 5300], &[0.5, 0.5]).unwrap();
        assert!((p - 0.00311).abs() < 2e-4, "{p}");
        assert!(srm_p_value(&[10], &[1.0]).is_none());
    }

    #[test]
    fn exact_expected_counts_give_exact_estimates_in_both_layouts() {
        let n = 1_000_000_000u64;
        let ab = layout(ExperimentMode::Ab);
        let truth = [0.93, 0.04, 0.02, 0.01];
        for mech in [Mechanism::Grr, Mechanism::Oue] {
            let rr = Randomiser::new(mech, 4, REPORT_EPSILON).unwrap();
            for m in Metric::ALL {
                let (est, _) = estimate(&ab, &rr, &expected(&rr, &truth, n), 0, m).unwrap();
                assert!(
                    (est.estimate - m.truth(&truth)).abs() < 1e-6,
                    "{mech:?} {m:?} {est:?}"
                );
            }
        }
        // Bandit: variant B shown to 30 % of reports, with its own outcome shares.
        let bandit = layout(ExperimentMode::Bandit);
        let b_truth = [0.9, 0.05, 0.03, 0.02];
        let mut pi = [0.0; 8];
        for o in 0..4 {
            pi[o] = 0.7 * truth[o];
            pi[4 + o] = 0.3 * b_truth[o];
        }
        let rr = Randomiser::for_domain(8, REPORT_EPSILON).unwrap();
        let (ctr_b, exposures) = estimate(&bandit, &rr, &expected(&rr, &pi, n), 1, Metric::Ctr).unwrap();
        assert!((ctr_b.estimate - 0.10).abs() < 1e-6, "{ctr_b:?}");
        assert!((exposures / n as f64 - 0.3).abs() < 1e-6);
    }

    #[test]
    fn grr_variance_is_the_closed_form() {
        // Var per report of CTR under GRR(4, ε = 2) at π_seen = 0.95: P(Y = seen) = q + 0.95 (p − q),
        // variance P(1 − P)/(p − q)²; p = e²/(e² + 3), q = 1/(e² + 3) → 0.57489 (python math).
        let rr = Randomiser::new(Mechanism::Grr, 4, 2.0).unwrap();
        let c = expected(&rr, &[0.95, 0.05, 0.0, 0.0], 1_000_000_000);
        let (_, var) = linear(&rr, &c, &Metric::Ctr.linear().1).unwrap();
        assert!((var - 0.574_89).abs() < 1e-4, "{var}");
    }

    #[test]
    fn strong_data_make_strong_priors() {
        let (a, b) = beta_prior(&Interval::new(0.05, 0.005));
        assert!((a / (a + b) - 0.05).abs() < 1e-9);
        assert!((a + b - 1899.0).abs() < 1e-6);
    }
}
