//! The whole encoder on the GPU against the CPU path, for the shipped models: every text alone
//! and in mixed-length batches, cos ≥ 0.9999 (the bar). Both sides compute in f32 from
//! the same quantized weights; they differ only by summation order and the CPU's i16 activation
//! rounding, which leaves cosines near 1 − 1e-7. Fails without an adapter (tests/support/gpu.rs).
#![cfg(all(feature = "gpu", not(target_arch = "wasm32")))]

#[allow(dead_code)] // the one-kernel runner is for tests/gpu_kernels.rs
#[path = "support/gpu.rs"]
mod gpu;

use std::sync::Arc;

use vitrine::backend::select::{Backend, DevicePreference};
use vitrine::Encoder;

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// 60 queries and titles of every length: one letter to truncated, emoji, accents, empty.
fn texts() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let queries = std::fs::read_to_string(root.join("tests/fixtures/queries.txt")).expect("queries.txt");
    let titles: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("www/bench/titles.json")).expect("titles.json"),
    )
    .expect("JSON");
    let mut out: Vec<String> = queries.lines().step_by(4).take(25).map(String::from).collect();
    out.extend(
        titles["titles"]
            .as_array()
            .expect("titles")
            .iter()
            .take(30)
            .map(|t| t.as_str().unwrap_or("").to_string()),
    );
    out.extend(
        [
            "",
            "a",
            "Crème brûlée lip balm 💄✨ — édition spéciale",
            "WHITE HANGING HEART T-LIGHT HOLDER",
        ]
        .map(String::from),
    );
    out.push("moisturising cream with shea butter and vitamin e for very dry skin ".repeat(40));
    out
}

/// Chinese, English and mixed texts for the 12-layer zh + en model, prefixed as the SDK embeds them:
/// fewer than above, since each costs twice MiniLM's work on a software adapter.
fn zh_en_texts() -> Vec<String> {
    [
        "query: 降噪耳机",
        "query: 手机壳 透明",
        "query: wireless earbuds",
        "query: iPhone 15 手机壳 透明",
        "passage: 主动降噪无线蓝牙耳机",
        "passage: 补水保湿面霜 50ml 敏感肌可用",
        "passage: 儿童保温杯 带吸管 316不锈钢",
        "passage: WHITE HANGING HEART T-LIGHT HOLDER",
        "passage: Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ 全角 １２３ 🎄",
        "",
    ]
    .map(String::from)
    .into_iter()
    .chain(std::iter::once(format!(
        "passage: {}",
        "夏季女士连衣裙 碎花 雪纺 ".repeat(60)
    )))
    .collect()
}

fn load(variant: &str) -> Option<(Encoder, Vec<u8>)> {
    let ctx = Arc::new(gpu::context()?);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = match variant {
        "e5" => "models/multilingual-e5-small-zh-en.gguf".to_string(),
        v => format!("models/minilm-l6-{v}.gguf"),
    };
    let bytes = std::fs::read(root.join(file)).expect("model");
    let enc = Encoder::from_gguf_bytes(&bytes).expect("model loads");
    pollster::block_on(enc.device().attach_gpu(ctx)).expect("weights upload");
    Some((enc, bytes))
}

fn check(variant: &str) {
    let Some((enc, _)) = load(variant) else { return };
    let texts = if variant == "e5" { zh_en_texts() } else { texts() };
    assert!(texts.len() >= if variant == "e5" { 10 } else { 50 });
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let cpu: Vec<Vec<f32>> = refs.iter().map(|t| enc.embed(&[t]).unwrap().remove(0)).collect();
    let mut worst = 1f32;
    // Every text alone, then the short ones in mixed-length batches of 8 (padding masked). Not
    // all at once: padding 60 texts to the long one's 256 tokens takes minutes on lavapipe.
    let short = refs.len() - 1;
    let runs = [(1, &refs[..], &cpu[..]), (8, &refs[..short], &cpu[..short])];
    for (size, refs, cpu) in runs {
        for (chunk, want) in refs.chunks(size).zip(cpu.chunks(size)) {
            let got = pollster::block_on(enc.embed_on(chunk, Backend::Webgpu)).expect("GPU forward");
            assert_eq!(got.len(), chunk.len());
            for ((text, g), w) in chunk.iter().zip(&got).zip(want) {
                let c = cosine(g, w);
                worst = worst.min(c);
                assert!(c >= 0.9999, "{variant}, batch of {size}: cos {c} for {text:?}");
                let norm = g.iter().map(|v| v * v).sum::<f32>().sqrt();
                assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
            }
        }
    }
    eprintln!("{variant}: worst GPU/CPU cosine {worst}");
}

#[test]
fn gpu_matches_cpu_on_the_q8_0_model() {
    check("q8_0");
}

#[test]
fn gpu_matches_cpu_on_the_small_model() {
    check("small");
}

#[test]
fn gpu_matches_cpu_on_the_zh_en_e5_model() {
    check("e5");
}

#[test]
fn auto_reports_its_choice_and_embeds_like_the_cpu() {
    let Some((enc, _)) = load("q8_0") else { return };
    let sample = ["red lipstick matte long lasting"];
    let choice = pollster::block_on(enc.select_backend(DevicePreference::Auto, &sample));
    assert!(choice.cpu_ms.is_some() && choice.gpu_ms.is_some(), "{choice:?}");
    assert!(choice.adapter.is_some());
    assert_eq!(enc.device().diagnostics(), choice);
    let got = pollster::block_on(enc.embed_auto(&sample)).unwrap();
    assert!(cosine(&got[0], &enc.embed(&sample).unwrap()[0]) >= 0.9999);
    // Preferring the CPU never touches the GPU.
    let cpu = pollster::block_on(enc.select_backend(DevicePreference::Cpu, &sample));
    assert_eq!(cpu.backend, Backend::Cpu);
    // Released, the GPU no longer serves (until attached again) and the CPU serves alone.
    assert!(enc.device().detach_gpu("a test"));
    assert_eq!(enc.device().gpu_adapter(), None);
    assert!(pollster::block_on(enc.embed_on(&sample, Backend::Webgpu)).is_err());
    assert_eq!(
        pollster::block_on(enc.embed_auto(&sample)).unwrap(),
        enc.embed(&sample).unwrap()
    );
    let after = pollster::block_on(enc.select_backend(DevicePreference::Auto, &sample));
    assert_eq!(after.backend, Backend::Cpu);
    assert!(after.reason.contains("GPU released"), "{}", after.reason);
}

#[test]
fn without_a_gpu_auto_falls_back_to_the_cpu_and_says_why() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(root.join("models/minilm-l6-q8_0.gguf")).expect("model");
    let enc = Encoder::from_gguf_bytes(&bytes).unwrap();
    let choice = pollster::block_on(enc.select_backend(DevicePreference::Webgpu, &["a"]));
    assert_eq!(choice.backend, Backend::Cpu);
    assert!(choice.reason.contains("no GPU"), "{}", choice.reason);
    let v = pollster::block_on(enc.embed_auto(&["a"])).unwrap();
    assert_eq!(v, enc.embed(&["a"]).unwrap());
    assert!(pollster::block_on(enc.embed_on(&["a"], Backend::Webgpu)).is_err());
}
