//! SQLite storage (WAL): one writer thread commits accepted reports in groups into the **pending** sums of
//! their experiment and arm (a report is acknowledged only once durably committed), de-duplicates report
//! ids, and moves pending sums into a released **window** once each arm has k reports. Nothing is read
//! from `pending` for publication: statistics and priors come from released windows only.

use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;
use vitrine::report::{Experiment, Report};

use crate::error::CollectorError;
use crate::estimate::Noised;
use crate::registry;
use crate::writer::{write_loop, Done, Job};

/// Jobs waiting for the writer; beyond this the collector answers 503 (back-pressure, not unbounded RAM).
const QUEUE: usize = 4096;

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
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    conn.execute_batch(registry::SCHEMA).map_err(err)?;
    conn.execute_batch(SCHEMA).map_err(err)?;
    conn.execute_batch(crate::dap::schedule::SCHEMA).map_err(err)?;
    Ok(conn)
}

pub(crate) fn counts_json(n: &Noised) -> String {
    serde_json::to_string(&n.counts).unwrap_or_else(|_| "[]".into())
}

fn lock(m: &Mutex<Connection>) -> Result<std::sync::MutexGuard<'_, Connection>, CollectorError> {
    m.lock()
        .map_err(|_| CollectorError::Storage("reader poisoned".into()))
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
    pub async fn append(
        &self,
        report: Report,
        arm: String,
        d: usize,
        now: u64,
    ) -> Result<bool, CollectorError> {
        self.send(|done| Job::Report {
            report,
            arm,
            d,
            now,
            done,
        })
        .await
    }

    /// Releases every experiment's pending window whose arms all reached the experiment's k.
    pub async fn release(&self, experiments: Vec<Experiment>, now: u64) -> Result<usize, CollectorError> {
        self.send(|done| Job::Release {
            experiments,
            now,
            done,
        })
        .await
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

    /// Every DAP window (DAP mode), collected or not.
    pub fn dap_windows(&self) -> Result<Vec<crate::dap::schedule::DapWindow>, CollectorError> {
        crate::dap::schedule::windows(&*lock(&self.reader)?)
    }

    /// The registry as stored.
    pub fn registry(&self) -> Result<vitrine::report::Registry, CollectorError> {
        registry::list(&*lock(&self.reader)?)
    }

    /// Runs `f` on the reader connection (admin writes to the registry; WAL lets them wait their turn).
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, CollectorError>,
    ) -> Result<T, CollectorError> {
        f(&*lock(&self.reader)?)
    }

    /// Operator totals.
    pub fn totals(&self) -> Result<Totals, CollectorError> {
        let conn = lock(&self.reader)?;
        Ok(
            conn.query_row("SELECT reports, duplicates FROM totals WHERE id = 1", [], |r| {
                Ok(Totals {
                    reports: r.get::<_, i64>(0)? as u64,
                    duplicates: r.get::<_, i64>(1)? as u64,
                })
            })?,
        )
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
