//! `backend::Device` on its own, without a model: one forward written against `Ops` (a linear stack of
//! two weight types, GELU, LayerNorm with a residual, pooling) runs on the CPU and, attached, on the
//! GPU, and both match an f64 reference computed here from the dequantized weights. The stack's two
//! types cannot fuse, so the GPU writes each part into its own columns of one output row.
#![cfg(all(feature = "gpu", not(target_arch = "wasm32")))]

#[allow(dead_code)] // the one-kernel runner is for tests/gpu_kernels.rs
#[path = "support/gpu.rs"]
mod gpu;
#[allow(dead_code)]
#[path = "support/kernel_cases.rs"]
mod kernel_cases;

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device as Cpu, Tensor};
use kernel_cases::values;
use vitrine::backend::cpu::Linear;
use vitrine::backend::select::Backend;
use vitrine::backend::{Device, Input, LinearId, Norm, NormId, Ops, Slot, Weights};

const K: usize = 64;
/// Output widths of the stack's parts: q8_0 then q4_0.
const PARTS: [(usize, GgmlDType); 2] = [(64, GgmlDType::Q8_0), (32, GgmlDType::Q4_0)];
const N: usize = 96;
const LENS: [usize; 2] = [5, 3];
const SEQ: usize = 5;

struct Model {
    stack: LinearId,
    down: LinearId,
    norm: NormId,
    /// Dequantized weights `[n, k]` and biases, for the reference.
    dense: Vec<(Vec<f32>, Vec<f32>, usize, usize)>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

fn linear(n: usize, k: usize, dtype: GgmlDType, seed: u64) -> (Linear, Vec<f32>, Vec<f32>) {
    let w = Tensor::from_vec(values(n * k, seed), (n, k), &Cpu::Cpu).unwrap();
    let q = QTensor::quantize(&w, dtype).unwrap();
    let dense = q
        .dequantize(&Cpu::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let bias = values(n, seed + 100);
    let b = Tensor::from_vec(bias.clone(), n, &Cpu::Cpu).unwrap();
    (Linear::new(q, Some(b)).unwrap(), dense, bias)
}

fn model(w: &mut Weights) -> Model {
    let mut dense = Vec::new();
    let mut parts = Vec::new();
    for (i, (n, dtype)) in PARTS.iter().enumerate() {
        let (l, d, b) = linear(*n, K, *dtype, 10 + i as u64);
        parts.push(l);
        dense.push((d, b, *n, K));
    }
    let stack = w.add_linear("stack", parts).unwrap();
    assert_eq!(
        w.linear(stack).unwrap().parts().len(),
        2,
        "two types must not fuse"
    );
    let (down, d, b) = linear(K, N, GgmlDType::Q8_0, 20);
    dense.push((d, b, K, N));
    let down = w.add_linear("down", vec![down]).unwrap();
    let (gamma, beta) = (values(K, 30), values(K, 31));
    let norm = w.add_norm(Norm {
        weight: gamma.clone(),
        bias: beta.clone(),
        eps: 1e-12,
    });
    Model {
        stack,
        down,
        norm,
        dense,
        gamma,
        beta,
    }
}

impl Model {
    /// x (slot 0, K wide) → stack (slot 1, N) → GELU → down (slot 2, K) → LayerNorm(· + x) → pool.
    fn forward(&self, ops: &mut dyn Ops) -> vitrine::Result<()> {
        ops.linear(self.stack, Slot(0), Slot(1))?;
        ops.gelu(Slot(1))?;
        ops.linear(self.down, Slot(1), Slot(2))?;
        ops.add_layer_norm(self.norm, Slot(0), Slot(2))?;
        ops.mean_pool(Slot(2))
    }

    /// The same in f64 on the dequantized weights, with libm's erf.
    fn reference(&self, x: &[f32], mask: &[u32]) -> Vec<Vec<f64>> {
        let matmul = |x: &[f64], (w, b, n, k): &(Vec<f32>, Vec<f32>, usize, usize)| -> Vec<f64> {
            (0..*n)
                .map(|j| (0..*k).map(|i| x[i] * w[j * k + i] as f64).sum::<f64>() + b[j] as f64)
                .collect()
        };
        let erf = candle_core::cpu::erf::erf_f64;
        let rows: Vec<Vec<f64>> = x
            .chunks(K)
            .map(|row| {
                let x: Vec<f64> = row.iter().map(|&v| v as f64).collect();
                let mut up: Vec<f64> = self.dense[..2].iter().flat_map(|d| matmul(&x, d)).collect();
                up.iter_mut()
                    .for_each(|v| *v = *v * 0.5 * (1.0 + erf(*v / 2f64.sqrt())));
                let y: Vec<f64> = matmul(&up, &self.dense[2])
                    .iter()
                    .zip(&x)
                    .map(|(a, b)| a + b)
                    .collect();
                let mean = y.iter().sum::<f64>() / K as f64;
                let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / K as f64;
                let inv = 1.0 / (var + 1e-12).sqrt();
                (0..K)
                    .map(|i| (y[i] - mean) * inv * self.gamma[i] as f64 + self.beta[i] as f64)
                    .collect()
            })
            .collect();
        mask.chunks(SEQ)
            .enumerate()
            .map(|(b, m)| {
                let mut v = vec![0f64; K];
                for t in (0..SEQ).filter(|&t| m[t] == 1) {
                    v.iter_mut().zip(&rows[b * SEQ + t]).for_each(|(a, r)| *a += r);
                }
                let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
                v.iter().map(|a| a / norm).collect()
            })
            .collect()
    }
}

#[test]
fn one_forward_runs_on_both_backends_like_the_reference() {
    let mut w = Weights::default();
    let m = model(&mut w);
    let device = Device::new(w);
    let x = values(LENS.len() * SEQ * K, 40);
    let mask: Vec<u32> = LENS
        .iter()
        .flat_map(|&l| (0..SEQ).map(move |t| u32::from(t < l)))
        .collect();
    let input = Input {
        rows: &x,
        mask: &mask,
        batch: LENS.len(),
        seq: SEQ,
    };
    let want = m.reference(&x, &mask);
    let widths = [K, N, K];
    let check = |got: Vec<Vec<f32>>, on: &str| {
        assert_eq!(got.len(), want.len());
        for (g, e) in got.iter().zip(&want) {
            // The CPU quantizes activations to i16 per row (measured 6e-6 here), the GPU sums in f32
            // (4e-8); a part written into the wrong columns is off by the size of the entries (≈ 0.1).
            let worst = g
                .iter()
                .zip(e)
                .map(|(a, b)| (*a as f64 - b).abs())
                .fold(0.0, f64::max);
            eprintln!("{on}: worst |Δ| {worst:.2e}");
            assert!(worst <= 1e-4, "{on}: off by {worst}");
        }
    };
    let record = |ops: &mut dyn Ops| m.forward(ops);
    check(device.forward_cpu(input, &widths, &record).unwrap(), "cpu");
    // A forward that never pools, or reads a slot nothing wrote, is an error, not garbage.
    let unpooled = |ops: &mut dyn Ops| ops.linear(m.stack, Slot(0), Slot(1));
    assert!(device.forward_cpu(input, &widths, &unpooled).is_err());
    let unwritten = |ops: &mut dyn Ops| ops.gelu(Slot(1));
    assert!(device.forward_cpu(input, &widths, &unwritten).is_err());
    let Some(ctx) = gpu::context() else { return };
    pollster::block_on(device.attach_gpu(Arc::new(ctx))).unwrap();
    let on_gpu = pollster::block_on(device.forward(Backend::Webgpu, input, &widths, &record));
    check(on_gpu.unwrap(), "gpu");
    let unpooled = pollster::block_on(device.forward(Backend::Webgpu, input, &widths, &unpooled));
    assert!(unpooled.is_err());
    // Released, the GPU no longer serves.
    assert!(device.detach_gpu("a test"));
    assert!(pollster::block_on(device.forward(Backend::Webgpu, input, &widths, &record)).is_err());
}
