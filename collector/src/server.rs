//! The HTTP service: strict ingestion (`POST /v1/reports`, one report per request), the public registry,
//! released statistics and priors, the dashboard, and the admin API (`admin.rs`).
//!
//! Nothing about a request is stored or logged: no address, no header, no arrival time finer than the
//! pending window's hour. The rate limit is one global token bucket, checked before the body is read,
//! for the same reason: per-client buckets would need per-client state.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use vitrine::report::{Registry, Report};

use crate::admin;
use crate::error::CollectorError;
use crate::stats::{priors, stats};
use crate::store::Store;

/// How the collector runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// SQLite file.
    pub db: PathBuf,
    /// Requests per second the token bucket refills.
    pub rate_per_sec: f64,
    /// Bucket size (the burst allowed after a quiet spell).
    pub burst: f64,
    /// Largest request body in bytes (a report is ~150 B).
    pub body_limit: usize,
    /// Release windows: pending sums are checked against k every this many seconds.
    pub window_secs: u64,
    /// Bearer token of the admin API; `None` disables it.
    pub admin_token: Option<String>,
    /// Origins allowed to read `/v1/stats` and the admin API from a browser (the dashboard is same-origin).
    pub cors_origins: Vec<String>,
    /// Requests handled at once; more get 503 at once rather than queue.
    pub max_concurrent: usize,
    /// Whole-request deadline (headers to response), against slow senders.
    pub request_timeout: Duration,
    /// DAP mode: the tasks and secrets to collect with (`None`: local-DP reports only), and the file
    /// they came from (re-read when it changes).
    pub dap: Option<crate::dap::Credentials>,
    /// The credentials file of [`Config::dap`], if any.
    pub dap_file: Option<PathBuf>,
    /// DAP mode: seconds after a window closes before it is collected (uploads arrive late).
    pub dap_grace_secs: u64,
}

impl Config {
    /// Defaults for a database file: hourly windows, 20,000 requests/s, 4 KiB bodies, no admin API.
    pub fn new(db: PathBuf) -> Self {
        Self {
            db,
            rate_per_sec: 20_000.0,
            burst: 40_000.0,
            body_limit: 4 * 1024,
            window_secs: 3600,
            admin_token: None,
            cors_origins: Vec::new(),
            max_concurrent: 1024,
            request_timeout: Duration::from_secs(10),
            dap: None,
            dap_file: None,
            dap_grace_secs: 60,
        }
    }
}

struct TokenBucket {
    tokens: f64,
    last: Instant,
}

pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) registry: RwLock<Registry>,
    pub(crate) admin_token: Option<String>,
    rate: f64,
    burst: f64,
    body_limit: usize,
    bucket: Mutex<TokenBucket>,
    slots: Arc<Semaphore>,
    /// `GET /v1/dap-tasks`: the public half of the DAP tasks (no secret), `{"tasks": []}` without DAP;
    /// and the experiments they measure.
    dap_tasks: RwLock<(String, HashSet<String>)>,
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

    pub(crate) fn registry(&self) -> Registry {
        self.registry.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Serves `creds`' tasks at `GET /v1/dap-tasks` from now on (the credentials file was reloaded).
    pub(crate) fn set_dap_tasks(&self, creds: &crate::dap::Credentials) {
        *self.dap_tasks.write().unwrap_or_else(|p| p.into_inner()) = dap_tasks_doc(Some(creds));
    }

    /// Re-reads the registry (after an admin change, or a change by `vitrine-collector experiments`).
    pub(crate) fn reload(&self) -> Result<(), CollectorError> {
        let fresh = self.store.registry()?;
        *self.registry.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn post_report(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, CollectorError> {
    // Before a byte of the body is read: a flood costs the collector as little as possible.
    if !st.take_token() {
        return Err(CollectorError::RateLimited);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > st.body_limit) {
        return Err(CollectorError::TooLarge(st.body_limit));
    }
    let body = axum::body::to_bytes(req.into_body(), st.body_limit)
        .await
        .map_err(|_| CollectorError::TooLarge(st.body_limit))?;
    let report: Report =
        serde_json::from_slice(&body).map_err(|e| CollectorError::Malformed(e.to_string()))?;
    let now = now_secs();
    report
        .validate(u32::try_from(now / 3600).unwrap_or(u32::MAX))
        .map_err(|e| CollectorError::Invalid(e.to_string()))?;
    let exp = st
        .registry
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&report.experiment)
        .cloned()
        .ok_or_else(|| CollectorError::Unregistered(report.experiment.clone()))?;
    if !exp.is_active(now) {
        return Err(CollectorError::NotRunning(exp.id));
    }
    // One experiment, one mechanism: the SDK never sends a local-noise report for a DAP experiment, and
    // one that does (an old SDK, a fake client) must not mix into its DAP statistics.
    if st
        .dap_tasks
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .1
        .contains(&exp.id)
    {
        return Err(CollectorError::Invalid(format!(
            "experiment {} is measured through DAP: its reports go to the DAP leader",
            exp.id
        )));
    }
    report
        .validate_for(&exp)
        .map_err(|e| CollectorError::Invalid(e.to_string()))?;
    let arm = report.arm.clone().unwrap_or_default();
    let fresh = st.store.append(report, arm, exp.layout().domain(), now).await?;
    let body = serde_json::json!({ "accepted": u8::from(fresh), "duplicate": !fresh });
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// The public registry: cacheable, with an ETag so a daily revalidation costs a 304.
async fn get_experiments(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let body = serde_json::to_string(&st.registry()).unwrap_or_else(|_| "{}".into());
    cacheable(body, &headers)
}

/// The DAP tasks the SDK reports to (task ids, VDAFs, variants; the keys and tokens stay here), cached
/// like the registry.
async fn get_dap_tasks(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let doc = st.dap_tasks.read().unwrap_or_else(|p| p.into_inner()).0.clone();
    cacheable(doc, &headers)
}

fn dap_tasks_doc(creds: Option<&crate::dap::Credentials>) -> (String, HashSet<String>) {
    let tasks = creds.map(|c| c.config.tasks.clone()).unwrap_or_default();
    let experiments = tasks.iter().map(|t| t.experiment.clone()).collect();
    (serde_json::json!({ "tasks": tasks }).to_string(), experiments)
}

/// Public JSON with an hour's cache and an ETag of its bytes.
fn cacheable(body: String, headers: &HeaderMap) -> Response {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    let etag = format!("\"{:016x}\"", h.finish());
    let cache = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, "public, max-age=3600".into()),
    ];
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn blocking<T: Send + 'static>(
    st: Arc<AppState>,
    f: impl FnOnce(&AppState) -> Result<T, CollectorError> + Send + 'static,
) -> Result<T, CollectorError> {
    tokio::task::spawn_blocking(move || f(&st))
        .await
        .map_err(|e| CollectorError::Storage(e.to_string()))?
}

async fn get_stats(State(st): State<Arc<AppState>>) -> Result<Response, CollectorError> {
    let doc = blocking(st, |s| {
        Ok(stats(&s.registry(), &s.store.windows()?, &s.store.dap_windows()?))
    })
    .await?;
    Ok(Json(doc).into_response())
}

async fn get_priors(State(st): State<Arc<AppState>>) -> Result<Response, CollectorError> {
    let doc = blocking(st, |s| {
        Ok(priors(
            &s.registry(),
            &s.store.windows()?,
            &s.store.dap_windows()?,
        ))
    })
    .await?;
    Ok(([(header::CACHE_CONTROL, "public, max-age=3600")], Json(doc)).into_response())
}

async fn dashboard() -> Html<&'static str> {
    Html(include_str!("dashboard.html"))
}

async fn not_found() -> Response {
    let body = serde_json::json!({
        "error": "not_found",
        "message": "no such endpoint; use POST /v1/reports, GET /v1/experiments, /v1/stats, /v1/priors or /dashboard"
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// At most `max_concurrent` requests at once; the rest are turned away at once (503), not queued.
async fn limit(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    match st.slots.clone().try_acquire_owned() {
        Ok(_permit) => next.run(req).await,
        Err(_) => CollectorError::Busy.into_response(),
    }
}

/// Open the store and build the router.
pub fn app(cfg: &Config) -> Result<Router, CollectorError> {
    Ok(build(cfg)?.0)
}

fn build(cfg: &Config) -> Result<(Router, Arc<AppState>), CollectorError> {
    let store = Store::open(&cfg.db)?;
    let registry = store.registry()?;
    let st = Arc::new(AppState {
        store,
        registry: RwLock::new(registry),
        admin_token: cfg.admin_token.clone().filter(|t| !t.is_empty()),
        rate: cfg.rate_per_sec,
        burst: cfg.burst.max(1.0),
        body_limit: cfg.body_limit,
        bucket: Mutex::new(TokenBucket {
            tokens: cfg.burst.max(1.0),
            last: Instant::now(),
        }),
        slots: Arc::new(Semaphore::new(cfg.max_concurrent.max(1))),
        dap_tasks: RwLock::new(dap_tasks_doc(cfg.dap.as_ref())),
    });
    // Reports and the public registry come from shop pages on any origin, without credentials.
    let public_cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    let public = Router::new()
        .route("/v1/reports", post(post_report))
        .route("/v1/experiments", get(get_experiments))
        .route("/v1/dap-tasks", get(get_dap_tasks))
        .route("/v1/priors", get(get_priors))
        .layer(public_cors);
    // Statistics and admin: only the configured origins (none by default; the dashboard is same-origin).
    let origins: Vec<HeaderValue> = cfg.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
    let private_cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]);
    let private = Router::new()
        .route("/v1/stats", get(get_stats))
        .merge(admin::routes())
        .layer(private_cors);
    let router = Router::new()
        .merge(public)
        .merge(private)
        .route("/dashboard", get(dashboard))
        .route("/", get(dashboard))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(st.clone(), limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            cfg.request_timeout,
        ))
        .layer(CatchPanicLayer::new())
        .with_state(st.clone());
    Ok((router, st))
}

/// A collector serving in the background (tests, the CLI benchmark).
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    ticker: JoinHandle<()>,
}

impl Running {
    /// Stop accepting, finish in-flight requests, close the database.
    pub async fn shutdown(mut self) {
        self.ticker.abort();
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Kill the server without a graceful shutdown (what a crash looks like to clients).
    pub fn abort(self) {
        self.ticker.abort();
        self.task.abort();
    }
}

/// Re-reads the registry every few seconds (the `experiments` subcommands write the file directly) and
/// releases due windows at each window boundary.
async fn tick(st: Arc<AppState>, window_secs: u64) {
    let window = window_secs.max(1);
    let mut next_release = (now_secs() / window + 1) * window;
    loop {
        tokio::time::sleep(Duration::from_secs(window.min(5))).await;
        let s = st.clone();
        let _ = blocking(s, |s| s.reload()).await;
        if now_secs() >= next_release {
            next_release = (now_secs() / window + 1) * window;
            let _ = st.store.release(st.registry().experiments, now_secs()).await;
        }
    }
}

/// Serve on `listener` until shut down.
pub async fn spawn(cfg: &Config, listener: TcpListener) -> Result<Running, CollectorError> {
    let (router, st) = build(cfg)?;
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
    let ticker = match cfg.dap.clone() {
        Some(creds) => {
            let (window, grace) = (cfg.window_secs, cfg.dap_grace_secs);
            let conn = crate::store::open_conn(&cfg.db)?;
            let (a, b) = (st.clone(), st);
            let source = crate::dap::run::DapSource {
                file: cfg.dap_file.clone(),
                creds,
            };
            tokio::spawn(async move {
                let dap = crate::dap::run::dap_tick(b, conn, source, window, grace);
                tokio::join!(tick(a, window), dap);
            })
        }
        None => tokio::spawn(tick(st, cfg.window_secs)),
    };
    Ok(Running {
        addr,
        stop: Some(stop),
        task,
        ticker,
    })
}
