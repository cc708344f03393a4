//! `vitrine simulate --power`: shoppers per arm to tell the first two variants' CTRs apart at 80 % power
//! (two-sided α = 0.05), from the collector's own estimator at the SDK's ε — before (the v1 report: OUE
//! at ε = 1 per entry) and after (this layout). `--power-runs R` checks the figure by running R seeded
//! tests of that size through the device's report builder and the collector's estimator.

use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vitrine::report::{
    Experiment, ExperimentMode, Interaction, Ledger, Mechanism, Randomiser, Registry, Reporter,
    REPORT_EPSILON,
};
use vitrine_collector::estimate::{estimate, Metric, Noised};
use vitrine_collector::power::{per_shopper_variance, shares, shoppers_per_arm};

use crate::simulate::{SimulateArgs, Truth};

const NOW: u64 = 1_800_000_000;

fn experiment(mode: ExperimentMode, truths: &[Truth]) -> Experiment {
    Experiment {
        id: "power".into(),
        slot: "power".into(),
        variants: truths.iter().map(|t| t.name.clone()).collect(),
        mode,
        holdout: 0.0,
        k: 100,
        start: 0,
        end: None,
    }
}

fn needed(exp: &Experiment, rr: &Randomiser, truths: &[Truth]) -> Result<f64> {
    let s: Vec<_> = truths.iter().map(|t| shares(t.ctr, t.atc, t.cvr)).collect();
    let Some(var) = per_shopper_variance(&exp.layout(), rr, &s, Metric::Ctr) else {
        bail!("no estimate for these rates");
    };
    Ok(shoppers_per_arm(
        var[0],
        var[1],
        truths[1].ctr - truths[0].ctr,
        0.05,
        0.8,
    ))
}

/// Print the table (and the simulated check).
pub fn run(args: &SimulateArgs, truths: &[Truth]) -> Result<()> {
    if truths.len() < 2 || (truths[1].ctr - truths[0].ctr).abs() < 1e-9 {
        bail!("--power needs two variants with different CTRs, e.g. --variants \"A:0.05,B:0.07\"");
    }
    let mode = args.mode.parse::<ExperimentMode>()?;
    let exp = experiment(mode, truths);
    println!(
        "shoppers per arm to see CTR {:.1} % -> {:.1} % (80 % power, two-sided alpha 0.05), collector estimator:",
        100.0 * truths[0].ctr,
        100.0 * truths[1].ctr
    );
    let ab = experiment(ExperimentMode::Ab, truths);
    // v1 randomised 7 outcomes with OUE; CTR reads only the `seen` bit, so 4 cells give the same variance.
    let before = needed(&ab, &Randomiser::new(Mechanism::Oue, 4, 1.0)?, truths)?;
    println!("  before (v1: OUE over 7 outcomes, epsilon 1 per entry, A/B):  {before:>9.0}");
    let rr = Randomiser::for_domain(exp.layout().domain(), REPORT_EPSILON)?;
    let after = needed(&exp, &rr, truths)?;
    println!(
        "  after  ({}: {:?} over {} cells, epsilon {REPORT_EPSILON} per report): {after:>9.0}",
        args.mode, rr.mechanism, rr.d
    );
    if args.power_runs > 0 {
        let n = after.ceil() as usize;
        let hits = (0..args.power_runs)
            .filter(|i| simulated_test(&exp, truths, n, args.seed.wrapping_add(*i as u64)))
            .count();
        println!(
            "  simulated: {hits} of {} seeded tests with {n} shoppers per arm found the difference ({:.1} %)",
            args.power_runs,
            100.0 * hits as f64 / args.power_runs as f64
        );
    }
    Ok(())
}

/// One A/B or bandit test of `n` shoppers per arm through the device's builder and the collector's
/// estimator: whether the 95 % interval of the CTR difference excludes 0.
fn simulated_test(exp: &Experiment, truths: &[Truth], n: usize, seed: u64) -> bool {
    let mut rng = StdRng::seed_from_u64(seed);
    let registry = Registry {
        v: 1,
        experiments: vec![exp.clone()],
    };
    let layout = exp.layout();
    let d = layout.domain();
    let Ok(rr) = Randomiser::for_domain(d, REPORT_EPSILON) else {
        return false;
    };
    let arms = match exp.mode {
        ExperimentMode::Ab => 2,
        ExperimentMode::Bandit => 1,
    };
    let mut noised = vec![Noised::new(d); arms];
    for (j, truth) in truths.iter().take(2).enumerate() {
        for _ in 0..n {
            let mut dev = Reporter::new();
            let v = &exp.variants[j];
            let _ = dev.track(exp, v, Interaction::Impression);
            if rng.random_bool(truth.ctr) {
                let _ = dev.track(exp, v, Interaction::Click);
            }
            let (reports, _) = dev.build(&registry, &mut Ledger::new(), NOW, &mut rng);
            for r in reports {
                let c = &mut noised[if arms == 2 { j } else { 0 }];
                c.n += 1;
                r.r.add_to(&mut c.counts);
            }
        }
    }
    let est = |j: usize| {
        estimate(
            &layout,
            &rr,
            &noised[if arms == 2 { j } else { 0 }],
            j,
            Metric::Ctr,
        )
    };
    let (Some((a, _)), Some((b, _))) = (est(0), est(1)) else {
        return false;
    };
    let se = (a.se * a.se + b.se * b.se).sqrt();
    ((b.estimate - a.estimate) / se).abs() > vitrine_collector::estimate::z95()
}
