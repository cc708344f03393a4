//! The native side of the browser parity check: `tests/fixtures/encoder-parity.json` holds native vectors
//! for a set of texts; this test proves they are still what native code computes (so the fixture never
//! goes stale), and `tests/web.rs` checks the browser's vectors against the same file.
//!
//! Regenerate after a model or encoder change, then review the diff and run the comparison on its own:
//! `cargo test --test encoder_parity -- --ignored bless_the_parity_fixture`. Blessing and comparing are
//! separate runs, so a comparison can never pass against vectors its own run just wrote.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

use serde_json::{json, Value};
use vitrine::Encoder;

const MODEL: &str = "models/minilm-l6-q8_0.gguf";
const FIXTURE: &str = "tests/fixtures/encoder-parity.json";

/// Texts that stress the tokenizer and the masking: plain titles, a query, one letter, emoji and
/// accents, an empty string, and one far over the 256-token limit.
fn texts() -> Vec<String> {
    let long = "moisturising cream with shea butter and vitamin e for very dry skin ".repeat(40);
    [
        "Christmas tree ornament, hand-painted glass",
        "red lipstick matte long lasting",
        "a",
        "Crème brûlée lip balm 💄✨ — édition spéciale",
        "",
        "WHITE HANGING HEART T-LIGHT HOLDER",
        "shampoo for curly hair sulfate free",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(std::iter::once(long))
    .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn encoder() -> Encoder {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(root.join(MODEL)).expect("the default model is committed in models/");
    Encoder::from_gguf_bytes(&bytes).expect("the default model loads")
}

/// One text per call, as the browser test does: the fixture is the per-text truth.
fn vectors_one_by_one(encoder: &Encoder, texts: &[String]) -> Vec<Vec<f32>> {
    texts
        .iter()
        .map(|t| encoder.embed(&[t.as_str()]).expect("embed").remove(0))
        .collect()
}

/// Writes the fixture; never runs with the comparison below (it is `#[ignore]`d: name it to run it).
#[test]
#[ignore = "writes tests/fixtures/encoder-parity.json; run it by name after a model change"]
fn bless_the_parity_fixture() {
    let encoder = encoder();
    let texts = texts();
    let fixture = json!({
        "model": MODEL,
        "checksum": encoder.checksum(),
        "texts": texts,
        "vectors": vectors_one_by_one(&encoder, &texts),
    });
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    std::fs::write(&path, serde_json::to_string(&fixture).unwrap() + "\n").unwrap();
}

#[test]
fn native_vectors_match_the_parity_fixture() {
    assert!(
        std::env::var_os("VITRINE_BLESS").is_none(),
        "VITRINE_BLESS no longer blesses: run `cargo test --test encoder_parity -- --ignored bless_the_parity_fixture`"
    );
    let encoder = encoder();
    let texts = texts();
    let vectors = vectors_one_by_one(&encoder, &texts);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect(
        "tests/fixtures/encoder-parity.json is missing: cargo test --test encoder_parity -- --ignored bless_the_parity_fixture",
    ))
    .unwrap();
    assert_eq!(
        fixture["checksum"],
        encoder.checksum(),
        "fixture made with another model: re-bless it"
    );
    assert_eq!(
        fixture["texts"],
        json!(texts),
        "the texts changed: re-bless the fixture"
    );
    let expected: Vec<Vec<f32>> = serde_json::from_value(fixture["vectors"].clone()).unwrap();
    assert_eq!(expected.len(), texts.len());
    for ((text, got), want) in texts.iter().zip(&vectors).zip(&expected) {
        assert_eq!(got.len(), 384);
        // Same target, same code: only float formatting separates them.
        let cos = cosine(got, want);
        assert!(cos >= 0.99999, "cos {cos} for {text:?}");
    }
}

/// `embed` sorts a call's texts by length and runs them in groups: every text must still get its own
/// vector (the one it gets alone), in the caller's order, however the groups fall.
#[test]
fn a_mixed_batch_gives_each_text_its_own_vector_in_order() {
    let encoder = encoder();
    // 40 texts of 1 to ~300 tokens in a scrambled order: more than one group of 32, many lengths.
    let mut texts = texts();
    for i in 0..32 {
        let words = (i * 7) % 23 + 1;
        texts.push(format!("gift set {i} ") + &"with ribbon ".repeat(words));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let all = encoder.embed(&refs).unwrap();
    assert_eq!(all.len(), refs.len());
    for (text, got) in refs.iter().zip(&all) {
        let alone = encoder.embed(&[text]).unwrap().remove(0);
        // Padding is masked exactly (zero weights in attention and pooling), so only float summation
        // over a longer padded row could differ: 1e-6 per value.
        let diff = got
            .iter()
            .zip(&alone)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff <= 1e-6, "{diff} for {text:?}");
    }
}

/// The zh + en model's browser fixture (`scripts/e5/browser-parity.py`, from `vitrine embed --role`,
/// read by `tests/e2e/e5-parity.test.mjs`) must still be what native code computes.
#[test]
fn the_e5_browser_fixture_is_what_native_computes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/fixtures/e5-browser-parity.json")).unwrap(),
    )
    .unwrap();
    let bytes = std::fs::read(root.join(fixture["model"].as_str().unwrap())).unwrap();
    let encoder = Encoder::from_gguf_bytes(&bytes).unwrap();
    let rows = fixture["rows"].as_array().unwrap();
    assert!(rows.len() >= 10);
    for row in rows {
        let role = match row["role"].as_str().unwrap() {
            "query" => vitrine::model::Role::Query,
            _ => vitrine::model::Role::Passage,
        };
        let text = row["text"].as_str().unwrap();
        let got = encoder.embed_as(&[text], role).unwrap().remove(0);
        let want: Vec<f32> = serde_json::from_value(row["vector"].clone()).unwrap();
        let cos = cosine(&got, &want);
        assert!(
            cos >= 0.99999,
            "cos {cos} for {text:?}: rerun scripts/e5/browser-parity.py"
        );
    }
}
