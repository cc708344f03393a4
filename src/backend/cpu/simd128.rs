//! The browser kernel: wasm simd128 without relaxed-SIMD (Safari lacks it). Weights are widened
//! i8 → i16 in registers (storing them widened would double their memory for little gain) and
//! multiplied by the i16 activations with `i32x4.dot_i16x8_s`, 8 multiply-adds per instruction.

// Register tiles: `r` and `j` index several arrays in lockstep; iterator forms would hide the tile shape.
#![allow(clippy::needless_range_loop)]

use core::arch::wasm32::*;

use super::q8::BLOCK;
use super::tile::Tile;

pub(super) struct Simd128;

impl Tile for Simd128 {
    unsafe fn tile<const R: usize, const C: usize>(
        x: *const i16,
        w: *const i8,
        s: *const f32,
        k: usize,
        out: *mut f32,
        ldo: usize,
    ) {
        let nb = k / BLOCK;
        let mut acc = [[f32x4_splat(0.0); C]; R];
        for b in 0..nb {
            let mut iacc = [[i32x4_splat(0); C]; R];
            for h in 0..2 {
                let off = b * BLOCK + h * 16;
                let mut lo = [i32x4_splat(0); C];
                let mut hi = [i32x4_splat(0); C];
                for j in 0..C {
                    // SAFETY (all loads): in bounds by the trait's contract; v128_load is unaligned.
                    let v = unsafe { v128_load(w.add(j * k + off) as *const v128) };
                    lo[j] = i16x8_extend_low_i8x16(v);
                    hi[j] = i16x8_extend_high_i8x16(v);
                }
                for r in 0..R {
                    let xl = unsafe { v128_load(x.add(r * k + off) as *const v128) };
                    let xh = unsafe { v128_load(x.add(r * k + off + 8) as *const v128) };
                    for j in 0..C {
                        let d = i32x4_add(i32x4_dot_i16x8(xl, lo[j]), i32x4_dot_i16x8(xh, hi[j]));
                        iacc[r][j] = i32x4_add(iacc[r][j], d);
                    }
                }
            }
            for j in 0..C {
                let sc = f32x4_splat(unsafe { *s.add(j * nb + b) });
                for r in 0..R {
                    let v = f32x4_mul(f32x4_convert_i32x4(iacc[r][j]), sc);
                    acc[r][j] = f32x4_add(acc[r][j], v);
                }
            }
        }
        // SAFETY: `out` is writable at r * ldo + j by the trait's contract.
        unsafe { store_sums(&acc, out, ldo) };
    }
}

/// Writes the sum of each accumulator's four lanes to `out[r * ldo + j]` (the relaxed kernel's too).
///
/// # Safety
/// `out` is writable at `r * ldo + j` for every `r < R`, `j < C`.
pub(super) unsafe fn store_sums<const R: usize, const C: usize>(
    acc: &[[v128; C]; R],
    out: *mut f32,
    ldo: usize,
) {
    for r in 0..R {
        for j in 0..C {
            let a = acc[r][j];
            let sum = (f32x4_extract_lane::<0>(a) + f32x4_extract_lane::<1>(a))
                + (f32x4_extract_lane::<2>(a) + f32x4_extract_lane::<3>(a));
            // SAFETY: forwarded from the caller.
            unsafe { *out.add(r * ldo + j) = sum };
        }
    }
}
