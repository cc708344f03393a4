//! The writer thread of the store: commits queued reports in groups (de-duplicated by report id, added to
//! pending sums kept in memory and in SQLite) and releases windows, in arrival order, so a release never
//! splits what was queued before it.

use std::collections::HashMap;
use std::sync::mpsc::Receiver;

use rusqlite::{params, Connection};
use tokio::sync::oneshot;
use vitrine::report::{Experiment, ExperimentMode, Report};

use crate::estimate::Noised;
use crate::store::counts_json;

/// Reports committed together at most: one fsync amortised over many requests.
const GROUP: usize = 512;

pub(crate) type Done<T> = oneshot::Sender<Result<T, String>>;

pub(crate) enum Job {
    Report {
        report: Report,
        arm: String,
        d: usize,
        now: u64,
        done: Done<bool>,
    },
    Release {
        experiments: Vec<Experiment>,
        now: u64,
        done: Done<usize>,
    },
}

type Key = (String, String);

struct PendingSum {
    since: u64,
    noised: Noised,
}

fn load_pending(conn: &Connection) -> rusqlite::Result<HashMap<Key, PendingSum>> {
    let mut stmt = conn.prepare("SELECT experiment, arm, since, n, counts FROM pending")?;
    let rows = stmt.query_map([], |r| {
        let counts: String = r.get(4)?;
        Ok((
            (r.get(0)?, r.get(1)?),
            PendingSum {
                since: r.get::<_, i64>(2)? as u64,
                noised: Noised {
                    n: r.get::<_, i64>(3)? as u64,
                    counts: serde_json::from_str(&counts).unwrap_or_default(),
                },
            },
        ))
    })?;
    rows.collect()
}

pub(crate) fn write_loop(mut conn: Connection, rx: Receiver<Job>) {
    let mut pending = load_pending(&conn).unwrap_or_default();
    while let Ok(first) = rx.recv() {
        let mut reports = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Report {
                    report,
                    arm,
                    d,
                    now,
                    done,
                } => reports.push((report, arm, d, now, done)),
                Job::Release {
                    experiments,
                    now,
                    done,
                } => {
                    // Reports queued before a release are committed before it: windows stay disjoint.
                    commit_reports(&mut conn, &mut pending, std::mem::take(&mut reports));
                    let r = release(&mut conn, &mut pending, &experiments, now);
                    if r.is_err() {
                        pending = load_pending(&conn).unwrap_or_default();
                    }
                    let _ = done.send(r.map_err(|e| e.to_string()));
                }
            }
            if reports.len() < GROUP {
                next = rx.try_recv().ok();
            }
        }
        commit_reports(&mut conn, &mut pending, reports);
    }
}

type ReportJob = (Report, String, usize, u64, Done<bool>);

fn commit_reports(conn: &mut Connection, pending: &mut HashMap<Key, PendingSum>, jobs: Vec<ReportJob>) {
    if jobs.is_empty() {
        return;
    }
    let result = (|| -> rusqlite::Result<Vec<bool>> {
        let tx = conn.transaction()?;
        let mut fresh = Vec::with_capacity(jobs.len());
        let mut dirty = Vec::new();
        {
            let mut seen = tx.prepare_cached("INSERT OR IGNORE INTO report_ids (id, day) VALUES (?1, ?2)")?;
            for (report, arm, d, now, _) in &jobs {
                let is_new = seen.execute(params![report.id, (*now / 86_400) as i64])? == 1;
                fresh.push(is_new);
                if !is_new {
                    continue;
                }
                let key = (report.experiment.clone(), arm.clone());
                let sum = pending.entry(key.clone()).or_insert_with(|| PendingSum {
                    since: now - now % 3600,
                    noised: Noised::new(*d),
                });
                sum.noised.n += 1;
                report.r.add_to(&mut sum.noised.counts);
                dirty.push(key);
            }
        }
        dirty.sort();
        dirty.dedup();
        {
            let mut up = tx.prepare_cached("INSERT OR REPLACE INTO pending VALUES (?1, ?2, ?3, ?4, ?5)")?;
            for key in &dirty {
                let s = &pending[key];
                up.execute(params![
                    key.0,
                    key.1,
                    s.since as i64,
                    s.noised.n as i64,
                    counts_json(&s.noised)
                ])?;
            }
        }
        let new = fresh.iter().filter(|f| **f).count() as i64;
        tx.execute(
            "UPDATE totals SET reports = reports + ?1, duplicates = duplicates + ?2 WHERE id = 1",
            params![new, fresh.len() as i64 - new],
        )?;
        tx.commit()?;
        Ok(fresh)
    })();
    match result {
        Ok(fresh) => {
            for ((.., done), f) in jobs.into_iter().zip(fresh) {
                // The request may have been cancelled; its report is committed either way.
                let _ = done.send(Ok(f));
            }
        }
        Err(e) => {
            // The in-memory sums may hold what was rolled back: read them again from the file.
            *pending = load_pending(conn).unwrap_or_default();
            for (.., done) in jobs {
                let _ = done.send(Err(e.to_string()));
            }
        }
    }
}

/// Moves each experiment's pending sums into a new window once every arm that has reports has ≥ k.
fn release(
    conn: &mut Connection,
    pending: &mut HashMap<Key, PendingSum>,
    experiments: &[Experiment],
    now: u64,
) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    let mut released = 0;
    for exp in experiments {
        let keys: Vec<Key> = pending.keys().filter(|(e, _)| *e == exp.id).cloned().collect();
        let ready = !keys.is_empty()
            && keys.iter().all(|k| pending[k].noised.n >= exp.k)
            && (exp.mode == ExperimentMode::Ab || keys.iter().all(|(_, arm)| arm.is_empty()));
        if !ready {
            continue;
        }
        let seq: i64 = tx.query_row(
            "SELECT coalesce(max(seq), 0) + 1 FROM windows WHERE experiment = ?1",
            [&exp.id],
            |r| r.get(0),
        )?;
        let start = keys.iter().map(|k| pending[k].since).min().unwrap_or(now);
        for k in &keys {
            let s = &pending[k];
            tx.execute(
                "INSERT INTO windows VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    k.0,
                    seq,
                    start as i64,
                    now as i64,
                    k.1,
                    s.noised.n as i64,
                    counts_json(&s.noised)
                ],
            )?;
            tx.execute(
                "DELETE FROM pending WHERE experiment = ?1 AND arm = ?2",
                params![k.0, k.1],
            )?;
        }
        released += 1;
    }
    // Report ids only need to outlive the 30 days a report's hour may lag.
    tx.execute(
        "DELETE FROM report_ids WHERE day < ?1",
        [(now / 86_400) as i64 - 31],
    )?;
    tx.commit()?;
    *pending = load_pending(conn)?;
    Ok(released)
}
