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
pub use hosts::validate_path;
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
}
