//! [`ZkError`]: the server's refusal of a request, as a small value a caller can ask questions.

use crate::proto::ErrorCode;

/// The server refused a request: its error code and the path of the request.
///
/// Carried by [`Error::ZooKeeper`](crate::Error::ZooKeeper) (and by the failed entries of a
/// transaction or a multi-read). Ask it the questions a caller asks
/// ([`is_no_node`](Self::is_no_node), [`is_node_exists`](Self::is_node_exists),
/// [`is_bad_version`](Self::is_bad_version), [`is_retryable`](Self::is_retryable), ...);
/// [`Error`](crate::Error) has the same methods, so `err.is_no_node()` works on what an
/// operation returns. Or match the fields when the code you want has no question.
///
/// `Display` gives the code's name and number, then the path: `NoNode (-101): /a`.
///
/// # Examples
///
/// ```
/// use mio_zookeeper::{Error, ErrorCode, ZkError};
///
/// let e = ZkError::new(ErrorCode::NoNode, "/a");
/// assert!(e.is_no_node());
/// assert!(!e.is_retryable());
/// assert_eq!(e.to_string(), "NoNode (-101): /a");
///
/// // The same questions on the crate's error.
/// let err = Error::from(e);
/// assert!(err.is_no_node());
/// match &err {
///     Error::ZooKeeper(ZkError { code: ErrorCode::NoNode, path }) => assert_eq!(path, "/a"),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{code}: {path}")]
pub struct ZkError {
    /// The server's error code (never [`ErrorCode::Ok`] in an error the client returns).
    pub code: ErrorCode,
    /// The path of the request as the caller gave it (without the client's chroot), or,
    /// for a request without a path, a short description of it (for example `"multi"`).
    pub path: String,
}

impl ZkError {
    /// The error `code` for the request on `path`.
    pub fn new(code: ErrorCode, path: impl Into<String>) -> ZkError {
        ZkError {
            code,
            path: path.into(),
        }
    }

    /// The node does not exist ([`ErrorCode::NoNode`], kazoo's `NoNodeError`): create it
    /// (or its parent, for a create), or treat it as absent.
    pub fn is_no_node(&self) -> bool {
        self.code == ErrorCode::NoNode
    }

    /// The node already exists ([`ErrorCode::NodeExists`], kazoo's `NodeExistsError`).
    pub fn is_node_exists(&self) -> bool {
        self.code == ErrorCode::NodeExists
    }

    /// The node's version is not the one the request expected ([`ErrorCode::BadVersion`],
    /// kazoo's `BadVersionError`): someone else changed it; read it again and retry.
    pub fn is_bad_version(&self) -> bool {
        self.code == ErrorCode::BadVersion
    }

    /// The node has children, so it cannot be deleted ([`ErrorCode::NotEmpty`], kazoo's
    /// `NotEmptyError`): delete them first.
    pub fn is_not_empty(&self) -> bool {
        self.code == ErrorCode::NotEmpty
    }

    /// The node's ACL does not allow this session the request ([`ErrorCode::NoAuth`],
    /// kazoo's `NoAuthError`): add credentials that the ACL allows.
    pub fn is_no_auth(&self) -> bool {
        self.code == ErrorCode::NoAuth
    }

    /// The session expired ([`ErrorCode::SessionExpired`]).
    pub fn is_session_expired(&self) -> bool {
        self.code == ErrorCode::SessionExpired
    }

    /// Whether the request is worth sending again as it is: `true` for
    /// [`ErrorCode::ConnectionLoss`] and [`ErrorCode::OperationTimeout`], what kazoo's
    /// `KazooRetry` and Curator's `RetryLoop` retry. Such a request may have been applied
    /// (see [`may_have_been_applied`](Self::may_have_been_applied)): retry only what is
    /// safe to apply twice, or read back first.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::ConnectionLoss | ErrorCode::OperationTimeout
        )
    }

    /// Whether the request may have been applied all the same: `true` only for the codes
    /// that say the outcome is unknown ([`ErrorCode::ConnectionLoss`],
    /// [`ErrorCode::OperationTimeout`], [`ErrorCode::SessionExpired`]). Any other code is
    /// the server's answer that it did not apply the request.
    pub fn may_have_been_applied(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::ConnectionLoss | ErrorCode::OperationTimeout | ErrorCode::SessionExpired
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    /// Each question, and the one code it must answer `true` for.
    #[allow(clippy::type_complexity)]
    const QUESTIONS: &[(&str, fn(&ZkError) -> bool, fn(&Error) -> bool, ErrorCode)] = &[
        (
            "is_no_node",
            ZkError::is_no_node,
            Error::is_no_node,
            ErrorCode::NoNode,
        ),
        (
            "is_node_exists",
            ZkError::is_node_exists,
            Error::is_node_exists,
            ErrorCode::NodeExists,
        ),
        (
            "is_bad_version",
            ZkError::is_bad_version,
            Error::is_bad_version,
            ErrorCode::BadVersion,
        ),
        (
            "is_not_empty",
            ZkError::is_not_empty,
            Error::is_not_empty,
            ErrorCode::NotEmpty,
        ),
        (
            "is_no_auth",
            ZkError::is_no_auth,
            Error::is_no_auth,
            ErrorCode::NoAuth,
        ),
        (
            "is_session_expired",
            ZkError::is_session_expired,
            Error::is_session_expired,
            ErrorCode::SessionExpired,
        ),
    ];

    #[test]
    fn each_question_answers_true_for_its_code_only() {
        for &code in ErrorCode::ALL.iter().chain(&[ErrorCode::Unknown(-999)]) {
            let zk = ZkError::new(code, "/p");
            let err = Error::from(zk.clone());
            for (name, on_value, on_error, yes) in QUESTIONS {
                let want = code == *yes;
                assert_eq!(on_value(&zk), want, "ZkError::{name} for {code:?}");
                assert_eq!(on_error(&err), want, "Error::{name} for {code:?}");
            }
            let retry = matches!(
                code,
                ErrorCode::ConnectionLoss | ErrorCode::OperationTimeout
            );
            assert_eq!(zk.is_retryable(), retry, "ZkError::is_retryable {code:?}");
            assert_eq!(err.is_retryable(), retry, "Error::is_retryable {code:?}");
            let applied = retry || code == ErrorCode::SessionExpired;
            assert_eq!(zk.may_have_been_applied(), applied, "{code:?}");
            assert_eq!(err.may_have_been_applied(), applied, "{code:?}");
            assert_eq!(err.code(), Some(code), "Error::code for {code:?}");
            assert_eq!(err.zk_error(), Some(&zk));
            assert_eq!(err.path(), Some("/p"));
        }
    }

    #[test]
    fn the_client_side_errors_answer_as_documented() {
        use crate::proto::DecodeError;
        let decode = Error::Decode(DecodeError::UnknownOpCode(99));
        let protocol = Error::protocol("exists", &"GetChildren");
        for (e, retry, applied, expired, code) in [
            (
                Error::ConnectionLoss,
                true,
                true,
                false,
                Some(ErrorCode::ConnectionLoss),
            ),
            (
                Error::Timeout,
                true,
                true,
                false,
                Some(ErrorCode::OperationTimeout),
            ),
            (
                Error::SessionExpired,
                false,
                true,
                true,
                Some(ErrorCode::SessionExpired),
            ),
            (Error::ConnectionClosed, false, false, false, None),
            (
                Error::AuthFailed,
                false,
                false,
                false,
                Some(ErrorCode::AuthFailed),
            ),
            (
                decode,
                false,
                true,
                false,
                Some(ErrorCode::MarshallingError),
            ),
            (
                protocol,
                false,
                true,
                false,
                Some(ErrorCode::MarshallingError),
            ),
            (Error::QueueFull { limit: 1 }, false, false, false, None),
            (
                Error::BadArgument("x".into()),
                false,
                false,
                false,
                Some(ErrorCode::BadArguments),
            ),
        ] {
            assert_eq!(e.is_retryable(), retry, "is_retryable {e:?}");
            assert_eq!(
                e.may_have_been_applied(),
                applied,
                "may_have_been_applied {e:?}"
            );
            assert_eq!(e.is_session_expired(), expired, "is_session_expired {e:?}");
            assert_eq!(e.code(), code, "code {e:?}");
            assert!(
                e.zk_error().is_none() && !e.is_no_node() && !e.is_no_auth(),
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_protocol_error_cuts_a_long_reply_short() {
        let long = "\u{e9}".repeat(1000);
        match Error::protocol("getData", &long) {
            Error::Protocol { request, reply } => {
                assert_eq!(request, "getData");
                assert!(reply.len() <= 203 && reply.ends_with("..."), "{reply}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn display_names_code_and_path() {
        let e = Error::from(ZkError::new(ErrorCode::BadVersion, "/x/y"));
        assert_eq!(e.to_string(), "BadVersion (-103): /x/y");
    }
}
