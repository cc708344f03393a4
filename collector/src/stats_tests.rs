//! Tests of the statistics document (stats.rs): the lift interval agrees with the verdict.
use super::*;

fn rate(estimate: f64, se: f64) -> Interval {
    Interval::new(estimate, se)
}

#[test]
fn the_lift_interval_agrees_with_the_verdict() {
    // Expected bounds from an independent grid scan (step 1e-6) of the ratios Fieller's inequality
    // accepts, in Python; tolerance 1e-5.
    let c = rate(0.0482, 0.0076);
    let lift = fieller_lift(&rate(0.0732, 0.0077), &c).unwrap();
    assert!((lift.estimate - 0.518672).abs() < 1e-5, "{lift:?}");
    assert!(
        (lift.lo - 0.064513).abs() < 1e-5 && (lift.hi - 1.293545).abs() < 1e-5,
        "{lift:?}"
    );
    // A narrow win: the difference's interval starts just above 0, and so does the lift's.
    let narrow = rate(0.0700, 0.0077);
    let comp = compare_ctr(&c, &narrow);
    assert_eq!(comp.outcome, "wins");
    let lift = comp.lift.unwrap();
    assert!(
        (lift.lo - 0.010142).abs() < 1e-5 && (lift.hi - 1.201116).abs() < 1e-5,
        "{lift:?}"
    );
    // Undecided: both intervals hold 0.
    let comp = compare_ctr(&c, &rate(0.0600, 0.0077));
    assert_eq!(comp.outcome, "undecided");
    let lift = comp.lift.unwrap();
    assert!(lift.lo < 0.0 && lift.hi > 0.0, "{lift:?}");
    // A control CTR within noise of 0: no relative lift.
    assert!(fieller_lift(&rate(0.05, 0.01), &rate(0.01, 0.0076)).is_none());
}

fn compare_ctr(control: &Interval, variant: &Interval) -> Comparison {
    let rates = |name: &str, ctr: &Interval| Rates {
        variant: name.into(),
        impressions: 10_000,
        estimated: false,
        ctr: *ctr,
        atc_rate: *ctr,
        cvr: *ctr,
    };
    compare(&rates("A", control), &rates("B", variant))
}
