//! [`RecursiveCache`]: a whole subtree in memory, kept current by ONE persistent recursive
//! watch (ZooKeeper 3.6+; Curator 5's `CuratorCache` idea) instead of one watch per node.
//!
//! **How it works.** `start` adds the watch first, then reads the tree, pipelined: a node's
//! `getData` first, its `getChildren` only when its stat says it has children, at most
//! [`MAX_OUTSTANDING`] reads in flight, more sent as replies come. Events (created, data
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

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use bytes::Bytes;

use super::base::{Base, Transition};
use super::cache_event::{CacheEvent, CachedNode};
use super::store::{join, NodeStore};
use crate::handler::{Handler, MioHandler};
use crate::{
    validate_path, AddWatchMode, AsyncResult, Client, Error, EventType, KeeperState, LoopError,
    Stat, WatchRegistration, WatchedEvent, Watcher, WatcherType, WhenOffline,
};

/// The most reads of one cache in flight at once (the client refuses more than
/// `max_queued_requests` waiting requests; this leaves room for everyone else).
pub(crate) const MAX_OUTSTANDING: usize = 1000;

/// What to read of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Data and stat, then the children if the stat says there are any (a node that
    /// appeared, or a pass over the whole tree).
    Node,
    /// Data and stat only (its data changed: its children are followed by events).
    Data,
    /// The child list.
    Children,
}

/// Where the cache's one persistent watch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WatchState {
    /// Not registered (not started, failed, or dropped with the session).
    None,
    /// `addWatch` sent, no reply yet.
    Adding,
    /// Registered.
    Added,
}

type Listener = Rc<dyn Fn(&CacheEvent)>;

/// The mutable part of a cache.
struct State {
    store: NodeStore,
    started: bool,
    initialized: bool,
    /// The cache may have missed something (a disconnect, a failed read): the next
    /// reconnect (or retry) reads the whole tree again.
    dirty: bool,
    watch: WatchState,
    /// Reads not sent yet (FIFO: in the order their causes arrived).
    todo: VecDeque<(Box<str>, Read)>,
    /// Reads sent and not answered.
    outstanding: usize,
    /// `start_async` results waiting for INITIALIZED.
    waiting: Vec<AsyncResult<()>>,
}

struct Shared<H: Handler> {
    base: Rc<Base<H>>,
    path: Box<str>,
    /// The cache's one watcher (its identity is what `close` removes).
    watcher: Watcher,
    state: RefCell<State>,
    listeners: RefCell<Vec<Listener>>,
    /// The `start_async` results' maker (the client's handler).
    handler: H,
    closed: Cell<bool>,
}

/// A whole subtree in memory on ONE persistent recursive watch (ZooKeeper 3.6+): the same
/// events ([`CacheEvent`]) and queries as kazoo's `TreeCache`, with a pipelined initial load
/// and one `addWatch` instead of a watch per node. It never writes: its root need not exist
/// (it appears in the cache when it is created).
///
/// A cheap handle: clones share one cache. Listeners are called on the loop, with no borrow
/// held (they may call [`close`](Self::close), the queries, or client operations). Events
/// come in the order the server sent the changes; a removed subtree is reported deepest
/// nodes first; a node is updated only when its `mzxid` moved.
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
/// cache.close();
/// assert_eq!(zk.watch_count(), 0);
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
        let shared = Rc::new_cyclic(|weak: &Weak<Shared<H>>| {
            let w = weak.clone();
            Shared {
                base: Base::new(client),
                path: path.into(),
                watcher: Watcher::new(move |ev| {
                    if let Some(s) = w.upgrade() {
                        s.on_watch(ev)
                    }
                }),
                state: RefCell::new(State {
                    store: NodeStore::new(),
                    started: false,
                    initialized: false,
                    dirty: true,
                    watch: WatchState::None,
                    todo: VecDeque::new(),
                    outstanding: 0,
                    waiting: Vec::new(),
                }),
                listeners: RefCell::new(Vec::new()),
                handler: client.handler().clone(),
                closed: Cell::new(false),
            }
        });
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
        let s = &self.shared;
        let r = s.handler.async_result();
        let Some(client) = s.base.client() else {
            let _ = r.set_exception(Error::ConnectionClosed);
            return r;
        };
        {
            let mut st = s.state.borrow_mut();
            if st.initialized {
                let _ = r.set(());
                return r;
            }
            st.waiting.push(r.clone());
            if std::mem::replace(&mut st.started, true) {
                return r;
            }
        }
        let weak = Rc::downgrade(s);
        s.base.listen(move |t| {
            if let Some(s) = weak.upgrade() {
                s.on_transition(t)
            }
        });
        s.ensure_watch(&client);
        s.resync();
        r
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

/// Whether a failed request is answered by the client's own recovery: a reconnect (same
/// session or new) re-reads everything, so nothing is retried on a timer.
fn recovered_by_reconnect(e: &Error) -> bool {
    matches!(
        e,
        Error::ConnectionLoss | Error::SessionExpired | Error::ConnectionClosed
    )
}

impl<H: Handler> Shared<H> {
    /// Registers the watch unless it is registered or on its way.
    fn ensure_watch(self: &Rc<Self>, client: &Client<H>) {
        {
            let mut st = self.state.borrow_mut();
            if st.watch != WatchState::None {
                return;
            }
            st.watch = WatchState::Adding;
        }
        let weak = Rc::downgrade(self);
        client
            .add_watch_async(&self.path, AddWatchMode::PersistentRecursive, &self.watcher)
            .rawlink(move |r| on_watch_added(&weak, r.get_nowait()));
    }

    /// Reads the whole tree again if it may be stale.
    fn resync(self: &Rc<Self>) {
        {
            let mut st = self.state.borrow_mut();
            if !st.dirty || self.base.is_stopped() {
                return;
            }
            st.dirty = false;
        }
        self.read(self.path.clone(), Read::Node);
    }

    /// Queues a read and sends what the limit allows.
    fn read(self: &Rc<Self>, path: Box<str>, what: Read) {
        self.state.borrow_mut().todo.push_back((path, what));
        self.pump();
    }

    /// Sends queued reads while fewer than [`MAX_OUTSTANDING`] are in flight.
    fn pump(self: &Rc<Self>) {
        let Some(client) = self.base.client() else {
            return;
        };
        loop {
            let next = {
                let mut st = self.state.borrow_mut();
                if st.outstanding >= MAX_OUTSTANDING {
                    return;
                }
                let Some(next) = st.todo.pop_front() else {
                    return;
                };
                st.outstanding += 1;
                next
            };
            let weak = Rc::downgrade(self);
            let (path, what) = next;
            match what {
                Read::Node | Read::Data => {
                    client.get_async(&path, None).rawlink(move |r| {
                        if let Some(s) = weak.upgrade() {
                            s.on_node(&path, what, r.get_nowait())
                        }
                    });
                }
                Read::Children => {
                    client.get_children_async(&path, None).rawlink(move |r| {
                        if let Some(s) = weak.upgrade() {
                            s.on_children(&path, r.get_nowait())
                        }
                    });
                }
            }
        }
    }

    /// A node's data and stat came back.
    fn on_node(self: &Rc<Self>, path: &str, what: Read, res: Result<(Option<Bytes>, Stat), Error>) {
        let mut events = Vec::new();
        let mut failed = None;
        {
            let mut st = self.state.borrow_mut();
            st.outstanding -= 1;
            if self.base.is_stopped() {
                return;
            }
            match res {
                Ok((data, stat)) => {
                    self.base.succeeded();
                    // Deleted and created again meanwhile: a different node.
                    if st
                        .store
                        .stat(path)
                        .is_some_and(|old| old.czxid != stat.czxid)
                    {
                        events.extend(st.store.remove(path));
                    }
                    let data = data.unwrap_or_default();
                    let ev = st.store.put(path, &data, stat);
                    let new = matches!(ev, Some(CacheEvent::NodeAdded(_)));
                    events.extend(ev);
                    if what == Read::Node || new {
                        if stat.num_children > 0 {
                            st.todo.push_back((path.into(), Read::Children));
                        } else {
                            events.extend(st.store.retain_children(path, &[]));
                        }
                    }
                }
                Err(e) if e.is_no_node() => events.extend(st.store.remove(path)),
                Err(e) => failed = Some(e),
            }
        }
        self.after_reply(path, failed, events);
    }

    /// A node's child list came back.
    fn on_children(self: &Rc<Self>, path: &str, res: Result<Vec<String>, Error>) {
        let mut events = Vec::new();
        let mut failed = None;
        {
            let mut st = self.state.borrow_mut();
            st.outstanding -= 1;
            if self.base.is_stopped() {
                return;
            }
            match res {
                // A node no longer cached was deleted meanwhile (a read of it is queued if
                // it came back).
                Ok(_) if !st.store.contains(path) => {}
                Ok(names) => {
                    self.base.succeeded();
                    events.extend(st.store.retain_children(path, &names));
                    for name in names {
                        st.todo.push_back((join(path, &name).into(), Read::Node));
                    }
                }
                Err(e) if e.is_no_node() => events.extend(st.store.remove(path)),
                Err(e) => failed = Some(e),
            }
        }
        self.after_reply(path, failed, events);
    }

    /// What follows every reply: a failure handled, more reads sent, INITIALIZED when the
    /// load is complete, the events reported.
    fn after_reply(
        self: &Rc<Self>,
        path: &str,
        failed: Option<Error>,
        mut events: Vec<CacheEvent>,
    ) {
        if let Some(e) = failed {
            if e.is_no_auth() {
                log::warn!(
                    "RecursiveCache {}: {path} not readable, left out: {e}",
                    self.path
                );
            } else {
                log::debug!("RecursiveCache {}: reading {path} failed: {e}", self.path);
                self.state.borrow_mut().dirty = true;
                if !recovered_by_reconnect(&e) {
                    self.retry_later();
                }
            }
        }
        self.pump();
        let done = {
            let mut st = self.state.borrow_mut();
            let ready = !st.initialized
                && !st.dirty
                && st.todo.is_empty()
                && st.outstanding == 0
                && st.watch == WatchState::Added;
            if ready {
                st.initialized = true;
                st.store.compact();
                events.push(CacheEvent::Initialized);
                std::mem::take(&mut st.waiting)
            } else {
                Vec::new()
            }
        };
        self.emit(events);
        for r in done {
            let _ = r.set(());
        }
    }

    /// Tries the watch and a full read again after the backoff.
    fn retry_later(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        self.base.retry_later(move || {
            let Some(s) = weak.upgrade() else { return };
            if let Some(client) = s.base.client() {
                s.ensure_watch(&client);
                s.resync();
            }
        });
    }

    /// An event of the persistent watch.
    fn on_watch(self: &Rc<Self>, ev: WatchedEvent) {
        if self.base.is_stopped() {
            return;
        }
        let path = ev.path.unwrap_or_default();
        match ev.event_type {
            EventType::NodeCreated => self.read(path.into(), Read::Node),
            EventType::NodeDataChanged => self.read(path.into(), Read::Data),
            EventType::NodeDeleted => {
                let events = self.state.borrow_mut().store.remove(&path);
                self.emit(events);
            }
            // Back on the same session: what changed meanwhile was not sent.
            EventType::None if ev.state == KeeperState::SyncConnected => {
                self.state.borrow_mut().dirty = true;
                self.resync();
            }
            // The session is gone and the client dropped the watch with it.
            EventType::None | EventType::PersistentWatchRemoved => {
                let mut st = self.state.borrow_mut();
                st.watch = WatchState::None;
                st.dirty = true;
            }
            _ => {}
        }
    }

    /// A change of the client's state.
    fn on_transition(self: &Rc<Self>, t: Transition) {
        let ev = match t {
            Transition::Suspended => {
                self.state.borrow_mut().dirty = true;
                CacheEvent::ConnectionSuspended
            }
            Transition::Lost => {
                let mut st = self.state.borrow_mut();
                st.watch = WatchState::None;
                st.dirty = true;
                CacheEvent::ConnectionLost
            }
            Transition::Reconnected | Transition::NewSession => CacheEvent::ConnectionReconnected,
        };
        self.emit(vec![ev]);
        // Back on the same session with the watch in place, the watch's "re-read" event
        // starts the pass; otherwise (a new session, or the watch never got through) the
        // watch is added again and the tree read now.
        let rewatch = match t {
            Transition::NewSession => true,
            Transition::Reconnected => self.state.borrow().watch != WatchState::Added,
            _ => false,
        };
        if rewatch {
            if let Some(client) = self.base.client() {
                self.ensure_watch(&client);
                self.resync();
            }
        }
    }

    /// Calls the listeners with `events`, no borrow held; stops if one closes the cache.
    fn emit(&self, events: Vec<CacheEvent>) {
        if events.is_empty() {
            return;
        }
        let listeners = self.listeners.borrow().clone();
        for ev in &events {
            for l in &listeners {
                if self.closed.get() {
                    return;
                }
                l(ev);
            }
        }
    }

    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        let client = self.base.stop();
        let (watch, waiting) = {
            let mut st = self.state.borrow_mut();
            st.todo.clear();
            let watch = std::mem::replace(&mut st.watch, WatchState::None);
            (watch, std::mem::take(&mut st.waiting))
        };
        // An `addWatch` still in flight is removed by its reply's callback.
        if let (Some(client), WatchState::Added) = (client, watch) {
            let _ = client.remove_watcher_async(
                &self.path,
                WatcherType::PersistentRecursive,
                &self.watcher,
                WhenOffline::RemoveLocally,
            );
        }
        for r in waiting {
            let _ = r.set_exception(Error::ConnectionClosed);
        }
    }
}

/// The reply to the cache's `addWatch`.
fn on_watch_added<H: Handler>(weak: &Weak<Shared<H>>, res: Result<WatchRegistration<H>, Error>) {
    let s = weak.upgrade();
    let live = s.as_ref().filter(|s| !s.base.is_stopped());
    match (live, res) {
        (Some(s), Ok(_)) => {
            s.state.borrow_mut().watch = WatchState::Added;
            // The load may have finished before this reply was handled.
            s.after_reply(&s.path, None, Vec::new());
        }
        // Closed (or dropped) while the watch was being added: take it away again.
        (None, Ok(reg)) => {
            let _ = reg.remove_async();
        }
        (Some(s), Err(e)) => {
            log::debug!("RecursiveCache {}: addWatch failed: {e}", s.path);
            let waiting = {
                let mut st = s.state.borrow_mut();
                st.watch = WatchState::None;
                st.dirty = true;
                // A lost connection is retried by the reconnect; a stopped client fails the
                // start (a later connect on a new session still starts the cache).
                if matches!(e, Error::ConnectionLoss | Error::SessionExpired) {
                    Vec::new()
                } else {
                    std::mem::take(&mut st.waiting)
                }
            };
            if !waiting.is_empty() {
                for r in waiting {
                    let _ = r.set_exception(e.clone());
                }
                if e.is_retryable() {
                    s.retry_later();
                }
            }
        }
        (None, Err(_)) => {}
    }
}

impl<H: Handler> Drop for Shared<H> {
    fn drop(&mut self) {
        self.close()
    }
}
