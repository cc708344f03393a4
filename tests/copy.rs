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

    // No registry: the pick works and nothing is counted (the segment stays on the device either way).
    assert!(!pick.counted && pick.experiment.is_none());
    assert!(v.report_state().pending.is_empty());
    assert!(v.diagnostics().reporting["banner"].contains("no registry"));
}

fn registry(mode: &str) -> String {
    serde_json::json!({"v": 1, "experiments": [{"id": "hero", "slot": "banner", "variants": ["xmas", "garden"],
        "mode": mode, "holdout": 0.0, "k": 100, "start": 0}]})
    .to_string()
}

#[test]
fn only_registered_slots_and_variants_are_counted_and_reports_carry_no_segment() {
    let mut v = engine(2);
    v.set_registry(&registry("bandit")).unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let opts = CopyOptions::Bandit { fit_weight: 1.0 };
    let pick = v.pick_copy("banner", &variants(), opts, NOW, &mut rng).unwrap();
    assert_eq!((pick.counted, pick.experiment.as_deref()), (true, Some("hero")));
    // Per-shopper slots and a page that leaves out a registered variant: shown, not counted.
    let other = v
        .pick_copy("banner.customer-4711", &variants(), opts, NOW, &mut rng)
        .unwrap();
    assert!(!other.counted);
    let one = v
        .pick_copy("banner", &variants()[..1], opts, NOW, &mut rng)
        .unwrap();
    assert!(!one.counted && v.diagnostics().reporting["banner"].contains("did not pass"));
    v.record(
        "banner",
        &pick.report_variant,
        vitrine::report::Interaction::Click,
        NOW,
    )
    .unwrap();
    let built = v.build_reports(None, NOW, &mut rng);
    assert_eq!(built.reports.len(), 1);
    let json = serde_json::to_value(&built.reports[0]).unwrap();
    assert!(
        json.get("arm").is_none() && json.get("segment").is_none(),
        "{json}"
    );
    // Reported once: the next pick is not counted, even from a stale ledger copy.
    let again = v.pick_copy("banner", &variants(), opts, NOW, &mut rng).unwrap();
    assert!(!again.counted);
    assert!(v.build_reports(Some("{}"), NOW, &mut rng).reports.is_empty());
}

#[test]
fn withdrawal_and_clear_forget_counters_posterior_and_salt() {
    let mut v = Vitrine::new(Config::default(), &[3; 16]).unwrap();
    v.set_registry(&registry("ab")).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let opts = CopyOptions::Ab { holdout: 0.0 };
    assert!(
        v.pick_copy("banner", &variants(), opts, NOW, &mut rng)
            .unwrap()
            .counted
    );
    v.set_consent(false);
    assert!(v.report_state().pending.is_empty());
    v.set_consent(true);
    assert!(
        v.pick_copy("banner", &variants(), opts, NOW, &mut rng)
            .unwrap()
            .counted
    );
    let bandit = CopyOptions::Bandit { fit_weight: 0.0 };
    let alpha_of_xmas = |v: &mut Vitrine, rng: &mut StdRng| match v
        .pick_copy("local", &variants(), bandit, NOW, rng)
        .unwrap()
        .why
    {
        vitrine::copy::Why::Bandit { scores } => scores[0].alpha,
        other => panic!("{other:?}"),
    };
    // The bandit's prior alone (nothing shown on "local" yet); then five clicks, each on an impression
    // of xmas (a click counts as a success of the impression it follows).
    let prior_alpha = alpha_of_xmas(&mut v, &mut rng);
    let mut clicked = 0;
    while clicked < 5 {
        let pick = v.pick_copy("local", &variants(), bandit, NOW, &mut rng).unwrap();
        if pick.variant == "xmas" {
            v.record("local", "xmas", vitrine::report::Interaction::Click, NOW)
                .unwrap();
            clicked += 1;
        }
    }
    assert_eq!(
        alpha_of_xmas(&mut v, &mut rng),
        prior_alpha + 5.0,
        "prior + 5 local clicks"
    );
    let salt = v.salt().to_vec();
    v.clear();
    assert_eq!(
        alpha_of_xmas(&mut v, &mut rng),
        prior_alpha,
        "the local posterior is gone"
    );
    assert!(v.report_state().pending.is_empty());
    assert_ne!(v.salt(), &salt[..], "a fresh salt");
    assert_eq!(v.salt().len(), 16);
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

/// The demo's banner (www/app.js) after five views of the first five Christmas products, as the
/// Chromium test in tests/e2e/banner.test.mjs does it, at the default options and without a collector:
/// each fresh page load is one Thompson draw from flat local counts. The fit must lead (≥ 80 % of
/// draws show the Christmas banner) while the other variants keep a share (exploration continues).
#[test]
fn with_no_data_the_default_bandit_mostly_shows_the_best_fitting_banner() {
    let mut v = engine(1);
    let catalog = vitrine::Catalog::from_bytes(&std::fs::read("www/data/products.vcat").unwrap()).unwrap();
    v.load_catalog(&catalog).unwrap();
    let products: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("www/data/products.json").unwrap()).unwrap();
    // Five spread evenly over the category (its first five are all paper goods, closer to the
    // stationery banner than to the Christmas one).
    let christmas: Vec<&serde_json::Value> = products
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["category"] == "Christmas")
        .collect();
    let step = christmas.len() / 5;
    for (i, p) in christmas.iter().step_by(step).take(5).enumerate() {
        let mut e = view(p["title"].as_str().unwrap(), i);
        e.product_id = Some(p["id"].as_str().unwrap().into());
        v.track(e, NOW).unwrap();
    }
    // The demo's four banners, in its order.
    let banners: Vec<CopyVariant> = [
        (
            "christmas",
            "Deck the halls: Christmas decorations, baubles and lights for a festive home",
        ),
        (
            "kitchen",
            "Bake, brew and serve: mugs, cake stands and kitchenware for cosy days",
        ),
        (
            "garden",
            "Bring the garden to life: planters, lanterns and outdoor charm",
        ),
        (
            "stationery",
            "Little gifts for everyone: cards, wrapping paper and notebooks",
        ),
    ]
    .iter()
    .map(|(id, text)| CopyVariant {
        id: (*id).into(),
        text: (*text).into(),
    })
    .collect();
    let mut rng = StdRng::seed_from_u64(17);
    let first = v
        .pick_copy("home-banner", &banners, CopyOptions::default(), NOW, &mut rng)
        .unwrap();
    let arms: Vec<vitrine::copy::Arm> = banners
        .iter()
        .zip(&first.fits)
        .map(|(b, &fit)| vitrine::copy::Arm {
            id: b.id.clone(),
            fit,
        })
        .collect();
    let CopyOptions::Bandit { fit_weight } = CopyOptions::default() else {
        panic!("the default is the bandit")
    };
    let draws = 4000;
    let mut shown = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..draws {
        let c = vitrine::copy::choose_bandit(
            "home-banner",
            &arms,
            first.segment,
            fit_weight,
            &vitrine::copy::Posteriors::flat(),
            &mut rng,
        )
        .unwrap();
        *shown.entry(c.variant).or_default() += 1;
    }
    let share = shown.get("christmas").copied().unwrap_or(0) as f64 / draws as f64;
    eprintln!("fits {:?}; shown over {draws} draws: {shown:?}", first.fits);
    // 4,000 draws: a share's standard error is at most 0.008.
    assert!(share >= 0.8, "christmas {share}: {shown:?}");
    assert!(share <= 0.97, "exploration stopped: {shown:?}");
}

/// The bandit learns from impressions as well as clicks: one early click used to lock a variant in on
/// the device (its Beta(2, 1) against Beta(1, 1), however often it was shown afterwards unclicked).
#[test]
fn every_pick_counts_an_impression_in_the_posterior() {
    // No encoder: every fit is 0, so each arm's prior is the fit prior alone, worth 10 impressions.
    let mut v = Vitrine::new(Config::default(), &[9; 16]).unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let first = v
        .pick_copy("banner", &variants(), CopyOptions::default(), NOW, &mut rng)
        .unwrap();
    v.record(
        "banner",
        &first.report_variant,
        vitrine::report::Interaction::Click,
        NOW,
    )
    .unwrap();
    let mut last = first.clone();
    for _ in 0..29 {
        last = v
            .pick_copy("banner", &variants(), CopyOptions::default(), NOW, &mut rng)
            .unwrap();
    }
    let vitrine::copy::Why::Bandit { scores } = &last.why else {
        panic!("a bandit pick")
    };
    // The posteriors of the 30th pick hold the 29 impressions before it (one clicked) over the
    // 2 × 10 pseudo-impressions of the fit priors; the clicked arm's α is its prior's 0.5 plus 1.
    let shown: f64 = scores.iter().map(|s| s.alpha + s.beta).sum::<f64>() - 20.0;
    assert!((shown - 29.0).abs() < 1e-9, "{scores:?}");
    let clicked = scores.iter().find(|s| s.variant == first.variant).unwrap();
    assert!((clicked.alpha - 1.5).abs() < 1e-9, "{clicked:?}");

    // They are the shopper's behaviour: the one-call wipe forgets them (the next pick counts 0 before it).
    v.clear();
    let after = v
        .pick_copy("banner", &variants(), CopyOptions::default(), NOW, &mut rng)
        .unwrap();
    let vitrine::copy::Why::Bandit { scores } = &after.why else {
        panic!("a bandit pick")
    };
    let shown: f64 = scores.iter().map(|s| s.alpha + s.beta).sum::<f64>() - 20.0;
    assert!(shown.abs() < 1e-9, "{scores:?}");
}
