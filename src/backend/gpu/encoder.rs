//! [`GpuEncoder`]: the BERT layers, mean pooling and L2 norm of [`crate::model::bert`] as one GPU
//! submission per forward. Weights are uploaded once, in their GGUF blocks; scratch buffers are
//! kept and grown across calls. The embedding layer stays on the CPU (shared with the CPU model):
//! only the batch's rows of the word table are gathered, then uploaded.

use std::sync::{Arc, Mutex};

use candle_core::quantized::ggml_file::qtensor_from_ggml;
use candle_core::{Device, Tensor};

use super::attention::{self, Attention};
use super::layer_norm::LayerNormWeights;
use super::matmul::{BlockType, QWeight};
use super::pool::Pool;
use super::{shape_words, BindGroups, Forward, GpuContext};
use crate::error::{Error, Result};
use crate::model::bert::{Config, Embeddings};
use crate::model::gguf::ModelFile;

struct GpuLayer {
    /// One fused `[q | k | v]` weight when the three share a block type, else three writing into
    /// their thirds of the same rows.
    qkv: Vec<QWeight>,
    attn_out: QWeight,
    attn_norm: LayerNormWeights,
    up: QWeight,
    down: QWeight,
    out_norm: LayerNormWeights,
}

impl GpuLayer {
    fn upload(ctx: &GpuContext, cfg: &Config, file: &ModelFile, i: usize) -> Result<Self> {
        let (h, m) = (cfg.hidden_size, cfg.intermediate_size);
        let p = format!("encoder.layer.{i}");
        let linear = |name: &str, out: usize, inp: usize, ldy: usize, off: usize| -> Result<QWeight> {
            let w = file.qtensor(&format!("{name}.weight"), &[out, inp])?;
            let b = file.f32(&format!("{name}.bias"), &[out])?.to_vec1::<f32>()?;
            QWeight::upload(ctx, name, &w, &b, ldy, off)
        };
        let norm = |name: &str| -> Result<LayerNormWeights> {
            let w = file.f32(&format!("{name}.weight"), &[h])?.to_vec1::<f32>()?;
            let b = file.f32(&format!("{name}.bias"), &[h])?.to_vec1::<f32>()?;
            Ok(LayerNormWeights::upload(
                ctx,
                name,
                &w,
                &b,
                cfg.layer_norm_eps as f32,
            ))
        };
        let parts = ["query", "key", "value"].map(|n| format!("{p}.attention.self.{n}"));
        let qkv = fused_qkv(ctx, file, &parts, h)?.map_or_else(
            || {
                parts
                    .iter()
                    .enumerate()
                    .map(|(j, name)| linear(name, h, h, 3 * h, j * h))
                    .collect::<Result<Vec<_>>>()
            },
            |w| Ok(vec![w]),
        )?;
        Ok(Self {
            qkv,
            attn_out: linear(&format!("{p}.attention.output.dense"), h, h, h, 0)?,
            attn_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
            up: linear(&format!("{p}.intermediate.dense"), m, h, m, 0)?,
            down: linear(&format!("{p}.output.dense"), h, m, h, 0)?,
            out_norm: norm(&format!("{p}.output.LayerNorm"))?,
        })
    }
}

/// Query, key and value stacked into one `[3h, h]` weight (their blocks concatenated: each row is
/// whole blocks), as the CPU's `Linear::fuse` does; `None` when their types differ.
fn fused_qkv(ctx: &GpuContext, file: &ModelFile, parts: &[String; 3], h: usize) -> Result<Option<QWeight>> {
    let ws = parts
        .iter()
        .map(|n| file.qtensor(&format!("{n}.weight"), &[h, h]))
        .collect::<Result<Vec<_>>>()?;
    let block = BlockType::of(ws[0].dtype());
    if block.is_none() || ws.iter().any(|w| w.dtype() != ws[0].dtype()) {
        return Ok(None);
    }
    let mut blocks = Vec::new();
    let mut bias = Vec::with_capacity(3 * h);
    for (w, n) in ws.iter().zip(parts) {
        blocks.extend_from_slice(&w.data()?);
        bias.extend(file.f32(&format!("{n}.bias"), &[h])?.to_vec1::<f32>()?);
    }
    let q = qtensor_from_ggml(ws[0].dtype(), &blocks, vec![3 * h, h], &Device::Cpu)?;
    QWeight::upload(ctx, &format!("{}+key+value", parts[0]), &q, &bias, 3 * h, 0).map(Some)
}

/// Buffers one forward needs, sized for `rows` token rows and `batch` sequences.
struct Scratch {
    rows: usize,
    batch: usize,
    shape: wgpu::Buffer,
    mask: wgpu::Buffer,
    x: wgpu::Buffer,
    qkv: wgpu::Buffer,
    ctx: wgpu::Buffer,
    attn: wgpu::Buffer,
    up: wgpu::Buffer,
    pooled: wgpu::Buffer,
    staging: wgpu::Buffer,
    /// Bind groups over these buffers and the encoder's weights, dropped with the buffers.
    binds: BindGroups,
}

impl Scratch {
    fn new(gpu: &GpuContext, rows: usize, batch: usize, h: usize, m: usize) -> Self {
        let f = |n: usize| (n * 4) as u64;
        Self {
            rows,
            batch,
            shape: gpu.uniform("shape", [0; 4]),
            mask: gpu.scratch("mask", f(rows)),
            x: gpu.scratch("x", f(rows * h)),
            qkv: gpu.scratch("qkv", f(rows * 3 * h)),
            ctx: gpu.scratch("context", f(rows * h)),
            attn: gpu.scratch("attn", f(rows * h)),
            up: gpu.scratch("up", f(rows * m)),
            pooled: gpu.scratch("pooled", f(batch * h)),
            staging: gpu.staging(f(batch * h)),
            binds: BindGroups::default(),
        }
    }
}

/// The encoder's transformer on the GPU: token ids in, L2-normalised mean-pooled vectors out.
pub struct GpuEncoder {
    gpu: Arc<GpuContext>,
    embeddings: Arc<Embeddings>,
    layers: Vec<GpuLayer>,
    h: usize,
    inter: usize,
    heads: usize,
    max_positions: usize,
    attn_params: wgpu::Buffer,
    pool_params: wgpu::Buffer,
    gelu_params: wgpu::Buffer,
    /// Reused across calls and grown on demand; a call that finds it busy (an overlapping call
    /// in a browser's event loop) uses buffers of its own rather than waiting.
    scratch: Mutex<Option<Scratch>>,
}

impl GpuEncoder {
    /// Uploads every layer's weights from `file` (validated as the CPU model loaded it).
    pub(crate) async fn new(
        gpu: Arc<GpuContext>,
        cfg: &Config,
        file: &ModelFile<'_>,
        embeddings: Arc<Embeddings>,
        max_positions: usize,
    ) -> Result<Self> {
        let (h, heads) = (cfg.hidden_size, cfg.num_attention_heads);
        if max_positions > attention::MAX_SEQ {
            return Err(Error::GpuUnsupported(format!(
                "{max_positions} tokens per text (the attention kernel takes {})",
                attention::MAX_SEQ
            )));
        }
        let attn_params = Attention::params(&gpu, heads, h / heads)?;
        let pool_params = Pool::params(&gpu, h)?;
        let scope = gpu.device().push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| GpuLayer::upload(&gpu, cfg, file, i))
            .collect::<Result<Vec<_>>>();
        if let Some(e) = scope.pop().await {
            return Err(Error::Gpu(format!("uploading the weights: {e}")));
        }
        Ok(Self {
            gelu_params: gpu.uniform("gelu", [cfg.intermediate_size as u32, 0, 0, 0]),
            gpu,
            embeddings,
            layers: layers?,
            h,
            inter: cfg.intermediate_size,
            heads,
            max_positions,
            attn_params,
            pool_params,
            scratch: Mutex::new(None),
        })
    }

    /// The context this encoder runs on.
    pub fn context(&self) -> &Arc<GpuContext> {
        &self.gpu
    }

    /// `ids` and `mask` are `[batch, seq]` row-major (mask 1 for tokens, 0 for padding); returns one
    /// unit vector per sequence, the masked mean of its last hidden states, L2-normalised.
    ///
    /// Batches larger than one buffer holds are split into several submissions.
    pub async fn forward_pooled(
        &self,
        ids: &[u32],
        mask: &[u32],
        batch: usize,
        seq: usize,
    ) -> Result<Vec<Vec<f32>>> {
        if seq == 0 || seq > self.max_positions || ids.len() != batch * seq || mask.len() != ids.len() {
            return Err(Error::InvalidInput(format!(
                "{batch}x{seq} tokens do not fit this model ({} positions)",
                self.max_positions
            )));
        }
        // The widest buffer is the FFN's rows × intermediate floats.
        let max_bytes = self.gpu.limits().max_storage_buffer_binding_size;
        let widest = 4 * self.inter.max(3 * self.h) as u64;
        let per_chunk = ((max_bytes / widest) as usize / seq).max(1);
        let mut out = Vec::with_capacity(batch);
        for first in (0..batch).step_by(per_chunk) {
            let n = per_chunk.min(batch - first);
            let span = first * seq..(first + n) * seq;
            out.extend(
                self.forward_chunk(&ids[span.clone()], &mask[span], n, seq)
                    .await?,
            );
        }
        Ok(out)
    }

    async fn forward_chunk(
        &self,
        ids: &[u32],
        mask: &[u32],
        batch: usize,
        seq: usize,
    ) -> Result<Vec<Vec<f32>>> {
        let rows = batch * seq;
        let (h, m) = (self.h, self.inter);
        let ids_t = Tensor::from_slice(ids, (batch, seq), &Device::Cpu)?;
        let x = self.embeddings.forward(&ids_t)?;
        let mut own = None;
        let mut cached = self.scratch.try_lock().ok();
        let s = match cached.as_deref_mut() {
            Some(slot) => {
                if slot.as_ref().is_none_or(|s| s.rows < rows || s.batch < batch) {
                    // Grown with headroom so that slowly rising batch sizes do not reallocate each call.
                    let (r0, b0) = slot.as_ref().map_or((0, 0), |s| (s.rows, s.batch));
                    *slot = Some(Scratch::new(
                        &self.gpu,
                        rows.max(r0 * 3 / 2),
                        batch.max(b0 * 3 / 2),
                        h,
                        m,
                    ));
                }
                slot.as_mut()
            }
            None => Some(own.insert(Scratch::new(&self.gpu, rows, batch, h, m))),
        }
        .ok_or_else(|| Error::Gpu("no scratch buffers".into()))?;
        let q = self.gpu.queue();
        q.write_buffer(&s.shape, 0, bytemuck::cast_slice(&shape_words(batch, seq)));
        q.write_buffer(&s.mask, 0, bytemuck::cast_slice(mask));
        q.write_buffer(&s.x, 0, bytemuck::cast_slice(&x));
        let k = self.gpu.kernels();
        let binds = &mut s.binds;
        let record = |pass: &mut wgpu::ComputePass<'_>| {
            let f = &mut Forward {
                ctx: &self.gpu,
                pass,
                shape: &s.shape,
                binds: Some(binds.rewind()),
                batch,
                seq,
            };
            for l in &self.layers {
                for w in &l.qkv {
                    k.matmul.encode(f, w, &s.x, &s.qkv);
                }
                let (heads, ap) = (self.heads, &self.attn_params);
                k.attention.encode(f, heads, ap, &s.qkv, &s.mask, &s.ctx);
                k.matmul.encode(f, &l.attn_out, &s.ctx, &s.attn);
                k.layer_norm.encode(f, &l.attn_norm, Some(&s.x), &s.attn);
                k.matmul.encode(f, &l.up, &s.attn, &s.up);
                k.gelu.encode(f, m, &self.gelu_params, &s.up);
                k.matmul.encode(f, &l.down, &s.up, &s.x);
                k.layer_norm.encode(f, &l.out_norm, Some(&s.attn), &s.x);
            }
            k.pool.encode(f, &self.pool_params, &s.x, &s.mask, &s.pooled);
        };
        let flat = self
            .gpu
            .run_and_read(record, &s.pooled, &s.staging, batch * h)
            .await?;
        Ok(flat.chunks_exact(h).map(<[f32]>::to_vec).collect())
    }
}
