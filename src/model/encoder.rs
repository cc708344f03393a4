//! The text encoder the SDK uses: tokenizer + BERT + mean pooling + L2 normalisation, loaded from
//! one self-contained GGUF (see [`super::gguf`]) and producing sentence-transformers-compatible vectors.
//! Its [`Device`] holds the weights and runs the forward pass on the CPU or an attached GPU.

use tokenizers::{pad_encodings, Encoding, PaddingParams, Tokenizer, TruncationParams};

use super::bert::{BertModel, Config};
use super::gguf::{self, ModelFile};
use super::scores::{Scores, KEY_SCORES};
use crate::backend::select::{Backend, BackendChoice, Calibration, DevicePreference};
use crate::backend::{Device, Input, Ops, Weights};
use crate::error::{Error, Result};

/// Rows per CPU forward in [`Encoder::embed`]: bounds its scratch memory (attention is rows × len²).
const GROUP: usize = 32;
/// Texts per GPU forward: bounds the padding of one batch and the buffers it needs.
const GPU_CHUNK: usize = 64;

/// Texts as the model sees them: `batch × seq` ids and mask (1 token, 0 padding), row-major.
struct Batch {
    lens: Vec<usize>,
    ids: Vec<u32>,
    mask: Vec<u32>,
    seq: usize,
}

/// What a text is to the model: models trained with instructions (multilingual-e5) embed search
/// queries and the passages they search with different prefixes, named in the model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A shopper's search query.
    Query,
    /// A product title, description or copy text.
    Passage,
}

/// A loaded sentence encoder (all-MiniLM-L6-v2 or multilingual-e5 class): texts in, unit-length
/// vectors out.
pub struct Encoder {
    tokenizer: Tokenizer,
    /// Prepended per [`Role`] (`query: ` / `passage: ` for e5); empty when the model has none.
    query_prefix: String,
    passage_prefix: String,
    model: BertModel,
    device: Device,
    dims: usize,
    max_seq_len: usize,
    checksum: String,
    /// The score weights tuned on this encoder's cosines (MiniLM's when the file names none).
    scores: Scores,
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
        let mut weights = Weights::default();
        let model = BertModel::new(&cfg, &file, max_seq_len, &mut weights)?;
        let prefix = |key| file.string(key).map(str::to_string).unwrap_or_default();
        let scores = Scores::from_metadata(file.string(KEY_SCORES).ok())?;
        Ok(Self {
            tokenizer,
            query_prefix: prefix(gguf::KEY_QUERY_PREFIX),
            passage_prefix: prefix(gguf::KEY_PASSAGE_PREFIX),
            model,
            device: Device::new(weights),
            dims: cfg.hidden_size,
            max_seq_len,
            checksum: file.checksum().to_string(),
            scores,
        })
    }

    /// The score weights for this encoder's cosines ([`Scores`], from the file's metadata).
    pub fn scores(&self) -> &Scores {
        &self.scores
    }

    /// Where the forward pass runs: attach or release a GPU there, read which backend serves
    /// [`Encoder::embed_auto`] and why.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Embeds on `backend` exactly, failing (no fallback) if it cannot: for tests, benchmarks and
    /// an explicit `--device`.
    pub async fn embed_on(&self, texts: &[&str], backend: Backend) -> Result<Vec<Vec<f32>>> {
        if backend == Backend::Cpu {
            return self.embed(texts);
        }
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(GPU_CHUNK) {
            let encodings = chunk.iter().map(|t| self.encode(t)).collect::<Result<Vec<_>>>()?;
            let b = Batch::pad(encodings)?;
            let rows = self.model.embed(&b.ids, b.lens.len(), b.seq)?;
            let input = b.input(&rows);
            out.extend(
                self.device
                    .forward(backend, input, &self.model.slots(), &|ops| self.pooled(ops))
                    .await?,
            );
        }
        Ok(out)
    }

    /// Embeds on the device's selected backend ([`Device::diagnostics`]); if the GPU fails, the CPU
    /// computes the same vectors, and the CPU is used from then on, with the reason in the diagnostics.
    pub async fn embed_auto(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if self.device.diagnostics().backend == Backend::Cpu {
            return self.embed(texts);
        }
        match self.embed_on(texts, Backend::Webgpu).await {
            Ok(v) => Ok(v),
            Err(e @ (Error::InvalidInput(_) | Error::Tokenizer(_))) => Err(e),
            Err(e) => {
                self.device.fall_back_to_cpu(&e);
                self.embed(texts)
            }
        }
    }

    /// Chooses the backend [`Encoder::embed_auto`] uses, for `pref`: `auto` times a few forwards of
    /// `sample` (representative texts: one query, or a typical batch) on both and keeps the faster.
    pub async fn select_backend(&self, pref: DevicePreference, sample: &[&str]) -> BackendChoice {
        let on_cpu = || async { self.embed(sample) };
        let on_gpu = || self.embed_on(sample, Backend::Webgpu);
        self.device.select(pref, on_cpu, on_gpu).await
    }

    /// Chooses a backend per workload (one query, a batch of titles) for `pref`, as a page needs;
    /// releases the GPU when the CPU wins both (see [`Device::calibrate`]).
    pub async fn calibrate(&self, pref: DevicePreference) -> Calibration {
        self.device
            .calibrate(pref, |sample, backend| self.embed_on(sample, backend))
            .await
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

    /// `text` as the model expects it in `role`: with the prefix its file names, if any.
    pub fn with_role<'t>(&self, role: Role, text: &'t str) -> std::borrow::Cow<'t, str> {
        let prefix = match role {
            Role::Query => &self.query_prefix,
            Role::Passage => &self.passage_prefix,
        };
        if prefix.is_empty() {
            text.into()
        } else {
            format!("{prefix}{text}").into()
        }
    }

    /// [`Encoder::embed`] of `texts` in `role` (prefixed as the model asks).
    pub fn embed_as(&self, texts: &[&str], role: Role) -> Result<Vec<Vec<f32>>> {
        let texts: Vec<_> = texts.iter().map(|t| self.with_role(role, t)).collect();
        self.embed(&texts.iter().map(|t| t.as_ref()).collect::<Vec<_>>())
    }

    /// The vocabulary entry of a token id (`<unk>`, `▁手机`, `##ing` …), if the id exists.
    pub fn token(&self, id: u32) -> Option<String> {
        self.tokenizer.id_to_token(id)
    }

    /// Token ids of one text as the model sees them (`[CLS] … [SEP]` or `<s> … </s>`, truncated).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.encode(text)?.get_ids().to_vec())
    }

    fn encode(&self, text: &str) -> Result<Encoding> {
        self.tokenizer
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// Embeds `texts` as given (no role prefix, see [`Encoder::embed_as`]) on the CPU: one
    /// L2-normalised vector per text, in order.
    ///
    /// A text gets the same vector alone or in any batch (padding is masked out of attention and
    /// pooling). A padded batch costs its padded length, so the texts run sorted by token count in
    /// groups of at most [`GROUP`] whose lengths exceed the shortest by at most a quarter plus one
    /// token (short texts may pair with one a token longer): one batch of 64 Beauty
    /// titles padded to the longest (53 tokens, mean 17) did 3× the work of one call per title.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut encodings = texts.iter().map(|t| self.encode(t)).collect::<Result<Vec<_>>>()?;
        let lens: Vec<usize> = encodings.iter().map(Encoding::len).collect();
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| lens[i]);
        let mut out = vec![Vec::new(); texts.len()];
        let mut start = 0;
        while start < order.len() {
            let limit = lens[order[start]] * 5 / 4 + 1;
            let mut end = start + 1;
            while end < order.len() && end - start < GROUP && lens[order[end]] <= limit {
                end += 1;
            }
            let group = &order[start..end];
            // Each text is in one group only, so its encoding moves into the batch.
            let batch = Batch::pad(group.iter().map(|&i| std::mem::take(&mut encodings[i])).collect())?;
            for (&i, v) in group.iter().zip(self.forward_pooled(&batch)?) {
                out[i] = v;
            }
            start = end;
        }
        Ok(out)
    }

    /// One CPU forward of a padded batch, mean-pooled over each text's tokens and L2-normalised.
    fn forward_pooled(&self, b: &Batch) -> Result<Vec<Vec<f32>>> {
        let rows = self.model.embed(&b.ids, b.lens.len(), b.seq)?;
        let input = b.input(&rows);
        self.device
            .forward_cpu(input, &self.model.slots(), &|ops| self.pooled(ops))
    }

    /// The forward pass every backend runs: the model's layers, then the pooling its file names.
    fn pooled(&self, ops: &mut dyn Ops) -> Result<()> {
        self.model.forward(ops)?;
        ops.mean_pool(BertModel::output())
    }
}

impl Batch {
    /// Encodings padded to the longest (the `tokenizers` crate's batch padding), with the mask that
    /// hides the padding.
    fn pad(mut encodings: Vec<Encoding>) -> Result<Self> {
        let lens: Vec<usize> = encodings.iter().map(Encoding::len).collect();
        // The default pads right to the batch's longest with id 0; the id never matters because the
        // mask removes it from attention and pooling.
        pad_encodings(&mut encodings, &PaddingParams::default())
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let seq = encodings.first().map_or(0, Encoding::len);
        let ids = encodings.iter().flat_map(|e| e.get_ids()).copied().collect();
        let mask = encodings
            .iter()
            .flat_map(|e| e.get_attention_mask())
            .copied()
            .collect();
        Ok(Self { lens, ids, mask, seq })
    }

    /// The forward's input: `rows` (the batch's embeddings) under this batch's mask.
    fn input<'a>(&'a self, rows: &'a [f32]) -> Input<'a> {
        Input {
            rows,
            mask: &self.mask,
            batch: self.lens.len(),
            seq: self.seq,
        }
    }
}
