//! The collector's one error type; each becomes a JSON 4xx/5xx whose message says what to do next.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Everything the collector can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// The body is not JSON of the report schema (syntax, unknown field, wrong type, out-of-range number).
    #[error("body is not a valid report ({0}); send one report per request as in docs/privacy.md")]
    Malformed(String),
    /// Well-formed JSON whose values are not acceptable (wrong shape for the experiment's cells, …).
    #[error("{0}")]
    Invalid(String),
    /// A report for an experiment the registry does not list: nothing is stored.
    #[error("experiment {0} is not registered; GET /v1/experiments lists what this collector measures")]
    Unregistered(String),
    /// A report for an experiment that has ended or not started.
    #[error("experiment {0} is not running (ended or not started); nothing is stored")]
    NotRunning(String),
    /// An admin request for something that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// An admin request that contradicts the registry (a duplicate id).
    #[error("{0}")]
    Conflict(String),
    /// An admin request without the right bearer token (or with admin disabled).
    #[error("admin API needs `Authorization: Bearer TOKEN` with the token given at start (--admin-token or VITRINE_ADMIN_TOKEN)")]
    Unauthorized,
    /// The body exceeds the limit.
    #[error("body exceeds {0} bytes; a report is far smaller, send one per request")]
    TooLarge(usize),
    /// The global token bucket is empty.
    #[error("rate limit reached; retry in a second with backoff")]
    RateLimited,
    /// The writer queue is full.
    #[error("collector is busy; the reports were NOT recorded, retry in a second")]
    Busy,
    /// SQLite failed; nothing from this request was recorded.
    #[error("storage failed ({0}); the reports were NOT recorded, retry later")]
    Storage(String),
    /// The database could not be opened at start.
    #[error("cannot open database {path}: {reason}; check that the directory exists and is writable")]
    Open {
        /// The --db path.
        path: String,
        /// SQLite's reason.
        reason: String,
    },
    /// DAP mode: a task list, credentials file or leader answer that cannot be used.
    #[error("DAP: {0}")]
    Dap(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {reason}; pick a free --addr")]
    Bind {
        /// The --addr value.
        addr: String,
        /// The OS reason.
        reason: String,
    },
}

impl From<rusqlite::Error> for CollectorError {
    fn from(e: rusqlite::Error) -> Self {
        CollectorError::Storage(e.to_string())
    }
}

impl CollectorError {
    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            CollectorError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
            CollectorError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            CollectorError::Unregistered(_) => (StatusCode::NOT_FOUND, "unregistered"),
            CollectorError::NotRunning(_) => (StatusCode::GONE, "not_running"),
            CollectorError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            CollectorError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            CollectorError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            CollectorError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            CollectorError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            CollectorError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            CollectorError::Dap(_) => (StatusCode::BAD_GATEWAY, "dap"),
            CollectorError::Storage(_) | CollectorError::Open { .. } | CollectorError::Bind { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "storage")
            }
        }
    }
}

impl IntoResponse for CollectorError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        let body = serde_json::json!({ "error": code, "message": self.to_string() });
        (status, Json(body)).into_response()
    }
}
