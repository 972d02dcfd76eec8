//! The client layer: [`Client`] (kazoo's `KazooClient`) and what it is made of.
//!
//! **What lives here, and what it may use:** the builder and settings, the client handle
//! ([`WeakClient`] too), the operations (`ops/`: nodes, data, children, ACLs, watches,
//! multi, admin), transactions, watchers and their table, auth, connect strings and DNS
//! resolution that never blocks the loop, four-letter words, and the driver that glues the
//! sans-IO [`Session`](crate::session::Session) to the loop. It reaches the loop only
//! through its [`Handler`] (the dyn-safe `EventLoop`), never the reactor; below it sit the
//! session and the codec. The module is private: what users need is re-exported at the
//! crate root, and the user's guide to the client (operations, states, connection loss,
//! ownership, watches) is in the [crate docs](crate#the-client).

mod driver;
mod four_letter;
mod handle;
mod hosts;
mod ops;
mod read_loop;
mod resolve;
mod security;
mod settings;
mod transaction;
mod watcher;
mod watchers;

pub use crate::proto::AddWatchMode;
pub use handle::WeakClient;
use hosts::parse_connect_string;
pub use hosts::validate_path;
pub use ops::{
    CreateOptions, NodeData, NullData, ReadOp, ReadResult, WatchRegistration, WhenOffline,
};
pub use resolve::Resolver;
pub use security::{make_digest_acl, make_digest_acl_credential};
pub use transaction::{OpResult, Transaction};
pub use watcher::Watcher;
pub use watchers::WatchedEvent;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::async_result::AsyncResult;
use crate::error::Error;
use crate::handler::{EventLoop, Handler, MioHandler};
use crate::proto::{
    Acl, MultiOp, Request, Response, DEFAULT_MAX_INCOMING_FRAME, DEFAULT_MAX_OUTGOING_FRAME,
};
use crate::session::{Session, SessionConfig, SessionState};
use crate::LoopError;
use driver::{pump, Core, Pending, Shared};
use handle::Handle;
use hosts::{chroot_path, unchroot};
use watchers::{PendingWatcher, Withdraw};

/// kazoo's `KazooState`: what listeners are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientState {
    /// Connected; requests go out.
    Connected,
    /// The connection is lost but the session may still be alive; requests wait for the
    /// reconnect.
    Suspended,
    /// The session is gone (expired, auth failed, stopped), or there never was one.
    Lost,
}

/// Identifies a state listener for [`Client::remove_listener`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

/// Settings for [`Client`]; [`Client::builder`] starts from the defaults.
#[derive(Debug, Clone)]
pub struct ClientBuilder<H: Handler = MioHandler> {
    hosts: String,
    session_timeout: Duration,
    read_only: bool,
    auth: Vec<(String, Bytes)>,
    default_acl: Vec<Acl>,
    backoff_initial: Duration,
    backoff_max: Duration,
    max_incoming_frame: usize,
    max_outgoing_frame: usize,
    max_queued_requests: usize,
    max_in_flight: usize,
    reconnect_after_expiry: bool,
    request_timeout: Option<Duration>,
    resume: Option<(i64, [u8; 16])>,
    resolver: Resolver,
    handler: Option<H>,
}

impl ClientBuilder<MioHandler> {
    fn new(hosts: &str) -> Self {
        ClientBuilder {
            hosts: hosts.to_string(),
            session_timeout: Duration::from_secs(10),
            read_only: false,
            auth: Vec::new(),
            default_acl: Acl::open_unsafe(),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            max_incoming_frame: DEFAULT_MAX_INCOMING_FRAME,
            max_outgoing_frame: DEFAULT_MAX_OUTGOING_FRAME,
            max_queued_requests: 10_000,
            max_in_flight: crate::session::DEFAULT_MAX_IN_FLIGHT,
            reconnect_after_expiry: true,
            request_timeout: Some(Duration::from_secs(30)),
            resume: None,
            resolver: Resolver::system(),
            handler: None,
        }
    }
}

impl<H: Handler> ClientBuilder<H> {
    /// The session timeout asked of the server (default 10 s; the server clamps it to its
    /// `minSessionTimeout`..`maxSessionTimeout`, by default 2 to 20 ticks). The wire carries
    /// milliseconds in an `i32`: a longer timeout (up to `Duration::MAX`) is asked for as
    /// `i32::MAX` ms, about 24.8 days. Zero is refused by `build()`.
    pub fn session_timeout(mut self, t: Duration) -> Self {
        self.session_timeout = t;
        self
    }
    /// Accept read-only servers (default false).
    pub fn read_only(mut self, allow: bool) -> Self {
        self.read_only = allow;
        self
    }
    /// Credentials sent at every connect, before any request (e.g. `("digest", "user:pw")`).
    pub fn auth(mut self, scheme: &str, credential: &[u8]) -> Self {
        self.auth
            .push((scheme.to_string(), Bytes::copy_from_slice(credential)));
        self
    }
    /// The ACL of created nodes when none is given (default world:anyone, all).
    pub fn default_acl(mut self, acl: Vec<Acl>) -> Self {
        self.default_acl = acl;
        self
    }
    /// Reconnect backoff: first delay and cap (defaults 100 ms and 10 s). After a pass over
    /// every host failed, the next pass waits the current delay with ±40 % jitter, never more
    /// than `max`, and the delay doubles. While a session could still be resumed, no wait is
    /// longer than half the time left before the client-side expiry (T after the last bytes
    /// received), so the last attempts fall inside the session timeout.
    ///
    /// `build()` refuses a zero `initial` and an `initial` above `max`. Huge values (up to
    /// `Duration::MAX`) are accepted and mean "wait about that long", never a panic.
    pub fn connection_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max;
        self
    }
    /// Frame limits: largest reply accepted (default 4 MiB) and largest request sent
    /// (default 1,048,575 bytes, the server's `jute.maxbuffer`).
    pub fn frame_limits(mut self, max_incoming: usize, max_outgoing: usize) -> Self {
        self.max_incoming_frame = max_incoming;
        self.max_outgoing_frame = max_outgoing;
        self
    }
    /// How many requests may wait for a connection, or for room under
    /// [`max_in_flight`](Self::max_in_flight) (default 10,000). Past it, a request fails at
    /// once with [`Error::QueueFull`].
    pub fn max_queued_requests(mut self, n: usize) -> Self {
        self.max_queued_requests = n;
        self
    }
    /// How many requests may await their reply on the connection at once (default 1,000, the
    /// server's own `globalOutstandingLimit`; zero is refused by `build()`).
    ///
    /// Past the bound, a submitted request waits in the client's queue (bounded by
    /// [`max_queued_requests`](Self::max_queued_requests)) and goes out, in submission order,
    /// as replies come back. A queued request has certainly not reached the server: if the
    /// connection drops it waits for the next one instead of failing with
    /// [`Error::ConnectionLoss`] as requests in flight do.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }
    /// Open a new session after expiry (default true, as kazoo).
    pub fn reconnect_after_expiry(mut self, yes: bool) -> Self {
        self.reconnect_after_expiry = yes;
        self
    }
    /// The default per-call timeout of blocking calls (default 30 s; `None` waits forever).
    pub fn request_timeout(mut self, t: Option<Duration>) -> Self {
        self.request_timeout = t;
        self
    }
    /// Resume an existing session (kazoo's `client_id`).
    pub fn client_id(mut self, session_id: i64, passwd: [u8; 16]) -> Self {
        self.resume = Some((session_id, passwd));
        self
    }
    /// How host names are looked up (default [`Resolver::system`]). Lookups run off the
    /// loop, on a short-lived thread each; hosts given as IP addresses need none.
    pub fn resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = resolver;
        self
    }
    /// Runs the client on `handler` (default: the thread's default loop,
    /// [`MioHandler::current`]; pass [`MioHandler::new`] for a loop of its own).
    pub fn handler<H2: Handler>(self, handler: H2) -> ClientBuilder<H2> {
        ClientBuilder {
            hosts: self.hosts,
            session_timeout: self.session_timeout,
            read_only: self.read_only,
            auth: self.auth,
            default_acl: self.default_acl,
            backoff_initial: self.backoff_initial,
            backoff_max: self.backoff_max,
            max_incoming_frame: self.max_incoming_frame,
            max_outgoing_frame: self.max_outgoing_frame,
            max_queued_requests: self.max_queued_requests,
            max_in_flight: self.max_in_flight,
            reconnect_after_expiry: self.reconnect_after_expiry,
            request_timeout: self.request_timeout,
            resume: self.resume,
            resolver: self.resolver,
            handler: Some(handler),
        }
    }
}

impl ClientBuilder<MioHandler> {
    /// Builds the client (not started) on the handler given with
    /// [`handler`](Self::handler), or else on the thread's default loop
    /// ([`MioHandler::current`], shared by the thread's clients).
    pub fn build(self) -> Result<Client<MioHandler>, Error> {
        let handler = match self.handler.clone() {
            Some(h) => h,
            None => MioHandler::current()?,
        };
        self.handler(handler).build_with()
    }
}

impl<H: Handler> ClientBuilder<H> {
    /// Builds the client on the handler given with [`handler`](Self::handler).
    pub fn build_with(self) -> Result<Client<H>, Error> {
        let Some(handler) = self.handler.clone() else {
            return Err(Error::BadArgument(
                "no handler: call .handler(h) or use build()".into(),
            ));
        };
        let cs = parse_connect_string(&self.hosts)?;
        self.check_settings()?;
        let mut core = Core::new(handler.event_loop(), cs.hosts, cs.chroot);
        core.resolver = self.resolver.clone();
        let handle = Rc::new(Handle {
            shared: Rc::new(RefCell::new(core)),
            handler,
            config: Rc::new(self),
        });
        Ok(Client::from_handle(handle, None))
    }
}

/// A ZooKeeper client. Cheap to clone (an `Rc`); `!Send`: it lives on its loop's thread.
/// See the [crate docs](crate#the-client).
///
/// Dropping the last clone closes the session (see [Ownership](crate#ownership-dropping-the-client-closes-the-session)).
/// A watcher or listener that needs the client captures a [`WeakClient`]
/// ([`downgrade`](Client::downgrade)), never a clone: a clone stored in the client's own
/// callbacks keeps the session open after the program dropped its handles.
pub struct Client<H: Handler = MioHandler> {
    shared: Shared,
    handler: H,
    config: Rc<ClientBuilder<H>>,
    /// Per-call timeout override (see `with_timeout`).
    timeout: Option<Option<Duration>>,
    /// Shared by the user's handles: its drop (the last handle's) closes the session.
    /// `None` in the library's own copies ([`internal`](Client::internal)), which never
    /// keep the session open.
    handle: Option<Rc<Handle<H>>>,
}

impl<H: Handler> Clone for Client<H> {
    fn clone(&self) -> Self {
        Client {
            shared: self.shared.clone(),
            handler: self.handler.clone(),
            config: self.config.clone(),
            timeout: self.timeout,
            handle: self.handle.clone(),
        }
    }
}

impl<H: Handler> std::fmt::Debug for Client<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("core", &*self.shared.borrow())
            .field("handler", &self.handler.name())
            .finish()
    }
}

impl Client<MioHandler> {
    /// A client for `hosts` (`h1:2181,h2:2181/chroot`) with default settings on the thread's
    /// default loop ([`MioHandler::current`]), which it shares with the thread's other
    /// clients. Not started.
    pub fn new(hosts: &str) -> Result<Client<MioHandler>, Error> {
        ClientBuilder::new(hosts).build()
    }

    /// A builder for `hosts` with default settings.
    pub fn builder(hosts: &str) -> ClientBuilder<MioHandler> {
        ClientBuilder::new(hosts)
    }
}

impl<H: Handler> Client<H> {
    /// kazoo's default for `start()`'s timeout, 15 s: `start(Some(Client::START_TIMEOUT))`
    /// (`start(None)` waits with no limit).
    pub const START_TIMEOUT: Duration = Duration::from_secs(15);

    // ------------------------------------------------------------------ lifecycle

    fn from_handle(handle: Rc<Handle<H>>, timeout: Option<Option<Duration>>) -> Client<H> {
        Client {
            shared: handle.shared.clone(),
            handler: handle.handler.clone(),
            config: handle.config.clone(),
            timeout,
            handle: Some(handle),
        }
    }

    /// The library's own copy of this client, for tasks and completions: it works like the
    /// client but does not count as a user handle, so it never keeps the session open (the
    /// session closes when the user's last handle goes, even with such a copy in flight).
    pub(crate) fn internal(&self) -> Client<H> {
        Client {
            shared: self.shared.clone(),
            handler: self.handler.clone(),
            config: self.config.clone(),
            timeout: self.timeout,
            handle: None,
        }
    }

    /// A [`WeakClient`]: a handle that does not keep the session open. Capture it (not a
    /// `Client` clone) in watchers, listeners and tasks stored in the client, and
    /// [`upgrade`](WeakClient::upgrade) it when they run.
    ///
    /// ```no_run
    /// # let zk = mio_zookeeper::Client::new("127.0.0.1:2181")?;
    /// let weak = zk.downgrade();
    /// zk.add_listener(move |state| {
    ///     if let Some(zk) = weak.upgrade() {
    ///         println!("{state:?}, session {:?}", zk.client_id().map(|(id, _)| id));
    ///     }
    /// });
    /// # Ok::<(), mio_zookeeper::Error>(())
    /// ```
    pub fn downgrade(&self) -> WeakClient<H> {
        let handle = self
            .handle
            .as_ref()
            .map_or_else(std::rc::Weak::new, Rc::downgrade);
        WeakClient::new(handle, self.timeout)
    }

    /// The handler the client runs on.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// A view of this client whose blocking calls wait at most `timeout` (`None`: forever).
    ///
    /// ```no_run
    /// # let zk = mio_zookeeper::Client::new("127.0.0.1:2181")?;
    /// use std::time::Duration;
    /// let quick = zk.with_timeout(Some(Duration::from_millis(200)));
    /// match quick.get("/slow", None) {
    ///     Err(e) if e.is_timeout() => println!("gave up waiting; the request still completes"),
    ///     other => println!("{other:?}"),
    /// }
    /// # Ok::<(), mio_zookeeper::Error>(())
    /// ```
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Client<H> {
        let mut c = self.clone();
        c.timeout = Some(timeout);
        c
    }

    /// Refuses a blocking call on an embedded handler, whose loop only the host drives.
    /// Blocking operations call it *before* submitting anything, so a refused call has no
    /// effect on the server.
    pub(crate) fn refuse_if_embedded(&self, what: &'static str) -> Result<(), Error> {
        if self.handler.is_embedded() {
            return Err(Error::Loop(LoopError::Embedded { what }));
        }
        Ok(())
    }

    /// A blocking operation: refused up front when embedded, else `submit` then wait.
    fn blocking<T: 'static>(
        &self,
        what: &'static str,
        submit: impl FnOnce() -> AsyncResult<T>,
    ) -> Result<T, Error> {
        self.refuse_if_embedded(what)?;
        self.wait(submit())
    }

    fn wait<T: 'static>(&self, r: AsyncResult<T>) -> Result<T, Error> {
        let timeout = self.timeout.unwrap_or(self.config.request_timeout);
        r.take(true, timeout)
    }

    /// A blocking operation that leaves a watch: [`blocking`](Self::blocking), and when the
    /// wait ends before the reply (the per-call timeout), the watcher is withdrawn: the
    /// caller saw the call fail, so the late reply completes the request but registers
    /// nothing.
    fn blocking_watch<T: 'static>(
        &self,
        what: &'static str,
        submit: impl FnOnce(Withdraw) -> AsyncResult<T>,
    ) -> Result<T, Error> {
        self.refuse_if_embedded(what)?;
        let withdraw = Withdraw::default();
        let r = submit(withdraw.clone());
        let out = self.wait(r.clone());
        if !r.ready() {
            withdraw.withdraw();
        }
        out
    }

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

    // ------------------------------------------------------------------ plumbing

    fn path(&self, path: &str, sequential: bool) -> Result<String, Error> {
        chroot_path(self.shared.borrow().chroot.as_deref(), path, sequential)
    }

    fn unchroot(&self, path: &str) -> String {
        unchroot(self.shared.borrow().chroot.as_deref(), path)
    }

    /// Hands `req` to the session and returns its result, completed through `convert`.
    /// `label` names the request in a server error when it has no path of its own.
    fn submit<T: 'static>(
        &self,
        req: Request,
        label: &'static str,
        watcher: Option<PendingWatcher>,
        convert: impl FnOnce(Result<Response, Error>) -> Result<T, Error> + 'static,
    ) -> AsyncResult<T> {
        let r = self.handler.async_result::<T>();
        let mut guard = self.shared.borrow_mut();
        let core = &mut *guard;
        let now = core.event_loop.now();
        let submitted = match core.session.as_mut() {
            None => Err(Error::ConnectionClosed),
            Some(s) => s.submit(now, req).map_err(|e| e.into_error(label)),
        };
        match submitted {
            Ok(id) => {
                let r2 = r.clone();
                core.pending.insert(
                    id,
                    Pending {
                        complete: Box::new(move |res| {
                            let _ = r2.set_result(convert(res));
                        }),
                        watcher: watcher.map(Box::new),
                        label,
                    },
                );
                drop(guard);
                driver::submitted(&self.shared);
            }
            Err(e) => {
                drop(guard);
                let _ = r.set_exception(e);
            }
        }
        r
    }

    fn failed<T: 'static>(&self, e: Error) -> AsyncResult<T> {
        let r = self.handler.async_result::<T>();
        let _ = r.set_exception(e);
        r
    }

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

    /// How many requests are waiting for a reply.
    pub fn pending_requests(&self) -> usize {
        self.shared.borrow().pending.len()
    }

    pub(crate) fn submit_multi(
        &self,
        ops: Vec<MultiOp>,
        kinds: Vec<transaction::Kind>,
    ) -> AsyncResult<Vec<OpResult>> {
        let this = self.internal();
        self.submit(Request::Multi(ops), "multi", None, move |res| match res? {
            Response::Multi(results) => Ok(transaction::results(&this, results, kinds)),
            other => Err(unexpected("multi", &other)),
        })
    }

    pub(crate) fn full_path(&self, path: &str, sequential: bool) -> Result<String, Error> {
        self.path(path, sequential)
    }

    pub(crate) fn strip_chroot(&self, path: &str) -> String {
        self.unchroot(path)
    }

    pub(crate) fn default_acl(&self) -> Vec<Acl> {
        self.config.default_acl.clone()
    }

    pub(crate) fn wait_result<T: 'static>(&self, r: AsyncResult<T>) -> Result<T, Error> {
        self.wait(r)
    }
}

/// A reply's data as the caller keeps it. The decoder hands out slices of the buffer the
/// reply was read into, which holds many replies; a small value kept by the caller would keep
/// that whole buffer alive, so it is copied out. Large values (most of their buffer anyway)
/// stay zero-copy.
fn detach(data: Bytes) -> Bytes {
    if data.len() <= DETACH_UP_TO {
        Bytes::copy_from_slice(&data)
    } else {
        data
    }
}

/// Replies' data up to this size are copied out of the read buffer ([`detach`]).
const DETACH_UP_TO: usize = 64 * 1024;

fn unexpected(op: &'static str, r: &Response) -> Error {
    Error::protocol(op, r)
}

/// A seed for host shuffling and jitter that differs between clients and runs.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}
