//! Promo copy through the SDK object with the real encoder and the shipped segments: the segment is the
//! nearest centroid of the intent (checked by hand here), fit follows the session, A/B is sticky.
#![cfg(not(target_arch = "wasm32"))]

use rand::rngs::StdRng;
use rand::SeedableRng;
use vitrine::copy::Segments;
use vitrine::history::{Event, EventKind};
use vitrine::sdk::{Config, CopyOptions, CopyVariant};
use vitrine::{Encoder, Vitrine};

const NOW: f64 = 1.7e12;

fn engine(salt: u8) -> Vitrine {
    let mut v = Vitrine::new(Config::default(), &[salt; 16]).unwrap();
    v.set_encoder(Encoder::from_gguf_bytes(&std::fs::read("models/minilm-l6-q8_0.gguf").unwrap()).unwrap())
        .unwrap();
    let json = std::fs::read_to_string("models/segments-onlineretail.json").unwrap();
    v.set_segments(Segments::from_json(&json).unwrap()).unwrap();
    v
}

fn view(title: &str, i: usize) -> Event {
    Event {
        kind: EventKind::View,
        product_id: Some(format!("p{i}")),
        title: Some(title.into()),
        category: None,
        price: None,
        quantity: None,
        query: None,
        ts: Some(NOW - 1000.0 * (10 - i) as f64),
    }
}

fn variants() -> Vec<CopyVariant> {
    [
        ("xmas", "Christmas decorations, baubles and fairy lights"),
        ("garden", "Garden tools, planters and watering cans"),
    ]
    .iter()
    .map(|(id, text)| CopyVariant {
        id: (*id).into(),
        text: (*text).into(),
    })
    .collect()
}

#[test]
fn segment_is_the_nearest_centroid_and_fit_follows_the_session() {
    let mut v = engine(1);
    for (i, t) in [
        "red glass christmas bauble",
        "christmas tree fairy lights",
        "advent calendar",
    ]
    .iter()
    .enumerate()
    {
        v.track(view(t, i), NOW).unwrap();
    }
    let mut rng = StdRng::seed_from_u64(5);
    let pick = v
        .pick_copy(
            "banner",
            &variants(),
            CopyOptions::Bandit { fit_weight: 8.0 },
            NOW,
            &mut rng,
        )
        .unwrap();
    assert!(pick.fits[0] > pick.fits[1] + 0.1, "fits {:?}", pick.fits);

    let intent = v.intent(NOW).unwrap();
    let seg =
        Segments::from_json(&std::fs::read_to_string("models/segments-onlineretail.json").unwrap()).unwrap();
    let by_hand = seg
        .centroids
        .iter()
        .map(|c| c.iter().zip(&intent).map(|(a, b)| a * b).sum::<f32>())
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
        .0;
    assert_eq!(pick.segment as usize, by_hand);

    // The impression was counted under that segment.
    let state = serde_json::to_value(v.report_state()).unwrap();
    assert_eq!(state["counters"][0][0]["segment"], by_hand);
    assert_eq!(state["counters"][0][1]["impressions"], 1);
}

#[test]
fn ab_split_is_sticky_per_device_and_holds_out_a_share() {
    let opts = CopyOptions::Ab { holdout: 0.2 };
    let mut rng = StdRng::seed_from_u64(1);
    let mut counts = std::collections::HashMap::new();
    for salt in 0..=255u8 {
        // No encoder: fit plays no part in an A/B split (and 256 model loads would be slow).
        let mut v = Vitrine::new(Config::default(), &[salt; 16]).unwrap();
        let a = v.pick_copy("exp", &variants(), opts, NOW, &mut rng).unwrap();
        let b = v.pick_copy("exp", &variants(), opts, NOW, &mut rng).unwrap();
        assert_eq!(a.report_variant, b.report_variant, "sticky for one device");
        *counts.entry(a.report_variant).or_insert(0) += 1;
    }
    let holdout = counts.get("holdout").copied().unwrap_or(0) as f64 / 256.0;
    // 256 devices: the holdout share is 0.2 ± 4 standard errors (0.025 each).
    assert!((holdout - 0.2).abs() < 0.1, "holdout share {holdout}: {counts:?}");
    assert!(
        counts.len() == 3,
        "both variants and the holdout occur: {counts:?}"
    );
}

#[test]
fn segments_from_another_encoder_are_refused() {
    let mut v = engine(1);
    let mut seg =
        Segments::from_json(&std::fs::read_to_string("models/segments-onlineretail.json").unwrap()).unwrap();
    seg.encoder = "0".repeat(64);
    let err = v.set_segments(seg).unwrap_err().to_string();
    assert!(err.contains("vitrine segments"), "{err}");
}
