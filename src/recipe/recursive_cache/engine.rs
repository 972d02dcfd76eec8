//! The engine of a [`RecursiveCache`](super::RecursiveCache): its state, the reads (sent
//! at most [`MAX_OUTSTANDING`] at a time), the watch's events and the client's transitions,
//! all applied in the order they arrive.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use bytes::Bytes;

use super::super::base::{Base, Transition};
use super::super::cache_event::CacheEvent;
use super::super::store::{join, NodeStore};
use super::batch::{Batcher, Size};
use crate::handler::Handler;
use crate::{
    AddWatchMode, AsyncResult, Client, Error, EventType, KeeperState, ReadOp, ReadResult, Stat,
    WatchRegistration, WatchedEvent, Watcher, WatcherType, WhenOffline,
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

/// A read to make: of which node, and what.
type Queued = (Box<str>, Read);

/// The mutable part of a cache.
pub(super) struct State {
    pub(super) store: NodeStore,
    started: bool,
    pub(super) initialized: bool,
    /// The cache may have missed something (a disconnect, a failed read): the next
    /// reconnect (or retry) reads the whole tree again.
    dirty: bool,
    watch: WatchState,
    /// Reads not sent yet (FIFO: in the order their causes arrived).
    todo: VecDeque<Queued>,
    /// Reads sent and not answered (a batch counts its reads).
    outstanding: usize,
    /// How reads are batched into `multiRead` requests.
    batcher: Batcher,
    /// `start_async` results waiting for INITIALIZED.
    waiting: Vec<AsyncResult<()>>,
}

pub(super) struct Shared<H: Handler> {
    pub(super) base: Rc<Base<H>>,
    pub(super) path: Box<str>,
    /// The cache's one watcher (its identity is what `close` removes).
    watcher: Watcher,
    pub(super) state: RefCell<State>,
    pub(super) listeners: RefCell<Vec<Listener>>,
    /// The `start_async` results' maker (the client's handler).
    pub(super) handler: H,
    pub(super) closed: Cell<bool>,
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
    /// A cache of `path`, not started.
    pub(super) fn new(client: &Client<H>, path: &str) -> Rc<Shared<H>> {
        Rc::new_cyclic(|weak: &Weak<Shared<H>>| {
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
                    batcher: Batcher::default(),
                    waiting: Vec::new(),
                }),
                listeners: RefCell::new(Vec::new()),
                handler: client.handler().clone(),
                closed: Cell::new(false),
            }
        })
    }

    /// Starts the cache once; the result is set at INITIALIZED.
    pub(super) fn start(self: &Rc<Self>) -> AsyncResult<()> {
        let r = self.handler.async_result();
        let Some(client) = self.base.client() else {
            let _ = r.set_exception(Error::ConnectionClosed);
            return r;
        };
        {
            let mut st = self.state.borrow_mut();
            if st.initialized {
                let _ = r.set(());
                return r;
            }
            st.waiting.push(r.clone());
            if std::mem::replace(&mut st.started, true) {
                return r;
            }
        }
        let weak = Rc::downgrade(self);
        self.base.listen(move |t| {
            if let Some(s) = weak.upgrade() {
                s.on_transition(t)
            }
        });
        self.ensure_watch(&client);
        self.resync();
        r
    }

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

    /// Sends queued reads while fewer than [`MAX_OUTSTANDING`] are in flight: several at
    /// once in one `multiRead` (see [`batch`](super::batch)), one alone as a plain read.
    fn pump(self: &Rc<Self>) {
        let Some(client) = self.base.client() else {
            return;
        };
        loop {
            let batch = {
                let mut st = self.state.borrow_mut();
                let room = MAX_OUTSTANDING.saturating_sub(st.outstanding);
                let State {
                    todo,
                    batcher,
                    store,
                    ..
                } = &mut *st;
                let batch = batcher.take(todo, room, |(path, what)| {
                    if batcher.is_alone(path) {
                        return Size::Alone;
                    }
                    match (what, store.stat(path)) {
                        (Read::Children, Some(s)) => Size::Children(count(s.num_children)),
                        (Read::Children, None) => Size::Children(0),
                        (_, Some(s)) => Size::Data(count(s.data_length)),
                        (_, None) => Size::UnknownData,
                    }
                });
                st.outstanding += batch.len();
                batch
            };
            let weak = Rc::downgrade(self);
            match <[_; 1]>::try_from(batch) {
                Ok([(path, what)]) => self.send_one(&client, weak, path, what),
                Err(batch) if batch.is_empty() => return,
                Err(batch) => {
                    let ops: Vec<ReadOp> = batch
                        .iter()
                        .map(|(path, what)| match what {
                            Read::Children => ReadOp::GetChildren(path.to_string()),
                            Read::Node | Read::Data => ReadOp::GetData(path.to_string()),
                        })
                        .collect();
                    log::trace!("RecursiveCache {}: multiRead {ops:?}", self.path);
                    client.multi_read_async(&ops).rawlink(move |r| {
                        if let Some(s) = weak.upgrade() {
                            s.on_batch(batch, r.get_nowait())
                        }
                    });
                }
            }
        }
    }

    /// Sends one read as a plain getData or getChildren.
    fn send_one(&self, client: &Client<H>, weak: Weak<Self>, path: Box<str>, what: Read) {
        match what {
            Read::Node | Read::Data => {
                client.get_async(&path, None).rawlink(move |r| {
                    if let Some(s) = weak.upgrade() {
                        let res = r.get_nowait().map(|(d, st)| ReadResult::Data(d, st));
                        s.on_replies(vec![((path, what), res)])
                    }
                });
            }
            Read::Children => {
                client.get_children_async(&path, None).rawlink(move |r| {
                    if let Some(s) = weak.upgrade() {
                        let res = r.get_nowait().map(ReadResult::Children);
                        s.on_replies(vec![((path, what), res)])
                    }
                });
            }
        }
    }

    /// The reply to a `multiRead` of `batch`: each read's result applied in order; a
    /// failure of the whole request fails every read (a refused `multiRead` sends them
    /// again, singly).
    fn on_batch(
        self: &Rc<Self>,
        batch: Vec<Queued>,
        res: Result<Vec<Result<ReadResult, Error>>, Error>,
    ) {
        let results = match res {
            Ok(results) if results.len() == batch.len() => results,
            Ok(results) => {
                let e = Error::protocol("multiRead", &format!("{} results", results.len()));
                vec![Err(e); batch.len()]
            }
            Err(e) => {
                let mut st = self.state.borrow_mut();
                let paths = batch.iter().map(|(p, _)| &**p);
                let was_on = st.batcher.enabled();
                if st.batcher.batch_failed(&e, paths) && !self.base.is_stopped() {
                    if was_on {
                        log::info!(
                            "RecursiveCache {}: the server refuses multiRead ({e}): single \
                             reads for the rest of the session",
                            self.path
                        );
                    }
                    st.outstanding -= batch.len();
                    for read in batch.into_iter().rev() {
                        st.todo.push_front(read);
                    }
                    drop(st);
                    self.after_reply(Vec::new(), Vec::new());
                    return;
                }
                vec![Err(e); batch.len()]
            }
        };
        self.on_replies(batch.into_iter().zip(results).collect());
    }

    /// Replies to the cache's reads, applied in order: a success is stored; NoNode means
    /// the node went away meanwhile (its subtree goes); other failures mark the cache for a
    /// re-read.
    fn on_replies(self: &Rc<Self>, replies: Vec<(Queued, Result<ReadResult, Error>)>) {
        let mut events = Vec::new();
        let mut failed = Vec::new();
        {
            let mut st = self.state.borrow_mut();
            st.outstanding -= replies.len();
            if self.base.is_stopped() {
                return;
            }
            for ((path, what), res) in replies {
                match res {
                    Ok(ReadResult::Data(data, stat)) if what != Read::Children => {
                        self.base.succeeded();
                        st.batcher.saw_data(&path, count(stat.data_length));
                        apply_node(&mut st, &path, what, data, stat, &mut events);
                    }
                    Ok(ReadResult::Children(names)) if what == Read::Children => {
                        self.base.succeeded();
                        st.batcher.read_done(&path);
                        apply_children(&mut st, &path, names, &mut events);
                    }
                    Ok(other) => {
                        failed.push((path, Error::protocol("multiRead", &other)));
                    }
                    Err(e) if e.is_no_node() => {
                        st.batcher.read_done(&path);
                        events.extend(st.store.remove(&path));
                    }
                    Err(e) => failed.push((path, e)),
                }
            }
        }
        self.after_reply(failed, events);
    }

    /// What follows every reply: a failure handled, more reads sent, INITIALIZED when the
    /// load is complete, the events reported.
    fn after_reply(self: &Rc<Self>, failed: Vec<(Box<str>, Error)>, mut events: Vec<CacheEvent>) {
        let mut retry = false;
        for (path, e) in failed {
            if e.is_no_auth() {
                log::warn!(
                    "RecursiveCache {}: {path} not readable, left out: {e}",
                    self.path
                );
            } else {
                log::debug!("RecursiveCache {}: reading {path} failed: {e}", self.path);
                self.state.borrow_mut().dirty = true;
                retry |= !recovered_by_reconnect(&e);
            }
        }
        if retry {
            self.retry_later();
        }
        self.pump();
        let done = {
            let mut st = self.state.borrow_mut();
            if !st.dirty && st.todo.is_empty() && st.outstanding == 0 {
                st.batcher.settled();
            }
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
            // The session is gone and the client dropped the watch with it: a new session
            // adds it again.
            EventType::None => {
                let mut st = self.state.borrow_mut();
                st.watch = WatchState::None;
                st.dirty = true;
            }
            // Someone else removed the watch (`remove_watches` on the path): add it again.
            EventType::PersistentWatchRemoved => {
                {
                    let mut st = self.state.borrow_mut();
                    st.watch = WatchState::None;
                    st.dirty = true;
                }
                self.retry_later();
            }
            _ => {}
        }
    }

    /// A change of the client's state.
    fn on_transition(self: &Rc<Self>, t: Transition) {
        // The last client handle was dropped: the cache ends silently.
        let Some(client) = self.base.client() else {
            return;
        };
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
            Transition::NewSession => {
                self.state.borrow_mut().batcher.new_session();
                CacheEvent::ConnectionReconnected
            }
            Transition::Reconnected => CacheEvent::ConnectionReconnected,
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
            self.ensure_watch(&client);
            self.resync();
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

    /// Stops the cache (idempotent): see [`RecursiveCache::close`](super::RecursiveCache::close).
    pub(super) fn close(&self) {
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
            client
                .remove_watcher_async(
                    &self.path,
                    WatcherType::PersistentRecursive,
                    &self.watcher,
                    WhenOffline::RemoveLocally,
                )
                .rawlink(log_removal);
        }
        for r in waiting {
            let _ = r.set_exception(Error::ConnectionClosed);
        }
    }
}

/// A node's data and stat came back: stored, its children read next if the read was of
/// the whole node (or the node is new).
fn apply_node(
    st: &mut State,
    path: &str,
    what: Read,
    data: Option<Bytes>,
    stat: Stat,
    events: &mut Vec<CacheEvent>,
) {
    // Deleted and created again meanwhile: a different node.
    if st
        .store
        .stat(path)
        .is_some_and(|old| old.czxid != stat.czxid)
    {
        events.extend(st.store.remove(path));
    }
    let ev = st.store.put(path, &data.unwrap_or_default(), stat);
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

/// A node's child list came back.
fn apply_children(st: &mut State, path: &str, names: Vec<String>, events: &mut Vec<CacheEvent>) {
    // A node no longer cached was deleted meanwhile (a read of it is queued if it came
    // back).
    if st.store.contains(path) {
        events.extend(st.store.retain_children(path, &names));
        for name in names {
            st.todo.push_back((join(path, &name).into(), Read::Node));
        }
    }
}

/// A count from a stat (never negative from a sane server).
fn count(n: i32) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// The outcome of the watch's removal, for the log (the watch is gone either way: the
/// server lost it with a session, or removed it).
fn log_removal(r: &AsyncResult<()>) {
    if let Err(e) = r.get_nowait() {
        log::debug!("RecursiveCache: removing the watch: {e}");
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
            s.after_reply(Vec::new(), Vec::new());
        }
        // Closed (or dropped) while the watch was being added: take it away again.
        (None, Ok(reg)) => {
            reg.remove_async().rawlink(log_removal);
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
