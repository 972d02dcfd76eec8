//! Why a request failed: [`RequestError`], the session's one error type, and its conversion
//! into the crate's [`Error`] (the only thing of the crate above `proto` that this folder
//! names: the conversion lives beside the type it converts, so that no caller maps it by
//! hand).

#[cfg(doc)]
use super::Session;
use crate::proto::{DecodeError, EncodeError, ErrorCode};
use crate::{Error, ZkError};

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

impl RequestError {
    /// The crate's [`Error`] for this failure, naming `path` in a server error (the
    /// request's path as the caller knows it, or a description of a request without one).
    /// The other variants convert as with [`From`].
    pub(crate) fn into_error(self, path: &str) -> Error {
        match self {
            RequestError::Server(code) => Error::ZooKeeper(ZkError {
                code,
                path: path.to_string(),
            }),
            e => Error::from(e),
        }
    }
}

/// Each session error is the crate error of the same meaning. A server error converted this
/// way has an empty path: the client names it (see [`Reply::path`](super::Reply::path)).
impl From<RequestError> for Error {
    fn from(e: RequestError) -> Error {
        match e {
            RequestError::Server(code) => Error::ZooKeeper(ZkError {
                code,
                path: String::new(),
            }),
            RequestError::ConnectionLoss => Error::ConnectionLoss,
            RequestError::SessionExpired => Error::SessionExpired,
            RequestError::AuthFailed => Error::AuthFailed,
            RequestError::Closed => Error::ConnectionClosed,
            RequestError::QueueFull { limit } => Error::QueueFull { limit },
            RequestError::Encode(e) => Error::Encode(e),
            RequestError::Decode(e) => Error::Decode(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session error and a test of the crate error it must become.
    type Case = (RequestError, fn(&Error) -> bool);

    /// Every session error becomes the crate error of the same meaning, and a server error
    /// carries the path it is given.
    #[test]
    fn request_errors_convert_to_the_crate_error_of_the_same_meaning() {
        let cases: Vec<Case> = vec![
            (RequestError::ConnectionLoss, |e| {
                matches!(e, Error::ConnectionLoss)
            }),
            (RequestError::SessionExpired, |e| {
                matches!(e, Error::SessionExpired)
            }),
            (RequestError::AuthFailed, |e| matches!(e, Error::AuthFailed)),
            (RequestError::Closed, |e| {
                matches!(e, Error::ConnectionClosed)
            }),
            (RequestError::QueueFull { limit: 7 }, |e| {
                matches!(e, Error::QueueFull { limit: 7 })
            }),
        ];
        for (re, is) in cases {
            assert!(is(&Error::from(re.clone())), "{re:?}");
            assert!(is(&re.clone().into_error("/p")), "{re:?}");
        }
        match RequestError::Server(ErrorCode::NoNode).into_error("/a/b") {
            Error::ZooKeeper(ZkError { code, path }) => {
                assert_eq!(code, ErrorCode::NoNode);
                assert_eq!(path, "/a/b");
            }
            other => panic!("{other:?}"),
        }
    }
}
