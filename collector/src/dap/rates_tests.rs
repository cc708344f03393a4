//! Tests of `rates.rs`.
use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vitrine::report::dap::{noise_variance, VdafSpec};
use vitrine::report::ExperimentMode;

fn exp() -> Experiment {
    Experiment {
        id: "hero".into(),
        slot: "s".into(),
        variants: vec!["A".into(), "B".into()],
        mode: ExperimentMode::Ab,
        holdout: 0.0,
        k: 100,
        start: 0,
        end: None,
    }
}

#[test]
fn exact_cells_give_the_counted_rates() {
    // A: 1000 shown, 50 clicked of which 20 carted of which 10 bought; B: 1000, 80, 30, 12.
    let mut cells = vec![0.0; 14];
    cells[..7].copy_from_slice(&[950.0, 30.0, 10.0, 4.0, 3.0, 2.0, 1.0]);
    cells[7..].copy_from_slice(&[920.0, 50.0, 18.0, 5.0, 4.0, 2.0, 1.0]);
    let r = rates(&exp(), &cells, 0.0, Some(2000));
    assert_eq!(r[0].impressions, 1000);
    assert!((r[0].ctr.estimate - 0.05).abs() < 1e-12);
    assert!((r[0].atc_rate.estimate - 0.02).abs() < 1e-12);
    assert!((r[0].cvr.estimate - 0.01).abs() < 1e-12);
    assert!((r[1].ctr.estimate - 0.08).abs() < 1e-12);
    // No noise: the binomial standard error, sqrt(.05 · .95 / 1000) = 0.0068920.
    assert!((r[0].ctr.se - 0.006_892_0).abs() < 1e-6, "{:?}", r[0].ctr);
    assert!(!r[0].estimated);
}

#[test]
fn intervals_cover_the_truth_under_seeded_central_noise() {
    // 2,000 shoppers per arm at CTR 5 % and 8 %; histogram task, ε = 1 per aggregator (scale 2).
    let spec = VdafSpec::histogram(14);
    let sigma2 = 2.0 * noise_variance(&spec, 1.0);
    let truth = [0.05, 0.08];
    let (mut covered, mut total) = (0, 0);
    let mut noisy_wider = true;
    for seed in 0..400 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut cells = vec![0.0; 14];
        for (j, &ctr) in truth.iter().enumerate() {
            for _ in 0..2000 {
                let clicked = rng.random::<f64>() < ctr;
                cells[j * 7 + usize::from(clicked)] += 1.0;
            }
        }
        let exact = rates(&exp(), &cells, 0.0, None);
        for c in cells.iter_mut() {
            *c += discrete_laplace(&mut rng, 2.0) + discrete_laplace(&mut rng, 2.0);
        }
        let r = rates(&exp(), &cells, sigma2, Some(4000));
        for j in 0..2 {
            total += 1;
            covered += usize::from(r[j].ctr.lo <= truth[j] && truth[j] <= r[j].ctr.hi);
            noisy_wider &= r[j].ctr.se > exact[j].ctr.se;
        }
    }
    let share = covered as f64 / total as f64;
    // 800 intervals at a nominal 95 %: the binomial spread of the share is ±1.5 % (2 sd).
    assert!((0.93..=0.97).contains(&share), "coverage {share}");
    assert!(noisy_wider, "the noise must widen every interval");
}

#[test]
fn the_noise_variance_matches_a_monte_carlo_of_the_estimator() {
    // Fixed true cells (no sampling randomness), so the spread over seeds is the noise's alone.
    let mut truth = vec![0.0; 14];
    truth[..7].copy_from_slice(&[1900.0, 60.0, 20.0, 10.0, 5.0, 3.0, 2.0]);
    truth[7..].copy_from_slice(&[1850.0, 90.0, 30.0, 15.0, 8.0, 4.0, 3.0]);
    let sigma2 = 2.0 * noise_variance(&VdafSpec::histogram(14), 1.0);
    for reports in [None, Some(4000)] {
        let se2 = |nv: f64| {
            rates(&exp(), &truth, nv, reports)
                .iter()
                .map(|r| r.ctr.se.powi(2))
                .collect::<Vec<_>>()
        };
        let (with, without) = (se2(sigma2), se2(0.0));
        let mut rng = StdRng::seed_from_u64(11);
        let runs = 8000;
        let mut est = vec![Vec::new(); 2];
        for _ in 0..runs {
            let cells: Vec<f64> = truth
                .iter()
                .map(|c| c + discrete_laplace(&mut rng, 2.0) + discrete_laplace(&mut rng, 2.0))
                .collect();
            for (j, r) in rates(&exp(), &cells, sigma2, reports).iter().enumerate() {
                est[j].push(r.ctr.estimate);
            }
        }
        for j in 0..2 {
            let mean = est[j].iter().sum::<f64>() / runs as f64;
            let var = est[j].iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (runs - 1) as f64;
            let predicted = with[j] - without[j];
            assert!(
                (var / predicted - 1.0).abs() < 0.1,
                "{reports:?} variant {j}: {var} vs {predicted}"
            );
        }
    }
}

#[test]
fn segments_fold_to_the_totals_and_every_interval_covers_its_truth() {
    // 2 variants × 4 segments (56 cells), 2,000 shoppers per arm spread evenly over the segments, CTR
    // rising with the segment: A 3, 5, 7, 9 % (mean 6 %), B 6, 8, 10, 12 % (mean 9 %); each shopper's
    // segment is drawn uniformly.
    const S: usize = 4;
    let truth = |v: usize, s: usize| 0.03 + 0.03 * v as f64 + 0.02 * s as f64;
    let spec = VdafSpec::histogram(2 * S * 7);
    let sigma2 = 2.0 * noise_variance(&spec, 1.0);
    let window = |cells: Vec<f64>, noise_var: f64| DapWindow {
        experiment: "hero".into(),
        start: 0,
        duration: 3600,
        job_id: String::new(),
        state: "released".into(),
        reports: Some(4000),
        cells: Some(cells),
        noise_var,
        message: None,
    };
    let (mut covered, mut total, mut seg_covered, mut seg_total) = (0, 0, 0, 0);
    for seed in 0..300 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut cells = vec![0.0; 2 * S * 7];
        let mut flat = vec![0.0; 14];
        for v in 0..2 {
            for _ in 0..2000 {
                // Drawn, not dealt out: with exactly 500 per segment the pooled clicks would be
                // stratified, with less spread than the binomial the intervals assume.
                let s = rng.random_range(0..S);
                let clicked = usize::from(rng.random::<f64>() < truth(v, s));
                cells[(v * S + s) * 7 + clicked] += 1.0;
                flat[v * 7 + clicked] += 1.0;
            }
        }
        if seed == 0 {
            // Without noise the folded vector is the unsegmented one, exactly.
            assert_eq!(
                rates(&exp(), &cells, 0.0, Some(4000)),
                rates(&exp(), &flat, 0.0, Some(4000))
            );
            assert_eq!(fold(&exp(), &cells, 1.0).unwrap(), (flat.clone(), S as f64));
        }
        for c in cells.iter_mut() {
            *c += discrete_laplace(&mut rng, 2.0) + discrete_laplace(&mut rng, 2.0);
        }
        let b = built(&exp(), &[window(cells, sigma2)]).unwrap();
        for (v, r) in b.variants.iter().enumerate() {
            let mean = (0..S).map(|s| truth(v, s)).sum::<f64>() / S as f64;
            total += 1;
            covered += usize::from(r.ctr.lo <= mean && mean <= r.ctr.hi);
        }
    }
    assert!(
        segment_rates(&exp(), &[window(vec![0.0; 15], 0.0)]).1.is_empty(),
        "cells of no layout"
    );
    assert!(
        segment_rates(&exp(), &[window(vec![0.0; 14], 0.0)]).1.is_empty(),
        "no segment axis"
    );
    let share = covered as f64 / total as f64;
    // 600 intervals at a nominal 95 %: ±1.8 % (2 sd). Without `segments × σ²` per folded cell the
    // intervals would be too narrow.
    assert!((0.932..=0.968).contains(&share), "pooled coverage {share}");
    // Per segment: ≈ 500 shoppers per arm and segment, the segment's own noise.
    for seed in 0..200 {
        let mut rng = StdRng::seed_from_u64(1000 + seed);
        let mut cells = vec![0.0; 2 * S * 7];
        for v in 0..2 {
            for _ in 0..2000 {
                // Drawn, not dealt out: with exactly 500 per segment the pooled clicks would be
                // stratified, with less spread than the binomial the intervals assume.
                let s = rng.random_range(0..S);
                cells[(v * S + s) * 7 + usize::from(rng.random::<f64>() < truth(v, s))] += 1.0;
            }
        }
        for c in cells.iter_mut() {
            *c += discrete_laplace(&mut rng, 2.0) + discrete_laplace(&mut rng, 2.0);
        }
        let (n, per) = segment_rates(&exp(), &[window(cells, sigma2)]);
        assert_eq!(n, S);
        assert_eq!(per.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [0, 1, 2, 3]);
        for (s, variants) in per {
            for (v, r) in variants.iter().enumerate() {
                seg_total += 1;
                let t = truth(v, usize::from(s));
                seg_covered += usize::from(r.ctr.lo <= t && t <= r.ctr.hi);
            }
        }
    }
    let share = seg_covered as f64 / seg_total as f64;
    // 1,600 intervals: ±1.1 % (2 sd).
    assert!((0.939..=0.961).contains(&share), "per-segment coverage {share}");
}
