//! SASL authentication: the mechanism trait and the built-in DIGEST-MD5 client.
//!
//! **What lives here, and what it may use:** sans-IO mechanisms fed with the server's
//! tokens and returning the client's tokens; `std`, `thiserror` and `md-5`, nothing else (no
//! sockets, no clock, no session). The session layer frames the tokens as ZooKeeper SASL
//! packets (opcode 102, `GetSASLRequest` / `SetSASLResponse`) and decides when the exchange
//! runs: after every ConnectResponse, before anything else goes out (SECURITY.md §2).
//!
//! - [`SaslMechanism`]: the contract between the session and a mechanism; a user can plug
//!   in another mechanism as a `Box<dyn SaslMechanism>`.
//! - [`DigestMd5`]: RFC 2831 DIGEST-MD5 as ZooKeeper's server speaks it (service
//!   `zookeeper`, host and realm `zk-sasl-md5`, `md5-sess`, qop `auth`).
//! - [`SaslError`]: why an exchange failed.
//!
//! # Examples
//!
//! A whole DIGEST-MD5 exchange, with the server's side played by hand:
//!
//! ```
//! use mio_zookeeper::sasl::{DigestMd5, SaslMechanism, SaslStep};
//!
//! let mut mech = DigestMd5::new("bob", "bobsecret").with_cnonce("fixedcnonce");
//! assert_eq!(mech.name(), "DIGEST-MD5");
//! // 1. The first token is empty (as Java's client sends).
//! assert!(mech.initial_response()?.is_empty());
//! // 2. The server's challenge gets the digest-response.
//! let challenge = br#"realm="zk-sasl-md5",nonce="abc",charset=utf-8,algorithm=md5-sess"#;
//! let SaslStep::Respond(response) = mech.step(challenge)? else { panic!() };
//! assert!(response.starts_with(br#"charset=utf-8,username="bob",realm="zk-sasl-md5""#));
//! // 3. A forged rspauth is refused: that server does not know the password.
//! let mut copy = mech.clone();
//! assert!(copy.step(b"rspauth=00000000000000000000000000000000").is_err());
//! # Ok::<(), mio_zookeeper::sasl::SaslError>(())
//! ```

mod digest_md5;
mod error;

pub use digest_md5::DigestMd5;
pub use error::SaslError;

/// What a mechanism wants after a server token: send a token, or nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this token to the server (as a SASL request) and feed its reply to
    /// [`SaslMechanism::step`].
    Respond(Vec<u8>),
    /// The exchange is complete and the server is authenticated to us as far as the
    /// mechanism can tell: send nothing more. The session then waits for nothing further
    /// from the server for SASL, and goes on (auth replay, SetWatches, CONNECTED).
    Done,
}

/// A SASL client mechanism, driven by the session one token at a time.
///
/// A mechanism value runs **one** exchange on **one** connection: the server forgets
/// authentication when a connection closes, even for a resumed session, so the client
/// makes a fresh mechanism (or a clone of a fresh one) for every new connection.
///
/// # The contract: who calls what, and when
///
/// 1. After the ConnectResponse, the session calls [`initial_response`] once and sends its
///    bytes as the first SASL request (an empty token is a real, empty token, and it is
///    sent: DIGEST-MD5 starts that way).
/// 2. For every SASL reply whose error code is 0, the session calls [`step`] with the
///    reply's token (a null token is passed as empty). [`SaslStep::Respond`] means: send
///    that token and wait for the next reply. [`SaslStep::Done`] means: the exchange is
///    over, send nothing more.
/// 3. Any `Err` ends the exchange: the session closes the connection and reports an
///    authentication failure carrying the error. A reply with a non-zero error code
///    (AUTHFAILED, -115) never reaches the mechanism; the server has refused the
///    credentials.
/// 4. [`is_complete`] tells whether the exchange reached [`SaslStep::Done`]. After that,
///    or after an error, further calls to [`step`] return an error.
///
/// The trait is object-safe: the client holds mechanisms as `Box<dyn SaslMechanism>`.
/// A mechanism never does IO and never reads the clock.
///
/// # Examples
///
/// A user-supplied mechanism (here a toy one-shot `PLAIN`, which ZooKeeper's server does
/// not offer) plugged in beside the built-in one:
///
/// ```
/// use mio_zookeeper::sasl::{DigestMd5, SaslError, SaslMechanism, SaslStep};
///
/// #[derive(Debug)]
/// struct Plain { token: Vec<u8>, done: bool }
///
/// impl SaslMechanism for Plain {
///     fn name(&self) -> &str { "PLAIN" }
///     fn initial_response(&mut self) -> Result<Vec<u8>, SaslError> {
///         Ok(self.token.clone())
///     }
///     fn step(&mut self, _challenge: &[u8]) -> Result<SaslStep, SaslError> {
///         self.done = true;
///         Ok(SaslStep::Done)
///     }
///     fn is_complete(&self) -> bool { self.done }
/// }
///
/// let mechanisms: Vec<Box<dyn SaslMechanism>> = vec![
///     Box::new(DigestMd5::new("bob", "bobsecret")),
///     Box::new(Plain { token: b"\0bob\0bobsecret".to_vec(), done: false }),
/// ];
/// assert_eq!(mechanisms[1].name(), "PLAIN");
/// ```
///
/// [`initial_response`]: SaslMechanism::initial_response
/// [`step`]: SaslMechanism::step
/// [`is_complete`]: SaslMechanism::is_complete
pub trait SaslMechanism {
    /// The mechanism's IANA name, e.g. `"DIGEST-MD5"` (for logs and error messages).
    fn name(&self) -> &str;

    /// The first token to send, called once before any [`step`](Self::step). May be empty
    /// (DIGEST-MD5's is: the server speaks first).
    fn initial_response(&mut self) -> Result<Vec<u8>, SaslError>;

    /// Takes the server's token from a successful SASL reply and says what to do next.
    fn step(&mut self, challenge: &[u8]) -> Result<SaslStep, SaslError>;

    /// Whether the exchange has completed successfully ([`SaslStep::Done`] was returned).
    fn is_complete(&self) -> bool;
}
