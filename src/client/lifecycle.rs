//! The client's lifecycle (start, stop, restart, close), its state and listeners, and the
//! waits that run its loop (`poll_once`, `run_until`, `sleep`).

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::driver::{self, pump};
use super::handle;
use super::{Client, ClientState, ListenerId};
use crate::async_result::AsyncResult;
use crate::error::Error;
use crate::handler::{EventLoop, Handler};
use crate::session::{Session, SessionConfig, SessionState};
use crate::LoopError;

impl<H: Handler> Client<H> {
    /// kazoo's default for `start()`'s timeout, 15 s: `start(Some(Client::START_TIMEOUT))`
    /// (`start(None)` waits with no limit).
    pub const START_TIMEOUT: Duration = Duration::from_secs(15);

    /// Starts the session and waits (running the loop) until connected or `timeout` passes
    /// (`None`: no limit, as everywhere in this crate; kazoo's default is
    /// [`START_TIMEOUT`](Self::START_TIMEOUT), 15 s). On timeout the client is stopped again
    /// and [`Error::Timeout`] returned.
    pub fn start(&self, timeout: Option<Duration>) -> Result<(), Error> {
        self.refuse_if_embedded("Client::start")?;
        let r = self.start_async()?;
        match r.take(true, timeout) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.stop();
                Err(e)
            }
        }
    }

    /// Starts the session; the result is set once connected (at once if already connected).
    pub fn start_async(&self) -> Result<AsyncResult<()>, Error> {
        self.handler.start()?;
        let r = self.handler.async_result::<()>();
        let fresh = {
            let mut core = self.shared.borrow_mut();
            if core.keeper.is_connected() {
                let _ = r.set(());
                return Ok(r);
            }
            core.on_connected.push(r.clone());
            // A session that has ended (closed by `stop_async`, which, unlike `stop`, leaves
            // it in place; auth failed; expired without reconnecting) does nothing more:
            // start a new one, as kazoo's `start()` does after LOST.
            if core
                .session
                .as_ref()
                .is_some_and(|s| s.state().is_terminal())
            {
                core.session = None;
            }
            if core.session.is_none() {
                let c = &self.config;
                let mut sc = SessionConfig::new(core.hosts.len());
                sc.session_timeout = c.session_timeout;
                sc.read_only = c.read_only;
                sc.auth = c.auth.clone();
                for a in &core.added_auth {
                    if !sc.auth.contains(a) {
                        sc.auth.push(a.clone());
                    }
                }
                sc.max_incoming_frame = c.max_incoming_frame;
                sc.max_outgoing_frame = c.max_outgoing_frame;
                sc.max_queued_requests = c.max_queued_requests;
                sc.max_in_flight = c.max_in_flight;
                sc.backoff_initial = c.backoff_initial;
                sc.backoff_max = c.backoff_max;
                sc.reconnect_after_expiry = c.reconnect_after_expiry;
                sc.resume = c.resume;
                sc.seed = seed();
                core.session = Some(Session::new(sc));
                true
            } else {
                false
            }
        };
        if fresh {
            let now = self.shared.borrow().event_loop.now();
            if let Some(s) = self.shared.borrow_mut().session.as_mut() {
                s.start(now);
            }
            pump(&self.shared);
        }
        Ok(r)
    }

    /// Closes the session (requests already submitted go out first) and waits, running the
    /// loop, until the server confirmed or 10 s passed. Every request still pending then
    /// fails: with [`Error::ConnectionLoss`] if it was written to the socket (the server may
    /// have applied it), with [`Error::ConnectionClosed`] if it was not (certainly not
    /// applied). Idempotent.
    ///
    /// It also works after the handler was stopped (kazoo's own shutdown order: handler,
    /// then client): the handler's waits are refused then, so `stop` drives the loop itself
    /// with `poll_once` (which a stopped loop allows) until the close is confirmed.
    pub fn stop(&self) -> Result<(), Error> {
        // Refused before closing anything: on an embedded handler use stop_async.
        self.refuse_if_embedded("Client::stop")?;
        let r = self.stop_async();
        let deadline = self.handler.now() + driver::STOP_WAIT;
        let res = match r.take(true, Some(driver::STOP_WAIT)) {
            Err(Error::Loop(LoopError::Stopped)) => self.drive_until_closed(&r, deadline),
            other => other,
        };
        self.teardown();
        match res {
            Err(Error::Timeout) => Ok(()),
            other => other,
        }
    }

    /// For `stop` on a stopped handler: runs the loop with `poll_once` until `closed` is
    /// set or `deadline` passes ([`Error::Timeout`]).
    fn drive_until_closed(&self, closed: &AsyncResult<()>, deadline: Instant) -> Result<(), Error> {
        while !closed.ready() {
            let left = deadline.saturating_duration_since(self.handler.now());
            if left.is_zero() {
                return Err(Error::Timeout);
            }
            EventLoop::poll_once(&self.handler, Some(left))?;
        }
        Ok(())
    }

    /// Ends the session at once (after `stop` waited, or gave up waiting): whatever is still
    /// pending fails (ConnectionLoss if written, ConnectionClosed if not: see `stop`), so
    /// every result handed out completes.
    fn teardown(&self) {
        handle::teardown(&self.shared);
    }

    /// Starts closing the session; the result is set once it is closed.
    pub fn stop_async(&self) -> AsyncResult<()> {
        let r = self.handler.async_result::<()>();
        let closing = {
            let mut core = self.shared.borrow_mut();
            let now = core.event_loop.now();
            match core.session.as_mut() {
                Some(s) if !s.state().is_terminal() => {
                    core.on_closed.push(r.clone());
                    if let Some(s) = core.session.as_mut() {
                        s.close(now);
                    }
                    true
                }
                _ => false,
            }
        };
        if closing {
            pump(&self.shared);
        } else {
            let _ = r.set(());
        }
        r
    }

    /// [`stop`](Self::stop), then [`start`](Self::start).
    pub fn restart(&self) -> Result<(), Error> {
        self.stop()?;
        self.start(None)
    }

    /// Releases the client's resources after [`stop`](Self::stop) (kazoo's `close`); the
    /// client can be started again afterwards.
    pub fn close(&self) -> Result<(), Error> {
        // Stopped means no session, or one that has ended (after `stop_async`).
        let live = self
            .shared
            .borrow()
            .session
            .as_ref()
            .is_some_and(|s| !s.state().is_terminal());
        if live {
            return Err(Error::BadArgument(
                "cannot close a client that is not stopped: call stop() first".into(),
            ));
        }
        let mut core = self.shared.borrow_mut();
        core.pending.drain();
        Ok(())
    }

    /// kazoo's state: CONNECTED, SUSPENDED or LOST.
    pub fn state(&self) -> ClientState {
        self.shared.borrow().state
    }

    /// The fine-grained session state.
    pub fn session_state(&self) -> SessionState {
        self.shared.borrow().keeper
    }

    /// Whether the client is connected.
    pub fn connected(&self) -> bool {
        self.shared.borrow().keeper.is_connected()
    }

    /// The session id and password while there is a session (kazoo's `client_id`).
    pub fn client_id(&self) -> Option<(i64, [u8; 16])> {
        let core = self.shared.borrow();
        let (id, pw) = core.session.as_ref()?.session_id()?;
        let mut out = [0u8; 16];
        if pw.len() == 16 {
            out.copy_from_slice(&pw);
        }
        Some((id, out))
    }

    /// The server this client is connected to, as `host:port` from the connect string
    /// (IPv6 hosts in brackets); `None` while not connected.
    ///
    /// ```no_run
    /// # let zk = mio_zookeeper::Client::new("10.0.0.1:2181,10.0.0.2:2181")?;
    /// zk.start(None)?;
    /// let server = zk.current_server().expect("connected");
    /// assert!(server == "10.0.0.1:2181" || server == "10.0.0.2:2181");
    /// # Ok::<(), mio_zookeeper::Error>(())
    /// ```
    pub fn current_server(&self) -> Option<String> {
        let core = self.shared.borrow();
        if !core.keeper.is_connected() {
            return None;
        }
        let host = core.session.as_ref()?.current_host();
        core.hosts.get(host).map(ToString::to_string)
    }

    /// The chroot, if any.
    pub fn chroot(&self) -> Option<String> {
        self.shared.borrow().chroot.clone()
    }

    /// Adds a state listener; it is called (from the loop's queue) each time [`ClientState`]
    /// changes.
    pub fn add_listener<F: Fn(ClientState) + 'static>(&self, f: F) -> ListenerId {
        let mut core = self.shared.borrow_mut();
        let id = core.next_listener;
        core.next_listener += 1;
        core.listeners.push((id, Rc::new(f)));
        ListenerId(id)
    }

    /// Removes a listener; returns whether it was there.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        let mut core = self.shared.borrow_mut();
        let before = core.listeners.len();
        core.listeners.retain(|(i, _)| *i != id.0);
        before != core.listeners.len()
    }

    // ------------------------------------------------------------------ running the loop

    /// Runs the loop once, waiting for I/O no longer than `timeout` (`None`: no limit);
    /// whether anything happened (see [`EventLoop::poll_once`]).
    pub fn poll_once(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        EventLoop::poll_once(&self.handler, timeout)
    }

    /// Runs the loop until `done()` holds or `timeout` passes (`None`: no limit), through
    /// the handler ([`Handler::run_until`]): a wait on this client's loop that needs no
    /// result object.
    ///
    /// ```no_run
    /// # let zk = mio_zookeeper::Client::new("127.0.0.1:2181")?;
    /// use std::time::Duration;
    /// zk.start(Some(Duration::from_secs(15)))?;
    /// zk.run_until(&|| zk.connected(), Some(Duration::from_secs(5)))?;
    /// # Ok::<(), mio_zookeeper::Error>(())
    /// ```
    ///
    /// # Notable errors
    ///
    /// [`Error::Timeout`]; [`LoopError::Stopped`], [`LoopError::Embedded`],
    /// [`LoopError::NestingTooDeep`] (as [`Error::Loop`]).
    pub fn run_until(
        &self,
        done: &dyn Fn() -> bool,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        self.handler.run_until(done, timeout)
    }

    /// Runs the loop for `duration` (kazoo's `handler.sleep_func`): pings, replies and
    /// callbacks of this client (and of every client on the same loop) go on meanwhile.
    ///
    /// # Notable errors
    ///
    /// As [`run_until`](Self::run_until), without the timeout.
    pub fn sleep(&self, duration: Duration) -> Result<(), Error> {
        self.handler.sleep(duration)
    }

    /// How many watch callbacks are registered.
    pub fn watch_count(&self) -> usize {
        self.shared.borrow().watchers.len()
    }

    /// How many state listeners are registered ([`add_listener`](Self::add_listener));
    /// with [`watch_count`](Self::watch_count), what a test counts to see that a recipe
    /// stopped leaves nothing behind.
    pub fn listener_count(&self) -> usize {
        self.shared.borrow().listeners.len()
    }

    /// How many requests are waiting for a reply.
    pub fn pending_requests(&self) -> usize {
        self.shared.borrow().pending.len()
    }
}

/// A seed for host shuffling and jitter that differs between clients and runs.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}
