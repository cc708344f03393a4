//! `x ← LayerNorm(x + residual)` over rows of `h` features (layer_norm.wgsl), in place.

use super::kernel::{grid, Forward, Kernel};
use super::GpuContext;

pub struct LayerNorm(Kernel);

/// One LayerNorm's parameters on the GPU: weight and bias in one buffer, and `h`, `eps`.
pub struct LayerNormWeights {
    h: usize,
    gb: wgpu::Buffer,
    params: wgpu::Buffer,
    params_no_residual: wgpu::Buffer,
    /// Bound in place of the residual when there is none (a binding cannot be left empty).
    dummy: wgpu::Buffer,
}

impl LayerNormWeights {
    pub fn upload(ctx: &GpuContext, name: &str, weight: &[f32], bias: &[f32], eps: f32) -> Self {
        let h = weight.len() as u32;
        let gb: Vec<f32> = weight.iter().chain(bias).copied().collect();
        Self {
            h: weight.len(),
            gb: ctx.storage(name, &gb),
            params: ctx.uniform(name, [h, eps.to_bits(), 1, 0]),
            params_no_residual: ctx.uniform(name, [h, eps.to_bits(), 0, 0]),
            dummy: ctx.scratch(name, 4),
        }
    }
}

impl LayerNormWeights {
    /// Features per row.
    pub fn h(&self) -> usize {
        self.h
    }
}

impl LayerNorm {
    pub(super) fn new(device: &wgpu::Device) -> Self {
        Self(Kernel::new(device, "layer_norm", include_str!("layer_norm.wgsl")))
    }

    /// Records the norm of the forward's rows of `x`, after adding `residual`.
    pub fn encode(
        &self,
        f: &mut Forward<'_, '_>,
        ln: &LayerNormWeights,
        residual: Option<&wgpu::Buffer>,
        x: &wgpu::Buffer,
    ) {
        let (params, res) = match residual {
            Some(r) => (&ln.params, r),
            None => (&ln.params_no_residual, &ln.dummy),
        };
        let groups = grid(f.rows());
        self.0.dispatch(f, &[params, &ln.gb, res, x], groups);
    }
}
