//! The encoder's non-matmul steps on plain row-major f32 slices: LayerNorm, GELU, and attention
//! straight from the fused query/key/value rows. Done on slices rather than as candle tensor ops
//! because at query sizes (16 tokens) each tensor op's allocation and dispatch cost more than its
//! arithmetic, and attention as tensors needs several transposing copies.

use crate::error::{Error, Result};

/// `x ← LayerNorm(x + residual)` row by row (`h` features), with weight `w`, bias `b`, in f32. Sizes
/// that do not fit (`b`, `residual`, or a partial last row) are an error, and `x` is left unchanged.
pub fn add_layer_norm(x: &mut [f32], residual: Option<&[f32]>, w: &[f32], b: &[f32], eps: f32) -> Result<()> {
    let h = w.len();
    Error::check_len("layer norm (bias)", h, b.len())?;
    if let Some(r) = residual {
        Error::check_len("layer norm (residual)", x.len(), r.len())?;
    }
    if h == 0 || x.len() % h != 0 {
        return Err(Error::SizeMismatch {
            what: format!("layer norm (whole rows of {h})"),
            expected: x.len().next_multiple_of(h.max(1)),
            found: x.len(),
        });
    }
    if let Some(r) = residual {
        x.iter_mut().zip(r).for_each(|(a, r)| *a += r);
    }
    for row in x.chunks_exact_mut(h) {
        let mean = sum(row) / h as f32;
        row.iter_mut().for_each(|v| *v -= mean);
        let var = lanes_dot(row, row) / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(w).zip(b) {
            *v = *v * inv * w + b;
        }
    }
    Ok(())
}

/// GELU (the erf form, as BERT's `gelu`) in place: `x · (1 + erf(x / √2)) / 2`.
pub fn gelu_erf(x: &mut [f32]) {
    for v in x {
        *v = (erf(*v * std::f32::consts::FRAC_1_SQRT_2) + 1.0) * 0.5 * *v;
    }
}

/// erf as a rational function of degree 13/8 on [-4, 4] (beyond it erf is ±1 in f32), the
/// approximation Eigen and XLA use; within a few 1e-7 of libm's `erff` (tested). Branch-free, so
/// the loop above vectorises, where a libm call per element cost ~9 % of a query.
#[allow(clippy::manual_clamp)] // deliberate: see the comment below
pub fn erf(x: f32) -> f32 {
    // Selects, not f32::clamp (a libm call on wasm); a NaN compares false both times and stays NaN.
    let x = if x > 4.0 {
        4.0
    } else if x < -4.0 {
        -4.0
    } else {
        x
    };
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.954_600_1e-3;
    p = x2 * p + -1.609_603_3e-2;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329e-3;
    q = x2 * q + -1.426_474e-2;
    x * p / q
}

/// Multi-head self-attention. `qkv` holds `batch × seq` rows of `[query | key | value]` (`3 · heads ·
/// d` values each); `mask` is an additive `batch × seq` key mask (0 or a large negative), `None`
/// when nothing is padded. Writes `batch × seq` rows of `heads · d` context values into `out`; a
/// slice of another size is an error (and `out` is left unchanged).
pub fn attention(
    qkv: &[f32],
    batch: usize,
    seq: usize,
    heads: usize,
    d: usize,
    mask: Option<&[f32]>,
    out: &mut [f32],
) -> Result<()> {
    attend(qkv, batch, seq, heads, d, mask, false, out)
}

/// [`attention`] over one sequence where position `i` sees keys `0..=i` only (a causal model's).
pub fn causal_attention(qkv: &[f32], seq: usize, heads: usize, d: usize, out: &mut [f32]) -> Result<()> {
    attend(qkv, 1, seq, heads, d, None, true, out)
}

#[allow(clippy::too_many_arguments)]
fn attend(
    qkv: &[f32],
    batch: usize,
    seq: usize,
    heads: usize,
    d: usize,
    mask: Option<&[f32]>,
    causal: bool,
    out: &mut [f32],
) -> Result<()> {
    let h = heads * d;
    Error::check_len("attention (qkv)", batch * seq * 3 * h, qkv.len())?;
    Error::check_len("attention (out)", batch * seq * h, out.len())?;
    if let Some(m) = mask {
        Error::check_len("attention (mask)", batch * seq, m.len())?;
    }
    let scale = 1.0 / (d as f32).sqrt();
    let mut p = vec![0f32; seq];
    for b in 0..batch {
        let rows = &qkv[b * seq * 3 * h..][..seq * 3 * h];
        let keep = mask.map(|m| &m[b * seq..][..seq]);
        for head in 0..heads {
            let (qo, ko, vo) = (head * d, h + head * d, 2 * h + head * d);
            for i in 0..seq {
                let q = &rows[i * 3 * h + qo..][..d];
                let p = &mut p[..if causal { i + 1 } else { seq }];
                let mut max = f32::NEG_INFINITY;
                for (j, pj) in p.iter_mut().enumerate() {
                    let k = &rows[j * 3 * h + ko..][..d];
                    let s = lanes_dot(q, k) * scale + keep.map_or(0.0, |m| m[j]);
                    *pj = s;
                    max = max.max(s);
                }
                let mut total = 0.0;
                for pj in p.iter_mut() {
                    *pj = (*pj - max).exp();
                    total += *pj;
                }
                let ctx = &mut out[(b * seq + i) * h + head * d..][..d];
                ctx.fill(0.0);
                for (j, &pj) in p.iter().enumerate() {
                    let v = &rows[j * 3 * h + vo..][..d];
                    ctx.iter_mut().zip(v).for_each(|(c, v)| *c += pj * v);
                }
                let inv = 1.0 / total;
                ctx.iter_mut().for_each(|c| *c *= inv);
            }
        }
    }
    Ok(())
}

/// Eight independent partial sums: the compiler may keep them in SIMD lanes (it may not reorder one
/// float sum), which is what makes `dot` and `sum` vectorise.
fn lanes_total(a: [f32; 8]) -> f32 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

fn sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    lanes_total(acc) + tail
}

/// `Σ aᵢ·bᵢ` in eight lanes (vectorised; see `lanes_total`); slices of two lengths are an error.
pub fn dot(a: &[f32], b: &[f32]) -> Result<f32> {
    Error::check_len("dot", a.len(), b.len())?;
    Ok(lanes_dot(a, b))
}

/// [`dot`] of slices the kernels above cut to one length themselves.
pub(crate) fn lanes_dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    lanes_total(acc) + tail
}
