//! The collector's DAP loop: every 2 s, polls the windows being collected and starts the next closed ones,
//! and picks up a rewritten credentials file (`scripts/dap.sh sync` provisions a newly registered
//! experiment's task without restarting the collector).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Credentials;
use crate::server::{now_secs, AppState};

/// Where the credentials come from, and the copy in use.
pub struct DapSource {
    /// Re-read when its modification time changes; `None`: the credentials never change.
    pub file: Option<PathBuf>,
    /// The credentials in use.
    pub creds: Credentials,
}

fn modified(file: &Option<PathBuf>) -> Option<SystemTime> {
    std::fs::metadata(file.as_ref()?).and_then(|m| m.modified()).ok()
}

/// The loop. The step waits on the leader over HTTP, so it has a connection of its own: statistics reads
/// never wait behind it.
pub(crate) async fn dap_tick(
    st: Arc<AppState>,
    mut conn: rusqlite::Connection,
    source: DapSource,
    window_secs: u64,
    grace: u64,
) {
    let mut seen = modified(&source.file);
    let mut refused = None;
    let mut creds = Arc::new(source.creds);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now_modified = modified(&source.file);
        if now_modified != seen {
            // A bad edit keeps the credentials in use, says why once, and is read again when it changes
            // (`dap provision` renames a complete file into place, so there is no half-written one).
            let read = source.file.as_ref().map(std::fs::read_to_string);
            match read.map(|r| {
                r.map_err(|e| e.to_string())
                    .and_then(|t| Credentials::from_json(&t).map_err(|e| e.to_string()))
            }) {
                Some(Ok(c)) => {
                    eprintln!("DAP credentials reloaded: {} task(s)", c.config.tasks.len());
                    st.set_dap_tasks(&c);
                    creds = Arc::new(c);
                    seen = now_modified;
                }
                Some(Err(e)) if refused != now_modified => {
                    eprintln!("DAP credentials not reloaded: {e}");
                    refused = now_modified;
                }
                _ => {}
            }
        }
        let (c, exps) = (creds.clone(), st.registry().experiments);
        let step = tokio::task::spawn_blocking(move || {
            let r = super::schedule::step(&conn, &c, &exps, now_secs(), window_secs, grace);
            (conn, r)
        });
        match step.await {
            Ok((c, r)) => {
                conn = c;
                if let Err(e) = r {
                    eprintln!("DAP collection: {e}");
                }
            }
            // The step panicked: its connection is gone, and so is DAP collection until a restart.
            Err(e) => {
                eprintln!("DAP collection stopped: {e}");
                return;
            }
        }
    }
}
