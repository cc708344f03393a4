//! The CPU backend: matmul kernels for block-quantized weights (q8_0, q5_0, q4_0), the layer ops on
//! plain f32 rows ([`ops`]), and a forward pass executing a model's ops at once ([`forward`]).
//!
//! All three types are "one f16 scale per 32 weights times a small signed integer", so at load time
//! [`PackedQ8`] re-expresses each of them exactly as an i8 per weight plus an f32 scale per block, and
//! one kernel serves them all: the small model runs as fast as q8_0 while its file stays small.
//!
//! Activations are quantized once per row to i16 with one scale per row (more precise than candle's
//! q8_0 per-block activations), so the block sum `Σ x·w` is an exact i32 and only the weight's block
//! scale is applied in f32. The one exception is the relaxed-SIMD build's q4_0 kernel, which needs
//! 8-bit activations and so takes i8 with a scale per block of 32 ([`quantize_blocks`]): e5's query in
//! Chromium 40 % faster than the simd128 build, cosine ≥ 0.9997 to the i16 result (BENCHMARKS.md). Kernels,
//! picked at run time from the target, the CPU and the weight type:
//! - `relaxed`: wasm32 with relaxed SIMD, for q4_0 weights (`i32x4.relaxed_dot_i8x16_i7x16_add_s`,
//!   16 per instruction) on i8 activations with one scale per block of 32 (ggml's q8_0 layout), over
//!   weights interleaved 4 columns at a time ([`layout`]);
//! - `simd128`: wasm32 with simd128 (`i32x4.dot_i16x8_s`, 8 multiply-adds per instruction);
//! - `avx2`: x86_64 when the CPU has AVX2 and FMA (`vpmaddwd`, 16 per instruction);
//! - `scalar`: everything else, and the model the others are tested against (for i16 rows and for
//!   i8 blocks alike).

mod activations;
#[cfg(target_arch = "x86_64")]
mod avx2;
pub mod forward;
mod layout;
mod linear;
pub mod ops;
mod q8;
#[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
mod relaxed;
mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
mod tile;

pub use activations::{quantize_blocks, quantize_rows, QuantBlocks, QuantRows};
pub use linear::Linear;
pub use q8::{prefer_i8_blocks, Kernel, PackedQ8};
