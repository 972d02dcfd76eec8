//! The connection driver: runs a sans-IO [`Session`] on the handler's loop. It owns the socket,
//! the session's timer and the table of pending requests, and turns session events into
//! completed `AsyncResult`s, watch callbacks and state-listener calls.
//!
//! Every entry point (`on_ready`, `on_timer`, `flush_soon`, the client's submit) ends with
//! [`pump`], which follows the session's calling order: actions, output, events, timer.
//! User code never runs inside a `RefCell` borrow: completions, watch callbacks and
//! listeners are queued on the loop and run from its queue.
//!
//! Here: the [`Core`] and the socket's readiness, reads and writes, and the session's timer.
//! Beside it: `dial.rs` (connecting to a host, the read-only probe), `read_loop.rs` (how much
//! one wake-up reads), `pending.rs` (the table of requests awaiting their reply) and
//! `events.rs` (session events to results, watchers and listeners).

use std::cell::RefCell;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use log::debug;

use super::hosts::HostPort;
use super::resolve::{Lookup, Resolver};
use super::watchers::Watchers;
use super::ClientState;
use crate::handler::{Deferred, EventLoop, LoopSocket, Readiness, TimerId};
use crate::session::{Action, Session, SessionState};
use read_loop::{read_some, short_read_ends_wakeup, ReadEnd, READ_BUDGET};

/// A state listener.
pub(crate) type Listener = Rc<dyn Fn(ClientState)>;

struct Conn {
    socket: Box<dyn LoopSocket>,
    connecting: bool,
    /// Registered for writability too: while connecting, and after a write would block.
    /// Otherwise only for reading, so acknowledgements of what was sent do not wake the
    /// loop.
    writable_interest: bool,
}

impl Conn {
    fn want_writable(&mut self, on: bool) {
        if self.writable_interest == on {
            return;
        }
        match self.socket.set_write_interest(on) {
            Ok(()) => self.writable_interest = on,
            Err(e) => debug!("changing the socket's interest failed: {e}"),
        }
    }
}

/// An `isro` probe of another host (read-only mode).
struct Probe {
    socket: Box<dyn LoopSocket>,
    host: usize,
    sent: bool,
    answer: Vec<u8>,
}

pub(crate) struct Core {
    /// The handler, as the loop it is: the only way the client reaches its loop.
    pub(crate) event_loop: Rc<dyn EventLoop>,
    pub(crate) hosts: Vec<HostPort>,
    pub(crate) chroot: Option<String>,
    pub(crate) session: Option<Session>,
    conn: Option<Conn>,
    /// The addresses of the host being connected to, and its outstanding lookup.
    dial: Option<Dial>,
    probe: Option<Probe>,
    /// The lookup of the host a probe is for.
    probe_lookup: Option<Lookup>,
    /// Looks up host names (off the loop).
    pub(crate) resolver: Resolver,
    /// A continuation of reading is queued (the read budget ran out).
    read_queued: bool,
    /// Address attempts made so far (names each one, see `Dial::attempt`).
    dial_attempts: u64,
    timer: Option<(TimerId, Instant)>,
    flush_scheduled: bool,
    /// Queued on the loop by [`flush_soon`] (allocated once, not per flush).
    flusher: Option<Rc<Flusher>>,
    pub(crate) pending: PendingTable,
    pub(crate) watchers: Watchers,
    pub(crate) listeners: Vec<(u64, Listener)>,
    pub(crate) next_listener: u64,
    /// kazoo's state (listeners are told when it changes).
    pub(crate) state: ClientState,
    /// The session's fine-grained state.
    pub(crate) keeper: SessionState,
    /// Results waiting for the next CONNECTED (from `start`).
    pub(crate) on_connected: Vec<crate::AsyncResult<()>>,
    /// Results waiting for the session to close (from `stop`).
    pub(crate) on_closed: Vec<crate::AsyncResult<()>>,
    /// Credentials added with `add_auth`: they belong to the client (kazoo's `auth_data`),
    /// so a new session (after `stop`/`start`) sends them too.
    pub(crate) added_auth: Vec<(String, bytes::Bytes)>,
    /// Set while the core closes its session after the last user handle was dropped: the
    /// core keeps itself alive (and so on the loop) until the session has ended; taken in
    /// [`on_state`], which breaks the cycle.
    keepalive: Option<Shared>,
    /// Every read of the socket lands here, then is handed to the session (which copies it
    /// into its frame buffer). Allocated once for the core's life, so a read allocates
    /// nothing; 256 KiB, so a burst of replies is taken in one `read` (README, issue #6
    /// figures: 0.1 to 0.2 system calls per operation when replies come in bursts,
    /// `create_seq` and `delete`).
    readbuf: Box<[u8]>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("hosts", &self.hosts)
            .field("chroot", &self.chroot)
            .field("state", &self.state)
            .field("keeper", &self.keeper)
            .field("pending", &self.pending.len())
            .field("watchers", &self.watchers)
            .finish()
    }
}

pub(crate) type Shared = Rc<RefCell<Core>>;

mod dial;
mod events;
mod pending;
mod read_loop;

use dial::{connect, dial_next, probe, Dial};
use events::dispatch_events;
pub(crate) use pending::{Pending, PendingTable};

impl Core {
    pub(crate) fn new(
        event_loop: Rc<dyn EventLoop>,
        hosts: Vec<HostPort>,
        chroot: Option<String>,
    ) -> Core {
        Core {
            event_loop,
            hosts,
            chroot,
            session: None,
            conn: None,
            dial: None,
            probe: None,
            probe_lookup: None,
            resolver: Resolver::system(),
            read_queued: false,
            dial_attempts: 0,
            timer: None,
            flush_scheduled: false,
            flusher: None,
            pending: PendingTable::default(),
            watchers: Watchers::default(),
            listeners: Vec::new(),
            next_listener: 1,
            state: ClientState::Lost,
            keeper: SessionState::Closed,
            on_connected: Vec::new(),
            on_closed: Vec::new(),
            added_auth: Vec::new(),
            keepalive: None,
            readbuf: vec![0u8; 256 * 1024].into_boxed_slice(),
        }
    }
}

impl Core {
    /// The address of the server the session is connected to.
    pub(crate) fn peer(&self) -> Option<SocketAddr> {
        if !self.keeper.is_connected() {
            return None;
        }
        let conn = self.conn.as_ref().filter(|c| !c.connecting)?;
        conn.socket.peer_addr().ok()
    }
}

/// Schedules one flush-and-pump on the loop, so requests submitted in one go leave in one
/// write.
fn flush_soon(shared: &Shared) {
    let mut core = shared.borrow_mut();
    if core.flush_scheduled {
        return;
    }
    core.flush_scheduled = true;
    let flusher = match &core.flusher {
        Some(f) => f.clone(),
        None => {
            let f = Rc::new(Flusher(Rc::downgrade(shared)));
            core.flusher = Some(f.clone());
            f
        }
    };
    let lp = core.event_loop.clone();
    drop(core);
    lp.defer(flusher);
}

/// The flush queued by [`flush_soon`].
struct Flusher(Weak<RefCell<Core>>);

impl Deferred for Flusher {
    fn run_deferred(self: Rc<Self>) {
        if let Some(shared) = self.0.upgrade() {
            shared.borrow_mut().flush_scheduled = false;
            pump(&shared);
        }
    }
}

/// Runs the session's calling order: actions, output, events, timer.
pub(crate) fn pump(shared: &Shared) {
    // Actions can produce more actions (a refused connect), so loop until quiet.
    for _ in 0..1000 {
        let action = {
            let mut core = shared.borrow_mut();
            match core.session.as_mut() {
                Some(s) => s.poll_action(),
                None => None,
            }
        };
        let Some(action) = action else { break };
        match action {
            Action::Connect { host } => connect(shared, host),
            Action::Disconnect => disconnect(shared),
            Action::ProbeReadWrite { host } => probe(shared, host),
        }
    }
    write_out(shared);
    dispatch_events(shared);
    rearm_timer(shared);
}

/// Stops waiting for the session to close: it is finished at once (the socket is dropped,
/// everything still pending fails: ConnectionLoss if written, ConnectionClosed if not) and
/// the results are handed out.
/// Used when `stop()` gives up waiting and when the last client handle goes, so that no
/// `AsyncResult` is left pending forever.
pub(crate) fn close_now(shared: &Shared) {
    if let Some(s) = shared.borrow_mut().session.as_mut() {
        s.close_now();
    }
    pump(shared);
}

/// Keeps the core of a dropped client alive until its closing session has ended (the
/// server answered closeSession, or the session's close deadline passed): the socket and
/// the timer only hold it weakly. Released by [`on_state`]; see `handle::release`.
pub(crate) fn keep_until_closed(shared: &Shared) {
    shared.borrow_mut().keepalive = Some(shared.clone());
}

fn now(shared: &Shared) -> Instant {
    shared.borrow().event_loop.now()
}

/// The connection failed or closed: tell the session.
fn failed(shared: &Shared) {
    let t = now(shared);
    let mut core = shared.borrow_mut();
    core.conn = None;
    core.dial = None;
    if let Some(s) = core.session.as_mut() {
        s.handle_disconnected(t);
    }
}

fn disconnect(shared: &Shared) {
    let (conn, dial) = {
        let mut core = shared.borrow_mut();
        (core.conn.take(), core.dial.take())
    };
    drop(conn); // deregisters the socket
    drop(dial); // abandons a lookup in progress
}

fn on_ready(shared: &Shared, r: Readiness) {
    let t = now(shared);
    // Finish a connect in progress.
    let connecting = shared.borrow().conn.as_ref().is_some_and(|c| c.connecting);
    if connecting {
        let res = shared
            .borrow()
            .conn
            .as_ref()
            .map(|c| c.socket.connect_result());
        match res {
            Some(Ok(true)) => {
                let mut core = shared.borrow_mut();
                if let Some(c) = core.conn.as_mut() {
                    c.connecting = false;
                    c.want_writable(false);
                }
                core.dial = None;
                if let Some(s) = core.session.as_mut() {
                    s.handle_connected(t);
                }
            }
            Some(Ok(false)) => return,
            Some(Err(e)) => {
                // The next address of the same host, if it has one, before the session
                // hears of a failure.
                debug!("connect failed: {e}");
                dial_next(shared);
                pump(shared);
                return;
            }
            None => return,
        }
    }
    if r.is_readable() || r.is_read_closed() || r.is_error() {
        read_in(shared, t, r.is_read_closed() || r.is_error());
    }
    pump(shared);
}

/// Reads what the socket has, feeding the session (see [`read_some`] for when it stops).
/// When the read budget runs out with data still waiting, a continuation is queued on the
/// loop: timers, other sockets and callbacks get their turn first, and since an
/// edge-triggered poll raises no new event for data already there, the continuation is what
/// comes back for it.
fn read_in(shared: &Shared, t: Instant, closing: bool) {
    let end = {
        let mut guard = shared.borrow_mut();
        let Core {
            conn,
            session,
            readbuf,
            ..
        } = &mut *guard;
        let Some(c) = conn.as_ref().filter(|c| !c.connecting) else {
            return;
        };
        read_some(
            &*c.socket,
            readbuf,
            short_read_ends_wakeup(),
            closing,
            READ_BUDGET,
            |data| {
                if let Some(s) = session.as_mut() {
                    s.handle_data(t, data);
                }
            },
        )
    };
    let lost = match end {
        ReadEnd::WouldBlock | ReadEnd::ShortRead => return,
        ReadEnd::BudgetSpent => {
            read_later(shared, closing);
            return;
        }
        ReadEnd::Eof => "the server closed the connection".to_string(),
        ReadEnd::Failed(e) => format!("read failed: {e}"),
    };
    debug!("{lost}");
    let mut core = shared.borrow_mut();
    core.conn = None;
    if let Some(s) = core.session.as_mut() {
        s.handle_disconnected(t);
    }
}

/// Queues the rest of a read that ran out of budget (once: a queued continuation reads
/// everything the socket has by the time it runs).
fn read_later(shared: &Shared, closing: bool) {
    let lp = {
        let mut core = shared.borrow_mut();
        if core.read_queued {
            return;
        }
        core.read_queued = true;
        core.event_loop.clone()
    };
    let weak = Rc::downgrade(shared);
    lp.call_soon_fn(move || {
        let Some(shared) = weak.upgrade() else { return };
        shared.borrow_mut().read_queued = false;
        let t = now(&shared);
        read_in(&shared, t, closing);
        pump(&shared);
    });
}

/// How much submitted output is written at once instead of waiting for the loop's flush
/// (requests submitted in one go otherwise leave together).
const WRITE_AT_ONCE: usize = 64 * 1024;

/// After a request was submitted: the output leaves with the loop's next flush or, once there
/// is enough for a large write and the socket was not last found full, at once, so the
/// server starts on it while the caller goes on submitting.
pub(crate) fn submitted(shared: &Shared) {
    let large = {
        let core = shared.borrow();
        // Writable interest is on only while connecting or after a write would block.
        let writable = core.conn.as_ref().is_some_and(|c| !c.writable_interest);
        writable
            && core
                .session
                .as_ref()
                .is_some_and(|s| s.pending_output().len() >= WRITE_AT_ONCE)
    };
    if large {
        write_out(shared);
    }
    flush_soon(shared);
}

/// Writes the session's output until it is gone or the socket would block.
fn write_out(shared: &Shared) {
    let mut guard = shared.borrow_mut();
    let core = &mut *guard;
    let (Some(conn), Some(session)) = (core.conn.as_mut(), core.session.as_mut()) else {
        return;
    };
    if conn.connecting {
        return;
    }
    loop {
        let out = session.pending_output();
        if out.is_empty() {
            conn.want_writable(false);
            return;
        }
        match conn.socket.write(out) {
            Ok(0) => return,
            Ok(n) => session.advance_output(n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                conn.want_writable(true);
                return;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                debug!("write failed: {e}");
                core.conn = None;
                session.handle_disconnected(core.event_loop.now());
                return;
            }
        }
    }
}

fn rearm_timer(shared: &Shared) {
    let (lp, deadline, current) = {
        let core = shared.borrow();
        (
            core.event_loop.clone(),
            core.session.as_ref().and_then(Session::poll_timeout),
            core.timer,
        )
    };
    match (deadline, current) {
        // The armed timer fires no later than needed. When the deadline moved later (the
        // ping deadline moves with every request sent) the timer is left alone: firing early
        // is harmless (the session does nothing yet) and re-arms it then, which saves a
        // reschedule per request.
        (Some(d), Some((_, at))) if d >= at => {}
        (Some(d), Some((id, _))) => {
            if lp.reschedule_timer(id, d) {
                shared.borrow_mut().timer = Some((id, d));
            } else {
                set_timer(shared, &lp, d);
            }
        }
        (Some(d), None) => set_timer(shared, &lp, d),
        (None, Some((id, _))) => {
            lp.cancel_timer(id);
            shared.borrow_mut().timer = None;
        }
        (None, None) => {}
    }
}

fn set_timer(shared: &Shared, lp: &Rc<dyn EventLoop>, deadline: Instant) {
    let weak: Weak<RefCell<Core>> = Rc::downgrade(shared);
    let id = lp.set_timer_fn(deadline, move || {
        if let Some(shared) = weak.upgrade() {
            let t = now(&shared);
            {
                let mut core = shared.borrow_mut();
                core.timer = None;
                if let Some(s) = core.session.as_mut() {
                    s.handle_timeout(t);
                }
            }
            pump(&shared);
        }
    });
    shared.borrow_mut().timer = Some((id, deadline));
}

/// The longest `stop()` waits for the server to confirm closeSession.
pub(crate) const STOP_WAIT: Duration = Duration::from_secs(10);
