//! [`SaslError`]: why a SASL exchange failed on the client's side.

/// Why a SASL exchange failed on the client's side.
///
/// Every `Display` text names the mechanism's complaint in words, e.g. `DIGEST-MD5: the
/// server's rspauth does not match: the server could not prove it knows the password`.
/// Parsing a challenge never panics: any bytes give a value or one of these.
///
/// # Examples
///
/// ```
/// use mio_zookeeper::sasl::{DigestMd5, SaslError, SaslMechanism};
///
/// let mut mech = DigestMd5::new("bob", "bobsecret");
/// mech.initial_response()?;
/// let err = mech.step(br#"realm="zk-sasl-md5",algorithm=md5-sess"#).unwrap_err();
/// assert_eq!(err, SaslError::MissingNonce);
/// assert_eq!(err.to_string(), "DIGEST-MD5: the server's challenge has no nonce");
/// # Ok::<(), SaslError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// A message from the server (the challenge or the final `rspauth`) is not valid RFC 2831 syntax; the text
    /// says what was wrong.
    #[error("DIGEST-MD5: a message from the server is malformed: {0}")]
    MalformedChallenge(&'static str),
    /// The challenge carries no `nonce`, without which no response can be computed.
    #[error("DIGEST-MD5: the server's challenge has no nonce")]
    MissingNonce,
    /// The challenge does not ask for `algorithm=md5-sess` (the only algorithm RFC 2831
    /// defines); the value is what it asked for, or `None` when it named none.
    #[error("DIGEST-MD5: the server's challenge asks for algorithm {}, but only md5-sess exists", .0.as_deref().map_or("(none)".to_string(), |a| format!("{a:?}")))]
    UnsupportedAlgorithm(Option<String>),
    /// The challenge offers qop values without `auth` (this client does authentication
    /// only, no integrity or confidentiality layer); the value is the server's list.
    #[error("DIGEST-MD5: the server offers qop {0:?}, but this client only does \"auth\"")]
    UnsupportedQop(String),
    /// The server did not say `charset=utf-8` and the username or password has characters
    /// outside ISO-8859-1, so it cannot be sent.
    #[error("DIGEST-MD5: the {0} has characters outside ISO-8859-1 and the server did not offer charset=utf-8")]
    NotLatin1(&'static str),
    /// The server's final message has no `rspauth`.
    #[error("DIGEST-MD5: the server's final message has no rspauth")]
    MissingRspauth,
    /// The server's `rspauth` is not the value the password gives: the server could not
    /// prove it knows the password (a wrong server, or a man in the middle).
    #[error("DIGEST-MD5: the server's rspauth does not match: the server could not prove it knows the password")]
    RspauthMismatch,
    /// The mechanism was called out of turn: `step` after the exchange completed or
    /// failed. The text says which.
    #[error("SASL: {0}")]
    OutOfOrder(&'static str),
    /// A failure of a user-supplied mechanism (see
    /// [`SaslMechanism`](crate::sasl::SaslMechanism)).
    #[error("{mechanism}: {message}")]
    Mechanism {
        /// The mechanism's name.
        mechanism: String,
        /// What went wrong, in words.
        message: String,
    },
}
