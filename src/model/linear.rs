//! One `Linear` layer over candle's `QMatMul`: the same code serves float (f32/f16) and quantized
//! (q4_0, q5_0, q8_0, k-quants) weights, so a model file may mix precisions per tensor.

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{Module, Result, Tensor};

/// `y = x · Wᵀ + b` with `W` stored `[out, in]` as in PyTorch checkpoints.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: QMatMul,
    bias: Option<Tensor>,
}

impl Linear {
    /// Wraps a weight of shape `[out, in]` (any GGUF dtype) and an optional f32 bias of shape `[out]`.
    ///
    /// Float weights are dequantized once here by `QMatMul`; quantized ones stay packed and run
    /// through candle's block kernels (simd128 on wasm for q4_0 and q8_0).
    pub fn new(weight: QTensor, bias: Option<Tensor>) -> Result<Self> {
        Ok(Self {
            weight: QMatMul::from_qtensor(weight)?,
            bias,
        })
    }
}

impl Module for Linear {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        // The quantized kernels read the activations as one contiguous row-major block.
        let ys = self.weight.forward(&xs.contiguous()?)?;
        match &self.bias {
            Some(bias) => ys.broadcast_add(bias),
            None => Ok(ys),
        }
    }
}
