//! The crate-wide error type.

/// Everything that can go wrong in this crate, as seen by a caller.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A wait ran out of time (kazoo's `timeout_exception`).
    #[error("timed out")]
    Timeout,
}
