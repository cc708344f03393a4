//! `vitrine simulate`: N simulated shoppers with known true rates go through the real SDK path (the
//! collector's registry, `pickCopy`, outcome counting, the ledger and the randomiser) and post one report
//! per request to a collector; then the released estimates are printed beside the truth.
//! `--bench-seconds S` measures ingestion instead; `--power` prints shoppers per arm (`power.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use vitrine::report::{Interaction, Registry, Report, HOLDOUT_VARIANT};
use vitrine::sdk::{Config, CopyOptions, CopyVariant};
use vitrine::Vitrine;

/// Purchase values are drawn uniformly from this range.
pub(crate) const ORDER_VALUE: (f64, f64) = (5.0, 195.0);

/// Flags of `vitrine simulate`.
#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Collector base URL, e.g. http://127.0.0.1:8787 (not needed with --power).
    #[arg(long)]
    pub(crate) collector: Option<String>,
    /// Simulated shoppers (each sends one report).
    #[arg(long, default_value_t = 20_000)]
    pub(crate) devices: usize,
    /// Variants with true rates: `NAME:CTR[:ATC[:CVR]]`, comma-separated; the first is the control.
    /// Rates are absolute and nested (CVR ≤ ATC ≤ CTR), e.g. "A:0.05,B:0.07" or "A:0.05:0.02:0.01".
    #[arg(long)]
    pub(crate) variants: String,
    /// Seed of everything random (salts, outcomes, randomised response).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The registered experiment to report under (its variants must be the ones in --variants).
    #[arg(long, default_value = "sim")]
    pub(crate) experiment: String,
    /// DAP mode: report through the core's DAP client to the Janus leader of this config (scripts/dap.sh
    /// writes it: .cache/dap/dap-config.json) instead of to a collector; with --collector too, wait for
    /// that collector (started with --dap-config) to release the window and print the estimates.
    #[arg(long)]
    pub(crate) dap_config: Option<std::path::PathBuf>,
    /// DAP mode: also send this many malformed reports (a share altered after sharding), which the
    /// aggregators must reject without changing the sums.
    #[arg(long, default_value_t = 0)]
    pub(crate) malformed: usize,
    /// DAP mode with --collector: how long to wait for the release, seconds.
    #[arg(long, default_value_t = 300)]
    pub(crate) wait_secs: u64,
    /// Concurrent connections posting reports.
    #[arg(long, default_value_t = 8)]
    pub(crate) threads: usize,
    /// Admin token of the collector: releases the window after posting (and lets --bench-seconds count
    /// what was stored).
    #[arg(long, env = "VITRINE_ADMIN_TOKEN", hide_env_values = true)]
    pub(crate) admin_token: Option<String>,
    /// Benchmark mode: post for this many seconds, then check nothing acknowledged was lost.
    #[arg(long)]
    pub(crate) bench_seconds: Option<u64>,
    /// Print shoppers per arm to tell the first two variants' CTRs apart (80 % power, α = 0.05).
    #[arg(long)]
    pub power: bool,
    /// With --power: the layout to size, `ab` or `bandit`.
    #[arg(long, default_value = "ab")]
    pub mode: String,
    /// With --power: also run this many seeded simulated tests at that size and print the share that
    /// found the difference (should be ≈ 80 %).
    #[arg(long, default_value_t = 0)]
    pub power_runs: usize,
}

/// True nested rates of one variant.
#[derive(Clone, Debug)]
pub struct Truth {
    /// Variant id.
    pub name: String,
    /// Click-through rate.
    pub ctr: f64,
    /// Add-to-cart rate.
    pub atc: f64,
    /// Conversion rate.
    pub cvr: f64,
}

/// Parses `NAME:CTR[:ATC[:CVR]],…`.
pub fn parse_variants(spec: &str) -> Result<Vec<Truth>> {
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

/// One shopper: a fresh SDK engine with the registry, a pick on the experiment's slot, outcomes drawn
/// from the truth of the variant shown, and the report the engine builds.
fn shopper(
    registry_json: &str,
    slot: &str,
    truths: &[Truth],
    now_ms: f64,
    rng: &mut StdRng,
) -> Result<Option<Report>> {
    let salt: [u8; 16] = rng.random();
    let mut sdk = Vitrine::new(Config::default(), &salt)?;
    sdk.set_registry(registry_json)?;
    let variants: Vec<CopyVariant> = truths
        .iter()
        .map(|t| CopyVariant {
            id: t.name.clone(),
            text: t.name.clone(),
        })
        .collect();
    let pick = sdk.pick_copy(
        slot,
        &variants,
        CopyOptions::Bandit { fit_weight: 0.0 },
        now_ms,
        rng,
    )?;
    if !pick.counted {
        bail!(
            "the SDK did not count the pick: {:?}",
            sdk.diagnostics().reporting
        );
    }
    let truth = truths
        .iter()
        .find(|t| t.name == pick.variant)
        .unwrap_or(&truths[0]);
    let u: f64 = rng.random();
    let mut record = |e: Interaction| sdk.record(slot, &pick.report_variant, e, now_ms);
    if u < truth.ctr {
        record(Interaction::Click)?;
    }
    if u < truth.atc {
        record(Interaction::AddToCart)?;
    }
    if u < truth.cvr {
        record(Interaction::Purchase {
            revenue: rng.random_range(ORDER_VALUE.0..ORDER_VALUE.1),
        })?;
    }
    Ok(sdk.build_reports(None, now_ms, rng).reports.into_iter().next())
}

pub(crate) fn new_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Posts one report; `true` when the collector counted it, `false` for a resend it already had.
fn post(agent: &ureq::Agent, url: &str, body: &str) -> Result<bool> {
    let mut r = agent
        .post(url)
        .header("content-type", "application/json")
        .send(body)?;
    let text = r.body_mut().read_to_string()?;
    if r.status().as_u16() != 200 {
        bail!("collector answered {}: {text}", r.status());
    }
    Ok(serde_json::from_str::<Value>(&text)?["duplicate"] != true)
}

fn get_json(agent: &ureq::Agent, url: &str, token: Option<&str>) -> Result<String> {
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    let mut r = req
        .call()
        .with_context(|| format!("GET {url} failed: is the collector running?"))?;
    let text = r.body_mut().read_to_string()?;
    if r.status().as_u16() != 200 {
        bail!("GET {url} answered {}: {text}", r.status());
    }
    Ok(text)
}

/// Run `vitrine simulate`.
pub fn run(args: SimulateArgs) -> Result<()> {
    let truths = parse_variants(&args.variants)?;
    if args.power {
        return crate::power::run(&args, &truths);
    }
    if let Some(file) = &args.dap_config {
        return crate::simulate_dap::run(&args, &truths, file);
    }
    let Some(base) = args
        .collector
        .as_deref()
        .map(|c| c.trim_end_matches('/').to_owned())
    else {
        bail!("--collector URL is needed (or --power)");
    };
    let agent = new_agent();
    let registry_json = get_json(&agent, &format!("{base}/v1/experiments"), None)?;
    let registry = Registry::from_json(&registry_json)?;
    let Some(exp) = registry.get(&args.experiment) else {
        bail!(
            "experiment {:?} is not registered; register it first: vitrine-collector experiments add --id {} --slot {} --variants {}",
            args.experiment, args.experiment, args.experiment,
            truths.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(",")
        );
    };
    let names: Vec<&str> = truths.iter().map(|t| t.name.as_str()).collect();
    if exp.variants != names {
        bail!(
            "--variants {names:?} must be the registered variants {:?}, in order",
            exp.variants
        );
    }
    let slot = exp.slot.clone();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as f64;
    let url = format!("{base}/v1/reports");
    let token = args.admin_token.as_deref();
    let stored_before = match token {
        Some(t) => {
            serde_json::from_str::<Value>(&get_json(&agent, &format!("{base}/v1/admin/totals"), Some(t))?)?
                ["reports"]
                .as_u64()
        }
        None => None,
    };
    let (acked, failed, dup) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let next = Arc::new(AtomicU64::new(0));
    let deadline = args
        .bench_seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    let started = Instant::now();
    let threads = args.threads.max(1);
    let devices = args.devices as u64;
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (acked, failed, dup, next) = (acked.clone(), failed.clone(), dup.clone(), next.clone());
                let (registry_json, slot, truths, url) = (&registry_json, &slot, &truths, &url);
                let seed = args.seed;
                s.spawn(move || -> Result<()> {
                    let agent = new_agent();
                    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(t as u64));
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        match deadline {
                            Some(d) if Instant::now() >= d => break,
                            None if i >= devices => break,
                            _ => {}
                        }
                        let Some(report) = shopper(registry_json, slot, truths, now_ms, &mut rng)? else {
                            continue;
                        };
                        match post(&agent, url, &serde_json::to_string(&report)?) {
                            Ok(true) => acked.fetch_add(1, Ordering::Relaxed),
                            Ok(false) => dup.fetch_add(1, Ordering::Relaxed),
                            Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| anyhow::anyhow!("a worker panicked"))??;
        }
        Ok(())
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let (acked, failed, dup) = (
        acked.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        dup.load(Ordering::Relaxed),
    );
    eprintln!(
        "posted {acked} new reports ({dup} resends of reports the collector had, same --seed; {failed} failed requests) \
         in {elapsed:.1} s = {:.0} reports/s, one per request, {threads} connections",
        (acked + dup) as f64 / elapsed
    );
    if let (Some(t), Some(before)) = (token, stored_before) {
        let totals: Value =
            serde_json::from_str(&get_json(&agent, &format!("{base}/v1/admin/totals"), Some(t))?)?;
        let stored = totals["reports"].as_u64().unwrap_or(0).saturating_sub(before);
        eprintln!("stored {stored}; lost {}", acked.saturating_sub(stored));
        if stored < acked {
            bail!(
                "{} acknowledged reports are missing from the collector",
                acked - stored
            );
        }
    }
    if args.bench_seconds.is_some() {
        return Ok(());
    }
    match token {
        Some(t) => {
            let mut r = agent
                .post(&format!("{base}/v1/admin/release"))
                .header("authorization", &format!("Bearer {t}"))
                .send("")?;
            eprintln!("release: {}", r.body_mut().read_to_string()?);
        }
        None => eprintln!("the collector releases the window at its next boundary (hourly by default); pass --admin-token to release now"),
    }
    let st: Value = serde_json::from_str(&get_json(&agent, &format!("{base}/v1/stats"), None)?)?;
    print_comparison(&st, &args.experiment, &truths)
}

pub(crate) fn print_comparison(st: &Value, experiment: &str, truths: &[Truth]) -> Result<()> {
    let Some(exp) = st["experiments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["experiment"] == experiment)
    else {
        println!("experiment {experiment}: no window released yet (each arm needs k reports)");
        return Ok(());
    };
    println!(
        "experiment {experiment}: {} reports released, SRM p-value = {}",
        exp["reports"], exp["srm_p_value"]
    );
    println!("verdict: {}", exp["verdict"].as_str().unwrap_or("?"));
    println!(
        "{:<10} {:<8} {:>9} {:>10} {:>23}  inside",
        "variant", "metric", "true", "estimate", "95 % interval"
    );
    for v in exp["variants"].as_array().into_iter().flatten() {
        let name = v["variant"].as_str().unwrap_or("?");
        let truth = if name == HOLDOUT_VARIANT {
            &truths[0]
        } else {
            truths.iter().find(|t| t.name == name).unwrap_or(&truths[0])
        };
        println!(
            "{name:<10} shoppers {}{}",
            if v["estimated"] == true { "≈ " } else { "" },
            v["impressions"]
        );
        for (metric, t) in [("ctr", truth.ctr), ("atc_rate", truth.atc), ("cvr", truth.cvr)] {
            let m = &v[metric];
            let (Some(e), Some(lo), Some(hi)) = (m["estimate"].as_f64(), m["lo"].as_f64(), m["hi"].as_f64())
            else {
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
}
