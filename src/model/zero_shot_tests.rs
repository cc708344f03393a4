//! The zero-shot score against values computed by hand from its definition.

use super::*;

const TITLES: [&str; 4] = [
    "red wool scarf",
    "blue cotton shirt",
    "red cotton scarf",
    "green hat",
];

fn step<'a>(
    vector: &'a [f32],
    kind: EventKind,
    gap: Option<f32>,
    text: &'a str,
    price: f32,
) -> ZeroShotStep<'a> {
    ZeroShotStep {
        step: SessionStep {
            vector,
            kind,
            gap_secs: gap,
        },
        text,
        price: Some(price),
    }
}

#[test]
fn the_score_adds_text_cosine_words_and_price_as_defined() {
    let (v0, v1) = ([1.0f32, 0.0], [0.0f32, 1.0]);
    let steps = [
        step(&v0, EventKind::View, None, TITLES[0], 10.0),
        step(&v1, EventKind::Purchase, None, TITLES[1], 20.0),
    ];
    let mix = ZeroShotMix {
        decay: 0.5,
        lexical: 0.4,
        lexical_decay: 0.5,
        price: 0.3,
        ..Default::default()
    };
    let lex = Lexicon::new(TITLES);
    let p = mix.profile(&steps, &lex);
    let cand = [0.6f32, 0.8];
    let got = mix.score(&p, &cand, &lex.vector(TITLES[2]), Some(15.0)).unwrap();

    // Weights: the purchase (2.0, newest) and the view (1.0 × 0.5).
    let (w0, w1) = (0.5f64, 2.0f64);
    let norm = (w0 * w0 + w1 * w1).sqrt();
    let content = (w0 * 0.6 + w1 * 0.8) / norm;
    // 4 titles; df: red 2, wool 1, scarf 2, blue 1, cotton 2, shirt 1.
    let (i1, i2) = ((5.0f64 / 2.0).ln(), (5.0f64 / 3.0).ln());
    let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let cand_n = n(&[i2, i2, i2]);
    let cos0 = 2.0 * i2 * i2 / (n(&[i2, i1, i2]) * cand_n); // red, scarf
    let cos1 = i2 * i2 / (n(&[i1, i2, i1]) * cand_n); // cotton
    let words = 0.4 * (w0 * cos0 + w1 * cos1);
    let mean_ln = (w0 * 10f64.ln() + w1 * 20f64.ln()) / (w0 + w1);
    let price = 0.3 * (15f64.ln() - mean_ln).abs();
    let want = content + words - price;
    assert!((got as f64 - want).abs() < 1e-5, "{got} vs {want}");

    // Explanations split the text and word terms over the steps without changing their sums.
    let parts = mix
        .contributions(&p, &steps, &cand, &lex.vector(TITLES[2]))
        .unwrap();
    let c: f32 = parts.iter().map(|c| c.content).sum();
    let w: f32 = parts.iter().map(|c| c.words).sum();
    assert!((c as f64 - content).abs() < 1e-5 && (w as f64 - words).abs() < 1e-5);
    assert_eq!(parts.iter().map(|c| c.step).collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn steps_of_one_visit_share_its_age() {
    let v = [1.0f32, 0.0];
    let steps = [
        step(&v, EventKind::Purchase, None, "", 1.0),
        step(&v, EventKind::Purchase, Some(0.0), "", 1.0),
        step(&v, EventKind::Purchase, Some(3600.0), "", 1.0),
        step(&v, EventKind::Purchase, Some(30.0), "", 1.0),
    ];
    let per_step = ZeroShotMix {
        decay: 0.5,
        ..Default::default()
    };
    assert_eq!(per_step.weights(&steps), [0.25, 0.5, 1.0, 2.0]);
    let visits = ZeroShotMix {
        visit_gap_secs: Some(60.0),
        ..per_step.clone()
    };
    // Visits {0, 1} and {2, 3}: the newest visit weighs 2 (a purchase), the older 2 × 0.5.
    assert_eq!(visits.weights(&steps), [1.0, 1.0, 2.0, 2.0]);
    let capped = ZeroShotMix {
        max_steps: 2,
        ..per_step
    };
    assert_eq!(capped.weights(&steps), [0.0, 0.0, 1.0, 2.0]);
}

#[test]
fn without_history_or_titles_only_what_is_known_counts() {
    let mix = ZeroShotMix {
        lexical: 0.5,
        price: 1.0,
        ..Default::default()
    };
    let lex = Lexicon::new(TITLES);
    let empty = mix.profile(&[], &lex);
    assert_eq!(
        mix.score(&empty, &[0.6, 0.8], &lex.vector(TITLES[0]), Some(3.0))
            .unwrap(),
        0.0
    );
    // A step without a title or price: the text cosine alone.
    let v = [0.0f32, 1.0];
    let steps = [ZeroShotStep {
        step: SessionStep {
            vector: &v,
            kind: EventKind::View,
            gap_secs: None,
        },
        text: "",
        price: None,
    }];
    let p = mix.profile(&steps, &lex);
    let got = mix
        .score(&p, &[0.6, 0.8], &lex.vector(TITLES[0]), Some(3.0))
        .unwrap();
    assert!((got - 0.8).abs() < 1e-6, "{got}");
}
