//! Deterministic sticky A/B split: the same device (salt) always lands in the same arm of an experiment.

use sha2::{Digest, Sha256};

use super::{validate_candidates, Arm, Choice, Why};
use crate::report::HOLDOUT_VARIANT;
use crate::{Error, Result};

/// The device's bucket in [0, 1) for `experiment`. SHA-256 rather than a std hasher: it must be identical
/// natively and in wasm, across releases, and independent between experiments.
pub fn ab_bucket(experiment: &str, device_salt: &[u8]) -> f64 {
    let mut h = Sha256::new();
    // Length prefix: ("ab", "c") and ("a", "bc") must not collide.
    h.update((experiment.len() as u64).to_le_bytes());
    h.update(experiment.as_bytes());
    h.update(device_salt);
    let digest = h.finalize();
    let mut top = [0u8; 8];
    top.copy_from_slice(&digest[..8]);
    // 53 bits: exactly representable, uniform on [0, 1).
    (u64::from_le_bytes(top) >> 11) as f64 / (1u64 << 53) as f64
}

/// Sticky split: buckets below `holdout` see the control (first candidate) and report as `holdout`; the
/// rest are divided evenly among all candidates, the control included.
pub fn choose_ab(experiment: &str, candidates: &[Arm], holdout: f64, device_salt: &[u8]) -> Result<Choice> {
    validate_candidates(experiment, candidates)?;
    if !(0.0..1.0).contains(&holdout) {
        return Err(Error::InvalidInput(format!(
            "holdout share {holdout} must be in [0, 1); 0.05–0.1 is typical"
        )));
    }
    if device_salt.len() < 8 {
        return Err(Error::InvalidInput(
            "device salt must be at least 8 random bytes, generated once per device and kept locally".into(),
        ));
    }
    let bucket = ab_bucket(experiment, device_salt);
    let control = &candidates[0].id;
    if bucket < holdout {
        return Ok(Choice {
            variant: control.clone(),
            report_variant: HOLDOUT_VARIANT.to_owned(),
            why: Why::Ab {
                bucket,
                holdout: true,
            },
        });
    }
    let k = candidates.len();
    let idx = (((bucket - holdout) / (1.0 - holdout)) * k as f64) as usize;
    let chosen = &candidates[idx.min(k - 1)].id;
    Ok(Choice {
        variant: chosen.clone(),
        report_variant: chosen.clone(),
        why: Why::Ab {
            bucket,
            holdout: false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands() -> Vec<Arm> {
        ["ctl", "B", "C"]
            .iter()
            .map(|id| Arm {
                id: (*id).into(),
                fit: 0.0,
            })
            .collect()
    }

    #[test]
    fn sticky_per_device_and_experiment() {
        let salt = 42u64.to_le_bytes();
        let first = choose_ab("hero", &cands(), 0.1, &salt).unwrap();
        for _ in 0..10 {
            assert_eq!(choose_ab("hero", &cands(), 0.1, &salt).unwrap(), first);
        }
    }

    #[test]
    fn holdout_and_arm_shares_within_tolerance() {
        let n = 30_000u64;
        let mut holdout = 0u64;
        let mut arms = [0u64; 3];
        for d in 0..n {
            let c = choose_ab("hero", &cands(), 0.1, &d.to_le_bytes()).unwrap();
            if c.report_variant == HOLDOUT_VARIANT {
                assert_eq!(c.variant, "ctl", "the holdout sees the control");
                holdout += 1;
            } else {
                arms[cands().iter().position(|x| x.id == c.variant).unwrap()] += 1;
            }
        }
        // Binomial sd at n = 30k: holdout ≈ 0.0017, arm share (0.3) ≈ 0.0026; allow 4 sd.
        let share = holdout as f64 / n as f64;
        assert!((share - 0.1).abs() < 0.007, "holdout share {share}");
        for a in arms {
            assert!(
                (a as f64 / n as f64 - 0.3).abs() < 0.011,
                "arm share {}",
                a as f64 / n as f64
            );
        }
    }

    #[test]
    fn experiments_split_independently() {
        // The same devices must not land in the same arm of every experiment.
        let same = (0..2000u64)
            .filter(|d| {
                let s = d.to_le_bytes();
                choose_ab("e1", &cands(), 0.0, &s).unwrap().variant
                    == choose_ab("e2", &cands(), 0.0, &s).unwrap().variant
            })
            .count();
        assert!(
            (550..800).contains(&same),
            "{same} of 2000 agree; independence expects ≈ 667"
        );
    }

    #[test]
    fn rejects_bad_input() {
        let salt = [1u8; 16];
        assert!(choose_ab("hero", &cands(), 1.0, &salt).is_err());
        assert!(choose_ab("hero", &[], 0.0, &salt).is_err());
        assert!(choose_ab("hero", &cands(), 0.0, &[1, 2]).is_err());
    }
}
