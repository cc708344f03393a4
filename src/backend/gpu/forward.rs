//! A forward pass on the GPU: a model's [`Ops`] recorded into one submission per chunk of the batch,
//! over [`GpuWeights`], the GPU's mirror of the CPU's [`Weights`]. The mirror is uploaded from the
//! CPU's packed weights, whose GGUF blocks are re-derived exactly one matrix at a time: the model file
//! is neither kept nor handed over and parsed a second time. Scratch buffers are kept and grown across
//! calls.

use std::sync::{Arc, Mutex};

use super::attention::{self, Attention};
use super::layer_norm::LayerNormWeights;
use super::matmul::{BlockType, Blocks, QWeight};
use super::pool::Pool;
use super::{shape_words, BindGroups, Forward, GpuContext};
use crate::backend::ops::{Input, Ops, Slot, Widths};
use crate::backend::weights::{LinearId, NormId, Stack, Weights};
use crate::error::{Error, Result};

/// A model's weights on the GPU, at the indices of the [`Weights`] they mirror.
pub struct GpuWeights {
    gpu: Arc<GpuContext>,
    /// Per linear stack, one matrix per part, each writing its columns of the stack's output rows.
    linears: Vec<Vec<QWeight>>,
    norms: Vec<LayerNormWeights>,
    /// Reused across calls and grown on demand; a call that finds it busy (an overlapping call
    /// in a browser's event loop) uses buffers of its own rather than waiting.
    scratch: Mutex<Option<Scratch>>,
}

/// Uploads one stack: every part must be a block type the kernels decode.
fn upload_stack(gpu: &GpuContext, stack: &Stack) -> Result<Vec<QWeight>> {
    let mut col = 0;
    let mut out = Vec::with_capacity(stack.parts().len());
    for part in stack.parts() {
        let name = stack.name();
        let packed = part
            .packed()
            .ok_or_else(|| Error::GpuUnsupported(format!("`{name}` has a weight type with no GPU kernel")))?;
        let block = BlockType::of(packed.dtype()).ok_or_else(|| {
            Error::GpuUnsupported(format!(
                "`{name}` is {:?}, which has no GPU kernel",
                packed.dtype()
            ))
        })?;
        let (n, k) = (packed.n(), packed.k());
        // One matrix's blocks at a time (≤ 0.7 MB for MiniLM): the only transient host copy.
        let bytes = packed.ggml_blocks();
        let zeros;
        let bias = match part.bias() {
            Some(b) => b,
            None => {
                zeros = vec![0f32; n];
                &zeros
            }
        };
        let blocks = Blocks {
            block,
            n,
            k,
            bytes: &bytes,
        };
        out.push(QWeight::from_blocks(
            gpu,
            name,
            blocks,
            bias,
            stack.out_dim(),
            col,
        )?);
        col += n;
    }
    Ok(out)
}

impl GpuWeights {
    /// Uploads every weight of `weights` to `gpu`; fails with [`Error::GpuUnsupported`] for a weight
    /// type the kernels do not decode, [`Error::Gpu`] when the GPU runs out of memory.
    pub async fn upload(gpu: Arc<GpuContext>, weights: &Weights) -> Result<Self> {
        let scope = gpu.device().push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let linears = weights
            .linears()
            .iter()
            .map(|s| upload_stack(&gpu, s))
            .collect::<Result<Vec<_>>>();
        let norms = weights
            .norms()
            .iter()
            .enumerate()
            .map(|(i, n)| LayerNormWeights::upload(&gpu, &format!("norm {i}"), &n.weight, &n.bias, n.eps))
            .collect();
        if let Some(e) = scope.pop().await {
            return Err(Error::Gpu(format!("uploading the weights: {e}")));
        }
        Ok(Self {
            gpu,
            linears: linears?,
            norms,
            scratch: Mutex::new(None),
        })
    }

    /// The context the weights live on.
    pub fn context(&self) -> &Arc<GpuContext> {
        &self.gpu
    }

    /// Runs `record` (a model's forward) over `input` with slots of `widths` floats per row and returns
    /// the pooled vectors of its [`Ops::mean_pool`]. Batches larger than one buffer holds are split
    /// into several submissions.
    pub async fn forward(
        &self,
        input: Input<'_>,
        widths: &[usize],
        record: &dyn Fn(&mut dyn Ops) -> Result<()>,
    ) -> Result<Vec<Vec<f32>>> {
        let first = input.check(widths)?;
        let Input { batch, seq, .. } = input;
        if seq == 0 || seq > attention::MAX_SEQ {
            return Err(Error::GpuUnsupported(format!(
                "{seq} tokens per text (the attention kernel takes 1 to {})",
                attention::MAX_SEQ
            )));
        }
        let max_bytes = self.gpu.limits().max_storage_buffer_binding_size;
        let widest = 4 * widths.iter().max().copied().unwrap_or(1).max(1) as u64;
        let per_chunk = ((max_bytes / widest) as usize / seq).max(1);
        let mut out = Vec::with_capacity(batch);
        for first_row in (0..batch).step_by(per_chunk) {
            let n = per_chunk.min(batch - first_row);
            let span = first_row * seq..(first_row + n) * seq;
            let chunk = Input {
                rows: &input.rows[span.start * first..span.end * first],
                mask: &input.mask[span],
                batch: n,
                seq,
            };
            out.extend(self.forward_chunk(chunk, widths, record).await?);
        }
        Ok(out)
    }

    async fn forward_chunk(
        &self,
        input: Input<'_>,
        widths: &[usize],
        record: &dyn Fn(&mut dyn Ops) -> Result<()>,
    ) -> Result<Vec<Vec<f32>>> {
        let (batch, seq) = (input.batch, input.seq);
        let rows = batch * seq;
        let mut own = None;
        let mut cached = self.scratch.try_lock().ok();
        let s = match cached.as_deref_mut() {
            Some(slot) => {
                if slot.as_ref().is_none_or(|s| !s.fits(rows, batch, widths)) {
                    // Grown with headroom so that slowly rising batch sizes do not reallocate each call.
                    let (r0, b0) = slot.as_ref().map_or((0, 0), |s| (s.rows, s.batch));
                    let (r, b) = (rows.max(r0 * 3 / 2), batch.max(b0 * 3 / 2));
                    *slot = Some(Scratch::new(&self.gpu, r, b, widths));
                }
                slot.as_mut()
            }
            None => Some(own.insert(Scratch::new(&self.gpu, rows, batch, widths))),
        }
        .ok_or_else(|| Error::Gpu("no scratch buffers".into()))?;
        let q = self.gpu.queue();
        q.write_buffer(&s.shape, 0, bytemuck::cast_slice(&shape_words(batch, seq)));
        q.write_buffer(&s.mask, 0, bytemuck::cast_slice(input.mask));
        q.write_buffer(&s.slots[0], 0, bytemuck::cast_slice(input.rows));
        let Scratch {
            shape,
            mask,
            slots,
            pooled,
            staging,
            binds,
            uniforms,
            ..
        } = s;
        let mut pooled_width = None;
        let run = |pass: &mut wgpu::ComputePass<'_>| {
            let mut ops = GpuOps {
                f: Forward {
                    ctx: &self.gpu,
                    pass,
                    shape,
                    binds: Some(binds.rewind()),
                    batch,
                    seq,
                },
                weights: self,
                widths: Widths(widths),
                slots,
                mask,
                pooled,
                uniforms,
                pooled_width: &mut pooled_width,
            };
            record(&mut ops)?;
            match pooled_width {
                Some(_) => Ok(()),
                None => Err(Error::InvalidInput(
                    "the forward pass never pooled its output".into(),
                )),
            }
        };
        let h = widths.iter().max().copied().unwrap_or(0);
        let flat = self.gpu.try_run_and_read(run, pooled, staging, batch * h).await?;
        let h = pooled_width.unwrap_or(h);
        Ok(flat.chunks_exact(h).take(batch).map(<[f32]>::to_vec).collect())
    }
}

/// Buffers one forward needs: one per slot for `rows` token rows, the pooled output of `batch`
/// sequences, and what every dispatch binds.
struct Scratch {
    rows: usize,
    batch: usize,
    widths: Vec<usize>,
    shape: wgpu::Buffer,
    mask: wgpu::Buffer,
    slots: Vec<wgpu::Buffer>,
    pooled: wgpu::Buffer,
    staging: wgpu::Buffer,
    /// Bind groups over these buffers and the weights, dropped with the buffers.
    binds: BindGroups,
    /// Kernel parameters by value, made once per scratch so that bind groups stay reusable.
    uniforms: Vec<([u32; 4], wgpu::Buffer)>,
}

impl Scratch {
    fn new(gpu: &GpuContext, rows: usize, batch: usize, widths: &[usize]) -> Self {
        let f = |n: usize| (n * 4) as u64;
        let widest = widths.iter().max().copied().unwrap_or(1);
        Self {
            rows,
            batch,
            widths: widths.to_vec(),
            shape: gpu.uniform("shape", [0; 4]),
            mask: gpu.scratch("mask", f(rows)),
            slots: widths.iter().map(|w| gpu.scratch("slot", f(rows * w))).collect(),
            pooled: gpu.scratch("pooled", f(batch * widest)),
            staging: gpu.staging(f(batch * widest)),
            binds: BindGroups::default(),
            uniforms: Vec::new(),
        }
    }

    fn fits(&self, rows: usize, batch: usize, widths: &[usize]) -> bool {
        self.rows >= rows && self.batch >= batch && self.widths == widths
    }
}

/// The uniform holding `words`, made on first use.
fn uniform<'u>(
    gpu: &GpuContext,
    uniforms: &'u mut Vec<([u32; 4], wgpu::Buffer)>,
    words: [u32; 4],
) -> &'u wgpu::Buffer {
    let i = match uniforms.iter().position(|(w, _)| *w == words) {
        Some(i) => i,
        None => {
            uniforms.push((words, gpu.uniform("params", words)));
            uniforms.len() - 1
        }
    };
    &uniforms[i].1
}

/// [`Ops`] recorded as dispatches into one compute pass.
struct GpuOps<'a, 'p> {
    f: Forward<'a, 'p>,
    weights: &'a GpuWeights,
    widths: Widths<'a>,
    slots: &'a [wgpu::Buffer],
    mask: &'a wgpu::Buffer,
    pooled: &'a wgpu::Buffer,
    uniforms: &'a mut Vec<([u32; 4], wgpu::Buffer)>,
    pooled_width: &'a mut Option<usize>,
}

impl Ops for GpuOps<'_, '_> {
    fn linear(&mut self, w: LinearId, x: Slot, y: Slot) -> Result<()> {
        let parts = self
            .weights
            .linears
            .get(Weights::linear_index(w))
            .ok_or_else(|| Error::InvalidInput("a linear layer the GPU does not hold".into()))?;
        let (k, n) = (parts[0].k(), parts.iter().map(QWeight::n).sum::<usize>());
        self.widths.linear("a linear layer", k, n, x, y)?;
        let kernels = self.weights.gpu.kernels();
        for part in parts {
            kernels
                .matmul
                .encode(&mut self.f, part, &self.slots[x.0], &self.slots[y.0]);
        }
        Ok(())
    }

    fn attention(&mut self, heads: usize, qkv: Slot, out: Slot) -> Result<()> {
        let d = self.widths.head(heads, qkv, out)?;
        let params = uniform(self.f.ctx, self.uniforms, Attention::words(heads, d)?);
        let (q, o) = (&self.slots[qkv.0], &self.slots[out.0]);
        let kernels = self.weights.gpu.kernels();
        kernels
            .attention
            .encode(&mut self.f, heads, params, q, self.mask, o);
        Ok(())
    }

    fn add_layer_norm(&mut self, norm: NormId, residual: Slot, x: Slot) -> Result<()> {
        let n = self
            .weights
            .norms
            .get(Weights::norm_index(norm))
            .ok_or_else(|| Error::InvalidInput("a LayerNorm the GPU does not hold".into()))?;
        self.widths.norm(n.h(), residual, x)?;
        let (r, xs) = (&self.slots[residual.0], &self.slots[x.0]);
        self.weights
            .gpu
            .kernels()
            .layer_norm
            .encode(&mut self.f, n, Some(r), xs);
        Ok(())
    }

    fn gelu(&mut self, x: Slot) -> Result<()> {
        let n = self.widths.of(x)?;
        let params = uniform(self.f.ctx, self.uniforms, [n as u32, 0, 0, 0]);
        self.weights
            .gpu
            .kernels()
            .gelu
            .encode(&mut self.f, n, params, &self.slots[x.0]);
        Ok(())
    }

    fn mean_pool(&mut self, x: Slot) -> Result<()> {
        let h = self.widths.of(x)?;
        let params = uniform(self.f.ctx, self.uniforms, Pool::words(h)?);
        let kernels = self.weights.gpu.kernels();
        kernels
            .pool
            .encode(&mut self.f, params, &self.slots[x.0], self.mask, self.pooled);
        *self.pooled_width = Some(h);
        Ok(())
    }
}
