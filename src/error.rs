//! The crate-wide error type.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::proto::{DecodeError, EncodeError, ErrorCode};
use crate::reactor::LoopError;
use crate::zk_error::ZkError;

/// Everything that can go wrong in this crate, as seen by a caller.
///
/// # Matching
///
/// Ask the error the question you have ([`is_no_node`](Self::is_no_node),
/// [`is_node_exists`](Self::is_node_exists), [`is_bad_version`](Self::is_bad_version),
/// [`is_not_empty`](Self::is_not_empty), [`is_no_auth`](Self::is_no_auth),
/// [`is_retryable`](Self::is_retryable), [`is_session_expired`](Self::is_session_expired),
/// [`may_have_been_applied`](Self::may_have_been_applied)); match the variants, or the
/// server's [`ZkError`] (its code and the request's path), for the rest. The enum is
/// `#[non_exhaustive]`: keep a catch-all arm.
///
/// ```no_run
/// use mio_zookeeper::{Client, Error, ErrorCode, ZkError};
///
/// /// The configuration, or `None` when there is none yet.
/// fn config(zk: &Client) -> Result<Option<Vec<u8>>, Error> {
///     match zk.get("/app/config", None) {
///         Ok((data, _stat)) => Ok(Some(data.map(|d| d.to_vec()).unwrap_or_default())),
///         Err(e) if e.is_no_node() => Ok(None),
///         Err(e) => Err(e),
///     }
/// }
///
/// /// Deletes `path`, retrying (a few times) when the connection drops: `false` when it
/// /// still has children.
/// fn remove(zk: &Client, path: &str) -> Result<bool, Error> {
///     let mut tries = 0;
///     loop {
///         tries += 1;
///         match zk.delete(path, None) {
///             // Gone either way, perhaps by an earlier try that lost its connection.
///             Ok(()) => return Ok(true),
///             Err(e) if e.is_no_node() => return Ok(true),
///             Err(e) if e.is_retryable() && tries < 3 => continue,
///             // The server's refusal, with its code and the request's path.
///             Err(Error::ZooKeeper(ZkError { code: ErrorCode::NotEmpty, path })) => {
///                 log::info!("{path} still has children");
///                 return Ok(false);
///             }
///             Err(e) => return Err(e),
///         }
///     }
/// }
/// # let _ = (config, remove);
/// ```
///
/// `Error` is `Clone` (an [`AsyncResult`](crate::AsyncResult) hands the same stored error to
/// every `get()`), so I/O errors are kept behind an [`Arc`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A wait ran out of time (kazoo's `timeout_exception`). A request that was waited on
    /// stays in flight and may still be applied; [`is_retryable`](Self::is_retryable) is `true`.
    #[error("timed out")]
    Timeout,

    /// The loop or a result object refused (stopped, embedded, nested too deep, already
    /// set, ...): an error of the handler layer, not of ZooKeeper.
    #[error(transparent)]
    Loop(#[from] LoopError),
    /// A TCP connect was refused by the peer.
    ///
    /// Nothing listens at that address: check it (a client's own connections to the
    /// ensemble are retried by the client, which reports a session it cannot reach
    /// through its state instead).
    #[error("connection to {addr} refused")]
    ConnectionRefused {
        /// The address that refused.
        addr: SocketAddr,
    },

    /// A TCP connect did not complete in time.
    ///
    /// The address is unreachable or the peer is overloaded: check it, or try again later.
    #[error("connection to {addr} timed out after {timeout:?}")]
    ConnectTimedOut {
        /// The address that did not answer.
        addr: SocketAddr,
        /// How long the connect was given.
        timeout: Duration,
    },

    /// An operating-system I/O call failed.
    ///
    /// `op` says which; the `source`'s kind says why (out of file descriptors, permission,
    /// ...). Usually not something a retry fixes.
    #[error("{op} failed: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The operating-system error.
        #[source]
        source: Arc<std::io::Error>,
    },

    /// The server answered a request with an error code (NoNode, NodeExists, BadVersion...).
    ///
    /// The [`ZkError`] holds the code and the path of the request. Ask it (or this `Error`)
    /// the question you have: [`is_no_node`](Self::is_no_node),
    /// [`is_node_exists`](Self::is_node_exists), [`is_bad_version`](Self::is_bad_version),
    /// [`is_not_empty`](Self::is_not_empty), [`is_no_auth`](Self::is_no_auth), ... The
    /// server did not apply the request: fix what the code names (create the parent, read
    /// the new version, delete the children, add credentials) and send it again, or treat
    /// the answer as the result (a node that is already there, or already gone).
    #[error(transparent)]
    ZooKeeper(#[from] ZkError),

    /// The connection was lost while the request was in flight; it may or may not have been
    /// applied (kazoo's `ConnectionLoss`): read back before retrying a non-idempotent write.
    ///
    /// Also the error of a request that was written to the socket and not answered when the
    /// client was stopped ([`Client::stop`](crate::client::Client::stop), or the last handle
    /// dropped), and, conservatively, of one still waiting in the output buffer when the
    /// connection dropped. [`may_have_been_applied`](Self::may_have_been_applied) is `true`,
    /// and so is [`is_retryable`](Self::is_retryable): the client reconnects by itself, so
    /// sending the request again (once it is safe to apply twice) is the usual answer.
    #[error(
        "connection lost while the request was in flight (it may or may not have been applied)"
    )]
    ConnectionLoss,

    /// The session expired before the request was answered (kazoo's `SessionExpiredError`).
    ///
    /// A request that was in flight when the session expired may have been applied (the
    /// server can have applied it before the session ended); one that was still waiting for
    /// a connection was not. [`may_have_been_applied`](Self::may_have_been_applied) is
    /// `true`, since a caller cannot tell the two apart. The session's ephemeral nodes and
    /// its watches on the server are gone: recreate what you need in the new session.
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

    /// A path was refused before anything was sent: fix the path as `reason` says; sending
    /// it again as it is fails again.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// The rule it breaks.
        reason: &'static str,
    },

    /// An argument was refused before anything was sent (bad hosts string, TTL out of range,
    /// transaction committed twice...): the caller's input, never the server's reply. Fix
    /// the argument; the message says which and why.
    #[error("{0}")]
    BadArgument(String),

    /// A request could not be encoded (for example it is larger than the server accepts).
    /// Nothing was sent: make the request smaller (split the data, or a transaction).
    #[error(transparent)]
    Encode(#[from] EncodeError),

    /// A reply did not decode; only this request failed, the connection stays up. The
    /// server's reply header said "Ok", so a write was applied
    /// ([`may_have_been_applied`](Self::may_have_been_applied) is `true`): read back what
    /// it was to change. The server, or something between it and the client, is broken.
    #[error("the server's reply did not decode: {0}")]
    Decode(DecodeError),

    /// The server's reply decoded, but it is not a reply the request can get (a
    /// multi-read's entry that is no read's result, a four-letter word's answer that is too
    /// long or lacks what was asked...). The server, or something between it and the
    /// client, is broken or not a ZooKeeper server the client can talk to; the request may
    /// have been applied ([`may_have_been_applied`](Self::may_have_been_applied) is
    /// `true`). Not the caller's fault: report it.
    #[error("unexpected reply to {request}: {reply}")]
    Protocol {
        /// The request that got the reply (its ZooKeeper name, e.g. `"multiRead"`).
        request: &'static str,
        /// What came back instead, briefly.
        reply: String,
    },

    /// A [`Retry`](crate::recipe::Retry) gave up on an operation that kept failing with an
    /// error it retries (kazoo's `RetryFailedError` and its `InterruptedError`).
    ///
    /// `reason` says why it stopped (out of tries, the deadline, the interrupt), `tries` how
    /// many times the operation was called, `last` the error of the last call.
    /// [`may_have_been_applied`](Self::may_have_been_applied) is the last error's answer:
    /// after a connection loss, a write may have been applied by any of the tries.
    #[error("gave up retrying ({reason}) after {tries} tries; the last error: {last}")]
    RetryFailed {
        /// Why the retries stopped.
        reason: RetryStop,
        /// How many times the operation was called.
        tries: u32,
        /// The error of the last call.
        last: Box<Error>,
    },

    /// A coordination recipe (lock, semaphore, lease, counter, ...) refused or could not do
    /// what was asked; the [`RecipeError`](crate::recipe::RecipeError) says what and why.
    #[error(transparent)]
    Recipe(#[from] crate::recipe::RecipeError),
}

/// Why a [`Retry`](crate::recipe::Retry) stopped retrying ([`Error::RetryFailed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryStop {
    /// `max_tries` calls were made (kazoo's "Too many retry attempts").
    #[error("out of tries")]
    TooManyTries,
    /// The next wait would end at or past the deadline (kazoo's "Exceeded retry deadline").
    #[error("the deadline would pass before the next try")]
    Deadline,
    /// The interrupt said stop during a wait between tries (kazoo's `InterruptedError`).
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// Wraps an I/O error, naming the operation that failed.
    pub(crate) fn io(op: &'static str, source: std::io::Error) -> Error {
        Error::Io {
            op,
            source: Arc::new(source),
        }
    }

    /// A reply of the wrong shape to `request`: [`Error::Protocol`], describing `reply` by
    /// its `Debug` form, cut short (a reply can hold a megabyte of data).
    pub(crate) fn protocol(request: &'static str, reply: &dyn std::fmt::Debug) -> Error {
        const MAX: usize = 200;
        let mut reply = format!("{reply:?}");
        if reply.len() > MAX {
            let mut end = MAX;
            while !reply.is_char_boundary(end) {
                end -= 1;
            }
            reply.truncate(end);
            reply.push_str("...");
        }
        Error::Protocol { request, reply }
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
    /// for [`Error::Timeout`] on a blocking call (the request stays in flight after the
    /// caller stopped waiting), for [`Error::Decode`] and [`Error::Protocol`] (the server
    /// answered "Ok", with a reply that makes no sense), and for a [`ZkError`] whose code
    /// says the outcome is unknown ([`ZkError::may_have_been_applied`]), and for an
    /// [`Error::RetryFailed`] whose last error says so, and for a recipe's
    /// [`RecipeError::OutcomeUnknown`](crate::recipe::RecipeError::OutcomeUnknown) (a
    /// counter add whose lost reply could not be read back). `false` for every other error,
    /// among them [`Error::ConnectionClosed`] (not sent) and the server's own refusals.
    ///
    /// ```
    /// use mio_zookeeper::{Error, ErrorCode, ZkError};
    /// assert!(Error::ConnectionLoss.may_have_been_applied());
    /// assert!(Error::SessionExpired.may_have_been_applied());
    /// assert!(!Error::ConnectionClosed.may_have_been_applied());
    /// assert!(!Error::from(ZkError::new(ErrorCode::NodeExists, "/a")).may_have_been_applied());
    /// let unknown = mio_zookeeper::recipe::RecipeError::OutcomeUnknown { path: "/n".into() };
    /// assert!(Error::from(unknown).may_have_been_applied());
    /// ```
    pub fn may_have_been_applied(&self) -> bool {
        match self {
            Error::ConnectionLoss | Error::SessionExpired | Error::Timeout => true,
            // The reply's header said Ok: a write was applied, only its reply is unusable.
            Error::Decode(_) | Error::Protocol { .. } => true,
            Error::ZooKeeper(zk) => zk.may_have_been_applied(),
            Error::RetryFailed { last, .. } => last.may_have_been_applied(),
            Error::Recipe(crate::recipe::RecipeError::OutcomeUnknown { .. }) => true,
            _ => false,
        }
    }

    /// Whether sending the request again is the usual answer (what kazoo's `KazooRetry` and
    /// Curator's `RetryLoop` retry): `true` for [`Error::ConnectionLoss`] (the client
    /// reconnects by itself), [`Error::Timeout`] (kazoo's and Curator's operation timeout),
    /// and a [`ZkError`] with [`ErrorCode::ConnectionLoss`] or
    /// [`ErrorCode::OperationTimeout`]. Each of these may have been applied: retry only a
    /// request that is safe to apply twice, or read back first.
    ///
    /// Not retryable: [`Error::SessionExpired`] (the session's ephemeral nodes and watches
    /// are gone; a recipe must start over), [`Error::ConnectionClosed`] (the client is
    /// stopped), and the server's refusals.
    ///
    /// ```
    /// use mio_zookeeper::{Error, ErrorCode, ZkError};
    /// assert!(Error::ConnectionLoss.is_retryable());
    /// assert!(!Error::SessionExpired.is_retryable());
    /// assert!(!Error::from(ZkError::new(ErrorCode::NoNode, "/a")).is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::ConnectionLoss | Error::Timeout => true,
            Error::ZooKeeper(zk) => zk.is_retryable(),
            _ => false,
        }
    }

    /// The session expired: [`Error::SessionExpired`], or a [`ZkError`] with
    /// [`ErrorCode::SessionExpired`] ([`ZkError::is_session_expired`]).
    pub fn is_session_expired(&self) -> bool {
        match self {
            Error::SessionExpired => true,
            Error::ZooKeeper(zk) => zk.is_session_expired(),
            _ => false,
        }
    }

    /// The server's answer was [`ErrorCode::NoNode`]: see [`ZkError::is_no_node`].
    pub fn is_no_node(&self) -> bool {
        self.zk_error().is_some_and(ZkError::is_no_node)
    }

    /// The server's answer was [`ErrorCode::NodeExists`]: see [`ZkError::is_node_exists`].
    pub fn is_node_exists(&self) -> bool {
        self.zk_error().is_some_and(ZkError::is_node_exists)
    }

    /// The server's answer was [`ErrorCode::BadVersion`]: see [`ZkError::is_bad_version`].
    pub fn is_bad_version(&self) -> bool {
        self.zk_error().is_some_and(ZkError::is_bad_version)
    }

    /// The server's answer was [`ErrorCode::NotEmpty`]: see [`ZkError::is_not_empty`].
    pub fn is_not_empty(&self) -> bool {
        self.zk_error().is_some_and(ZkError::is_not_empty)
    }

    /// The server's answer was [`ErrorCode::NoAuth`]: see [`ZkError::is_no_auth`]. (A
    /// refusal of the credentials themselves is [`Error::AuthFailed`].)
    pub fn is_no_auth(&self) -> bool {
        self.zk_error().is_some_and(ZkError::is_no_auth)
    }

    /// The server's refusal, if this is one ([`Error::ZooKeeper`]).
    pub fn zk_error(&self) -> Option<&ZkError> {
        match self {
            Error::ZooKeeper(zk) => Some(zk),
            _ => None,
        }
    }

    /// The path the error is about, if it has one: the request's path for a server's
    /// refusal ([`Error::ZooKeeper`]), the refused path for [`Error::InvalidPath`].
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::ZooKeeper(zk) => Some(&zk.path),
            Error::InvalidPath { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The ZooKeeper error code this error stands for, if any: the server's code for
    /// [`Error::ZooKeeper`], and the client-side codes of PROTOCOL.md §7 for connection loss
    /// ([`ErrorCode::ConnectionLoss`]), session expiry ([`ErrorCode::SessionExpired`]),
    /// auth failure, timeouts ([`ErrorCode::OperationTimeout`]), bad arguments and replies
    /// that do not decode or make no sense ([`ErrorCode::MarshallingError`]).
    ///
    /// `None` for the errors ZooKeeper has no code for, among them
    /// [`Error::ConnectionClosed`]: the client is stopped and the request was not sent,
    /// which is not a session expiry (kazoo reports it as one; this crate does not).
    ///
    /// The code alone does not tell whether a request was applied: ask
    /// [`may_have_been_applied`](Self::may_have_been_applied) instead.
    ///
    /// ```
    /// use mio_zookeeper::{Error, ErrorCode};
    /// assert_eq!(Error::ConnectionLoss.code(), Some(ErrorCode::ConnectionLoss));
    /// assert_eq!(Error::SessionExpired.code(), Some(ErrorCode::SessionExpired));
    /// assert_eq!(Error::ConnectionClosed.code(), None);
    /// assert_eq!(Error::from(mio_zookeeper::LoopError::Stopped).code(), None);
    /// ```
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            Error::ZooKeeper(zk) => zk.code,
            Error::ConnectionLoss => ErrorCode::ConnectionLoss,
            Error::SessionExpired => ErrorCode::SessionExpired,
            Error::AuthFailed => ErrorCode::AuthFailed,
            Error::Timeout => ErrorCode::OperationTimeout,
            Error::Encode(_) | Error::Decode(_) | Error::Protocol { .. } => {
                ErrorCode::MarshallingError
            }
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
