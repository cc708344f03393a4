//! `vitrine simulate --power`: shoppers per arm to tell the first two variants' CTRs apart at 80 % power
//! (two-sided α = 0.05), from the collector's own estimator at the SDK's ε — before (the v1 report: OUE
//! at ε = 1 per entry) and after (this layout). `--power-runs R` checks the figure by running R seeded
//! tests of that size through the device's report builder and the collector's estimator.

use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vitrine::report::{
    Experiment, ExperimentMode, Interaction, Ledger, Mechanism, Randomiser, Registry, Reporter, CATEGORIES,
    REPORT_EPSILON, SEGMENTS,
};
use vitrine_collector::dap::rates::discrete_laplace;
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
    let dap = dap_needed(truths, REPORT_EPSILON, 1);
    println!(
        "  DAP    (Prio3Histogram over {} cells, both aggregators' discrete Laplace at epsilon {REPORT_EPSILON}): {dap:>9.0}",
        truths.len() * CATEGORIES
    );
    // Segments as an extra axis: each variant × outcome total is then the sum of SEGMENTS cells, each
    // with its own noise, so the noise variance of a total grows SEGMENTS-fold.
    let segments = usize::from(SEGMENTS);
    let segmented = dap_needed(truths, REPORT_EPSILON, segments);
    println!(
        "  DAP with {SEGMENTS} segments as an axis ({} cells; a total sums {SEGMENTS} noised cells):        {segmented:>9.0}",
        truths.len() * CATEGORIES * segments
    );
    if args.power_runs > 0 {
        let n = dap.ceil() as usize;
        let hits = (0..args.power_runs)
            .filter(|i| dap_simulated_test(truths, n, REPORT_EPSILON, args.seed.wrapping_add(*i as u64)))
            .count();
        println!(
            "  simulated DAP: {hits} of {} seeded tests with {n} shoppers per arm found the difference ({:.1} %)",
            args.power_runs,
            100.0 * hits as f64 / args.power_runs as f64
        );
    }
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

/// The DAP experiment's cells for `n` shoppers per arm at the true shares (expected counts).
fn dap_cells(truths: &[Truth], n: f64) -> Vec<f64> {
    truths
        .iter()
        .flat_map(|t| {
            let mut c = [0.0; CATEGORIES];
            c[..4].copy_from_slice(&[1.0 - t.ctr, t.ctr - t.atc, t.atc - t.cvr, t.cvr]);
            c.map(|x| x * n)
        })
        .collect()
}

/// Whether the collector's DAP rates tell the first two CTRs apart (95 % interval of the difference).
fn dap_detects(truths: &[Truth], cells: &[f64], noise_var: f64, reports: u64) -> Option<f64> {
    let exp = experiment(ExperimentMode::Ab, truths);
    let r = vitrine_collector::dap::rates::rates(&exp, cells, noise_var, Some(reports));
    let (a, b) = (r.first()?.ctr, r.get(1)?.ctr);
    Some((b.estimate - a.estimate) / (a.se * a.se + b.se * b.se).sqrt())
}

/// Shoppers per arm for 80 % power in DAP mode: the smallest `n` whose expected z reaches z95 + z80,
/// with the collector's own DAP intervals (sampling plus the central noise).
/// `fold`: cells summed into each variant × outcome total (1, or the segments of a segmented task).
fn dap_needed(truths: &[Truth], epsilon: f64, fold: usize) -> f64 {
    let task = vitrine::report::dap::VdafSpec::histogram(truths.len() * CATEGORIES * fold);
    let noise_var = 2.0 * fold as f64 * vitrine::report::dap::noise_variance(&task, epsilon);
    let target = vitrine_collector::estimate::z95() + vitrine_collector::estimate::normal_quantile(0.8);
    let reports = |n: f64| (n * truths.len() as f64).round() as u64;
    let z = |n: f64| dap_detects(truths, &dap_cells(truths, n), noise_var, reports(n)).map_or(0.0, f64::abs);
    let (mut lo, mut hi) = (10.0_f64, 1e8_f64);
    while hi - lo > 1.0 {
        let mid = (lo * hi).sqrt().max(lo + 0.5);
        if z(mid) >= target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi.ceil()
}

/// One seeded DAP test: `n` shoppers per arm, the exact cell sums plus each aggregator's noise, read by
/// the collector's DAP rates.
fn dap_simulated_test(truths: &[Truth], n: usize, epsilon: f64, seed: u64) -> bool {
    let mut rng = StdRng::seed_from_u64(seed);
    let task = vitrine::report::dap::VdafSpec::histogram(truths.len() * CATEGORIES);
    let scale = task.sensitivity() / epsilon;
    let mut cells = vec![0.0; truths.len() * CATEGORIES];
    for (j, t) in truths.iter().enumerate() {
        for _ in 0..n {
            let u: f64 = rng.random();
            let o = if u < t.cvr {
                3
            } else if u < t.atc {
                2
            } else {
                usize::from(u < t.ctr)
            };
            cells[j * CATEGORIES + o] += 1.0;
        }
    }
    for c in cells.iter_mut() {
        *c += discrete_laplace(&mut rng, scale) + discrete_laplace(&mut rng, scale);
    }
    let noise_var = 2.0 * vitrine::report::dap::noise_variance(&task, epsilon);
    dap_detects(truths, &cells, noise_var, (n * truths.len()) as u64)
        .is_some_and(|z| z.abs() > vitrine_collector::estimate::z95())
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
