//! The cache's engine: the reads it issues (bounded, in order), what each reply and each
//! watch event does to the node store, and the events that come out, delivered in the
//! order they were produced. Everything runs from the loop; nothing here blocks.
//!
//! **Order.** The client runs reply callbacks and watch callbacks in the order the server
//! sent them, and each one is applied to the store as it comes, so the cache's events are
//! in server order (kazoo #645). Events wait in one queue that [`Inner::flush`] empties
//! with no borrow held; a listener that runs the loop or closes the cache is safe.
//!
//! **Generations.** A session loss (and `close`) starts a new generation: the replies of
//! reads issued before are ignored (the new session reads everything again).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use bytes::Bytes;

use super::queue::EventQueue;
use super::unwatch::Unwatcher;
use crate::recipe::base::{Base, Transition};
use crate::recipe::store::{join, NodeStore};
use crate::recipe::CacheEvent;
use crate::{AsyncResult, Client, Error, EventType, Handler, KeeperState, Stat};
use crate::{WatchedEvent, Watcher, WatcherType};

/// How many of the cache's reads may wait for their reply at once. The client refuses more
/// than `max_queued_requests` (10 000 by default) waiting requests; the rest wait here.
pub(super) const MAX_READS_IN_FLIGHT: usize = 1000;

/// A user's listener.
pub(super) type Listener = Rc<dyn Fn(&CacheEvent)>;

/// One read of the cache, each leaving the cache's watcher on its path.
#[derive(Debug, Clone)]
pub(super) enum Read {
    /// `get`: the node's data and stat (a data watch).
    Data(String),
    /// `exists`: the root, while it is missing (an exist watch, which tells its creation).
    Exists(String),
    /// `getChildren2` (a child watch). `all`: load every child listed (initial load, new
    /// session); otherwise only those not cached yet (their watches are in place).
    Children(String, bool),
}

impl Read {
    fn path(&self) -> &str {
        match self {
            Read::Data(p) | Read::Exists(p) | Read::Children(p, _) => p,
        }
    }

    fn kind(&self) -> WatcherType {
        match self {
            Read::Data(_) | Read::Exists(_) => WatcherType::Data,
            Read::Children(..) => WatcherType::Children,
        }
    }
}

/// What a read returned.
pub(super) enum Reply {
    Data(Option<Bytes>, Stat),
    Exists(Option<Stat>),
    Children(Vec<String>, Stat),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Made, not started.
    Idle,
    Running,
    /// Closed: for good.
    Closed,
}

/// Everything that changes, behind one `RefCell` borrowed only between callbacks.
pub(super) struct State {
    pub(super) store: NodeStore,
    pub(super) phase: Phase,
    pub(super) initialized: bool,
    /// Resolved at INITIALIZED (kept, so a second `start_async` gets it too).
    pub(super) start: Option<AsyncResult<()>>,
    generation: u64,
    /// Reads not issued yet (more than [`MAX_READS_IN_FLIGHT`] would be in flight).
    queue: VecDeque<Read>,
    /// Reads of any generation waiting for their reply.
    in_flight: usize,
    /// This generation's reads not finished: queued, in flight, waiting for a retry, or
    /// parked until the client has a session again. INITIALIZED comes when it reaches 0.
    pending: usize,
    /// Failed reads waiting for the retry timer.
    retries: Vec<Read>,
    /// Events not yet delivered, in the order the cache learned them.
    events: EventQueue,
    /// Watches a reply left on a node outside the tree (a race with its removal), to be
    /// taken off once no borrow is held.
    stray: Vec<(String, WatcherType)>,
}

impl State {
    pub(super) fn new() -> State {
        State {
            store: NodeStore::new(),
            phase: Phase::Idle,
            initialized: false,
            start: None,
            generation: 0,
            queue: VecDeque::new(),
            in_flight: 0,
            pending: 0,
            retries: Vec::new(),
            events: EventQueue::default(),
            stray: Vec::new(),
        }
    }

    fn enqueue(&mut self, read: Read) {
        self.pending += 1;
        self.queue.push_back(read);
    }

    /// Reads `path` and everything under it.
    fn load(&mut self, path: &str) {
        self.enqueue(Read::Data(path.to_owned()));
        self.enqueue(Read::Children(path.to_owned(), true));
    }

    /// Forgets this generation's reads: what is in flight will be ignored.
    fn new_generation(&mut self) {
        self.generation += 1;
        self.queue.clear();
        self.retries.clear();
        self.pending = 0;
        self.events.release_all();
    }
}

/// The parent of `path` (not the root `/`).
fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// What to do with a read that failed with `e` (not `NoNode`).
enum Failure {
    /// Try again after the backoff (the connection dropped, the queue was full).
    Retry,
    /// Wait for the next session: the new-session load reads everything again.
    Park,
    /// Give up on this read (the server refused it, such as NoAuth): it counts as done.
    Skip,
}

fn classify(e: &Error) -> Failure {
    match e {
        e if e.is_retryable() => Failure::Retry,
        Error::QueueFull { .. } => Failure::Retry,
        Error::SessionExpired | Error::ConnectionClosed | Error::AuthFailed | Error::Loop(_) => {
            Failure::Park
        }
        e if e.is_session_expired() => Failure::Park,
        _ => Failure::Skip,
    }
}

/// The cache behind its handles.
pub(super) struct Inner<H: Handler> {
    pub(super) base: Rc<Base<H>>,
    /// For results made when the client is gone.
    pub(super) handler: H,
    pub(super) root: String,
    /// The one watcher of every registration (it gets the path in the event).
    pub(super) watcher: Watcher,
    pub(super) unwatch: Rc<Unwatcher<H>>,
    pub(super) listeners: RefCell<Rc<Vec<Listener>>>,
    pub(super) st: RefCell<State>,
    dispatching: Cell<bool>,
}

/// Clears the dispatching flag even if a listener panics.
struct Dispatching<'a>(&'a Cell<bool>);

impl Drop for Dispatching<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl<H: Handler> Inner<H> {
    pub(super) fn new(client: &Client<H>, root: String) -> Rc<Inner<H>> {
        Rc::new_cyclic(|me: &Weak<Inner<H>>| {
            let me = me.clone();
            let watcher = Watcher::new(move |ev| {
                if let Some(me) = me.upgrade() {
                    me.on_watch(ev)
                }
            });
            Inner {
                base: Base::new(client),
                handler: client.handler().clone(),
                root,
                unwatch: Unwatcher::new(client.downgrade(), watcher.clone()),
                watcher,
                listeners: RefCell::new(Rc::new(Vec::new())),
                st: RefCell::new(State::new()),
                dispatching: Cell::new(false),
            }
        })
    }

    /// Starts the load (from `Idle`) and the state listener.
    pub(super) fn begin(self: &Rc<Self>) {
        {
            let mut st = self.st.borrow_mut();
            st.phase = Phase::Running;
            st.load(&self.root);
        }
        let me = Rc::downgrade(self);
        self.base.listen(move |t| {
            if let Some(me) = me.upgrade() {
                me.on_transition(t)
            }
        });
        self.pump();
    }

    /// Issues queued reads while fewer than [`MAX_READS_IN_FLIGHT`] are in flight.
    fn pump(self: &Rc<Self>) {
        let Some(client) = self.base.client() else {
            return;
        };
        loop {
            let (read, generation) = {
                let mut st = self.st.borrow_mut();
                if st.phase != Phase::Running || st.in_flight >= MAX_READS_IN_FLIGHT {
                    return;
                }
                let Some(read) = st.queue.pop_front() else {
                    return;
                };
                st.in_flight += 1;
                (read, st.generation)
            };
            self.issue(&client, read, generation);
        }
    }

    fn issue(self: &Rc<Self>, client: &Client<H>, read: Read, generation: u64) {
        let me = self.clone();
        let w = &self.watcher;
        match read {
            Read::Data(ref p) => {
                client.get_async(p, w).rawlink(move |r| {
                    let res = r.take(false, None).map(|(d, s)| Reply::Data(d, s));
                    me.replied(generation, read, res)
                });
            }
            Read::Exists(ref p) => {
                client.exists_async(p, w).rawlink(move |r| {
                    let res = r.take(false, None).map(Reply::Exists);
                    me.replied(generation, read, res)
                });
            }
            Read::Children(ref p, _) => {
                client.get_children_with_stat_async(p, w).rawlink(move |r| {
                    let res = r.take(false, None).map(|(c, s)| Reply::Children(c, s));
                    me.replied(generation, read, res)
                });
            }
        }
    }

    /// A read's reply, in the order the server sent it.
    fn replied(self: &Rc<Self>, generation: u64, read: Read, res: Result<Reply, Error>) {
        let (closed, stray) = {
            let mut st = self.st.borrow_mut();
            st.in_flight -= 1;
            if st.phase == Phase::Closed {
                (true, Vec::new())
            } else {
                if generation == st.generation {
                    self.apply(&mut st, &read, &res);
                }
                (false, std::mem::take(&mut st.stray))
            }
        };
        if closed {
            // The reply left the watcher on the path after `close` removed it from there.
            if res.is_ok() {
                self.unwatch.remove([(read.path().to_owned(), read.kind())]);
            }
            return;
        }
        if !stray.is_empty() {
            self.unwatch.remove(stray);
        }
        self.pump();
        self.flush();
    }

    fn apply(self: &Rc<Self>, st: &mut State, read: &Read, res: &Result<Reply, Error>) {
        let path = read.path();
        match (read, res) {
            (_, Err(e)) if e.is_no_node() => {
                st.pending -= 1;
                if let Read::Data(_) = read {
                    self.deleted(st, path);
                }
            }
            (_, Err(e)) => self.failed(st, read, e),
            (_, Ok(reply)) => {
                st.pending -= 1;
                self.base.succeeded();
                match (read, reply) {
                    (Read::Data(_), Reply::Data(data, stat)) => {
                        self.got_data(st, path, data.as_ref(), *stat)
                    }
                    (Read::Exists(_), Reply::Exists(Some(_))) => st.load(path),
                    (Read::Children(_, all), Reply::Children(names, stat)) => {
                        self.got_children(st, path, names, *stat, *all)
                    }
                    _ => {}
                }
            }
        }
        self.check_initialized(st);
    }

    fn failed(self: &Rc<Self>, st: &mut State, read: &Read, e: &Error) {
        let path = read.path().to_owned();
        if let Read::Data(_) = read {
            // A new node's place in the event queue is given up: waiting for a retry would
            // hold back every later event (ConnectionSuspended too). Its event comes when
            // the data does.
            st.events.fill(&path, Vec::new());
        }
        match classify(e) {
            Failure::Retry => {
                log::debug!("TreeCache: reading {path} failed ({e}); retrying");
                // One timer for all the reads a blip failed: the backoff grows once per
                // round of retries, not once per read.
                let first = st.retries.is_empty();
                st.retries.push(read.clone());
                if first {
                    let me = Rc::downgrade(self);
                    self.base.retry_later(move || {
                        if let Some(me) = me.upgrade() {
                            me.retry()
                        }
                    });
                }
            }
            Failure::Park => {
                log::debug!("TreeCache: reading {path} failed ({e}); waiting for a session")
            }
            Failure::Skip => {
                log::warn!("TreeCache: cannot read {path}: {e}; left out of the cache");
                st.pending -= 1;
            }
        }
    }

    /// The retry timer: the failed reads go out again.
    fn retry(self: &Rc<Self>) {
        {
            let mut st = self.st.borrow_mut();
            let retries = std::mem::take(&mut st.retries);
            st.queue.extend(retries);
        }
        self.pump();
    }

    fn got_data(&self, st: &mut State, path: &str, data: Option<&Bytes>, stat: Stat) {
        if path != self.root && !st.store.contains(parent(path)) {
            // Its parent left the cache: not part of the tree any more.
            st.events.fill(path, Vec::new());
            st.stray.push((path.to_owned(), WatcherType::Data));
            return;
        }
        let mut evs = Vec::new();
        if st
            .store
            .stat(path)
            .is_some_and(|old| old.czxid != stat.czxid)
        {
            // Deleted and created again between two reads: a new node, with new children.
            evs = st.store.remove(path);
            st.enqueue(Read::Children(path.to_owned(), true));
        }
        let empty = Bytes::new();
        evs.extend(st.store.put(path, data.unwrap_or(&empty), stat));
        st.events.fill(path, evs);
    }

    fn got_children(&self, st: &mut State, path: &str, names: &[String], stat: Stat, all: bool) {
        if !st.store.contains(path) {
            // Its data read found nothing: the parent's child watch tells when it is back.
            st.stray.push((path.to_owned(), WatcherType::Children));
            return;
        }
        st.store.refresh_stat(path, stat);
        let gone = st.store.retain_children(path, names);
        st.events.extend(gone);
        let mut load = if all {
            names.to_vec()
        } else {
            st.store.missing_children(path, names)
        };
        load.sort_unstable();
        for name in load {
            let child = join(path, &name);
            // Its event goes here, in the order of this reply, once its data comes; a
            // child whose load is already under way is not read twice.
            if st.events.reserve(&child) {
                st.load(&child);
            }
        }
    }

    /// `path` is gone: it leaves the cache with its subtree; the root is watched with
    /// `exists` until it comes back.
    fn deleted(&self, st: &mut State, path: &str) {
        let gone = st.store.remove(path);
        st.events.fill(path, gone);
        if path == self.root {
            st.enqueue(Read::Exists(path.to_owned()));
        }
    }

    fn check_initialized(&self, st: &mut State) {
        if st.initialized || st.pending != 0 || st.phase != Phase::Running {
            return;
        }
        st.initialized = true;
        // The load's peaks (queued reads, reserved places) are not kept.
        st.store.compact();
        st.queue.shrink_to_fit();
        st.events.shrink_to_fit();
        st.events.push(CacheEvent::Initialized);
        if let Some(r) = &st.start {
            let _ = r.set(());
        }
    }

    /// The cache's watcher fired on a path (or was told of the session).
    fn on_watch(self: &Rc<Self>, ev: WatchedEvent) {
        {
            let mut st = self.st.borrow_mut();
            let Some(path) = ev.path.as_deref() else {
                return; // the session ended: the state listener handles that
            };
            if st.phase != Phase::Running {
                return;
            }
            let cached = st.store.contains(path);
            match ev.event_type {
                EventType::NodeCreated if path == self.root => st.load(path),
                EventType::NodeDeleted => self.deleted(&mut st, path),
                EventType::NodeDataChanged if cached => st.enqueue(Read::Data(path.to_owned())),
                EventType::NodeChildrenChanged if cached => {
                    st.enqueue(Read::Children(path.to_owned(), false))
                }
                // After a reconnect the server refused to set the watch again: re-read.
                EventType::None if ev.state == KeeperState::SyncConnected && cached => {
                    st.enqueue(Read::Data(path.to_owned()));
                    st.enqueue(Read::Children(path.to_owned(), false));
                }
                EventType::None if ev.state == KeeperState::SyncConnected && path == self.root => {
                    st.load(path)
                }
                _ => {}
            }
        }
        self.pump();
        self.flush();
    }

    /// The client's state moved.
    fn on_transition(self: &Rc<Self>, t: Transition) {
        {
            let mut st = self.st.borrow_mut();
            if st.phase != Phase::Running {
                return;
            }
            match t {
                Transition::Suspended => st.events.push(CacheEvent::ConnectionSuspended),
                // The client set the watches again; the server fires those whose node
                // changed meanwhile, and failed reads are retried.
                Transition::Reconnected => st.events.push(CacheEvent::ConnectionReconnected),
                Transition::Lost => {
                    st.events.push(CacheEvent::ConnectionLost);
                    st.new_generation();
                }
                Transition::NewSession => {
                    st.events.push(CacheEvent::ConnectionReconnected);
                    st.new_generation();
                    st.load(&self.root);
                }
            }
        }
        self.pump();
        self.flush();
    }

    /// Delivers the waiting events, in order, with no borrow held. A call made while
    /// events are being delivered (from a listener) returns at once: the outer call goes on.
    pub(super) fn flush(&self) {
        if self.dispatching.replace(true) {
            return;
        }
        let _guard = Dispatching(&self.dispatching);
        loop {
            let ev = {
                let mut st = self.st.borrow_mut();
                if st.phase == Phase::Closed {
                    st.events.clear();
                }
                st.events.pop()
            };
            let Some(ev) = ev else { break };
            let listeners = self.listeners.borrow().clone();
            for l in listeners.iter() {
                l(&ev);
            }
        }
    }

    /// Stops for good: no more reads or events; the watcher leaves every path, the
    /// state listener, the retry timer and the user's listeners go. Idempotent.
    pub(super) fn close(&self) {
        let paths = {
            let mut st = self.st.borrow_mut();
            if st.phase == Phase::Closed {
                return;
            }
            let was_running = st.phase == Phase::Running;
            st.phase = Phase::Closed;
            st.new_generation();
            st.events.clear();
            let store = std::mem::take(&mut st.store);
            let mut paths = if was_running {
                store.subtree(&self.root)
            } else {
                Vec::new()
            };
            if was_running && !store.contains(&self.root) {
                paths.push(self.root.clone()); // its exists watch
            }
            if let Some(r) = &st.start {
                if !r.ready() {
                    let _ = r.set_exception(Error::ConnectionClosed);
                }
            }
            paths
        };
        self.base.stop();
        self.unwatch
            .remove(paths.into_iter().map(|p| (p, WatcherType::Any)));
        // Listeners go too: one that holds a handle of the cache no longer keeps it alive.
        let listeners = std::mem::take(&mut *self.listeners.borrow_mut());
        drop(listeners);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorCode, ZkError};

    #[test]
    fn parents() {
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a/b/c"), "/a/b");
    }

    #[test]
    fn failures_are_retried_parked_or_skipped() {
        assert!(matches!(classify(&Error::ConnectionLoss), Failure::Retry));
        assert!(matches!(
            classify(&Error::QueueFull { limit: 1 }),
            Failure::Retry
        ));
        assert!(matches!(classify(&Error::SessionExpired), Failure::Park));
        assert!(matches!(classify(&Error::ConnectionClosed), Failure::Park));
        let no_auth = Error::ZooKeeper(ZkError::new(ErrorCode::NoAuth, "/a"));
        assert!(matches!(classify(&no_auth), Failure::Skip));
    }
}
