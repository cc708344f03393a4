//! Compute backends for the encoder's hot loops. `cpu` holds hand-written matmul kernels for the
//! quantized weight types the shipped models use (simd128 in the browser, AVX2 natively, scalar
//! elsewhere); anything they do not cover falls back to candle.

pub mod cpu;
