//! The committed model files: checksums, reproducible conversion, and clear errors on bad bytes.

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::process::Command;

use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use common::{model_bytes, repo};
use sha2::{Digest, Sha256};
use vitrine::model::gguf::{
    ModelDigest, KEY_BERT_CONFIG, KEY_FORMAT_VERSION, KEY_MAX_SEQ_LEN, KEY_POOLING, KEY_SHA256, KEY_TOKENIZER,
};
use vitrine::{Encoder, Error};

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn sums(dir: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(repo().join(dir).join("SHA256SUMS")).unwrap();
    text.lines()
        .map(|l| {
            let (sum, name) = l.split_once("  ").expect("sha256sum format: `<hex>  <name>`");
            (name.to_string(), sum.to_string())
        })
        .collect()
}

#[test]
fn sha256sums_match_the_committed_files() {
    // models/: what the package and the demo may use; research/: the Beauty-trained session model.
    for (dir, least) in [("models", 2), ("research", 2)] {
        let sums = sums(dir);
        assert!(sums.len() >= least, "{dir}/SHA256SUMS lists {} files", sums.len());
        for (name, sum) in sums {
            let bytes = std::fs::read(repo().join(dir).join(&name)).unwrap();
            assert_eq!(sha256_hex(&bytes), sum, "{dir}/{name} does not match SHA256SUMS");
        }
    }
}

#[test]
fn convert_reproduces_the_committed_q8_0_bytes() {
    common::reference_dir();
    let out = std::env::temp_dir().join(format!("vitrine-q8-{}.gguf", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(["convert", "--dtype", "q8_0", "--src"])
        .arg(repo().join(".cache/minilm-f32"))
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&out).unwrap();
    std::fs::remove_file(&out).ok();
    assert_eq!(
        sha256_hex(&bytes),
        sums("models")["minilm-l6-q8_0.gguf"],
        "conversion is not deterministic"
    );
}

/// The q8_0 file's metadata and tensors, as candle reads them (no checks of ours).
fn parts() -> (BTreeMap<String, Value>, BTreeMap<String, QTensor>) {
    let bytes = model_bytes("q8_0");
    let mut cur = Cursor::new(&bytes);
    let content = Content::read(&mut cur).unwrap();
    let meta: BTreeMap<String, Value> = content.metadata.clone().into_iter().collect();
    let mut tensors = BTreeMap::new();
    for name in content.tensor_infos.keys() {
        tensors.insert(
            name.clone(),
            content.tensor(&mut cur, name, &Device::Cpu).unwrap(),
        );
    }
    (meta, tensors)
}

/// Rewrites the q8_0 file through candle's GGUF writer after `edit`, with a correct checksum.
fn rewrite(edit: impl FnOnce(&mut BTreeMap<String, Value>, &mut BTreeMap<String, QTensor>)) -> Vec<u8> {
    let (mut meta, mut tensors) = parts();
    edit(&mut meta, &mut tensors);
    let mut digest = ModelDigest::default();
    for (key, value) in &meta {
        digest.meta(key, value);
    }
    for (name, q) in &tensors {
        digest.tensor(name, q.dtype(), q.shape().dims(), &q.data().unwrap());
    }
    meta.insert(KEY_SHA256.into(), Value::String(digest.finish().unwrap()));
    write(&meta, &tensors)
}

fn write(meta: &BTreeMap<String, Value>, tensors: &BTreeMap<String, QTensor>) -> Vec<u8> {
    let m: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let t: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut out = Cursor::new(Vec::new());
    gguf_file::write(&mut out, &m, &t).unwrap();
    out.into_inner()
}

fn load_err(bytes: &[u8]) -> Error {
    match Encoder::from_gguf_bytes(bytes) {
        Ok(_) => panic!("bad bytes were accepted"),
        Err(e) => e,
    }
}

#[test]
fn bad_bytes_give_clear_errors() {
    let good = model_bytes("q8_0");
    assert!(Encoder::from_gguf_bytes(&good).is_ok());

    for cut in [0, 3, 100, good.len() / 2, good.len() - 1] {
        let e = load_err(&good[..cut]);
        assert!(
            matches!(e, Error::NotGguf(_) | Error::ModelTruncated(_)),
            "cut {cut}: {e}"
        );
        if cut > 4 {
            assert!(matches!(e, Error::ModelTruncated(_)), "cut {cut}: {e}");
            assert!(e.to_string().contains("regenerate"), "{e}");
        }
    }
    let foreign = std::fs::read(repo().join(".cache/minilm-f32/model.safetensors")).unwrap();
    assert!(matches!(load_err(&foreign[..4096]), Error::NotGguf(_)));
    assert!(matches!(
        load_err(b"<!doctype html><html>404</html>"),
        Error::NotGguf(_)
    ));

    let mut flipped = good.clone();
    let at = good.len() - 1000; // inside the last tensor's data
    flipped[at] ^= 0x10;
    assert!(matches!(load_err(&flipped), Error::ModelChecksum { .. }));

    let v2 = rewrite(|m, _| {
        m.insert(KEY_FORMAT_VERSION.into(), Value::U32(1));
    });
    assert!(matches!(
        load_err(&v2),
        Error::ModelVersion {
            found: 1,
            supported: 2
        }
    ));

    let missing = rewrite(|_, t| {
        t.remove("encoder.layer.3.output.dense.weight");
    });
    let e = load_err(&missing);
    assert!(
        matches!(&e, Error::MissingTensor(n) if n == "encoder.layer.3.output.dense.weight"),
        "{e}"
    );

    let reshaped = rewrite(|_, t| {
        let w = Tensor::zeros((384, 384), candle_core::DType::F32, &Device::Cpu).unwrap();
        t.insert(
            "encoder.layer.0.output.dense.weight".into(),
            QTensor::quantize(&w, GgmlDType::Q8_0).unwrap(),
        );
    });
    assert!(matches!(load_err(&reshaped), Error::TensorShape { .. }));

    let unsigned = rewrite(|_, _| {});
    assert!(
        Encoder::from_gguf_bytes(&unsigned).is_ok(),
        "the rewrite helper itself must round-trip"
    );
}

/// Catalogs and segments trust the checksum as "the same encoder", so an edit of anything that changes
/// the vectors — tokenizer, config, pooling, maximum length — must fail it, like an edit of a weight.
#[test]
fn the_checksum_covers_the_metadata() {
    let (meta, tensors) = parts();
    let text = |key: &str| match &meta[key] {
        Value::String(s) => s.clone(),
        other => panic!("{key}: {other:?}"),
    };
    let tokenizer = text(KEY_TOKENIZER);
    assert!(
        tokenizer.contains("\"lowercase\":true"),
        "the edit below must change something"
    );
    let config = text(KEY_BERT_CONFIG);
    assert!(config.contains("\"layer_norm_eps\": 1e-12"), "{config}");
    let edits: [(&str, Value); 5] = [
        (
            KEY_TOKENIZER,
            Value::String(tokenizer.replace("\"lowercase\":true", "\"lowercase\":false")),
        ),
        (KEY_BERT_CONFIG, Value::String(config.replace("1e-12", "1e-5"))),
        (KEY_MAX_SEQ_LEN, Value::U32(128)),
        (KEY_POOLING, Value::String("cls".into())),
        ("general.name", Value::String("another model".into())),
    ];
    for (key, value) in edits {
        // Every other entry stays, the recorded checksum included.
        let mut edited = meta.clone();
        edited.insert(key.into(), value);
        match Encoder::from_gguf_bytes(&write(&edited, &tensors)) {
            Err(Error::ModelChecksum { .. }) => {}
            Ok(_) => panic!("`{key}` was edited and the model still loaded"),
            Err(e) => panic!("`{key}`: expected a checksum error, got: {e}"),
        }
    }
}
