//! Each WGSL kernel (src/backend/gpu) against the CPU path it replaces, on real encoder shapes, on
//! whatever adapter wgpu finds (lavapipe here). Fails without an adapter; see tests/support/gpu.rs
//! for `VITRINE_NO_GPU_TESTS=1`.
//!
//! The tolerances come from f32 summation order: two orders of an n-term sum differ by at most
//! about n·ε·Σ|terms| (ε = 6e-8), far below it in practice; a wrong index, layout or scale is off
//! by the size of the terms themselves.
#![cfg(all(feature = "gpu", not(target_arch = "wasm32")))]

#[path = "support/gpu.rs"]
mod gpu;
#[allow(dead_code)]
#[path = "support/kernel_cases.rs"]
mod kernel_cases;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use kernel_cases::values;
use vitrine::backend::cpu::ops;
use vitrine::backend::gpu::attention::Attention;
use vitrine::backend::gpu::layer_norm::LayerNormWeights;
use vitrine::backend::gpu::matmul::QWeight;
use vitrine::backend::gpu::pool::Pool;
use vitrine::backend::gpu::{shape_words, BindGroups, Forward, GpuContext};

/// Token counts of three sequences padded to 19: a full one, and two padded ones.
const LENS: [usize; 3] = [19, 7, 12];
const SEQ: usize = 19;

fn mask() -> Vec<u32> {
    LENS.iter()
        .flat_map(|&l| (0..SEQ).map(move |t| u32::from(t < l)))
        .collect()
}

fn forward<'a, 'p>(
    ctx: &'a GpuContext,
    pass: &'a mut vitrine::backend::gpu::wgpu::ComputePass<'p>,
    shape: &'a vitrine::backend::gpu::wgpu::Buffer,
    batch: usize,
    seq: usize,
) -> Forward<'a, 'p> {
    Forward {
        ctx,
        pass,
        shape,
        binds: None,
        batch,
        seq,
    }
}

fn matmul_case(ctx: &GpuContext, dtype: GgmlDType, m: usize, k: usize, n: usize, col_off: usize) {
    let dev = Device::Cpu;
    let w = Tensor::from_vec(values(n * k, 7 + n as u64), (n, k), &dev).unwrap();
    let qw = QTensor::quantize(&w, dtype).unwrap();
    let wd: Vec<f32> = qw
        .dequantize(&dev)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let x = values(m * k, 11 + m as u64);
    let bias = values(n, 3);
    let ldy = n + 2 * col_off;
    let weight = QWeight::upload(ctx, "w", &qw, &bias, ldy, col_off).unwrap();
    let shape = ctx.uniform("shape", shape_words(1, m));
    let xb = ctx.storage("x", &x);
    let y = ctx.scratch("y", (m * ldy * 4) as u64);
    let got = gpu::run(ctx, &y, m * ldy, |pass| {
        let f = &mut forward(ctx, pass, &shape, 1, m);
        ctx.kernels().matmul.encode(f, &weight, &xb, &y)
    });
    for r in 0..m {
        for j in 0..ldy {
            let g = got[r * ldy + j];
            if j < col_off || j >= col_off + n {
                assert_eq!(g, 0.0, "{dtype:?} wrote outside its columns at ({r}, {j})");
                continue;
            }
            let c = j - col_off;
            let (xr, wc) = (&x[r * k..][..k], &wd[c * k..][..k]);
            let want: f64 =
                xr.iter().zip(wc).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>() + bias[c] as f64;
            let mag: f64 = xr
                .iter()
                .zip(wc)
                .map(|(a, b)| (*a as f64 * *b as f64).abs())
                .sum();
            // f32 accumulation against an f64 reference: |Δ| ≤ 1e-4·Σ|x·w| + 1e-5.
            let tol = 1e-4 * mag + 1e-5;
            assert!(
                (g as f64 - want).abs() <= tol,
                "{dtype:?} m={m} k={k} n={n}: y[{r},{c}] = {g}, want {want} (±{tol})"
            );
        }
    }
}

#[test]
fn matmul_matches_dequantized_f32_for_every_block_type() {
    let Some(ctx) = gpu::context() else { return };
    for dtype in [GgmlDType::Q8_0, GgmlDType::Q5_0, GgmlDType::Q4_0] {
        for m in [1, 17] {
            for (k, n) in [(384, 384), (384, 1152), (384, 1536), (1536, 384)] {
                matmul_case(&ctx, dtype, m, k, n, 0);
            }
        }
        // Odd sizes: a ragged last column group, an output placed inside wider rows (fused QKV).
        matmul_case(&ctx, dtype, 9, 64, 70, 5);
    }
}

#[test]
fn layer_norm_matches_the_cpu_with_and_without_residual() {
    let Some(ctx) = gpu::context() else { return };
    let (rows, h) = (17, 384);
    let x: Vec<f32> = values(rows * h, 5).iter().map(|v| v * 3.0 + 0.5).collect();
    let res = values(rows * h, 6);
    let (w, b) = (values(h, 8), values(h, 9));
    let ln = LayerNormWeights::upload(&ctx, "ln", &w, &b, 1e-12);
    let shape = ctx.uniform("shape", shape_words(1, rows));
    for residual in [false, true] {
        let mut want = x.clone();
        ops::add_layer_norm(&mut want, residual.then_some(&res[..]), &w, &b, 1e-12).unwrap();
        let xb = ctx.storage("x", &x);
        let rb = ctx.storage("res", &res);
        let got = gpu::run(&ctx, &xb, rows * h, |pass| {
            let r = residual.then_some(&rb);
            let f = &mut forward(&ctx, pass, &shape, 1, rows);
            ctx.kernels().layer_norm.encode(f, &ln, r, &xb)
        });
        for (i, (g, e)) in got.iter().zip(&want).enumerate() {
            // Mean and variance are 384-term sums in another order (relative error ≲ 1e-5 each),
            // which scales the normalised part (want − bias) by as much.
            let tol = 1e-4 * (1.0 + (e - b[i % h]).abs());
            assert!((g - e).abs() <= tol, "residual={residual} [{i}]: {g} vs {e}");
        }
    }
}

#[test]
fn gelu_matches_the_cpu() {
    let Some(ctx) = gpu::context() else { return };
    let (rows, n) = (17, 1536);
    // Past ±4 erf saturates: cover the fit's whole range and beyond.
    let x: Vec<f32> = values(rows * n, 4).iter().map(|v| v * 6.0).collect();
    let mut want = x.clone();
    ops::gelu_erf(&mut want);
    let xb = ctx.storage("x", &x);
    let shape = ctx.uniform("shape", shape_words(1, rows));
    let params = ctx.uniform("gelu", [n as u32, 0, 0, 0]);
    let got = gpu::run(&ctx, &xb, rows * n, |pass| {
        let f = &mut forward(&ctx, pass, &shape, 1, rows);
        ctx.kernels().gelu.encode(f, n, &params, &xb)
    });
    for (i, (g, e)) in got.iter().zip(&want).enumerate() {
        // Same polynomial; WGSL's division is exact to 2.5 ulp and may fuse multiply-adds: a few
        // ulp of |x|.
        let tol = 2e-6 * (1.0 + x[i].abs());
        assert!((g - e).abs() <= tol, "gelu({}) = {g}, want {e}", x[i]);
    }
}

#[test]
fn bind_groups_are_kept_between_forwards_and_rebuilt_for_other_buffers() {
    let Some(ctx) = gpu::context() else { return };
    let (rows, n) = (3, 256);
    let (x, y) = (values(rows * n, 8), values(rows * n, 9));
    let (xb, yb) = (ctx.storage("x", &x), ctx.storage("y", &y));
    let shape = ctx.uniform("shape", shape_words(1, rows));
    let params = ctx.uniform("gelu", [n as u32, 0, 0, 0]);
    let mut binds = BindGroups::default();
    // gelu in place on `buf`, recorded through the kept bind groups.
    let gelu = |buf: &vitrine::backend::gpu::wgpu::Buffer, binds: &mut BindGroups| {
        gpu::run(&ctx, buf, rows * n, |pass| {
            let f = &mut Forward {
                binds: Some(binds.rewind()),
                ..forward(&ctx, pass, &shape, 1, rows)
            };
            ctx.kernels().gelu.encode(f, n, &params, buf)
        })
    };
    let close = |got: &[f32], mut want: Vec<f32>, times: usize| {
        for _ in 0..times {
            ops::gelu_erf(&mut want);
        }
        let worst = got
            .iter()
            .zip(&want)
            .map(|(g, e)| (g - e).abs())
            .fold(0.0, f32::max);
        assert!(worst <= 1e-5, "off by {worst}");
    };
    close(&gelu(&xb, &mut binds), x.clone(), 1);
    let first: Vec<_> = binds.kept().into_iter().cloned().collect();
    assert_eq!(first.len(), 1);
    // The same buffers again: the same bind group (gelu applied twice shows it bound x again).
    close(&gelu(&xb, &mut binds), x, 2);
    assert_eq!(binds.kept(), first.iter().collect::<Vec<_>>());
    // Another buffer: a new group, bound to it (a stale one would leave y untouched).
    close(&gelu(&yb, &mut binds), y, 1);
    assert_eq!(binds.kept().len(), 1);
    assert_ne!(binds.kept()[0], &first[0]);
}

#[test]
fn attention_matches_the_cpu_with_padding() {
    let Some(ctx) = gpu::context() else { return };
    let (heads, d) = (12, 32);
    let h = heads * d;
    for (batch, seq, mask) in [(3, SEQ, mask()), (1, 1, vec![1]), (1, 16, vec![1; 16])] {
        let rows = batch * seq;
        let qkv: Vec<f32> = values(rows * 3 * h, 21).iter().map(|v| v * 2.0).collect();
        let additive: Option<Vec<f32>> = mask
            .contains(&0)
            .then(|| mask.iter().map(|&m| if m == 1 { 0.0 } else { -1e9 }).collect());
        let mut want = vec![0f32; rows * h];
        ops::attention(&qkv, batch, seq, heads, d, additive.as_deref(), &mut want).unwrap();
        let params = Attention::params(&ctx, heads, d).unwrap();
        let shape = ctx.uniform("shape", shape_words(batch, seq));
        let (qb, mb) = (ctx.storage("qkv", &qkv), ctx.storage("mask", &mask));
        let out = ctx.scratch("ctx", (rows * h * 4) as u64);
        let got = gpu::run(&ctx, &out, rows * h, |pass| {
            let f = &mut forward(&ctx, pass, &shape, batch, seq);
            ctx.kernels().attention.encode(f, heads, &params, &qb, &mb, &out)
        });
        let vmax = qkv.iter().fold(0f32, |a, v| a.max(v.abs()));
        for (i, (g, e)) in got.iter().zip(&want).enumerate() {
            // Outputs are convex combinations of values (|v| ≤ vmax); reordered 32-term score sums
            // and exp() (a few ulp) perturb each weight by ≲ 1e-5 relative.
            let tol = 1e-4 * vmax;
            assert!((g - e).abs() <= tol, "{batch}x{seq} [{i}]: {g} vs {e}");
        }
    }
}

#[test]
fn pooling_is_the_masked_mean_normalised() {
    let Some(ctx) = gpu::context() else { return };
    let (batch, h) = (LENS.len(), 384);
    let mask = mask();
    let hidden = values(batch * SEQ * h, 31);
    let params = Pool::params(&ctx, h).unwrap();
    let shape = ctx.uniform("shape", shape_words(batch, SEQ));
    let (hb, mb) = (ctx.storage("hidden", &hidden), ctx.storage("mask", &mask));
    let out = ctx.scratch("pooled", (batch * h * 4) as u64);
    let got = gpu::run(&ctx, &out, batch * h, |pass| {
        let f = &mut forward(&ctx, pass, &shape, batch, SEQ);
        ctx.kernels().pool.encode(f, &params, &hb, &mb, &out)
    });
    for (b, &len) in LENS.iter().enumerate() {
        // Independent f64 reference: mean over the real tokens only, then L2 normalisation.
        let mean: Vec<f64> = (0..h)
            .map(|i| {
                (0..len)
                    .map(|t| hidden[(b * SEQ + t) * h + i] as f64)
                    .sum::<f64>()
                    / len as f64
            })
            .collect();
        let norm = mean.iter().map(|v| v * v).sum::<f64>().sqrt();
        for i in 0..h {
            let (g, e) = (got[b * h + i] as f64, mean[i] / norm);
            // ≤ 19-term sums and a 384-term norm: a few ulp of a unit vector's entries.
            assert!((g - e).abs() <= 1e-6, "sequence {b} [{i}]: {g} vs {e}");
        }
    }
}
