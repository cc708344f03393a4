//! Thompson sampling over Beta posteriors, blended with the caller's semantic-fit score.

use rand::Rng;
use rand_distr::{Beta, Distribution};

use super::{validate_candidates, Arm, ArmScore, Choice, Posteriors, Why};
use crate::{Error, Result};

/// Sample each variant's click rate from its posterior, weight it by `exp(fit_weight · fit)`, and pick the
/// highest score. Multiplicative so that fit re-ranks variants of similar rate without letting a good fit
/// rescue a variant the data say is much worse.
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
            "fit_weight {fit_weight} must be finite and ≥ 0; 1.0 is a sensible start, 0 ignores fit"
        )));
    }
    let mut scores = Vec::with_capacity(candidates.len());
    for c in candidates {
        let (alpha, beta) = posteriors.beta(experiment, &c.id, segment);
        let dist = Beta::new(alpha, beta).map_err(|e| {
            Error::InvalidInput(format!(
                "Beta({alpha}, {beta}) for variant {} is invalid ({e}); check the priors",
                c.id
            ))
        })?;
        let sampled_rate = dist.sample(rng);
        let fit = c.fit.clamp(-1.0, 1.0);
        let score = sampled_rate * f64::from(fit_weight * fit).exp();
        scores.push(ArmScore {
            variant: c.id.clone(),
            alpha,
            beta,
            sampled_rate,
            fit: c.fit,
            score,
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

    #[test]
    fn fit_tilts_close_arms_and_choice_explains_itself() {
        let mut p = Posteriors::flat();
        p.set_prior("e", "A", None, 500.0, 9500.0);
        p.set_prior("e", "B", None, 500.0, 9500.0);
        assert!(
            wins_of_b(&p, 0.5, 1.0, 3) > 1950,
            "equal rates: a fit of 0.5 (×1.65) decides"
        );
        assert!(
            (850..1150).contains(&wins_of_b(&p, 0.5, 0.0, 3)),
            "fit_weight 0 ignores fit"
        );
        let c = choose_bandit("e", &cands(0.2), 0, 1.0, &p, &mut StdRng::seed_from_u64(0)).unwrap();
        let Why::Bandit { scores } = c.why else {
            panic!("bandit choice explains with scores")
        };
        assert_eq!(scores.len(), 2);
        assert!((scores[1].score - scores[1].sampled_rate * 0.2f64.exp()).abs() < 1e-6);
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
