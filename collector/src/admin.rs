//! The admin API: the registry's `add` and `end`, a release now, and the operator's totals, all behind the
//! bearer token given at start (`--admin-token` or `VITRINE_ADMIN_TOKEN`). Without a token it is off.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use vitrine::report::{Experiment, ExperimentMode};

use crate::error::CollectorError;
use crate::registry;
use crate::server::{now_secs, AppState};

/// The body of `POST /v1/admin/experiments`: the record less its start (now) and end.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewExperiment {
    id: String,
    slot: String,
    variants: Vec<String>,
    #[serde(default = "ab")]
    mode: ExperimentMode,
    #[serde(default)]
    holdout: f64,
    #[serde(default = "default_k")]
    k: u64,
}

fn ab() -> ExperimentMode {
    ExperimentMode::Ab
}

/// Default release threshold.
pub fn default_k() -> u64 {
    100
}

/// Compares in time independent of where the strings differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorise(st: &AppState, headers: &HeaderMap) -> Result<(), CollectorError> {
    let want = st.admin_token.as_deref().ok_or(CollectorError::Unauthorized)?;
    let got = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(CollectorError::Unauthorized)?;
    if same(got.as_bytes(), want.as_bytes()) {
        Ok(())
    } else {
        Err(CollectorError::Unauthorized)
    }
}

async fn add(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, CollectorError> {
    authorise(&st, &headers)?;
    let n: NewExperiment =
        serde_json::from_slice(&body).map_err(|e| CollectorError::Malformed(e.to_string()))?;
    let exp = Experiment {
        id: n.id,
        slot: n.slot,
        variants: n.variants,
        mode: n.mode,
        holdout: n.holdout,
        k: n.k,
        start: now_secs(),
        end: None,
    };
    let e = exp.clone();
    let s = st.clone();
    tokio::task::spawn_blocking(move || s.store.with_conn(|c| registry::add(c, &e)))
        .await
        .map_err(|e| CollectorError::Storage(e.to_string()))??;
    st.reload()?;
    Ok((StatusCode::CREATED, Json(exp)).into_response())
}

async fn end(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, CollectorError> {
    authorise(&st, &headers)?;
    let s = st.clone();
    tokio::task::spawn_blocking(move || s.store.with_conn(|c| registry::end(c, &id, now_secs())))
        .await
        .map_err(|e| CollectorError::Storage(e.to_string()))??;
    st.reload()?;
    Ok(Json(st.registry()).into_response())
}

/// Releases due windows now instead of at the next boundary (operators, tests, `vitrine simulate`).
async fn release(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, CollectorError> {
    authorise(&st, &headers)?;
    st.reload()?;
    let released = st.store.release(st.registry().experiments, now_secs()).await?;
    Ok(Json(serde_json::json!({ "released": released })).into_response())
}

async fn totals(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, CollectorError> {
    authorise(&st, &headers)?;
    Ok(Json(st.store.totals()?).into_response())
}

/// DAP mode: every window collected or being collected, with its state (released, abandoned below
/// `min_batch_size`, failed) and, once released, its cell sums.
async fn dap_windows(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, CollectorError> {
    authorise(&st, &headers)?;
    Ok(Json(serde_json::json!({ "windows": st.store.dap_windows()? })).into_response())
}

/// The admin routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/admin/experiments", post(add))
        .route("/v1/admin/experiments/{id}/end", post(end))
        .route("/v1/admin/release", post(release))
        .route("/v1/admin/totals", get(totals))
        .route("/v1/admin/dap", get(dap_windows))
}
