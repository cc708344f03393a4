//! The browser kernel for q4_0 weights where the engine has relaxed SIMD (Chromium, and any engine
//! that validates it; not Safari, which gets the simd128 build): `i32x4.relaxed_dot_i8x16_i7x16_add_s`
//! multiplies 16 i8 activations by 16 weights and adds into four i32 lanes in one instruction, twice
//! the work of simd128's `i32x4.dot_i16x8_s`; how the engine lowers it is the engine's choice (CPUs
//! with an 8-bit dot-product instruction, such as x86's AVX-VNNI or ARM's dot product, can do it in one).
//!
//! The weights are in [`super::layout`]'s quads: 4 columns interleaved 4 bytes at a time, offset to
//! 0..=15 (the instruction leaves a weight with its top bit set implementation-defined). Each row's 4
//! activation bytes are broadcast to the 4 lanes, so lane `c` sums column `c`'s products; starting the
//! accumulator at `−8 · Σ x` removes the offset's share. Every product and sum is exact, and the block
//! sum is then scaled and added in f32 in the order of [`super::scalar`]'s i8 model, so the result is
//! the same, bit for bit, on every engine.

use core::arch::wasm32::*;

use super::layout::{GROUP, OFFSET};
use super::q8::BLOCK;

/// Rows per tile: a row needs two registers (its accumulator and its block sum) beside the group's
/// eight weight vectors, where the row layout's 4 × 4 tile held 16 accumulators; taller tiles
/// reuse each weight load more (measured in Chromium, e5's query min: 14.0 ms at 8 rows, 14.3 at
/// 6, 15.0 at 4; BENCHMARKS.md, run 9).
pub(super) const ROWS: usize = 8;

/// [`group`] with the row count as a constant.
///
/// # Safety
/// As [`group`] for `mr ≤ ROWS` rows.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn dispatch(
    mr: usize,
    x: *const i8,
    xs: *const f32,
    xsum: *const i32,
    w: *const i8,
    s: *const f32,
    k: usize,
    out: *mut f32,
    ldo: usize,
    cols: usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match mr {
            8 => group::<8>(x, xs, xsum, w, s, k, out, ldo, cols),
            7 => group::<7>(x, xs, xsum, w, s, k, out, ldo, cols),
            6 => group::<6>(x, xs, xsum, w, s, k, out, ldo, cols),
            5 => group::<5>(x, xs, xsum, w, s, k, out, ldo, cols),
            4 => group::<4>(x, xs, xsum, w, s, k, out, ldo, cols),
            3 => group::<3>(x, xs, xsum, w, s, k, out, ldo, cols),
            2 => group::<2>(x, xs, xsum, w, s, k, out, ldo, cols),
            _ => group::<1>(x, xs, xsum, w, s, k, out, ldo, cols),
        }
    }
}

/// One group of 4 columns for `R` rows: `out[r * ldo + c] = Σ_b xs[r·nb + b] · s[b·4 + c] · Σ_{i ∈ b}
/// x[r·k + i] · w(c, i)` for `c < cols`.
///
/// # Safety
/// `x` holds `R` rows of `k` i8 values, `xs` and `xsum` `R` rows of `k / 32` block scales and sums;
/// `w` holds one group's `4k` quad bytes and `s` its `4 · k / 32` scales; `out` is writable at
/// `r * ldo + c` for `c < cols ≤ 4`; `k` is a multiple of 32.
#[allow(clippy::too_many_arguments)] // one pointer per operand, as the other kernels take them
pub(super) unsafe fn group<const R: usize>(
    x: *const i8,
    xs: *const f32,
    xsum: *const i32,
    w: *const i8,
    s: *const f32,
    k: usize,
    out: *mut f32,
    ldo: usize,
    cols: usize,
) {
    let nb = k / BLOCK;
    let mut acc = [f32x4_splat(0.0); R];
    for b in 0..nb {
        // SAFETY (all loads): in bounds by the contract above; v128 loads are unaligned.
        let (wv, sw) = unsafe {
            let wb = w.add(b * BLOCK * GROUP);
            let wv: [v128; 8] = core::array::from_fn(|t| v128_load(wb.add(t * 16) as *const v128));
            (wv, v128_load(s.add(b * GROUP) as *const v128))
        };
        for (r, a) in acc.iter_mut().enumerate() {
            let xr = unsafe { x.add(r * k + b * BLOCK) };
            let mut d = i32x4_splat(-i32::from(OFFSET) * unsafe { *xsum.add(r * nb + b) });
            for (t, &wt) in wv.iter().enumerate() {
                let xq = unsafe { v128_load32_splat(xr.add(t * 4) as *const u32) };
                d = i32x4_relaxed_dot_i8x16_i7x16_add(xq, wt, d);
            }
            let scale = f32x4_mul(f32x4_splat(unsafe { *xs.add(r * nb + b) }), sw);
            *a = f32x4_add(*a, f32x4_mul(f32x4_convert_i32x4(d), scale));
        }
    }
    for (r, a) in acc.iter().enumerate() {
        // SAFETY: `out` is writable at r * ldo + c for c < cols by the contract.
        unsafe {
            let o = out.add(r * ldo);
            if cols == GROUP {
                v128_store(o as *mut v128, *a);
            } else {
                let lanes: [f32; GROUP] = core::mem::transmute(*a);
                lanes[..cols].iter().enumerate().for_each(|(c, &v)| *o.add(c) = v);
            }
        }
    }
}
