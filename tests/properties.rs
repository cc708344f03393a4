//! Property tests of the entry points the wasm boundary calls (`src/web/` converts a JS value and calls
//! exactly these): model and catalog bytes, events, persisted history and report state, the collector's
//! priors and reports, rules, candidates and copy options. Whatever a page or a file hands over — damaged
//! bytes, JSON of any shape, NaN and ±∞ (a JS number can be either) — the call returns a value or a typed
//! [`vitrine::Error`]; it never panics (a panic kills the wasm instance).
//!
//! Seeded, so CI runs the same cases every time; `PROPTEST_CASES=2000 PROPTEST_RNG_SEED=…` searches
//! further. Each finding is kept as a plain regression test at the end of this file.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;
use vitrine::copy::Segments;
use vitrine::history::{Event, EventKind};
use vitrine::rank::{Boost, Candidate, Diversity, Filters, Pin, Placement, Rules};
use vitrine::report::{Registry, Report};
use vitrine::sdk::{Config, CopyOptions, CopyVariant};
use vitrine::{Catalog, Encoder, SessionModel, Vitrine};

const NOW: f64 = 1.7e12;
const DIMS: usize = 8;
const PRODUCTS: usize = 24;

/// `cases` unless PROPTEST_CASES says otherwise; a fixed seed unless PROPTEST_RNG_SEED gives one.
fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        c.rng_seed = RngSeed::Fixed(0x005e_ed0f_71e5);
    }
    // Findings become named regression tests below, not files beside the sources.
    c.failure_persistence = None;
    c
}

fn model_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| std::fs::read("models/minilm-l6-q8_0.gguf").expect("models/ (scripts/setup.sh)"))
}

fn session_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| std::fs::read("research/session-beauty.gguf").expect("research/session-beauty.gguf"))
}

/// A small catalog: ids `p0`…, unit vectors spread over `DIMS` dimensions (no encoder needed).
fn catalog() -> Catalog {
    let mut c = Catalog::new(DIMS, &"ab".repeat(32)).unwrap();
    for i in 0..PRODUCTS {
        let mut v = [0.1f32; DIMS];
        v[i % DIMS] = 1.0 + i as f32 / 10.0;
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        c.push(format!("p{i}"), &v.iter().map(|x| x / n).collect::<Vec<_>>())
            .unwrap();
    }
    c
}

/// A registry with one bandit experiment on `use_engine`'s slot, started before `NOW`.
const REGISTRY: &str = r#"{"v":1,"experiments":[{"id":"exp","slot":"slot","variants":["a","b"],"mode":"bandit","k":10,"start":0}]}"#;

fn engine() -> Vitrine {
    let mut v = Vitrine::new(Config::default(), &[7; 16]).unwrap();
    v.load_catalog(&catalog()).unwrap();
    v
}

/// Exercises what a page does after loading something: events, every placement, copy and reports.
fn use_engine(v: &mut Vitrine) {
    let mut rng = StdRng::seed_from_u64(1);
    let _ = v.track(view(3), NOW);
    let candidates: Vec<Candidate> = (0..PRODUCTS).map(|i| candidate(&format!("p{i}"))).collect();
    for p in placements() {
        let _ = v.rank(&p, &candidates, &Rules::default(), NOW);
    }
    let _ = v.intent(NOW);
    let variants = [
        CopyVariant {
            id: "a".into(),
            text: "a".into(),
        },
        CopyVariant {
            id: "b".into(),
            text: "b".into(),
        },
    ];
    let _ = v.pick_copy("slot", &variants, CopyOptions::default(), NOW, &mut rng);
    let _ = v.record("slot", "a", vitrine::report::Interaction::Click, NOW);
    let _ = v.build_reports(None, NOW, &mut rng);
}

fn view(i: usize) -> Event {
    Event {
        kind: EventKind::View,
        product_id: Some(format!("p{i}")),
        title: None,
        category: None,
        price: None,
        quantity: None,
        query: None,
        ts: Some(NOW - 1000.0),
    }
}

fn candidate(id: &str) -> Candidate {
    Candidate {
        id: id.into(),
        title: None,
        category: None,
        price: None,
    }
}

fn placements() -> Vec<Placement> {
    vec![
        Placement::ForYou,
        Placement::RecentlyViewed,
        Placement::SimilarTo {
            product_id: "p1".into(),
        },
        Placement::RerankSearch { query: "mug".into() },
    ]
}

/// Any f64 a JS number can be: ordinary values, the edges, NaN and ±∞.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e3..1e3f64,
        Just(0.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(NOW),
        Just(NOW * 2.0),
        any::<f64>(),
    ]
}

fn small_f32() -> impl Strategy<Value = f32> {
    number().prop_map(|x| x as f32)
}

/// Ids: mostly the catalog's, some unknown, empty or long.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0..PRODUCTS + 4).prop_map(|i| format!("p{i}")),
        1 => Just(String::new()),
        1 => "\\PC{0,12}",
        1 => Just("x".repeat(600)),
    ]
}

fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof!["\\PC{0,16}", Just(" ".into()), Just("é".repeat(300))])
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop::sample::select(EventKind::ALL.to_vec()),
        prop::option::of(id()),
        text(),
        text(),
        prop::option::of(number()),
        prop::option::of(any::<u32>()),
        text(),
        prop::option::of(number()),
    )
        .prop_map(
            |(kind, product_id, title, category, price, quantity, query, ts)| Event {
                kind,
                product_id,
                title,
                category,
                price,
                quantity,
                query,
                ts,
            },
        )
}

fn rules() -> impl Strategy<Value = Rules> {
    let filters = (
        prop::collection::vec(text().prop_map(Option::unwrap_or_default), 0..3),
        prop::collection::vec(id(), 0..3),
        prop::option::of(number()),
        prop::option::of(number()),
    )
        .prop_map(|(categories, exclude_ids, min_price, max_price)| Filters {
            categories,
            exclude_categories: Vec::new(),
            exclude_ids,
            min_price,
            max_price,
        });
    let boost =
        (text(), prop::collection::vec(id(), 0..3), small_f32()).prop_map(|(category, ids, weight)| Boost {
            category,
            ids,
            weight,
        });
    let pin = (id(), prop_oneof![0..12usize, Just(usize::MAX), any::<usize>()])
        .prop_map(|(id, position)| Pin { id, position });
    (
        prop_oneof![0..40usize, Just(1000), Just(1001), Just(usize::MAX)],
        filters,
        prop::collection::vec(boost, 0..3),
        prop::collection::vec(pin, 0..4),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(small_f32().prop_map(|lambda| Diversity { lambda })),
    )
        .prop_map(
            |(limit, filters, boosts, pins, exclude_purchased, include_seen, diversity)| Rules {
                limit,
                filters,
                boosts,
                pins,
                exclude_purchased,
                include_seen,
                diversity,
            },
        )
}

fn placement() -> impl Strategy<Value = Placement> {
    prop_oneof![
        Just(Placement::ForYou),
        Just(Placement::RecentlyViewed),
        id().prop_map(|product_id| Placement::SimilarTo { product_id }),
        "\\PC{0,20}".prop_map(|query| Placement::RerankSearch { query }),
    ]
}

fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
    prop::collection::vec(
        (id(), text(), text(), prop::option::of(number())).prop_map(|(id, title, category, price)| {
            Candidate {
                id,
                title,
                category,
                price,
            }
        }),
        0..30,
    )
}

/// JSON of any shape, with the keys the engine's types use so that it often comes close to valid.
fn json() -> impl Strategy<Value = Value> {
    const KEYS: &[&str] = &[
        "v",
        "version",
        "events",
        "type",
        "productId",
        "title",
        "category",
        "price",
        "quantity",
        "query",
        "ts",
        "counters",
        "budget",
        "daily_micros",
        "day",
        "spent_micros",
        "experiment",
        "variant",
        "segment",
        "impressions",
        "clicks",
        "add_to_carts",
        "purchases",
        "revenue",
        "k",
        "priors",
        "alpha",
        "beta",
        "reports",
        "hour",
        "epsilon",
        "entries",
        "bits",
        "encoder",
        "source",
        "centroids",
        "pending",
        "experiments",
        "slot",
        "variants",
        "mode",
        "holdout",
        "start",
        "end",
        "arm",
        "id",
        "r",
        "today",
        "reported",
        "closed",
        "reported_started_by",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e13..1e13f64).prop_map(Value::from),
        prop::sample::select(EventKind::ALL.map(|k| k.as_str()).to_vec()).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        (0u32..3).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        let key = prop_oneof![4 => prop::sample::select(KEYS).prop_map(String::from), 1 => "\\PC{0,8}"];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Byte edits: (position as a fraction of the region, new byte) pairs.
fn edits(max: usize) -> impl Strategy<Value = Vec<(f64, u8)>> {
    prop::collection::vec((0.0..1.0f64, any::<u8>()), 1..max)
}

fn apply(bytes: &mut [u8], region: usize, edits: &[(f64, u8)]) {
    for &(at, b) in edits {
        let i = ((at * region as f64) as usize).min(region - 1);
        bytes[i] = b;
    }
}

proptest! {
    #![proptest_config(config(16))]

    /// The encoder GGUF (25 MB, so few cases): truncated anywhere, or its header and metadata
    /// (tokenizer and config JSON, tensor table: the first ~1 MB) edited.
    #[test]
    fn encoder_bytes_load_or_fail_typed(cut in 0.0..1.0f64, edits in edits(8), truncate in any::<bool>()) {
        let mut bytes = model_bytes().to_vec();
        if truncate {
            bytes.truncate((cut * bytes.len() as f64) as usize);
        } else {
            apply(&mut bytes, 1 << 20, &edits);
        }
        if let Ok(enc) = Encoder::from_gguf_bytes(&bytes) {
            let _ = enc.embed(&["red mug", ""]);
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// The session model GGUF: truncated or edited anywhere; one that loads must also run.
    #[test]
    fn session_model_bytes_load_or_fail_typed(cut in 0.0..1.0f64, edits in edits(16), truncate in any::<bool>()) {
        let mut bytes = session_bytes().to_vec();
        let len = bytes.len();
        if truncate {
            bytes.truncate((cut * len as f64) as usize);
        } else {
            apply(&mut bytes, len, &edits);
        }
        if let Ok(model) = SessionModel::from_gguf_bytes(&bytes) {
            let mut v = engine();
            if v.set_session_model(model).is_ok() {
                use_engine(&mut v);
            }
        }
    }

    /// Catalog files edited anywhere and re-signed (anyone can recompute the trailing SHA-256), in both
    /// precisions: a parse error, or vectors the engine ranks with.
    #[test]
    fn catalog_bytes_load_or_fail_typed(edits in edits(12), f16 in any::<bool>(), cut in 0.0..1.0f64, truncate in any::<bool>()) {
        use sha2::{Digest, Sha256};
        let precision = if f16 { vitrine::catalog::Precision::F16 } else { vitrine::catalog::Precision::F32 };
        let mut bytes = catalog().to_bytes(precision);
        let body = bytes.len() - 32;
        bytes.truncate(body);
        if truncate {
            bytes.truncate((cut * body as f64) as usize);
        } else {
            apply(&mut bytes, body, &edits);
        }
        let sum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&sum);
        if let Ok(catalog) = Catalog::from_bytes(&bytes) {
            let mut v = Vitrine::new(Config::default(), &[7; 16]).unwrap();
            if v.load_catalog(&catalog).is_ok() {
                use_engine(&mut v);
            }
        }
    }

    /// Events with any field values (NaN and ±∞ included), then every placement over the history.
    #[test]
    fn events_are_stored_or_refused(events in prop::collection::vec(event(), 1..12)) {
        let mut v = engine();
        for e in events {
            let _ = v.track(e, NOW);
        }
        use_engine(&mut v);
        let snapshot = serde_json::to_string(&v.history().snapshot()).unwrap();
        let mut again = engine();
        again.history_mut().restore(&snapshot, NOW).unwrap();
    }

    /// Event JSON of any shape through serde (the boundary's conversion), then `track`.
    #[test]
    fn event_json_is_stored_or_refused(value in json()) {
        let mut v = engine();
        if let Ok(e) = serde_json::from_value::<Event>(value) {
            let _ = v.track(e, NOW);
        }
        use_engine(&mut v);
    }

    /// A persisted history of any shape: restored (damaged records skipped) or refused.
    #[test]
    fn history_json_is_restored_or_refused(value in json(), events in prop::collection::vec(json(), 0..6)) {
        let mut v = engine();
        let _ = v.history_mut().restore(&value.to_string(), NOW);
        let snapshot = serde_json::json!({ "version": 1, "events": events });
        let _ = v.history_mut().restore(&snapshot.to_string(), NOW);
        use_engine(&mut v);
    }

    /// Persisted report state and ledger, the collector's registry and priors, and a posted report, of
    /// any shape (a registered experiment on the slot `use_engine` picks for, so reports are built).
    #[test]
    fn report_json_is_taken_or_refused(
        state in json(),
        ledger in json(),
        priors in json(),
        registry in json(),
        report in json(),
    ) {
        let mut v = engine();
        v.set_consent(true);
        let _ = v.restore_report_state(&state.to_string());
        let _ = v.set_priors(&priors.to_string());
        let _ = v.set_registry(&registry.to_string());
        v.set_ledger(Some(&ledger.to_string()), NOW);
        use_engine(&mut v);
        v.set_registry(REGISTRY).unwrap();
        use_engine(&mut v);
        if let Ok(r) = serde_json::from_value::<Report>(report) {
            if r.validate((NOW / 3.6e6) as u32).is_ok() {
                let registry = Registry::from_json(REGISTRY).unwrap();
                let _ = r.validate_for(&registry.experiments[0]);
            }
        }
    }

    /// Rules, placements and candidates with any values: results, or an error; results obey the limit
    /// and name each candidate at most once.
    #[test]
    fn rank_returns_results_or_a_typed_error(
        rules in rules(),
        placement in placement(),
        candidates in prop::option::of(candidates()),
        events in prop::collection::vec(event(), 0..6),
    ) {
        let mut v = engine();
        for e in events {
            let _ = v.track(e, NOW);
        }
        let all: Vec<Candidate> = (0..PRODUCTS).map(|i| candidate(&format!("p{i}"))).collect();
        let candidates = candidates.unwrap_or(all);
        if let Ok(ranked) = v.rank(&placement, &candidates, &rules, NOW) {
            prop_assert!(ranked.len() <= rules.limit);
            let mut ids = std::collections::HashSet::new();
            for r in &ranked {
                prop_assert!(ids.insert(r.id.clone()), "{} twice", r.id);
                prop_assert!(candidates.iter().any(|c| c.id == r.id), "{} is not a candidate", r.id);
            }
        }
    }

    /// Copy options and variants with any values (a JS NaN fit weight or holdout included).
    #[test]
    fn pick_copy_picks_or_refuses(
        fit_weight in small_f32(),
        holdout in number(),
        ab in any::<bool>(),
        ids in prop::collection::vec(id(), 0..5),
        slot in prop_oneof![Just("banner".to_string()), "\\PC{0,10}"],
    ) {
        let mut v = engine();
        v.set_consent(true);
        let _ = v.track(view(2), NOW);
        let options = if ab { CopyOptions::Ab { holdout } } else { CopyOptions::Bandit { fit_weight } };
        let variants: Vec<CopyVariant> = ids.into_iter().map(|id| CopyVariant { text: id.clone(), id }).collect();
        let mut rng = StdRng::seed_from_u64(3);
        if let Ok(pick) = v.pick_copy(&slot, &variants, options, NOW, &mut rng) {
            prop_assert!(variants.iter().any(|x| x.id == pick.variant));
        }
        let _ = v.build_reports(None, NOW, &mut rng);
    }

    /// Segment files of any shape.
    #[test]
    fn segments_json_is_taken_or_refused(value in json()) {
        if let Ok(s) = Segments::from_json(&value.to_string()) {
            let mut v = engine();
            if v.set_segments(s).is_ok() {
                use_engine(&mut v);
            }
        }
    }
}

// Findings, kept as plain cases.

/// Found by `rank_returns_results_or_a_typed_error` (PROPTEST_CASES=3000 PROPTEST_RNG_SEED=1): diversity
/// with a limit over 200 (the MMR pool's cap) panicked in `clamp(limit, 200)`, killing the wasm instance.
#[test]
fn diversity_with_a_limit_over_the_mmr_pool_ranks() {
    let mut v = engine();
    let candidates: Vec<Candidate> = (0..PRODUCTS).map(|i| candidate(&format!("p{i}"))).collect();
    for limit in [201, 1000] {
        let rules = Rules {
            limit,
            diversity: Some(Diversity { lambda: 0.5 }),
            ..Rules::default()
        };
        // rerankSearch needs the encoder, which this engine has not: the other three rank from vectors.
        for p in placements()
            .into_iter()
            .filter(|p| !matches!(p, Placement::RerankSearch { .. }))
        {
            let ranked = v.rank(&p, &candidates, &rules, NOW).unwrap();
            assert!(ranked.len() <= PRODUCTS);
        }
    }
}

/// Found by `rank_returns_results_or_a_typed_error` (PROPTEST_CASES=1500 PROPTEST_RNG_SEED=20261202): two
/// pins of one id put the item in the results twice. Issue 14 item 2 lists the bug ("duplicate pins
/// insert the same item twice"), fixed in src/rank/rules.rs.
#[test]
fn duplicate_pins_place_an_item_once_or_are_refused() {
    let mut v = engine();
    let candidates: Vec<Candidate> = (0..PRODUCTS).map(|i| candidate(&format!("p{i}"))).collect();
    let pin = Pin {
        id: "p10".into(),
        position: 0,
    };
    let rules = Rules {
        limit: 2,
        pins: vec![pin.clone(), pin],
        exclude_purchased: false,
        ..Rules::default()
    };
    if let Ok(ranked) = v.rank(&Placement::ForYou, &candidates, &rules, NOW) {
        let ids: Vec<&str> = ranked.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.iter().filter(|&&id| id == "p10").count(), 1, "{ids:?}");
    }
}
