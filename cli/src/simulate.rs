//! `vitrine simulate`: N simulated devices with known true rates drive the real report path (the core's
//! A/B split, counters, OUE and ε budget) and post to a collector over HTTP; then the collector's estimates
//! are printed beside the truth. `--bench-seconds S` instead measures loopback ingestion throughput.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use vitrine::copy::{choose_ab, Arm};
use vitrine::report::{
    Batch, CellKey, Interaction, Report, ReportConfig, Reporter, MAX_REPORTS_PER_BATCH, REVENUE_BUCKET_UPPER,
    REVENUE_BUCKET_VALUE, SEGMENTS,
};

/// Purchase values are drawn uniformly from this range (then clamped and bucketed on the device).
const ORDER_VALUE: (f64, f64) = (5.0, 195.0);

/// Flags of `vitrine simulate`.
#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Collector base URL, e.g. http://127.0.0.1:8787
    #[arg(long)]
    collector: String,
    /// Simulated devices (each sends one report).
    #[arg(long, default_value_t = 100_000)]
    devices: usize,
    /// Variants with true rates: `NAME:CTR[:ATC[:CVR]]`, comma-separated; the first is the control.
    /// Rates are absolute and nested (CVR ≤ ATC ≤ CTR), e.g. "A:0.05,B:0.07" or "A:0.05:0.02:0.01".
    #[arg(long)]
    variants: String,
    /// Seed of everything random (salts, outcomes, randomised response).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// ε each report entry spends (each device sends one entry).
    #[arg(long, default_value_t = 1.0)]
    epsilon: f64,
    /// Experiment id to report under.
    #[arg(long, default_value = "sim")]
    experiment: String,
    /// A/B holdout share (sees the control, reported as `holdout`).
    #[arg(long, default_value_t = 0.0)]
    holdout: f64,
    /// Reports per POST.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Benchmark mode: post for this many seconds, then check nothing acknowledged was lost.
    #[arg(long)]
    bench_seconds: Option<u64>,
    /// Concurrent client connections in benchmark mode.
    #[arg(long, default_value_t = 8)]
    threads: usize,
}

/// True nested rates of one variant.
#[derive(Clone, Debug)]
struct Truth {
    name: String,
    ctr: f64,
    atc: f64,
    cvr: f64,
}

fn parse_variants(spec: &str) -> Result<Vec<Truth>> {
    let mut out = Vec::new();
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let f: Vec<&str> = part.trim().split(':').collect();
        let rate = |i: usize| -> Result<f64> {
            let Some(s) = f.get(i) else { return Ok(0.0) };
            let r: f64 = s
                .parse()
                .with_context(|| format!("rate {s:?} in {part:?} is not a number"))?;
            if !(0.0..=1.0).contains(&r) {
                bail!("rate {r} in {part:?} must be within [0, 1]");
            }
            Ok(r)
        };
        if f.len() < 2 || f.len() > 4 {
            bail!("variant {part:?} must look like NAME:CTR[:ATC[:CVR]], e.g. A:0.05");
        }
        let t = Truth {
            name: f[0].to_owned(),
            ctr: rate(1)?,
            atc: rate(2)?,
            cvr: rate(3)?,
        };
        if t.atc > t.ctr || t.cvr > t.atc {
            bail!("variant {part:?}: rates are nested, so CVR ≤ ATC ≤ CTR");
        }
        out.push(t);
    }
    if out.is_empty() {
        bail!("--variants is empty; pass e.g. \"A:0.05,B:0.07\"");
    }
    Ok(out)
}

/// Expected bucketed revenue of one purchase with a uniform order value: what the collector estimates.
fn bucketed_order_value() -> f64 {
    let (lo, hi) = ORDER_VALUE;
    let mut prev = 0.0_f64;
    let mut e = 0.0;
    for (upper, value) in REVENUE_BUCKET_UPPER.iter().zip(REVENUE_BUCKET_VALUE) {
        let overlap = (upper.min(hi) - prev.max(lo)).max(0.0);
        e += overlap / (hi - lo) * value;
        prev = *upper;
    }
    e
}

/// One device: sticky split, its outcome drawn from the true rates, one report from the core's builder.
fn device(truths: &[Truth], args: &SimulateArgs, now: u64, rng: &mut StdRng) -> Result<Option<Report>> {
    let cands: Vec<Arm> = truths
        .iter()
        .map(|t| Arm {
            id: t.name.clone(),
            fit: 0.0,
        })
        .collect();
    let salt: [u8; 16] = rng.random();
    let choice = choose_ab(&args.experiment, &cands, args.holdout, &salt)?;
    let truth = truths
        .iter()
        .find(|t| t.name == choice.variant)
        .unwrap_or(&truths[0]);
    let cfg = ReportConfig {
        entry_epsilon: args.epsilon,
        ..ReportConfig::default()
    };
    let mut dev = Reporter::new(cfg)?;
    let key = CellKey::new(
        &args.experiment,
        &choice.report_variant,
        rng.random_range(0..SEGMENTS),
    )?;
    dev.track(&key, Interaction::Impression)?;
    let u: f64 = rng.random();
    if u < truth.ctr {
        dev.track(&key, Interaction::Click)?;
    }
    if u < truth.atc {
        dev.track(&key, Interaction::AddToCart)?;
    }
    if u < truth.cvr {
        dev.track(
            &key,
            Interaction::Purchase {
                revenue: rng.random_range(ORDER_VALUE.0..ORDER_VALUE.1),
            },
        )?;
    }
    Ok(dev.build(now, rng))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn post(agent: &ureq::Agent, url: &str, body: &str) -> Result<u64> {
    let mut r = agent
        .post(url)
        .header("content-type", "application/json")
        .send(body)?;
    let text = r.body_mut().read_to_string()?;
    if r.status().as_u16() != 200 {
        bail!("collector answered {}: {text}", r.status());
    }
    let v: Value = serde_json::from_str(&text)?;
    v["accepted"].as_u64().context("collector reply lacks `accepted`")
}

fn stats(agent: &ureq::Agent, base: &str) -> Result<Value> {
    let mut r = agent
        .get(&format!("{base}/v1/stats"))
        .call()
        .context("GET /v1/stats failed: is the collector running?")?;
    Ok(serde_json::from_str(&r.body_mut().read_to_string()?)?)
}

/// Run `vitrine simulate`.
pub fn run(args: SimulateArgs) -> Result<()> {
    let truths = parse_variants(&args.variants)?;
    if args.batch == 0 || args.batch > MAX_REPORTS_PER_BATCH {
        bail!("--batch must be within 1..={MAX_REPORTS_PER_BATCH}");
    }
    let base = args.collector.trim_end_matches('/').to_owned();
    let url = format!("{base}/v1/reports");
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let agent = agent();
    if let Some(secs) = args.bench_seconds {
        return bench(&args, &truths, &base, &url, secs, now, &mut rng);
    }
    let started = Instant::now();
    let (mut batch, mut acked) = (Vec::with_capacity(args.batch), 0u64);
    for i in 0..args.devices {
        if let Some(r) = device(&truths, &args, now, &mut rng)? {
            batch.push(r);
        }
        if batch.len() == args.batch || (i + 1 == args.devices && !batch.is_empty()) {
            let body = serde_json::to_string(&Batch {
                reports: std::mem::take(&mut batch),
            })?;
            acked += post(&agent, &url, &body)?;
        }
    }
    eprintln!(
        "posted {acked} reports from {} devices in {:.1} s",
        args.devices,
        started.elapsed().as_secs_f64()
    );
    print_comparison(&stats(&agent, &base)?, &args.experiment, &truths)
}

fn print_comparison(st: &Value, experiment: &str, truths: &[Truth]) -> Result<()> {
    let Some(exp) = st["experiments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["experiment"] == experiment)
    else {
        bail!("the collector has no statistics for {experiment:?} yet");
    };
    let order_value = bucketed_order_value();
    println!(
        "experiment {experiment}: k = {}, SRM p-value = {}",
        st["k"], exp["srm_p_value"]
    );
    println!(
        "{:<10} {:<8} {:>9} {:>10} {:>23}  inside",
        "variant", "metric", "true", "estimate", "95 % interval"
    );
    for v in exp["variants"].as_array().into_iter().flatten() {
        let name = v["variant"].as_str().unwrap_or("?");
        if v["released"] != true {
            println!("{name:<10} (fewer than k reports: nothing released)");
            continue;
        }
        let truth = truths.iter().find(|t| t.name == name).unwrap_or(&truths[0]);
        let rows = [
            ("ctr", truth.ctr),
            ("atc_rate", truth.atc),
            ("cvr", truth.cvr),
            ("revenue_per_impression", truth.cvr * order_value),
        ];
        println!("{name:<10} impressions {}", v["impressions"]);
        for (metric, t) in rows {
            let m = &v[metric];
            let (e, lo, hi) = (m["estimate"].as_f64(), m["lo"].as_f64(), m["hi"].as_f64());
            let (Some(e), Some(lo), Some(hi)) = (e, lo, hi) else {
                continue;
            };
            let inside = if lo <= t && t <= hi { "yes" } else { "NO" };
            let short = metric.split('_').next().unwrap_or(metric);
            println!(
                "{:<10} {short:<8} {t:>9.4} {e:>10.4} [{lo:>10.4}, {hi:>10.4}]  {inside}",
                ""
            );
        }
    }
    Ok(())
}

/// Post pre-built batches from `threads` connections for `secs` seconds; then compare what was
/// acknowledged with what the collector counts.
fn bench(
    args: &SimulateArgs,
    truths: &[Truth],
    base: &str,
    url: &str,
    secs: u64,
    now: u64,
    rng: &mut StdRng,
) -> Result<()> {
    let mut bodies = Vec::new();
    for _ in 0..64 {
        let mut reports = Vec::with_capacity(args.batch);
        while reports.len() < args.batch {
            if let Some(r) = device(truths, args, now, rng)? {
                reports.push(r);
            }
        }
        bodies.push(serde_json::to_string(&Batch { reports })?);
    }
    let bodies = Arc::new(bodies);
    let before = stats(&agent(), base)?["reports_total"].as_u64().unwrap_or(0);
    let (acked, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.threads.max(1))
        .map(|t| {
            let (bodies, acked, failed, url) =
                (bodies.clone(), acked.clone(), failed.clone(), url.to_owned());
            std::thread::spawn(move || {
                let agent = agent();
                let mut i = t;
                while Instant::now() < deadline {
                    match post(&agent, &url, &bodies[i % bodies.len()]) {
                        Ok(n) => acked.fetch_add(n, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                    i += 1;
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let acked = acked.load(Ordering::Relaxed);
    let after = stats(&agent(), base)?["reports_total"].as_u64().unwrap_or(0);
    let stored = after.saturating_sub(before);
    println!(
        "ingested {acked} acknowledged reports in {elapsed:.1} s = {:.0} reports/s ({} per request, {} connections); \
         failed requests {}; stored {stored}; lost {}",
        acked as f64 / elapsed,
        args.batch,
        args.threads,
        failed.load(Ordering::Relaxed),
        acked.saturating_sub(stored)
    );
    if stored < acked {
        bail!(
            "{} acknowledged reports are missing from the collector",
            acked - stored
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_variant_specs() {
        let v = parse_variants("A:0.05,B:0.07:0.02:0.01").unwrap();
        assert_eq!(
            (v[1].name.as_str(), v[1].ctr, v[1].atc, v[1].cvr),
            ("B", 0.07, 0.02, 0.01)
        );
        assert!(parse_variants("A").is_err());
        assert!(parse_variants("A:2").is_err());
        assert!(parse_variants("A:0.05:0.06").is_err(), "ATC above CTR");
    }

    #[test]
    fn bucketed_order_value_matches_the_buckets() {
        // [5,195] uniform: 20/190·12.5 + 25/190·37.5 + 50/190·75 + 95/190·150.
        let want = (20.0 * 12.5 + 25.0 * 37.5 + 50.0 * 75.0 + 95.0 * 150.0) / 190.0;
        assert!((bucketed_order_value() - want).abs() < 1e-9);
    }
}
