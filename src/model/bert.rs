//! BERT encoder (as in Hugging Face `BertModel`, without the pooler) over GGUF weights: quantized
//! matmuls and word table, f32 position/type tables and LayerNorms.

use std::sync::Arc;

use candle_core::quantized::QTensor;
use candle_core::{Device, Tensor};
use serde::Deserialize;

use super::gguf::ModelFile;
use super::linear::Linear;
use crate::backend::cpu::ops;
use crate::error::{Error, Result};

/// The fields of a Hugging Face BERT `config.json` this implementation reads (others are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
}

impl Config {
    /// Rejects configs this implementation would compute wrongly rather than guessing.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Error::ModelMetadata {
            key: "vitrine.bert_config".into(),
            reason,
        };
        if self.hidden_act != "gelu" {
            return Err(bad(format!(
                "hidden_act `{}` is not supported (only `gelu`)",
                self.hidden_act
            )));
        }
        if self.num_attention_heads == 0 || self.hidden_size % self.num_attention_heads != 0 {
            return Err(bad("hidden_size is not a multiple of num_attention_heads".into()));
        }
        if self.type_vocab_size == 0 || self.vocab_size == 0 {
            return Err(bad("empty vocabulary".into()));
        }
        Ok(())
    }
}

/// Hidden-state LayerNorm; kept in f32 because its statistics are where low precision hurts most.
#[derive(Debug, Clone)]
struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn new(file: &ModelFile, prefix: &str, dim: usize, eps: f64) -> Result<Self> {
        let load = |name: &str| -> Result<Vec<f32>> {
            Ok(file.f32(&format!("{prefix}.{name}"), &[dim])?.to_vec1::<f32>()?)
        };
        Ok(Self {
            weight: load("weight")?,
            bias: load("bias")?,
            eps: eps as f32,
        })
    }

    /// `x ← LayerNorm(x + residual)` over rows of `dim` values.
    fn forward(&self, x: &mut [f32], residual: Option<&[f32]>) {
        ops::add_layer_norm(x, residual, &self.weight, &self.bias, self.eps);
    }
}

/// Word, position and type embeddings with their LayerNorm, on the CPU for every backend: only the
/// batch's rows of the word table are ever gathered, so the GPU receives `batch × seq` hidden rows
/// instead of the whole (largest) table.
pub(crate) struct Embeddings {
    /// Stays quantized: only the rows of the tokens in a batch are ever dequantized.
    word: QTensor,
    position: Tensor,
    token_type: Tensor,
    norm: LayerNorm,
}

impl Embeddings {
    fn new(cfg: &Config, file: &ModelFile, positions: usize) -> Result<Self> {
        let h = cfg.hidden_size;
        let p = "embeddings";
        Ok(Self {
            word: file.qtensor(&format!("{p}.word_embeddings.weight"), &[cfg.vocab_size, h])?,
            position: file.f32(&format!("{p}.position_embeddings.weight"), &[positions, h])?,
            token_type: file.f32(
                &format!("{p}.token_type_embeddings.weight"),
                &[cfg.type_vocab_size, h],
            )?,
            norm: LayerNorm::new(file, &format!("{p}.LayerNorm"), h, cfg.layer_norm_eps)?,
        })
    }

    /// `ids` is `[batch, seq]` u32; every token has type 0 (single-segment inputs only). Returns
    /// `batch × seq` rows of hidden values.
    pub(crate) fn forward(&self, ids: &Tensor) -> candle_core::Result<Vec<f32>> {
        let (_, seq) = ids.dims2()?;
        let words = self.word.embedding(ids)?;
        let pos = self.position.narrow(0, 0, seq)?;
        let typ = self.token_type.narrow(0, 0, 1)?;
        let xs = words.broadcast_add(&(pos.broadcast_add(&typ)?))?;
        let mut xs = xs.flatten_all()?.to_vec1::<f32>()?;
        self.norm.forward(&mut xs, None);
        Ok(xs)
    }
}

struct Layer {
    /// Query, key and value as one matmul when the kernels allow (see [`Linear::fuse`]), else the
    /// three layers in that order.
    qkv: Vec<Linear>,
    attn_out: Linear,
    attn_norm: LayerNorm,
    up: Linear,
    down: Linear,
    out_norm: LayerNorm,
    heads: usize,
}

impl Layer {
    fn new(cfg: &Config, file: &ModelFile, i: usize) -> Result<Self> {
        let (h, m) = (cfg.hidden_size, cfg.intermediate_size);
        let p = format!("encoder.layer.{i}");
        let eps = cfg.layer_norm_eps;
        let query = file.linear(&format!("{p}.attention.self.query"), h, h)?;
        let key = file.linear(&format!("{p}.attention.self.key"), h, h)?;
        let value = file.linear(&format!("{p}.attention.self.value"), h, h)?;
        let qkv = match Linear::fuse(&[&query, &key, &value]) {
            Some(fused) => vec![fused],
            None => vec![query, key, value],
        };
        Ok(Self {
            qkv,
            attn_out: file.linear(&format!("{p}.attention.output.dense"), h, h)?,
            attn_norm: LayerNorm::new(file, &format!("{p}.attention.output.LayerNorm"), h, eps)?,
            up: file.linear(&format!("{p}.intermediate.dense"), m, h)?,
            down: file.linear(&format!("{p}.output.dense"), h, m)?,
            out_norm: LayerNorm::new(file, &format!("{p}.output.LayerNorm"), h, eps)?,
            heads: cfg.num_attention_heads,
        })
    }

    /// `xs`: `batch × seq` rows of `h` hidden values, updated in place. `mask` is the additive
    /// `batch × seq` key mask, `None` when nothing is padded.
    fn forward(
        &self,
        xs: &mut Vec<f32>,
        mask: Option<&[f32]>,
        batch: usize,
        seq: usize,
    ) -> candle_core::Result<()> {
        let rows = batch * seq;
        let h = xs.len() / rows.max(1);
        let qkv = match self.qkv.as_slice() {
            [fused] => fused.forward_rows(xs, rows)?,
            parts => {
                // Interleave the three outputs row by row into the fused layout attention reads.
                let outs = parts
                    .iter()
                    .map(|l| l.forward_rows(xs, rows))
                    .collect::<candle_core::Result<Vec<_>>>()?;
                let mut qkv = Vec::with_capacity(rows * 3 * h);
                for r in 0..rows {
                    for o in &outs {
                        qkv.extend_from_slice(&o[r * h..][..h]);
                    }
                }
                qkv
            }
        };
        let mut ctx = vec![0f32; rows * h];
        ops::attention(&qkv, batch, seq, self.heads, h / self.heads, mask, &mut ctx);
        let mut attn = self.attn_out.forward_rows(&ctx, rows)?;
        self.attn_norm.forward(&mut attn, Some(xs));
        let mut up = self.up.forward_rows(&attn, rows)?;
        ops::gelu_erf(&mut up);
        let mut down = self.down.forward_rows(&up, rows)?;
        self.out_norm.forward(&mut down, Some(&attn));
        *xs = down;
        Ok(())
    }
}

/// The BERT encoder: token ids and attention mask in, one hidden state per token out.
pub struct BertModel {
    embeddings: Arc<Embeddings>,
    layers: Vec<Layer>,
    max_positions: usize,
}

impl BertModel {
    /// Loads the weights for `cfg`; `positions` is how many position rows the file keeps (the converter
    /// drops rows beyond the maximum sequence length, which no input can reach).
    pub fn new(cfg: &Config, file: &ModelFile, positions: usize) -> Result<Self> {
        cfg.validate()?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::new(cfg, file, i))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embeddings: Arc::new(Embeddings::new(cfg, file, positions)?),
            layers,
            max_positions: positions,
        })
    }

    /// The embedding layer, shared with the GPU encoder (which runs only the transformer layers).
    #[cfg(feature = "gpu")]
    pub(crate) fn embeddings(&self) -> &Arc<Embeddings> {
        &self.embeddings
    }

    /// Positions the model has: the longest sequence it takes.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// `ids` and `mask` are `[batch, seq]` row-major (mask 1 for tokens, 0 for padding); returns
    /// `[batch, seq, hidden]`.
    pub fn forward(&self, ids: &[u32], mask: &[u32], batch: usize, seq: usize) -> Result<Tensor> {
        if seq > self.max_positions || ids.len() != batch * seq || mask.len() != ids.len() {
            return Err(Error::InvalidInput(format!(
                "{batch}x{seq} tokens do not fit this model ({} positions)",
                self.max_positions
            )));
        }
        let dev = Device::Cpu;
        let ids = Tensor::from_slice(ids, (batch, seq), &dev)?;
        // Padding only exists in mixed-length batches; skipping the add keeps single texts cheaper.
        // Large but finite, as in Hugging Face: exp() of it is exactly 0 after the max shift.
        let additive: Option<Vec<f32>> = (!mask.iter().all(|&m| m == 1))
            .then(|| mask.iter().map(|&m| if m == 1 { 0.0 } else { -1e9 }).collect());
        let mut xs = self.embeddings.forward(&ids)?;
        for layer in &self.layers {
            layer.forward(&mut xs, additive.as_deref(), batch, seq)?;
        }
        let h = xs.len() / (batch * seq).max(1);
        Ok(Tensor::from_vec(xs, (batch, seq, h), &dev)?)
    }
}
