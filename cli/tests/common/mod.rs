//! Shared by the CLI's integration tests: paths, the committed models, and the independent f32
//! reference (candle-transformers' own BERT on the original safetensors).

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The unpacked f32 checkpoint; failing (not skipping) keeps a missing reference from hiding a regression.
pub fn reference_dir() -> PathBuf {
    let dir = repo().join(".cache/minilm-f32");
    assert!(
        dir.join("model.safetensors").exists(),
        "reference model missing at {}: run `bash scripts/setup.sh` first",
        dir.display()
    );
    dir
}

pub fn model_bytes(variant: &str) -> Vec<u8> {
    let path = repo().join(format!("models/minilm-l6-{variant}.gguf"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `bash scripts/regenerate-models.sh`", path.display()))
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// candle-transformers' f32 BERT with sentence-transformers' pipeline: the packaged tokenizer with
/// truncation 256 and padding off, one text at a time, mean pooling, L2 norm.
pub struct Reference {
    model: BertModel,
    tokenizer: tokenizers::Tokenizer,
}

impl Reference {
    pub fn get() -> &'static Reference {
        static REF: OnceLock<Reference> = OnceLock::new();
        REF.get_or_init(|| {
            let dir = reference_dir();
            let cfg: Config =
                serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
            let vb = unsafe {
                VarBuilder::from_mmaped_safetensors(
                    &[dir.join("model.safetensors")],
                    DType::F32,
                    &Device::Cpu,
                )
                .unwrap()
            };
            let model = BertModel::load(vb, &cfg).unwrap();
            let mut tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
            tokenizer.with_padding(None);
            let trunc = tokenizers::TruncationParams {
                max_length: 256,
                ..Default::default()
            };
            tokenizer.with_truncation(Some(trunc)).unwrap();
            Reference { model, tokenizer }
        })
    }

    pub fn token_count(&self, text: &str) -> usize {
        self.tokenizer.encode(text, true).unwrap().len()
    }

    pub fn embed(&self, text: &str) -> Vec<f32> {
        let enc = self.tokenizer.encode(text, true).unwrap();
        let ids = Tensor::new(enc.get_ids(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let types = ids.zeros_like().unwrap();
        let mask = ids.ones_like().unwrap();
        let h = self.model.forward(&ids, &types, Some(&mask)).unwrap();
        let pooled = h.mean(1).unwrap().squeeze(0).unwrap();
        let v: Vec<f32> = pooled.to_vec1().unwrap();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }
}

/// First 2,000 titles of the beauty catalog plus the 100 fixture queries.
pub fn eval_texts() -> Vec<String> {
    let items = repo().join("../shared/data/beauty/beauty_items.tsv");
    let data = std::fs::read_to_string(&items).unwrap_or_else(|e| panic!("{}: {e}", items.display()));
    let mut texts: Vec<String> = data
        .lines()
        .skip(1)
        .take(2000)
        .map(|l| {
            l.split('\t')
                .nth(2)
                .expect("item_id, asin, title columns")
                .to_string()
        })
        .collect();
    assert_eq!(texts.len(), 2000);
    let queries = std::fs::read_to_string(repo().join("tests/fixtures/queries.txt")).unwrap();
    texts.extend(queries.lines().map(str::to_string));
    assert_eq!(texts.len(), 2100);
    texts
}

/// The reference vectors of [`eval_texts`], computed once per test binary.
pub fn reference_vectors() -> &'static (Vec<String>, Vec<Vec<f32>>) {
    static VECS: OnceLock<(Vec<String>, Vec<Vec<f32>>)> = OnceLock::new();
    VECS.get_or_init(|| {
        let texts = eval_texts();
        let r = Reference::get();
        let vecs = texts.iter().map(|t| r.embed(t)).collect();
        (texts, vecs)
    })
}

/// Embeds in batches of 32 texts of similar length, returned in input order.
pub fn embed_all(enc: &vitrine::Encoder, texts: &[String]) -> Vec<Vec<f32>> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| enc.tokenize(&texts[i]).unwrap().len());
    let mut out = vec![Vec::new(); texts.len()];
    for chunk in order.chunks(32) {
        let refs: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
        for (&i, v) in chunk.iter().zip(enc.embed(&refs).unwrap()) {
            out[i] = v;
        }
    }
    out
}
