//! [`PackedQ8`]: block-quantized weights repacked at load time for the kernels, and which kernel
//! runs them.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::quantized::{GgmlDType, QTensor};

use super::activations::{QuantBlocks, QuantRows};
use super::layout;
use super::scalar::Scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
use super::tile::tiles_of;
use super::tile::{dispatch, dispatch8, tiles};

/// Weights per block in q8_0, q5_0 and q4_0 alike.
pub const BLOCK: usize = 32;
/// Which kernel a [`PackedQ8`] runs; chosen once, at load, from the target and the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust: any target.
    Scalar,
    /// wasm32 simd128.
    Simd128,
    /// x86_64 AVX2 + FMA, detected at run time.
    Avx2,
    /// wasm32 relaxed SIMD (`i32x4.relaxed_dot_i8x16_i7x16_add_s`, 16 multiply-adds per
    /// instruction) on i8 block activations: q4_0 weights only, whose values fit its 7-bit operand.
    Relaxed,
    /// The portable model of [`Kernel::Relaxed`]'s arithmetic (i8 blocks, exact i32 sums): what a
    /// native run uses to reproduce that build's vectors (tests, [`prefer_i8_blocks`]).
    ScalarI8,
}

/// Set by [`prefer_i8_blocks`]: q4_0 weights loaded natively afterwards run on [`Kernel::ScalarI8`].
static I8_BLOCKS: AtomicBool = AtomicBool::new(false);

/// Makes q4_0 weights loaded from now on (in this process) take i8 block activations as the relaxed
/// SIMD build does, on the portable kernel: a native run can then reproduce that build's vectors.
/// The default (`false`) is the more precise i16 rows. No effect where relaxed SIMD is built in.
pub fn prefer_i8_blocks(on: bool) {
    I8_BLOCKS.store(on, Ordering::Relaxed);
}

impl Kernel {
    /// The fastest kernel this target and CPU can run.
    pub fn best() -> Self {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        return Kernel::Simd128;
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Kernel::Avx2;
        }
        #[allow(unreachable_code)]
        Kernel::Scalar
    }

    /// The kernel for weights of `dtype`: relaxed SIMD takes q4_0 only (a q8_0 weight may have the
    /// top bit set, which the instruction leaves implementation-defined).
    pub fn best_for(dtype: GgmlDType) -> Self {
        match dtype {
            GgmlDType::Q4_0 if Kernel::Relaxed.available() => Kernel::Relaxed,
            GgmlDType::Q4_0 if I8_BLOCKS.load(Ordering::Relaxed) => Kernel::ScalarI8,
            _ => Kernel::best(),
        }
    }

    /// Whether the kernel takes [`QuantBlocks`] (i8 per block) rather than [`QuantRows`] (i16 per row).
    pub fn takes_blocks(self) -> bool {
        matches!(self, Kernel::Relaxed | Kernel::ScalarI8)
    }

    /// Whether this target and CPU can run the kernel (tests use it to try every one available).
    pub fn available(self) -> bool {
        match self {
            Kernel::Scalar | Kernel::ScalarI8 => true,
            Kernel::Relaxed => cfg!(all(target_arch = "wasm32", target_feature = "relaxed-simd")),
            Kernel::Simd128 => cfg!(all(target_arch = "wasm32", target_feature = "simd128")),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx2 => false,
        }
    }
}

/// A weight matrix `[n, k]` (PyTorch layout: one row per output) as i8 values and f32 block scales,
/// row after row, so a tile reads each column's weights contiguously; for [`Kernel::Relaxed`], in
/// [`layout`]'s quads instead (the kernel decides the layout, so changing it repacks).
#[derive(Debug, Clone)]
pub struct PackedQ8 {
    n: usize,
    k: usize,
    /// The GGUF type it was repacked from: [`PackedQ8::ggml_blocks`] writes its blocks back exactly.
    dtype: GgmlDType,
    qs: Vec<i8>,
    scales: Vec<f32>,
    kernel: Kernel,
}

impl PackedQ8 {
    /// Repacks a 2-D q8_0, q5_0 or q4_0 tensor exactly (no rounding: each is `scale × small int`);
    /// `None` for other types or shapes, which stay on candle's path.
    pub fn from_qtensor(w: &QTensor) -> Option<Self> {
        let (n, k) = w.shape().dims2().ok()?;
        if k % BLOCK != 0 || n == 0 || k == 0 {
            return None;
        }
        let block_bytes = match w.dtype() {
            GgmlDType::Q8_0 => 34,
            GgmlDType::Q5_0 => 22,
            GgmlDType::Q4_0 => 18,
            _ => return None,
        };
        let data = w.data().ok()?;
        let nb = n * k / BLOCK;
        if data.len() != nb * block_bytes {
            return None;
        }
        let mut qs = vec![0i8; n * k];
        let mut scales = Vec::with_capacity(nb);
        for (block, q) in data.chunks_exact(block_bytes).zip(qs.chunks_exact_mut(BLOCK)) {
            scales.push(half::f16::from_le_bytes([block[0], block[1]]).to_f32());
            unpack_block(w.dtype(), &block[2..], q);
        }
        Some(Self::with_kernel(
            n,
            k,
            w.dtype(),
            qs,
            scales,
            Kernel::best_for(w.dtype()),
        ))
    }

    /// From the row layout, laid out for `kernel`.
    fn with_kernel(
        n: usize,
        k: usize,
        dtype: GgmlDType,
        qs: Vec<i8>,
        scales: Vec<f32>,
        kernel: Kernel,
    ) -> Self {
        let (qs, scales) = match kernel {
            Kernel::Relaxed => layout::to_quads(n, k, &qs, &scales),
            _ => (qs, scales),
        };
        Self {
            n,
            k,
            dtype,
            qs,
            scales,
            kernel,
        }
    }

    /// The weights and scales in the row layout, whatever the kernel's.
    fn rows(&self) -> (Cow<'_, [i8]>, Cow<'_, [f32]>) {
        match self.kernel {
            Kernel::Relaxed => {
                let (q, s) = layout::from_quads(self.n, self.k, &self.qs, &self.scales);
                (Cow::Owned(q), Cow::Owned(s))
            }
            _ => (Cow::Borrowed(&self.qs), Cow::Borrowed(&self.scales)),
        }
    }

    /// The GGUF blocks this matrix was repacked from, byte for byte (the repacking is exact both ways:
    /// each f32 scale came from an f16, each integer from its bits): what the GPU kernels read, so
    /// the model file need not be kept or read twice to upload them.
    pub fn ggml_blocks(&self) -> Vec<u8> {
        let block_bytes = match self.dtype {
            GgmlDType::Q8_0 => 34,
            GgmlDType::Q5_0 => 22,
            _ => 18,
        };
        let (qs, scales) = self.rows();
        let mut out = Vec::with_capacity(scales.len() * block_bytes);
        for (q, &d) in qs.chunks_exact(BLOCK).zip(scales.iter()) {
            out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
            pack_block(self.dtype, q, &mut out);
        }
        out
    }

    /// The GGUF type the weights came from (q8_0, q5_0 or q4_0).
    pub fn dtype(&self) -> GgmlDType {
        self.dtype
    }

    /// Stacks matrices with the same `k` into one (outputs in order), so projections of the same input
    /// (attention's query, key and value) run as one matmul: the activations are quantized and
    /// loaded once and every tile is full. `None` if the widths or the GGUF types differ (one type per
    /// matrix keeps [`PackedQ8::ggml_blocks`] exact) or `parts` is empty.
    pub fn concat(parts: &[&PackedQ8]) -> Option<Self> {
        let (k, dtype) = (parts.first()?.k, parts[0].dtype);
        if parts.iter().any(|p| p.k != k || p.dtype != dtype) {
            return None;
        }
        let rows: Vec<_> = parts.iter().map(|p| p.rows()).collect();
        let qs = rows.iter().flat_map(|(q, _)| q.iter().copied()).collect();
        let scales = rows.iter().flat_map(|(_, s)| s.iter().copied()).collect();
        let n = parts.iter().map(|p| p.n).sum();
        Some(Self::with_kernel(n, k, dtype, qs, scales, parts[0].kernel))
    }

    /// Output features (rows of the PyTorch weight).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Input features.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The weights as f32 (`scale × integer`, row-major `[n, k]`): what the kernels multiply by, for tests.
    pub fn dequantize(&self) -> Vec<f32> {
        let (qs, scales) = self.rows();
        qs.chunks_exact(BLOCK)
            .zip(scales.iter())
            .flat_map(|(q, &d)| q.iter().map(move |&v| v as f32 * d))
            .collect()
    }

    /// Runs on `kernel` instead of the best one; `false` (and no change) if this CPU cannot run it or
    /// it does not take this weight type.
    pub fn set_kernel(&mut self, kernel: Kernel) -> bool {
        if !kernel.available() || (kernel.takes_blocks() && self.dtype != GgmlDType::Q4_0) {
            return false;
        }
        if (kernel == Kernel::Relaxed) != (self.kernel == Kernel::Relaxed) {
            let (qs, scales) = self.rows();
            let (qs, scales) = (qs.into_owned(), scales.into_owned());
            *self = Self::with_kernel(self.n, self.k, self.dtype, qs, scales, kernel);
        }
        self.kernel = kernel;
        true
    }

    /// The kernel these weights run on.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// `y = x · Wᵀ (+ bias)` for `x` quantized by [`super::quantize_rows`] (`m` rows of `k`); `y` is
    /// `m × n`. Returns `None` if the sizes do not match or the kernel takes blocks.
    pub fn matmul(&self, x: &QuantRows, bias: Option<&[f32]>, y: &mut [f32]) -> Option<()> {
        let (n, k, nb) = (self.n, self.k, self.k / BLOCK);
        let m = x.scale.len();
        if x.q.len() != m * k || y.len() != m * n || bias.is_some_and(|b| b.len() != n) {
            return None;
        }
        if self.kernel.takes_blocks() {
            return None;
        }
        let (xp, wp, sp, yp) = (
            x.q.as_ptr(),
            self.qs.as_ptr(),
            self.scales.as_ptr(),
            y.as_mut_ptr(),
        );
        tiles(m, n, |r0, c0, mr, nr| {
            // SAFETY: `tiles` keeps r0 + mr ≤ m and c0 + nr ≤ n, so every pointer below stays inside
            // x (m × k), qs (n × k), scales (n × nb) and y (m × n); `self.kernel` was checked
            // available when it was chosen.
            unsafe {
                let (x, w, s) = (xp.add(r0 * k), wp.add(c0 * k), sp.add(c0 * nb));
                let out = yp.add(r0 * n + c0);
                match self.kernel {
                    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                    Kernel::Simd128 => dispatch::<super::simd128::Simd128>(mr, nr, x, w, s, k, out, n),
                    #[cfg(target_arch = "x86_64")]
                    Kernel::Avx2 => dispatch::<super::avx2::Avx2>(mr, nr, x, w, s, k, out, n),
                    _ => dispatch::<Scalar>(mr, nr, x, w, s, k, out, n),
                }
            }
        });
        for (row, &s) in y.chunks_exact_mut(n).zip(&x.scale) {
            match bias {
                Some(b) => row.iter_mut().zip(b).for_each(|(v, b)| *v = *v * s + b),
                None => row.iter_mut().for_each(|v| *v *= s),
            }
        }
        Some(())
    }

    /// `y = x · Wᵀ (+ bias)` for `x` quantized by [`super::quantize_blocks`] (`m` rows of `k`), on a
    /// kernel that [takes blocks](Kernel::takes_blocks); `None` if the sizes or the kernel do not match.
    pub fn matmul_blocks(&self, x: &QuantBlocks, bias: Option<&[f32]>, y: &mut [f32]) -> Option<()> {
        let (n, k, nb) = (self.n, self.k, self.k / BLOCK);
        let m = x.q.len().checked_div(k)?;
        if x.q.len() != m * k || x.scale.len() != m * nb || x.sum.len() != m * nb {
            return None;
        }
        if y.len() != m * n || bias.is_some_and(|b| b.len() != n) || !self.kernel.takes_blocks() {
            return None;
        }
        let (xp, xs, xsum) = (x.q.as_ptr(), x.scale.as_ptr(), x.sum.as_ptr());
        let (wp, sp, yp) = (self.qs.as_ptr(), self.scales.as_ptr(), y.as_mut_ptr());
        #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
        if self.kernel == Kernel::Relaxed {
            // Whole groups of 4 columns (the quads' padding included, never stored): `tiles_of`
            // walks a multiple of NR = 4 in full-width tiles, one group each.
            const _: () = assert!(super::tile::NR == layout::GROUP);
            use super::relaxed::{dispatch, ROWS};
            tiles_of::<ROWS>(m, layout::groups(n) * layout::GROUP, |r0, c0, mr, _| {
                // SAFETY: r0 + mr ≤ m; group c0 / 4 holds 4k quad bytes and 4 · nb scales at c0 · k
                // and c0 · nb; only the group's real columns of y are written.
                unsafe {
                    let (x, xs, xsum) = (xp.add(r0 * k), xs.add(r0 * nb), xsum.add(r0 * nb));
                    let (w, s, out) = (wp.add(c0 * k), sp.add(c0 * nb), yp.add(r0 * n + c0));
                    dispatch(mr, x, xs, xsum, w, s, k, out, n, (n - c0).min(layout::GROUP));
                }
            });
        }
        if self.kernel != Kernel::Relaxed {
            tiles(m, n, |r0, c0, mr, nr| {
                // SAFETY: as in `matmul`; the block scales and sums hold m × nb values.
                unsafe {
                    let (x, xs, xsum) = (xp.add(r0 * k), xs.add(r0 * nb), xsum.add(r0 * nb));
                    let (w, s, out) = (wp.add(c0 * k), sp.add(c0 * nb), yp.add(r0 * n + c0));
                    dispatch8::<Scalar>(mr, nr, x, xs, xsum, w, s, k, out, n);
                }
            });
        }
        if let Some(b) = bias {
            y.chunks_exact_mut(n)
                .for_each(|row| row.iter_mut().zip(b).for_each(|(v, b)| *v += b));
        }
        Some(())
    }
}

/// The 32 signed integers of one block (after its 2-byte scale), in element order.
fn unpack_block(dtype: GgmlDType, b: &[u8], q: &mut [i8]) {
    match dtype {
        GgmlDType::Q8_0 => q.iter_mut().zip(b).for_each(|(d, &v)| *d = v as i8),
        // Low nibbles are elements 0..16, high nibbles 16..32, both offset by 8.
        GgmlDType::Q4_0 => {
            for j in 0..16 {
                q[j] = (b[j] & 0x0f) as i8 - 8;
                q[j + 16] = (b[j] >> 4) as i8 - 8;
            }
        }
        // As q4_0 with a fifth bit per element in a little-endian u32 before the nibbles, offset 16.
        GgmlDType::Q5_0 => {
            let qh = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let qs = &b[4..];
            for j in 0..16 {
                let h0 = (((qh >> j) << 4) & 0x10) as u8;
                let h1 = ((qh >> (j + 12)) & 0x10) as u8;
                q[j] = ((qs[j] & 0x0f) | h0) as i8 - 16;
                q[j + 16] = ((qs[j] >> 4) | h1) as i8 - 16;
            }
        }
        _ => {}
    }
}

/// The inverse of [`unpack_block`]: appends the bytes after the scale of one block of 32 integers
/// (each within its type's range, as `unpack_block` left it).
fn pack_block(dtype: GgmlDType, q: &[i8], out: &mut Vec<u8>) {
    match dtype {
        GgmlDType::Q8_0 => out.extend(q.iter().map(|&v| v as u8)),
        GgmlDType::Q4_0 => out.extend((0..16).map(|j| (q[j] + 8) as u8 | ((q[j + 16] + 8) as u8) << 4)),
        GgmlDType::Q5_0 => {
            let u = |v: i8| (v + 16) as u8;
            let qh = (0..16).fold(0u32, |h, j| {
                h | u32::from(u(q[j]) >> 4) << j | u32::from(u(q[j + 16]) >> 4) << (j + 16)
            });
            out.extend_from_slice(&qh.to_le_bytes());
            out.extend((0..16).map(|j| (u(q[j]) & 0x0f) | (u(q[j + 16]) & 0x0f) << 4));
        }
        _ => {}
    }
}
