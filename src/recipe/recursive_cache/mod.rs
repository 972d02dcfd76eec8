//! [`RecursiveCache`]: a whole subtree in memory, kept current by ONE persistent recursive
//! watch (ZooKeeper 3.6+; Curator 5's `CuratorCache` idea) instead of one watch per node.
//!
//! **How it works.** `start` adds the watch first, then reads the tree, pipelined: a node's
//! `getData` first, its `getChildren` only when its stat says it has children, at most
//! [`MAX_OUTSTANDING`] reads in flight, more sent as replies come. Reads queued together go
//! out in one `multiRead` of up to 128 reads (`batch.rs`: what that buys, the limits on a
//! batch's size, the fallback to single reads); a read alone goes as a plain read. A
//! batch's reply is applied read by read, in order, when it arrives, like the replies of
//! that many single reads. Events (created, data
//! changed, deleted: a recursive watch never sends children-changed) and replies are
//! handled in the order they arrive, which is the order the server sent them on the one
//! connection: a reply reflects every event before it, so applying both in that order
//! converges on the server's tree. A reply of NoNode means the node went away meanwhile.
//!
//! After a reconnect the server re-adds the watch but does not replay what changed while
//! the client was away: the cache reads the whole tree again (every node read in that pass
//! is kept, children missing from a fresh child list are removed), and the store reports
//! only what differs. The reads of one pass and the events in between need no marks: each
//! reply is applied in arrival order like any other.

mod batch;
mod engine;

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use self::engine::Shared;
use super::cache_event::{CacheEvent, CachedNode};
use crate::handler::{Handler, MioHandler};
use crate::{validate_path, AsyncResult, Client, Error, LoopError};

/// A whole subtree in memory on ONE persistent recursive watch (ZooKeeper 3.6+): the same
/// events ([`CacheEvent`]) and queries as kazoo's `TreeCache`, with a pipelined initial load
/// and one `addWatch` instead of a watch per node. It never writes: its root need not exist
/// (it appears in the cache when it is created).
///
/// A cheap handle: clones share one cache. Listeners are called on the loop, with no borrow
/// held (they may call [`close`](Self::close), the queries, or client operations). Events
/// come in the order the server sent the changes; a removed subtree is reported deepest
/// nodes first; a node is updated only when its `mzxid` moved. Several quick changes to a
/// node may be reported as one (a read shows the latest data).
///
/// **Stats.** A node's stat is as of its last read. A recursive watch reports no child
/// changes, so a parent's `cversion`, `num_children` and `pzxid` may lag behind (its
/// children are current: [`get_children`](Self::get_children) answers from the cache);
/// unlike `TreeCache`, which re-reads a parent on each child change.
///
/// **Reconnects.** On SUSPENDED the cache reports [`CacheEvent::ConnectionSuspended`] and
/// keeps what it has. Back on the same session it reports
/// [`CacheEvent::ConnectionReconnected`], reads the whole tree again (the server does not
/// replay what changed meanwhile) and reports exactly the differences.
///
/// **LOST policy.** On a session loss the cache reports [`CacheEvent::ConnectionLost`] and
/// keeps running with what it has. When the client is connected on a new session it
/// reports [`CacheEvent::ConnectionReconnected`], adds its watch again, reads the whole tree
/// and reports exactly the differences (no event when nothing changed). If the client never
/// connects again the cache stays idle until closed; once the last client handle is
/// dropped it ends silently (it holds the client weakly).
///
/// [`close`](Self::close) removes everything the cache registered (its watch, on the server
/// too, its state listener and its timer); dropping every handle closes it too.
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let hosts = server.connect_string();
/// use std::time::Duration;
/// use mio_zookeeper::recipe::{CacheEvent, RecursiveCache};
/// use mio_zookeeper::{Client, CreateOptions};
///
/// let zk = Client::new(&hosts)?;
/// zk.start(None)?;
/// zk.create("/app/db", b"primary", CreateOptions::default().with_makepath())?;
/// let cache = RecursiveCache::new(&zk, "/app")?;
/// cache.listen(|ev| {
///     if let CacheEvent::NodeUpdated(n) = ev {
///         println!("{} is now {:?}", n.path, n.data);
///     }
/// });
/// cache.start(Some(Duration::from_secs(10)))?; // returns once the tree is loaded
/// assert_eq!(cache.get_children("/app"), Some(vec!["db".to_string()]));
/// zk.set("/app/db", b"replica", None)?;
/// zk.run_until(&|| cache.get_data("/app/db").unwrap().data == "replica", None)?;
/// cache.close(); // the watch's removal goes to the server, answered on the loop
/// zk.run_until(&|| zk.watch_count() == 0, None)?;
/// # zk.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RecursiveCache<H: Handler = MioHandler> {
    shared: Rc<Shared<H>>,
}

impl<H: Handler> Clone for RecursiveCache<H> {
    fn clone(&self) -> Self {
        RecursiveCache {
            shared: self.shared.clone(),
        }
    }
}

impl<H: Handler> fmt::Debug for RecursiveCache<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RecursiveCache");
        d.field("path", &self.shared.path);
        if let Ok(st) = self.shared.state.try_borrow() {
            d.field("nodes", &st.store.len())
                .field("initialized", &st.initialized);
        }
        d.field("closed", &self.shared.closed.get()).finish()
    }
}

impl<H: Handler> RecursiveCache<H> {
    /// A cache of `path` and everything under it (relative to the client's chroot). The
    /// path is checked; nothing is sent before [`start`](Self::start).
    ///
    /// # Notable errors
    ///
    /// [`Error::InvalidPath`] for a path ZooKeeper would refuse.
    pub fn new(client: &Client<H>, path: &str) -> Result<RecursiveCache<H>, Error> {
        validate_path(path, false)?;
        let shared = Shared::new(client, path);
        Ok(RecursiveCache { shared })
    }

    /// Adds a listener, called on the loop with every [`CacheEvent`] from now on (the
    /// initial load reports each node as [`CacheEvent::NodeAdded`], then
    /// [`CacheEvent::Initialized`]).
    pub fn listen<F: Fn(&CacheEvent) + 'static>(&self, f: F) {
        self.shared.listeners.borrow_mut().push(Rc::new(f));
    }

    /// Starts the cache: adds the watch and loads the tree. The result is set once the
    /// initial load completed ([`CacheEvent::Initialized`]); the cache follows the tree
    /// from then on. Starting again returns a result for the same moment.
    ///
    /// # Notable errors
    ///
    /// In the result: [`Error::ConnectionClosed`] when the cache was closed (or closed
    /// before it was loaded) or the client is gone; the error of `addWatch` when the
    /// server refused it (such as `Unimplemented` before ZooKeeper 3.6).
    pub fn start_async(&self) -> AsyncResult<()> {
        self.shared.start()
    }

    /// Starts the cache and runs the loop until the initial load completed, at most
    /// `timeout` (`None`: no limit). On a timeout the cache keeps loading.
    ///
    /// # Notable errors
    ///
    /// Those of [`start_async`](Self::start_async); [`Error::Timeout`];
    /// [`LoopError::Embedded`] (as [`Error::Loop`]) when a host drives the loop: nothing is
    /// started then, call [`start_async`](Self::start_async).
    pub fn start(&self, timeout: Option<Duration>) -> Result<(), Error> {
        if self.shared.handler.is_embedded() {
            return Err(Error::Loop(LoopError::Embedded {
                what: "RecursiveCache::start",
            }));
        }
        self.start_async().get(true, timeout)
    }

    /// Stops the cache: removes its watch (on the server too; at once on this side when
    /// offline), its state listener and its retry timer; no more events. The cached nodes
    /// stay readable. Idempotent.
    pub fn close(&self) {
        self.shared.close()
    }

    /// Whether the initial load completed.
    pub fn is_initialized(&self) -> bool {
        self.shared.state.borrow().initialized
    }

    /// The cached node at `path` (a full path, such as `/app/db`).
    pub fn get_data(&self, path: &str) -> Option<CachedNode> {
        self.shared.state.borrow().store.get(path)
    }

    /// The names of the cached children of `path`, sorted; `None` when `path` is not
    /// cached.
    pub fn get_children(&self, path: &str) -> Option<Vec<String>> {
        self.shared.state.borrow().store.children(path)
    }

    /// How many nodes are cached (the root included, when it exists).
    pub fn len(&self) -> usize {
        self.shared.state.borrow().store.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.shared.state.borrow().store.is_empty()
    }

    /// The cached subtree's root.
    pub fn path(&self) -> &str {
        &self.shared.path
    }
}
