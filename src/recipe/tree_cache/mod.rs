//! [`TreeCache`]: kazoo's port of Curator's TreeCache, a whole subtree in memory kept in
//! step by one data watch and one child watch per node. The engine is in `engine.rs`, its
//! ordered event queue in `queue.rs`, the paced watch removal of `close` in `unwatch.rs`.

mod engine;
mod queue;
mod unwatch;

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use engine::{Inner, Phase};

use crate::recipe::{CacheEvent, CachedNode};
use crate::{validate_path, AsyncResult, Client, Error, Handler, MioHandler};

/// A subtree of ZooKeeper in memory (kazoo's `TreeCache`, a port of Curator's): every
/// node under a root, with its data and stat, kept up to date by one data watch and one
/// child watch per node, and events for what changes.
///
/// Listeners ([`listen`](Self::listen)) hear [`CacheEvent`]s: `NodeAdded` for each node of
/// the initial load and each new node, `NodeUpdated` when a node's `mzxid` moves (a stat
/// change alone, such as a new child, is not an update), `NodeRemoved` (a subtree deepest
/// nodes first), `ConnectionSuspended`, `ConnectionReconnected`, `ConnectionLost`, and
/// `Initialized` once the initial load is complete. Every update goes through one queue in
/// the order the server sent the replies and watch events that tell of it (kazoo's events
/// can race: kazoo #645); a new node is reported at the place of the children reply that
/// revealed it, so a node created before another node's update is reported before it.
/// One-shot watches coalesce quick changes: an update may skip intermediate values, never
/// go back to an older one.
///
/// **Differences from kazoo's.** The cache does not create its root (kazoo's `start`
/// calls `ensure_path`; a cache does not write): a missing root is watched with `exists`
/// until it appears, and `Initialized` comes once the (maybe empty) load is done. A node
/// deleted and created again between two reads is reported as removed, then added.
///
/// **How it reads.** The initial load is pipelined: the reads of many nodes go out before
/// their replies come, at most 1 000 of them waiting at once (the client refuses more than
/// `max_queued_requests`). Every registration uses one [`Watcher`](crate::Watcher), so the
/// client stores one callback for the whole cache; reads that fail on a dropped connection
/// are tried again with a backoff (100 ms doubling to 10 s).
///
/// **Connection and session.** On SUSPENDED it keeps what it has and says
/// `ConnectionSuspended`. Back on the same session, the client has set every watch again and
/// the server fires those whose node changed meanwhile, so the cache reports
/// `ConnectionReconnected` and then the changes. **On a session loss** (LOST) it keeps what
/// it has and says `ConnectionLost`; when the client is connected on a new session it says
/// `ConnectionReconnected`, reads and watches the whole tree again, and reports exactly the
/// differences (nothing when nothing changed). If the client never connects again, the
/// cache stays as it is until closed; if the last client handle is dropped, it ends
/// silently (it holds the client weakly).
///
/// **Driving.** The engine never blocks: it runs from the loop, so the cache works with
/// blocking calls, with [`Client::poll_once`], and embedded in a host's `mio::Poll` (use
/// [`start_async`](Self::start_async) there: [`start`](Self::start) blocks).
///
/// **Ownership.** `TreeCache` is a cheap handle (`Clone`); [`close`](Self::close) or
/// dropping the last handle stops the cache and removes everything it registered: its
/// watcher from every path (on the server too), its state listener, its retry timer.
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let hosts = server.connect_string();
/// use std::time::Duration;
/// use mio_zookeeper::recipe::{CacheEvent, TreeCache};
/// use mio_zookeeper::{Client, CreateMode};
///
/// let zk = Client::new(&hosts)?;
/// zk.start(None)?;
/// zk.ensure_path("/app/config", None)?;
/// zk.set("/app/config", b"v1", None)?;
///
/// let cache = TreeCache::new(&zk, "/app")?;
/// cache.listen(|ev| {
///     if let CacheEvent::NodeUpdated(node) = ev {
///         println!("{} is now {:?}", node.path, node.data);
///     }
/// });
/// cache.start(Some(Duration::from_secs(10)))?;
/// assert_eq!(cache.get_data("/app/config").unwrap().data, &b"v1"[..]);
/// assert_eq!(cache.get_children("/app").unwrap(), ["config"]);
///
/// zk.create("/app/flags", b"", CreateMode::Persistent)?;
/// zk.run_until(&|| cache.get_data("/app/flags").is_some(), Some(Duration::from_secs(10)))?;
/// assert_eq!(cache.len(), 3);
/// cache.close();
/// # zk.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TreeCache<H: Handler = MioHandler> {
    handle: Rc<Handle<H>>,
}

/// The cache's one handle that user clones share: dropping the last one closes it.
struct Handle<H: Handler>(Rc<Inner<H>>);

impl<H: Handler> Drop for Handle<H> {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl<H: Handler> TreeCache<H> {
    /// A cache of `path` and everything under it, on `client` (held weakly). Nothing is
    /// read or watched before [`start`](Self::start) or [`start_async`](Self::start_async).
    ///
    /// # Notable errors
    ///
    /// [`Error::InvalidPath`] if `path` is not a valid node path.
    pub fn new(client: &Client<H>, path: &str) -> Result<TreeCache<H>, Error> {
        validate_path(path, false)?;
        Ok(TreeCache {
            handle: Rc::new(Handle(Inner::new(client, path.to_owned()))),
        })
    }

    fn inner(&self) -> &Rc<Inner<H>> {
        &self.handle.0
    }

    /// Adds a listener (kazoo's `listen`); several may be added, each hears every event
    /// from now on, in order. A listener runs on the loop with nothing of the cache
    /// borrowed: it may read the cache, call the client, or close the cache. A listener
    /// that holds a clone of the cache keeps it running until [`close`](Self::close)
    /// (which drops the listeners).
    pub fn listen<F: Fn(&CacheEvent) + 'static>(&self, f: F) {
        Rc::make_mut(&mut *self.inner().listeners.borrow_mut()).push(Rc::new(f));
    }

    /// Starts loading the tree and watching it; the result resolves once the initial load
    /// is complete (the `Initialized` event). Calling it again returns the same result.
    /// A closed cache cannot be started again (as kazoo's): make a new one.
    ///
    /// # Notable errors
    ///
    /// (In the result.) [`Error::ConnectionClosed`] if the cache is closed (before or
    /// after it was started) or the client is gone.
    pub fn start_async(&self) -> AsyncResult<()> {
        let inner = self.inner();
        let phase = {
            let st = inner.st.borrow();
            match &st.start {
                Some(r) if st.phase != Phase::Closed => return r.clone(),
                _ => {}
            }
            st.phase
        };
        let client = match (phase, inner.base.client()) {
            (Phase::Idle, Some(c)) => c,
            _ => {
                let r = inner.handler.async_result();
                let _ = r.set_exception(Error::ConnectionClosed);
                return r;
            }
        };
        let r = client.handler().async_result();
        inner.st.borrow_mut().start = Some(r.clone());
        inner.begin();
        inner.flush();
        r
    }

    /// [`start_async`](Self::start_async), then runs the loop until the initial load is
    /// complete or `timeout` passes (`None`: no limit).
    ///
    /// # Notable errors
    ///
    /// [`Error::Timeout`] (the cache goes on loading); [`LoopError::Embedded`]
    /// (as [`Error::Loop`]) in a host's `mio::Poll`, where the loading goes on too: wait
    /// for [`start_async`](Self::start_async)'s result there; the errors of `start_async`.
    ///
    /// [`LoopError::Embedded`]: crate::LoopError::Embedded
    pub fn start(&self, timeout: Option<Duration>) -> Result<(), Error> {
        self.start_async().get(true, timeout)
    }

    /// Stops the cache for good (kazoo's `close`): no more events; its watcher leaves
    /// every path (on the server too, or only locally while disconnected), its state
    /// listener and retry timer go, and the cache is emptied. Idempotent; safe from a
    /// listener.
    pub fn close(&self) {
        self.inner().close();
    }

    /// Whether the initial load is complete (`Initialized` was sent).
    pub fn is_initialized(&self) -> bool {
        self.inner().st.borrow().initialized
    }

    /// The node at `path` (a full path, such as `/app/config`), if it is cached.
    pub fn get_data(&self, path: &str) -> Option<CachedNode> {
        self.inner().st.borrow().store.get(path)
    }

    /// The names of the children of `path` (a full path), sorted; `None` if `path` is not
    /// cached.
    pub fn get_children(&self, path: &str) -> Option<Vec<String>> {
        self.inner().st.borrow().store.children(path)
    }

    /// How many nodes are cached (the root included, when it exists).
    pub fn len(&self) -> usize {
        self.inner().st.borrow().store.len()
    }

    /// Whether no node is cached (before the load, or while the root is missing).
    pub fn is_empty(&self) -> bool {
        self.inner().st.borrow().store.is_empty()
    }

    /// The cache's root, as given to [`new`](Self::new).
    pub fn path(&self) -> &str {
        &self.inner().root
    }
}

impl<H: Handler> Clone for TreeCache<H> {
    fn clone(&self) -> Self {
        TreeCache {
            handle: self.handle.clone(),
        }
    }
}

impl<H: Handler> fmt::Debug for TreeCache<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TreeCache");
        d.field("path", &self.inner().root);
        // Never a panic from formatting, even while the engine holds its state.
        if let Ok(st) = self.inner().st.try_borrow() {
            d.field("phase", &st.phase)
                .field("initialized", &st.initialized)
                .field("nodes", &st.store.len());
        }
        d.finish()
    }
}
