//! `vitrine convert`: the f32 Hugging Face checkpoint (safetensors + tokenizer.json + config.json)
//! into one self-contained, deterministic Vitrine GGUF with per-tensor quantization.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::k_quants::{QK4_0, QK5_0, QK8_0, QK_K};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use vitrine::model::gguf as vg;

/// MiniLM's hidden size; every matmul's inner dimension is this or the FFN width below.
const HIDDEN: usize = 384;
const FFN: usize = 1536;
// The 32-wide block types quantize every weight row; k-quants (256 wide) fit only the FFN input side.
const _: () = assert!(HIDDEN % QK8_0 == 0 && HIDDEN % QK5_0 == 0 && HIDDEN % QK4_0 == 0);
const _: () = assert!(HIDDEN % QK_K != 0 && FFN % QK_K == 0);

/// Tokens per text, as sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2.
pub const MAX_SEQ_LEN: usize = 256;

/// Which precision each group of weights gets. Norms, biases and position/type tables are always f32.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub word: GgmlDType,
    pub attn: GgmlDType,
    pub up: GgmlDType,
    pub down: GgmlDType,
}

impl Mix {
    /// The named variants shipped in `models/`; `f32` is the unquantized reference.
    pub fn named(name: &str) -> Result<Self> {
        Ok(match name {
            "q8_0" => Self::all(GgmlDType::Q8_0),
            // Chosen from measurements, see models/README.md ("How the small mix was chosen").
            // 4-bit attention cost the most quality; q5_0 matmuls with a q4_0 word table (only looked up,
            // never multiplied) measured best under 16 MB: mean cosine 0.990 vs 0.976 for 4-bit mixes.
            "small" => Self {
                word: GgmlDType::Q4_0,
                attn: GgmlDType::Q5_0,
                up: GgmlDType::Q5_0,
                down: GgmlDType::Q5_0,
            },
            "f32" => Self::all(GgmlDType::F32),
            other => bail!("unknown --dtype `{other}`: use q8_0, small or f32 (or --mix)"),
        })
    }

    fn all(t: GgmlDType) -> Self {
        Self {
            word: t,
            attn: t,
            up: t,
            down: t,
        }
    }

    /// `word=q5_0,attn=q4_0,up=q4_0,down=q6k`, for trying mixes; unnamed groups keep `base`.
    pub fn parse(spec: &str, base: Self) -> Result<Self> {
        let mut mix = base;
        for part in spec.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .context("--mix entries look like group=type")?;
            let t = parse_dtype(v)?;
            match k {
                "word" => mix.word = t,
                "attn" => mix.attn = t,
                "up" => mix.up = t,
                "down" => mix.down = t,
                _ => bail!("unknown --mix group `{k}`: word, attn, up or down"),
            }
        }
        Ok(mix)
    }

    fn for_tensor(&self, name: &str) -> GgmlDType {
        if name == "embeddings.word_embeddings.weight" {
            self.word
        } else if !name.ends_with(".weight")
            || name.contains("LayerNorm")
            || name.contains("position")
            || name.contains("token_type")
        {
            GgmlDType::F32
        } else if name.contains(".attention.") {
            self.attn
        } else if name.contains(".intermediate.") {
            self.up
        } else {
            self.down
        }
    }
}

fn parse_dtype(s: &str) -> Result<GgmlDType> {
    Ok(match s {
        "f32" => GgmlDType::F32,
        "f16" => GgmlDType::F16,
        "q4_0" => GgmlDType::Q4_0,
        "q4_1" => GgmlDType::Q4_1,
        "q5_0" => GgmlDType::Q5_0,
        "q5_1" => GgmlDType::Q5_1,
        "q8_0" => GgmlDType::Q8_0,
        "q4k" => GgmlDType::Q4K,
        "q5k" => GgmlDType::Q5K,
        "q6k" => GgmlDType::Q6K,
        _ => bail!("unknown tensor type `{s}`"),
    })
}

/// The tokenizer as the encoder needs it: truncate at [`MAX_SEQ_LEN`], never pad (the packaged file
/// pads every input to 128, which would change every vector).
fn rewrite_tokenizer(path: &Path) -> Result<String> {
    let mut tok = tokenizers::Tokenizer::from_file(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let trunc = tokenizers::TruncationParams {
        max_length: MAX_SEQ_LEN,
        ..Default::default()
    };
    tok.with_truncation(Some(trunc))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tok.with_padding(None);
    tok.to_string(false)
        .map_err(|e| anyhow::anyhow!("serialising the tokenizer: {e}"))
}

/// Converts `src` (a sentence-transformers BERT export) into GGUF bytes.
pub fn convert(src: &Path, mix: Mix, variant: &str) -> Result<Vec<u8>> {
    let config = std::fs::read_to_string(src.join("config.json")).context("reading config.json")?;
    let tokenizer = rewrite_tokenizer(&src.join("tokenizer.json"))?;
    let weights = candle_core::safetensors::load(src.join("model.safetensors"), &Device::Cpu)
        .context("reading model.safetensors (run `bash scripts/setup.sh` to fetch it)")?;
    // Sorted names make the output byte-identical from run to run.
    let mut tensors: BTreeMap<String, QTensor> = BTreeMap::new();
    for (name, t) in weights {
        if name.starts_with("pooler.") || name.ends_with("position_ids") {
            continue; // unused: sentence-transformers mean-pools, positions are implicit
        }
        let t: Tensor = if name == "embeddings.position_embeddings.weight" {
            // Rows past the longest input can never be read. Rebuilt from values: `quantize` reads the
            // whole underlying storage, not the narrowed view.
            let rows = t.narrow(0, 0, MAX_SEQ_LEN)?.to_dtype(candle_core::DType::F32)?;
            let dims = rows.dims().to_vec();
            Tensor::from_vec(rows.flatten_all()?.to_vec1::<f32>()?, dims, &Device::Cpu)?
        } else {
            t
        };
        let dtype = mix.for_tensor(&name);
        let q = QTensor::quantize(&t.to_dtype(candle_core::DType::F32)?, dtype)
            .with_context(|| format!("quantizing {name} {:?} to {dtype:?}", t.dims()))?;
        tensors.insert(name, q);
    }
    let meta: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("bert".into())),
        ("general.name", Value::String("all-MiniLM-L6-v2".into())),
        ("general.license", Value::String("apache-2.0".into())),
        ("vitrine.variant", Value::String(variant.into())),
        (vg::KEY_FORMAT_VERSION, Value::U32(vg::FORMAT_VERSION)),
        (vg::KEY_BERT_CONFIG, Value::String(config)),
        (vg::KEY_TOKENIZER, Value::String(tokenizer)),
        (vg::KEY_POOLING, Value::String("mean".into())),
        (vg::KEY_MAX_SEQ_LEN, Value::U32(MAX_SEQ_LEN as u32)),
    ];
    Ok(vg::write_model(meta, &tensors)?)
}
