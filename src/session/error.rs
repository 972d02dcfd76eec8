//! Why a request failed without a server reply of its own, and its conversion into the
//! crate's [`Error`](crate::Error).

#[cfg(doc)]
use super::Session;
use crate::proto::{DecodeError, EncodeError, ErrorCode};

/// Why a request failed without a server reply of its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The server answered with this error code.
    #[error("server error {0}")]
    Server(ErrorCode),
    /// The connection dropped (or the session was closed) while the request was in flight:
    /// it may or may not have been applied. After a connection loss this is also the error
    /// of a request still in the output buffer (conservatively); after
    /// [`Session::close_now`] only of one whose bytes were all written.
    #[error("connection lost while the request was in flight")]
    ConnectionLoss,
    /// The session expired before the request was answered. A request that was in flight at
    /// that moment may have been applied; a queued one was not.
    #[error("session expired")]
    SessionExpired,
    /// Authentication failed; the session is unusable.
    #[error("authentication failed")]
    AuthFailed,
    /// The session was closed before the request was (fully) written: it was certainly not
    /// applied. (A request written and unanswered when the session is closed fails with
    /// [`ConnectionLoss`](Self::ConnectionLoss) instead.)
    #[error("session closed")]
    Closed,
    /// Too many requests were waiting (for a connection, or for room under `max_in_flight`).
    #[error("{limit} requests are already waiting (for a connection, or for room under max_in_flight); raise max_queued_requests or wait")]
    QueueFull {
        /// The configured limit.
        limit: usize,
    },
    /// The request could not be encoded (for example it is larger than the server accepts).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The reply did not decode; the connection stays up (the frame was intact).
    #[error("the reply did not decode: {0}")]
    Decode(DecodeError),
}

/// Why [`Session::submit`] refused a request at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The request failed before it was queued.
    #[error(transparent)]
    Request(#[from] RequestError),
}
