//! The portable kernel: plain Rust with exact i32 block sums. Any target runs it; the SIMD kernels
//! are tested against it and against candle.

use super::q8::{Tile, BLOCK};

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
