//! The register-tile contract every matmul kernel implements ([`Tile`] for i16 rows, [`Tile8`] for
//! i8 blocks) and the walk over a product in tiles that all of them share.

/// Rows (activations) per register tile: each weight load is reused this many times.
const MR: usize = 4;
/// Columns (weights) per register tile: each activation load is reused this many times.
pub(super) const NR: usize = 4;
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

/// [`Tile`] for i8 activations with a scale per block ([`super::quantize_blocks`]):
/// `out[r * ldo + j] = Σ_b xs[r * nb + b] · s[j * nb + b] · Σ_{i ∈ b} x[r * k + i] · w[j * k + i]`.
pub(super) trait Tile8 {
    /// # Safety
    /// As [`Tile::tile`], with `xs` and `xsum` holding `MR'` rows of `k / 32` block scales and sums
    /// (`Σ x` per block), and every weight within q4_0's −8..=7.
    #[allow(clippy::too_many_arguments)] // one pointer per operand; a struct would only rename them
    unsafe fn tile<const R: usize, const C: usize>(
        x: *const i8,
        xs: *const f32,
        xsum: *const i32,
        w: *const i8,
        s: *const f32,
        k: usize,
        out: *mut f32,
        ldo: usize,
    );
}

/// Walks an `m × n` product in register tiles of at most `MR × NR` (`NR` or 1 columns), panel by
/// panel, calling `tile(r0, c0, mr, nr)` for each; `r0 + mr ≤ m` and `c0 + nr ≤ n` always hold.
pub(super) fn tiles(m: usize, n: usize, tile: impl FnMut(usize, usize, usize, usize)) {
    tiles_of::<MR>(m, n, tile)
}

/// As [`tiles`] with tiles of at most `ROWS` rows (a kernel with fewer live registers per row).
pub(super) fn tiles_of<const ROWS: usize>(
    m: usize,
    n: usize,
    mut tile: impl FnMut(usize, usize, usize, usize),
) {
    const { assert!(ROWS > 0 && PANEL % ROWS == 0) };
    for p0 in (0..m).step_by(PANEL) {
        let p1 = (p0 + PANEL).min(m);
        let mut c0 = 0;
        while c0 < n {
            let nr = if n - c0 >= NR { NR } else { 1 };
            let mut r0 = p0;
            while r0 < p1 {
                let mr = (p1 - r0).min(ROWS);
                tile(r0, c0, mr, nr);
                r0 += mr;
            }
            c0 += nr;
        }
    }
}

/// One [`Tile`] call with the tile shape as constants.
///
/// # Safety
/// As [`Tile::tile`] for `mr ≤ MR` rows and `nr` (`NR` or 1) columns.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn dispatch<T: Tile>(
    mr: usize,
    nr: usize,
    x: *const i16,
    w: *const i8,
    s: *const f32,
    k: usize,
    out: *mut f32,
    ldo: usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match (mr, nr) {
            (4, NR) => T::tile::<4, NR>(x, w, s, k, out, ldo),
            (3, NR) => T::tile::<3, NR>(x, w, s, k, out, ldo),
            (2, NR) => T::tile::<2, NR>(x, w, s, k, out, ldo),
            (1, NR) => T::tile::<1, NR>(x, w, s, k, out, ldo),
            (4, _) => T::tile::<4, 1>(x, w, s, k, out, ldo),
            (3, _) => T::tile::<3, 1>(x, w, s, k, out, ldo),
            (2, _) => T::tile::<2, 1>(x, w, s, k, out, ldo),
            _ => T::tile::<1, 1>(x, w, s, k, out, ldo),
        }
    }
}

/// One [`Tile8`] call with the tile shape as constants.
///
/// # Safety
/// As [`Tile8::tile`] for `mr ≤ MR` rows and `nr` (`NR` or 1) columns.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn dispatch8<T: Tile8>(
    mr: usize,
    nr: usize,
    x: *const i8,
    xs: *const f32,
    xsum: *const i32,
    w: *const i8,
    s: *const f32,
    k: usize,
    out: *mut f32,
    ldo: usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match (mr, nr) {
            (4, NR) => T::tile::<4, NR>(x, xs, xsum, w, s, k, out, ldo),
            (3, NR) => T::tile::<3, NR>(x, xs, xsum, w, s, k, out, ldo),
            (2, NR) => T::tile::<2, NR>(x, xs, xsum, w, s, k, out, ldo),
            (1, NR) => T::tile::<1, NR>(x, xs, xsum, w, s, k, out, ldo),
            (4, _) => T::tile::<4, 1>(x, xs, xsum, w, s, k, out, ldo),
            (3, _) => T::tile::<3, 1>(x, xs, xsum, w, s, k, out, ldo),
            (2, _) => T::tile::<2, 1>(x, xs, xsum, w, s, k, out, ldo),
            _ => T::tile::<1, 1>(x, xs, xsum, w, s, k, out, ldo),
        }
    }
}
