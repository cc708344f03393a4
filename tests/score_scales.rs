//! The score weights each shipped encoder carries (`model::Scores`, GGUF key `vitrine.scores`), checked
//! against a calibration measured here with the product's own encoders.
//!
//! The weights were tuned on all-MiniLM-L6-v2's cosines; multilingual-e5's cosines bunch (unrelated
//! titles at ≈ 0.8). The weights that multiply a cosine next to a term on another scale (copy fit,
//! search query and intent, zero-shot content) are MiniLM's times the ratio of the two encoders' spreads:
//! the standard deviation of the pairwise cosines of the same 40 English product titles (both models read
//! English; MiniLM cannot read Chinese, so there is no like-for-like Chinese figure, and e5's Chinese
//! titles, printed, spread less still). The weights of non-cosine terms (page position, word overlap) stay.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

use vitrine::model::{Role, Scores};
use vitrine::Encoder;

fn load(file: &str) -> Encoder {
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    Encoder::from_gguf_bytes(&bytes).unwrap()
}

/// The fixture's texts of category `cat` (tests/fixtures/e5/texts.jsonl).
fn texts(cat: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/e5/texts.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["cat"] == cat)
        .map(|v| v["text"].as_str().unwrap().to_owned())
        .collect()
}

/// Mean and standard deviation of the cosines between every two of `texts` as passages.
fn spread(enc: &Encoder, texts: &[String]) -> (f64, f64) {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let v = enc.embed_as(&refs, Role::Passage).unwrap();
    let mut c = Vec::new();
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            c.push(v[i].iter().zip(&v[j]).map(|(a, b)| f64::from(a * b)).sum::<f64>());
        }
    }
    let mean = c.iter().sum::<f64>() / c.len() as f64;
    let var = c.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / c.len() as f64;
    (mean, var.sqrt())
}

#[test]
fn minilm_files_carry_no_weights_and_get_the_tuned_defaults() {
    for file in ["models/minilm-l6-q8_0.gguf", "models/minilm-l6-small.gguf"] {
        let s = *load(file).scores();
        assert_eq!(s, Scores::default(), "{file}");
        assert_eq!(
            (s.fit_weight, s.search_query, s.search_intent, s.search_position),
            (8.0, 0.6, 0.25, 0.15)
        );
        assert_eq!((s.zero_shot_content, s.zero_shot_lexical), (1.0, 1.5));
        assert_eq!(s.diversity_similarity, 1.0);
    }
}

#[test]
fn e5_weights_are_minilm_weights_times_the_measured_spread_ratio() {
    let minilm = load("models/minilm-l6-q8_0.gguf");
    let e5 = load("models/multilingual-e5-small-zh-en.gguf");
    let en = texts("en-title");
    assert_eq!(en.len(), 40);
    let (m_mean, m_sd) = spread(&minilm, &en);
    let (e_mean, e_sd) = spread(&e5, &en);
    let (z_mean, z_sd) = spread(&e5, &texts("zh-title"));
    let ratio = m_sd / e_sd;
    println!(
        "English titles: MiniLM mean {m_mean:.4} sd {m_sd:.4}; e5 mean {e_mean:.4} sd {e_sd:.4}; \
         ratio {ratio:.3}. Chinese titles, e5: mean {z_mean:.4} sd {z_sd:.4}"
    );
    let s = *e5.scores();
    let d = Scores::default();
    println!("e5 file: {s:?}");
    // The file's weights were rounded from this measurement: within 3 % of it.
    let near = |got: f32, want: f64| ((f64::from(got) - want) / want).abs() < 0.03;
    assert!(
        near(s.fit_weight, f64::from(d.fit_weight) * ratio),
        "{s:?} ratio {ratio}"
    );
    assert!(near(s.search_query, f64::from(d.search_query) * ratio), "{s:?}");
    assert!(near(s.search_intent, f64::from(d.search_intent) * ratio), "{s:?}");
    assert!(
        near(s.zero_shot_content, f64::from(d.zero_shot_content) * ratio),
        "{s:?}"
    );
    assert!(near(s.diversity_similarity, ratio), "{s:?}");
    assert_eq!((s.search_position, s.zero_shot_lexical), (0.15, 1.5));
}

#[test]
fn pick_copy_defaults_to_the_loaded_encoders_fit_weight_and_keeps_the_pages() {
    use vitrine::copy::CopyOptions;
    use vitrine::sdk::Config;
    use vitrine::Vitrine;
    let bandit = |w: f32| CopyOptions::Bandit { fit_weight: w };
    let mut v = Vitrine::new(Config::default(), &[7u8; 16]).unwrap();
    // No encoder: MiniLM's weight, as before this key existed.
    assert_eq!(v.copy_options(None).unwrap(), bandit(8.0));
    v.set_encoder(load("models/multilingual-e5-small-zh-en.gguf"))
        .unwrap();
    assert_eq!(v.copy_options(None).unwrap(), bandit(44.0));
    let page = |j: serde_json::Value| v.copy_options(Some(j)).unwrap();
    assert_eq!(page(serde_json::json!({ "mode": "bandit" })), bandit(44.0));
    assert_eq!(
        page(serde_json::json!({ "mode": "bandit", "fitWeight": 2 })),
        bandit(2.0)
    );
    assert_eq!(
        page(serde_json::json!({ "mode": "ab", "holdout": 0.1 })),
        CopyOptions::Ab { holdout: 0.1 }
    );
    assert!(v
        .copy_options(Some(serde_json::json!({ "mode": "greedy" })))
        .is_err());
}
