//! BERT encoder (as in Hugging Face `BertModel`, without the pooler) over GGUF weights: quantized
//! matmuls and word table, f32 position/type tables and LayerNorms. The layer sequence is written
//! once, in [`BertModel::forward`], against the backend's [`Ops`]: a [`crate::backend::Device`] runs
//! it on the CPU or the GPU.

use candle_core::quantized::QTensor;
use candle_core::Tensor;
use serde::Deserialize;

use super::gguf::ModelFile;
use crate::backend::{LinearId, Norm, NormId, Ops, Slot, Weights};
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

/// A LayerNorm `{prefix}.weight` / `{prefix}.bias` of `dim` values.
fn norm(file: &ModelFile, prefix: &str, dim: usize, eps: f64) -> Result<Norm> {
    let load = |name: &str| -> Result<Vec<f32>> {
        Ok(file.f32(&format!("{prefix}.{name}"), &[dim])?.to_vec1::<f32>()?)
    };
    Ok(Norm {
        weight: load("weight")?,
        bias: load("bias")?,
        eps: eps as f32,
    })
}

/// Word, position and type embeddings with their LayerNorm, on the CPU for every backend: only the
/// batch's rows of the word table are ever gathered, so a GPU receives `batch × seq` hidden rows
/// instead of the whole (largest) table.
struct Embeddings {
    /// Stays quantized: only the rows of the tokens in a batch are ever dequantized.
    word: QTensor,
    position: Tensor,
    token_type: Tensor,
    norm: Norm,
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
            norm: norm(file, &format!("{p}.LayerNorm"), h, cfg.layer_norm_eps)?,
        })
    }

    /// `ids` is `[batch, seq]` u32; every token has type 0 (single-segment inputs only). Returns
    /// `batch × seq` rows of hidden values.
    fn forward(&self, ids: &Tensor) -> Result<Vec<f32>> {
        let (_, seq) = ids.dims2()?;
        let words = self.word.embedding(ids)?;
        let pos = self.position.narrow(0, 0, seq)?;
        let typ = self.token_type.narrow(0, 0, 1)?;
        let xs = words.broadcast_add(&(pos.broadcast_add(&typ)?))?;
        let mut xs = xs.flatten_all()?.to_vec1::<f32>()?;
        self.norm.forward(&mut xs, None)?;
        Ok(xs)
    }
}

/// The activation buffers of a forward: the hidden states (the input and the output), then one
/// layer's intermediates. Widths in [`BertModel::slots`].
const HIDDEN: Slot = Slot(0);
const QKV: Slot = Slot(1);
const CONTEXT: Slot = Slot(2);
const ATTN: Slot = Slot(3);
const UP: Slot = Slot(4);

struct Layer {
    /// Query, key and value side by side (one matmul when the kernels allow).
    qkv: LinearId,
    attn_out: LinearId,
    attn_norm: NormId,
    up: LinearId,
    down: LinearId,
    out_norm: NormId,
}

impl Layer {
    fn new(cfg: &Config, file: &ModelFile, i: usize, w: &mut Weights) -> Result<Self> {
        let (h, m) = (cfg.hidden_size, cfg.intermediate_size);
        let p = format!("encoder.layer.{i}");
        let eps = cfg.layer_norm_eps;
        let qkv = ["query", "key", "value"]
            .iter()
            .map(|n| file.linear(&format!("{p}.attention.self.{n}"), h, h))
            .collect::<Result<Vec<_>>>()?;
        let qkv = w.add_linear(&format!("{p}.attention.self.query"), qkv)?;
        let mut linear = |name: String, out: usize, inp: usize| -> Result<LinearId> {
            w.add_linear(&name, vec![file.linear(&name, out, inp)?])
        };
        let attn_out = linear(format!("{p}.attention.output.dense"), h, h)?;
        let up = linear(format!("{p}.intermediate.dense"), m, h)?;
        let down = linear(format!("{p}.output.dense"), h, m)?;
        let norm = |name: &str| norm(file, &format!("{p}.{name}.LayerNorm"), h, eps);
        Ok(Self {
            qkv,
            attn_out,
            attn_norm: w.add_norm(norm("attention.output")?),
            up,
            down,
            out_norm: w.add_norm(norm("output")?),
        })
    }
}

/// The BERT encoder: token ids and attention mask in, one hidden state per token out.
pub struct BertModel {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
    intermediate: usize,
    max_positions: usize,
}

impl BertModel {
    /// Loads the weights for `cfg`, the layers' into `weights`; `positions` is how many position rows
    /// the file keeps (the converter drops rows beyond the maximum sequence length, which no input can
    /// reach).
    pub fn new(cfg: &Config, file: &ModelFile, positions: usize, weights: &mut Weights) -> Result<Self> {
        cfg.validate()?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::new(cfg, file, i, weights))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embeddings: Embeddings::new(cfg, file, positions)?,
            layers,
            heads: cfg.num_attention_heads,
            hidden: cfg.hidden_size,
            intermediate: cfg.intermediate_size,
            max_positions: positions,
        })
    }

    /// Positions the model has: the longest sequence it takes.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Floats per token row of each activation slot [`BertModel::forward`] uses.
    pub fn slots(&self) -> [usize; 5] {
        let (h, m) = (self.hidden, self.intermediate);
        [h, 3 * h, h, h, m]
    }

    /// The embedding layer (always on the CPU): `ids` `[batch, seq]` row-major to `batch × seq` rows
    /// of hidden values, the input of [`BertModel::forward`].
    pub fn embed(&self, ids: &[u32], batch: usize, seq: usize) -> Result<Vec<f32>> {
        if seq > self.max_positions || ids.len() != batch * seq {
            return Err(Error::InvalidInput(format!(
                "{batch}x{seq} tokens do not fit this model ({} positions)",
                self.max_positions
            )));
        }
        let ids = Tensor::from_slice(ids, (batch, seq), &candle_core::Device::Cpu)?;
        self.embeddings.forward(&ids)
    }

    /// The transformer layers, on whichever backend `ops` runs: slot 0 holds the embeddings on entry
    /// and the last hidden states on exit.
    pub fn forward(&self, ops: &mut dyn Ops) -> Result<()> {
        for l in &self.layers {
            ops.linear(l.qkv, HIDDEN, QKV)?;
            ops.attention(self.heads, QKV, CONTEXT)?;
            ops.linear(l.attn_out, CONTEXT, ATTN)?;
            ops.add_layer_norm(l.attn_norm, HIDDEN, ATTN)?;
            ops.linear(l.up, ATTN, UP)?;
            ops.gelu(UP)?;
            ops.linear(l.down, UP, HIDDEN)?;
            ops.add_layer_norm(l.out_norm, ATTN, HIDDEN)?;
        }
        Ok(())
    }

    /// The last hidden states (slot 0) as the output of pooling.
    pub fn output() -> Slot {
        HIDDEN
    }
}
