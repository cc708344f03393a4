//! `vitrine eval --method all` on Beauty and on the Online Retail sessions: the zero-shot default (the
//! SDK's forYou without a model) must beat item-kNN trained in-domain and the title words on both; the
//! research-only Beauty session model must keep its figures, its q8_0 file within 2 % of the f32 one.
//!
//! The first run encodes each catalog's titles (Beauty: 12,101, a few minutes on 2 cores; Online Retail:
//! about 3,000) into `.cache/vectors/`; later runs reuse them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Every method's JSON line, by method name.
fn eval(data: &Path, method: &str, model: Option<&str>) -> Vec<Value> {
    let repo = common::repo();
    assert!(
        data.join("sequential_data.txt").exists(),
        "data missing at {}",
        data.display()
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitrine"));
    cmd.arg("eval")
        .args(["--data".as_ref(), data.as_os_str()])
        .args(["--method", method])
        .args([
            "--encoder".as_ref(),
            repo.join("models/minilm-l6-q8_0.gguf").as_os_str(),
        ])
        .args(["--cache-dir".as_ref(), repo.join(".cache/vectors").as_os_str()]);
    if let Some(m) = model {
        cmd.args(["--model".as_ref(), repo.join("research").join(m).as_os_str()]);
    }
    let out = cmd.output().expect("running vitrine eval");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    for v in &lines {
        eprintln!("{v}");
    }
    lines
}

fn get<'a>(all: &'a [Value], method: &str) -> &'a Value {
    all.iter()
        .find(|v| v["method"] == method)
        .unwrap_or_else(|| panic!("no {method} line in {all:?}"))
}

fn ndcg(v: &Value) -> f64 {
    v["ndcg@10"].as_f64().expect("ndcg@10")
}

/// Below the research model's figure (BENCHMARKS.md: .0521, from `vitrine train`'s default recipe); a regression
/// below it fails.
const SESSION_NDCG10_TARGET: f64 = 0.050;

#[test]
fn beauty_zero_shot_and_the_research_model() {
    let data = common::repo().join("../shared/data/beauty");
    let all = eval(&data, "all", Some("session-beauty.gguf"));
    let names: Vec<&str> = all.iter().map(|v| v["method"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "popularity",
            "itemknn",
            "words",
            "content",
            "zero-shot",
            "session"
        ]
    );
    for v in &all {
        assert_eq!(v["users"], 22363);
        for k in ["hr@10", "ndcg@10", "hr@20", "ndcg@20", "mrr"] {
            let x = v[k].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&x), "{k} = {x}");
        }
    }
    let (pop, knn, words) = (get(&all, "popularity"), get(&all, "itemknn"), get(&all, "words"));
    // Leak-free popularity on this split is about .012 HR@10 (data/README.md).
    let pop_hr = pop["hr@10"].as_f64().unwrap();
    assert!((0.010..0.014).contains(&pop_hr), "popularity HR@10 {pop_hr}");
    // Item-kNN on training prefixes only (see BENCHMARKS.md for why below the README's .046).
    assert!(
        (0.035..0.045).contains(&ndcg(knn)),
        "item-kNN NDCG@10 {}",
        ndcg(knn)
    );
    // The target: the nothing-learned default beats in-domain item-kNN and the words alone.
    let zero_shot = get(&all, "zero-shot");
    for base in [knn, words, get(&all, "content")] {
        assert!(
            ndcg(zero_shot) > ndcg(base),
            "zero-shot {} vs {base}",
            ndcg(zero_shot)
        );
    }
    let q8 = get(&all, "session");
    assert!(ndcg(q8) >= SESSION_NDCG10_TARGET, "session NDCG@10 {}", ndcg(q8));
    for base in [pop, knn, words, zero_shot] {
        assert!(ndcg(q8) > ndcg(base), "session {} vs {base}", ndcg(q8));
    }
    let f32 = eval(&data, "session", Some("session-beauty-f32.gguf"));
    let rel = (ndcg(q8) - ndcg(&f32[0])).abs() / ndcg(&f32[0]);
    assert!(
        rel <= 0.02,
        "q8_0 NDCG@10 {} vs f32 {}: {rel:.3} apart",
        ndcg(q8),
        ndcg(&f32[0])
    );
}

/// `vitrine data onlineretail` into a fresh directory named `onlineretail`.
fn online_retail() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("eval/onlineretail");
    let res = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(["data", "onlineretail", "--input"])
        .arg(common::repo().join("../shared/data/onlineretail/transactions.csv"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("running vitrine data");
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    let summary: Value = serde_json::from_slice(&res.stdout).unwrap();
    eprintln!("{summary}");
    // The issue's ≈ 1,700 customers with at least 5 products.
    assert_eq!(summary["users"], 1657);
    out
}

#[test]
fn online_retail_sessions_zero_shot_beats_in_domain_baselines() {
    let all = eval(&online_retail(), "all", None);
    assert_eq!(all.len(), 5, "no session line without --model");
    let zero_shot = get(&all, "zero-shot");
    assert_eq!(zero_shot["users"], 1657);
    for base in ["itemknn", "words", "content", "popularity"] {
        let b = get(&all, base);
        assert!(ndcg(zero_shot) > ndcg(b), "zero-shot {} vs {b}", ndcg(zero_shot));
    }
}
