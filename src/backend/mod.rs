//! Compute backends for the encoder's hot loops. `cpu` holds hand-written matmul kernels for the
//! quantized weight types the shipped models use (simd128 in the browser, AVX2 natively, scalar
//! elsewhere); anything they do not cover falls back to candle. `gpu` (feature `gpu`) runs the whole
//! encoder as WGSL kernels on WebGPU or Vulkan; `select` decides which of the two runs.

pub mod cpu;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod select;
