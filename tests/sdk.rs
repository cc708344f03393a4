//! The SDK object's guards, natively with the real q8 encoder: the encoded-vector cache never drops what
//! the current call needs. Each test failed on the code before its fix.
#![cfg(not(target_arch = "wasm32"))]

use vitrine::history::{Event, EventKind};
use vitrine::rank::{Candidate, Placement, Rules};
use vitrine::sdk::Config;
use vitrine::{Encoder, Vitrine};

const NOW: f64 = 1.7e12;
/// The cache's bound in `src/sdk/vectors.rs`.
const MAX_ENCODED: usize = 20_000;

fn encoder() -> Encoder {
    Encoder::from_gguf_bytes(&std::fs::read("models/minilm-l6-q8_0.gguf").unwrap()).unwrap()
}

fn titled(id: &str, title: &str) -> Candidate {
    Candidate {
        id: id.into(),
        title: Some(title.into()),
        category: None,
        price: None,
    }
}

fn view(id: &str, title: &str, ts: f64) -> Event {
    Event {
        kind: EventKind::View,
        product_id: Some(id.into()),
        title: Some(title.into()),
        category: None,
        price: None,
        quantity: None,
        query: None,
        ts: Some(ts),
    }
}

/// The case: history items with titles but no catalog vectors, then a `rank` whose candidates
/// push the encoded cache past its bound. The old cache restarted empty mid-call, after the history was
/// encoded, so forYou lost the session and returned the page's order.
#[test]
fn a_full_cache_keeps_the_history_the_current_rank_needs() {
    let mut v = Vitrine::new(Config::default(), &[3; 16]).unwrap();
    v.set_encoder(encoder());
    let history = [
        "CHRISTMAS TREE DECORATION WITH BELL",
        "RED CHRISTMAS BAUBLE GLASS",
        "SET OF 6 CHRISTMAS TREE CANDLES",
    ];
    for (i, t) in history.iter().enumerate() {
        v.track(view(&format!("h{i}"), t, NOW - 60_000.0 * (3 - i) as f64), NOW)
            .unwrap();
    }
    // Vectors of other pages' products, encoded earlier (as the GPU backend hands them over): the cache
    // is 10 short of its bound before this call.
    let fill = MAX_ENCODED - 10;
    let keys: Vec<String> = (0..fill).map(|i| format!("fill-{i}")).collect();
    let mut flat = vec![0f32; fill * 384];
    for (i, row) in flat.chunks_mut(384).enumerate() {
        row[i % 384] = 1.0;
    }
    v.put_vectors(keys, &flat).unwrap();

    // Kitchen items first: without a session, ties keep this order.
    let candidates = vec![
        titled("k1", "ENAMEL MEASURING JUG CREAM"),
        titled("k2", "BAKING SET 9 PIECE RETROSPOT"),
        titled("k3", "SET OF 3 CAKE TINS PANTRY DESIGN"),
        titled("k4", "KITCHEN METAL SIGN"),
        titled("k5", "TEA TIME TEA TOWELS"),
        titled("x1", "CHRISTMAS CRAFT TREE TOP ANGEL"),
        titled("x2", "PAPER CHAIN KIT VINTAGE CHRISTMAS"),
        titled("x3", "CHRISTMAS LIGHTS 10 REINDEER"),
        titled("x4", "STAR WOODEN CHRISTMAS DECORATION"),
        titled("x5", "CHRISTMAS HANGING STAR WITH BELL"),
    ];
    let rules = Rules {
        limit: 5,
        ..Rules::default()
    };
    let out = v.rank(&Placement::ForYou, &candidates, &rules, NOW).unwrap();
    let ids: Vec<&str> = out.iter().map(|r| r.id.as_str()).collect();
    assert!(
        ids.iter().all(|id| id.starts_with('x')),
        "forYou after three Christmas views: {ids:?}"
    );
    assert!(
        out.iter().all(|r| !r.reasons.is_empty()),
        "every pick is explained by the history"
    );
    let kept = v.diagnostics().encoded_vectors;
    assert!(kept <= MAX_ENCODED, "the cache stays bounded: {kept}");
    assert!(kept >= history.len() + candidates.len(), "{kept}");
}
