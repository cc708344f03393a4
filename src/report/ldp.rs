//! Optimized unary encoding (OUE): the randomised response applied to every outcome before it leaves.

use rand::Rng;

use super::outcome::CATEGORIES;
use crate::{Error, Result};

/// Smallest ε a report may declare: below it the noise swamps any realistic number of devices.
pub const MIN_EPSILON: f64 = 0.1;
/// Largest ε a report may declare: above it the randomisation protects next to nothing.
pub const MAX_EPSILON: f64 = 8.0;

/// OUE parameters for one ε: the true bit stays 1 with probability `p`, any other bit becomes 1 with `q`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Oue {
    /// The privacy loss of one encoded outcome.
    pub epsilon: f64,
    /// P(bit = 1 | it is the true outcome) = 1/2 (the variance-optimal choice of Wang et al.).
    pub p: f64,
    /// P(bit = 1 | it is not the true outcome) = 1/(e^ε + 1).
    pub q: f64,
}

impl Oue {
    /// The parameters for `epsilon`, which must lie in [`MIN_EPSILON`, `MAX_EPSILON`].
    pub fn new(epsilon: f64) -> Result<Self> {
        if !(MIN_EPSILON..=MAX_EPSILON).contains(&epsilon) {
            return Err(Error::InvalidInput(format!(
                "epsilon {epsilon} is outside [{MIN_EPSILON}, {MAX_EPSILON}]; pick a per-entry ε in that range (1.0 is the default)"
            )));
        }
        Ok(Self {
            epsilon,
            p: 0.5,
            q: 1.0 / (epsilon.exp() + 1.0),
        })
    }

    /// Randomise the one-hot encoding of `category` (< [`CATEGORIES`]): every bit is drawn independently.
    pub fn encode<R: Rng + ?Sized>(&self, category: usize, rng: &mut R) -> [u8; CATEGORIES] {
        let mut bits = [0u8; CATEGORIES];
        for (i, bit) in bits.iter_mut().enumerate() {
            let keep = if i == category { self.p } else { self.q };
            *bit = u8::from(rng.random_bool(keep));
        }
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn likelihood_ratio_is_exactly_e_to_the_epsilon() {
        let oue = Oue::new(1.0).unwrap();
        let ratio = oue.p * (1.0 - oue.q) / ((1.0 - oue.p) * oue.q);
        assert!((ratio - 1f64.exp()).abs() < 1e-12, "ratio {ratio}");
    }

    #[test]
    fn bit_frequencies_match_p_and_q() {
        let oue = Oue::new(2.0).unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let n = 200_000;
        let mut ones = [0u32; CATEGORIES];
        for _ in 0..n {
            for (o, b) in ones.iter_mut().zip(oue.encode(2, &mut rng)) {
                *o += u32::from(b);
            }
        }
        // 5 standard deviations of a binomial proportion at n = 200k is ≈ 0.0056.
        assert!((f64::from(ones[2]) / f64::from(n) - 0.5).abs() < 0.0056);
        for (i, o) in ones.iter().enumerate().filter(|(i, _)| *i != 2) {
            assert!((f64::from(*o) / f64::from(n) - oue.q).abs() < 0.004, "bit {i}");
        }
    }

    #[test]
    fn rejects_out_of_range_epsilon() {
        assert!(Oue::new(0.0).is_err());
        assert!(Oue::new(f64::NAN).is_err());
        assert!(Oue::new(9.0).is_err());
    }
}
