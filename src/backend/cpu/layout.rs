//! The relaxed-SIMD kernel's weight layout ("quads"), and the conversions from and to the row layout
//! every other kernel reads.
//!
//! `i32x4.relaxed_dot_i8x16_i7x16_add_s` adds the products of 4 consecutive bytes into each of its 4
//! lanes. With the weights of 4 columns interleaved 4 bytes at a time and the 4 activation bytes
//! broadcast to all lanes, each lane accumulates one column's dot product: a block of 32 ends as one
//! exact i32 per column, in one register, scaled there for 4 columns at once. With the row layout each
//! lane held a quarter of one column's sum, and the conversion and scaling ran once per column.

use super::q8::BLOCK;

/// Columns per group: the instruction's lane count.
pub const GROUP: usize = 4;
/// The weights are stored offset by this (q4_0's −8..=7 as 0..=15): the instruction leaves a weight
/// with its top bit set implementation-defined, and the offset's share of each sum, 8 · Σ x, is exact.
pub const OFFSET: i8 = 8;

/// Groups of [`GROUP`] columns covering `n`; the last one is padded with zero weights and scales.
pub fn groups(n: usize) -> usize {
    n.div_ceil(GROUP)
}

/// Row layout (`qs[j * k + i]`, `scales[j * nb + b]`) to quads: weight `(j, i)` of group `g = j / 4`,
/// block `b = i / 32`, quad `t = i % 32 / 4` is at `g·4k + b·128 + t·16 + (j % 4)·4 + i % 4`, plus
/// [`OFFSET`]; its scale at `g·4nb + b·4 + j % 4`.
pub fn to_quads(n: usize, k: usize, qs: &[i8], scales: &[f32]) -> (Vec<i8>, Vec<f32>) {
    let nb = k / BLOCK;
    let g = groups(n);
    let mut q = vec![OFFSET; g * GROUP * k];
    let mut s = vec![0f32; g * GROUP * nb];
    for j in 0..n {
        let (grp, c) = (j / GROUP, j % GROUP);
        for (i, &v) in qs[j * k..(j + 1) * k].iter().enumerate() {
            q[quad_index(k, grp, c, i)] = v + OFFSET;
        }
        for b in 0..nb {
            s[grp * GROUP * nb + b * GROUP + c] = scales[j * nb + b];
        }
    }
    (q, s)
}

/// The inverse of [`to_quads`] for `n` columns (the padding dropped).
pub fn from_quads(n: usize, k: usize, q: &[i8], s: &[f32]) -> (Vec<i8>, Vec<f32>) {
    let nb = k / BLOCK;
    let mut qs = Vec::with_capacity(n * k);
    let mut scales = Vec::with_capacity(n * nb);
    for j in 0..n {
        let (grp, c) = (j / GROUP, j % GROUP);
        qs.extend((0..k).map(|i| q[quad_index(k, grp, c, i)] - OFFSET));
        scales.extend((0..nb).map(|b| s[grp * GROUP * nb + b * GROUP + c]));
    }
    (qs, scales)
}

/// Where weight `i` of column `c` in group `grp` sits (see [`to_quads`]).
fn quad_index(k: usize, grp: usize, c: usize, i: usize) -> usize {
    grp * GROUP * k + (i / BLOCK) * BLOCK * GROUP + (i % BLOCK / 4) * 16 + c * 4 + i % 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quads_interleave_four_columns_four_bytes_at_a_time_and_round_trip() {
        // 5 columns (one padded group), k = 64: every weight a distinct value in −8..=7's range.
        let (n, k) = (5, 64);
        let qs: Vec<i8> = (0..n * k).map(|v| (v % 16) as i8 - 8).collect();
        let scales: Vec<f32> = (0..n * 2).map(|v| v as f32 + 0.5).collect();
        let (q, s) = to_quads(n, k, &qs, &scales);
        assert_eq!((q.len(), s.len()), (2 * 4 * k, 2 * 4 * 2));
        // Literal positions: column 1's weights 4..8 of block 0 are bytes 16 + 4..8 (quad 1, lane 1).
        let want: Vec<i8> = (k + 4..k + 8).map(|i| qs[i] + 8).collect();
        assert_eq!(&q[20..24], &want[..]);
        // Column 2, block 1, weight 32 (quad 0): group 0, offset 128 + 2·4.
        assert_eq!(q[136], qs[2 * k + 32] + 8);
        // Column 4 opens group 1; columns 5..8 are padding (weight 0 stored as 8, scale 0).
        assert_eq!(q[4 * k], qs[4 * k] + 8);
        let pads = q[4 * k..].chunks(4).enumerate().filter(|(i, _)| i % 4 != 0);
        assert!(pads.map(|(_, c)| c).all(|c| c == [8; 4]));
        assert_eq!(&s[8..], &[8.5, 0.0, 0.0, 0.0, 9.5, 0.0, 0.0, 0.0]);
        assert_eq!(&s[..4], &[0.5, 2.5, 4.5, 6.5]);
        assert_eq!(from_quads(n, k, &q, &s), (qs, scales));
    }
}
