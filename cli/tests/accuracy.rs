//! The quantized encoders against an independent f32 reference (candle-transformers' BERT on the
//! original safetensors): 2,000 catalog titles + 100 shopping queries, edge cases, batch invariance.

mod common;

use common::{cosine, embed_all, model_bytes, reference_vectors, Reference};
use vitrine::Encoder;

/// Compares `variant` with the reference on every `stride`-th text (1 = all 2,100).
fn check_variant(variant: &str, min_mean: f32, stride: usize) {
    let (all_texts, all_want) = reference_vectors();
    let texts: Vec<String> = all_texts.iter().step_by(stride).cloned().collect();
    let want: Vec<&Vec<f32>> = all_want.iter().step_by(stride).collect();
    let enc = Encoder::from_gguf_bytes(&model_bytes(variant)).unwrap();
    let got = embed_all(&enc, &texts);
    let cos: Vec<f32> = got.iter().zip(want).map(|(g, w)| cosine(g, w)).collect();
    let mean = cos.iter().sum::<f32>() / cos.len() as f32;
    let (worst, min) = cos
        .iter()
        .enumerate()
        .fold((0, 1f32), |a, (i, &c)| if c < a.1 { (i, c) } else { a });
    println!(
        "{variant}: mean cosine {mean:.5}, min {min:.5} (`{}`) over {} texts",
        texts[worst],
        cos.len()
    );
    assert!(mean >= min_mean, "{variant}: mean cosine {mean} < {min_mean}");
    assert!(
        min >= min_mean - 0.1,
        "{variant}: a text is far off: {min} for `{}`",
        texts[worst]
    );
}

#[test]
fn q8_0_matches_f32_reference() {
    check_variant("q8_0", 0.995, 1);
}

/// All 2,100 texts, like q8_0: the q5_0/q4_0 weights run through the same repacked kernel
/// (src/backend/cpu), so the small variant costs no more than q8_0.
#[test]
fn small_matches_f32_reference() {
    check_variant("small", 0.98, 1);
}

#[test]
fn edge_cases_match_reference() {
    let long = "Moisturizing shea butter body lotion with vitamin E, fragrance free. ".repeat(30);
    let cases = [
        "",
        "a",
        "💄 crème brûlée à la vanille ✨ — rouge à lèvres",
        "ß",
        long.as_str(),
    ];
    let r = Reference::get();
    assert!(r.token_count(&long) == 256, "the long case must hit truncation");
    for (variant, tol) in [("q8_0", 0.99), ("small", 0.95)] {
        let enc = Encoder::from_gguf_bytes(&model_bytes(variant)).unwrap();
        assert_eq!(enc.tokenize(&long).unwrap().len(), 256);
        for text in cases {
            let got = &enc.embed(&[text]).unwrap()[0];
            assert_eq!(got.len(), 384);
            let norm = got.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
            let c = cosine(got, &r.embed(text));
            println!(
                "{variant} {:?}…: cosine {c:.5}",
                text.chars().take(20).collect::<String>()
            );
            assert!(c >= tol, "{variant}: cosine {c} < {tol} for {text:?}");
        }
    }
}

#[test]
fn a_text_gets_the_same_vector_alone_and_in_a_padded_batch() {
    let enc = Encoder::from_gguf_bytes(&model_bytes("q8_0")).unwrap();
    let long = "Hydrating facial serum with hyaluronic acid and niacinamide for all skin types, 30 ml";
    let texts = ["lip gloss", long, "", "💅", &long.repeat(20)];
    let batch = enc.embed(&texts).unwrap();
    for (text, b) in texts.iter().zip(&batch) {
        let alone = &enc.embed(&[text]).unwrap()[0];
        let c = cosine(alone, b);
        assert!(c >= 0.99999, "cosine {c} between alone and batched for {text:?}");
    }
    assert!(enc.embed(&[]).unwrap().is_empty());
}

/// Measures every `*.gguf` in `$VITRINE_EVAL_DIR` like the tests above (how the `small` mix was chosen):
/// `VITRINE_EVAL_DIR=/tmp/mixes cargo test -p vitrine-cli --test accuracy -- --ignored --nocapture`.
#[test]
#[ignore = "a measuring tool, not a check: needs candidate files in $VITRINE_EVAL_DIR"]
fn measure_candidate_files() {
    let dir = std::env::var("VITRINE_EVAL_DIR").expect("set VITRINE_EVAL_DIR to a folder of .gguf files");
    // $VITRINE_EVAL_LIMIT texts (default all 2,100) for quick first rounds.
    let limit = std::env::var("VITRINE_EVAL_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let all = common::eval_texts();
    let texts: Vec<String> = all
        .iter()
        .step_by((all.len() / limit.min(all.len())).max(1))
        .cloned()
        .collect();
    let r = Reference::get();
    let want: Vec<Vec<f32>> = texts.iter().map(|t| r.embed(t)).collect();
    let (texts, want) = (&texts, &want);
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
    {
        let bytes = std::fs::read(path).unwrap();
        let enc = Encoder::from_gguf_bytes(&bytes).unwrap();
        let got = embed_all(&enc, texts);
        let cos: Vec<f32> = got.iter().zip(want).map(|(g, w)| cosine(g, w)).collect();
        let mean = cos.iter().sum::<f32>() / cos.len() as f32;
        let min = cos.iter().copied().fold(1f32, f32::min);
        println!(
            "{:<40} {:>10} bytes  mean {mean:.5}  min {min:.5}",
            path.file_name().unwrap().to_string_lossy(),
            bytes.len()
        );
    }
}
