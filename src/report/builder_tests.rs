//! Tests of `builder.rs`.
use super::*;
use crate::report::ldp::Randomised;
use rand::{rngs::StdRng, SeedableRng};

const NOW: u64 = 1_800_000_000;

fn registry() -> Registry {
    let e = |id: &str, mode| Experiment {
        id: id.into(),
        slot: id.into(),
        variants: vec!["A".into(), "B".into(), "C".into()],
        mode,
        holdout: 0.0,
        k: 100,
        start: NOW - 86_400,
        end: None,
    };
    Registry {
        v: 1,
        experiments: vec![
            e("ab1", ExperimentMode::Ab),
            e("ab2", ExperimentMode::Ab),
            e("bandit", ExperimentMode::Bandit),
        ],
    }
}

#[test]
fn two_reports_a_day_each_experiment_once_and_no_variant_in_clear_for_a_bandit() {
    let reg = registry();
    let mut r = Reporter::new();
    let mut rng = StdRng::seed_from_u64(1);
    for e in &reg.experiments {
        assert_eq!(
            r.track(e, "C", Interaction::Impression).unwrap(),
            Tracked::Counted
        );
    }
    assert!(matches!(
        r.track(&reg.experiments[0], "A", Interaction::Click).unwrap(),
        Tracked::Not(_)
    ));
    let mut ledger = Ledger::new();
    let (reports, why) = r.build(&reg, &mut ledger, NOW, &mut rng);
    assert_eq!(reports.len(), 2, "4 ε a day at 2 per report: {why:?}");
    assert_eq!(r.pending().len(), 1, "the third waits");
    let (later, _) = r.build(&reg, &mut ledger, NOW + 86_400, &mut rng);
    assert_eq!(later.len(), 1);
    let bandit = reports
        .iter()
        .chain(&later)
        .find(|x| x.experiment == "bandit")
        .unwrap();
    assert_eq!(bandit.arm, None, "the bandit's variant is inside r");
    assert!(matches!(bandit.r, Randomised::Value(v) if v < 12));
    let ab = reports.iter().find(|x| x.experiment == "ab1").unwrap();
    assert_eq!(ab.arm.as_deref(), Some("C"));
    for rep in reports.iter().chain(&later) {
        rep.validate((NOW / 3600) as u32 + 24).unwrap();
        rep.validate_for(reg.get(&rep.experiment).unwrap()).unwrap();
    }
    // Counted again after reporting: never reported twice.
    r.track(&reg.experiments[0], "C", Interaction::Impression)
        .unwrap();
    let (again, why) = r.build(&reg, &mut ledger, NOW + 3 * 86_400, &mut rng);
    assert!(again.is_empty() && why[0].1.contains("lifetime"), "{why:?}");
}

#[test]
fn no_consent_no_counters_and_unregistered_variants_refused() {
    let reg = registry();
    let mut r = Reporter::new();
    r.track(&reg.experiments[0], "A", Interaction::Impression)
        .unwrap();
    r.set_consent(false);
    assert!(r.pending().is_empty());
    assert!(matches!(
        r.track(&reg.experiments[0], "A", Interaction::Impression)
            .unwrap(),
        Tracked::Not(_)
    ));
    let (reports, _) = r.build(&reg, &mut Ledger::new(), NOW, &mut StdRng::seed_from_u64(0));
    assert!(reports.is_empty());
    let mut r = Reporter::new();
    assert!(r
        .track(&reg.experiments[0], "customer-4711", Interaction::Impression)
        .is_err());
    assert!(
        r.track(&reg.experiments[0], "holdout", Interaction::Impression)
            .is_err(),
        "no holdout registered"
    );
}

#[test]
fn report_json_carries_only_the_clear_fields() {
    let reg = registry();
    let mut r = Reporter::new();
    r.track(&reg.experiments[0], "B", Interaction::Impression)
        .unwrap();
    let (reports, _) = r.build(&reg, &mut Ledger::new(), NOW, &mut StdRng::seed_from_u64(0));
    let v = serde_json::to_value(&reports[0]).unwrap();
    let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["arm", "experiment", "hour", "id", "r", "v"]);
    assert_eq!(v["hour"], NOW / 3600);
}
