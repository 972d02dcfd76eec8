//! The ZooKeeper session as a sans-IO state machine.
//!
//! [`Session`] never touches a socket or reads the clock: it is fed bytes, connection events
//! and the current time, and polled for bytes to write, the next deadline, application events
//! and actions for the reactor. That makes it testable with a scripted server and a fake clock,
//! and fuzzable (STYLE.md habits 1, 2 and 6).
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

/// The size of an in-flight record (tests keep it small).
#[cfg(test)]
pub(crate) fn inflight_size() -> usize {
    std::mem::size_of::<InFlight>()
}

mod backoff;
mod rewatch;
#[cfg(test)]
mod tests;
mod timer;
mod unsent;
mod watches;

pub use watches::{WatchKind, WatchRegistry};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use log::{debug, info, warn};

use crate::proto::{
    decode_connect_reply, decode_notification, decode_reply_header, decode_response,
    encode_connect_request, encode_request, xid, AuthPacket, ConnectReply, ConnectRequest,
    DecodeError, EncodeError, ErrorCode, FrameDecoder, FrameError, OpCode, Request, Response,
    WatcherEvent, DEFAULT_MAX_INCOMING_FRAME, DEFAULT_MAX_OUTGOING_FRAME,
};
use backoff::add_saturating;
use timer::{Timer, TimerTable};
use unsent::Unsent;
use watches::PendingWatch;

/// Identifies a submitted request; its reply comes back as [`Event::Reply`] with this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

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

/// The session's connection state, as reported in [`Event::State`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Not started yet.
    Idle,
    /// Looking for a server: connecting, handshaking or backing off. After a connection loss
    /// this is kazoo's SUSPENDED.
    Connecting,
    /// Connected to a read-write server, auth done.
    Connected,
    /// Connected to a read-only server (writes fail with NotReadOnly).
    ConnectedReadOnly,
    /// The session expired (server said so, or nothing answered for longer than T). Pending
    /// requests failed; a new session follows unless configured otherwise.
    Expired,
    /// The server refused our credentials. Terminal.
    AuthFailed,
    /// Closed by [`Session::close`] (or expired with no reconnect). Terminal.
    Closed,
}

impl SessionState {
    /// Whether a request can go out now.
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            SessionState::Connected | SessionState::ConnectedReadOnly
        )
    }

    /// Whether the session can do nothing more.
    pub fn is_terminal(self) -> bool {
        matches!(self, SessionState::AuthFailed | SessionState::Closed)
    }
}

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

/// A reply to a submitted request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The zxid of the reply header.
    pub zxid: i64,
    /// The decoded reply, or why there is none.
    pub result: Result<Response, RequestError>,
    /// The request's path as sent ([`Request::into_path`]), for error messages; `None` for
    /// requests without one.
    pub path: Option<String>,
}

/// What the application gets from the session, in wire order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The reply to request `id`.
    Reply {
        /// The request it answers.
        id: RequestId,
        /// The reply.
        reply: Reply,
    },
    /// A watch notification (path as the server sent it), with the zxid of its header.
    Watch {
        /// The event.
        event: WatcherEvent,
        /// The header zxid (-1 before ZooKeeper 3.9).
        zxid: i64,
    },
    /// The state changed.
    State(SessionState),
    /// A watch could not be re-registered after a reconnect (the server refused the
    /// SetWatches batch that carried it): events may have been missed. With `kept: false`
    /// the server does not have it (a one-shot watch, or a persistent one whose re-add
    /// failed too) and the session forgot it; with `kept: true` it is a persistent watch
    /// that was re-added with `addWatch`. Either way its watchers should re-read.
    WatchReset {
        /// The kind of the watch.
        kind: WatchKind,
        /// Its path, as the server knows it.
        path: String,
        /// Whether the watch is registered with the server again.
        kept: bool,
    },
}

/// What the session asks of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to host `host` (an index below `host_count`); report the outcome
    /// with [`Session::handle_connected`] or [`Session::handle_disconnected`].
    Connect {
        /// Which host.
        host: usize,
    },
    /// Close the current connection (no `handle_disconnected` needed afterwards).
    Disconnect,
    /// Ask host `host` whether it is a read-write server (the `isro` four-letter word) and
    /// report with [`Session::handle_probe_result`].
    ProbeReadWrite {
        /// Which host.
        host: usize,
    },
}

/// Why [`Session::submit`] refused a request at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The request failed before it was queued.
    #[error(transparent)]
    Request(#[from] RequestError),
}

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

#[derive(Debug)]
enum Owner {
    /// A user request: its id, the watch it leaves (boxed: rare, and it keeps `InFlight`
    /// small), and its path, moved out of it once encoded, to give back with the reply.
    User(RequestId, Option<Box<PendingWatch>>, Option<String>),
    /// A SetWatches / SetWatches2 batch, kept to tell its watchers if it fails (boxed: it
    /// keeps `InFlight` small).
    SetWatches(Box<Request>),
    /// An `addWatch` re-adding a persistent watch after its SetWatches failed.
    Rewatch(Box<(WatchKind, String)>),
    Close,
}

#[derive(Debug)]
struct InFlight {
    xid: i32,
    op: OpCode,
    owner: Owner,
}

#[derive(Debug)]
struct Queued {
    id: RequestId,
    req: Request,
}

/// A small xorshift generator: host shuffling and jitter without a dependency.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// A float in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
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

    // ------------------------------------------------------------------ inputs

    /// Starts looking for a server.
    pub fn start(&mut self, now: Instant) {
        if self.state != SessionState::Idle {
            return;
        }
        self.set_state(SessionState::Connecting);
        if self.established {
            // A session resumed with `resume`: nothing heard from it yet in this process.
            self.lost_at = Some(now);
            self.update_expiry();
        }
        self.new_pass();
        self.connect_next(now);
    }

    /// Submits a request. Requests made while there is no connection wait (up to
    /// `max_queued_requests`) and go out after the reconnect; the reply, or the reason there
    /// is none, comes back as [`Event::Reply`] with the returned id.
    pub fn submit(&mut self, now: Instant, req: Request) -> Result<RequestId, SubmitError> {
        match self.state {
            SessionState::AuthFailed => return Err(RequestError::AuthFailed.into()),
            SessionState::Closed => return Err(self.closed_reason.clone().into()),
            _ if self.closing => return Err(RequestError::Closed.into()),
            _ => {}
        }
        let id = RequestId(self.next_id);
        self.next_id += 1;
        if self.conn == Conn::Up
            && self.connect_auths == 0
            && self.queue.is_empty()
            && self.in_flight() < self.config.max_in_flight
        {
            self.send_user(now, Queued { id, req })?;
        } else {
            if self.queue.len() >= self.config.max_queued_requests {
                return Err(RequestError::QueueFull {
                    limit: self.config.max_queued_requests,
                }
                .into());
            }
            // Refuse an oversized request now rather than after the reconnect. While
            // connected (waiting for room under max_in_flight) it goes out soon: encoding it
            // twice would double the cost of a pipelined burst, and a refusal at send reaches
            // the caller through its reply all the same (`flush_queue`).
            if self.conn != Conn::Up {
                check_size(&req, self.config.max_outgoing_frame)?;
            }
            self.queue.push_back(Queued { id, req });
        }
        Ok(id)
    }

    /// Closes the session: requests already submitted go out first, then closeSession; when
    /// the server answers (or after the read timeout) the state is [`SessionState::Closed`].
    pub fn close(&mut self, now: Instant) {
        if self.state.is_terminal() || self.closing {
            return;
        }
        self.closing = true;
        if self.conn == Conn::Up {
            // Sends closeSession once the queue is out (see `flush_queue`).
            self.flush_queue(now);
        } else {
            self.finish_closed();
        }
    }

    /// Sends closeSession and arms the timer that gives up waiting for its answer.
    fn send_close(&mut self, now: Instant) {
        self.close_sent = true;
        let x = self.alloc_xid();
        if encode_request(x, &Request::CloseSession, &mut self.outbuf, usize::MAX).is_ok() {
            self.push_inflight(InFlight {
                xid: x,
                op: OpCode::CloseSession,
                owner: Owner::Close,
            });
            self.sent(now);
        }
        let wait = (self.timeout * 2 / 3).clamp(MIN_TICK, CLOSE_WAIT_MAX);
        self.timers.set(Timer::Close, add_saturating(now, wait));
    }

    /// Requests awaiting their reply on the current connection.
    fn in_flight(&self) -> usize {
        self.inflight.len() + self.auth_inflight.len()
    }

    /// Closes at once, without waiting for the server to confirm (for a caller that gave up
    /// waiting after [`close`](Self::close)): the connection is dropped, and everything
    /// still pending fails: with [`RequestError::ConnectionLoss`] a request whose bytes were
    /// all written (reported with [`advance_output`](Self::advance_output)), since the
    /// server may have applied it, and with [`RequestError::Closed`] one that was queued or
    /// not fully written. The state becomes [`SessionState::Closed`]. Does nothing once the
    /// session has ended.
    pub fn close_now(&mut self) {
        if self.state.is_terminal() {
            return;
        }
        self.closing = true;
        self.finish_closed();
    }

    /// The TCP connection asked for by [`Action::Connect`] is established.
    pub fn handle_connected(&mut self, now: Instant) {
        if self.conn != Conn::Connecting {
            return;
        }
        self.set_conn(Conn::Handshaking);
        self.inbuf.clear();
        self.outbuf.clear();
        self.unsent.reset();
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.last_zxid,
            timeout_ms: duration_ms(self.config.session_timeout),
            session_id: self.session_id,
            passwd: self.passwd.clone(),
            read_only: Some(self.config.read_only),
        };
        encode_connect_request(&req, &mut self.outbuf);
        self.sent(now);
        self.received(now);
        debug!(
            "connected to host {}, handshaking (session 0x{:x})",
            self.host, self.session_id
        );
    }

    /// The connection failed or was closed by the peer.
    pub fn handle_disconnected(&mut self, now: Instant) {
        if self.conn == Conn::Down {
            return;
        }
        // While closing, this ends the close (see `connection_lost`).
        self.connection_lost(now, "the connection was closed", false);
    }

    /// Bytes arrived on the current connection.
    pub fn handle_data(&mut self, now: Instant, data: &[u8]) {
        if !matches!(self.conn, Conn::Handshaking | Conn::Up) {
            return;
        }
        self.received(now);
        self.inbuf.extend_from_slice(data);
        loop {
            let frame = match self.decoder.decode(&mut self.inbuf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    self.protocol_error(now, &frame_error(e));
                    return;
                }
            };
            let keep_going = if self.conn == Conn::Handshaking {
                self.on_connect_reply(now, frame)
            } else {
                let ok = self.on_frame(now, frame);
                self.proven |= ok;
                ok
            };
            if !keep_going || !matches!(self.conn, Conn::Handshaking | Conn::Up) {
                return;
            }
        }
        // Replies made room under max_in_flight: refill once a quarter of the window is
        // free, so that a long burst goes out in a few large writes, not one per read.
        let max = self.config.max_in_flight;
        if !self.queue.is_empty() && self.in_flight() <= max - max / 4 {
            self.flush_queue(now);
        }
    }

    /// The answer to [`Action::ProbeReadWrite`]: whether `host` is a read-write server.
    pub fn handle_probe_result(&mut self, now: Instant, host: usize, read_write: bool) {
        if host >= self.config.host_count {
            // Not a host of ours: moving there would ask the driver for a host it lacks.
            warn!(
                "probe result for host {host} ignored: there are {} hosts",
                self.config.host_count
            );
            return;
        }
        if read_write && self.state == SessionState::ConnectedReadOnly {
            info!("host {host} is read-write; moving there");
            self.preferred = Some(host);
            self.connection_lost(now, "a read-write server is available", false);
        }
    }

    // ------------------------------------------------------------------ internals

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

    fn new_pass(&mut self) {
        let n = self.config.host_count.max(1);
        self.order = (0..n).collect();
        // Fisher-Yates with the session's own generator.
        for i in (1..n).rev() {
            let j = (self.rng.next() % (i as u64 + 1)) as usize;
            self.order.swap(i, j);
        }
        self.pos = 0;
    }

    /// Connects to the next host of the pass, or schedules the next pass after a backoff.
    fn connect_next(&mut self, now: Instant) {
        let host = if let Some(h) = self.preferred.take() {
            Some(h)
        } else if self.pos < self.order.len() {
            self.pos += 1;
            Some(self.order[self.pos - 1])
        } else {
            None
        };
        match host {
            Some(h) => {
                self.host = h;
                self.set_conn(Conn::Connecting);
                let per_host =
                    self.timeout / self.config.host_count.clamp(1, u32::MAX as usize) as u32;
                self.timers.set(
                    Timer::Connect,
                    add_saturating(now, per_host.max(MIN_TICK * 10)),
                );
                debug!("connecting to host {h}");
                self.actions.push_back(Action::Connect { host: h });
            }
            None => {
                // A full pass failed: back off, with ±40% jitter, doubling up to the cap, and
                // never past the point where the session could still be saved.
                let left = if self.established {
                    self.expiry_deadline()
                        .map(|t| t.saturating_duration_since(now))
                } else {
                    None
                };
                let wait = backoff::next_wait(
                    self.backoff,
                    self.config.backoff_max,
                    self.rng.unit(),
                    left,
                );
                self.backoff = backoff::next_backoff(self.backoff, self.config.backoff_max);
                debug!("no host answered; next pass in {wait:?}");
                self.timers.set(Timer::Retry, add_saturating(now, wait));
            }
        }
    }

    /// Drops the current connection: in-flight requests fail with ConnectionLoss, queued ones
    /// wait for the next connection.
    fn connection_lost(&mut self, now: Instant, why: &str, was_timeout: bool) {
        if self.closing && self.conn != Conn::Down {
            // Closing: nothing to reconnect for. The requests whose bytes never left are told
            // apart from those written (`finish_closed`), as at the close deadline.
            debug!("connection to host {} lost while closing: {why}", self.host);
            self.finish_closed();
            return;
        }
        let was_up = self.conn == Conn::Up;
        if self.conn != Conn::Down {
            self.actions.push_back(Action::Disconnect);
        }
        if was_up || was_timeout {
            warn!("connection to host {} lost: {why}", self.host);
        } else {
            debug!("connection attempt to host {} failed: {why}", self.host);
        }
        self.set_conn(Conn::Down);
        self.timers.stop(Timer::Connect);
        self.timers.stop(Timer::Probe);
        self.outbuf.clear();
        self.inbuf.clear();
        self.ping_outstanding = false;
        self.connect_auths = 0;
        self.close_sent = false;
        if was_up || (self.established && self.lost_at.is_none()) {
            self.lost_at = self.last_recv.or(Some(now));
            self.update_expiry();
        }
        self.fail_inflight(RequestError::ConnectionLoss);
        if self.state.is_terminal() {
            return;
        }
        // A connection that carried frames after its handshake was a good one: the next
        // pass starts at once with the first backoff. One lost right after its handshake
        // (garbage, or a server closing every connection) counts as a failed attempt: the
        // backoff keeps growing, and from the second in a row the next pass waits for it
        // instead of reconnecting once per round trip.
        let proven = std::mem::take(&mut self.proven);
        if was_up {
            self.unproven_losses = if proven {
                0
            } else {
                self.unproven_losses.saturating_add(1)
            };
        }
        if was_up {
            self.set_state(SessionState::Connecting);
            if proven {
                self.backoff = self.config.backoff_initial;
            }
            self.new_pass();
            // The host that just dropped us goes last. After a read timeout (2T/3) there is
            // only T/3 left before the client-side expiry, exactly one connect timeout with
            // three hosts: spent on a hung host again, the session would be given up although
            // the others are fine.
            if self.order.len() > 1 {
                if let Some(i) = self.order.iter().position(|&h| h == self.host) {
                    let h = self.order.remove(i);
                    self.order.push(h);
                }
            }
        }
        // Expiry is checked before reconnecting so that a long outage ends in Expired.
        if self.established {
            if let Some(t) = self.expiry_deadline() {
                if now >= t {
                    self.expire(now);
                    return;
                }
            }
        }
        if was_up && self.unproven_losses >= 2 {
            // Not at once: the pass is over (a read-write host found by a probe still
            // comes first).
            self.pos = self.order.len();
        }
        self.connect_next(now);
    }

    /// Fails every in-flight request with `err`. On a connection loss that is
    /// ConnectionLoss also for the requests not fully written (conservative: a caller must
    /// treat ConnectionLoss as "maybe applied" anyway, and the split only matters where the
    /// error would otherwise say "certainly not applied", see `finish_closed`).
    fn fail_inflight(&mut self, err: RequestError) {
        self.fail_inflight_split(err.clone(), err);
    }

    /// Fails every in-flight request: with `sent` those whose frame fully left (the server
    /// may have applied them), with `unsent` those not (or only partly) written, which the
    /// server cannot have applied.
    fn fail_inflight_split(&mut self, sent: RequestError, unsent: RequestError) {
        let (unsent_n, unsent_auth) = self.unsent.counts();
        self.unsent.reset();
        let inflight = std::mem::take(&mut self.inflight);
        let first_unsent = inflight.len().saturating_sub(unsent_n);
        for (i, f) in inflight.into_iter().enumerate() {
            if let Owner::User(id, _, path) = f.owner {
                let err = if i < first_unsent { &sent } else { &unsent };
                self.events.push_back(Event::Reply {
                    id,
                    reply: Reply {
                        zxid: -1,
                        result: Err(err.clone()),
                        path,
                    },
                });
            }
        }
        self.auth_sent.clear();
        let auths = std::mem::take(&mut self.auth_inflight);
        let first_unsent = auths.len().saturating_sub(unsent_auth);
        for (i, a) in auths.into_iter().enumerate() {
            let Some(id) = a else { continue };
            let err = if i < first_unsent { &sent } else { &unsent };
            self.events.push_back(Event::Reply {
                id,
                reply: Reply {
                    zxid: -1,
                    result: Err(err.clone()),
                    path: None,
                },
            });
        }
    }

    fn fail_queue(&mut self, err: RequestError) {
        for q in std::mem::take(&mut self.queue) {
            self.events.push_back(Event::Reply {
                id: q.id,
                reply: Reply {
                    zxid: -1,
                    result: Err(err.clone()),
                    path: q.req.into_path(),
                },
            });
        }
    }

    /// The session is gone: everything pending fails with SessionExpired, the watches are
    /// forgotten, and a new session is opened unless configured otherwise.
    fn expire(&mut self, now: Instant) {
        if self.conn != Conn::Down {
            self.actions.push_back(Action::Disconnect);
            self.set_conn(Conn::Down);
        }
        self.outbuf.clear();
        self.inbuf.clear();
        self.timers.stop(Timer::Connect);
        // A backoff still pending from the old session's reconnect attempts must not fire:
        // with no reconnect it would revive a Closed session, and otherwise the new session
        // makes its own schedule below.
        self.timers.stop(Timer::Retry);
        self.timers.stop(Timer::Probe);
        self.fail_inflight(RequestError::SessionExpired);
        self.fail_queue(RequestError::SessionExpired);
        self.watches.clear();
        self.session_id = 0;
        self.passwd = Bytes::from_static(&[0; 16]);
        self.last_zxid = 0;
        self.established = false;
        self.lost_at = None;
        self.timeout = self.config.session_timeout;
        self.update_expiry();
        self.set_state(SessionState::Expired);
        if self.config.reconnect_after_expiry {
            self.set_state(SessionState::Connecting);
            self.backoff = self.config.backoff_initial;
            self.new_pass();
            self.connect_next(now);
        } else {
            self.closed_reason = RequestError::SessionExpired;
            // Terminal: a close still waiting for its reply wants no timer any more.
            self.timers.stop(Timer::Close);
            self.set_state(SessionState::Closed);
        }
    }

    fn finish_closed(&mut self) {
        if self.conn != Conn::Down {
            self.actions.push_back(Action::Disconnect);
            self.set_conn(Conn::Down);
        }
        self.outbuf.clear();
        // Terminal: no timer may fire later.
        self.stop_all_timers();
        // Written and unanswered: the server may have applied it. Never (fully) written:
        // certainly not.
        self.fail_inflight_split(RequestError::ConnectionLoss, RequestError::Closed);
        self.fail_queue(RequestError::Closed);
        self.set_state(SessionState::Closed);
    }

    fn protocol_error(&mut self, now: Instant, why: &str) {
        warn!(
            "protocol error from host {}: {why}; dropping the connection",
            self.host
        );
        self.connection_lost(now, why, false);
    }

    fn on_connect_reply(&mut self, now: Instant, frame: Bytes) -> bool {
        let resp = match decode_connect_reply(&frame) {
            Ok(ConnectReply::Response(r)) => r,
            Ok(ConnectReply::Refused(code)) => {
                // PROTOCOL.md §10: a read-only server that will not take us.
                debug!("host {} refused the session: {code}", self.host);
                self.connection_lost(now, "the server refused the session", false);
                return false;
            }
            Err(e) => {
                self.protocol_error(now, &format!("bad ConnectResponse: {e}"));
                return false;
            }
        };
        self.timers.stop(Timer::Connect);
        if resp.timeout_ms <= 0 {
            if self.established {
                info!("server says session 0x{:x} has expired", self.session_id);
                self.expire(now);
            } else {
                self.protocol_error(
                    now,
                    "the server gave a non-positive timeout to a new session",
                );
            }
            return false;
        }
        let resumed = self.established && resp.session_id == self.session_id;
        self.session_id = resp.session_id;
        // A copy: a slice would keep the whole read buffer it came in alive.
        self.passwd = Bytes::copy_from_slice(&resp.passwd);
        self.timeout = Duration::from_millis(resp.timeout_ms as u64);
        self.established = true;
        self.lost_at = None;
        self.set_conn(Conn::Up);
        self.proven = false;
        let read_only = resp.read_only == Some(true);
        info!(
            "session 0x{:x} {} on host {} (timeout {:?}{})",
            self.session_id,
            if resumed { "resumed" } else { "established" },
            self.host,
            self.timeout,
            if read_only { ", read-only" } else { "" }
        );
        // Auth first, then the watches, then whatever the user queued (PROTOCOL.md §3).
        for (scheme, cred) in self.config.auth.clone() {
            let pkt = Request::Auth(AuthPacket {
                auth_type: 0,
                scheme,
                auth: Some(cred),
            });
            if encode_request(xid::AUTH, &pkt, &mut self.outbuf, usize::MAX).is_ok() {
                self.push_auth(None);
                self.connect_auths += 1;
            }
        }
        if !self.watches.is_empty() {
            for req in self.watches.set_watches_requests(self.last_zxid) {
                let x = self.alloc_xid();
                if encode_request(x, &req, &mut self.outbuf, usize::MAX).is_ok() {
                    self.push_inflight(InFlight {
                        xid: x,
                        op: req.op_code(),
                        owner: Owner::SetWatches(Box::new(req)),
                    });
                }
            }
        }
        self.sent(now);
        if self.connect_auths == 0 {
            self.connected(now, read_only);
        } else {
            self.pending_read_only = read_only;
        }
        true
    }

    fn connected(&mut self, now: Instant, read_only: bool) {
        self.set_state(if read_only {
            SessionState::ConnectedReadOnly
        } else {
            SessionState::Connected
        });
        if read_only && self.config.host_count > 1 {
            self.timers.set(
                Timer::Probe,
                add_saturating(now, Duration::from_millis(500)),
            );
        }
        // Also sends closeSession if close() came while we were away.
        self.flush_queue(now);
    }

    /// Sends queued requests while there is room under `max_in_flight`, then closeSession
    /// if [`close`](Self::close) was called and everything before it is out.
    fn flush_queue(&mut self, now: Instant) {
        if self.conn != Conn::Up || self.connect_auths > 0 {
            return;
        }
        while self.in_flight() < self.config.max_in_flight {
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            let id = q.id;
            if let Err(SubmitError::Request(e)) = self.send_user(now, q) {
                // The caller was told "queued"; it hears of the failure through its reply.
                debug!("queued request {id:?} refused at send: {e}");
                self.events.push_back(Event::Reply {
                    id,
                    reply: Reply {
                        zxid: -1,
                        result: Err(e),
                        path: None,
                    },
                });
            }
        }
        if self.closing && !self.close_sent && self.queue.is_empty() {
            self.send_close(now);
        }
    }

    /// Encodes a user request into the output buffer (or fails it via an event when it
    /// cannot be encoded).
    fn send_user(&mut self, now: Instant, q: Queued) -> Result<(), SubmitError> {
        let watch = PendingWatch::of(&q.req).map(Box::new);
        if let Request::Auth(_) = q.req {
            match encode_request(
                xid::AUTH,
                &q.req,
                &mut self.outbuf,
                self.config.max_outgoing_frame,
            ) {
                Ok(()) => {
                    if let Request::Auth(a) = &q.req {
                        let cred = a.auth.clone().unwrap_or_default();
                        self.auth_sent.push_back((a.scheme.clone(), cred));
                    }
                    self.push_auth(Some(q.id));
                    self.sent(now);
                    return Ok(());
                }
                Err(e) => return Err(RequestError::Encode(e).into()),
            }
        }
        let x = self.next_xid;
        match encode_request(x, &q.req, &mut self.outbuf, self.config.max_outgoing_frame) {
            Ok(()) => {
                self.alloc_xid();
                self.push_inflight(InFlight {
                    xid: x,
                    op: q.req.op_code(),
                    owner: Owner::User(q.id, watch, q.req.into_path()),
                });
                self.sent(now);
                Ok(())
            }
            Err(e) => Err(RequestError::Encode(e).into()),
        }
    }

    fn send_ping(&mut self, now: Instant) {
        if encode_request(xid::PING, &Request::Ping, &mut self.outbuf, usize::MAX).is_ok() {
            self.ping_outstanding = true;
            self.sent(now);
        }
    }

    fn probe(&mut self, now: Instant) {
        let n = self.config.host_count;
        self.probe_next = (self.probe_next + 1) % n.max(1);
        if self.probe_next == self.host {
            self.probe_next = (self.probe_next + 1) % n.max(1);
        }
        self.actions.push_back(Action::ProbeReadWrite {
            host: self.probe_next,
        });
        self.timers.set(
            Timer::Probe,
            add_saturating(now, Duration::from_secs(2).min(self.timeout)),
        );
    }

    /// Handles one frame of an established connection. Returns false when the connection
    /// was dropped.
    fn on_frame(&mut self, now: Instant, frame: Bytes) -> bool {
        let (header, body) = match decode_reply_header(&frame) {
            Ok(h) => h,
            Err(e) => {
                self.protocol_error(now, &format!("bad reply header: {e}"));
                return false;
            }
        };
        match header.xid {
            xid::NOTIFICATION => match decode_notification(&body) {
                Ok(event) => {
                    self.watches.on_event(event.event_type, &event.path);
                    self.events.push_back(Event::Watch {
                        event,
                        zxid: header.zxid,
                    });
                    true
                }
                Err(e) => {
                    // Dropping the connection loses nothing: the reconnect re-registers the
                    // watches and the server re-fires what changed.
                    self.protocol_error(now, &format!("bad notification: {e}"));
                    false
                }
            },
            xid::PING => {
                self.ping_outstanding = false;
                self.arm_ping();
                true
            }
            xid::AUTH => {
                let Some(owner) = self.auth_inflight.pop_front() else {
                    self.protocol_error(now, "an auth reply nobody asked for");
                    return false;
                };
                let cred = if owner.is_some() {
                    self.auth_sent.pop_front()
                } else {
                    None
                };
                if header.err != ErrorCode::Ok {
                    warn!("authentication failed: {}", header.err);
                    if let Some(id) = owner {
                        // The session is unusable now, whatever the code (AuthFailed in
                        // practice): the auth request fails like every other pending one,
                        // with AuthFailed (kazoo's AuthFailedError on that result).
                        self.events.push_back(Event::Reply {
                            id,
                            reply: Reply {
                                zxid: header.zxid,
                                result: Err(RequestError::AuthFailed),
                                path: None,
                            },
                        });
                    }
                    self.auth_failed();
                    return false;
                }
                match owner {
                    Some(id) => {
                        // Accepted: replayed into every later connection of this session.
                        if let Some((scheme, cred)) = cred {
                            self.add_auth(scheme, cred);
                        }
                        self.events.push_back(Event::Reply {
                            id,
                            reply: Reply {
                                zxid: header.zxid,
                                result: Ok(Response::Empty),
                                path: None,
                            },
                        });
                    }
                    None => {
                        self.connect_auths = self.connect_auths.saturating_sub(1);
                        if self.connect_auths == 0 {
                            let ro = self.pending_read_only;
                            self.connected(now, ro);
                        }
                    }
                }
                true
            }
            x => {
                let Some(head) = self.inflight.front() else {
                    self.protocol_error(now, &format!("a reply (xid {x}) nobody asked for"));
                    return false;
                };
                if head.xid != x {
                    let want = head.xid;
                    self.protocol_error(
                        now,
                        &format!("reply xid {x} out of order (expected {want})"),
                    );
                    return false;
                }
                let Some(f) = self.inflight.pop_front() else {
                    return false;
                };
                if header.zxid > 0 {
                    self.last_zxid = self.last_zxid.max(header.zxid);
                }
                let result = if header.err != ErrorCode::Ok
                    && !matches!(f.op, OpCode::Multi | OpCode::MultiRead)
                {
                    // Header-only error replies; exists NoNode still registers a watch.
                    if !body.is_empty() {
                        // Back in flight, so that it fails with the others (ConnectionLoss)
                        // instead of never completing.
                        self.inflight.push_front(f);
                        self.protocol_error(now, "an error reply with a body");
                        return false;
                    }
                    Err(RequestError::Server(header.err))
                } else {
                    decode_response(f.op, &header, &body).map_err(RequestError::Decode)
                };
                match f.owner {
                    Owner::User(id, watch, path) => {
                        if let Some(w) = &watch {
                            if result.is_ok()
                                || matches!(header.err, ErrorCode::NoNode | ErrorCode::NoWatcher)
                            {
                                self.watches.on_reply(w, header.err);
                            }
                        }
                        self.events.push_back(Event::Reply {
                            id,
                            reply: Reply {
                                zxid: header.zxid,
                                result,
                                path,
                            },
                        });
                        true
                    }
                    Owner::SetWatches(batch) => {
                        if header.err != ErrorCode::Ok {
                            self.set_watches_failed(*batch, header.err);
                        }
                        true
                    }
                    Owner::Rewatch(w) => {
                        let (kind, path) = *w;
                        self.rewatch_answered(kind, path, &result);
                        true
                    }
                    Owner::Close => {
                        self.finish_closed();
                        false
                    }
                }
            }
        }
    }

    /// Records a request whose frame was just appended to the output buffer.
    fn push_inflight(&mut self, f: InFlight) {
        self.inflight.push_back(f);
        self.unsent.encoded(self.outbuf.len(), false);
    }

    /// Records an auth packet just appended to the output buffer.
    fn push_auth(&mut self, owner: Option<RequestId>) {
        self.auth_inflight.push_back(owner);
        self.unsent.encoded(self.outbuf.len(), true);
    }

    fn auth_failed(&mut self) {
        if self.conn != Conn::Down {
            self.actions.push_back(Action::Disconnect);
            self.set_conn(Conn::Down);
        }
        self.outbuf.clear();
        // Terminal: no timer may fire later (a pending close's deadline would turn
        // AuthFailed into Closed).
        self.stop_all_timers();
        self.fail_inflight(RequestError::AuthFailed);
        self.fail_queue(RequestError::AuthFailed);
        self.set_state(SessionState::AuthFailed);
    }
}

fn duration_ms(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

fn frame_error(e: FrameError) -> String {
    format!("bad frame: {e}")
}

fn check_size(req: &Request, max: usize) -> Result<(), RequestError> {
    let mut scratch = BytesMut::new();
    encode_request(0, req, &mut scratch, max).map_err(RequestError::Encode)
}
