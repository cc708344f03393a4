//! Masked multi-head self-attention from the fused `[query | key | value]` rows (attention.wgsl),
//! matching `ops::attention`; one workgroup per (token, head).

use super::kernel::{grid, Forward, Kernel};
use super::GpuContext;
use crate::error::{Error, Result};

/// Keys per sequence the shader's workgroup memory holds (`MAX_SEQ` in attention.wgsl).
pub const MAX_SEQ: usize = 512;
/// Invocations per workgroup (`WG`): the head size must divide it.
const WG: usize = 64;

pub struct Attention(Kernel);

impl Attention {
    pub(super) fn new(device: &wgpu::Device) -> Self {
        Self(Kernel::new(device, "attention", include_str!("attention.wgsl")))
    }

    /// The parameter uniform for `heads` heads of `d` values, or why the kernel cannot run them.
    pub fn params(ctx: &GpuContext, heads: usize, d: usize) -> Result<wgpu::Buffer> {
        Ok(ctx.uniform("attention", Self::words(heads, d)?))
    }

    /// The words of [`Attention::params`].
    pub fn words(heads: usize, d: usize) -> Result<[u32; 4]> {
        if heads == 0 || d == 0 || d > WG || WG % d != 0 {
            return Err(Error::GpuUnsupported(format!(
                "attention heads of {d} values (the kernel takes divisors of {WG})"
            )));
        }
        let scale = 1.0 / (d as f32).sqrt();
        Ok([heads as u32, d as u32, scale.to_bits(), 0])
    }

    /// Records attention for the forward's rows: `qkv` holds rows of `3 · heads · d`, `mask` one
    /// u32 per token (1 token, 0 padding), `out` rows of `heads · d`.
    pub fn encode(
        &self,
        f: &mut Forward<'_, '_>,
        heads: usize,
        params: &wgpu::Buffer,
        qkv: &wgpu::Buffer,
        mask: &wgpu::Buffer,
        out: &wgpu::Buffer,
    ) {
        let groups = grid(f.rows() * heads);
        self.0.dispatch(f, &[params, qkv, mask, out], groups);
    }
}
