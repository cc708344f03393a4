//! The `vitrine embed` and `vitrine embed-catalog` commands end to end, against the library.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{cosine, model_bytes, repo};
use vitrine::{Catalog, Encoder};

fn model_path() -> std::path::PathBuf {
    repo().join("models/minilm-l6-q8_0.gguf")
}

#[test]
fn embed_writes_one_unit_vector_per_line_in_order() {
    let lines = ["red lipstick", "", "crème solaire 🧴", "a"];
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(["embed", "--batch", "3", "--model"])
        .arg(model_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.join("\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let got: Vec<Vec<f32>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let enc = Encoder::from_gguf_bytes(&model_bytes("q8_0")).unwrap();
    assert_eq!(got.len(), lines.len());
    for (text, v) in lines.iter().zip(&got) {
        let c = cosine(v, &enc.embed(&[text]).unwrap()[0]);
        assert!(c > 0.99999, "{text:?}: {c}");
    }
}

#[test]
fn embed_catalog_writes_a_file_the_sdk_loads() {
    let dir = std::env::temp_dir().join(format!("vitrine-cat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("items.jsonl");
    std::fs::write(
        &input,
        "{\"id\": 7, \"title\": \"OPI nail lacquer\"}\n{\"id\": \"b\", \"text\": \"shampooing doux\"}\n",
    )
    .unwrap();
    let out = dir.join("items.vcat");
    let status = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(["embed-catalog", "--model"])
        .arg(model_path())
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let catalog = Catalog::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let enc = Encoder::from_gguf_bytes(&model_bytes("q8_0")).unwrap();
    assert_eq!(catalog.ids(), ["7", "b"]);
    assert_eq!(catalog.dims(), 384);
    assert_eq!(catalog.model_checksum(), enc.checksum());
    let want = &enc.embed(&["shampooing doux"]).unwrap()[0];
    assert!(cosine(catalog.get("b").unwrap(), want) > 0.9999);
}
