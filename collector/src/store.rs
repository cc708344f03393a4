//! SQLite storage (WAL): one writer thread commits accepted reports in groups into the **pending** sums of
//! their experiment and arm (a report is acknowledged only once durably committed), de-duplicates report
//! ids, and moves pending sums into a released **window** once each arm has k reports. Nothing is read
//! from `pending` for publication: statistics and priors come from released windows only.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OpenFlags};
use tokio::sync::oneshot;
use vitrine::report::{Experiment, ExperimentMode, Report};

use crate::error::CollectorError;
use crate::estimate::Noised;
use crate::registry;

/// Jobs waiting for the writer; beyond this the collector answers 503 (back-pressure, not unbounded RAM).
const QUEUE: usize = 4096;
/// Reports committed together at most: one fsync amortised over many requests.
const GROUP: usize = 512;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pending (
    experiment TEXT NOT NULL, arm TEXT NOT NULL, since INTEGER NOT NULL, n INTEGER NOT NULL,
    counts TEXT NOT NULL, PRIMARY KEY (experiment, arm)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS windows (
    experiment TEXT NOT NULL, seq INTEGER NOT NULL, start INTEGER NOT NULL, end_at INTEGER NOT NULL,
    arm TEXT NOT NULL, n INTEGER NOT NULL, counts TEXT NOT NULL, PRIMARY KEY (experiment, seq, arm)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS report_ids (id TEXT PRIMARY KEY, day INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 1), reports INTEGER NOT NULL,
    duplicates INTEGER NOT NULL);
INSERT OR IGNORE INTO totals (id, reports, duplicates) VALUES (1, 0, 0);";

/// One arm's sums in one released window (`arm` is empty for a bandit: its variants are in the noise).
#[derive(Clone, Debug, PartialEq)]
pub struct WindowRow {
    /// Experiment id.
    pub experiment: String,
    /// Window number within the experiment (1, 2, …).
    pub seq: u64,
    /// First report's arrival, seconds since the epoch (rounded down to the hour).
    pub start: u64,
    /// Release time, seconds.
    pub end: u64,
    /// The arm.
    pub arm: String,
    /// Randomised counts.
    pub noised: Noised,
}

/// Totals for the operator (admin API, benchmarks): never published.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Totals {
    /// Distinct reports committed.
    pub reports: u64,
    /// Resends answered without counting.
    pub duplicates: u64,
}

type Done<T> = oneshot::Sender<Result<T, String>>;

enum Job {
    Report { report: Report, arm: String, d: usize, now: u64, done: Done<bool> },
    Release { experiments: Vec<Experiment>, now: u64, done: Done<usize> },
}

/// The database: a queue into the writer thread, and a connection for reads.
pub struct Store {
    tx: Option<SyncSender<Job>>,
    reader: Mutex<Connection>,
    writer: Option<JoinHandle<()>>,
}

/// Opens a connection with the collector's settings (also used by the `experiments` subcommands).
pub fn open_conn(path: &Path) -> Result<Connection, CollectorError> {
    let err = |e: rusqlite::Error| CollectorError::Open {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(err)?;
    // WAL: readers never block the writer. synchronous=FULL: a commit survives power loss, which is what
    // "acknowledged" promises.
    conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
    conn.execute_batch(registry::SCHEMA).map_err(err)?;
    conn.execute_batch(SCHEMA).map_err(err)?;
    Ok(conn)
}

fn counts_json(n: &Noised) -> String {
    serde_json::to_string(&n.counts).unwrap_or_else(|_| "[]".into())
}

fn lock(m: &Mutex<Connection>) -> Result<std::sync::MutexGuard<'_, Connection>, CollectorError> {
    m.lock().map_err(|_| CollectorError::Storage("reader poisoned".into()))
}

impl Store {
    /// Open (or create) the database at `path` and start the writer.
    pub fn open(path: &Path) -> Result<Self, CollectorError> {
        let conn = open_conn(path)?;
        let reader = open_conn(path)?;
        let (tx, rx) = sync_channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("vitrine-writer".into())
            .spawn(move || write_loop(conn, rx))
            .map_err(|e| CollectorError::Open {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            tx: Some(tx),
            reader: Mutex::new(reader),
            writer: Some(writer),
        })
    }

    async fn send<T>(&self, make: impl FnOnce(Done<T>) -> Job) -> Result<T, CollectorError> {
        let (done, wait) = oneshot::channel();
        let tx = self.tx.as_ref().ok_or(CollectorError::Busy)?;
        tx.try_send(make(done)).map_err(|e| match e {
            TrySendError::Full(_) => CollectorError::Busy,
            TrySendError::Disconnected(_) => CollectorError::Storage("writer stopped".into()),
        })?;
        match wait.await {
            Ok(r) => r.map_err(CollectorError::Storage),
            Err(_) => Err(CollectorError::Storage("writer stopped before committing".into())),
        }
    }

    /// Adds a validated report to its pending sums; waits until committed. `false`: a resend of a
    /// report already counted (nothing changes).
    pub async fn append(&self, report: Report, arm: String, d: usize, now: u64) -> Result<bool, CollectorError> {
        self.send(|done| Job::Report { report, arm, d, now, done }).await
    }

    /// Releases every experiment's pending window whose arms all reached the experiment's k.
    pub async fn release(&self, experiments: Vec<Experiment>, now: u64) -> Result<usize, CollectorError> {
        self.send(|done| Job::Release { experiments, now, done }).await
    }

    /// Every released window row (blocking: call from a blocking thread).
    pub fn windows(&self) -> Result<Vec<WindowRow>, CollectorError> {
        let conn = lock(&self.reader)?;
        let mut stmt = conn.prepare_cached(
            "SELECT experiment, seq, start, end_at, arm, n, counts FROM windows ORDER BY experiment, seq, arm",
        )?;
        let rows = stmt.query_map([], |r| {
            let counts: String = r.get(6)?;
            Ok(WindowRow {
                experiment: r.get(0)?,
                seq: r.get::<_, i64>(1)? as u64,
                start: r.get::<_, i64>(2)? as u64,
                end: r.get::<_, i64>(3)? as u64,
                arm: r.get(4)?,
                noised: Noised {
                    n: r.get::<_, i64>(5)? as u64,
                    counts: serde_json::from_str(&counts).unwrap_or_default(),
                },
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The registry as stored.
    pub fn registry(&self) -> Result<vitrine::report::Registry, CollectorError> {
        registry::list(&*lock(&self.reader)?)
    }

    /// Runs `f` on the reader connection (admin writes to the registry; WAL lets them wait their turn).
    pub fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T, CollectorError>) -> Result<T, CollectorError> {
        f(&*lock(&self.reader)?)
    }

    /// Operator totals.
    pub fn totals(&self) -> Result<Totals, CollectorError> {
        let conn = lock(&self.reader)?;
        Ok(conn.query_row("SELECT reports, duplicates FROM totals WHERE id = 1", [], |r| {
            Ok(Totals {
                reports: r.get::<_, i64>(0)? as u64,
                duplicates: r.get::<_, i64>(1)? as u64,
            })
        })?)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what it holds and exit; joining keeps the file consistent.
        self.tx.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
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

fn write_loop(mut conn: Connection, rx: Receiver<Job>) {
    let mut pending = load_pending(&conn).unwrap_or_default();
    while let Ok(first) = rx.recv() {
        let mut reports = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Report { report, arm, d, now, done } => reports.push((report, arm, d, now, done)),
                Job::Release { experiments, now, done } => {
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
                up.execute(params![key.0, key.1, s.since as i64, s.noised.n as i64, counts_json(&s.noised)])?;
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
                params![k.0, seq, start as i64, now as i64, k.1, s.noised.n as i64, counts_json(&s.noised)],
            )?;
            tx.execute("DELETE FROM pending WHERE experiment = ?1 AND arm = ?2", params![k.0, k.1])?;
        }
        released += 1;
    }
    // Report ids only need to outlive the 30 days a report's hour may lag.
    tx.execute("DELETE FROM report_ids WHERE day < ?1", [(now / 86_400) as i64 - 31])?;
    tx.commit()?;
    *pending = load_pending(conn)?;
    Ok(released)
}
