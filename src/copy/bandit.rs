//! Thompson sampling over Beta posteriors whose prior mean comes from the caller's semantic fit.
//!
//! With little data the fit must lead (a Christmas session should mostly see the Christmas banner), and
//! with much data the click rates must (a fit cannot rescue a variant that does not convert). So each
//! arm's posterior is `Beta(α_c + S·m + clicks, β_c + S·(1 − m) + impressions − clicks)`: the collector's
//! prior `(α_c, β_c)` (none without a collector), a fit prior worth [`FIT_STRENGTH`] impressions whose
//! mean `m = σ(logit(r) + w · (fit − mean fit))` tilts the arms' common rate `r` (the collector priors'
//! pooled mean, [`BASE_RATE`] without them) by the fit weight `w`, and this device's own counts. Data
//! outgrow the fit prior after a few dozen impressions; sampling keeps exploring all along.

use rand::Rng;
use rand_distr::{Beta, Distribution};

use super::{validate_candidates, Arm, ArmScore, Choice, Posteriors, Why};
use crate::{Error, Result};

/// Impressions the fit prior is worth.
pub const FIT_STRENGTH: f64 = 10.0;
/// The click rate the fit prior centres on when the collector has published no priors.
pub const BASE_RATE: f64 = 0.05;
/// Default fit weight for all-MiniLM-L6-v2's cosines (other encoders carry theirs in the model file,
/// `model::Scores`), in logits of prior click rate per unit of cosine fit. With it, the demo's
/// Christmas session (Christmas banner fit 0.68, the others 0.35 to 0.42) is shown the Christmas banner
/// about 9 times in 10 with no data (tests/copy.rs), and a variant 0.1 ahead of three others is shown
/// about half the time.
pub const DEFAULT_FIT_WEIGHT: f32 = 8.0;

/// Samples each variant's click rate from its posterior (see the module docs) and picks the highest.
pub fn choose_bandit<R: Rng + ?Sized>(
    experiment: &str,
    candidates: &[Arm],
    segment: u8,
    fit_weight: f32,
    posteriors: &Posteriors,
    rng: &mut R,
) -> Result<Choice> {
    validate_candidates(experiment, candidates)?;
    if !(fit_weight.is_finite() && fit_weight >= 0.0) {
        return Err(Error::InvalidInput(format!(
            "fit_weight {fit_weight} must be finite and ≥ 0; {DEFAULT_FIT_WEIGHT} is the default, 0 ignores fit"
        )));
    }
    let priors: Vec<Option<(f64, f64)>> = candidates
        .iter()
        .map(|c| posteriors.prior(experiment, &c.id, segment))
        .collect();
    let (a_sum, n_sum) = priors
        .iter()
        .flatten()
        .fold((0.0, 0.0), |(a, n), (pa, pb)| (a + pa, n + pa + pb));
    let base = if n_sum > 0.0 {
        (a_sum / n_sum).clamp(1e-4, 1.0 - 1e-4)
    } else {
        BASE_RATE
    };
    let fits: Vec<f64> = candidates
        .iter()
        .map(|c| f64::from(c.fit.clamp(-1.0, 1.0)))
        .collect();
    let mean_fit = fits.iter().sum::<f64>() / fits.len() as f64;
    let mut scores = Vec::with_capacity(candidates.len());
    for ((c, prior), fit) in candidates.iter().zip(&priors).zip(&fits) {
        // Clamped so that a huge weight still leaves a valid Beta (both parameters > 0).
        let m = sigmoid(logit(base) + f64::from(fit_weight) * (fit - mean_fit)).clamp(1e-9, 1.0 - 1e-9);
        let (collector_a, collector_b) = prior.unwrap_or((0.0, 0.0));
        let (successes, failures) = posteriors.local(experiment, &c.id).counts();
        let alpha = collector_a + FIT_STRENGTH * m + successes;
        let beta = collector_b + FIT_STRENGTH * (1.0 - m) + failures;
        let dist = Beta::new(alpha, beta).map_err(|e| {
            Error::InvalidInput(format!(
                "Beta({alpha}, {beta}) for variant {} is invalid ({e}); check the priors",
                c.id
            ))
        })?;
        let sampled_rate = dist.sample(rng);
        scores.push(ArmScore {
            variant: c.id.clone(),
            alpha,
            beta,
            sampled_rate,
            fit: c.fit,
            score: sampled_rate,
        });
    }
    // Candidates are non-empty (validated) and scores finite (Beta samples lie in [0, 1]).
    let best = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.score.total_cmp(&b.1.score))
        .map_or(0, |(i, _)| i);
    let variant = scores[best].variant.clone();
    Ok(Choice {
        report_variant: variant.clone(),
        variant,
        why: Why::Bandit { scores },
    })
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn cands(fit_b: f32) -> Vec<Arm> {
        vec![
            Arm {
                id: "A".into(),
                fit: 0.0,
            },
            Arm {
                id: "B".into(),
                fit: fit_b,
            },
        ]
    }

    fn wins_of_b(p: &Posteriors, fit_b: f32, fit_weight: f32, seed: u64) -> usize {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..2000)
            .filter(|_| {
                choose_bandit("e", &cands(fit_b), 0, fit_weight, p, &mut rng)
                    .unwrap()
                    .variant
                    == "B"
            })
            .count()
    }

    #[test]
    fn strong_priors_pick_the_better_arm_most_of_the_time() {
        let mut p = Posteriors::flat();
        // 0.05 vs 0.07 on 5,000 pseudo-observations each: P(B sample > A sample) ≈ 0.9999.
        p.set_prior("e", "A", None, 250.0, 4750.0);
        p.set_prior("e", "B", None, 350.0, 4650.0);
        assert!(wins_of_b(&p, 0.0, 1.0, 1) > 1960);
    }

    #[test]
    fn flat_priors_explore_evenly() {
        let wins = wins_of_b(&Posteriors::flat(), 0.0, 1.0, 2);
        // Fair coin over 2000 draws: sd ≈ 22; allow 5 sd.
        assert!((890..1110).contains(&wins), "{wins}");
    }

    // References below: 4,000,000 draws per arm with numpy's Beta sampler (an independent
    // implementation) from the posteriors the module docs define; bounds are ± 5 sd of 2,000 draws.

    #[test]
    fn without_data_the_fit_leads_and_exploration_continues() {
        let p = Posteriors::flat();
        // Fits 0 and 0.2 at weight 8: prior means .0231 and .1049 worth 10 impressions; P(B) = .865.
        let wins = wins_of_b(&p, 0.2, 8.0, 3);
        assert!((1654..=1806).contains(&wins), "{wins}");
        // Weight 0 ignores fit: both Beta(0.5, 9.5), a fair coin.
        let wins = wins_of_b(&p, 0.2, 0.0, 3);
        assert!((888..=1112).contains(&wins), "{wins}");
    }

    #[test]
    fn data_outgrow_the_fit() {
        // 10,000 collector reports at 5 % for each arm: the fit's 10 pseudo-impressions barely move
        // them; P(B) = .511.
        let mut p = Posteriors::flat();
        p.set_prior("e", "A", None, 500.0, 9500.0);
        p.set_prior("e", "B", None, 500.0, 9500.0);
        let wins = wins_of_b(&p, 0.2, 8.0, 4);
        assert!((909..=1133).contains(&wins), "{wins}");
        // A fit cannot rescue a variant the data say is worse: B at 7 % beats a fitting A at 5 %
        // (P(B) = .99999).
        let mut p = Posteriors::flat();
        p.set_prior("e", "A", None, 250.0, 4750.0);
        p.set_prior("e", "B", None, 350.0, 4650.0);
        let fitting_a = vec![
            Arm {
                id: "A".into(),
                fit: 0.2,
            },
            Arm {
                id: "B".into(),
                fit: 0.0,
            },
        ];
        let mut rng = StdRng::seed_from_u64(5);
        let b = (0..2000)
            .filter(|_| {
                let c = choose_bandit("e", &fitting_a, 0, 8.0, &p, &mut rng).unwrap();
                c.variant == "B"
            })
            .count();
        assert!(b >= 1995, "{b}");
    }

    #[test]
    fn the_choice_explains_its_posteriors() {
        // No collector, fits 0 and 0.2, weight 8: logit(.05) ∓ 0.8 gives prior means .02310 and .10485,
        // worth 10 impressions each; B was shown twice on this device and clicked once.
        let mut p = Posteriors::flat();
        p.impression("e", "B");
        p.impression("e", "B");
        p.click("e", "B");
        let c = choose_bandit("e", &cands(0.2), 0, 8.0, &p, &mut StdRng::seed_from_u64(0)).unwrap();
        let Why::Bandit { scores } = c.why else {
            panic!("bandit choice explains with scores")
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-4;
        assert!(
            close(scores[0].alpha, 0.2310) && close(scores[0].beta, 9.7690),
            "{scores:?}"
        );
        assert!(
            close(scores[1].alpha, 2.0485) && close(scores[1].beta, 9.9515),
            "{scores:?}"
        );
        assert_eq!(scores[1].score, scores[1].sampled_rate);
    }

    #[test]
    fn a_huge_fit_weight_still_samples() {
        let mut rng = StdRng::seed_from_u64(0);
        let c = choose_bandit("e", &cands(1.0), 0, 1e6, &Posteriors::flat(), &mut rng).unwrap();
        assert_eq!(c.variant, "B");
    }

    #[test]
    fn rejects_non_finite_fit() {
        let bad = vec![Arm {
            id: "A".into(),
            fit: f32::NAN,
        }];
        let mut rng = StdRng::seed_from_u64(0);
        assert!(choose_bandit("e", &bad, 0, 1.0, &Posteriors::flat(), &mut rng).is_err());
    }
}
