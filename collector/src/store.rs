//! SQLite storage (WAL) of the noised counts: one writer thread commits queued reports in groups, and a
//! report is acknowledged only once its group's transaction is durably committed.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OpenFlags};
use tokio::sync::oneshot;
use vitrine::report::{Report, CATEGORIES};

use crate::error::CollectorError;

/// Jobs waiting for the writer; beyond this the collector answers 503 (back-pressure, not unbounded RAM).
const QUEUE: usize = 4096;
/// Requests committed together at most: one fsync amortised over many reports.
const GROUP: usize = 512;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cells (
    experiment TEXT NOT NULL, variant TEXT NOT NULL, segment INTEGER NOT NULL,
    hour INTEGER NOT NULL, eps_micros INTEGER NOT NULL, n INTEGER NOT NULL,
    c0 INTEGER NOT NULL, c1 INTEGER NOT NULL, c2 INTEGER NOT NULL, c3 INTEGER NOT NULL,
    c4 INTEGER NOT NULL, c5 INTEGER NOT NULL, c6 INTEGER NOT NULL,
    PRIMARY KEY (experiment, variant, segment, hour, eps_micros)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 1), reports INTEGER NOT NULL);
INSERT OR IGNORE INTO totals (id, reports) VALUES (1, 0);";

const UPSERT: &str = "
INSERT INTO cells VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
ON CONFLICT DO UPDATE SET n = n + 1, c0 = c0 + ?6, c1 = c1 + ?7, c2 = c2 + ?8, c3 = c3 + ?9,
    c4 = c4 + ?10, c5 = c5 + ?11, c6 = c6 + ?12";

// The table has one column per OUE bit; a change of the outcome categories must change the schema too.
const _: () = assert!(CATEGORIES == 7);

/// Aggregated noised counts of one (experiment, variant, segment, hour, ε) cell.
#[derive(Clone, Debug, PartialEq)]
pub struct CellRow {
    /// Experiment id.
    pub experiment: String,
    /// Variant label.
    pub variant: String,
    /// Segment.
    pub segment: u8,
    /// Hours since the epoch.
    pub hour: u32,
    /// ε of the entries, in micro-ε.
    pub eps_micros: u64,
    /// Entries received.
    pub n: u64,
    /// Sum of each randomised bit.
    pub ones: [u64; CATEGORIES],
}

struct Job {
    reports: Vec<Report>,
    done: oneshot::Sender<Result<(), String>>,
}

/// The database: a queue into the writer thread, and a connection for reads.
pub struct Store {
    tx: Option<SyncSender<Job>>,
    reader: Mutex<Connection>,
    writer: Option<JoinHandle<()>>,
}

fn open_conn(path: &Path) -> Result<Connection, CollectorError> {
    let err = |e: rusqlite::Error| CollectorError::Open {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(err)?;
    // WAL: readers never block the writer. synchronous=FULL: a commit survives power loss, which is what
    // "acknowledged" promises (NORMAL would only survive a process crash).
    conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    Ok(conn)
}

impl Store {
    /// Open (or create) the database at `path` and start the writer.
    pub fn open(path: &Path) -> Result<Self, CollectorError> {
        let conn = open_conn(path)?;
        conn.execute_batch(SCHEMA).map_err(|e| CollectorError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
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

    /// Queue validated reports and wait until they are committed.
    pub async fn append(&self, reports: Vec<Report>) -> Result<(), CollectorError> {
        let (done, wait) = oneshot::channel();
        let tx = self.tx.as_ref().ok_or(CollectorError::Busy)?;
        tx.try_send(Job { reports, done }).map_err(|e| match e {
            TrySendError::Full(_) => CollectorError::Busy,
            TrySendError::Disconnected(_) => CollectorError::Storage("writer stopped".into()),
        })?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CollectorError::Storage(e)),
            Err(_) => Err(CollectorError::Storage("writer stopped before committing".into())),
        }
    }

    /// Every cell row (blocking: call from a blocking thread).
    pub fn cells(&self) -> Result<Vec<CellRow>, CollectorError> {
        let conn = self
            .reader
            .lock()
            .map_err(|_| CollectorError::Storage("reader poisoned".into()))?;
        let mut stmt = conn.prepare_cached(
            "SELECT experiment, variant, segment, hour, eps_micros, n, c0, c1, c2, c3, c4, c5, c6 FROM cells",
        )?;
        let rows = stmt.query_map([], |r| {
            let mut ones = [0u64; CATEGORIES];
            for (i, o) in ones.iter_mut().enumerate() {
                *o = r.get(6 + i)?;
            }
            Ok(CellRow {
                experiment: r.get(0)?,
                variant: r.get(1)?,
                segment: r.get(2)?,
                hour: r.get(3)?,
                eps_micros: r.get(4)?,
                n: r.get(5)?,
                ones,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Reports committed since the database was created.
    pub fn reports_total(&self) -> Result<u64, CollectorError> {
        let conn = self
            .reader
            .lock()
            .map_err(|_| CollectorError::Storage("reader poisoned".into()))?;
        Ok(conn.query_row("SELECT reports FROM totals WHERE id = 1", [], |r| r.get(0))?)
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

fn write_loop(mut conn: Connection, rx: Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let result = commit(&mut conn, &jobs).map_err(|e| e.to_string());
        for j in jobs {
            // The request may have been cancelled; its reports are committed either way.
            let _ = j.done.send(result.clone());
        }
    }
}

fn commit(conn: &mut Connection, jobs: &[Job]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let mut count = 0u64;
    {
        let mut stmt = tx.prepare_cached(UPSERT)?;
        for report in jobs.iter().flat_map(|j| &j.reports) {
            let eps_micros = (report.epsilon * 1e6).round() as i64;
            for e in &report.entries {
                // Reports are validated before they are queued; `get` keeps a bad one from killing the writer.
                let b = |i: usize| i64::from(e.bits.get(i).copied().unwrap_or(0));
                stmt.execute(params![
                    e.experiment,
                    e.variant,
                    e.segment,
                    report.hour,
                    eps_micros,
                    b(0),
                    b(1),
                    b(2),
                    b(3),
                    b(4),
                    b(5),
                    b(6)
                ])?;
            }
            count += 1;
        }
    }
    tx.execute(
        "UPDATE totals SET reports = reports + ?1 WHERE id = 1",
        [count as i64],
    )?;
    tx.commit()
}
