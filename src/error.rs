//! The crate-wide error type.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::proto::{DecodeError, EncodeError, ErrorCode};
use crate::reactor::LoopError;

/// Everything that can go wrong in this crate, as seen by a caller.
///
/// `Error` is `Clone` (an [`AsyncResult`](crate::AsyncResult) hands the same stored error to
/// every `get()`), so I/O errors are kept behind an [`Arc`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A wait ran out of time (kazoo's `timeout_exception`).
    #[error("timed out")]
    Timeout,

    /// The loop or a result object refused (stopped, embedded, nested too deep, already
    /// set, ...): an error of the handler layer, not of ZooKeeper.
    #[error(transparent)]
    Loop(#[from] LoopError),
    /// A TCP connect was refused by the peer.
    #[error("connection to {addr} refused")]
    ConnectionRefused {
        /// The address that refused.
        addr: SocketAddr,
    },

    /// A TCP connect did not complete in time.
    #[error("connection to {addr} timed out after {timeout:?}")]
    ConnectTimedOut {
        /// The address that did not answer.
        addr: SocketAddr,
        /// How long the connect was given.
        timeout: Duration,
    },

    /// An operating-system I/O call failed.
    #[error("{op} failed: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The operating-system error.
        #[source]
        source: Arc<std::io::Error>,
    },

    /// The server answered a request with an error code (NoNode, NodeExists, BadVersion...).
    #[error("{code}: {path}")]
    ZooKeeper {
        /// The server's error code.
        code: ErrorCode,
        /// The path of the request (unchrooted), or a description for path-less requests.
        path: String,
    },

    /// The connection was lost while the request was in flight; it may or may not have been
    /// applied (kazoo's `ConnectionLoss`): read back before retrying a non-idempotent write.
    ///
    /// Also the error of a request that was written to the socket and not answered when the
    /// client was stopped ([`Client::stop`](crate::client::Client::stop), or the last handle
    /// dropped), and, conservatively, of one still waiting in the output buffer when the
    /// connection dropped. [`may_have_been_applied`](Self::may_have_been_applied) is `true`.
    #[error(
        "connection lost while the request was in flight (it may or may not have been applied)"
    )]
    ConnectionLoss,

    /// The session expired before the request was answered (kazoo's `SessionExpiredError`).
    ///
    /// A request that was in flight when the session expired may have been applied (the
    /// server can have applied it before the session ended); one that was still waiting for
    /// a connection was not. [`may_have_been_applied`](Self::may_have_been_applied) is
    /// `true`, since a caller cannot tell the two apart.
    #[error("the ZooKeeper session expired")]
    SessionExpired,

    /// The server refused the client's credentials; the session is unusable
    /// (kazoo's `AuthFailedError`).
    #[error(
        "authentication failed: the session is unusable; start a new client with valid credentials"
    )]
    AuthFailed,

    /// The client is stopped or closed (kazoo's `ConnectionClosedError`).
    ///
    /// As a request's error it means "not sent, certainly not applied": the request was
    /// refused, queued, or not fully written when the client was stopped. A request whose
    /// bytes had left fails with [`ConnectionLoss`](Self::ConnectionLoss) instead.
    /// [`may_have_been_applied`](Self::may_have_been_applied) is `false`.
    #[error("the client is not started (or was stopped): call start() first")]
    ConnectionClosed,

    /// Too many requests were waiting: for a connection, or for room under `max_in_flight`.
    /// Nothing was sent: the request was certainly not applied.
    #[error("{limit} requests are already waiting (for a connection, or for room under max_in_flight); raise max_queued_requests or wait")]
    QueueFull {
        /// The configured limit.
        limit: usize,
    },

    /// A path was refused before anything was sent.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// The rule it breaks.
        reason: &'static str,
    },

    /// An argument was refused before anything was sent (bad hosts string, TTL out of range,
    /// transaction committed twice...).
    #[error("{0}")]
    BadArgument(String),

    /// A request could not be encoded (for example it is larger than the server accepts).
    #[error(transparent)]
    Encode(#[from] EncodeError),

    /// A reply did not decode; only this request failed, the connection stays up.
    #[error("the server's reply did not decode: {0}")]
    Decode(DecodeError),
}

impl Error {
    /// Wraps an I/O error, naming the operation that failed.
    pub(crate) fn io(op: &'static str, source: std::io::Error) -> Error {
        Error::Io {
            op,
            source: Arc::new(source),
        }
    }

    /// `true` for [`Error::Timeout`] and [`Error::ConnectTimedOut`].
    ///
    /// ```
    /// use mio_zookeeper::Error;
    /// assert!(Error::Timeout.is_timeout());
    /// assert!(!Error::from(mio_zookeeper::LoopError::Stopped).is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout | Error::ConnectTimedOut { .. })
    }

    /// Whether the request that failed with this error may have been applied by the server
    /// anyway: `true` for [`Error::ConnectionLoss`] and [`Error::SessionExpired`] (sent, no
    /// answer: the outcome is unknown; read back before retrying a non-idempotent write),
    /// and for [`Error::Timeout`] on a blocking call (the request stays in flight after the
    /// caller stopped waiting). `false` for every other error, among them
    /// [`Error::ConnectionClosed`] (not sent) and the server's own refusals.
    ///
    /// ```
    /// use mio_zookeeper::Error;
    /// assert!(Error::ConnectionLoss.may_have_been_applied());
    /// assert!(Error::SessionExpired.may_have_been_applied());
    /// assert!(!Error::ConnectionClosed.may_have_been_applied());
    /// ```
    pub fn may_have_been_applied(&self) -> bool {
        matches!(
            self,
            Error::ConnectionLoss | Error::SessionExpired | Error::Timeout
        )
    }

    /// The ZooKeeper error code this error stands for, if any: the server's code for
    /// [`Error::ZooKeeper`], and the client-side codes of PROTOCOL.md §7 for connection loss,
    /// session expiry, auth failure and timeouts.
    ///
    /// The code alone does not tell whether a request was applied: `ConnectionLoss` and
    /// `SessionExpired` may or may not have been, and [`Error::ConnectionClosed`] (certainly
    /// not sent) also maps to `SessionExpired`, kazoo's code for a closed client. Ask
    /// [`may_have_been_applied`](Self::may_have_been_applied) instead.
    ///
    /// ```
    /// use mio_zookeeper::{Error, ErrorCode};
    /// assert_eq!(Error::ConnectionLoss.code(), Some(ErrorCode::ConnectionLoss));
    /// assert_eq!(Error::from(mio_zookeeper::LoopError::Stopped).code(), None);
    /// ```
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            Error::ZooKeeper { code, .. } => *code,
            Error::ConnectionLoss => ErrorCode::ConnectionLoss,
            Error::SessionExpired | Error::ConnectionClosed => ErrorCode::SessionExpired,
            Error::AuthFailed => ErrorCode::AuthFailed,
            Error::Timeout => ErrorCode::OperationTimeout,
            Error::Encode(_) | Error::Decode(_) => ErrorCode::MarshallingError,
            Error::InvalidPath { .. } | Error::BadArgument(_) => ErrorCode::BadArguments,
            _ => return None,
        })
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        use std::io::ErrorKind;
        let kind = match &e {
            Error::Timeout | Error::ConnectTimedOut { .. } => ErrorKind::TimedOut,
            Error::ConnectionRefused { .. } => ErrorKind::ConnectionRefused,
            Error::Io { source, .. } => source.kind(),
            Error::Loop(LoopError::Embedded { .. }) => ErrorKind::WouldBlock,
            _ => ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}
