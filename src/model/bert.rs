//! BERT encoder (as in Hugging Face `BertModel`, without the pooler) over GGUF weights: quantized
//! matmuls and word table, f32 position/type tables and LayerNorms.

use candle_core::quantized::QTensor;
use candle_core::{DType, Device, Module, Tensor, D};
use serde::Deserialize;

use super::gguf::ModelFile;
use super::linear::Linear;
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
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn new(file: &ModelFile, prefix: &str, dim: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: file.f32(&format!("{prefix}.weight"), &[dim])?,
            bias: file.f32(&format!("{prefix}.bias"), &[dim])?,
            eps,
        })
    }

    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let mean = xs.mean_keepdim(D::Minus1)?;
        let xs = xs.broadcast_sub(&mean)?;
        let var = xs.sqr()?.mean_keepdim(D::Minus1)?;
        let xs = xs.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        xs.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
    }
}

/// Softmax over the last dimension, shifted by the row maximum so `exp` cannot overflow.
fn softmax_last_dim(xs: &Tensor) -> candle_core::Result<Tensor> {
    let max = xs.max_keepdim(D::Minus1)?;
    let e = xs.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

struct Embeddings {
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

    /// `ids` is `[batch, seq]` u32; every token has type 0 (single-segment inputs only).
    fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (_, seq) = ids.dims2()?;
        let words = self.word.embedding(ids)?;
        let pos = self.position.narrow(0, 0, seq)?;
        let typ = self.token_type.narrow(0, 0, 1)?;
        let xs = words.broadcast_add(&(pos.broadcast_add(&typ)?))?;
        self.norm.forward(&xs)
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
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
        Ok(Self {
            query: file.linear(&format!("{p}.attention.self.query"), h, h)?,
            key: file.linear(&format!("{p}.attention.self.key"), h, h)?,
            value: file.linear(&format!("{p}.attention.self.value"), h, h)?,
            attn_out: file.linear(&format!("{p}.attention.output.dense"), h, h)?,
            attn_norm: LayerNorm::new(file, &format!("{p}.attention.output.LayerNorm"), h, eps)?,
            up: file.linear(&format!("{p}.intermediate.dense"), m, h)?,
            down: file.linear(&format!("{p}.output.dense"), h, m)?,
            out_norm: LayerNorm::new(file, &format!("{p}.output.LayerNorm"), h, eps)?,
            heads: cfg.num_attention_heads,
        })
    }

    /// `mask` is the additive `[batch, 1, 1, seq]` padding mask, `None` when nothing is padded.
    fn forward(&self, xs: &Tensor, mask: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let (b, t, h) = xs.dims3()?;
        let d = h / self.heads;
        let split = |ys: Tensor| ys.reshape((b, t, self.heads, d))?.transpose(1, 2)?.contiguous();
        let q = split((self.query.forward(xs)? / (d as f64).sqrt())?)?;
        let k = split(self.key.forward(xs)?)?;
        let v = split(self.value.forward(xs)?)?;
        let mut scores = q.matmul(&k.t()?.contiguous()?)?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        let ctx = softmax_last_dim(&scores)?.matmul(&v)?;
        let ctx = ctx.transpose(1, 2)?.contiguous()?.reshape((b, t, h))?;
        let xs = self.attn_norm.forward(&(self.attn_out.forward(&ctx)? + xs)?)?;
        let ff = self.down.forward(&self.up.forward(&xs)?.gelu_erf()?)?;
        self.out_norm.forward(&(ff + xs)?)
    }
}

/// The BERT encoder: token ids and attention mask in, one hidden state per token out.
pub struct BertModel {
    embeddings: Embeddings,
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
            embeddings: Embeddings::new(cfg, file, positions)?,
            layers,
            max_positions: positions,
        })
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
        let additive = if mask.iter().all(|&m| m == 1) {
            None
        } else {
            // Large but finite, as in Hugging Face: exp() of it is exactly 0 after the max shift.
            let m: Vec<f32> = mask.iter().map(|&m| if m == 1 { 0.0 } else { -1e9 }).collect();
            Some(Tensor::from_vec(m, (batch, 1, 1, seq), &dev)?.to_dtype(DType::F32)?)
        };
        let mut xs = self.embeddings.forward(&ids)?;
        for layer in &self.layers {
            xs = layer.forward(&xs, additive.as_ref())?;
        }
        Ok(xs)
    }
}
