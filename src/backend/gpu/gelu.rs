//! GELU (erf form) in place over `rows × n` values (gelu.wgsl), matching `ops::gelu_erf`.

use super::kernel::{grid, Forward, Kernel};

pub struct Gelu(Kernel);

impl Gelu {
    pub(super) fn new(device: &wgpu::Device) -> Self {
        Self(Kernel::new(device, "gelu", include_str!("gelu.wgsl")))
    }

    /// Records GELU over the forward's `rows × n` values of `x`; `params` is
    /// `ctx.uniform(.., [n, 0, 0, 0])`.
    pub fn encode(&self, f: &mut Forward<'_, '_>, n: usize, params: &wgpu::Buffer, x: &wgpu::Buffer) {
        let groups = grid((f.rows() * n).div_ceil(256));
        self.0.dispatch(f, &[params, x], groups);
    }
}
