//! Shared by the GPU tests: the context (or the reason there is none) and a one-kernel runner.
//!
//! The GPU tests fail when no adapter exists, because a skipped test cannot catch a broken kernel.
//! Natively Mesa's lavapipe (a Vulkan driver on the CPU) is enough: `apt-get install
//! mesa-vulkan-drivers libvulkan1` (scripts/setup.sh installs it). On a machine where that is
//! impossible, `VITRINE_NO_GPU_TESTS=1` turns them into passing no-ops that print why.

use vitrine::backend::gpu::{wgpu, GpuContext};

/// The context, `None` (skip) only when VITRINE_NO_GPU_TESTS=1 and there is no adapter.
pub fn context() -> Option<GpuContext> {
    match pollster::block_on(GpuContext::new()) {
        Ok(ctx) => Some(ctx),
        Err(e) if std::env::var_os("VITRINE_NO_GPU_TESTS").is_some_and(|v| v == "1") => {
            eprintln!("GPU test skipped (VITRINE_NO_GPU_TESTS=1): {e}");
            None
        }
        Err(e) => panic!(
            "{e}\nThe GPU tests need a Vulkan driver: install mesa-vulkan-drivers and libvulkan1 \
             (scripts/setup.sh does), or set VITRINE_NO_GPU_TESTS=1 to skip them knowingly."
        ),
    }
}

/// Records one pass with `record`, runs it, and returns the first `floats` values of `out`.
pub fn run(
    ctx: &GpuContext,
    out: &wgpu::Buffer,
    floats: usize,
    record: impl FnOnce(&mut wgpu::ComputePass<'_>),
) -> Vec<f32> {
    let staging = ctx.staging((floats * 4) as u64);
    pollster::block_on(ctx.run_and_read(record, out, &staging, floats)).expect("the GPU ran")
}
