//! The session's settings.

use std::time::Duration;

use bytes::Bytes;

use super::DEFAULT_MAX_IN_FLIGHT;
#[cfg(doc)]
use super::{Action, RequestError};
use crate::proto::{DEFAULT_MAX_INCOMING_FRAME, DEFAULT_MAX_OUTGOING_FRAME};

/// The session's settings. [`SessionConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// How many hosts the driver can connect to; [`Action::Connect`] names them by index.
    pub host_count: usize,
    /// The session timeout asked of the server (it clamps it to its own bounds). The wire
    /// carries milliseconds in an `i32`: a longer timeout is taken as `i32::MAX` ms (about
    /// 24.8 days), which every server clamps down to its `maxSessionTimeout` anyway.
    pub session_timeout: Duration,
    /// Accept a server in read-only mode (and keep probing for a read-write one).
    pub read_only: bool,
    /// `(scheme, credential)` pairs sent after every connect, before any other request.
    pub auth: Vec<(String, Bytes)>,
    /// Largest request frame to send (the server's `jute.maxbuffer`).
    pub max_outgoing_frame: usize,
    /// Largest reply frame to accept.
    pub max_incoming_frame: usize,
    /// How many requests may wait (for a connection, or for room under `max_in_flight`); more
    /// are refused with [`RequestError::QueueFull`].
    pub max_queued_requests: usize,
    /// How many requests may await their reply on the connection at once (at least 1); later
    /// ones wait in the queue and go out as replies come back, in submission order.
    pub max_in_flight: usize,
    /// First reconnect backoff after a failed pass over all hosts.
    pub backoff_initial: Duration,
    /// Cap of the reconnect backoff: no wait between passes is longer, jitter included.
    pub backoff_max: Duration,
    /// Open a new session after the old one expired (kazoo's behaviour).
    pub reconnect_after_expiry: bool,
    /// A session to resume: its id and password.
    pub resume: Option<(i64, [u8; 16])>,
    /// Seed for host shuffling and jitter (deterministic tests pass a fixed one).
    pub seed: u64,
}

impl SessionConfig {
    /// Defaults for `host_count` hosts: a 10 s session timeout, no read-only, no auth, frame
    /// limits of PROTOCOL.md §1, 1,000 requests in flight and 10,000 queued at most, backoff
    /// 100 ms doubling up to 10 s, a new session after expiry.
    pub fn new(host_count: usize) -> SessionConfig {
        SessionConfig {
            host_count,
            session_timeout: Duration::from_secs(10),
            read_only: false,
            auth: Vec::new(),
            max_outgoing_frame: DEFAULT_MAX_OUTGOING_FRAME,
            max_incoming_frame: DEFAULT_MAX_INCOMING_FRAME,
            max_queued_requests: 10_000,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            reconnect_after_expiry: true,
            resume: None,
            seed: 0x5eed_2181,
        }
    }
}
