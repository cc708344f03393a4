//! The text encoder the SDK uses: tokenizer + BERT + mean pooling + L2 normalisation, loaded from
//! one self-contained GGUF (see [`super::gguf`]) and producing sentence-transformers-compatible vectors.

use std::sync::Mutex;

use tokenizers::{Tokenizer, TruncationParams};

use super::bert::{BertModel, Config};
use super::gguf::{self, ModelFile};
#[cfg(feature = "gpu")]
use crate::backend::gpu::{GpuContext, GpuEncoder};
use crate::backend::select::{Backend, BackendChoice, DevicePreference};
use crate::error::{Error, Result};

const NO_GPU: &str = "no GPU attached to this encoder";

/// Rows per CPU forward in [`Encoder::embed`]: bounds its scratch memory (attention is rows × len²).
const GROUP: usize = 32;

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
    dims: usize,
    max_seq_len: usize,
    checksum: String,
    #[cfg(feature = "gpu")]
    /// Set by [`Encoder::attach_gpu`], emptied by [`Encoder::detach_gpu`]; behind a lock so that an
    /// encoder shared with the engine (`Rc`) can gain or drop its GPU without `&mut`. An `Arc` so a
    /// forward in flight keeps its weights while the lock is free (it awaits the GPU).
    gpu: Mutex<Option<std::sync::Arc<GpuEncoder>>>,
    /// What [`Encoder::embed_auto`] runs on; a GPU failure switches it to the CPU, with the reason.
    choice: Mutex<BackendChoice>,
    /// Why no GPU is attached, for the diagnostics of a later [`Encoder::select_backend`].
    no_gpu: Mutex<String>,
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
        let prefix = |key| file.string(key).map(str::to_string).unwrap_or_default();
        Ok(Self {
            tokenizer,
            query_prefix: prefix(gguf::KEY_QUERY_PREFIX),
            passage_prefix: prefix(gguf::KEY_PASSAGE_PREFIX),
            model,
            dims: cfg.hidden_size,
            max_seq_len,
            checksum: file.checksum().to_string(),
            #[cfg(feature = "gpu")]
            gpu: Mutex::new(None),
            choice: Mutex::new(BackendChoice::cpu(NO_GPU, None)),
            no_gpu: Mutex::new(NO_GPU.into()),
        })
    }

    /// Uploads the weights to `ctx` so that [`Backend::Webgpu`] can run; `bytes` must be the model
    /// this encoder was loaded from (checked by checksum). On failure the encoder stays on the CPU
    /// and its diagnostics say why. [`Encoder::embed_auto`] then uses the GPU
    /// until [`Encoder::select_backend`] or a GPU failure says otherwise.
    #[cfg(feature = "gpu")]
    pub async fn attach_gpu(&self, ctx: std::sync::Arc<GpuContext>, bytes: &[u8]) -> Result<()> {
        if lock(&self.gpu).is_some() {
            return Ok(());
        }
        let file = ModelFile::read(bytes)?;
        if file.checksum() != self.checksum {
            return Err(Error::InvalidInput(
                "attach_gpu needs the same model bytes the encoder was loaded from".into(),
            ));
        }
        let cfg: Config =
            serde_json::from_str(file.string(gguf::KEY_BERT_CONFIG)?).map_err(|e| Error::ModelMetadata {
                key: gguf::KEY_BERT_CONFIG.into(),
                reason: e.to_string(),
            })?;
        let adapter = ctx.adapter();
        let embeddings = std::sync::Arc::clone(self.model.embeddings());
        let gpu = GpuEncoder::new(ctx, &cfg, &file, embeddings, self.model.max_positions()).await;
        let gpu = gpu.inspect_err(|e| self.note_gpu_unavailable(e))?;
        // Two attaches racing (only possible through misuse) keep the first; both are the same model.
        #[allow(clippy::arc_with_non_send_sync)] // wasm: one thread; natively GpuEncoder is Send + Sync
        lock(&self.gpu).get_or_insert_with(|| std::sync::Arc::new(gpu));
        self.set_choice(BackendChoice {
            backend: Backend::Webgpu,
            reason: "GPU attached (not calibrated)".into(),
            adapter: Some(adapter),
            cpu_ms: None,
            gpu_ms: None,
        });
        Ok(())
    }

    /// Drops the GPU weights (their buffers are freed once no forward holds them), e.g. when
    /// calibration chose the CPU for every workload: the encoder then runs on the CPU, and `why`
    /// becomes the reason a later [`Encoder::select_backend`] gives. [`Encoder::attach_gpu`] may
    /// attach one again.
    #[cfg(feature = "gpu")]
    pub fn detach_gpu(&self, why: &str) {
        if lock(&self.gpu).take().is_some() {
            *lock(&self.no_gpu) = format!("GPU released: {why}");
            let mut choice = self.diagnostics();
            choice.backend = Backend::Cpu;
            self.set_choice(choice);
        }
    }

    /// The GPU adapter this encoder can run on, if one is attached.
    pub fn gpu_adapter(&self) -> Option<String> {
        #[cfg(feature = "gpu")]
        if let Some(g) = lock(&self.gpu).as_ref() {
            return Some(g.context().adapter());
        }
        None
    }

    /// Embeds on `backend` exactly, failing (no fallback) if it cannot: for tests, benchmarks and
    /// an explicit `--device`.
    pub async fn embed_on(&self, texts: &[&str], backend: Backend) -> Result<Vec<Vec<f32>>> {
        match backend {
            Backend::Cpu => self.embed(texts),
            #[cfg(feature = "gpu")]
            Backend::Webgpu => {
                let gpu = lock(&self.gpu)
                    .clone()
                    .ok_or_else(|| Error::GpuUnavailable("no GPU attached to this encoder".into()))?;
                if texts.is_empty() {
                    return Ok(Vec::new());
                }
                let b = self.batch(texts)?;
                gpu.forward_pooled(&b.ids, &b.mask, b.lens.len(), b.seq).await
            }
            #[cfg(not(feature = "gpu"))]
            Backend::Webgpu => Err(Error::GpuUnavailable(
                "this build has no GPU backend (feature `gpu`)".into(),
            )),
        }
    }

    /// Embeds on the selected backend ([`Encoder::diagnostics`]); if the GPU fails, the CPU computes
    /// the same vectors, and the CPU is used from then on, with the reason in the diagnostics.
    pub async fn embed_auto(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let choice = self.diagnostics();
        if choice.backend == Backend::Cpu {
            return self.embed(texts);
        }
        match self.embed_on(texts, Backend::Webgpu).await {
            Ok(v) => Ok(v),
            Err(e @ (Error::InvalidInput(_) | Error::Tokenizer(_))) => Err(e),
            Err(e) => {
                self.set_choice(BackendChoice::cpu(
                    format!("the GPU failed, CPU fallback from now on: {e}"),
                    choice.adapter,
                ));
                self.embed(texts)
            }
        }
    }

    /// Chooses the backend [`Encoder::embed_auto`] uses, for `pref`: `auto` times a few forwards of
    /// `sample` (representative texts: one query, or a typical batch) on both and keeps the faster.
    pub async fn select_backend(&self, pref: DevicePreference, sample: &[&str]) -> BackendChoice {
        let adapter = self.gpu_adapter();
        let gpu_error = adapter.is_none().then(|| lock(&self.no_gpu).clone());
        let timings = if pref == DevicePreference::Auto && gpu_error.is_none() && !sample.is_empty() {
            use crate::backend::select::time_ms;
            let cpu = time_ms(3, || async { self.embed(sample) })
                .await
                .unwrap_or(f64::INFINITY);
            let gpu = time_ms(3, || self.embed_on(sample, Backend::Webgpu)).await;
            Some((cpu, gpu))
        } else {
            None
        };
        let choice = BackendChoice::decide(pref, adapter, gpu_error, timings);
        self.set_choice(choice.clone());
        choice
    }

    /// Which backend [`Encoder::embed_auto`] runs on, and why.
    pub fn diagnostics(&self) -> BackendChoice {
        lock(&self.choice).clone()
    }

    fn set_choice(&self, choice: BackendChoice) {
        *lock(&self.choice) = choice;
    }

    /// Records why no GPU could be attached (no adapter, no device, an unsupported model): the
    /// diagnostics then say it instead of "no GPU attached".
    pub fn note_gpu_unavailable(&self, why: &Error) {
        *lock(&self.no_gpu) = why.to_string();
        self.set_choice(BackendChoice::cpu(why.to_string(), None));
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
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
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
        let tokens = texts
            .iter()
            .map(|t| self.tokenize(t))
            .collect::<Result<Vec<_>>>()?;
        let mut order: Vec<usize> = (0..tokens.len()).collect();
        order.sort_by_key(|&i| tokens[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        let mut start = 0;
        while start < order.len() {
            let limit = tokens[order[start]].len() * 5 / 4 + 1;
            let mut end = start + 1;
            while end < order.len() && end - start < GROUP && tokens[order[end]].len() <= limit {
                end += 1;
            }
            let group = &order[start..end];
            let batch = Batch::pad(group.iter().map(|&i| tokens[i].as_slice()));
            for (&i, v) in group.iter().zip(self.forward_pooled(&batch)?) {
                out[i] = v;
            }
            start = end;
        }
        Ok(out)
    }

    /// One CPU forward of a padded batch, mean-pooled over each text's tokens and L2-normalised.
    fn forward_pooled(&self, b: &Batch) -> Result<Vec<Vec<f32>>> {
        let hidden = self.model.forward(&b.ids, &b.mask, b.lens.len(), b.seq)?;
        let hidden = hidden.flatten_all()?.to_vec1::<f32>()?;
        let (h, seq) = (self.dims, b.seq);
        Ok(b.lens
            .iter()
            .enumerate()
            .map(|(row, &len)| {
                let mut v = vec![0f32; h];
                for tok in 0..len {
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

    /// Tokenizes `texts` (non-empty) and pads them to the longest (the GPU path: one submission).
    fn batch(&self, texts: &[&str]) -> Result<Batch> {
        let tokens = texts
            .iter()
            .map(|t| self.tokenize(t))
            .collect::<Result<Vec<_>>>()?;
        Ok(Batch::pad(tokens.iter().map(Vec::as_slice)))
    }
}

impl Batch {
    /// Token rows padded to the longest, with the mask that hides the padding.
    fn pad<'a>(rows: impl Iterator<Item = &'a [u32]> + Clone) -> Self {
        let seq = rows.clone().map(<[u32]>::len).max().unwrap_or(0);
        let lens: Vec<usize> = rows.clone().map(<[u32]>::len).collect();
        // Pad id 0 is [PAD]; its value never matters because the mask removes it.
        let mut ids = vec![0u32; lens.len() * seq];
        let mut mask = vec![0u32; lens.len() * seq];
        for (row, t) in rows.enumerate() {
            ids[row * seq..row * seq + t.len()].copy_from_slice(t);
            mask[row * seq..row * seq + t.len()].fill(1);
        }
        Self { lens, ids, mask, seq }
    }
}

/// The value behind a mutex even if a panic poisoned it (the data is a plain value, always whole).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
