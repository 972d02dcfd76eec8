//! The ZooKeeper session as a sans-IO state machine.
//!
//! [`Session`] never touches a socket or reads the clock: it is fed bytes, connection events
//! and the current time, and polled for bytes to write, the next deadline, application events
//! and actions for the reactor. That makes it testable with a scripted server and a fake clock,
//! and fuzzable (STYLE.md habits 1, 2 and 6).
//!
//! **Lower-level and less stable.** This module is public only with the `lowlevel` feature
//! (which `testing` and `cli` turn on), for tools, test servers and fuzzing; it may change in
//! any minor release. The client drives it for its users: [`SessionState`] is re-exported at
//! the crate root, the rest is the client's business.
//!
//! # What lives here, and what it may use
//!
//! This folder may use `proto` (the codec), `bytes` and `log`, and nothing else of the crate
//! (but the crate's `Error`, which `error.rs` converts into): no IO, no `Rc`/`RefCell`, no
//! `Instant::now()` (every input takes `now`).
//!
//! - `mod.rs`: the [`Session`] type, its fields, accessors and outputs (`poll_*`);
//! - `config.rs`, `event.rs`, `error.rs`: its settings, what it reports, why a request fails;
//! - `connect.rs`: host order, connection attempts and backoff (`backoff.rs`), the
//!   handshake, connection loss, read-write probes;
//! - `requests.rs`: submitting and queueing requests, in-flight bookkeeping (`unsent.rs`);
//! - `incoming.rs`: frames from the server, replies, notifications;
//! - `close.rs`: close, expiry, refused credentials;
//! - `timer.rs`: the `Timer`s and their table, `poll_timeout`/`handle_timeout`;
//! - `watches.rs`, `rewatch.rs`: the watches to re-register after a reconnect;
//! - `tests/`: deterministic tests against a scripted server and a fake clock.
//!
//! # Calling order
//!
//! After **every** input (`start`, `handle_connected`, `handle_data`, `handle_disconnected`,
//! `handle_timeout`, `handle_probe_result`, `submit`, `close`), the driver:
//!
//! 1. drains [`poll_action`](Session::poll_action) and carries each action out (connect to a
//!    host, close the socket, probe a host for read-write mode);
//! 2. writes [`pending_output`](Session::pending_output) to the socket and reports what was
//!    written with [`advance_output`](Session::advance_output);
//! 3. drains [`poll_event`](Session::poll_event) (replies, watch events, state changes) and
//!    hands them to the application, in order;
//! 4. arms a timer for [`poll_timeout`](Session::poll_timeout) and calls
//!    [`handle_timeout`](Session::handle_timeout) when it fires (calling it early or twice is
//!    harmless).
//!
//! # Timers (T = the negotiated session timeout; PROTOCOL.md §9)
//!
//! One deadline per kind, in a table (`timer.rs`): each is armed or stopped where the event
//! that moves it happens, and [`poll_timeout`](Session::poll_timeout) is the earliest.
//!
//! - a ping after T/3 without sending anything, at most one in flight;
//! - the connection is dropped after 2T/3 without receiving anything (the read timeout);
//! - a connection attempt (TCP connect plus handshake) gets T / number-of-hosts;
//! - after a full pass over the hosts failed, the next pass waits an exponential backoff with
//!   jitter, never more than the configured cap and never more than half the time left before
//!   the client-side expiry (so the last attempts fall inside T: a blip shorter than T does not
//!   cost the session; see `backoff.rs`);
//! - when nothing was heard from any server for T (counted from the last bytes received, as
//!   the server counts from the last bytes it received), the session is taken as expired on
//!   the client side (the server will have expired it): pending requests fail with
//!   SessionExpired and, unless configured otherwise, a new session is opened. A handshake
//!   already under way at that moment gets T/6 more to hear the server's own verdict.
//!
//! # Requests in flight
//!
//! At most `max_in_flight` requests wait for a reply on the connection; later ones wait in
//! the queue (bounded by `max_queued_requests`) and go out, in submission order, as replies
//! come back.
//!
//! Every duration is clamped or saturated: a huge timeout or backoff means "never", not a
//! panic.

mod backoff;
mod close;
mod config;
mod connect;
mod error;
mod event;
mod incoming;
mod requests;
mod rewatch;
#[cfg(test)]
mod tests;
mod timer;
mod unsent;
mod watches;

pub use config::SessionConfig;
pub use error::RequestError;
pub use event::{Action, Event, Reply, RequestId, SessionState};
pub use watches::{WatchKind, WatchRegistry};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use log::info;

use crate::proto::FrameDecoder;
use connect::Rng;
#[cfg(test)]
pub(crate) use requests::inflight_size;
use requests::{InFlight, Owner, Queued};
use timer::TimerTable;
use unsent::Unsent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// No connection; maybe waiting for the backoff to pass.
    Down,
    /// TCP connect requested.
    Connecting,
    /// ConnectRequest written; waiting for the ConnectResponse.
    Handshaking,
    /// Session established on this connection.
    Up,
}

/// The session state machine. See the [module docs](self) for the calling order.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: SessionState,
    conn: Conn,
    /// The host of the current or last connection attempt.
    host: usize,
    /// The shuffled host order of the current pass and our position in it.
    order: Vec<usize>,
    pos: usize,
    /// A host that said it is read-write, to try next.
    preferred: Option<usize>,
    rng: Rng,
    backoff: Duration,
    /// The deadlines (see `timer.rs`).
    timers: TimerTable,

    session_id: i64,
    passwd: Bytes,
    last_zxid: i64,
    /// Negotiated timeout (the requested one until the first handshake).
    timeout: Duration,
    /// Whether this session was ever established (so a reconnect resumes it).
    established: bool,

    next_xid: i32,
    next_id: u64,
    queue: VecDeque<Queued>,
    inflight: VecDeque<InFlight>,
    /// Auth replies come back out of band (the server answers auth at once, ahead of earlier
    /// pipelined requests), so they have a FIFO of their own. `None` = replayed at connect.
    auth_inflight: VecDeque<Option<RequestId>>,
    /// The credentials of the user auth packets in `auth_inflight` (its `Some` entries, in
    /// order): replayed after a reconnect only once the server accepted them.
    auth_sent: VecDeque<(String, Bytes)>,
    /// Auth packets of the handshake still unanswered; CONNECTED waits for them.
    connect_auths: usize,
    /// Whether the server of the current handshake is read-only (reported once auth is done).
    pending_read_only: bool,
    ping_outstanding: bool,
    last_send: Option<Instant>,
    last_recv: Option<Instant>,
    /// When the last connection was lost (for client-side expiry).
    lost_at: Option<Instant>,
    closing: bool,
    /// Whether closeSession went out on the current connection.
    close_sent: bool,
    /// Whether the current connection has carried a frame after its handshake. A connection
    /// lost before that (a server that breaks every connection right after the handshake)
    /// does not reset the backoff, and from the second such loss in a row the next attempt
    /// waits for it: no reconnect storm.
    proven: bool,
    /// Connections lost in a row before carrying a frame after their handshake.
    unproven_losses: u32,
    /// Why the session is [`SessionState::Closed`]: `Closed`, or `SessionExpired` when it
    /// expired and `reconnect_after_expiry` is off (later requests fail with that).
    closed_reason: RequestError,
    probe_next: usize,

    watches: WatchRegistry,
    decoder: FrameDecoder,
    /// Bytes received and not yet decoded into frames. Both buffers are reserved at 64 KiB
    /// up front, so small traffic does not grow them step by step; no measurement of its
    /// own (part of issue #6's hot path, measured as a whole in the README).
    inbuf: BytesMut,
    /// Bytes to write. Invariant: everything in it belongs to the current connection; it is
    /// cleared when the connection goes.
    outbuf: BytesMut,
    /// Which requests' frames have not fully left yet (see [`Unsent`]).
    unsent: Unsent,
    events: VecDeque<Event>,
    actions: VecDeque<Action>,
}

/// The longest [`Session::close`] waits for the server to answer closeSession (else 2T/3,
/// the read timeout): a server answers a close at once, and a negotiated timeout of days (a
/// server's `maxSessionTimeout` is the only bound) must not keep a closing session for
/// days. The same bound as the client's `stop()`.
pub const CLOSE_WAIT_MAX: Duration = Duration::from_secs(10);

/// The shortest interval the timers use, so that a tiny negotiated timeout cannot spin.
const MIN_TICK: Duration = Duration::from_millis(10);

/// The longest session timeout that can be asked for: the wire carries an `i32` of ms.
const MAX_SESSION_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// The default bound on requests in flight: the server's own `globalOutstandingLimit` (it
/// stops reading from its clients past 1,000 outstanding requests), so more would only wait
/// in socket buffers, where a request can no longer be held back and its outcome becomes
/// unknown if the connection goes; queued requests are resent after a reconnect instead.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1000;

impl Session {
    /// A session that has not started. Call [`start`](Self::start) to connect.
    pub fn new(mut config: SessionConfig) -> Session {
        config.session_timeout = config.session_timeout.min(MAX_SESSION_TIMEOUT);
        config.max_in_flight = config.max_in_flight.max(1);
        let (session_id, passwd, established) = match config.resume {
            Some((id, pw)) => (id, Bytes::copy_from_slice(&pw), true),
            None => (0, Bytes::from_static(&[0; 16]), false),
        };
        let seed = config.seed | 1;
        Session {
            timeout: config.session_timeout,
            decoder: FrameDecoder::new(config.max_incoming_frame),
            backoff: config.backoff_initial,
            config,
            state: SessionState::Idle,
            conn: Conn::Down,
            host: 0,
            order: Vec::new(),
            pos: 0,
            preferred: None,
            rng: Rng(seed),
            timers: TimerTable::default(),
            session_id,
            passwd,
            last_zxid: 0,
            established,
            next_xid: 1,
            next_id: 1,
            queue: VecDeque::new(),
            inflight: VecDeque::new(),
            auth_inflight: VecDeque::new(),
            auth_sent: VecDeque::new(),
            connect_auths: 0,
            pending_read_only: false,
            ping_outstanding: false,
            last_send: None,
            last_recv: None,
            lost_at: None,
            closing: false,
            close_sent: false,
            proven: false,
            unproven_losses: 0,
            closed_reason: RequestError::Closed,
            probe_next: 0,
            watches: WatchRegistry::default(),
            inbuf: BytesMut::with_capacity(64 * 1024),
            outbuf: BytesMut::with_capacity(64 * 1024),
            unsent: Unsent::default(),
            events: VecDeque::new(),
            actions: VecDeque::new(),
        }
    }

    // ------------------------------------------------------------------ accessors

    /// The current state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The session id and password, once the server gave them.
    pub fn session_id(&self) -> Option<(i64, Bytes)> {
        (self.session_id != 0).then(|| (self.session_id, self.passwd.clone()))
    }

    /// The negotiated session timeout (the requested one before the first handshake).
    pub fn negotiated_timeout(&self) -> Duration {
        self.timeout
    }

    /// The highest zxid seen in a reply.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// The host of the current (or last) connection.
    pub fn current_host(&self) -> usize {
        self.host
    }

    /// The watches registered with the server, as this session knows them.
    pub fn watches(&self) -> &WatchRegistry {
        &self.watches
    }

    /// Forgets watches locally (for removal while the server cannot be reached). They are
    /// then not re-registered on reconnect. Returns whether any was registered.
    pub fn remove_watches_locally(&mut self, path: &str, t: crate::proto::WatcherType) -> bool {
        self.watches.remove(path, t)
    }

    /// Forgets the watch of `kind` on `path` (no watcher listens to it any more), so that
    /// it is not re-registered on reconnect. Returns whether it was registered.
    pub fn forget_watch(&mut self, kind: WatchKind, path: &str) -> bool {
        self.watches.forget(kind, path)
    }

    /// Adds credentials to replay after every reconnect, as if they were in
    /// [`SessionConfig::auth`]. An auth packet submitted with [`submit`](Self::submit) needs
    /// no call here: its credential is replayed once the server accepted it (and never if it
    /// refused it).
    pub fn add_auth(&mut self, scheme: String, credential: Bytes) {
        if !self
            .config
            .auth
            .iter()
            .any(|(s, c)| *s == scheme && *c == credential)
        {
            self.config.auth.push((scheme, credential));
        }
    }

    /// Requests waiting for a connection plus requests in flight.
    pub fn pending_requests(&self) -> usize {
        self.queue.len()
            + self
                .inflight
                .iter()
                .filter(|f| matches!(f.owner, Owner::User(..)))
                .count()
            + self.auth_inflight.iter().filter(|a| a.is_some()).count()
    }

    // ------------------------------------------------------------------ outputs

    /// The next application event, in wire order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next action for the driver.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Bytes waiting to be written to the current connection.
    pub fn pending_output(&self) -> &[u8] {
        &self.outbuf
    }

    /// Reports that the first `n` bytes of [`pending_output`](Self::pending_output) were
    /// written.
    pub fn advance_output(&mut self, n: usize) {
        let n = n.min(self.outbuf.len());
        bytes::Buf::advance(&mut self.outbuf, n);
        self.unsent.advance(n);
    }

    // ------------------------------------------------------------------ internals
    // (the inputs, `handle_*`, `submit` and `close`, live in the files named above)

    fn set_state(&mut self, s: SessionState) {
        if self.state != s {
            info!("session state {:?} -> {:?}", self.state, s);
            self.state = s;
            self.update_expiry();
            self.events.push_back(Event::State(s));
        }
    }

    fn alloc_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        x
    }
}
