//! The browser kernel for q4_0 weights where the engine has relaxed SIMD (Chromium, and any engine
//! that validates it; not Safari, which gets the simd128 build): `i32x4.relaxed_dot_i8x16_i7x16_add_s`
//! multiplies 16 i8 activations by 16 weights and adds into four i32 lanes in one instruction, twice
//! the work of simd128's `i32x4.dot_i16x8_s`; how the engine lowers it is the engine's choice (CPUs
//! with an 8-bit dot-product instruction, such as x86's AVX-VNNI or ARM's dot product, can do it in one).
//!
//! The instruction leaves a weight with the top bit set implementation-defined, so the weights are
//! offset from −8..=7 to 0..=15 in registers and `8 · Σ x` is subtracted per block, by starting the
//! accumulator at `−2 · Σ x` in each of its four lanes. Every product and sum is exact, so the result
//! is the same on every engine (the 16-bit intermediate cannot saturate: |2 · 127 · 15| < 2¹⁵).

// Register tiles: `r` and `j` index several arrays in lockstep; iterator forms would hide the tile shape.
#![allow(clippy::needless_range_loop)]

use core::arch::wasm32::*;

use super::q8::BLOCK;
use super::simd128::store_sums;
use super::tile::Tile8;

pub(super) struct Relaxed;

impl Tile8 for Relaxed {
    unsafe fn tile<const R: usize, const C: usize>(
        x: *const i8,
        xs: *const f32,
        xsum: *const i32,
        w: *const i8,
        s: *const f32,
        k: usize,
        out: *mut f32,
        ldo: usize,
    ) {
        let nb = k / BLOCK;
        let eight = i8x16_splat(8);
        let mut acc = [[f32x4_splat(0.0); C]; R];
        for b in 0..nb {
            let off = b * BLOCK;
            let mut lo = [eight; C];
            let mut hi = [eight; C];
            let mut sw = [f32x4_splat(0.0); C];
            for j in 0..C {
                // SAFETY (all loads): in bounds by the trait's contract; v128_load is unaligned.
                unsafe {
                    lo[j] = i8x16_add(v128_load(w.add(j * k + off) as *const v128), eight);
                    hi[j] = i8x16_add(v128_load(w.add(j * k + off + 16) as *const v128), eight);
                    sw[j] = f32x4_splat(*s.add(j * nb + b));
                }
            }
            for r in 0..R {
                let (xl, xh, start, sx) = unsafe {
                    (
                        v128_load(x.add(r * k + off) as *const v128),
                        v128_load(x.add(r * k + off + 16) as *const v128),
                        i32x4_splat(-2 * *xsum.add(r * nb + b)),
                        f32x4_splat(*xs.add(r * nb + b)),
                    )
                };
                for j in 0..C {
                    let d = i32x4_relaxed_dot_i8x16_i7x16_add(xl, lo[j], start);
                    let d = i32x4_relaxed_dot_i8x16_i7x16_add(xh, hi[j], d);
                    let v = f32x4_mul(f32x4_convert_i32x4(d), f32x4_mul(sx, sw[j]));
                    acc[r][j] = f32x4_add(acc[r][j], v);
                }
            }
        }
        // SAFETY: `out` is writable at r * ldo + j by the trait's contract.
        unsafe { store_sums(&acc, out, ldo) };
    }
}
