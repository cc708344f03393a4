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

use super::gguf::ModelFile;
use crate::backend::cpu::{ops, Linear};
use crate::error::{Error, Result};
use crate::history::event::EventKind;

pub use super::session_config::SessionConfig;
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
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn new(file: &ModelFile, prefix: &str, dim: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: file.f32(&format!("{prefix}.weight"), &[dim])?.to_vec1()?,
            bias: file.f32(&format!("{prefix}.bias"), &[dim])?.to_vec1()?,
            eps: eps as f32,
        })
    }

    /// The normalised copy of `x`'s rows (the blocks are pre-norm: `x` stays the residual stream).
    fn forward(&self, x: &[f32]) -> Result<Vec<f32>> {
        let mut y = x.to_vec();
        ops::add_layer_norm(&mut y, None, &self.weight, &self.bias, self.eps)?;
        Ok(y)
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

/// L2-normalises rows of `d` values in place (a zero row stays zero).
fn l2_rows(xs: &mut [f32], d: usize) {
    for row in xs.chunks_exact_mut(d) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt() + 1e-12;
        row.iter_mut().for_each(|x| *x /= norm);
    }
}

/// `x += y`, element by element.
fn add(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
}

/// A loaded session model (see the module docs).
pub struct SessionModel {
    cfg: SessionConfig,
    input: Linear,
    /// Embedding tables, row-major `[rows, width]`.
    kind: Vec<f32>,
    gap: Vec<f32>,
    pos: Vec<f32>,
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
            kind: file
                .f32("kind.weight", &[EventKind::COUNT, w])?
                .flatten_all()?
                .to_vec1()?,
            gap: file
                .f32("gap.weight", &[GAP_BUCKETS, w])?
                .flatten_all()?
                .to_vec1()?,
            pos: file
                .f32("pos.weight", &[cfg.max_len, w])?
                .flatten_all()?
                .to_vec1()?,
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
        self.intent_with_items(steps, &[])
    }

    /// The intent after each step (causal: position `t` sees steps `0..=t` only), oldest first, over
    /// the newest [`Self::max_len`] steps.
    pub fn intent_per_step(&self, steps: &[SessionStep]) -> Result<Vec<Vec<f32>>> {
        self.intents(steps, &[], false)
    }

    /// [`Self::intent`] where `items[i]`, when present, is step `i`'s row of [`Self::item_vectors`]
    /// already computed (the SDK caches candidates' rows by product id): a tied-input model then skips
    /// the item adapter for that step, most of the cost of a call. Rows of the wrong length are an error.
    pub fn intent_with_items(&self, steps: &[SessionStep], items: &[Option<&[f32]>]) -> Result<Vec<f32>> {
        let mut all = self.intents(steps, items, true)?;
        all.pop()
            .ok_or_else(|| Error::InvalidInput("the session has no steps".into()))
    }

    /// The intents after every step, or after the newest one only (`newest_only`, which skips the last
    /// block's feed-forward and the output layer for the other rows).
    fn intents(
        &self,
        steps: &[SessionStep],
        items: &[Option<&[f32]>],
        newest_only: bool,
    ) -> Result<Vec<Vec<f32>>> {
        if steps.is_empty() {
            return Err(Error::InvalidInput(
                "the session has no steps; rank without an intent (e.g. by popularity)".into(),
            ));
        }
        let skip = steps.len().saturating_sub(self.cfg.max_len);
        let steps = &steps[skip..];
        let items = items.get(skip..).unwrap_or(&[]);
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
        let x = self.inputs(flat, items)?;
        let out = self.forward(&x, &kinds, &gaps, newest_only)?;
        Ok(out.chunks_exact(self.cfg.out_dims).map(<[f32]>::to_vec).collect())
    }

    /// The transformer's input rows: the text vectors, or with a tied input their item vectors, taken
    /// from `items` where given and computed in one batch for the rest.
    fn inputs(&self, flat: Vec<f32>, items: &[Option<&[f32]>]) -> Result<Vec<f32>> {
        if !self.cfg.tie_input {
            return Ok(flat);
        }
        let (d, o) = (self.cfg.dims, self.cfg.out_dims);
        let t = flat.len() / d;
        let known = |i: usize| items.get(i).copied().flatten();
        let missing: Vec<f32> = (0..t)
            .filter(|&i| known(i).is_none())
            .flat_map(|i| flat[i * d..(i + 1) * d].iter().copied())
            .collect();
        let computed = self.item_vectors(&missing)?;
        let mut next = computed.chunks_exact(o);
        let mut x = Vec::with_capacity(t * o);
        for i in 0..t {
            let row = match known(i) {
                Some(row) => row,
                None => next.next().unwrap_or(&[]),
            };
            Error::check_len("session step (item vector)", o, row.len())?;
            x.extend_from_slice(row);
        }
        Ok(x)
    }

    /// `t` input rows, their event kinds and gap buckets in; `t` rows of `out_dims` out, or the newest
    /// row only. On plain slices: at a session's size (≤ `max_len` rows, width 128) candle's per-op
    /// dispatch cost more than the arithmetic (1 ms of a 2 ms ranking call).
    fn forward(&self, x: &[f32], kinds: &[u32], gaps: &[u32], newest_only: bool) -> Result<Vec<f32>> {
        let (t, w) = (kinds.len(), self.cfg.width);
        let row = |table: &[f32], i: u32| -> Result<Vec<f32>> {
            let r = table.get(i as usize * w..(i as usize + 1) * w);
            r.map(<[f32]>::to_vec)
                .ok_or_else(|| Error::InvalidInput(format!("embedding row {i} is out of range")))
        };
        let mut h = self.input.forward_rows(x, t)?;
        for (i, (&k, &g)) in kinds.iter().zip(gaps).enumerate() {
            let hi = &mut h[i * w..(i + 1) * w];
            add(hi, &row(&self.kind, k)?);
            add(hi, &row(&self.gap, g)?);
            add(hi, &row(&self.pos, i as u32)?);
        }
        let heads = self.cfg.heads;
        let mut qkv = vec![0f32; t * 3 * w];
        let mut ctx = vec![0f32; t * w];
        let mut m = t; // rows still computed
        for (l, b) in self.blocks.iter().enumerate() {
            let a = b.ln1.forward(&h)?;
            for (part, lin) in [&b.q, &b.k, &b.v].into_iter().enumerate() {
                let y = lin.forward_rows(&a, t)?;
                for i in 0..t {
                    qkv[i * 3 * w + part * w..][..w].copy_from_slice(&y[i * w..(i + 1) * w]);
                }
            }
            ops::causal_attention(&qkv, t, heads, w / heads, &mut ctx)?;
            if newest_only && l + 1 == self.blocks.len() {
                // Causal, and the last block: no later row reads the others' outputs.
                h.drain(..(t - 1) * w);
                ctx.drain(..(t - 1) * w);
                m = 1;
            }
            add(&mut h, &b.o.forward_rows(&ctx, m)?);
            let mut f = b.ff1.forward_rows(&b.ln2.forward(&h)?, m)?;
            ops::gelu_erf(&mut f);
            add(&mut h, &b.ff2.forward_rows(&f, m)?);
        }
        let mut out = self.out.forward_rows(&self.ln_f.forward(&h)?, m)?;
        if self.cfg.normalize {
            l2_rows(&mut out, self.cfg.out_dims);
        }
        Ok(out)
    }

    /// The item adapter over `n` rows of text vectors.
    fn adapt(&self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        let mut y = self.item_lin.forward_rows(x, n)?;
        if let Some((up, down)) = &self.item_mlp {
            let mut hidden = up.forward_rows(x, n)?;
            ops::gelu_erf(&mut hidden);
            add(&mut y, &down.forward_rows(&hidden, n)?);
        }
        if self.cfg.normalize {
            l2_rows(&mut y, self.cfg.out_dims);
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
            out.extend(self.adapt(chunk, chunk.len() / d)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
