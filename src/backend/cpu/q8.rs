//! [`PackedQ8`]: block-quantized weights repacked at load time for the kernels, the per-row i16
//! activation quantizer, and the tiling driver every kernel shares.

use candle_core::quantized::{GgmlDType, QTensor};

use super::scalar::Scalar;

/// Weights per block in q8_0, q5_0 and q4_0 alike.
pub const BLOCK: usize = 32;
/// Rows (activations) per register tile: each weight load is reused this many times.
const MR: usize = 4;
/// Columns (weights) per register tile: each activation load is reused this many times.
const NR: usize = 4;
/// Rows per panel: a panel's activations (≤ 32 × 1536 i16 = 96 KiB) stay in L2 while every weight
/// column streams past them once.
const PANEL: usize = 32;

/// One register tile of the product: for `r < MR'`, `j < NR'`,
/// `out[r * ldo + j] = Σ_b s[j * nb + b] · Σ_{i ∈ b} x[r * k + i] · w[j * k + i]` with `nb = k / 32`.
pub(super) trait Tile {
    /// # Safety
    /// `x` holds `MR'` rows of `k` values, `w` holds `NR'` columns of `k`, `s` holds `NR'` × `k / 32`
    /// scales, `out` is writable at `r * ldo + j`; `k` is a multiple of 32; the CPU has the features
    /// the implementation was compiled for.
    unsafe fn tile<const R: usize, const C: usize>(
        x: *const i16,
        w: *const i8,
        s: *const f32,
        k: usize,
        out: *mut f32,
        ldo: usize,
    );
}

/// Which kernel a [`PackedQ8`] runs; chosen once, at load, from the target and the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust: any target.
    Scalar,
    /// wasm32 simd128.
    Simd128,
    /// x86_64 AVX2 + FMA, detected at run time.
    Avx2,
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

    /// Whether this target and CPU can run the kernel (tests use it to try every one available).
    pub fn available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            Kernel::Simd128 => cfg!(all(target_arch = "wasm32", target_feature = "simd128")),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx2 => false,
        }
    }
}

/// Activation rows quantized for the kernels: `x[r][i] ≈ q[r * k + i] · scale[r]`.
#[derive(Debug, Clone, Default)]
pub struct QuantRows {
    pub q: Vec<i16>,
    pub scale: Vec<f32>,
}

/// Quantizes `m` rows of `k` floats to i16 with one scale per row (max |x| ↦ 32767).
///
/// One scale per row keeps ≥ 15 bits for the row's largest values, and BERT's outlier features are
/// within a few hundred times of the rest, so this is finer than q8_0's 7 bits per block. i16 × i8
/// products summed over a block (32 × 32767 × 128 < 2³¹) cannot overflow an i32.
pub fn quantize_rows(x: &[f32], m: usize, k: usize, out: &mut QuantRows) {
    out.q.clear();
    out.q.resize(m * k, 0);
    out.scale.clear();
    for (row, q) in x.chunks_exact(k).take(m).zip(out.q.chunks_exact_mut(k)) {
        let amax = abs_max(row);
        // A NaN counts as 0 (`abs_max` skips it, the conversion maps it to 0); a row with an
        // infinity has no finite scale and quantizes to zeros rather than poisoning the tile.
        if !(amax.is_finite() && amax > 0.0) {
            out.scale.push(0.0);
            continue;
        }
        round_scaled(row, 32767.0 / amax, q);
        out.scale.push(amax / 32767.0);
    }
}

/// Largest |v| of a row, NaN skipped. Written with compares rather than `f32::max`, which wasm
/// lowers to a libm call per element.
fn abs_max(row: &[f32]) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::*;
        let mut acc = f32x4_splat(0.0);
        let chunks = row.chunks_exact(4);
        let tail = chunks
            .remainder()
            .iter()
            .fold(0f32, |a, v| if v.abs() > a { v.abs() } else { a });
        for c in chunks {
            // SAFETY: `c` has exactly 4 floats; v128_load is an unaligned load.
            let v = f32x4_abs(unsafe { v128_load(c.as_ptr() as *const v128) });
            // pmax(a, b) = a < b ? b : a: a NaN `b` compares false and keeps `a`.
            acc = f32x4_pmax(acc, v);
        }
        let lanes = [0, 1, 2, 3].map(|i| match i {
            0 => f32x4_extract_lane::<0>(acc),
            1 => f32x4_extract_lane::<1>(acc),
            2 => f32x4_extract_lane::<2>(acc),
            _ => f32x4_extract_lane::<3>(acc),
        });
        lanes.iter().fold(tail, |a, &v| if v > a { v } else { a })
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    row.iter()
        .fold(0f32, |a, v| if v.abs() > a { v.abs() } else { a })
}

/// `q[i] = round(row[i] · inv)` (ties to even) for |row[i] · inv| ≤ 32767, NaN → 0.
fn round_scaled(row: &[f32], inv: f32, q: &mut [i16]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::*;
        let s = f32x4_splat(inv);
        let (xc, qc) = (row.chunks_exact(8), q.chunks_exact_mut(8));
        for (d, v) in qc.into_remainder().iter_mut().zip(xc.remainder()) {
            *d = (v * inv).round_ties_even() as i16;
        }
        for (c, d) in row.chunks_exact(8).zip(q.chunks_exact_mut(8)) {
            // SAFETY: both chunks hold exactly 8 elements (32 / 16 bytes); the accesses are unaligned.
            unsafe {
                let a = f32x4_nearest(f32x4_mul(v128_load(c.as_ptr() as *const v128), s));
                let b = f32x4_nearest(f32x4_mul(v128_load(c.as_ptr().add(4) as *const v128), s));
                // trunc_sat maps NaN to 0; narrow saturates to i16.
                let v = i16x8_narrow_i32x4(i32x4_trunc_sat_f32x4(a), i32x4_trunc_sat_f32x4(b));
                v128_store(d.as_mut_ptr() as *mut v128, v);
            }
        }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    for (d, v) in q.iter_mut().zip(row) {
        // Adding and removing 1.5 · 2²³ rounds to the nearest integer (ties to even) for |x| < 2²²
        // without a libm call; `as` then saturates and maps NaN to 0.
        const MAGIC: f32 = 12_582_912.0;
        *d = ((v * inv + MAGIC) - MAGIC) as i16;
    }
}

/// A weight matrix `[n, k]` (PyTorch layout: one row per output) as i8 values and f32 block scales,
/// row after row, so a tile reads each column's weights contiguously.
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
        if k % BLOCK != 0 || n == 0 {
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
        Some(Self {
            n,
            k,
            dtype: w.dtype(),
            qs,
            scales,
            kernel: Kernel::best(),
        })
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
        let mut out = Vec::with_capacity(self.scales.len() * block_bytes);
        for (q, &d) in self.qs.chunks_exact(BLOCK).zip(&self.scales) {
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
        Some(Self {
            n: parts.iter().map(|p| p.n).sum(),
            k,
            dtype,
            qs: parts.iter().flat_map(|p| p.qs.iter().copied()).collect(),
            scales: parts.iter().flat_map(|p| p.scales.iter().copied()).collect(),
            kernel: parts[0].kernel,
        })
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
        self.qs
            .chunks_exact(BLOCK)
            .zip(&self.scales)
            .flat_map(|(q, &d)| q.iter().map(move |&v| v as f32 * d))
            .collect()
    }

    /// Runs on `kernel` instead of the best one; `false` (and no change) if this CPU cannot run it.
    pub fn set_kernel(&mut self, kernel: Kernel) -> bool {
        let ok = kernel.available();
        if ok {
            self.kernel = kernel;
        }
        ok
    }

    /// `y = x · Wᵀ (+ bias)` for `x` quantized by [`quantize_rows`] (`m` rows of `k`); `y` is `m × n`.
    /// Returns `None` if the sizes do not match.
    pub fn matmul(&self, x: &QuantRows, bias: Option<&[f32]>, y: &mut [f32]) -> Option<()> {
        let (n, k) = (self.n, self.k);
        let m = x.scale.len();
        if x.q.len() != m * k || y.len() != m * n || bias.is_some_and(|b| b.len() != n) {
            return None;
        }
        match self.kernel {
            Kernel::Scalar => self.run::<Scalar>(&x.q, m, y),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => self.run::<super::simd128::Simd128>(&x.q, m, y),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => self.run::<super::avx2::Avx2>(&x.q, m, y),
            #[allow(unreachable_patterns)]
            _ => self.run::<Scalar>(&x.q, m, y),
        }
        for (row, &s) in y.chunks_exact_mut(n).zip(&x.scale) {
            match bias {
                Some(b) => row.iter_mut().zip(b).for_each(|(v, b)| *v = *v * s + b),
                None => row.iter_mut().for_each(|v| *v *= s),
            }
        }
        Some(())
    }

    /// Raw block sums into `y` (`m × n`), tile by tile; the sizes were checked by the caller.
    fn run<T: Tile>(&self, x: &[i16], m: usize, y: &mut [f32]) {
        let (n, k, nb) = (self.n, self.k, self.k / BLOCK);
        let (xp, wp, sp, yp) = (x.as_ptr(), self.qs.as_ptr(), self.scales.as_ptr(), y.as_mut_ptr());
        for p0 in (0..m).step_by(PANEL) {
            let p1 = (p0 + PANEL).min(m);
            let mut c0 = 0;
            while c0 < n {
                let nr = if n - c0 >= NR { NR } else { 1 };
                let mut r0 = p0;
                while r0 < p1 {
                    let mr = (p1 - r0).min(MR);
                    // SAFETY: r0 + mr ≤ m and c0 + nr ≤ n, so every pointer below stays inside x
                    // (m × k), qs (n × k), scales (n × nb) and y (m × n); `self.kernel` was checked
                    // available when it was chosen.
                    unsafe {
                        let (x, w, s) = (xp.add(r0 * k), wp.add(c0 * k), sp.add(c0 * nb));
                        let out = yp.add(r0 * n + c0);
                        match (mr, nr) {
                            (4, NR) => T::tile::<4, NR>(x, w, s, k, out, n),
                            (3, NR) => T::tile::<3, NR>(x, w, s, k, out, n),
                            (2, NR) => T::tile::<2, NR>(x, w, s, k, out, n),
                            (1, NR) => T::tile::<1, NR>(x, w, s, k, out, n),
                            (4, _) => T::tile::<4, 1>(x, w, s, k, out, n),
                            (3, _) => T::tile::<3, 1>(x, w, s, k, out, n),
                            (2, _) => T::tile::<2, 1>(x, w, s, k, out, n),
                            _ => T::tile::<1, 1>(x, w, s, k, out, n),
                        }
                    }
                    r0 += mr;
                }
                c0 += nr;
            }
        }
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
