//! The core's one error type: every message says what went wrong and what to do next.

/// Errors from the Vitrine core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input from the page or a file did not have the expected shape.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// Result alias for the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
