//! The HTTP service: strict ingestion (`POST /v1/reports`), statistics, priors and the dashboard.
//!
//! Nothing about a request is stored or logged: no address, no header, no arrival time finer than the
//! report's own hour bucket. The rate limit is one global token bucket for the same reason: per-client
//! buckets would need per-client state.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{Any, CorsLayer};
use vitrine::report::Batch;

use crate::error::CollectorError;
use crate::stats::{priors, stats, DEFAULT_K};
use crate::store::Store;

/// How the collector runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// SQLite file.
    pub db: PathBuf,
    /// Release threshold (reports per group).
    pub k: u64,
    /// Requests per second the token bucket refills.
    pub rate_per_sec: f64,
    /// Bucket size (the burst allowed after a quiet spell).
    pub burst: f64,
    /// Largest request body in bytes.
    pub body_limit: usize,
}

impl Config {
    /// Defaults for a database file: k = 100, 20,000 requests/s, 256 KiB bodies.
    pub fn new(db: PathBuf) -> Self {
        Self {
            db,
            k: DEFAULT_K,
            rate_per_sec: 20_000.0,
            burst: 40_000.0,
            body_limit: 256 * 1024,
        }
    }
}

struct TokenBucket {
    tokens: f64,
    last: Instant,
}

struct AppState {
    store: Store,
    k: u64,
    rate: f64,
    burst: f64,
    body_limit: usize,
    bucket: Mutex<TokenBucket>,
}

impl AppState {
    fn take_token(&self) -> bool {
        // A poisoned lock only means a panic elsewhere mid-update; the bucket's numbers are still usable.
        let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * self.rate).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn now_hour() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    u32::try_from(secs / 3600).unwrap_or(u32::MAX)
}

async fn post_reports(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, CollectorError> {
    if !st.take_token() {
        return Err(CollectorError::RateLimited);
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            CollectorError::TooLarge(st.body_limit)
        } else {
            CollectorError::Malformed(e.body_text())
        }
    })?;
    let batch: Batch = serde_json::from_slice(&body).map_err(|e| CollectorError::Malformed(e.to_string()))?;
    batch
        .validate(now_hour())
        .map_err(|e| CollectorError::Invalid(e.to_string()))?;
    let accepted = batch.reports.len();
    st.store.append(batch.reports).await?;
    Ok((StatusCode::OK, Json(serde_json::json!({ "accepted": accepted }))).into_response())
}

async fn get_stats(State(st): State<Arc<AppState>>) -> Result<Response, CollectorError> {
    let doc = tokio::task::spawn_blocking(move || {
        let rows = st.store.cells()?;
        Ok::<_, CollectorError>(stats(&rows, st.k, st.store.reports_total()?))
    })
    .await
    .map_err(|e| CollectorError::Storage(e.to_string()))??;
    Ok(Json(doc).into_response())
}

async fn get_priors(State(st): State<Arc<AppState>>) -> Result<Response, CollectorError> {
    let doc = tokio::task::spawn_blocking(move || Ok::<_, CollectorError>(priors(&st.store.cells()?, st.k)))
        .await
        .map_err(|e| CollectorError::Storage(e.to_string()))??;
    Ok(Json(doc).into_response())
}

async fn dashboard() -> Html<&'static str> {
    Html(include_str!("dashboard.html"))
}

async fn not_found() -> Response {
    let body = serde_json::json!({
        "error": "not_found",
        "message": "no such endpoint; use POST /v1/reports, GET /v1/stats, GET /v1/priors or /dashboard"
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// Open the store and build the router.
pub fn app(cfg: &Config) -> Result<Router, CollectorError> {
    let store = Store::open(&cfg.db)?;
    let st = Arc::new(AppState {
        store,
        k: cfg.k,
        rate: cfg.rate_per_sec,
        burst: cfg.burst.max(1.0),
        body_limit: cfg.body_limit,
        bucket: Mutex::new(TokenBucket {
            tokens: cfg.burst.max(1.0),
            last: Instant::now(),
        }),
    });
    // Beacons come from shop pages on other origins, without credentials: any origin, no cookies.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    Ok(Router::new()
        .route("/v1/reports", post(post_reports))
        .route("/v1/stats", get(get_stats))
        .route("/v1/priors", get(get_priors))
        .route("/dashboard", get(dashboard))
        .route("/", get(dashboard))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(cfg.body_limit))
        .layer(cors)
        .layer(CatchPanicLayer::new())
        .with_state(st))
}

/// A collector serving in the background (tests, the CLI benchmark).
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    /// Stop accepting, finish in-flight requests, close the database.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Kill the server without a graceful shutdown (what a crash looks like to clients).
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Serve on `listener` until shut down.
pub async fn spawn(cfg: &Config, listener: TcpListener) -> Result<Running, CollectorError> {
    let router = app(cfg)?;
    let addr = listener.local_addr().map_err(|e| CollectorError::Bind {
        addr: "listener".into(),
        reason: e.to_string(),
    })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Running {
        addr,
        stop: Some(stop),
        task,
    })
}
