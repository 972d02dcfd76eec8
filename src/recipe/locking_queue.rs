//! [`LockingQueue`]: kazoo's queue whose items are locked (taken) while processed, on
//! kazoo's layout; the wait for an item is a non-blocking engine on the loop.

use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use bytes::Bytes;

use super::base::{timer_on, Base, Transition};
use super::chain::{block, block_call, then};
use super::protected::random_uuid;
use super::queue::{check_priority, count_children, entry_prefix, serving_order};
use super::{RecipeError, Retry};
use crate::handler::{Handler, MioHandler, TimerId};
use crate::{
    validate_path, AsyncResult, Client, CreateMode, Error, OpResult, WatchedEvent, Watcher,
    WatcherType, WeakClient, WhenOffline,
};

/// A distributed queue whose items are taken (locked) while processed and removed only
/// when consumed (kazoo's `LockingQueue`), on kazoo's layout so that kazoo's `LockingQueue`
/// and this one share one queue:
///
/// - an item is a persistent sequential node `path/entries/entry-<priority:03>-<sequence>`
///   holding the value;
/// - a take is an ephemeral node `path/taken/<entry name>` holding this object's id (32
///   hex digits, as kazoo's `uuid4().hex`).
///
/// [`get`](Self::get) waits for the first item (by priority, then creation order; numbers
/// compared across the signed wrap) that nobody has taken, takes it and returns its value;
/// [`consume`](Self::consume) then deletes the item and the take in one transaction,
/// [`release`](Self::release) deletes only the take (the item goes back to the queue). If
/// this client's session ends, the take goes with it and the item is served again:
/// [`holds_lock`](Self::holds_lock) tells whether the take is still ours. An object holds
/// at most one item at a time; `get` while holding returns the held item again (kazoo).
///
/// **The wait** runs on the loop (it works under [`Client::poll_once`] and embedded, with
/// [`get_async`](Self::get_async)): it watches the children of `entries` and `taken` with
/// ONE watcher (re-registering it does not add watches), re-checks after every reconnect
/// and retries failed reads with backoff. A timeout is [`Error::Timeout`] (kazoo returns
/// `None`). When a wait ends (item, timeout, failure) its watcher, state listener and
/// timers are removed: no watcher piles up across timed-out gets (kazoo's #175), and a take
/// that completes after the wait ended is deleted in the background.
///
/// Puts are not retried (kazoo's names; see [`Queue`](super::Queue)): after a
/// [`ConnectionLoss`](Error::ConnectionLoss) it is unknown whether the item was put.
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let hosts = server.connect_string();
/// use std::time::Duration;
/// use mio_zookeeper::recipe::LockingQueue;
/// use mio_zookeeper::Client;
///
/// let zk = Client::new(&hosts)?;
/// zk.start(None)?;
/// let q = LockingQueue::new(&zk, "/work")?;
/// q.put_all(&[b"one".as_slice(), b"two"], 100)?;
/// let item = q.get(Some(Duration::from_secs(10)))?;
/// assert_eq!(&item[..], b"one");
/// assert!(q.holds_lock()?);
/// assert!(q.consume()?);
/// assert_eq!(q.len()?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LockingQueue<H: Handler = MioHandler>(Rc<Inner<H>>);

struct Inner<H: Handler> {
    client: WeakClient<H>,
    handler: H,
    path: String,
    entries: String,
    taken: String,
    /// This object's id, the data of its takes.
    id: String,
    /// The item held: its entry name and value.
    holding: RefCell<Option<(String, Bytes)>>,
    /// The wait in progress, if any.
    waiting: RefCell<Option<Rc<Wait<H>>>>,
    /// `taken` and `entries` were seen to exist (kazoo's `ensured_path`).
    ensured: Rc<Cell<bool>>,
}

impl<H: Handler> LockingQueue<H> {
    /// A locking queue on `path` (`path/entries` and `path/taken` are created, as kazoo's
    /// `ensure_path`, when first needed).
    ///
    /// # Notable errors
    ///
    /// [`Error::InvalidPath`]; [`Error::BadArgument`] for the root.
    pub fn new(client: &Client<H>, path: &str) -> Result<LockingQueue<H>, Error> {
        validate_path(path, false)?;
        if path == "/" {
            return Err(Error::BadArgument(
                "a queue needs its own node, not the root".into(),
            ));
        }
        Ok(LockingQueue(Rc::new(Inner {
            client: client.downgrade(),
            handler: client.handler().clone(),
            path: path.to_string(),
            entries: format!("{path}/entries"),
            taken: format!("{path}/taken"),
            id: random_uuid().replace('-', ""),
            holding: RefCell::new(None),
            waiting: RefCell::new(None),
            ensured: Rc::new(Cell::new(false)),
        })))
    }

    /// The queue's path.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// This object's id (the data of its takes).
    pub fn id(&self) -> &str {
        &self.0.id
    }

    fn client(&self) -> Result<Client<H>, Error> {
        self.0.client()
    }

    fn failed<T: 'static>(&self, e: Error) -> AsyncResult<T> {
        self.0.failed(e)
    }

    /// Creates `path/taken` and `path/entries` if missing (once per object, as kazoo).
    fn ensure_paths(&self, client: &Client<H>) -> AsyncResult<()> {
        let out = client.handler().async_result();
        if self.0.ensured.get() {
            let _ = out.set(());
            return out;
        }
        let ensured = self.0.ensured.clone();
        let (c, entries) = (client.clone(), self.0.entries.clone());
        then(
            client.ensure_path_async(&self.0.taken, None),
            &out,
            move |r, out| {
                if let Err(e) = r {
                    return Some(Err(e));
                }
                then(c.ensure_path_async(&entries, None), out, move |r, _| {
                    ensured.set(r.is_ok());
                    Some(r)
                });
                None
            },
        );
        out
    }

    /// Puts `value` in the queue with `priority` (0 to 999, lower first); returns the
    /// entry's path.
    ///
    /// # Notable errors
    ///
    /// [`Error::BadArgument`] for a priority over 999 (nothing sent).
    pub fn put(&self, value: &[u8], priority: u32) -> Result<String, Error> {
        let c = self.client()?;
        block_call(&c, "LockingQueue::put", || self.put_async(value, priority))
    }

    /// Async form of [`put`](Self::put).
    pub fn put_async(&self, value: &[u8], priority: u32) -> AsyncResult<String> {
        let values = [value];
        let out = self.0.handler.async_result();
        then(self.put_all_async(&values, priority), &out, |r, _| {
            Some(r.and_then(|mut v| v.pop().ok_or_else(|| Error::BadArgument("no value".into()))))
        });
        out
    }

    /// Puts all `values` with `priority` in one transaction: all or none (kazoo's
    /// `put_all`). Returns the entries' paths.
    ///
    /// # Notable errors
    ///
    /// [`Error::BadArgument`] for a priority over 999 (nothing sent); the first failing
    /// operation's error.
    pub fn put_all<V: AsRef<[u8]>>(
        &self,
        values: &[V],
        priority: u32,
    ) -> Result<Vec<String>, Error> {
        let c = self.client()?;
        block_call(&c, "LockingQueue::put_all", || {
            self.put_all_async(values, priority)
        })
    }

    /// Async form of [`put_all`](Self::put_all).
    pub fn put_all_async<V: AsRef<[u8]>>(
        &self,
        values: &[V],
        priority: u32,
    ) -> AsyncResult<Vec<String>> {
        let client = match check_priority(priority).and_then(|()| self.client()) {
            Ok(c) => c,
            Err(e) => return self.failed(e),
        };
        let node = format!("{}/{}", self.0.entries, entry_prefix(priority));
        let values: Vec<Vec<u8>> = values.iter().map(|v| v.as_ref().to_vec()).collect();
        let out = client.handler().async_result();
        let c = client.clone();
        then(self.ensure_paths(&client), &out, move |r, out| {
            if let Err(e) = r {
                return Some(Err(e));
            }
            let t = values.into_iter().fold(c.transaction(), |t, v| {
                t.create(&node, v, CreateMode::PersistentSequential)
            });
            then(t.commit_async(), out, |r, _| {
                Some(r.and_then(|results| {
                    let mut paths = Vec::with_capacity(results.len());
                    for res in results {
                        match res {
                            OpResult::Create(p) => paths.push(p),
                            OpResult::Error(e) => return Err(e),
                            _ => {}
                        }
                    }
                    Ok(paths)
                }))
            });
            None
        });
        out
    }

    /// Waits for an item nobody has taken, takes it and returns its value (kazoo's
    /// `get(timeout)`); the item held already, if any. `timeout` bounds the whole wait
    /// (`None`: no limit).
    ///
    /// # Notable errors
    ///
    /// [`Error::Timeout`] (kazoo returns `None`); [`RecipeError::AlreadyAcquired`] if a
    /// get of this object is already waiting;
    /// [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded loop.
    pub fn get(&self, timeout: Option<Duration>) -> Result<Bytes, Error> {
        let c = self.client()?;
        let r = block(&c, "LockingQueue::get", None, || self.get_async(timeout));
        if r.is_err() {
            // A wait that ended on the loop's refusal is cancelled, not left running.
            if let Some(w) = self.0.waiting.borrow_mut().take() {
                Wait::finish(&w, Err(Error::Timeout));
            }
        }
        r
    }

    /// Async form of [`get`](Self::get): set to the value once an item is taken, or to
    /// [`Error::Timeout`] after `timeout`.
    pub fn get_async(&self, timeout: Option<Duration>) -> AsyncResult<Bytes> {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return self.failed(e),
        };
        if let Some((_, v)) = self.0.holding.borrow().as_ref() {
            let out = client.handler().async_result();
            let _ = out.set(v.clone());
            return out;
        }
        if self.0.waiting.borrow().is_some() {
            return self.failed(Error::Recipe(RecipeError::AlreadyAcquired {
                path: self.0.path.clone(),
            }));
        }
        let w = Wait::start(&self.0, &client, timeout);
        let out = w.out.clone();
        let ensured = self.ensure_paths(&client);
        let weak = Rc::downgrade(&w);
        ensured.rawlink(move |r| {
            let Some(w) = weak.upgrade() else { return };
            match r.take(false, None) {
                Ok(()) => Wait::check(&w),
                Err(e) if e.is_retryable() => Wait::check(&w),
                Err(e) => Wait::finish(&w, Err(e)),
            }
        });
        out
    }

    /// Whether this object holds an item and its take is still ours (kazoo's
    /// `holds_lock`: a `sync` then a read of the take).
    pub fn holds_lock(&self) -> Result<bool, Error> {
        let c = self.client()?;
        block_call(&c, "LockingQueue::holds_lock", || self.holds_lock_async())
    }

    /// Async form of [`holds_lock`](Self::holds_lock).
    pub fn holds_lock_async(&self) -> AsyncResult<bool> {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return self.failed(e),
        };
        let Some((name, _)) = self.0.holding.borrow().clone() else {
            let out = client.handler().async_result();
            let _ = out.set(false);
            return out;
        };
        let take = format!("{}/{name}", self.0.taken);
        let (c, id) = (client.clone(), self.0.id.clone());
        Retry::new().run_async(&client, move || {
            let out = c.handler().async_result();
            let (c2, take, id) = (c.clone(), take.clone(), id.clone());
            then(c.sync_async(&take), &out, move |r, out| {
                if let Err(e) = r {
                    return Some(Err(e));
                }
                then(c2.get_async(&take, None), out, move |r, _| {
                    Some(match r {
                        Ok((data, _)) => Ok(data.as_deref() == Some(id.as_bytes())),
                        Err(e) if e.is_no_node() => Ok(false),
                        Err(e) => Err(e),
                    })
                });
                None
            });
            out
        })
    }

    /// Removes the held item from the queue: deletes the entry and our take in one
    /// transaction (kazoo's `consume`). `false` if nothing is held or the take is no
    /// longer ours.
    pub fn consume(&self) -> Result<bool, Error> {
        let c = self.client()?;
        block_call(&c, "LockingQueue::consume", || self.finish_item_async(true))
    }

    /// Async form of [`consume`](Self::consume).
    pub fn consume_async(&self) -> AsyncResult<bool> {
        self.finish_item_async(true)
    }

    /// Gives the held item back to the queue: deletes our take (kazoo's `release`). `false`
    /// if nothing is held or the take is no longer ours.
    pub fn release(&self) -> Result<bool, Error> {
        let c = self.client()?;
        block_call(&c, "LockingQueue::release", || {
            self.finish_item_async(false)
        })
    }

    /// Async form of [`release`](Self::release).
    pub fn release_async(&self) -> AsyncResult<bool> {
        self.finish_item_async(false)
    }

    fn finish_item_async(&self, consume: bool) -> AsyncResult<bool> {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return self.failed(e),
        };
        let out = client.handler().async_result();
        let Some((name, _)) = self.0.holding.borrow().clone() else {
            let _ = out.set(false);
            return out;
        };
        let (c, me) = (client.clone(), Rc::downgrade(&self.0));
        then(self.holds_lock_async(), &out, move |r, out| {
            match r {
                Ok(true) => {}
                Ok(false) => {
                    if let Some(me) = me.upgrade() {
                        me.holding.borrow_mut().take();
                    }
                    return Some(Ok(false));
                }
                Err(e) => return Some(Err(e)),
            }
            let me = me.upgrade()?;
            let mut t = c.transaction();
            if consume {
                t = t.delete(&format!("{}/{name}", me.entries), None);
            }
            t = t.delete(&format!("{}/{name}", me.taken), None);
            let weak = Rc::downgrade(&me);
            then(t.commit_async(), out, move |r, _| {
                Some(r.and_then(|results| {
                    if let Some(OpResult::Error(e)) = results.into_iter().find(|r| !r.is_ok()) {
                        return Err(e);
                    }
                    if let Some(me) = weak.upgrade() {
                        me.holding.borrow_mut().take();
                    }
                    Ok(true)
                }))
            });
            None
        });
        out
    }

    /// How many items the queue holds, taken ones included (kazoo's `len`).
    pub fn len(&self) -> Result<usize, Error> {
        let c = self.client()?;
        block_call(&c, "LockingQueue::len", || self.len_async())
    }

    /// Async form of [`len`](Self::len).
    pub fn len_async(&self) -> AsyncResult<usize> {
        match self.client() {
            Ok(c) => count_children(&c, &self.0.entries),
            Err(e) => self.failed(e),
        }
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> Result<bool, Error> {
        self.len().map(|n| n == 0)
    }

    /// The value of the item held, if any (kazoo's `processing_element`).
    pub fn holding(&self) -> Option<Bytes> {
        self.0.holding.borrow().as_ref().map(|(_, v)| v.clone())
    }
}

impl<H: Handler> Inner<H> {
    fn client(&self) -> Result<Client<H>, Error> {
        self.client
            .upgrade()
            .ok_or(Error::Recipe(RecipeError::Stopped {
                what: "LockingQueue",
            }))
    }

    fn failed<T: 'static>(&self, e: Error) -> AsyncResult<T> {
        let r = self.handler.async_result();
        let _ = r.set_exception(e);
        r
    }
}

/// The two children lists a check reads (`entries`, `taken`), and whether one failed.
#[derive(Default)]
struct Lists {
    got: [Option<Vec<String>>; 2],
    failed: bool,
}

/// One wait of `get`: watches `entries` and `taken` with one watcher, checks on every
/// change and reconnect, and takes the first free item.
struct Wait<H: Handler> {
    q: Weak<Inner<H>>,
    client: WeakClient<H>,
    out: AsyncResult<Bytes>,
    watcher: RefCell<Option<Watcher>>,
    base: Rc<Base<H>>,
    timer: Cell<Option<TimerId>>,
    /// A check is running; `again` asks for one more when it ends.
    busy: Cell<bool>,
    again: Cell<bool>,
    /// Children reads with our watcher still in flight.
    reads: Cell<u32>,
    done: Cell<bool>,
}

impl<H: Handler> Wait<H> {
    fn start(q: &Rc<Inner<H>>, client: &Client<H>, timeout: Option<Duration>) -> Rc<Wait<H>> {
        let w = Rc::new(Wait {
            q: Rc::downgrade(q),
            client: client.downgrade(),
            out: client.handler().async_result(),
            watcher: RefCell::new(None),
            base: Base::new(client),
            timer: Cell::new(None),
            busy: Cell::new(false),
            again: Cell::new(false),
            reads: Cell::new(0),
            done: Cell::new(false),
        });
        let weak = Rc::downgrade(&w);
        *w.watcher.borrow_mut() = Some(Watcher::new(move |_ev: WatchedEvent| {
            if let Some(w) = weak.upgrade() {
                Wait::check(&w);
            }
        }));
        let weak = Rc::downgrade(&w);
        w.base.listen(move |t| {
            if let (Some(w), Transition::Reconnected | Transition::NewSession) = (weak.upgrade(), t)
            {
                Wait::check(&w);
            }
        });
        if let Some(t) = timeout {
            w.timer.set(timer_on(w.base.event_loop(), t, &w, |w| {
                w.timer.set(None);
                Wait::finish(w, Err(Error::Timeout));
            }));
        }
        *q.waiting.borrow_mut() = Some(w.clone());
        w
    }

    fn check(me: &Rc<Self>) {
        if me.done.get() {
            return;
        }
        if me.busy.replace(true) {
            me.again.set(true);
            return;
        }
        me.again.set(false);
        let (Some(q), Ok(client)) = (me.q.upgrade(), me.client()) else {
            return Wait::finish(
                me,
                Err(Error::Recipe(RecipeError::Stopped {
                    what: "LockingQueue",
                })),
            );
        };
        let Some(watcher) = me.watcher.borrow().clone() else {
            return;
        };
        // Both lists, then the first free entry; the first failure of the pair retries.
        let lists: Rc<RefCell<Lists>> = Rc::default();
        for (i, path) in [&q.entries, &q.taken].into_iter().enumerate() {
            me.reads.set(me.reads.get() + 1);
            let (w, lists) = (me.clone(), lists.clone());
            client.get_children_async(path, &watcher).rawlink(move |r| {
                w.reads.set(w.reads.get() - 1);
                w.unwatch_if_done();
                let res = r.take(false, None);
                if w.done.get() {
                    return;
                }
                let mut l = lists.borrow_mut();
                if l.failed {
                    return;
                }
                match res {
                    Err(e) => {
                        l.failed = true;
                        drop(l);
                        w.failed_read(e);
                    }
                    Ok(kids) => {
                        l.got[i] = Some(kids);
                        if let [Some(entries), Some(taken)] = &mut l.got {
                            let taken: HashSet<String> =
                                std::mem::take(taken).into_iter().collect();
                            let free: VecDeque<String> = serving_order(std::mem::take(entries))
                                .into_iter()
                                .filter(|e| !taken.contains(e))
                                .collect();
                            drop(l);
                            Wait::take_next(&w, free);
                        }
                    }
                }
            });
        }
    }

    fn failed_read(self: &Rc<Self>, e: Error) {
        if !e.is_retryable() && !e.is_no_node() && !e.is_session_expired() {
            return Wait::finish(self, Err(e));
        }
        // NoNode: the queue's nodes were deleted (they come back with a put); else wait
        // for the connection.
        self.busy.set(false);
        let weak = Rc::downgrade(self);
        self.base.retry_later(move || {
            if let Some(w) = weak.upgrade() {
                Wait::check(&w)
            }
        });
    }

    /// The check found nothing (more) to take: wait for a change, or check again now.
    fn idle(me: &Rc<Self>) {
        me.busy.set(false);
        me.base.succeeded();
        if me.again.get() {
            Wait::check(me);
        }
    }

    /// Tries to take the first of `free`.
    fn take_next(me: &Rc<Self>, mut free: VecDeque<String>) {
        if me.done.get() {
            return;
        }
        let (Some(q), Ok(client)) = (me.q.upgrade(), me.client()) else {
            return Wait::finish(
                me,
                Err(Error::Recipe(RecipeError::Stopped {
                    what: "LockingQueue",
                })),
            );
        };
        let Some(name) = free.pop_front() else {
            return Wait::idle(me);
        };
        let take = format!("{}/{name}", q.taken);
        let entry = format!("{}/{name}", q.entries);
        let (w, c, id) = (me.clone(), client.clone(), q.id.clone());
        client
            .create_async(&take, id.as_bytes(), CreateMode::Ephemeral)
            .rawlink(move |r| match r.take(false, None) {
                Ok(_) => Wait::read_entry(&w, &c, name, entry, free),
                // Ours already if an earlier create's reply was lost: check the data.
                Err(e) if e.is_node_exists() => {
                    let (w2, c2) = (w.clone(), c.clone());
                    c.get_async(&take, None)
                        .rawlink(move |r| match r.take(false, None) {
                            Ok((data, stat))
                                if data.as_deref() == Some(id.as_bytes())
                                    && c2.client_id().map(|s| s.0)
                                        == Some(stat.ephemeral_owner) =>
                            {
                                Wait::read_entry(&w2, &c2, name, entry, free)
                            }
                            Ok(_) => Wait::take_next(&w2, free),
                            Err(e) if e.is_no_node() => Wait::take_next(&w2, free),
                            Err(e) => {
                                cleanup_take(&c2, &take, &id);
                                w2.failed_read(e)
                            }
                        });
                }
                // The entry was consumed meanwhile, or the queue's nodes are gone.
                Err(e) if e.is_no_node() => Wait::take_next(&w, free),
                Err(e) => {
                    // The create may have been applied: the take is deleted if it is ours.
                    cleanup_take(&c, &take, &id);
                    w.failed_read(e)
                }
            });
    }

    /// Our take of `name` exists: read the entry's value, or give the take back if the
    /// entry is gone.
    fn read_entry(
        me: &Rc<Self>,
        client: &Client<H>,
        name: String,
        entry: String,
        free: VecDeque<String>,
    ) {
        let (w, c) = (me.clone(), client.clone());
        client.get_async(&entry, None).rawlink(move |r| {
            let q = w.q.upgrade();
            let take = q
                .as_ref()
                .map(|q| format!("{}/{name}", q.taken))
                .unwrap_or_default();
            let id = q.as_ref().map(|q| q.id.clone()).unwrap_or_default();
            match r.take(false, None) {
                Ok((data, _)) if !w.done.get() => {
                    let value = data.unwrap_or_default();
                    if let Some(q) = &q {
                        *q.holding.borrow_mut() = Some((name, value.clone()));
                    }
                    Wait::finish(&w, Ok(value));
                }
                // The wait ended meanwhile (timeout): the take is not wanted.
                Ok(_) => cleanup_take(&c, &take, &id),
                Err(e) if e.is_no_node() => {
                    cleanup_take(&c, &take, &id);
                    Wait::take_next(&w, free)
                }
                Err(e) => {
                    cleanup_take(&c, &take, &id);
                    w.failed_read(e)
                }
            }
        });
    }

    fn finish(me: &Rc<Self>, res: Result<Bytes, Error>) {
        if me.done.replace(true) {
            return;
        }
        if let Some(id) = me.timer.take() {
            me.base.event_loop().cancel_timer(id);
        }
        me.base.stop();
        if let Some(q) = me.q.upgrade() {
            let mut waiting = q.waiting.borrow_mut();
            if waiting.as_ref().is_some_and(|w| Rc::ptr_eq(w, me)) {
                waiting.take();
            }
        }
        me.unwatch_if_done();
        let _ = me.out.set_result(res);
    }

    /// Once done and no read with our watcher is in flight, removes the watcher from both
    /// paths (on the server too).
    fn unwatch_if_done(&self) {
        if !self.done.get() || self.reads.get() > 0 {
            return;
        }
        let Some(watcher) = self.watcher.borrow_mut().take() else {
            return;
        };
        let (Some(q), Ok(client)) = (self.q.upgrade(), self.client()) else {
            return;
        };
        for path in [&q.entries, &q.taken] {
            // NoWatcher (it fired, or the session dropped it) is fine.
            drop(client.remove_watcher_async(
                path,
                WatcherType::Children,
                &watcher,
                WhenOffline::RemoveLocally,
            ));
        }
    }

    fn client(&self) -> Result<Client<H>, Error> {
        self.client
            .upgrade()
            .ok_or(Error::Recipe(RecipeError::Stopped {
                what: "LockingQueue",
            }))
    }
}

/// Deletes the take `take` in the background if it holds `id` (ours), until that succeeds
/// or the session is gone (with it the ephemeral take).
fn cleanup_take<H: Handler>(client: &Client<H>, take: &str, id: &str) {
    let (c, take, id) = (client.clone(), take.to_string(), id.to_string());
    drop(Retry::new().run_async(client, move || {
        let out = c.handler().async_result::<()>();
        let (c2, take2) = (c.clone(), take.clone());
        let id = id.clone();
        then(c.get_async(&take, None), &out, move |r, out| match r {
            Ok((data, stat)) if data.as_deref() == Some(id.as_bytes()) => {
                then(c2.delete_async(&take2, Some(stat.version)), out, |r, _| {
                    Some(match r {
                        Err(e) if e.is_no_node() || e.is_bad_version() => Ok(()),
                        other => other,
                    })
                });
                None
            }
            Ok(_) => Some(Ok(())),
            Err(e) if e.is_no_node() => Some(Ok(())),
            Err(e) => Some(Err(e)),
        });
        out
    }));
}

impl<H: Handler> Clone for LockingQueue<H> {
    fn clone(&self) -> Self {
        LockingQueue(self.0.clone())
    }
}

impl<H: Handler> fmt::Debug for LockingQueue<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockingQueue")
            .field("path", &self.0.path)
            .field("id", &self.0.id)
            .field("holding", &self.0.holding.borrow().as_ref().map(|h| &h.0))
            .field("waiting", &self.0.waiting.borrow().is_some())
            .finish()
    }
}
