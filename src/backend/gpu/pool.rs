//! Masked mean pooling + L2 normalisation (pool.wgsl): `batch` unit vectors from the token states.

use super::kernel::{grid, Forward, Kernel};
use super::GpuContext;
use crate::error::{Error, Result};

/// Features the shader handles (`WG · PER` in pool.wgsl).
pub const MAX_HIDDEN: usize = 512;

pub struct Pool(Kernel);

impl Pool {
    pub(super) fn new(device: &wgpu::Device) -> Self {
        Self(Kernel::new(device, "pool", include_str!("pool.wgsl")))
    }

    /// The parameter uniform for `h` features, or why the kernel cannot pool them.
    pub fn params(ctx: &GpuContext, h: usize) -> Result<wgpu::Buffer> {
        Ok(ctx.uniform("pool", Self::words(h)?))
    }

    /// The words of [`Pool::params`].
    pub fn words(h: usize) -> Result<[u32; 4]> {
        if h == 0 || h > MAX_HIDDEN {
            return Err(Error::GpuUnsupported(format!(
                "pooling {h} features (the kernel takes up to {MAX_HIDDEN})"
            )));
        }
        Ok([h as u32, 0, 0, 0])
    }

    /// Records pooling of `hidden` (the forward's rows) under `mask` into `out` (`batch` rows).
    pub fn encode(
        &self,
        f: &mut Forward<'_, '_>,
        params: &wgpu::Buffer,
        hidden: &wgpu::Buffer,
        mask: &wgpu::Buffer,
        out: &wgpu::Buffer,
    ) {
        let groups = grid(f.batch);
        self.0.dispatch(f, &[params, hidden, mask, out], groups);
    }
}
