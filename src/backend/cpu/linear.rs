//! One `Linear` layer: q8_0/q5_0/q4_0 weights run on Vitrine's own kernels (the CPU backend's
//! [`PackedQ8`]); every other type (float, k-quants) on candle's `QMatMul`, so a model file may still
//! mix precisions per tensor.

use std::cell::RefCell;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{CpuStorage, Device, Module, Result, Storage, Tensor};

use super::{ops, quantize_blocks, quantize_rows, PackedQ8, QuantBlocks, QuantRows};

/// Up to this many rows, float weights run as plain dot products (a session model's steps, one query);
/// beyond it, candle's blocked matmul wins (an encoder batch).
const FEW_ROWS: usize = 32;

#[derive(Debug, Clone)]
enum Weight {
    Packed(PackedQ8),
    Candle(QMatMul),
}

/// `y = x · Wᵀ + b` with `W` stored `[out, in]` as in PyTorch checkpoints.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Weight,
    bias: Option<Vec<f32>>,
    out_dim: usize,
    in_dim: usize,
}

thread_local! {
    /// Quantized activations, reused between calls so a forward pass allocates them once.
    static ROWS: RefCell<QuantRows> = RefCell::new(QuantRows::default());
    /// The same for the kernels that take i8 blocks.
    static BLOCKS: RefCell<QuantBlocks> = RefCell::new(QuantBlocks::default());
}

impl Linear {
    /// Wraps a weight of shape `[out, in]` (any GGUF dtype) and an optional f32 bias of shape `[out]`.
    ///
    /// Block-quantized weights with a Vitrine kernel are repacked here (exactly); float weights are
    /// dequantized once by `QMatMul`; other quantized ones stay packed for candle's block kernels.
    pub fn new(weight: QTensor, bias: Option<Tensor>) -> Result<Self> {
        let (out_dim, in_dim) = weight.shape().dims2()?;
        let bias = bias.map(|b| b.flatten_all()?.to_vec1::<f32>()).transpose()?;
        if bias.as_ref().is_some_and(|b| b.len() != out_dim) {
            candle_core::bail!("linear: bias does not have {out_dim} values");
        }
        let weight = match PackedQ8::from_qtensor(&weight) {
            Some(p) => Weight::Packed(p),
            None => Weight::Candle(QMatMul::from_qtensor(weight)?),
        };
        Ok(Self {
            weight,
            bias,
            out_dim,
            in_dim,
        })
    }

    /// One layer computing every part's outputs side by side (`[.., Σ out]`), when all parts run on
    /// Vitrine's kernels with the same input width; `None` otherwise (callers keep the parts).
    pub fn fuse(parts: &[&Linear]) -> Option<Linear> {
        let packed = parts
            .iter()
            .map(|l| match &l.weight {
                Weight::Packed(p) => Some(p),
                Weight::Candle(_) => None,
            })
            .collect::<Option<Vec<_>>>()?;
        let weight = PackedQ8::concat(&packed)?;
        let biased = parts.iter().filter(|p| p.bias.is_some()).count();
        let bias = match biased {
            0 => None,
            b if b == parts.len() => Some(
                parts
                    .iter()
                    .flat_map(|p| p.bias.iter().flatten())
                    .copied()
                    .collect(),
            ),
            _ => return None,
        };
        Some(Linear {
            out_dim: weight.n(),
            in_dim: weight.k(),
            weight: Weight::Packed(weight),
            bias,
        })
    }

    /// Output features.
    pub fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// Input features.
    pub fn in_dim(&self) -> usize {
        self.in_dim
    }

    /// The bias, if the layer has one.
    pub fn bias(&self) -> Option<&[f32]> {
        self.bias.as_deref()
    }

    /// The weights in Vitrine's packed form (q8_0, q5_0, q4_0), whose GGUF blocks the GPU kernels
    /// read; `None` for the types that run on candle.
    pub fn packed(&self) -> Option<&PackedQ8> {
        match &self.weight {
            Weight::Packed(p) => Some(p),
            Weight::Candle(_) => None,
        }
    }

    /// `m` rows of `in_dim` values in, `m` rows of `out_dim` out (row-major).
    pub fn forward_rows(&self, x: &[f32], m: usize) -> Result<Vec<f32>> {
        let (k, n) = (self.in_dim, self.out_dim);
        if x.len() != m * k {
            candle_core::bail!("linear: {} values are not {m} rows of {k}", x.len());
        }
        match &self.weight {
            Weight::Packed(p) => {
                let mut y = vec![0f32; m * n];
                let bias = self.bias.as_deref();
                let done = if p.kernel().takes_blocks() {
                    BLOCKS.with_borrow_mut(|blocks| {
                        quantize_blocks(x, m, k, blocks);
                        p.matmul_blocks(blocks, bias, &mut y)
                    })
                } else {
                    ROWS.with_borrow_mut(|rows| {
                        quantize_rows(x, m, k, rows);
                        p.matmul(rows, bias, &mut y)
                    })
                };
                done.ok_or_else(|| candle_core::Error::Msg("linear: kernel size mismatch".into()))?;
                Ok(y)
            }
            Weight::Candle(QMatMul::Tensor(w)) if m <= FEW_ROWS => {
                // A session model's few rows: candle's matmul would spend more on dispatch than on math.
                let (storage, layout) = w.storage_and_layout();
                let w = match (&*storage, layout.contiguous_offsets()) {
                    (Storage::Cpu(CpuStorage::F32(w)), Some((a, b))) if b - a == n * k => &w[a..b],
                    _ => candle_core::bail!("linear: float weights are not {n} contiguous rows of {k}"),
                };
                let mut y = Vec::with_capacity(m * n);
                for row in x.chunks_exact(k) {
                    y.extend(w.chunks_exact(k).map(|wj| ops::lanes_dot(row, wj)));
                }
                self.add_bias(&mut y);
                Ok(y)
            }
            Weight::Candle(w) => {
                let xs = Tensor::from_slice(x, (m, k), &Device::Cpu)?;
                let mut y = w.forward(&xs)?.flatten_all()?.to_vec1::<f32>()?;
                self.add_bias(&mut y);
                Ok(y)
            }
        }
    }

    fn add_bias(&self, y: &mut [f32]) {
        if let Some(b) = &self.bias {
            y.chunks_exact_mut(self.out_dim)
                .for_each(|row| row.iter_mut().zip(b).for_each(|(v, b)| *v += b));
        }
    }
}

impl Module for Linear {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let mut dims = xs.dims().to_vec();
        if dims.last() != Some(&self.in_dim) {
            candle_core::bail!(
                "linear: input {:?} does not end in {} features",
                dims,
                self.in_dim
            );
        }
        let m = xs.elem_count() / self.in_dim;
        let y = self.forward_rows(&xs.flatten_all()?.to_vec1::<f32>()?, m)?;
        if let Some(last) = dims.last_mut() {
            *last = self.out_dim;
        }
        Tensor::from_vec(y, dims, xs.device())
    }
}
