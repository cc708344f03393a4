//! Unit tests of the session model: file round trip, shapes, causality, truncation, errors, zero-shot.

use std::collections::BTreeMap;

use candle_core::quantized::GgmlDType;
use candle_core::{Device, Tensor};

use super::*;
use crate::model::session_file::{tensor_specs, write_session_model, Role};

fn cfg() -> SessionConfig {
    SessionConfig {
        dims: 64,
        width: 32,
        layers: 2,
        heads: 2,
        ffn: 64,
        max_len: 6,
        out_dims: 32,
        adapter_hidden: 32,
        normalize: false,
        tie_input: false,
        layer_norm_eps: 1e-5,
        content_mix: 0.0,
        lexical_mix: 0.0,
        lexical_decay: 0.0,
    }
}

/// `values` followed by zeros up to `len`.
fn padded(values: &[f32], len: usize) -> Vec<f32> {
    let mut v = values.to_vec();
    v.resize(len, 0.0);
    v
}

/// Deterministic pseudo-random values in [-scale, scale) (no RNG crate needed for fixtures).
fn noise(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn tensors(cfg: &SessionConfig) -> BTreeMap<String, Tensor> {
    tensor_specs(cfg)
        .into_iter()
        .enumerate()
        .map(|(i, (name, shape, role))| {
            let n: usize = shape.iter().product();
            let vals = match role {
                Role::Ones => noise(n, i as u64, 0.1).iter().map(|x| 1.0 + x).collect(),
                _ => noise(n, i as u64, 0.3),
            };
            (name, Tensor::from_vec(vals, shape, &Device::Cpu).unwrap())
        })
        .collect()
}

fn model_bytes(cfg: &SessionConfig, dtype: GgmlDType) -> Vec<u8> {
    write_session_model(cfg, &tensors(cfg), dtype, "test").unwrap()
}

fn vectors(n: usize, dims: usize) -> Vec<Vec<f32>> {
    (0..n).map(|i| noise(dims, 1000 + i as u64, 1.0)).collect()
}

fn steps<'a>(vs: &'a [Vec<f32>]) -> Vec<SessionStep<'a>> {
    vs.iter()
        .enumerate()
        .map(|(i, v)| SessionStep {
            vector: v,
            kind: EventKind::ALL[i % EventKind::COUNT],
            gap_secs: if i == 0 { None } else { Some(30.0 * i as f32) },
        })
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn shapes_and_config_round_trip() {
    let c = cfg();
    let m = SessionModel::from_gguf_bytes(&model_bytes(&c, GgmlDType::F32)).unwrap();
    assert_eq!((m.dims(), m.max_len(), m.out_dims()), (64, 6, 32));
    assert_eq!(m.config(), &c);
    let vs = vectors(3, 64);
    assert_eq!(m.intent(&steps(&vs)).unwrap().len(), 32);
    let flat: Vec<f32> = vs.concat();
    assert_eq!(m.item_vectors(&flat).unwrap().len(), 3 * 32);
    assert!(m.item_vectors(&flat[..63]).is_err());
}

#[test]
fn causal_appending_a_step_changes_only_the_last_output() {
    let m = SessionModel::from_gguf_bytes(&model_bytes(&cfg(), GgmlDType::F32)).unwrap();
    let vs = vectors(5, 64);
    let short = m.intent_per_step(&steps(&vs[..4])).unwrap();
    let long = m.intent_per_step(&steps(&vs)).unwrap();
    assert_eq!(long.len(), 5);
    for t in 0..4 {
        assert!(max_diff(&short[t], &long[t]) < 1e-5, "position {t} changed");
    }
    assert!(max_diff(&short[3], &long[4]) > 1e-3, "the new step had no effect");
    // The last position is what `intent` returns.
    assert!(max_diff(&m.intent(&steps(&vs)).unwrap(), &long[4]) < 1e-6);
}

#[test]
fn tied_input_is_causal_too() {
    let c = SessionConfig {
        tie_input: true,
        normalize: true,
        ..cfg()
    };
    let m = SessionModel::from_gguf_bytes(&model_bytes(&c, GgmlDType::F32)).unwrap();
    let vs = vectors(4, 64);
    let short = m.intent_per_step(&steps(&vs[..3])).unwrap();
    let long = m.intent_per_step(&steps(&vs)).unwrap();
    for t in 0..3 {
        assert!(max_diff(&short[t], &long[t]) < 1e-5, "position {t} changed");
    }
}

#[test]
fn only_the_newest_max_len_steps_are_read() {
    let m = SessionModel::from_gguf_bytes(&model_bytes(&cfg(), GgmlDType::F32)).unwrap();
    let vs = vectors(9, 64);
    let all = steps(&vs);
    let a = m.intent(&all).unwrap();
    let b = m.intent(&all[3..]).unwrap();
    assert!(max_diff(&a, &b) < 1e-6);
}

#[test]
fn q8_model_is_close_to_f32() {
    let c = cfg();
    let f = SessionModel::from_gguf_bytes(&model_bytes(&c, GgmlDType::F32)).unwrap();
    let q = SessionModel::from_gguf_bytes(&model_bytes(&c, GgmlDType::Q8_0)).unwrap();
    let vs = vectors(4, 64);
    let (a, b) = (f.intent(&steps(&vs)).unwrap(), q.intent(&steps(&vs)).unwrap());
    let rel = max_diff(&a, &b) / a.iter().map(|x| x.abs()).fold(0.0, f32::max);
    assert!(rel < 0.05, "q8 deviates by {rel}");
}

#[test]
fn normalized_models_give_unit_vectors() {
    let c = SessionConfig {
        normalize: true,
        ..cfg()
    };
    let m = SessionModel::from_gguf_bytes(&model_bytes(&c, GgmlDType::F32)).unwrap();
    let vs = vectors(2, 64);
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm(&m.intent(&steps(&vs)).unwrap()) - 1.0).abs() < 1e-5);
    let items = m.item_vectors(&vs.concat()).unwrap();
    assert!((norm(&items[32..]) - 1.0).abs() < 1e-5);
}

#[test]
fn bad_input_gives_errors_not_panics() {
    let bytes = model_bytes(&cfg(), GgmlDType::F32);
    assert!(matches!(
        SessionModel::from_gguf_bytes(&[]),
        Err(Error::NotGguf(_))
    ));
    assert!(matches!(
        SessionModel::from_gguf_bytes(b"not a model at all"),
        Err(Error::NotGguf(_))
    ));
    assert!(SessionModel::from_gguf_bytes(&bytes[..bytes.len() / 2]).is_err());
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x55;
    assert!(matches!(
        SessionModel::from_gguf_bytes(&flipped),
        Err(Error::ModelChecksum { .. })
    ));
    let m = SessionModel::from_gguf_bytes(&bytes).unwrap();
    assert!(matches!(m.intent(&[]), Err(Error::InvalidInput(_))));
    let short = vec![0.5f32; 10];
    let bad = [SessionStep {
        vector: &short,
        kind: EventKind::View,
        gap_secs: None,
    }];
    assert!(matches!(m.intent(&bad), Err(Error::InvalidInput(_))));
    let nan = vec![f32::NAN; 64];
    let bad = [SessionStep {
        vector: &nan,
        kind: EventKind::View,
        gap_secs: None,
    }];
    assert!(matches!(m.intent(&bad), Err(Error::InvalidInput(_))));
}

#[test]
fn gap_buckets() {
    assert_eq!(gap_bucket(None), 0);
    assert_eq!(gap_bucket(Some(-1.0)), 0);
    assert_eq!(gap_bucket(Some(f32::NAN)), 0);
    assert_eq!(gap_bucket(Some(0.0)), 1);
    assert_eq!(gap_bucket(Some(3.0)), 2); // log4(4) = 1
    assert_eq!(gap_bucket(Some(14.0)), 2); // log4(15) < 2
    assert_eq!(gap_bucket(Some(15.0)), 3);
    assert_eq!(gap_bucket(Some(1e9)), GAP_BUCKETS - 1);
}

#[test]
fn zero_shot_matches_a_hand_computed_mean() {
    let a = [1.0f32, 0.0, 0.0];
    let b = [0.0f32, 1.0, 0.0];
    let c = [0.0f32, 0.0, 1.0];
    let s = |v: &'static [f32], kind| SessionStep {
        vector: v,
        kind,
        gap_secs: None,
    };
    let a: &'static [f32] = Box::leak(Box::new(a));
    let b: &'static [f32] = Box::leak(Box::new(b));
    let c: &'static [f32] = Box::leak(Box::new(c));
    let steps = [
        s(a, EventKind::View),
        s(b, EventKind::AddToCart),
        s(c, EventKind::Click),
    ];
    // newest (c, click) 1 * 1.5; b (add_to_cart) 0.7 * 2.5; a (view) 0.49 * 1.0
    let raw = [0.49f32, 1.75, 1.5];
    let n = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
    let want: Vec<f32> = raw.iter().map(|x| x / n).collect();
    assert!(max_diff(&zero_shot_intent(&steps), &want) < 1e-6);
    assert!(zero_shot_intent(&[]).is_empty());
    let zero: &'static [f32] = Box::leak(Box::new([0.0f32; 3]));
    assert!(zero_shot_intent(&[s(zero, EventKind::View)]).is_empty());
}

#[test]
fn content_mix_adds_the_newest_steps_text_similarity() {
    let c = SessionConfig {
        content_mix: 0.25,
        ..cfg()
    };
    let m = SessionModel::from_gguf_bytes(&model_bytes(&c, GgmlDType::F32)).unwrap();
    assert_eq!(m.content_mix(), 0.25);
    // Intent and item are out_dims (32) long, the steps' texts dims (64): zeros past the values given.
    let (intent, item) = (padded(&[0.5, -1.0], 32), padded(&[2.0, 1.0], 32));
    let (newest, text) = (padded(&[1.0, 2.0, 3.0], 64), padded(&[0.5, 0.5, -1.0], 64));
    // 0.5·2 − 1·1 = 0, plus 0.25 · (0.5 + 1 − 3) = −0.375.
    let score = m.score(&intent, &item, &newest, &text, 0.0).unwrap();
    assert!((score + 0.375).abs() < 1e-6, "{score}");
    // Vectors of other lengths are an error, not a dot product over the shorter one (which this test
    // relied on before, scoring 2-long intents against a 32-dim model).
    for (i, it, n, t) in [
        (&intent[..2], &item[..], &newest[..], &text[..]),
        (&intent[..], &item[..31], &newest[..], &text[..]),
        (&intent[..], &item[..], &newest[..3], &text[..]),
        (&intent[..], &item[..], &newest[..], &text[..0]),
    ] {
        let e = m.score(i, it, n, t, 0.0).unwrap_err();
        assert!(matches!(e, crate::Error::SizeMismatch { .. }), "{e}");
    }
    // Files written before the mixes existed read as 0: their scores are unchanged.
    let mut json = serde_json::to_value(cfg()).unwrap();
    for key in ["content_mix", "lexical_mix", "lexical_decay"] {
        json.as_object_mut().unwrap().remove(key);
    }
    let old: SessionConfig = serde_json::from_value(json).unwrap();
    assert_eq!(
        (old.content_mix, old.lexical_mix, old.lexical_decay),
        (0.0, 0.0, 0.0)
    );
}

#[test]
fn lexical_mix_adds_the_word_overlap_and_its_decay_is_checked() {
    let c = SessionConfig {
        lexical_mix: 0.2,
        lexical_decay: 0.6,
        ..cfg()
    };
    let m = SessionModel::from_gguf_bytes(&model_bytes(&c, GgmlDType::F32)).unwrap();
    assert_eq!((m.lexical_mix(), m.lexical_decay()), (0.2, 0.6));
    let (intent, item) = (padded(&[0.5, -1.0], 32), padded(&[2.0, 1.0], 32));
    let text = [0.0; 64];
    assert!((m.score(&intent, &item, &text, &text, 0.5).unwrap() - 0.1).abs() < 1e-6);
    for decay in [-0.1, 1.5, f32::NAN] {
        let bad = SessionConfig {
            lexical_decay: decay,
            ..cfg()
        };
        assert!(SessionModel::from_gguf_bytes(&model_bytes(&bad, GgmlDType::F32)).is_err());
    }
}
