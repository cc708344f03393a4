//! Unbiased estimates from OUE-noised counts, with intervals that include the privacy noise, the
//! sample-ratio-mismatch test, and Beta priors for the bandit.
//!
//! For one ε, bit `v` of an entry is 1 with probability `p` if `v` is the true outcome, else `q`, so
//! `π̂_v = (ones_v / n − q) / (p − q)` is unbiased for the share of outcome `v`. Every metric is linear in
//! the shares, `m = c + Σ_v w_v π_v` (CTR = 1 − π_seen; add-to-cart = 1 − π_seen − π_click; CVR =
//! 1 − π_seen − π_click − π_cart; revenue per impression = Σ_b value_b · π_purchase_b), so it is the mean
//! of per-entry values `y = c + Σ_v w_v (b_v − q)/(p − q)`, whose variance is
//! `[Σ_v w_v² q(1−q) + Σ_v π_v w_v² (p(1−p) − q(1−q))] / (p−q)²  +  Σ_v π_v w_v² − (Σ_v π_v w_v)²`:
//! the randomisation's noise plus the sampling variance of the true outcomes. Groups with different ε are
//! pooled by summing their de-biased totals and their variances.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
use vitrine::report::{Oue, CATEGORIES, REVENUE_BUCKET_VALUE};

/// Noised counts of one group at one ε.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counts {
    /// Entries.
    pub n: u64,
    /// Sum of each bit.
    pub ones: [u64; CATEGORIES],
}

impl Counts {
    /// Add another group's counts.
    pub fn add(&mut self, n: u64, ones: &[u64; CATEGORIES]) {
        self.n += n;
        for (a, b) in self.ones.iter_mut().zip(ones) {
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

/// The per-variant metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Share of exposures that clicked (or went deeper).
    Ctr,
    /// Share that added to cart (or purchased).
    AddToCart,
    /// Share that purchased.
    Conversion,
    /// Clamped, bucketed revenue per exposure.
    RevenuePerImpression,
}

impl Metric {
    /// All metrics, in display order.
    pub const ALL: [Metric; 4] = [
        Metric::Ctr,
        Metric::AddToCart,
        Metric::Conversion,
        Metric::RevenuePerImpression,
    ];

    /// `(c, w)` with `metric = c + Σ w_v π_v`. Complements where they touch fewer bits: fewer noisy terms.
    pub fn linear(self) -> (f64, [f64; CATEGORIES]) {
        let mut w = [0.0; CATEGORIES];
        match self {
            Metric::Ctr => {
                w[0] = -1.0;
                (1.0, w)
            }
            Metric::AddToCart => {
                w[..2].fill(-1.0);
                (1.0, w)
            }
            Metric::Conversion => {
                w[..3].fill(-1.0);
                (1.0, w)
            }
            Metric::RevenuePerImpression => {
                w[3..].copy_from_slice(&REVENUE_BUCKET_VALUE);
                (0.0, w)
            }
        }
    }

    /// The metric's value for a known distribution of true outcomes (simulations, tests).
    pub fn truth(self, shares: &[f64; CATEGORIES]) -> f64 {
        let (c, w) = self.linear();
        c + w.iter().zip(shares).map(|(w, s)| w * s).sum::<f64>()
    }
}

/// z for a two-sided 95 % interval.
pub fn z95() -> f64 {
    // Normal::new(0, 1) cannot fail; the fallback is the same number.
    Normal::new(0.0, 1.0).map_or(1.959_963_984_540_054, |n| n.inverse_cdf(0.975))
}

/// Estimate `metric` from groups of `(eps_micros, counts)`. `None` without entries or with an ε the
/// core would not accept (such rows cannot have been ingested).
pub fn estimate(groups: &[(u64, Counts)], metric: Metric) -> Option<Interval> {
    let (c, w) = metric.linear();
    let (mut total, mut var_total, mut n_total) = (0.0, 0.0, 0u64);
    for (eps_micros, counts) in groups.iter().filter(|(_, c)| c.n > 0) {
        let oue = Oue::new(*eps_micros as f64 / 1e6).ok()?;
        let (p, q, n) = (oue.p, oue.q, counts.n as f64);
        let gap = p - q;
        let pi: Vec<f64> = counts.ones.iter().map(|&o| (o as f64 / n - q) / gap).collect();
        let mean = c + w.iter().zip(&pi).map(|(w, p)| w * p).sum::<f64>();
        // Plug-in shares for the variance: clamped, since a negative share has no variance meaning.
        let pc: Vec<f64> = pi.iter().map(|p| p.clamp(0.0, 1.0)).collect();
        let w2 = |i: usize| w[i] * w[i];
        let noise = (0..CATEGORIES).map(|i| w2(i) * q * (1.0 - q)).sum::<f64>()
            + (0..CATEGORIES)
                .map(|i| pc[i] * w2(i) * (p * (1.0 - p) - q * (1.0 - q)))
                .sum::<f64>();
        let first = (0..CATEGORIES).map(|i| pc[i] * w[i]).sum::<f64>();
        let second = (0..CATEGORIES).map(|i| pc[i] * w2(i)).sum::<f64>();
        let per_entry = noise / (gap * gap) + (second - first * first).max(0.0);
        total += mean * n;
        var_total += per_entry * n;
        n_total += counts.n;
    }
    if n_total == 0 {
        return None;
    }
    let n = n_total as f64;
    let (estimate, se) = (total / n, var_total.sqrt() / n);
    let z = z95();
    Some(Interval {
        estimate,
        lo: estimate - z * se,
        hi: estimate + z * se,
        se,
    })
}

/// Chi-square goodness-of-fit p-value of the arms' exposure counts against an equal split. Exposures
/// are sent in clear (they are the group key), so no de-biasing is needed. `None` for fewer than 2 arms.
pub fn srm_p_value(counts: &[u64]) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if counts.len() < 2 || total == 0 {
        return None;
    }
    let expected = total as f64 / counts.len() as f64;
    let chi2: f64 = counts
        .iter()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
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

    #[test]
    fn srm_detects_a_skewed_split() {
        assert!(srm_p_value(&[5000, 5000]).unwrap() > 0.99);
        // 5000 vs 5300: chi² = 8.74, p ≈ 0.0031 (scipy.stats.chisquare).
        let p = srm_p_value(&[5000, 5300]).unwrap();
        assert!((p - 0.00311).abs() < 2e-4, "{p}");
        assert!(srm_p_value(&[10]).is_none());
    }

    #[test]
    fn exact_expected_counts_give_exact_estimates() {
        // With bit sums at their expectation, the estimator returns the truth exactly.
        let oue = Oue::new(1.0).unwrap();
        let shares = [0.9, 0.05, 0.02, 0.01, 0.01, 0.005, 0.005];
        let n = 1_000_000u64;
        let mut ones = [0u64; CATEGORIES];
        for (o, s) in ones.iter_mut().zip(shares) {
            *o = (n as f64 * (s * oue.p + (1.0 - s) * oue.q)).round() as u64;
        }
        for m in Metric::ALL {
            let est = estimate(&[(1_000_000, Counts { n, ones })], m).unwrap();
            let truth = m.truth(&shares);
            // Rounding each count moves each share by at most 0.5 / (n (p − q)) ≈ 2.2e-6.
            let tol = 2.5e-6 * m.linear().1.iter().map(|w| w.abs()).sum::<f64>();
            assert!((est.estimate - truth).abs() < tol, "{m:?} {est:?} vs {truth}");
        }
    }

    #[test]
    fn strong_data_make_strong_priors() {
        let (a, b) = beta_prior(&Interval {
            estimate: 0.05,
            lo: 0.04,
            hi: 0.06,
            se: 0.005,
        });
        assert!((a / (a + b) - 0.05).abs() < 1e-9);
        assert!((a + b - 1899.0).abs() < 1e-6);
    }
}
