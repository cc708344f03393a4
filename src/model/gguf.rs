//! Vitrine's GGUF model files: the metadata keys, the tensor checksum, and a validating reader that
//! loads weights from bytes (never a path) with an [`Error`] that says what to do for every bad input.
//!
//! One file is self-contained: weights (word embeddings quantized too), the BERT config JSON, the
//! tokenizer JSON, the pooling mode, the maximum sequence length and a SHA-256 over all of it.

use std::collections::BTreeMap;
use std::io::Cursor;

use candle_core::quantized::gguf_file::{Content, TensorInfo, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};

use crate::backend::cpu::Linear;
use crate::error::{Error, Result};

/// Version of the layout below; bump it when a key or tensor name changes meaning. Version 2: the
/// checksum covers the metadata too ([`KEY_SHA256`] replaced version 1's tensor-only checksum).
pub const FORMAT_VERSION: u32 = 2;
/// `u32`: [`FORMAT_VERSION`] of the writer.
pub const KEY_FORMAT_VERSION: &str = "vitrine.format_version";
/// `string`: the Hugging Face BERT `config.json`.
pub const KEY_BERT_CONFIG: &str = "vitrine.bert_config";
/// `string`: the `tokenizers` JSON, rewritten to truncate at `max_seq_len` and not pad.
pub const KEY_TOKENIZER: &str = "vitrine.tokenizer";
/// `string`: how token states become one vector; only `"mean"` (over the attention mask) exists.
pub const KEY_POOLING: &str = "vitrine.pooling";
/// `u32`: tokens per text, special tokens included (sentence-transformers' `max_seq_length`).
pub const KEY_MAX_SEQ_LEN: &str = "vitrine.max_seq_len";
/// `string`: lowercase hex SHA-256 of every other metadata entry and every tensor, see [`ModelDigest`].
pub const KEY_SHA256: &str = "vitrine.sha256";

const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// The SHA-256 that a model file records and that loading recomputes: it identifies "the same
/// encoder" for catalogs and segments, so it covers everything that changes behaviour — the
/// tokenizer, config, pooling and maximum length as much as the weights.
///
/// First the metadata: every entry but [`KEY_SHA256`], in key order, serialised by candle's own GGUF
/// writer (a header-only GGUF, so each value carries its type); its length (u64 LE) and bytes are fed.
/// Then the tensors in name order; each contributes its name, a 0 byte, the ggml type code (u32 LE),
/// the rank (u32 LE), each dimension outermost first (u64 LE), the data length (u64 LE) and the raw
/// block bytes. Names, types and shapes are covered so that a damaged header cannot pass either.
#[derive(Default)]
pub struct ModelDigest {
    meta: BTreeMap<String, Value>,
    tensors: Vec<(String, u32, Vec<usize>, Vec<u8>)>,
}

impl ModelDigest {
    /// Adds one metadata entry ([`KEY_SHA256`] itself is skipped); order of calls does not matter.
    pub fn meta(&mut self, key: &str, value: &Value) {
        if key != KEY_SHA256 {
            self.meta.insert(key.to_string(), value.clone());
        }
    }

    /// Adds one tensor; order of calls does not matter.
    pub fn tensor(&mut self, name: &str, dtype: GgmlDType, dims: &[usize], data: &[u8]) {
        let entry = (name.to_string(), dtype_code(dtype), dims.to_vec(), data.to_vec());
        self.tensors.push(entry);
    }

    /// The lowercase hex digest.
    pub fn finish(mut self) -> Result<String> {
        let meta: Vec<(&str, &Value)> = self.meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let mut header = Cursor::new(Vec::new());
        candle_core::quantized::gguf_file::write(&mut header, &meta, &[])?;
        let header = header.into_inner();
        let mut h = Sha256::new();
        h.update((header.len() as u64).to_le_bytes());
        h.update(&header);
        self.tensors.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, code, dims, data) in &self.tensors {
            h.update(name.as_bytes());
            h.update([0u8]);
            h.update(code.to_le_bytes());
            h.update((dims.len() as u32).to_le_bytes());
            for d in dims {
                h.update((*d as u64).to_le_bytes());
            }
            h.update((data.len() as u64).to_le_bytes());
            h.update(data);
        }
        Ok(hex::encode(h.finalize()))
    }
}

/// ggml's type numbering (candle keeps its own private), used only inside the digest.
fn dtype_code(dtype: GgmlDType) -> u32 {
    match dtype {
        GgmlDType::F32 => 0,
        GgmlDType::F16 => 1,
        GgmlDType::Q4_0 => 2,
        GgmlDType::Q4_1 => 3,
        GgmlDType::Q5_0 => 6,
        GgmlDType::Q5_1 => 7,
        GgmlDType::Q8_0 => 8,
        GgmlDType::Q8_1 => 9,
        GgmlDType::Q2K => 10,
        GgmlDType::Q3K => 11,
        GgmlDType::Q4K => 12,
        GgmlDType::Q5K => 13,
        GgmlDType::Q6K => 14,
        GgmlDType::Q8K => 15,
        GgmlDType::BF16 => 30,
    }
}

/// Writes a Vitrine GGUF: `meta` (which must hold [`KEY_FORMAT_VERSION`]) in the given order, then the
/// checksum over it and the tensors that [`ModelFile::read`] verifies. Tensors go out in name order, so
/// equal inputs give equal bytes.
pub fn write_model(meta: Vec<(&str, Value)>, tensors: &BTreeMap<String, QTensor>) -> Result<Vec<u8>> {
    let mut digest = ModelDigest::default();
    for (key, value) in &meta {
        digest.meta(key, value);
    }
    for (name, q) in tensors {
        digest.tensor(name, q.dtype(), q.shape().dims(), &q.data()?);
    }
    let mut meta = meta;
    meta.push((KEY_SHA256, Value::String(digest.finish()?)));
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut out = Cursor::new(Vec::new());
    candle_core::quantized::gguf_file::write(&mut out, &meta_refs, &tensor_refs)?;
    Ok(out.into_inner())
}

/// A parsed, validated model file borrowing the caller's bytes.
pub struct ModelFile<'a> {
    bytes: &'a [u8],
    content: Content,
    checksum: String,
}

impl<'a> ModelFile<'a> {
    /// Parses the header, checks the format version, that every tensor lies inside the bytes and
    /// that the metadata and tensors hash to the recorded checksum.
    pub fn read(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() < 4 || &bytes[..4] != GGUF_MAGIC {
            let what = if bytes.is_empty() {
                "the input is empty".into()
            } else {
                "no GGUF magic".to_string()
            };
            return Err(Error::NotGguf(what));
        }
        let content = Content::read(&mut Cursor::new(bytes))
            .map_err(|e| Error::ModelTruncated(format!("header: {e}")))?;
        let file = Self {
            bytes,
            content,
            checksum: String::new(),
        };
        let found = file.u32(KEY_FORMAT_VERSION)?;
        if found != FORMAT_VERSION {
            return Err(Error::ModelVersion {
                found,
                supported: FORMAT_VERSION,
            });
        }
        let expected = file.string(KEY_SHA256)?.to_string();
        let mut digest = ModelDigest::default();
        for (key, value) in &file.content.metadata {
            digest.meta(key, value);
        }
        for (name, info) in &file.content.tensor_infos {
            digest.tensor(
                name,
                info.ggml_dtype,
                info.shape.dims(),
                file.tensor_bytes(name, info)?,
            );
        }
        let actual = digest.finish()?;
        if actual != expected {
            return Err(Error::ModelChecksum { expected, actual });
        }
        Ok(Self {
            checksum: actual,
            ..file
        })
    }

    /// The verified checksum (identifies the model, weights and text handling, e.g. in catalog files).
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// The byte range of one tensor, checked against the input's length with overflow-safe math.
    fn tensor_bytes(&self, name: &str, info: &TensorInfo) -> Result<&'a [u8]> {
        let damaged = |why: &str| Error::ModelTruncated(format!("tensor `{name}`: {why}"));
        let elems = info
            .shape
            .dims()
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| damaged("shape overflows"))?;
        let block = info.ggml_dtype.block_size();
        if elems % block != 0 {
            return Err(damaged("size is not a whole number of blocks"));
        }
        let len = (elems / block)
            .checked_mul(info.ggml_dtype.type_size())
            .ok_or_else(|| damaged("size overflows"))?;
        let start = self
            .content
            .tensor_data_offset
            .checked_add(info.offset)
            .and_then(|s| usize::try_from(s).ok())
            .ok_or_else(|| damaged("offset overflows"))?;
        let end = start.checked_add(len).ok_or_else(|| damaged("size overflows"))?;
        self.bytes.get(start..end).ok_or_else(|| {
            damaged(&format!(
                "needs bytes {start}..{end}, the input has {}",
                self.bytes.len()
            ))
        })
    }

    fn value(&self, key: &str) -> Result<&Value> {
        self.content
            .metadata
            .get(key)
            .ok_or_else(|| Error::ModelMetadata {
                key: key.into(),
                reason: "absent".into(),
            })
    }

    /// A `u32` metadata entry.
    pub fn u32(&self, key: &str) -> Result<u32> {
        self.value(key)?.to_u32().map_err(|e| Error::ModelMetadata {
            key: key.into(),
            reason: e.to_string(),
        })
    }

    /// A string metadata entry.
    pub fn string(&self, key: &str) -> Result<&str> {
        match self.value(key)? {
            Value::String(s) => Ok(s),
            other => Err(Error::ModelMetadata {
                key: key.into(),
                reason: format!("expected a string, found {:?}", other.value_type()),
            }),
        }
    }

    /// One tensor in its stored type, after checking its shape.
    pub fn qtensor(&self, name: &str, shape: &[usize]) -> Result<QTensor> {
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| Error::MissingTensor(name.into()))?;
        if info.shape.dims() != shape {
            return Err(Error::TensorShape {
                name: name.into(),
                expected: shape.to_vec(),
                found: info.shape.dims().to_vec(),
            });
        }
        self.tensor_bytes(name, info)?;
        Ok(info.read(
            &mut Cursor::new(self.bytes),
            self.content.tensor_data_offset,
            &Device::Cpu,
        )?)
    }

    /// One tensor as f32 (norms, biases, position tables: small and on the precise path).
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        Ok(self.qtensor(name, shape)?.dequantize(&Device::Cpu)?)
    }

    /// `{prefix}.weight` `[out, in]` in its stored type and `{prefix}.bias` `[out]` in f32.
    pub fn linear(&self, prefix: &str, out_dim: usize, in_dim: usize) -> Result<Linear> {
        let weight = self.qtensor(&format!("{prefix}.weight"), &[out_dim, in_dim])?;
        let bias = self.f32(&format!("{prefix}.bias"), &[out_dim])?;
        Ok(Linear::new(weight, Some(bias))?)
    }
}
