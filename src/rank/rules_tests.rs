//! Tests of the business rules (rules.rs): filters, boosts, pins, MMR (against a brute-force reference) and bad rules.
use super::*;

fn cand(id: &str, cat: &str, price: f64) -> Candidate {
    Candidate {
        id: id.into(),
        title: None,
        category: Some(cat.into()),
        price: Some(price),
    }
}

fn ids(c: &[Candidate], p: &[Placed]) -> Vec<String> {
    p.iter().map(|x| c[x.index].id.clone()).collect()
}

#[test]
fn filters_boosts_pins_and_purchases() {
    let c = vec![
        cand("a", "x", 5.0),
        cand("b", "y", 50.0),
        cand("c", "x", 10.0),
        cand("d", "z", 1.0),
    ];
    let rel = [Some(0.9), Some(0.8), Some(0.7), None];
    let v = [None; 4];
    let bought: HashSet<&str> = ["a"].into();
    let mut rules = Rules::default();
    // "a" is bought, "d" has no score: b, c remain, by relevance.
    assert_eq!(
        ids(&c, &apply_rules(&c, &rel, &v, &rules, &bought).unwrap()),
        ["b", "c"]
    );
    rules.boosts.push(Boost {
        category: Some("x".into()),
        ids: vec![],
        weight: 0.2,
    });
    assert_eq!(
        ids(&c, &apply_rules(&c, &rel, &v, &rules, &bought).unwrap()),
        ["c", "b"]
    );
    rules.filters.max_price = Some(20.0);
    assert_eq!(
        ids(&c, &apply_rules(&c, &rel, &v, &rules, &bought).unwrap()),
        ["c"]
    );
    rules.pins.push(Pin {
        id: "d".into(),
        position: 0,
    });
    let out = apply_rules(&c, &rel, &v, &rules, &bought).unwrap();
    assert_eq!(ids(&c, &out), ["d", "c"]);
    assert!(out[0].pinned && !out[1].pinned);
    // The caller resolves exclude_purchased = false to an empty exclusion set.
    rules.filters = Filters {
        categories: vec!["x".into()],
        ..Filters::default()
    };
    rules.pins.clear();
    assert_eq!(
        ids(&c, &apply_rules(&c, &rel, &v, &rules, &HashSet::new()).unwrap()),
        ["a", "c"]
    );
}

#[test]
fn an_id_pinned_twice_is_placed_once_at_its_first_position() {
    let c: Vec<_> = ["a", "b", "c", "d"].iter().map(|id| cand(id, "x", 1.0)).collect();
    let rel = [Some(0.1), Some(0.9), Some(0.8), Some(0.7)];
    let rules: Rules =
        serde_json::from_str(r#"{"pins":[{"id":"a","position":2},{"id":"a","position":0}]}"#).unwrap();
    rules.validate().unwrap();
    let out = apply_rules(&c, &rel, &[None; 4], &rules, &HashSet::new()).unwrap();
    assert_eq!(ids(&c, &out), ["a", "b", "c", "d"]);
}

#[test]
fn a_nan_relevance_is_unscored_not_first() {
    // NaN compares above every number under total_cmp: it must not reach the sort.
    let c: Vec<_> = ["a", "b", "c"].iter().map(|id| cand(id, "x", 1.0)).collect();
    let rel = [Some(0.2), Some(f32::NAN), Some(0.5)];
    let out = apply_rules(&c, &rel, &[None; 3], &Rules::default(), &HashSet::new()).unwrap();
    assert_eq!(ids(&c, &out), ["c", "a"]);
}

#[test]
fn ties_keep_candidate_order_and_limit_applies() {
    let c: Vec<_> = (0..5).map(|i| cand(&i.to_string(), "x", 1.0)).collect();
    let rel = [Some(0.5); 5];
    let rules = Rules {
        limit: 3,
        ..Rules::default()
    };
    assert_eq!(
        ids(
            &c,
            &apply_rules(&c, &rel, &[None; 5], &rules, &HashSet::new()).unwrap()
        ),
        ["0", "1", "2"]
    );
}

#[test]
fn the_head_is_a_stable_sort_of_all_whatever_the_limit() {
    // Only the placeable head is sorted: it must equal a full stable sort cut to the limit, ties (few
    // distinct scores) in candidate order. Reference: std's stable sort over every candidate.
    let n = 300;
    let c: Vec<_> = (0..n).map(|i| cand(&i.to_string(), "x", 1.0)).collect();
    let mut s = 12345u64;
    let rel: Vec<Option<f32>> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            Some((s >> 60) as f32 / 8.0)
        })
        .collect();
    let mut want: Vec<usize> = (0..n).collect();
    want.sort_by(|&a, &b| rel[b].unwrap().total_cmp(&rel[a].unwrap()));
    for limit in [0, 1, 7, 20, 299, 300, 500] {
        let rules = Rules {
            limit,
            ..Rules::default()
        };
        let got = apply_rules(&c, &rel, &vec![None; n], &rules, &HashSet::new()).unwrap();
        let got: Vec<usize> = got.iter().map(|p| p.index).collect();
        assert_eq!(got, want[..limit.min(n)], "limit {limit}");
    }
}

#[test]
fn mmr_matches_a_brute_force_reference() {
    // Two near-duplicates and one distinct item: with λ = 0.5 the distinct one comes second.
    let e1 = [1.0f32, 0.0];
    let e2 = [0.995f32, 0.0998];
    let e3 = [0.0f32, 1.0];
    let c = vec![cand("a", "x", 1.0), cand("b", "x", 1.0), cand("c", "x", 1.0)];
    let rel = [Some(0.9), Some(0.85), Some(0.5)];
    let v: Vec<Option<&[f32]>> = vec![Some(&e1), Some(&e2), Some(&e3)];
    let rules = Rules {
        diversity: Some(Diversity { lambda: 0.5 }),
        ..Rules::default()
    };
    let out = apply_rules(&c, &rel, &v, &rules, &HashSet::new()).unwrap();
    assert_eq!(ids(&c, &out), ["a", "c", "b"]);
    // Reference MMR score of the second pick: 0.5·0.5 − 0.5·max(0, cos(c, a)) = 0.25.
    assert!((out[1].score - 0.25).abs() < 1e-6);
    let plain = Rules {
        diversity: Some(Diversity { lambda: 1.0 }),
        ..Rules::default()
    };
    assert_eq!(
        ids(&c, &apply_rules(&c, &rel, &v, &plain, &HashSet::new()).unwrap()),
        ["a", "b", "c"]
    );
}

#[test]
fn bad_rules_are_rejected() {
    assert!(Rules {
        limit: 0,
        ..Rules::default()
    }
    .validate()
    .is_err());
    let boost = Boost {
        category: None,
        ids: vec![],
        weight: 0.1,
    };
    assert!(Rules {
        boosts: vec![boost],
        ..Rules::default()
    }
    .validate()
    .is_err());
    let d = Some(Diversity { lambda: 2.0 });
    assert!(Rules {
        diversity: d,
        ..Rules::default()
    }
    .validate()
    .is_err());
    assert!(
        serde_json::from_str::<Rules>(r#"{"limt": 3}"#).is_err(),
        "typos must not pass silently"
    );
}
