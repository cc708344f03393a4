//! Compute backends for the models' forward passes, behind one [`Device`].
//!
//! A model (in the `model` module) loads its weights into a [`Weights`] arena, writes its layer sequence
//! once against [`Ops`], and hands both to a [`Device`], which runs it on the CPU or the GPU:
//! - `cpu`: hand-written matmul kernels for the quantized weight types the shipped models use
//!   (simd128 in the browser, AVX2 natively, scalar elsewhere; candle for any other type), and the
//!   layer ops on plain f32 rows;
//! - `gpu` (feature `gpu`): the same ops as WGSL kernels on WebGPU or Vulkan, over a mirror of the
//!   weights the device uploads from the CPU's copy;
//! - `select`: which of the two runs (the caller's preference, and for `auto` a calibration).
//!
//! Nothing here knows a model: the dependency runs one way, from `model` to `backend`.

pub mod cpu;
mod device;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod ops;
pub mod select;
pub mod weights;

pub use device::Device;
pub use ops::{Input, Ops, Slot};
pub use weights::{LinearId, Norm, NormId, Weights};
