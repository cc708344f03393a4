//! `vitrine eval` on Beauty with the shipped session models: the trained model must beat every baseline,
//! reach the target (NDCG@10 ≥ .050, above its floor of .045), and its q8_0 file must stay
//! within 2 % of the f32 one.
//!
//! The first run encodes Beauty's 12,101 titles (a few minutes on 2 cores) into `.cache/vectors/`;
//! later runs reuse them.

mod common;

use std::process::Command;

use serde_json::Value;

fn eval(method: &str, model: &str) -> Value {
    let repo = common::repo();
    let data = repo.join("../shared/data/beauty");
    assert!(
        data.join("sequential_data.txt").exists(),
        "Beauty data missing at {}",
        data.display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .arg("eval")
        .args(["--data".as_ref(), data.as_os_str()])
        .args(["--method", method])
        .args(["--model".as_ref(), repo.join("models").join(model).as_os_str()])
        .args([
            "--encoder".as_ref(),
            repo.join("models/minilm-l6-q8_0.gguf").as_os_str(),
        ])
        .args(["--cache-dir".as_ref(), repo.join(".cache/vectors").as_os_str()])
        .output()
        .expect("running vitrine eval");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    eprintln!("{v}");
    v
}

fn ndcg(v: &Value) -> f64 {
    v["ndcg@10"].as_f64().expect("ndcg@10")
}

/// The target (its test floor is .045); the shipped model measures .0530 (BENCHMARKS.md), so a
/// regression below the target fails.
const SESSION_NDCG10_TARGET: f64 = 0.050;

#[test]
fn shipped_session_model_on_beauty() {
    let pop = eval("popularity", "");
    let knn = eval("itemknn", "");
    let q8 = eval("session", "session-beauty.gguf");
    let f32 = eval("session", "session-beauty-f32.gguf");
    for v in [&pop, &knn, &q8] {
        assert_eq!(v["users"], 22363);
        for k in ["hr@10", "ndcg@10", "hr@20", "ndcg@20", "mrr"] {
            let x = v[k].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&x), "{k} = {x}");
        }
    }
    // Leak-free popularity on this split is about .012 HR@10 (data/README.md).
    let pop_hr = pop["hr@10"].as_f64().unwrap();
    assert!((0.010..0.014).contains(&pop_hr), "popularity HR@10 {pop_hr}");
    // Item-kNN on training prefixes only (see BENCHMARKS.md for why below the README's .046).
    assert!(
        (0.035..0.045).contains(&ndcg(&knn)),
        "item-kNN NDCG@10 {}",
        ndcg(&knn)
    );
    assert!(
        ndcg(&q8) >= SESSION_NDCG10_TARGET,
        "session NDCG@10 {}",
        ndcg(&q8)
    );
    // The "session beats popularity, item-kNN and content" (content: .0302), and the title word
    // overlap its score adds (.0437 alone).
    let content = eval("content", "");
    let words = eval("words", "");
    for base in [&pop, &knn, &content, &words] {
        assert!(ndcg(&q8) > ndcg(base), "session {} vs {base}", ndcg(&q8));
    }
    let rel = (ndcg(&q8) - ndcg(&f32)).abs() / ndcg(&f32);
    assert!(
        rel <= 0.02,
        "q8_0 NDCG@10 {} vs f32 {}: {rel:.3} apart",
        ndcg(&q8),
        ndcg(&f32)
    );
}
