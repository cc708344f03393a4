//! The experiment registry in the collector's SQLite database: what the store measures, public at
//! `GET /v1/experiments`. Reports are accepted only for running experiments listed here, so the keys the
//! collector aggregates by are bounded by what the operator registered — and anyone can audit them.

use rusqlite::{params, Connection, OptionalExtension};
use vitrine::report::{Experiment, ExperimentMode, Registry};

use crate::error::CollectorError;

/// Tables of the registry (created with the rest of the schema).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY, slot TEXT NOT NULL, variants TEXT NOT NULL, mode TEXT NOT NULL,
    holdout REAL NOT NULL, k INTEGER NOT NULL, start INTEGER NOT NULL, end_at INTEGER
) WITHOUT ROWID;";

fn mode_str(m: ExperimentMode) -> &'static str {
    match m {
        ExperimentMode::Ab => "ab",
        ExperimentMode::Bandit => "bandit",
    }
}

/// Registers `exp` (validated; its id must be new: a changed experiment is a new experiment).
pub fn add(conn: &Connection, exp: &Experiment) -> Result<(), CollectorError> {
    exp.validate()
        .map_err(|e| CollectorError::Invalid(e.to_string()))?;
    let exists: Option<String> = conn
        .query_row("SELECT id FROM experiments WHERE id = ?1", [&exp.id], |r| {
            r.get(0)
        })
        .optional()?;
    if exists.is_some() {
        return Err(CollectorError::Conflict(format!(
            "experiment {} is already registered; end it and register a new id to change it",
            exp.id
        )));
    }
    conn.execute(
        "INSERT INTO experiments VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            exp.id,
            exp.slot,
            exp.variants.join(","),
            mode_str(exp.mode),
            exp.holdout,
            exp.k as i64,
            exp.start as i64,
            exp.end.map(|e| e as i64)
        ],
    )?;
    Ok(())
}

/// Ends a running experiment at `now`: later reports are refused, what was received stays.
pub fn end(conn: &Connection, id: &str, now: u64) -> Result<(), CollectorError> {
    let changed = conn.execute(
        "UPDATE experiments SET end_at = max(start, ?2) WHERE id = ?1 AND end_at IS NULL",
        params![id, now as i64],
    )?;
    if changed == 0 {
        return Err(CollectorError::NotFound(format!(
            "no running experiment {id}; `experiments list` shows what is registered"
        )));
    }
    Ok(())
}

/// Every registered experiment, ended ones included, by start then id.
pub fn list(conn: &Connection) -> Result<Registry, CollectorError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, slot, variants, mode, holdout, k, start, end_at FROM experiments ORDER BY start, id",
    )?;
    let rows = stmt.query_map([], |r| {
        let variants: String = r.get(2)?;
        let mode: String = r.get(3)?;
        Ok(Experiment {
            id: r.get(0)?,
            slot: r.get(1)?,
            variants: variants.split(',').map(str::to_owned).collect(),
            mode: if mode == "bandit" {
                ExperimentMode::Bandit
            } else {
                ExperimentMode::Ab
            },
            holdout: r.get(4)?,
            k: r.get::<_, i64>(5)? as u64,
            start: r.get::<_, i64>(6)? as u64,
            end: r.get::<_, Option<i64>>(7)?.map(|e| e as u64),
        })
    })?;
    Ok(Registry {
        v: 1,
        experiments: rows.collect::<Result<Vec<_>, _>>()?,
    })
}

/// Registers each experiment of a registry file whose id is not registered yet (`--register`: the demo's
/// banner on first start). Returns how many were added.
pub fn register_missing(conn: &Connection, file: &Registry, now: u64) -> Result<usize, CollectorError> {
    let have = list(conn)?;
    let mut added = 0;
    for e in &file.experiments {
        if have.get(&e.id).is_none() {
            let e = Experiment {
                start: if e.start == 0 { now } else { e.start },
                ..e.clone()
            };
            add(conn, &e)?;
            added += 1;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_list_end_round_trip() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let e = Experiment {
            id: "hero".into(),
            slot: "banner".into(),
            variants: vec!["A".into(), "B".into()],
            mode: ExperimentMode::Ab,
            holdout: 0.1,
            k: 100,
            start: 50,
            end: None,
        };
        add(&conn, &e).unwrap();
        assert!(matches!(add(&conn, &e), Err(CollectorError::Conflict(_))));
        assert!(add(
            &conn,
            &Experiment {
                id: "bad".into(),
                k: 0,
                ..e.clone()
            }
        )
        .is_err());
        assert_eq!(list(&conn).unwrap().experiments, vec![e.clone()]);
        end(&conn, "hero", 70).unwrap();
        assert!(end(&conn, "hero", 80).is_err(), "already ended");
        assert_eq!(list(&conn).unwrap().experiments[0].end, Some(70));
    }
}
