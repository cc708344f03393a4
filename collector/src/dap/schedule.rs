//! Which intervals DAP mode collects, and the table that remembers each. Janus lets each batch interval
//! be collected once (`max_batch_query_count: 1`), so the collector walks every experiment's time in
//! disjoint windows aligned to the task's `time_precision`, starts each only once it is closed (plus a
//! grace for delayed uploads), and records the job before starting it: after a restart the same job is
//! polled again, never a second, overlapping one. A window whose batch is still below `min_batch_size`
//! (the leader refuses the job and nothing is used up) waits and grows with the next closed time until
//! it has enough reports; until then nothing about it is released.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use vitrine::report::dap::{noise_variance, DapTask};
use vitrine::report::Experiment;

use super::collect::{agent, Job, Poll};
use super::{b64, Credentials};
use crate::error::CollectorError;

/// The table of DAP windows (created with the collector's other tables).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dap_windows (
    experiment TEXT NOT NULL, start INTEGER NOT NULL, duration INTEGER NOT NULL, job_id TEXT NOT NULL,
    state TEXT NOT NULL, reports INTEGER, cells TEXT, noise_var REAL NOT NULL, message TEXT,
    PRIMARY KEY (experiment, start)
) WITHOUT ROWID;";

/// One window's collection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DapWindow {
    /// Experiment id.
    pub experiment: String,
    /// Interval start, seconds since the epoch (a multiple of the task's `time_precision`).
    pub start: u64,
    /// Interval length, seconds.
    pub duration: u64,
    /// `collecting`, `released`, `too_small` (fewer than `min_batch_size` reports so far: retried over a
    /// longer interval, never released as is), `abandoned` (the leader gave up on the job) or `failed`
    /// (the leader refused it for another reason).
    pub state: String,
    /// Reports in the batch (released windows).
    pub reports: Option<u64>,
    /// The noised cell sums (released windows).
    pub cells: Option<Vec<f64>>,
    /// Variance of the central noise in each cell (both aggregators): 0 without noise.
    pub noise_var: f64,
    /// What the leader said, for abandoned and failed windows.
    pub message: Option<String>,
    #[serde(skip)]
    pub(crate) job_id: String,
}

/// Every DAP window, by experiment and start.
pub fn windows(conn: &Connection) -> Result<Vec<DapWindow>, CollectorError> {
    let mut stmt = conn.prepare_cached(
        "SELECT experiment, start, duration, job_id, state, reports, cells, noise_var, message
         FROM dap_windows ORDER BY experiment, start",
    )?;
    let rows = stmt.query_map([], |r| {
        let cells: Option<String> = r.get(6)?;
        Ok(DapWindow {
            experiment: r.get(0)?,
            start: r.get::<_, i64>(1)? as u64,
            duration: r.get::<_, i64>(2)? as u64,
            job_id: r.get(3)?,
            state: r.get(4)?,
            reports: r.get::<_, Option<i64>>(5)?.map(|n| n as u64),
            cells: cells.and_then(|c| serde_json::from_str(&c).ok()),
            noise_var: r.get(7)?,
            message: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The next window of `exp` to collect at `now`, `(start, duration)`: from `start` (the end of the last
/// window, or the experiment's start), through every whole `time_precision` closed `grace` seconds ago,
/// once that spans at least `window_secs`; not past the experiment's end.
pub fn next_window(
    task: &DapTask,
    exp: &Experiment,
    start: Option<u64>,
    now: u64,
    window_secs: u64,
    grace: u64,
) -> Option<(u64, u64)> {
    let tp = task.time_precision.max(1);
    let len = window_secs.max(1).div_ceil(tp) * tp;
    let start = start.unwrap_or(exp.start / tp * tp);
    let closed = now.checked_sub(grace)? / tp * tp;
    let end = exp.end.map_or(closed, |e| closed.min(e.div_ceil(tp) * tp));
    (end >= start + len).then(|| (start, end - start))
}

/// Per-cell variance of the noise both aggregators add for `task` (0 without noise).
pub fn task_noise_var(task: &DapTask) -> f64 {
    task.noise_epsilon
        .map_or(0.0, |eps| 2.0 * noise_variance(&task.vdaf, eps))
}

/// One pass over every registered experiment with a task: polls the window being collected, or starts
/// the next closed one. Blocking (HTTP to the leader): run it off the async threads.
pub fn step(
    conn: &Connection,
    creds: &Credentials,
    experiments: &[Experiment],
    now: u64,
    window_secs: u64,
    grace: u64,
) -> Result<(), CollectorError> {
    let http = agent();
    for exp in experiments {
        let Some((task, secret)) = creds.task(&exp.id) else {
            continue;
        };
        if task.variants != exp.variants {
            // A task provisioned for other variants would be read in the wrong cell order.
            continue;
        }
        let current: Option<(u64, u64, String)> = conn
            .query_row(
                "SELECT start, duration, job_id FROM dap_windows WHERE experiment = ?1 AND state = 'collecting'",
                [&exp.id],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get(2)?)),
            )
            .optional()?;
        let set =
            |start: u64, state: &str, reports: Option<u64>, cells: Option<String>, msg: Option<String>| {
                conn.execute(
                    "UPDATE dap_windows SET state = ?3, reports = ?4, cells = ?5, message = ?6
                 WHERE experiment = ?1 AND start = ?2",
                    params![exp.id, start as i64, state, reports.map(|n| n as i64), cells, msg],
                )
            };
        let job = |job_id: &str, start: u64, duration: u64| {
            Job::new(&http, &creds.config.leader, task, secret, job_id, start, duration)
        };
        if let Some((start, duration, job_id)) = current {
            match job(&job_id, start, duration)?.poll() {
                Ok(Poll::Pending) => {}
                Ok(Poll::Ready(c)) => {
                    let cells = serde_json::to_string(&c.cells).unwrap_or_default();
                    set(start, "released", Some(c.reports), Some(cells), None)?;
                }
                Ok(Poll::Abandoned(m)) => {
                    set(start, "abandoned", None, None, Some(m))?;
                }
                // The leader unreachable or answering oddly: try again next pass.
                Err(e) => eprintln!("DAP: polling {} [{start}, +{duration}) failed: {e}", exp.id),
            }
            continue;
        }
        // A window still too small starts again where it started; otherwise after the last one.
        let from: Option<u64> = conn
            .query_row(
                "SELECT COALESCE(
                    (SELECT start FROM dap_windows WHERE experiment = ?1 AND state = 'too_small'),
                    (SELECT MAX(start + duration) FROM dap_windows WHERE experiment = ?1))",
                [&exp.id],
                |r| r.get::<_, Option<i64>>(0),
            )?
            .map(|t| t as u64);
        let Some((start, duration)) = next_window(task, exp, from, now, window_secs, grace) else {
            continue;
        };
        let job_id = b64(&rand::random::<[u8; 16]>());
        conn.execute(
            "INSERT OR REPLACE INTO dap_windows (experiment, start, duration, job_id, state, noise_var)
             VALUES (?1, ?2, ?3, ?4, 'collecting', ?5)",
            params![
                exp.id,
                start as i64,
                duration as i64,
                job_id,
                task_noise_var(task)
            ],
        )?;
        match job(&job_id, start, duration)?.start() {
            Ok(true) => {}
            Ok(false) => {
                set(
                    start,
                    "too_small",
                    None,
                    None,
                    Some(format!(
                        "fewer than {} reports so far: collected later with the next closed time",
                        task.min_batch_size
                    )),
                )?;
            }
            // A refused job leaves the window unreleased; the next one follows it.
            Err(e) => {
                set(start, "failed", None, None, Some(e.to_string()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitrine::report::dap::VdafSpec;
    use vitrine::report::ExperimentMode;

    #[test]
    fn windows_are_disjoint_aligned_and_closed() {
        let task = DapTask {
            experiment: "e".into(),
            task_id: "t".into(),
            variants: vec!["A".into()],
            vdaf: VdafSpec::histogram(7),
            time_precision: 60,
            min_batch_size: 10,
            noise_epsilon: None,
            segments: 0,
        };
        let mut exp = Experiment {
            id: "e".into(),
            slot: "s".into(),
            variants: vec!["A".into()],
            mode: ExperimentMode::Ab,
            holdout: 0.0,
            k: 10,
            start: 1_000_030,
            end: None,
        };
        // Starts at the experiment's start rounded down to the minute; 90 s windows become 120 s.
        assert_eq!(
            next_window(&task, &exp, None, 1_000_200, 90, 30),
            Some((1_000_020, 120))
        );
        assert_eq!(
            next_window(&task, &exp, None, 1_000_169, 90, 30),
            None,
            "not closed + grace"
        );
        assert_eq!(
            next_window(&task, &exp, Some(1_000_080), 1_000_230, 90, 30),
            Some((1_000_080, 120))
        );
        // Later, a window (say one still too small) reaches through every closed minute.
        assert_eq!(
            next_window(&task, &exp, Some(1_000_080), 1_000_500, 90, 30),
            Some((1_000_080, 360))
        );
        exp.end = Some(1_000_100);
        assert_eq!(
            next_window(&task, &exp, Some(1_000_020), 2_000_000, 90, 30),
            Some((1_000_020, 120))
        );
        assert_eq!(
            next_window(&task, &exp, Some(1_000_140), 2_000_000, 90, 30),
            None,
            "ended"
        );
    }
}
