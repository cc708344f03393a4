//! The CPU matmul kernels (src/backend/cpu) against candle's dequantize-then-f32 matmul, natively;
//! tests/web.rs runs the same cases in Chromium on the simd128 kernel.

#[path = "support/kernel_cases.rs"]
mod kernel_cases;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use kernel_cases::{check, DTYPES, SHAPES};
use vitrine::backend::cpu::{quantize_rows, Linear, PackedQ8, QuantRows};

#[test]
fn every_kernel_matches_dequantized_f32_matmul() {
    for &dtype in DTYPES {
        for &shape in SHAPES {
            let ran = check(dtype, shape).unwrap_or_else(|e| panic!("{e}"));
            assert!(ran >= 1, "no kernel ran");
        }
    }
}

#[test]
fn other_weight_types_stay_on_candle() {
    let w = Tensor::from_vec(kernel_cases::values(8 * 256, 1), (8, 256), &Device::Cpu).unwrap();
    for dtype in [GgmlDType::F32, GgmlDType::Q4K, GgmlDType::Q4_1] {
        let q = QTensor::quantize(&w, dtype).unwrap();
        assert!(
            PackedQ8::from_qtensor(&q).is_none(),
            "{dtype:?} has no Vitrine kernel"
        );
    }
}

#[test]
fn float_weights_give_the_same_rows_few_or_many() {
    // Few rows take plain dot products, many take candle's matmul: both against an f64 reference.
    let (n, k) = (5, 40);
    let w = kernel_cases::values(n * k, 3);
    let b = kernel_cases::values(n, 4);
    let wt = Tensor::from_vec(w.clone(), (n, k), &Device::Cpu).unwrap();
    let bt = Tensor::from_vec(b.clone(), n, &Device::Cpu).unwrap();
    let lin = Linear::new(QTensor::quantize(&wt, GgmlDType::F32).unwrap(), Some(bt)).unwrap();
    for m in [1, 3, 32, 33, 70] {
        let x = kernel_cases::values(m * k, 5);
        let got = lin.forward_rows(&x, m).unwrap();
        for (i, row) in x.chunks(k).enumerate() {
            for j in 0..n {
                let want: f64 = b[j] as f64
                    + row
                        .iter()
                        .zip(&w[j * k..][..k])
                        .map(|(a, c)| *a as f64 * *c as f64)
                        .sum::<f64>();
                let g = got[i * n + j] as f64;
                assert!((g - want).abs() < 1e-4, "{m} rows: [{i}, {j}] {g} vs {want}");
            }
        }
    }
    assert!(lin.forward_rows(&[0.0; 39], 1).is_err());
}

#[test]
fn bad_activations_and_sizes_do_not_panic() {
    let w = Tensor::from_vec(kernel_cases::values(4 * 32, 2), (4, 32), &Device::Cpu).unwrap();
    let packed = PackedQ8::from_qtensor(&QTensor::quantize(&w, GgmlDType::Q8_0).unwrap()).unwrap();
    let mut rows = QuantRows::default();
    let mut x = vec![1.0f32; 64];
    x[3] = f32::INFINITY;
    x[40] = f32::NAN;
    quantize_rows(&x, 2, 32, &mut rows);
    let mut y = vec![0f32; 8];
    assert!(packed.matmul(&rows, None, &mut y).is_some());
    // A row with an infinity has no finite scale and comes out zero; a NaN counts as 0 in its row.
    assert!(y[..4].iter().all(|&v| v == 0.0), "{y:?}");
    assert!(
        y[4..].iter().all(|v| v.is_finite()) && y[4..].iter().any(|&v| v != 0.0),
        "{y:?}"
    );
    assert!(packed.matmul(&rows, None, &mut y[..7]).is_none());
    assert!(packed.matmul(&rows, Some(&[0.0; 3]), &mut y).is_none());
    quantize_rows(&[], 0, 32, &mut rows);
    assert!(packed.matmul(&rows, None, &mut []).is_some());
}

#[test]
fn fast_erf_matches_libm() {
    // The GELU's erf against libm's erff (what candle's gelu_erf uses) over the range that matters.
    let mut worst = 0f32;
    for i in -60_000..=60_000 {
        let x = i as f32 * 1e-4;
        worst = worst.max((vitrine::backend::cpu::ops::erf(x) - candle_core::cpu::erf::erf_f32(x)).abs());
    }
    assert!(worst <= 1e-6, "max |erf - erff| = {worst}");
    assert!((vitrine::backend::cpu::ops::erf(100.0) - 1.0).abs() <= 1e-6);
    assert!(vitrine::backend::cpu::ops::erf(f32::NAN).is_nan());
}

#[test]
#[cfg(not(target_arch = "wasm32"))] // reads the model files
fn packed_weights_give_back_their_gguf_blocks_byte_for_byte() {
    // The GPU uploads the blocks re-derived from the CPU's packed copy instead of reading the model
    // file again: they must be the file's bytes exactly, for random weights (zero blocks included)...
    for &dtype in DTYPES {
        let mut v = kernel_cases::values(16 * 96, 4);
        v[32..64].fill(0.0);
        let w = Tensor::from_vec(v, (16, 96), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let packed = PackedQ8::from_qtensor(&q).unwrap();
        assert_eq!(packed.ggml_blocks(), q.data().unwrap().to_vec(), "{dtype:?}");
    }
    // ...and for every matrix of both shipped models, read by candle's own GGUF reader.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for model in ["minilm-l6-q8_0", "minilm-l6-small"] {
        let bytes = std::fs::read(root.join(format!("models/{model}.gguf"))).expect("model");
        let mut cursor = std::io::Cursor::new(&bytes);
        let content = candle_core::quantized::gguf_file::Content::read(&mut cursor).unwrap();
        let mut checked = 0;
        for name in content.tensor_infos.keys() {
            let q = content.tensor(&mut cursor, name, &Device::Cpu).unwrap();
            if let Some(packed) = PackedQ8::from_qtensor(&q) {
                assert_eq!(packed.dtype(), q.dtype());
                assert!(
                    packed.ggml_blocks() == q.data().unwrap().as_ref(),
                    "{model}: {name}"
                );
                checked += 1;
            }
        }
        // 6 layers × 6 matrices, plus the word table.
        assert!(checked >= 36, "{model}: only {checked} packed matrices");
        eprintln!("{model}: {checked} matrices give back their blocks exactly");
    }
}

/// Sizes that do not fit are errors, not zeros or a product over the shorter slice (which used to hide
/// vectors from two models meeting). Literal values: LayerNorm of [1, 3] is [-1, 1] (eps 0).
#[test]
fn size_mismatches_in_the_slice_ops_are_errors() {
    use vitrine::backend::cpu::ops;
    let mismatch = |r: vitrine::Result<()>| matches!(r, Err(vitrine::Error::SizeMismatch { .. }));

    assert!((ops::dot(&[1.0, 2.0], &[3.0, 4.0]).unwrap() - 11.0).abs() < 1e-6);
    assert!(
        ops::dot(&[1.0, 2.0], &[3.0]).is_err(),
        "was 3.0, over the shorter slice"
    );
    assert!(vitrine::rank::dot(&[1.0; 384], &[1.0; 128]).is_err(), "was 128");

    let (w, b) = ([1.0f32, 1.0], [0.0f32, 0.0]);
    let mut x = [1.0f32, 3.0];
    ops::add_layer_norm(&mut x, None, &w, &b, 0.0).unwrap();
    assert!((x[0] + 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6, "{x:?}");
    let mut x = [1.0f32, 3.0, 5.0];
    assert!(
        mismatch(ops::add_layer_norm(&mut x, None, &w, &b, 0.0)),
        "a partial row"
    );
    assert_eq!(x, [1.0, 3.0, 5.0], "left unchanged");
    assert!(
        mismatch(ops::add_layer_norm(&mut x[..2], None, &w, &b[..1], 0.0)),
        "a short bias"
    );
    let short = [1.0f32];
    assert!(
        mismatch(ops::add_layer_norm(&mut x[..2], Some(&short[..]), &w, &b, 0.0)),
        "a short residual"
    );

    // One sequence of 2 tokens, 1 head of size 2: qkv holds 2 rows of 6 values.
    let qkv = [0.0f32; 12];
    let mut out = [0.0f32; 4];
    ops::attention(&qkv, 1, 2, 1, 2, None, &mut out).unwrap();
    assert!(mismatch(ops::attention(&qkv[..11], 1, 2, 1, 2, None, &mut out)));
    assert!(mismatch(ops::attention(&qkv, 1, 2, 1, 2, None, &mut out[..3])));
    let mask = [0.0f32];
    assert!(mismatch(ops::attention(
        &qkv,
        1,
        2,
        1,
        2,
        Some(&mask[..]),
        &mut out
    )));
}

#[test]
fn causal_attention_sees_only_earlier_keys() {
    use vitrine::backend::cpu::ops;
    // Two tokens, one head of size 2, every score 0: rows of [q | k | v] with v = [1, 2] then [3, 4].
    let qkv = [0.0f32, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 4.0];
    let mut out = [0.0f32; 4];
    ops::causal_attention(&qkv, 2, 1, 2, &mut out).unwrap();
    assert_eq!(
        out,
        [1.0, 2.0, 2.0, 3.0],
        "token 0 sees itself; token 1 averages both"
    );
    ops::attention(&qkv, 1, 2, 1, 2, None, &mut out).unwrap();
    assert_eq!(out, [2.0, 3.0, 2.0, 3.0], "without the causal mask both average");
    assert!(ops::causal_attention(&qkv[..11], 2, 1, 2, &mut out).is_err());
}
