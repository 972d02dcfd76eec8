//! The ZooKeeper client: kazoo's `KazooClient` on its handler's loop.
//!
//! [`Client::new`] or [`Client::builder`] makes a client (not yet started) for a connect
//! string `host:port[,host:port...][/chroot]` (IPv6 in brackets, port 2181 by default);
//! [`Client::start`] connects, running the loop until the session is established.
//!
//! Every operation comes in two forms: a blocking one (`get`) that runs the loop until the
//! answer is in, and an `*_async` one that returns an [`AsyncResult`] at once (wait on it,
//! `rawlink` a callback to it, or `.await` it in a task). Blocking calls wait at most the
//! client's per-call timeout ([`Client::with_timeout`]); the request itself still completes
//! later, with a value or an error.
//!
//! # Examples
//!
//! ```
//! # let server = mio_zookeeper::testing::ZkServer::start()?;
//! # let hosts = server.connect_string();
//! use std::{cell::Cell, rc::Rc, time::Duration};
//! use mio_zookeeper::client::{Client, WatchedEvent, Watcher};
//! use mio_zookeeper::proto::EventType;
//!
//! let zk = Client::new(&hosts)?; // for example "127.0.0.1:2181/app"
//! zk.start(None)?;
//! zk.ensure_path("/config", None)?;
//! zk.set("/config", b"v1", None)?; // None: any version
//!
//! let changed = Rc::new(Cell::new(false));
//! let c = changed.clone();
//! let watcher = Watcher::new(move |event: WatchedEvent| {
//!     c.set(event.event_type == EventType::NodeDataChanged)
//! });
//! let (data, stat) = zk.get("/config", &watcher)?;
//! assert_eq!(data.as_deref(), Some(&b"v1"[..]));
//! assert_eq!(stat.version, 1);
//!
//! zk.set("/config", b"v2", None)?;
//! // The server sends the watch event before the reply to set().
//! zk.run_until(&|| changed.get(), Some(Duration::from_secs(10)))?;
//! zk.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Operations
//!
//! - **Nodes:** [`create`](Client::create) (a [`CreateMode`](crate::CreateMode) or
//!   [`CreateOptions`]: ephemeral, sequential, container, TTL; ACL; makepath),
//!   [`ensure_path`](Client::ensure_path) (with an ACL), [`get`](Client::get),
//!   [`exists`](Client::exists), [`get_children`](Client::get_children) (and
//!   [`get_children_with_stat`](Client::get_children_with_stat)), [`set`](Client::set),
//!   [`delete`](Client::delete), [`delete_recursive`](Client::delete_recursive),
//!   [`get_acls`](Client::get_acls), [`set_acls`](Client::set_acls), [`sync`](Client::sync).
//!   Data is any [`NodeData`] (bytes in any form, or [`NullData`]); versions are
//!   `Option<i32>`, `None` for any version.
//! - **Watches:** one-shot, as the `watch` argument of `get`, `exists` and `get_children`
//!   (`None` or a [`Watcher`]); persistent and recursive [`add_watch`](Client::add_watch),
//!   whose [`WatchRegistration`] removes exactly that watcher;
//!   [`remove_watcher`](Client::remove_watcher) (exactly one watcher) and
//!   [`remove_watches`](Client::remove_watches) (every watcher of a kind on a path).
//! - **Several operations at once:** [`transaction`](Client::transaction) (atomic writes, one
//!   [`OpResult`] per op) and [`multi_read`](Client::multi_read).
//! - **Session and server:** [`add_auth`](Client::add_auth), [`whoami`](Client::whoami),
//!   [`last_zxid`](Client::last_zxid),
//!   [`get_ephemerals`](Client::get_ephemerals),
//!   [`get_all_children_number`](Client::get_all_children_number),
//!   [`reconfig`](Client::reconfig), [`get_config`](Client::get_config),
//!   [`command`](Client::command) (four-letter words),
//!   [`server_version`](Client::server_version). All but the last two have `*_async` forms;
//!   `command` and `server_version` open a connection of their own and block the thread for
//!   at most the per-call timeout (as kazoo's do).
//! - **Lifecycle:** [`start`](Client::start) / [`start_async`](Client::start_async),
//!   [`stop`](Client::stop) / [`stop_async`](Client::stop_async),
//!   [`restart`](Client::restart), [`close`](Client::close), [`state`](Client::state),
//!   [`session_state`](Client::session_state), [`client_id`](Client::client_id),
//!   [`add_listener`](Client::add_listener) / [`remove_listener`](Client::remove_listener).
//!
//! Paths are absolute and checked before anything is sent ([`validate_path`]: an invalid
//! path fails with [`Error::InvalidPath`] naming the path and the rule). With a chroot, it is
//! added on the way out and removed from every path that comes back (created paths, `sync`,
//! watch events).
//!
//! # Keeping the session alive
//!
//! There is no background thread. Pings go out while the loop runs: inside any blocking
//! call, `poll_once`, `run_for`, the handler's `sleep`, or (embedded) the host's loop. A
//! thread that does other work for longer than a third of the session timeout without running
//! the loop misses its pings, and the server expires the session after the timeout. Use
//! `client.handler().sleep(d)` instead of `std::thread::sleep(d)`.
//!
//! Which waits drive which clients: clients built without a handler ([`Client::new`],
//! [`ClientBuilder::build`]) share their thread's default loop
//! ([`MioHandler::current`]), so a wait of any of them (or on that loop) drives them all:
//! a blocking call on one client sends the others' pings too. A client built on a handler of
//! its own ([`ClientBuilder::handler`] with [`MioHandler::new`]) is driven only by waits on
//! that handler's loop. An embedded client is driven by its host only.
//!
//! # Ownership: dropping the client closes the session
//!
//! A `Client` is a cheap handle; its clones share one client. When the program's last
//! handle is dropped the session is closed, as by [`stop`](Client::stop) without the
//! wait: closeSession goes out at once, after whatever was already submitted, and every
//! result still pending completes at once with an error: [`Error::ConnectionLoss`] while
//! connected (the request went out with the closeSession and may have been applied), or
//! [`Error::ConnectionClosed`] without a connection (it never left). The library's own
//! copies (a create with `makepath`, `ensure_path`, `delete_recursive`, a transaction in
//! flight) never keep the session open. The client's loop finishes the close (waits for the
//! server's answer, so that the closeSession is not lost in a reset connection, then
//! releases the socket) the next time it is driven, within the session's close deadline.
//!
//! **A watcher or a listener must not capture a `Client` clone**: it is stored in the
//! client, so the clone keeps the client alive — a cycle; the session then stays open
//! (pings and all) after the program dropped its own handles, until that callback is
//! dropped (a one-shot watcher after it ran, a listener never). Capture a [`WeakClient`]
//! ([`Client::downgrade`]) and [`upgrade`](WeakClient::upgrade) it when the callback runs.
//!
//! # States
//!
//! [`ClientState`] is kazoo's coarse state (CONNECTED / SUSPENDED / LOST), told to
//! listeners when it changes; [`Client::session_state`] is the fine-grained one. A dropped
//! connection makes the client SUSPENDED: requests in flight fail with
//! [`Error::ConnectionLoss`], new ones wait (up to `max_queued_requests`) and go out after
//! the reconnect, and **watches are kept** (re-registered with SetWatches; if the server
//! refuses that, one-shot watchers are told with an `EventType::None` event and dropped,
//! and persistent watches are re-added with `addWatch`). When the session
//! expires the client is LOST: pending requests fail with [`Error::SessionExpired`], every
//! watcher is told once with an [`EventType::None`](crate::proto::EventType::None) event,
//! and a new session follows (kazoo's behaviour) unless configured otherwise.
//!
//! # Watches and callbacks
//!
//! A one-shot watch is registered only when its request succeeds (an `exists` on a missing
//! node leaves a watch for its creation) and fires at most once; a persistent one fires
//! until removed. Watch callbacks, completion callbacks and listeners all run from the
//! loop's queue, never inside the call that triggered them, in the order the server sent
//! their triggers: a watch event is seen before the reply that reflects the change. Watch
//! callbacks run one at a time (see [`crate::handler`]).
//!
//! Watchers are [`Watcher`]s (a closure converts into a new one): the same watcher is stored
//! once per path and kind of watch however often it is registered there, and called once
//! per event, so polling a node with `get(path, &watcher)` and one watcher does not grow the watch
//! table. A blocking watch call that fails on its per-call timeout registers nothing, even
//! when the reply comes later.

// Where things live: the `Client` type here; `builder.rs` and `settings.rs` (its settings and
// their checks), `lifecycle.rs` (start, stop, state, listeners, running the loop),
// `submit.rs` (the request plumbing every operation goes through), `ops/` (the operations),
// `transaction.rs`, `watcher.rs` and `watchers.rs` (watch callbacks and their table),
// `driver/` (the session on the loop: socket, timers, pending requests, events),
// `handle.rs` (ownership), `hosts.rs` and `resolve.rs` (connect strings, paths, names),
// `security.rs` (ACL helpers), `four_letter.rs`. It may use the session, the codec's types,
// the handler and the result objects; it reaches the loop only through its handler, never
// `crate::reactor`.
mod builder;
mod driver;
mod four_letter;
mod handle;
mod hosts;
mod lifecycle;
mod ops;
mod resolve;
mod security;
mod settings;
mod submit;
mod transaction;
mod watcher;
mod watchers;

pub use crate::proto::AddWatchMode;
pub use builder::ClientBuilder;
pub use handle::WeakClient;
pub use hosts::{parse_connect_string, validate_path, ConnectString, HostPort, DEFAULT_PORT};
pub use ops::{
    CreateOptions, NodeData, NullData, ReadOp, ReadResult, WatchRegistration, WhenOffline,
};
pub use resolve::Resolver;
pub use security::{make_digest_acl, make_digest_acl_credential};
pub use transaction::{OpResult, Transaction};
pub use watcher::Watcher;
pub use watchers::WatchedEvent;

use std::rc::Rc;
use std::time::Duration;

use crate::handler::{Handler, MioHandler};
use driver::Shared;
use handle::Handle;
use submit::{detach, unexpected};

// Only the module docs' links name these here.
#[cfg(doc)]
use crate::{async_result::AsyncResult, error::Error};

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

/// A ZooKeeper client. Cheap to clone (an `Rc`); `!Send`: it lives on its loop's thread.
/// See the [module docs](self).
///
/// Dropping the last clone closes the session (see [Ownership](self#ownership-dropping-the-client-closes-the-session)).
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

impl<H: Handler> Client<H> {
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
    /// # let zk = mio_zookeeper::client::Client::new("127.0.0.1:2181")?;
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
    /// # let zk = mio_zookeeper::client::Client::new("127.0.0.1:2181")?;
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
}
