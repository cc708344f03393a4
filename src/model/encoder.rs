//! The text encoder the SDK uses: tokenizer + BERT + mean pooling + L2 normalisation, loaded from
//! one self-contained GGUF (see [`super::gguf`]) and producing sentence-transformers-compatible vectors.

use tokenizers::{Tokenizer, TruncationParams};

use super::bert::{BertModel, Config};
use super::gguf::{self, ModelFile};
use crate::error::{Error, Result};

/// A loaded sentence encoder (all-MiniLM-L6-v2 class): texts in, unit-length vectors out.
pub struct Encoder {
    tokenizer: Tokenizer,
    model: BertModel,
    dims: usize,
    max_seq_len: usize,
    checksum: String,
}

impl Encoder {
    /// Loads and verifies a model made by `vitrine convert` (format, version, shapes, checksum).
    pub fn from_gguf_bytes(bytes: &[u8]) -> Result<Self> {
        let file = ModelFile::read(bytes)?;
        let cfg: Config =
            serde_json::from_str(file.string(gguf::KEY_BERT_CONFIG)?).map_err(|e| Error::ModelMetadata {
                key: gguf::KEY_BERT_CONFIG.into(),
                reason: e.to_string(),
            })?;
        let pooling = file.string(gguf::KEY_POOLING)?;
        if pooling != "mean" {
            return Err(Error::ModelMetadata {
                key: gguf::KEY_POOLING.into(),
                reason: format!("pooling `{pooling}` is not supported (only `mean`)"),
            });
        }
        let max_seq_len = file.u32(gguf::KEY_MAX_SEQ_LEN)? as usize;
        if max_seq_len < 2 || max_seq_len > cfg.max_position_embeddings {
            return Err(Error::ModelMetadata {
                key: gguf::KEY_MAX_SEQ_LEN.into(),
                reason: format!("{max_seq_len} is outside 2..={}", cfg.max_position_embeddings),
            });
        }
        let mut tokenizer = Tokenizer::from_bytes(file.string(gguf::KEY_TOKENIZER)?.as_bytes())
            .map_err(|e| Error::Tokenizer(format!("cannot load the tokenizer JSON: {e}")))?;
        // Enforced here too, not only in the JSON: a longer input would index past the position table,
        // and fixed padding would silently change every vector.
        let truncation = TruncationParams {
            max_length: max_seq_len,
            ..Default::default()
        };
        tokenizer
            .with_truncation(Some(truncation))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        let model = BertModel::new(&cfg, &file, max_seq_len)?;
        Ok(Self {
            tokenizer,
            model,
            dims: cfg.hidden_size,
            max_seq_len,
            checksum: file.checksum().to_string(),
        })
    }

    /// Length of every vector [`Encoder::embed`] returns.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Tokens per text, special tokens included; longer texts are truncated.
    pub fn max_seq_len(&self) -> usize {
        self.max_seq_len
    }

    /// SHA-256 (hex) of the weights: vectors are comparable only between encoders with the same one.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// Token ids of one text as the model sees them (`[CLS] … [SEP]`, truncated).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Embeds `texts` as one batch, padded to the longest: one L2-normalised vector per text, in order.
    ///
    /// A text gets the same vector alone or in any batch (padding is masked out of attention and
    /// pooling); callers choose batch sizes for speed, e.g. by grouping texts of similar length.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let tokens = texts
            .iter()
            .map(|t| self.tokenize(t))
            .collect::<Result<Vec<_>>>()?;
        let seq = tokens.iter().map(Vec::len).max().unwrap_or(0);
        let batch = tokens.len();
        // Pad id 0 is [PAD]; its value never matters because the mask removes it.
        let mut ids = vec![0u32; batch * seq];
        let mut mask = vec![0u32; batch * seq];
        for (row, t) in tokens.iter().enumerate() {
            ids[row * seq..row * seq + t.len()].copy_from_slice(t);
            mask[row * seq..row * seq + t.len()].fill(1);
        }
        let hidden = self.model.forward(&ids, &mask, batch, seq)?;
        let hidden = hidden.flatten_all()?.to_vec1::<f32>()?;
        let h = self.dims;
        Ok(tokens
            .iter()
            .enumerate()
            .map(|(row, t)| {
                let mut v = vec![0f32; h];
                for tok in 0..t.len() {
                    let state = &hidden[(row * seq + tok) * h..(row * seq + tok + 1) * h];
                    v.iter_mut().zip(state).for_each(|(a, s)| *a += s);
                }
                // Mean then L2 norm equals L2 norm of the sum: the division by the count cancels.
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect())
    }
}
