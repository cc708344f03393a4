//! The randomisers a report's value goes through before it leaves, and the choice among them by variance
//! at the SDK's ε for a domain of `d` values.
//!
//! Noise variance of one de-biased frequency estimate per report, near frequency 0 (Wang et al.,
//! USENIX Security 2017, "Locally Differentially Private Protocols for Frequency Estimation"):
//! - generalised randomised response (GRR): `(d − 2 + e^ε) / (e^ε − 1)²`;
//! - optimised unary encoding (OUE): `4 e^ε / (e^ε − 1)²`, whatever `d`;
//! - optimal local hashing (OLH) with `g` hash buckets: `(e^ε − 1 + g)² / ((e^ε − 1)² (g − 1))`, which is
//!   OUE's value at the real optimum `g = e^ε + 1` and above it for any whole `g`: OLH only saves message
//!   size, which does not matter at our `d ≤ 32`, so it is never chosen.
//!
//! GRR wins while `d < 3 e^ε + 2` (at ε = 2: `d ≤ 24`), OUE above.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The mechanisms we implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// Generalised randomised response: one value, the true one with probability `p`.
    Grr,
    /// Optimised unary encoding: `d` bits, the true one set with `p = 1/2`, others with `q`.
    Oue,
}

/// Noise variance per report of GRR over `d` values at ε (see the module header).
pub fn grr_variance(d: usize, epsilon: f64) -> f64 {
    let e = epsilon.exp();
    (d as f64 - 2.0 + e) / (e - 1.0).powi(2)
}

/// Noise variance per report of OUE at ε.
pub fn oue_variance(epsilon: f64) -> f64 {
    let e = epsilon.exp();
    4.0 * e / (e - 1.0).powi(2)
}

/// Noise variance per report of OLH with `g` buckets at ε.
pub fn olh_variance(g: usize, epsilon: f64) -> f64 {
    let e = epsilon.exp();
    (e - 1.0 + g as f64).powi(2) / ((e - 1.0).powi(2) * (g as f64 - 1.0))
}

/// A randomiser for a domain of `d` values at ε: `p` = P(report the true value / set its bit),
/// `q` = P(report a given other value / set another bit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Randomiser {
    /// Which mechanism.
    pub mechanism: Mechanism,
    /// Domain size.
    pub d: usize,
    /// Privacy loss of one randomised value.
    pub epsilon: f64,
    /// See the type.
    pub p: f64,
    /// See the type.
    pub q: f64,
}

impl Randomiser {
    /// The lower-variance mechanism for `d` values at ε (GRR on a tie: one value is the smaller report).
    pub fn for_domain(d: usize, epsilon: f64) -> Result<Self> {
        let m = if grr_variance(d, epsilon) <= oue_variance(epsilon) {
            Mechanism::Grr
        } else {
            Mechanism::Oue
        };
        Self::new(m, d, epsilon)
    }

    /// A given mechanism (tests and the before/after comparison use OUE at other settings).
    pub fn new(mechanism: Mechanism, d: usize, epsilon: f64) -> Result<Self> {
        if d < 2 || !(epsilon.is_finite() && epsilon > 0.0) {
            return Err(Error::InvalidInput(format!(
                "a randomiser needs a domain of 2+ values and ε > 0, got d = {d}, ε = {epsilon}"
            )));
        }
        let e = epsilon.exp();
        let (p, q) = match mechanism {
            Mechanism::Grr => (e / (e + d as f64 - 1.0), 1.0 / (e + d as f64 - 1.0)),
            Mechanism::Oue => (0.5, 1.0 / (e + 1.0)),
        };
        Ok(Self {
            mechanism,
            d,
            epsilon,
            p,
            q,
        })
    }

    /// Randomise `value` (< d). GRR: the value, or one of the others uniformly; OUE: `d` independent bits.
    pub fn randomise<R: Rng + ?Sized>(&self, value: usize, rng: &mut R) -> Randomised {
        match self.mechanism {
            Mechanism::Grr => {
                if rng.random_bool(self.p) {
                    Randomised::Value(value as u16)
                } else {
                    // Uniform over the d − 1 other values.
                    let other = rng.random_range(0..self.d - 1);
                    Randomised::Value((other + usize::from(other >= value)) as u16)
                }
            }
            Mechanism::Oue => Randomised::Bits(
                (0..self.d)
                    .map(|i| u8::from(rng.random_bool(if i == value { self.p } else { self.q })))
                    .collect(),
            ),
        }
    }

    /// Whether `r` has this randomiser's shape (one value below d, or d bits of 0/1).
    pub fn accepts(&self, r: &Randomised) -> bool {
        match (self.mechanism, r) {
            (Mechanism::Grr, Randomised::Value(v)) => usize::from(*v) < self.d,
            (Mechanism::Oue, Randomised::Bits(b)) => b.len() == self.d && b.iter().all(|&x| x <= 1),
            _ => false,
        }
    }
}

/// The randomised part of a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(untagged)]
pub enum Randomised {
    /// GRR: one value of the domain.
    Value(u16),
    /// OUE: one bit per value of the domain.
    Bits(Vec<u8>),
}

impl Randomised {
    /// Adds this report to per-value counts (GRR: the reported value; OUE: every set bit).
    pub fn add_to(&self, counts: &mut [u64]) {
        match self {
            Randomised::Value(v) => {
                if let Some(c) = counts.get_mut(usize::from(*v)) {
                    *c += 1;
                }
            }
            Randomised::Bits(bits) => {
                for (c, b) in counts.iter_mut().zip(bits) {
                    *c += u64::from(*b);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn likelihood_ratio_is_exactly_e_to_the_epsilon() {
        for d in [4, 8, 32] {
            let g = Randomiser::new(Mechanism::Grr, d, 2.0).unwrap();
            assert!((g.p / g.q - 2f64.exp()).abs() < 1e-12);
            assert!(
                (g.p + (d - 1) as f64 * g.q - 1.0).abs() < 1e-12,
                "GRR is a distribution"
            );
            let o = Randomiser::new(Mechanism::Oue, d, 2.0).unwrap();
            let ratio = o.p * (1.0 - o.q) / ((1.0 - o.p) * o.q);
            assert!((ratio - 2f64.exp()).abs() < 1e-12, "OUE ratio {ratio}");
        }
    }

    #[test]
    fn choice_follows_the_variance_formulas() {
        // At ε = 2 GRR wins up to d = 24 (3e² + 2 = 24.2), OUE beyond.
        assert_eq!(Randomiser::for_domain(4, 2.0).unwrap().mechanism, Mechanism::Grr);
        assert_eq!(Randomiser::for_domain(24, 2.0).unwrap().mechanism, Mechanism::Grr);
        assert_eq!(Randomiser::for_domain(25, 2.0).unwrap().mechanism, Mechanism::Oue);
        // Literal values: GRR d=4 ε=2 = (2 + e²)/(e² − 1)² = 0.23001; OUE = 4e²/(e²−1)² = 0.72406 (python math).
        assert!((grr_variance(4, 2.0) - 0.230_011).abs() < 1e-5);
        assert!((oue_variance(2.0) - 0.724_062).abs() < 1e-5);
        // OLH never beats OUE with a whole number of buckets.
        for eps in [0.5, 1.0, 2.0, 3.0] {
            for g in 2..40 {
                assert!(olh_variance(g, eps) >= oue_variance(eps) - 1e-12, "g {g} ε {eps}");
            }
        }
    }

    #[test]
    fn grr_frequencies_match_p_and_q() {
        let g = Randomiser::new(Mechanism::Grr, 4, 2.0).unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let n = 200_000;
        let mut counts = [0u64; 4];
        for _ in 0..n {
            g.randomise(2, &mut rng).add_to(&mut counts);
        }
        // 5 binomial sd at n = 200k is ≤ 0.0056.
        assert!((counts[2] as f64 / n as f64 - g.p).abs() < 0.0056);
        for i in [0, 1, 3] {
            assert!((counts[i] as f64 / n as f64 - g.q).abs() < 0.0035, "value {i}");
        }
        assert!(g.accepts(&Randomised::Value(3)) && !g.accepts(&Randomised::Value(4)));
        assert!(!g.accepts(&Randomised::Bits(vec![0, 1, 0, 0])));
    }
}
