//! GELU (erf form) in place over `rows × n` values (gelu.wgsl), matching `ops::gelu_erf`.

use super::kernel::{grid, Kernel};
use super::GpuContext;

pub struct Gelu(Kernel);

impl Gelu {
    pub(super) fn new(device: &wgpu::Device) -> Self {
        Self(Kernel::new(device, "gelu", include_str!("gelu.wgsl")))
    }

    /// Records GELU over the first `rows × n` values of `x`; `params` is `ctx.uniform(.., [n, 0, 0, 0])`.
    pub fn encode(
        &self,
        ctx: &GpuContext,
        pass: &mut wgpu::ComputePass<'_>,
        shape: &wgpu::Buffer,
        rows: usize,
        n: usize,
        params: &wgpu::Buffer,
        x: &wgpu::Buffer,
    ) {
        self.0.dispatch(
            ctx.device(),
            pass,
            &[shape, params, x],
            grid((rows * n).div_ceil(256)),
        );
    }
}
