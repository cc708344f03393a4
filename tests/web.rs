//! In-browser tests: run in headless Chromium by `cargo test --release --target wasm32-unknown-unknown
//! -p vitrine --test web` (wasm-bindgen-test-runner through chromedriver; see scripts/test.sh).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

#[path = "support/kernel_cases.rs"]
mod kernel_cases;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn engine_info_crosses_the_boundary() {
    let info = vitrine::web::engine_info().expect("engine info");
    let version = js_sys::Reflect::get(&info, &"version".into()).unwrap();
    assert_eq!(version.as_string().as_deref(), Some(env!("CARGO_PKG_VERSION")));
    let simd = js_sys::Reflect::get(&info, &"simd128".into()).unwrap();
    assert_eq!(
        simd.as_bool(),
        Some(true),
        "the wasm build must enable simd128 (.cargo/config.toml)"
    );
    let arch = js_sys::Reflect::get(&info, &"arch".into()).unwrap();
    assert_eq!(arch.as_string().as_deref(), Some("wasm32"));
}

/// The default q8_0 model, compiled into the test module (the runner serves nothing else).
const MODEL: &[u8] = include_bytes!("../models/minilm-l6-q8_0.gguf");
/// Native vectors for the same texts, checked against native code by `tests/encoder_parity.rs`.
const FIXTURE: &str = include_str!("fixtures/encoder-parity.json");

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// Lets the page's event loop run (chromedriver polls it) between long synchronous model calls.
async fn yield_to_browser() {
    let tick = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        let set_timeout: js_sys::Function = js_sys::Reflect::get(&global, &"setTimeout".into())
            .unwrap()
            .into();
        set_timeout.call2(&global, &resolve, &0.into()).unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(tick).await.unwrap();
}

#[wasm_bindgen_test]
async fn browser_vectors_match_native() {
    let fixture: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
    let texts: Vec<String> = serde_json::from_value(fixture["texts"].clone()).unwrap();
    let expected: Vec<Vec<f32>> = serde_json::from_value(fixture["vectors"].clone()).unwrap();
    let encoder = vitrine::web::WebEncoder::from_bytes(MODEL)
        .map_err(JsValue::from)
        .unwrap();
    assert_eq!(encoder.dims(), 384);
    assert_eq!(fixture["checksum"].as_str(), Some(encoder.checksum().as_str()));

    // Each text alone must match native at cos >= 0.9999 (summation order differs between targets,
    // so never exact equality).
    for (text, want) in texts.iter().zip(&expected) {
        yield_to_browser().await;
        let alone = encoder.embed(vec![text.clone()]).map_err(JsValue::from).unwrap();
        let cos = cosine(&alone, want);
        assert!(cos >= 0.9999, "alone: cos {cos} for {text:?}");
    }
    // And inside one padded batch with longer texts. The 256-token text stays out of it: padding
    // every row to 256 tokens makes one call too long for a debug build on a busy machine.
    let (batch_texts, batch_want): (Vec<String>, Vec<&Vec<f32>>) = texts
        .iter()
        .zip(&expected)
        .filter(|(t, _)| t.len() < 400)
        .map(|(t, w)| (t.clone(), w))
        .unzip();
    assert!(batch_texts.len() >= 6);
    yield_to_browser().await;
    let batch = encoder.embed(batch_texts.clone()).map_err(JsValue::from).unwrap();
    assert_eq!(batch.len(), batch_texts.len() * 384);
    for (i, (text, want)) in batch_texts.iter().zip(batch_want).enumerate() {
        let cos = cosine(&batch[i * 384..(i + 1) * 384], want);
        assert!(cos >= 0.9999, "in a batch: cos {cos} for {text:?}");
    }
}

#[wasm_bindgen_test]
fn bad_model_bytes_give_an_error_not_a_panic() {
    for bytes in [&MODEL[..1000], &b"not a model at all"[..], &[][..]] {
        let err = vitrine::web::WebEncoder::from_bytes(bytes)
            .err()
            .expect("bad bytes must be refused");
        let msg = JsValue::from(err);
        let text = js_sys::Reflect::get(&msg, &"message".into())
            .unwrap()
            .as_string()
            .unwrap();
        assert!(!text.is_empty());
    }
}

/// The matmul kernels in the browser: the simd128 one (and the scalar ones; the relaxed-SIMD one in
/// a build with that feature) against candle's dequantize-then-f32 matmul, on the same odd shapes and
/// tolerance as natively (tests/kernels.rs).
#[wasm_bindgen_test]
async fn simd128_kernel_matches_dequantized_f32_matmul() {
    use vitrine::backend::cpu::Kernel;
    assert_eq!(Kernel::best(), Kernel::Simd128);
    let relaxed = cfg!(target_feature = "relaxed-simd");
    let q4 = candle_core::quantized::GgmlDType::Q4_0;
    let want = if relaxed { Kernel::Relaxed } else { Kernel::Simd128 };
    assert_eq!(Kernel::best_for(q4), want);
    for &dtype in kernel_cases::DTYPES {
        for &shape in kernel_cases::SHAPES {
            yield_to_browser().await;
            let ran = kernel_cases::check(dtype, shape).unwrap_or_else(|e| panic!("{e}"));
            // q4_0 also runs the i8-block kernels: the scalar model, and relaxed SIMD where built.
            let want = if dtype == q4 { 3 + relaxed as usize } else { 2 };
            assert_eq!(ran, want, "{dtype:?}: every kernel of this build must run");
        }
    }
}

/// Values cross as JS objects, not JSON strings: an event object is tracked, `rank` takes and returns
/// objects, and a malformed value is refused with the stable `code` of the core's error.
#[wasm_bindgen_test]
fn typed_values_and_error_codes_cross_the_boundary() {
    use js_sys::{Array, Reflect};
    let parse = |s: &str| js_sys::JSON::parse(s).unwrap();
    let mut engine =
        vitrine::web::WebVitrine::new(parse(r#"{"history":{"maxEvents":5}}"#), &[1; 16]).unwrap();
    // Now: the history refuses events older than its 30-day window (a fixed date would age out).
    let view = format!(
        r#"{{"type":"view","productId":"p1","ts":{}}}"#,
        js_sys::Date::now()
    );
    engine.track(parse(&view)).unwrap();
    let snapshot = engine.export_history().unwrap();
    let events = Array::from(&Reflect::get(&snapshot, &"events".into()).unwrap());
    assert_eq!(events.length(), 1);
    let id = Reflect::get(&events.get(0), &"productId".into()).unwrap();
    assert_eq!(id.as_string().as_deref(), Some("p1"));

    let code = |err: wasm_bindgen::JsError| {
        let v = JsValue::from(err);
        let code = Reflect::get(&v, &"code".into()).unwrap().as_string();
        let message = Reflect::get(&v, &"message".into()).unwrap().as_string().unwrap();
        (code, message)
    };
    let (c, m) = code(
        engine
            .track(parse(r#"{"type":"hover","productId":"p1"}"#))
            .unwrap_err(),
    );
    assert_eq!(c.as_deref(), Some("invalid_input"));
    assert!(m.contains("hover"), "{m}");
    let (c, m) = code(
        engine
            .rank(
                parse(r#"{"placement":"forYou"}"#),
                JsValue::UNDEFINED,
                parse(r#"{"limt":3}"#),
            )
            .unwrap_err(),
    );
    assert_eq!(c.as_deref(), Some("invalid_input"));
    assert!(m.contains("limt"), "{m}");
    let (c, _) = code(engine.load_catalog(b"not a catalog").unwrap_err());
    assert_eq!(c.as_deref(), Some("catalog"));
    let (c, _) = code(
        vitrine::web::WebEncoder::from_bytes(b"not a model")
            .err()
            .unwrap(),
    );
    assert_eq!(c.as_deref(), Some("not_gguf"));

    // Without vectors nothing ranks, but the call and its result are typed: an empty array.
    let candidates = parse(r#"[{"id":"p1","title":"Mug","extra":{"nested":[1,2]}}]"#);
    let ranked = engine
        .rank(parse(r#"{"placement":"forYou"}"#), candidates, JsValue::UNDEFINED)
        .unwrap();
    assert!(Array::is_array(&ranked));
    let diag = engine.diagnostics().unwrap();
    assert_eq!(
        Reflect::get(&diag, &"historyEvents".into()).unwrap().as_f64(),
        Some(1.0)
    );
}
