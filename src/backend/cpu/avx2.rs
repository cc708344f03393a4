//! The native x86_64 kernel: AVX2 `vpmaddwd` (16 i16 × i16 multiply-adds per instruction) on the
//! i16 activations and sign-extended i8 weights, FMA into f32 per block. Chosen at run time, so the
//! binary still runs on CPUs without AVX2 (they get the scalar kernel).

// Register tiles: `r` and `j` index several arrays in lockstep; iterator forms would hide the tile shape.
#![allow(clippy::needless_range_loop)]

use core::arch::x86_64::*;

use super::q8::BLOCK;
use super::tile::Tile;

pub(super) struct Avx2;

impl Tile for Avx2 {
    unsafe fn tile<const R: usize, const C: usize>(
        x: *const i16,
        w: *const i8,
        s: *const f32,
        k: usize,
        out: *mut f32,
        ldo: usize,
    ) {
        // SAFETY: the caller checked AVX2 and FMA (Kernel::Avx2 is only chosen when both exist).
        unsafe { tile_avx2::<R, C>(x, w, s, k, out, ldo) }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2<const R: usize, const C: usize>(
    x: *const i16,
    w: *const i8,
    s: *const f32,
    k: usize,
    out: *mut f32,
    ldo: usize,
) {
    let nb = k / BLOCK;
    let mut acc = [[_mm256_setzero_ps(); C]; R];
    for b in 0..nb {
        let off = b * BLOCK;
        let mut wv = [[_mm256_setzero_si256(); 2]; C];
        let mut sc = [_mm256_setzero_ps(); C];
        for j in 0..C {
            // SAFETY (all loads): in bounds by the trait's contract; the loads are unaligned ones.
            unsafe {
                let p = w.add(j * k + off);
                wv[j][0] = _mm256_cvtepi8_epi16(_mm_loadu_si128(p as *const __m128i));
                wv[j][1] = _mm256_cvtepi8_epi16(_mm_loadu_si128(p.add(16) as *const __m128i));
                sc[j] = _mm256_set1_ps(*s.add(j * nb + b));
            }
        }
        for r in 0..R {
            let (x0, x1) = unsafe {
                let p = x.add(r * k + off);
                (
                    _mm256_loadu_si256(p as *const __m256i),
                    _mm256_loadu_si256(p.add(16) as *const __m256i),
                )
            };
            for j in 0..C {
                let d = _mm256_add_epi32(_mm256_madd_epi16(x0, wv[j][0]), _mm256_madd_epi16(x1, wv[j][1]));
                acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), sc[j], acc[r][j]);
            }
        }
    }
    for r in 0..R {
        for j in 0..C {
            let a = acc[r][j];
            let q = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
            let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
            let q = _mm_add_ss(q, _mm_shuffle_ps::<1>(q, q));
            unsafe { *out.add(r * ldo + j) = _mm_cvtss_f32(q) };
        }
    }
}
