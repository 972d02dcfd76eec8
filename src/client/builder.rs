//! [`ClientBuilder`]: the client's settings, and building a [`Client`] from them (the checks
//! live in `settings.rs`).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::driver::Core;
use super::handle::Handle;
use super::hosts::parse_connect_string;
use super::{Client, Resolver};
use crate::error::Error;
use crate::handler::{Handler, MioHandler};
use crate::proto::{Acl, DEFAULT_MAX_INCOMING_FRAME, DEFAULT_MAX_OUTGOING_FRAME};

/// Settings for [`Client`]; [`Client::builder`] starts from the defaults.
#[derive(Debug, Clone)]
pub struct ClientBuilder<H: Handler = MioHandler> {
    pub(super) hosts: String,
    pub(super) session_timeout: Duration,
    pub(super) read_only: bool,
    pub(super) auth: Vec<(String, Bytes)>,
    pub(super) default_acl: Vec<Acl>,
    pub(super) backoff_initial: Duration,
    pub(super) backoff_max: Duration,
    pub(super) max_incoming_frame: usize,
    pub(super) max_outgoing_frame: usize,
    pub(super) max_queued_requests: usize,
    pub(super) max_in_flight: usize,
    pub(super) reconnect_after_expiry: bool,
    pub(super) request_timeout: Option<Duration>,
    pub(super) resume: Option<(i64, [u8; 16])>,
    pub(super) resolver: Resolver,
    pub(super) handler: Option<H>,
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
