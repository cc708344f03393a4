//! The session model: a small causal transformer over the shopper's recent events (item text vectors,
//! event types, time gaps) that outputs a next-item intent vector, plus the zero-shot fallback.
//!
//! Inputs are encoder text vectors, never item ids, so one trained model serves any store's catalog.
//! A candidate's score is `dot(intent, item_vector) + content_mix · dot(newest step's text vector,
//! candidate's text vector) + lexical_mix · words` ([`SessionModel::score`]): `item_vector` comes from
//! [`SessionModel::item_vectors`] (a learned adapter of the text vector); `content_mix` (chosen on validation)
//! keeps the raw text similarity to the newest step, which the narrow adapter space blurs (near-identical
//! variants of one product line); `words` is the title word overlap with the recent steps
//! ([`super::lexical`], recency decay `lexical_decay`), which follows brands and product lines the
//! sentence encoder blurs further still. When the model was trained with `normalize` (see [`SessionConfig`])
//! both sides of the first term are unit length and it is a cosine.
//! The forward pass is deterministic: no sampling, no dropout, fixed summation order per build.

use candle_core::{Device, Module, Tensor, D};
use serde::{Deserialize, Serialize};

use super::gguf::ModelFile;
use crate::backend::cpu::Linear;
use crate::error::{Error, Result};
use crate::history::event::EventKind;

pub use super::zero_shot::zero_shot_intent;

/// `string`: the [`SessionConfig`] JSON.
pub const KEY_SESSION_CONFIG: &str = "vitrine.session_config";
/// Rows of the time-gap table: bucket 0 is "unknown", then one bucket per factor of 4 in seconds.
pub const GAP_BUCKETS: usize = 12;

/// One event of the session, oldest first in the slices this module takes.
#[derive(Debug, Clone, Copy)]
pub struct SessionStep<'a> {
    /// The encoder text vector of the product (or of the query, for `search`).
    pub vector: &'a [f32],
    /// What the shopper did.
    pub kind: EventKind,
    /// Seconds since the previous step; `None` when unknown (first step, or data without timestamps).
    pub gap_secs: Option<f32>,
}

/// The architecture, stored as JSON in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// Encoder vector length the model reads (384 for MiniLM).
    pub dims: usize,
    /// Transformer width.
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    /// Feed-forward inner width.
    pub ffn: usize,
    /// Steps read; older ones are dropped.
    pub max_len: usize,
    /// Length of intent and item vectors.
    pub out_dims: usize,
    /// Hidden width of the item adapter's MLP branch (0: linear adapter only).
    pub adapter_hidden: usize,
    /// Whether intent and item vectors are L2-normalised (scores are then cosines).
    pub normalize: bool,
    /// Whether each step enters through its item vector ([`SessionModel::item_vectors`]) rather than
    /// its raw text vector: input and output share the adapter, as SASRec shares item embeddings.
    #[serde(default)]
    pub tie_input: bool,
    pub layer_norm_eps: f64,
    /// Weight of the newest step's raw text similarity in the score (chosen on validation; 0 in older files).
    #[serde(default)]
    pub content_mix: f32,
    /// Weight of the title word overlap with the recent steps in the score (chosen on validation; 0 in
    /// older files: off).
    #[serde(default)]
    pub lexical_mix: f32,
    /// Each older step's share of that overlap relative to the next newer one, in [0, 1] (0: the
    /// newest step alone).
    #[serde(default)]
    pub lexical_decay: f32,
}

impl SessionConfig {
    /// Length of what the input projection reads: item vectors when tied, else text vectors.
    pub fn input_dims(&self) -> usize {
        if self.tie_input {
            self.out_dims
        } else {
            self.dims
        }
    }

    fn validate(&self) -> Result<()> {
        let ok = self.dims > 0
            && self.width > 0
            && self.heads > 0
            && self.width % self.heads == 0
            && self.ffn > 0
            && self.max_len > 0
            && self.max_len <= 4096
            && self.out_dims > 0
            && self.layers <= 16
            && self.content_mix.is_finite()
            && self.lexical_mix.is_finite()
            && (0.0..=1.0).contains(&self.lexical_decay);
        if ok {
            Ok(())
        } else {
            Err(Error::ModelMetadata {
                key: KEY_SESSION_CONFIG.into(),
                reason: format!("inconsistent architecture {self:?}"),
            })
        }
    }
}

/// The bucket of a time gap: 0 for unknown (or negative / not finite), else `1 + ⌊log₄(1 + secs)⌋`,
/// capped at the last row (4¹⁰ s ≈ 12 days and longer share it).
pub fn gap_bucket(gap_secs: Option<f32>) -> usize {
    match gap_secs {
        Some(g) if g.is_finite() && g >= 0.0 => {
            let b = ((1.0 + g as f64).ln() / 4f64.ln()).floor() as usize;
            (1 + b).min(GAP_BUCKETS - 1)
        }
        _ => 0,
    }
}

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
        candle_nn::ops::layer_norm(&xs.contiguous()?, &self.weight, &self.bias, self.eps as f32)
    }
}

struct Block {
    ln1: LayerNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    ln2: LayerNorm,
    ff1: Linear,
    ff2: Linear,
}

/// L2-normalises the rows of a `[n, d]` tensor (a zero row stays zero).
fn l2_rows(xs: &Tensor) -> candle_core::Result<Tensor> {
    let norm = (xs.sqr()?.sum_keepdim(D::Minus1)?.sqrt()? + 1e-12)?;
    xs.broadcast_div(&norm)
}

/// A loaded session model (see the module docs).
pub struct SessionModel {
    cfg: SessionConfig,
    input: Linear,
    kind: Tensor,
    gap: Tensor,
    pos: Tensor,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    out: Linear,
    item_lin: Linear,
    item_mlp: Option<(Linear, Linear)>,
}

impl SessionModel {
    /// Loads and verifies a model made by `vitrine train` (format, version, checksum, shapes).
    pub fn from_gguf_bytes(bytes: &[u8]) -> Result<Self> {
        let file = ModelFile::read(bytes)?;
        let cfg: SessionConfig =
            serde_json::from_str(file.string(KEY_SESSION_CONFIG)?).map_err(|e| Error::ModelMetadata {
                key: KEY_SESSION_CONFIG.into(),
                reason: e.to_string(),
            })?;
        cfg.validate()?;
        let (w, eps) = (cfg.width, cfg.layer_norm_eps);
        let blocks = (0..cfg.layers)
            .map(|i| {
                let p = |n: &str| format!("layers.{i}.{n}");
                Ok(Block {
                    ln1: LayerNorm::new(&file, &p("ln1"), w, eps)?,
                    q: file.linear(&p("q"), w, w)?,
                    k: file.linear(&p("k"), w, w)?,
                    v: file.linear(&p("v"), w, w)?,
                    o: file.linear(&p("o"), w, w)?,
                    ln2: LayerNorm::new(&file, &p("ln2"), w, eps)?,
                    ff1: file.linear(&p("ff1"), cfg.ffn, w)?,
                    ff2: file.linear(&p("ff2"), w, cfg.ffn)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let item_mlp = if cfg.adapter_hidden > 0 {
            Some((
                file.linear("item.up", cfg.adapter_hidden, cfg.dims)?,
                file.linear("item.down", cfg.out_dims, cfg.adapter_hidden)?,
            ))
        } else {
            None
        };
        Ok(Self {
            input: file.linear("input", w, cfg.input_dims())?,
            kind: file.f32("kind.weight", &[EventKind::COUNT, w])?,
            gap: file.f32("gap.weight", &[GAP_BUCKETS, w])?,
            pos: file.f32("pos.weight", &[cfg.max_len, w])?,
            blocks,
            ln_f: LayerNorm::new(&file, "ln_f", w, eps)?,
            out: file.linear("out", cfg.out_dims, w)?,
            item_lin: file.linear("item.lin", cfg.out_dims, cfg.dims)?,
            item_mlp,
            cfg,
        })
    }

    /// The architecture read from the file.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// Length of the encoder vectors the model reads (384 for MiniLM).
    pub fn dims(&self) -> usize {
        self.cfg.dims
    }

    /// Steps [`SessionModel::intent`] reads: the newest ones are kept.
    pub fn max_len(&self) -> usize {
        self.cfg.max_len
    }

    /// Length of intent and item vectors.
    pub fn out_dims(&self) -> usize {
        self.cfg.out_dims
    }

    /// Weight of the newest step's text similarity in [`Self::score`].
    pub fn content_mix(&self) -> f32 {
        self.cfg.content_mix
    }

    /// Weight of the title word overlap in [`Self::score`] (0: off).
    pub fn lexical_mix(&self) -> f32 {
        self.cfg.lexical_mix
    }

    /// Recency decay of the word overlap: pass it to [`super::lexical::Lexicon::session`] over the
    /// steps' texts, the newest [`Self::max_len`] of them.
    pub fn lexical_decay(&self) -> f32 {
        self.cfg.lexical_decay
    }

    /// A candidate's score: `intent` from [`Self::intent`], `item` its row of [`Self::item_vectors`],
    /// `newest` the newest step's text vector and `text` the candidate's, `words` the dot product of
    /// the session's word profile with the candidate title's word vector (0 when either is unknown).
    /// Vectors of other lengths than the model's are an error.
    pub fn score(
        &self,
        intent: &[f32],
        item: &[f32],
        newest: &[f32],
        text: &[f32],
        words: f32,
    ) -> Result<f32> {
        let dot = crate::backend::cpu::ops::dot;
        Error::check_len("session score (intent)", self.cfg.out_dims, intent.len())?;
        Error::check_len("session score (item)", self.cfg.out_dims, item.len())?;
        let content = if self.cfg.content_mix == 0.0 {
            0.0
        } else {
            Error::check_len("session score (newest step)", self.cfg.dims, newest.len())?;
            Error::check_len("session score (candidate text)", self.cfg.dims, text.len())?;
            self.cfg.content_mix * dot(newest, text)?
        };
        Ok(dot(intent, item)? + content + self.cfg.lexical_mix * words)
    }

    /// The intent after the newest step (steps oldest first; only the newest [`Self::max_len`] are read).
    /// Score candidates with [`Self::score`].
    /// No steps is an error: without history there is no intent (use a non-personal ranking).
    pub fn intent(&self, steps: &[SessionStep]) -> Result<Vec<f32>> {
        let mut all = self.intent_per_step(steps)?;
        all.pop()
            .ok_or_else(|| Error::InvalidInput("the session has no steps".into()))
    }

    /// The intent after each step (causal: position `t` sees steps `0..=t` only), oldest first, over
    /// the newest [`Self::max_len`] steps.
    pub fn intent_per_step(&self, steps: &[SessionStep]) -> Result<Vec<Vec<f32>>> {
        if steps.is_empty() {
            return Err(Error::InvalidInput(
                "the session has no steps; rank without an intent (e.g. by popularity)".into(),
            ));
        }
        let steps = &steps[steps.len().saturating_sub(self.cfg.max_len)..];
        let t = steps.len();
        let mut flat = Vec::with_capacity(t * self.cfg.dims);
        for (i, s) in steps.iter().enumerate() {
            if s.vector.len() != self.cfg.dims {
                return Err(Error::InvalidInput(format!(
                    "step {i} has a vector of length {}, the session model reads {}: embed with the encoder it was trained on",
                    s.vector.len(),
                    self.cfg.dims
                )));
            }
            if s.vector.iter().any(|x| !x.is_finite()) {
                return Err(Error::InvalidInput(format!("step {i} has a non-finite value")));
            }
            flat.extend_from_slice(s.vector);
        }
        let kinds: Vec<u32> = steps.iter().map(|s| s.kind as u32).collect();
        let gaps: Vec<u32> = steps.iter().map(|s| gap_bucket(s.gap_secs) as u32).collect();
        let out = self.forward(&flat, &kinds, &gaps)?;
        let out = out.to_vec2::<f32>()?;
        Ok(out)
    }

    fn forward(&self, flat: &[f32], kinds: &[u32], gaps: &[u32]) -> candle_core::Result<Tensor> {
        let dev = Device::Cpu;
        let t = kinds.len();
        let mut x = Tensor::from_slice(flat, (t, self.cfg.dims), &dev)?;
        if self.cfg.tie_input {
            x = self.adapt(&x)?;
        }
        let kinds = Tensor::from_slice(kinds, t, &dev)?;
        let gaps = Tensor::from_slice(gaps, t, &dev)?;
        let mut h = (self.input.forward(&x)?
            + self.kind.index_select(&kinds, 0)?
            + self.gap.index_select(&gaps, 0)?
            + self.pos.narrow(0, 0, t)?)?;
        let heads = self.cfg.heads;
        let hd = self.cfg.width / heads;
        let mask: Vec<f32> = (0..t * t)
            .map(|i| if i % t > i / t { f32::NEG_INFINITY } else { 0.0 })
            .collect();
        let mask = Tensor::from_vec(mask, (t, t), &dev)?;
        let split = |xs: Tensor| xs.reshape((t, heads, hd))?.transpose(0, 1)?.contiguous();
        for b in &self.blocks {
            let a = b.ln1.forward(&h)?;
            let (q, k, v) = (
                split(b.q.forward(&a)?)?,
                split(b.k.forward(&a)?)?,
                split(b.v.forward(&a)?)?,
            );
            let scores = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?.broadcast_add(&mask)?;
            let max = scores.max_keepdim(D::Minus1)?;
            let e = scores.broadcast_sub(&max)?.exp()?;
            let att = e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?;
            let ctx = att.matmul(&v)?.transpose(0, 1)?.reshape((t, self.cfg.width))?;
            h = (h + b.o.forward(&ctx)?)?;
            let f = b.ff2.forward(&b.ff1.forward(&b.ln2.forward(&h)?)?.gelu_erf()?)?;
            h = (h + f)?;
        }
        let out = self.out.forward(&self.ln_f.forward(&h)?)?;
        if self.cfg.normalize {
            l2_rows(&out)
        } else {
            Ok(out)
        }
    }

    fn adapt(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut y = self.item_lin.forward(x)?;
        if let Some((up, down)) = &self.item_mlp {
            y = (y + down.forward(&up.forward(x)?.gelu_erf()?)?)?;
        }
        if self.cfg.normalize {
            y = l2_rows(&y)?;
        }
        Ok(y)
    }

    /// Item vectors in the space intents are scored in: `n × dims` text vectors (row-major) in,
    /// `n × out_dims` out. A function of the text vector only, so any catalog works.
    pub fn item_vectors(&self, text_vectors: &[f32]) -> Result<Vec<f32>> {
        let d = self.cfg.dims;
        if text_vectors.len() % d != 0 {
            return Err(Error::InvalidInput(format!(
                "{} values is not a whole number of {d}-long vectors",
                text_vectors.len()
            )));
        }
        let mut out = Vec::with_capacity(text_vectors.len() / d * self.cfg.out_dims);
        // Chunks bound the adapter's hidden activations for large catalogs.
        for chunk in text_vectors.chunks(2048 * d) {
            let x = Tensor::from_slice(chunk, (chunk.len() / d, d), &Device::Cpu)?;
            let y = self.adapt(&x)?;
            out.extend(y.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
