//! The SDK's default forYou (no session model) is the scorer `vitrine eval --method zero-shot` measures:
//! the same order on real Online Retail products, and reasons that name the title words behind a score.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;

use vitrine::catalog::Catalog;
use vitrine::history::{Event, EventKind};
use vitrine::model::zero_shot::{ZeroShotCatalog, ZeroShotMix, ZeroShotStep};
use vitrine::model::SessionStep;
use vitrine::rank::{Candidate, Placement, ReasonKind, Rules};
use vitrine::sdk::Config;
use vitrine::{Encoder, Vitrine};

const NOW: f64 = 1.7e12;

/// The first `n` products of the demo's data set, with titles and prices.
fn products(n: usize) -> Vec<Candidate> {
    let csv = std::fs::read_to_string("../shared/data/onlineretail/products.csv").expect("shared data");
    csv.lines()
        .skip(1)
        .take(n)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            Candidate {
                id: f[0].to_string(),
                title: Some(f[1].to_string()),
                category: None,
                price: f[2].parse().ok(),
            }
        })
        .collect()
}

/// An engine without an encoder whose catalog holds `vectors`: both sides read the same numbers.
fn engine(cands: &[Candidate], vectors: &[Vec<f32>]) -> Vitrine {
    let mut cat = Catalog::new(vectors[0].len(), &"0".repeat(64)).unwrap();
    for (c, v) in cands.iter().zip(vectors) {
        cat.push(c.id.clone(), v).unwrap();
    }
    let mut v = Vitrine::new(Config::default(), &[7; 16]).unwrap();
    v.load_catalog(&cat).unwrap();
    v
}

fn vectors(cands: &[Candidate]) -> Vec<Vec<f32>> {
    let enc = Encoder::from_gguf_bytes(&std::fs::read("models/minilm-l6-q8_0.gguf").unwrap()).unwrap();
    let titles: Vec<&str> = cands.iter().map(|c| c.title.as_deref().unwrap()).collect();
    enc.embed(&titles).unwrap()
}

/// Three visits (the gaps inside one are seconds, between them days), several event kinds.
const HISTORY: [(usize, EventKind, f64); 7] = [
    (11, EventKind::View, 0.0),
    (12, EventKind::Purchase, 5.0),
    (40, EventKind::View, 86_400.0 * 2.0),
    (41, EventKind::AddToCart, 86_400.0 * 2.0 + 30.0),
    (90, EventKind::View, 86_400.0 * 5.0),
    (91, EventKind::View, 86_400.0 * 5.0 + 20.0),
    (92, EventKind::Purchase, 86_400.0 * 5.0 + 40.0),
];

fn track(v: &mut Vitrine, cands: &[Candidate]) {
    let start = NOW - 86_400_000.0 * 6.0;
    for &(i, kind, secs) in &HISTORY {
        let c = &cands[i];
        let e = Event {
            kind,
            product_id: Some(c.id.clone()),
            title: c.title.clone(),
            category: None,
            price: c.price,
            quantity: Some(1),
            query: None,
            ts: Some(start + secs * 1000.0),
        };
        v.track(e, NOW).unwrap();
    }
}

#[test]
fn for_you_without_a_model_ranks_as_the_eval_scorer_does() {
    let cands = products(400);
    let vecs = vectors(&cands);
    let mut v = engine(&cands, &vecs);
    track(&mut v, &cands);
    let rules = Rules {
        limit: 100,
        ..Rules::default()
    };
    let out = v.rank(&Placement::ForYou, &cands, &rules, NOW).unwrap();

    // The eval side: the catalog scorer `vitrine eval --method zero-shot` runs, over the same items.
    let titles: Vec<String> = cands.iter().map(|c| c.title.clone().unwrap()).collect();
    let prices: Vec<Option<f32>> = cands.iter().map(|c| c.price.map(|p| p as f32)).collect();
    let flat = vecs.concat();
    let catalog = ZeroShotCatalog::new(&flat, &titles, &prices);
    let steps: Vec<ZeroShotStep> = HISTORY
        .iter()
        .enumerate()
        .map(|(j, &(i, kind, secs))| ZeroShotStep {
            step: SessionStep {
                vector: &vecs[i],
                kind,
                gap_secs: (j > 0).then(|| (secs - HISTORY[j - 1].2) as f32),
            },
            text: &titles[i],
            price: prices[i],
        })
        .collect();
    let scores = catalog.scores(&ZeroShotMix::default(), &steps).unwrap();
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let seen: BTreeSet<usize> = HISTORY.iter().map(|h| h.0).collect();
    let expected: Vec<&str> = order
        .iter()
        .filter(|i| !seen.contains(i))
        .take(100)
        .map(|&i| cands[i].id.as_str())
        .collect();
    let got: Vec<&str> = out.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(got, expected);
    for (r, &i) in out.iter().zip(order.iter().filter(|i| !seen.contains(i))) {
        assert!(
            (r.score - scores[i]).abs() < 1e-6,
            "{}: {} vs {}",
            r.id,
            r.score,
            scores[i]
        );
    }
}

/// Lower-cased alphanumeric runs: the test's own word split (Latin titles only).
fn words(t: &str) -> BTreeSet<String> {
    t.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[test]
fn reasons_name_the_title_words_shared_with_the_history() {
    let cands = products(400);
    let vecs = vectors(&cands);
    let mut v = engine(&cands, &vecs);
    track(&mut v, &cands);
    let out = v
        .rank(&Placement::ForYou, &cands, &Rules::default(), NOW)
        .unwrap();
    let title = |id: &str| cands.iter().find(|c| c.id == id).unwrap().title.clone().unwrap();
    let mut named = 0;
    for r in &out {
        let total: f32 = r.reasons.iter().map(|x| x.weight).sum();
        assert!((total - 1.0).abs() < 1e-4, "reasons of {} sum to {total}", r.id);
        for reason in r.reasons.iter().filter(|x| x.kind == ReasonKind::Words) {
            let event = reason
                .product_id
                .as_deref()
                .expect("a words reason names the event's product");
            let shared: BTreeSet<String> = &words(&title(event)) & &words(&title(&r.id));
            let named_words = reason.words.as_ref().expect("a words reason lists its words");
            assert!(!named_words.is_empty() && named_words.len() <= 3);
            for w in named_words {
                assert!(
                    shared.contains(w),
                    "{w:?} is not shared by {} and {}",
                    title(event),
                    title(&r.id)
                );
            }
            named += 1;
        }
    }
    assert!(named > 0, "no result was explained by shared words: {out:?}");
}
