//! The portable kernels: plain Rust with exact i32 block sums, for i16 rows and for i8 blocks. Any
//! target runs them; the SIMD kernels are tested against them and against candle.

use super::q8::BLOCK;
use super::tile::{Tile, Tile8};

pub(super) struct Scalar;

impl Tile for Scalar {
    unsafe fn tile<const R: usize, const C: usize>(
        x: *const i16,
        w: *const i8,
        s: *const f32,
        k: usize,
        out: *mut f32,
        ldo: usize,
    ) {
        let nb = k / BLOCK;
        for r in 0..R {
            // SAFETY: the caller guarantees R rows of k values at x and C columns of k at w.
            let xr = unsafe { std::slice::from_raw_parts(x.add(r * k), k) };
            for j in 0..C {
                let wj = unsafe { std::slice::from_raw_parts(w.add(j * k), k) };
                let sj = unsafe { std::slice::from_raw_parts(s.add(j * nb), nb) };
                let mut acc = 0f32;
                for ((xb, wb), &sb) in xr.chunks_exact(BLOCK).zip(wj.chunks_exact(BLOCK)).zip(sj) {
                    let dot: i32 = xb.iter().zip(wb).map(|(&a, &b)| a as i32 * b as i32).sum();
                    acc += dot as f32 * sb;
                }
                unsafe { *out.add(r * ldo + j) = acc };
            }
        }
    }
}

impl Tile8 for Scalar {
    unsafe fn tile<const R: usize, const C: usize>(
        x: *const i8,
        xs: *const f32,
        _xsum: *const i32,
        w: *const i8,
        s: *const f32,
        k: usize,
        out: *mut f32,
        ldo: usize,
    ) {
        let nb = k / BLOCK;
        for r in 0..R {
            // SAFETY: the caller guarantees R rows of k values and nb scales at x and xs, C columns
            // of k at w and of nb at s. The weights are used as they are (no offset, so no sums).
            let xr = unsafe { std::slice::from_raw_parts(x.add(r * k), k) };
            let xsr = unsafe { std::slice::from_raw_parts(xs.add(r * nb), nb) };
            for j in 0..C {
                let wj = unsafe { std::slice::from_raw_parts(w.add(j * k), k) };
                let sj = unsafe { std::slice::from_raw_parts(s.add(j * nb), nb) };
                let mut acc = 0f32;
                let blocks = xr.chunks_exact(BLOCK).zip(wj.chunks_exact(BLOCK));
                for ((xb, wb), (&sx, &sw)) in blocks.zip(xsr.iter().zip(sj)) {
                    let dot: i32 = xb.iter().zip(wb).map(|(&a, &b)| a as i32 * b as i32).sum();
                    acc += dot as f32 * (sx * sw);
                }
                unsafe { *out.add(r * ldo + j) = acc };
            }
        }
    }
}
