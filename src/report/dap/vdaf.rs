//! The Prio3 VDAFs a task can use, their parameters as Janus names them, and sharding a cell vector.

use prio::codec::Encode;
use prio::vdaf::prio3::{Prio3Histogram, Prio3SumVec};
use prio::vdaf::Client;
use serde::{Deserialize, Serialize};

use crate::report::Outcome;
use crate::{Error, Result};

/// A task's VDAF, serialised as `{"type": "histogram", "length": 14, "chunk_length": 4}` or
/// `{"type": "sumvec", "bits": 1, "length": 14, "chunk_length": 4}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum VdafSpec {
    /// `Prio3Histogram`: exactly one cell is 1 (the proof checks it).
    Histogram {
        /// Cells.
        length: usize,
        /// Parallel-sum gadget chunk (≈ √length keeps the proof short).
        chunk_length: usize,
    },
    /// `Prio3SumVec`: every cell in `0..2^bits`.
    SumVec {
        /// Bits per cell.
        bits: usize,
        /// Cells.
        length: usize,
        /// Parallel-sum gadget chunk (≈ √(length · bits)).
        chunk_length: usize,
    },
}

/// A Prio3 instance ready to shard.
pub(crate) enum Instance {
    Histogram(Prio3Histogram),
    SumVec(Prio3SumVec),
}

impl VdafSpec {
    /// The histogram over `length` cells with the chunk length prio recommends (≈ √length).
    pub fn histogram(length: usize) -> Self {
        Self::Histogram {
            length,
            chunk_length: chunk_for(length),
        }
    }

    /// The vector sum of `length` cells of `bits` bits, chunk ≈ √(length · bits).
    pub fn sum_vec(bits: usize, length: usize) -> Self {
        Self::SumVec {
            bits,
            length,
            chunk_length: chunk_for(length * bits),
        }
    }

    /// Cells in the vector.
    pub fn length(&self) -> usize {
        match *self {
            Self::Histogram { length, .. } | Self::SumVec { length, .. } => length,
        }
    }

    /// L1 sensitivity Janus (prio 0.16) calibrates its discrete-Laplace noise to: 2 for a histogram
    /// (substituting one one-hot vector), `length · (2^bits − 1)` for a vector sum.
    pub fn sensitivity(&self) -> f64 {
        match *self {
            Self::Histogram { .. } => 2.0,
            Self::SumVec { bits, length, .. } => length as f64 * ((1u128 << bits.min(127)) - 1) as f64,
        }
    }

    pub(crate) fn instance(&self) -> Result<Instance> {
        let bad = |e: prio::vdaf::VdafError| Error::Dap(format!("VDAF parameters {self:?} rejected: {e}"));
        match *self {
            Self::Histogram { length, chunk_length } => {
                Prio3Histogram::new_histogram(2, length, chunk_length).map(Instance::Histogram)
            }
            Self::SumVec {
                bits,
                length,
                chunk_length,
            } => Prio3SumVec::new_sum_vec(2, bits, length, chunk_length).map(Instance::SumVec),
        }
        .map_err(bad)
    }
}

/// Variance of the noise one aggregator adds to each cell for ε: discrete Laplace of scale
/// `t = sensitivity / ε`, `P(x) ∝ e^{−|x|/t}`, whose variance is `2e^{−1/t} / (1 − e^{−1/t})²`.
pub fn noise_variance(spec: &VdafSpec, epsilon: f64) -> f64 {
    let p = (-epsilon / spec.sensitivity()).exp();
    2.0 * p / ((1.0 - p) * (1.0 - p))
}

/// Cell of `outcome` for the variant at `variant_index` in a task without a segment axis
/// ([`crate::report::dap_cell`] has the whole layout).
pub fn cell_index(variant_index: usize, outcome: Outcome) -> usize {
    crate::report::dap_cell(variant_index, 0, 0, outcome)
}

/// The one-hot cell vector of one shopper's window.
pub fn one_hot(length: usize, cell: usize) -> Result<Vec<u64>> {
    if cell >= length {
        return Err(Error::Dap(format!(
            "cell {cell} is outside the task's {length} cells"
        )));
    }
    let mut v = vec![0; length];
    v[cell] = 1;
    Ok(v)
}

fn chunk_for(n: usize) -> usize {
    ((n as f64).sqrt().round() as usize).max(1)
}

/// Encoded shards of one measurement.
pub(crate) struct Shards {
    pub public_share: Vec<u8>,
    /// Leader's, then helper's input share.
    pub input_shares: [Vec<u8>; 2],
}

impl Instance {
    /// Splits `cells` (checked against the VDAF) into the public share and two input shares, with the
    /// report id as the nonce, as DAP requires.
    pub(crate) fn shard(&self, spec: &VdafSpec, cells: &[u64], nonce: &[u8; 16]) -> Result<Shards> {
        if cells.len() != spec.length() {
            return Err(Error::Dap(format!(
                "the measurement has {} cells, the task {}",
                cells.len(),
                spec.length()
            )));
        }
        let enc = |e: prio::codec::CodecError| Error::Dap(format!("encoding a share failed: {e}"));
        let shard_err =
            |e: prio::vdaf::VdafError| Error::Dap(format!("the measurement is out of range: {e}"));
        match self {
            Instance::Histogram(v) => {
                let ones: Vec<usize> = (0..cells.len()).filter(|&i| cells[i] != 0).collect();
                if ones.len() != 1 || cells[ones[0]] != 1 {
                    return Err(Error::Dap(
                        "a histogram measurement has exactly one cell at 1".into(),
                    ));
                }
                let (p, s) = v.shard(&ones[0], nonce).map_err(shard_err)?;
                Ok(Shards {
                    public_share: p.get_encoded().map_err(enc)?,
                    input_shares: [s[0].get_encoded().map_err(enc)?, s[1].get_encoded().map_err(enc)?],
                })
            }
            Instance::SumVec(v) => {
                let m: Vec<u128> = cells.iter().map(|&c| u128::from(c)).collect();
                let (p, s) = v.shard(&m, nonce).map_err(shard_err)?;
                Ok(Shards {
                    public_share: p.get_encoded().map_err(enc)?,
                    input_shares: [s[0].get_encoded().map_err(enc)?, s[1].get_encoded().map_err(enc)?],
                })
            }
        }
    }
}
