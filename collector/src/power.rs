//! How many shoppers per arm a test needs: the estimator's own variance per report (from `estimate`, at
//! the counts the true rates produce in expectation) in the two-sample normal power formula
//! `n = (z_{1−α/2} + z_{power})² (σ_control² + σ_variant²) / δ²`. Used by `vitrine simulate --power` and by
//! the dashboard's "≈ N more shoppers per arm".

use vitrine::report::{CellLayout, ExperimentMode, Randomiser, LDP_OUTCOMES};

use crate::estimate::{estimate, normal_quantile, Metric, Noised};

/// Reports in the expected counts: large, so rounding them to whole numbers changes nothing visible.
const N: u64 = 1_000_000_000;

/// Expected counts of `N` reports whose true cells have shares `pi`.
fn expected(rr: &Randomiser, pi: &[f64]) -> Noised {
    Noised {
        n: N,
        counts: pi
            .iter()
            .map(|s| (N as f64 * (rr.q + s * (rr.p - rr.q))).round() as u64)
            .collect(),
    }
}

/// Variance of `metric`'s estimate per shopper assigned to each variant, for true outcome shares per
/// variant (`shares[j]`: seen, clicked, cart, purchased), with an equal split between variants.
pub fn per_shopper_variance(
    layout: &CellLayout,
    rr: &Randomiser,
    shares: &[[f64; LDP_OUTCOMES]],
    metric: Metric,
) -> Option<Vec<f64>> {
    let v = shares.len();
    match layout.mode {
        ExperimentMode::Ab => shares
            .iter()
            .map(|s| {
                let (i, _) = estimate(layout, rr, &expected(rr, s), 0, metric)?;
                Some(i.se * i.se * N as f64)
            })
            .collect(),
        ExperimentMode::Bandit => {
            let pi: Vec<f64> = shares.iter().flat_map(|s| s.map(|x| x / v as f64)).collect();
            let c = expected(rr, &pi);
            // Var(m̂_j) = σ² / N over all reports; a variant is shown to N / v of them.
            (0..v)
                .map(|j| {
                    let (i, _) = estimate(layout, rr, &c, j, metric)?;
                    Some(i.se * i.se * N as f64 / v as f64)
                })
                .collect()
        }
    }
}

/// Shoppers per arm to detect a difference `delta` between two arms of per-shopper variances `var_a`,
/// `var_b` with a two-sided test at `alpha` and the given `power`.
pub fn shoppers_per_arm(var_a: f64, var_b: f64, delta: f64, alpha: f64, power: f64) -> f64 {
    let z = normal_quantile(1.0 - alpha / 2.0) + normal_quantile(power);
    z * z * (var_a + var_b) / (delta * delta)
}

/// Outcome shares (seen, clicked, cart, purchased) for nested rates CTR ≥ ATC ≥ CVR.
pub fn shares(ctr: f64, atc: f64, cvr: f64) -> [f64; LDP_OUTCOMES] {
    [1.0 - ctr, ctr - atc, atc - cvr, cvr]
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitrine::report::{Experiment, Mechanism, REPORT_EPSILON};

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

    #[test]
    fn ab_at_the_sdk_epsilon_matches_the_closed_form() {
        // GRR(4, ε = 2), CTR 5 % → 7 %: σ² = P(1−P)/(p−q)² per arm with P = q + π_seen (p − q);
        // n = (1.959964 + 0.841621)² (0.574894 + 0.586234) / 0.02² = 22,784 (python math).
        let l = layout(ExperimentMode::Ab);
        let rr = Randomiser::for_domain(l.domain(), REPORT_EPSILON).unwrap();
        assert_eq!(rr.mechanism, Mechanism::Grr);
        let v = per_shopper_variance(
            &l,
            &rr,
            &[shares(0.05, 0.0, 0.0), shares(0.07, 0.0, 0.0)],
            Metric::Ctr,
        )
        .unwrap();
        let n = shoppers_per_arm(v[0], v[1], 0.02, 0.05, 0.8);
        assert!((n - 22_784.0).abs() < 30.0, "{n} from {v:?}");
    }

    #[test]
    fn the_old_mechanism_needed_184_thousand() {
        // OUE at ε = 1, the shipped v1 report (CTR reads only the `seen` bit, so its 7 outcomes vs 4 do
        // not matter): the issue's ≈ 184,000; python math gives 183,624.
        let l = layout(ExperimentMode::Ab);
        let rr = Randomiser::new(Mechanism::Oue, 4, 1.0).unwrap();
        let v = per_shopper_variance(
            &l,
            &rr,
            &[shares(0.05, 0.0, 0.0), shares(0.07, 0.0, 0.0)],
            Metric::Ctr,
        )
        .unwrap();
        let n = shoppers_per_arm(v[0], v[1], 0.02, 0.05, 0.8);
        assert!((n - 183_624.0).abs() < 30.0, "{n}");
    }
}
