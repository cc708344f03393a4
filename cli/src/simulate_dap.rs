//! `vitrine simulate --dap-config FILE`: simulated shoppers with known true rates report through the
//! core's DAP client (Prio3 shares HPKE-sealed to the leader and the helper) to a Janus leader, one
//! report per request over concurrent connections. Prints what was sent as JSON on stdout (the exact
//! cell sums a task without noise must give back); with `--collector URL` it then waits for the
//! collector to release the window and prints the estimates beside the truth.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use vitrine::report::dap::{one_hot, DapClient, DapConfig, UploadRequest};
use vitrine::report::{dap_cell, Outcome, CATEGORIES};

use crate::simulate::{new_agent, print_comparison, SimulateArgs, Truth, ORDER_VALUE};

fn fetch(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>> {
    let mut r = agent
        .get(url)
        .call()
        .with_context(|| format!("GET {url}: is the DAP pair running (npm run dap)?"))?;
    let body = r.body_mut().read_to_vec()?;
    if r.status().as_u16() != 200 {
        bail!(
            "GET {url} answered {}: {}",
            r.status(),
            String::from_utf8_lossy(&body)
        );
    }
    Ok(body)
}

/// PUTs one report, retrying what may pass later (no answer, 429, 5xx) up to 4 times with backoff, as
/// the SDK's transport does; a resend is harmless (the leader drops a report id it already has).
/// `Err` with the leader's answer when it is refused.
fn upload(agent: &ureq::Agent, req: &UploadRequest) -> Result<()> {
    let mut attempt = 0;
    loop {
        let answer = agent
            .put(&req.url)
            .header("content-type", req.content_type)
            .send(&req.body[..]);
        let retry = match answer {
            Ok(mut r) => {
                let status = r.status().as_u16();
                if (200..300).contains(&status) {
                    return Ok(());
                }
                let text = r.body_mut().read_to_string().unwrap_or_default();
                if status != 429 && status < 500 {
                    bail!("the leader refused the report ({status}): {text}");
                }
                format!("the leader answered {status}: {text}")
            }
            Err(e) => format!("no answer from the leader: {e}"),
        };
        attempt += 1;
        if attempt > 4 {
            bail!("{retry} (after 4 retries)");
        }
        std::thread::sleep(Duration::from_millis(250 << attempt));
    }
}

/// One shopper's window: a variant (even split) and the deepest stage reached under its true rates.
fn shopper(truths: &[Truth], rng: &mut StdRng) -> (usize, Outcome) {
    let v = rng.random_range(0..truths.len());
    let t = &truths[v];
    let u: f64 = rng.random();
    let outcome = if u < t.cvr {
        Outcome::Purchased {
            bucket: Outcome::revenue_bucket(rng.random_range(ORDER_VALUE.0..ORDER_VALUE.1)),
        }
    } else if u < t.atc {
        Outcome::AddedToCart
    } else if u < t.ctr {
        Outcome::Clicked
    } else {
        Outcome::Seen
    };
    (v, outcome)
}

/// Run the DAP simulation.
pub fn run(args: &SimulateArgs, truths: &[Truth], file: &std::path::Path) -> Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let cfg = DapConfig::from_json(&text)?;
    let mut client = DapClient::new(&cfg, &args.experiment)?;
    let names: Vec<&str> = truths.iter().map(|t| t.name.as_str()).collect();
    if client.task().variants != names {
        bail!(
            "--variants {names:?} must be the task's variants {:?}, in order",
            client.task().variants
        );
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let http = new_agent();
    let reqs = client.hpke_config_requests(now);
    let configs = reqs
        .iter()
        .map(|r| fetch(&http, &r.url))
        .collect::<Result<Vec<_>>>()?;
    client.set_hpke_configs(&configs[0], &configs[1], now)?;
    let length = client.task().vdaf.length();
    // The size of one upload body (all reports of a task are the same size), for BENCHMARKS.md.
    let report_bytes = client.build(&one_hot(length, 0)?, now)?.body.len();
    let sent = Mutex::new(vec![0u64; length]);
    let (failed, next) = (AtomicU64::new(0), AtomicU64::new(0));
    let first_error = Mutex::new(None::<String>);
    let total = (args.devices + args.malformed) as u64;
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..args.threads.max(1) {
            let (client, sent, failed, next, first_error) = (&client, &sent, &failed, &next, &first_error);
            s.spawn(move || {
                let http = new_agent();
                let mut rng = StdRng::seed_from_u64(args.seed.wrapping_mul(1_000_003).wrapping_add(t as u64));
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let (v, outcome) = shopper(truths, &mut rng);
                    // A task with a segment axis: shoppers spread uniformly over its segments.
                    let segments = client.task().segments;
                    let segment = rng.random_range(0..segments.max(1));
                    let cell = dap_cell(v, segment, segments, outcome);
                    // The first --malformed reports are what a fake client sends: a share altered after
                    // sharding. The aggregators must drop them, so they are not counted as sent.
                    let malformed = i < args.malformed as u64;
                    let built = one_hot(length, cell).and_then(|cells| {
                        if malformed {
                            client.build_malformed(&cells, now)
                        } else {
                            client.build(&cells, now)
                        }
                    });
                    match built
                        .map_err(anyhow::Error::from)
                        .and_then(|req| upload(&http, &req))
                    {
                        Ok(()) if !malformed => {
                            if let Ok(mut s) = sent.lock() {
                                s[cell] += 1;
                            }
                        }
                        Ok(()) => {}
                        Err(e) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut f) = first_error.lock() {
                                f.get_or_insert(e.to_string());
                            }
                        }
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let sent = sent.into_inner().unwrap_or_default();
    let failed = failed.load(Ordering::Relaxed);
    if let Ok(Some(e)) = first_error.into_inner() {
        eprintln!("{failed} uploads failed; the first: {e}");
    }
    eprintln!(
        "uploaded {} reports ({} malformed) to {} in {elapsed:.1} s = {:.0} reports/s, {} connections",
        total - failed,
        args.malformed,
        cfg.leader,
        (total - failed) as f64 / elapsed,
        args.threads.max(1)
    );
    let tp = client.task().time_precision;
    let summary = json!({
        "experiment": args.experiment,
        "task_id": client.task().task_id,
        "report_time": now - now % tp,
        "time_precision": tp,
        "devices": args.devices,
        "malformed": args.malformed,
        "report_bytes": report_bytes,
        "failed": failed,
        "cells": sent,
        "variants": truths.iter().enumerate().map(|(j, t)| {
            // The variant's cells over all its segments, by outcome.
            let per = sent.len() / truths.len();
            let mut c = [0u64; CATEGORIES];
            for (i, n) in sent[j * per..(j + 1) * per].iter().enumerate() {
                c[i % CATEGORIES] += n;
            }
            json!({"variant": t.name, "shown": c.iter().sum::<u64>(), "clicked": c[1..].iter().sum::<u64>(),
                   "carted": c[2..].iter().sum::<u64>(), "purchased": c[3..].iter().sum::<u64>()})
        }).collect::<Vec<_>>(),
    });
    println!("{summary}");
    if failed > 0 {
        bail!("{failed} of {total} uploads failed");
    }
    if let Some(base) = args.collector.as_deref() {
        wait_and_compare(
            &http,
            base.trim_end_matches('/'),
            args,
            truths,
            now - now % tp + tp,
        )?;
    }
    Ok(())
}

/// Polls the collector's statistics until a released DAP window reaches past `until`, then prints them.
fn wait_and_compare(
    http: &ureq::Agent,
    base: &str,
    args: &SimulateArgs,
    truths: &[Truth],
    until: u64,
) -> Result<()> {
    eprintln!("waiting for the collector to collect and release the window ending at {until} …");
    let deadline = Instant::now() + Duration::from_secs(args.wait_secs);
    loop {
        let body = fetch(http, &format!("{base}/v1/stats"))?;
        let st: Value = serde_json::from_slice(&body)?;
        let released = st["experiments"].as_array().into_iter().flatten().any(|e| {
            e["experiment"] == args.experiment.as_str()
                && e["source"] == "dap"
                && e["windows"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|w| w["end"].as_u64() >= Some(until))
        });
        if released {
            return print_comparison(&st, &args.experiment, truths);
        }
        if Instant::now() > deadline {
            bail!(
                "no DAP window of {} was released within {} s",
                args.experiment,
                args.wait_secs
            );
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}
