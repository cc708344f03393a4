//! The two ways activations are quantized for the matmul kernels: i16 rows with one scale per row
//! ([`quantize_rows`], every weight type) and i8 blocks of 32 with one scale per block
//! ([`quantize_blocks`], the relaxed-SIMD path for q4_0 weights).

use super::q8::BLOCK;

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

/// Activation rows quantized in blocks of 32, as ggml's q8_0:
/// `x[r][i] ≈ q[r * k + i] · scale[r * nb + i / 32]` with `nb = k / 32`.
#[derive(Debug, Clone, Default)]
pub struct QuantBlocks {
    pub q: Vec<i8>,
    pub scale: Vec<f32>,
    /// `Σ q` over each block: the relaxed kernel multiplies by weights offset to 0..15 (its second
    /// operand must not have the top bit set) and subtracts `8 · sum` to undo the offset.
    pub sum: Vec<i32>,
}

/// Quantizes `m` rows of `k` floats (`k` a multiple of 32) to i8 with one scale per block of 32
/// (max |x| ↦ 127). Eight bits need the finer scale: one per row would leave an outlier feature's
/// neighbours a handful of levels. A NaN counts as 0; a block with an infinity becomes zeros.
pub fn quantize_blocks(x: &[f32], m: usize, k: usize, out: &mut QuantBlocks) {
    let n = m * k;
    out.q.clear();
    out.q.resize(n, 0);
    out.scale.clear();
    out.sum.clear();
    for (b, q) in x[..n].chunks_exact(BLOCK).zip(out.q.chunks_exact_mut(BLOCK)) {
        let amax = abs_max(b);
        if !(amax.is_finite() && amax > 0.0) {
            out.scale.push(0.0);
            out.sum.push(0);
            continue;
        }
        out.sum.push(round_block(b, 127.0 / amax, q));
        out.scale.push(amax / 127.0);
    }
}

/// `q[i] = round(b[i] · inv)` (ties to even; |b[i] · inv| ≤ 127, NaN → 0) for one block; returns
/// `Σ q`.
fn round_block(b: &[f32], inv: f32, q: &mut [i8]) -> i32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::*;
        let s = f32x4_splat(inv);
        // SAFETY: both slices hold one block (32 floats, 32 bytes); the accesses are unaligned.
        unsafe {
            let p = b.as_ptr();
            let i = |o: usize| {
                i32x4_trunc_sat_f32x4(f32x4_nearest(f32x4_mul(v128_load(p.add(o) as *const v128), s)))
            };
            let lo = i8x16_narrow_i16x8(i16x8_narrow_i32x4(i(0), i(4)), i16x8_narrow_i32x4(i(8), i(12)));
            let hi = i8x16_narrow_i16x8(i16x8_narrow_i32x4(i(16), i(20)), i16x8_narrow_i32x4(i(24), i(28)));
            v128_store(q.as_mut_ptr() as *mut v128, lo);
            v128_store(q.as_mut_ptr().add(16) as *mut v128, hi);
            let pairs = i16x8_add(i16x8_extadd_pairwise_i8x16(lo), i16x8_extadd_pairwise_i8x16(hi));
            let quads = i32x4_extadd_pairwise_i16x8(pairs);
            i32x4_extract_lane::<0>(quads)
                + i32x4_extract_lane::<1>(quads)
                + i32x4_extract_lane::<2>(quads)
                + i32x4_extract_lane::<3>(quads)
        }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        // As in `round_scaled`: the magic constant rounds ties to even without a libm call.
        const MAGIC: f32 = 12_582_912.0;
        let mut sum = 0;
        for (d, v) in q.iter_mut().zip(b) {
            *d = ((v * inv + MAGIC) - MAGIC) as i8;
            sum += *d as i32;
        }
        sum
    }
}
