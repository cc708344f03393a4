//! Kernel checks shared by the native tests (tests/kernels.rs) and the browser ones (tests/web.rs):
//! every available [`Kernel`] against an independent reference — candle dequantizes the weights and
//! multiplies in f32 — on odd shapes, for each weight type the kernels take.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use vitrine::backend::cpu::{quantize_blocks, quantize_rows, Kernel, PackedQ8, QuantBlocks, QuantRows};

/// (m, k, n): one row, a ragged row count, both model widths, n not a multiple of the tile width.
pub const SHAPES: &[(usize, usize, usize)] = &[
    (1, 384, 384),
    (17, 384, 1536),
    (16, 1536, 384),
    (5, 64, 7),
    (3, 32, 1),
    (37, 96, 10),
];
pub const DTYPES: &[GgmlDType] = &[GgmlDType::Q8_0, GgmlDType::Q5_0, GgmlDType::Q4_0];
pub const KERNELS: &[Kernel] = &[
    Kernel::Scalar,
    Kernel::Simd128,
    Kernel::Avx2,
    Kernel::ScalarI8,
    Kernel::Relaxed,
];

/// Deterministic values in [-1, 1) with a few large outliers, as BERT activations have.
pub fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
            if i % 97 == 13 {
                v * 20.0
            } else {
                v
            }
        })
        .collect()
}

/// Checks one (dtype, shape) on every available kernel; returns how many kernels ran, or what failed.
///
/// Tolerance, per output element: the activation rounding (half a quantization step times Σ|w| over
/// the values that step applies to, the worst case: the row's scale for i16 rows, each block's for
/// i8 blocks) plus 1e-4 · Σ|x·w| for f32 summation order in both the kernel and the
/// reference. A wrong layout or scale is off by the size of the terms themselves, far outside it.
pub fn check(dtype: GgmlDType, (m, k, n): (usize, usize, usize)) -> Result<usize, String> {
    let dev = Device::Cpu;
    let err = |e: candle_core::Error| e.to_string();
    let w = Tensor::from_vec(values(n * k, 7 + n as u64), (n, k), &dev).map_err(err)?;
    let qw = QTensor::quantize(&w, dtype).map_err(err)?;
    let wd = qw.dequantize(&dev).map_err(err)?;
    let x = values(m * k, 11 + m as u64);
    let bias = values(n, 3);
    let xt = Tensor::from_vec(x.clone(), (m, k), &dev).map_err(err)?;
    let want = xt.matmul(&wd.t().map_err(err)?).map_err(err)?;
    let want: Vec<f32> = want.flatten_all().and_then(|t| t.to_vec1()).map_err(err)?;
    let wd: Vec<f32> = wd.flatten_all().and_then(|t| t.to_vec1()).map_err(err)?;

    let mut packed = PackedQ8::from_qtensor(&qw).ok_or("no kernel for this type")?;
    // The repacking itself must be exact: scale × integer reproduces candle's dequantization.
    if packed.dequantize() != wd {
        return Err(format!(
            "{dtype:?}: repacked weights differ from candle's dequantization"
        ));
    }
    let mut rows = QuantRows::default();
    quantize_rows(&x, m, k, &mut rows);
    let mut blocks = QuantBlocks::default();
    quantize_blocks(&x, m, k, &mut blocks);
    let nb = k / 32;
    // The i8 blocks themselves: each value within half a step of its float, each sum exact.
    for (i, (&q, &v)) in blocks.q.iter().zip(&x).enumerate() {
        let step = blocks.scale[i / 32];
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !((q as f32 * step - v).abs() <= 0.5 * step * (1.0 + 1e-5)) {
            return Err(format!("i8 block: x[{i}] = {v} quantized to {q} × {step}"));
        }
    }
    for (b, &sum) in blocks.sum.iter().enumerate() {
        if sum != blocks.q[b * 32..][..32].iter().map(|&q| q as i32).sum::<i32>() {
            return Err(format!("i8 block {b}: sum {sum} is not the sum of its values"));
        }
    }
    // The relaxed kernel must reproduce the portable one's arithmetic bit for bit.
    let mut portable = None;
    if packed.set_kernel(Kernel::ScalarI8) {
        let mut y = vec![0f32; m * n];
        packed
            .matmul_blocks(&blocks, Some(&bias), &mut y)
            .ok_or("size mismatch")?;
        portable = Some(y);
    }
    let mut ran = 0;
    for &kernel in KERNELS {
        if !packed.set_kernel(kernel) {
            continue;
        }
        ran += 1;
        let mut y = vec![f32::NAN; m * n];
        if kernel.takes_blocks() {
            packed
                .matmul_blocks(&blocks, Some(&bias), &mut y)
                .ok_or("size mismatch")?;
        } else {
            packed.matmul(&rows, Some(&bias), &mut y).ok_or("size mismatch")?;
        }
        for r in 0..m {
            let xr = &x[r * k..][..k];
            for j in 0..n {
                let wj = &wd[j * k..][..k];
                let step = |i: usize| match kernel.takes_blocks() {
                    true => blocks.scale[r * nb + i / 32],
                    false => rows.scale[r],
                };
                let abs_w: f32 = wj.iter().enumerate().map(|(i, v)| step(i) * v.abs()).sum();
                let abs_xw: f32 = xr.iter().zip(wj).map(|(a, b)| (a * b).abs()).sum();
                let tol = 0.5 * abs_w + 1e-4 * abs_xw + 1e-6;
                let (got, exp) = (y[r * n + j], want[r * n + j] + bias[j]);
                // Against the portable i8 kernel: the same exact block sums, scaled and added in
                // the same f32 order, so the same bits (a native run reproduces the browser's).
                if let (true, Some(p)) = (kernel.takes_blocks(), portable.as_ref()) {
                    let p = p[r * n + j];
                    if got.to_bits() != p.to_bits() {
                        return Err(format!(
                            "{kernel:?} m={m} k={k} n={n}: y[{r},{j}] = {got}, the portable i8 kernel {p}"
                        ));
                    }
                }
                #[allow(clippy::neg_cmp_op_on_partial_ord)] // a NaN must fail the check, not pass it
                if !((got - exp).abs() <= tol) {
                    return Err(format!(
                        "{kernel:?} {dtype:?} m={m} k={k} n={n}: y[{r},{j}] = {got}, want {exp} ± {tol}"
                    ));
                }
            }
        }
    }
    Ok(ran)
}
