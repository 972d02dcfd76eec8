//! The semaphore's engine on the loop: one acquire attempt (the `path` node and its
//! `max_leases`, our lease if we have one, the internal lock, count and create under it,
//! wait for a change), the hold (our lease node and the session), and background deletes.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use bytes::Bytes;
use log::debug;

use crate::handler::{EventLoop, Handler, TimerId};
use crate::recipe::base::{timer_on, Backoff, Base, Transition};
use crate::recipe::lock::Lock;
use crate::recipe::RecipeError;
use crate::{
    AsyncResult, Client, CreateMode, Error, EventType, WatchedEvent, Watcher, WatcherType,
    WeakClient, WhenOffline,
};

const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

pub(super) enum Phase<H: Handler> {
    Idle,
    Acquiring(Rc<Attempt<H>>),
    Held(Rc<Attempt<H>>),
}

type LostFn = Rc<dyn Fn(&RecipeError)>;

/// The state of one semaphore object (shared by its clones).
pub(super) struct Shared<H: Handler> {
    pub(super) client: WeakClient<H>,
    pub(super) handler: H,
    pub(super) path: String,
    /// `path + "-__lock__"`: kazoo's internal lock, a sibling of `path`.
    pub(super) lock_path: String,
    /// `path/<uuid hex>`: our lease node, one name per object.
    pub(super) lease: String,
    pub(super) identifier: String,
    pub(super) data: Bytes,
    pub(super) max_leases: u32,
    /// The `path` node is known to exist with our `max_leases` (kazoo's `assured_path`).
    pub(super) assured: Cell<bool>,
    pub(super) phase: RefCell<Phase<H>>,
    pub(super) lost_fns: RefCell<Vec<LostFn>>,
}

impl<H: Handler> Shared<H> {
    pub(super) fn failed<T: 'static>(&self, e: Error) -> AsyncResult<T> {
        let r = self.handler.async_result();
        let _ = r.set_exception(e);
        r
    }

    pub(super) fn is_held(&self) -> bool {
        matches!(&*self.phase.borrow(), Phase::Held(_))
    }

    /// Starts an acquire; resolves to whether a lease is ours.
    pub(super) fn acquire(
        self: &Rc<Self>,
        blocking: bool,
        timeout: Option<Duration>,
    ) -> AsyncResult<bool> {
        if !matches!(&*self.phase.borrow(), Phase::Idle) {
            return self.failed(Error::Recipe(RecipeError::AlreadyAcquired {
                path: self.path.clone(),
            }));
        }
        let Some(client) = self.client.upgrade() else {
            return self.failed(Error::Recipe(RecipeError::Stopped { what: "Semaphore" }));
        };
        let lp = client.handler().event_loop();
        let out: AsyncResult<bool> = client.handler().async_result();
        let a = Rc::new_cyclic(|weak: &Weak<Attempt<H>>| {
            let w = weak.clone();
            Attempt {
                sem: self.clone(),
                client: client.downgrade(),
                lp: lp.clone(),
                out: out.clone(),
                blocking,
                base: Base::new(&client),
                deadline: Cell::new(None),
                lock: RefCell::new(None),
                watcher: Watcher::new(move |ev| {
                    if let Some(a) = w.upgrade() {
                        a.event(ev);
                    }
                }),
                watching: RefCell::new(Vec::new()),
                generation: Cell::new(0),
                waiting: Cell::new(false),
                changed: Cell::new(false),
                created: Cell::new(false),
                owner: Cell::new(0),
                retry: Backoff::new(lp.clone(), BACKOFF_FIRST, BACKOFF_MAX),
                done: Cell::new(false),
                lost_told: Cell::new(false),
            }
        });
        *self.phase.borrow_mut() = Phase::Acquiring(a.clone());
        if let Some(t) = timeout {
            a.deadline.set(timer_on(&lp, t, &a, |a| {
                a.deadline.set(None);
                a.settle(Err(Error::Timeout));
            }));
        }
        let weak = Rc::downgrade(&a);
        a.base.listen(move |t| {
            if let Some(a) = weak.upgrade() {
                a.transition(t);
            }
        });
        a.assure(0);
        out
    }

    pub(super) fn cancel(&self) {
        let a = match &*self.phase.borrow() {
            Phase::Acquiring(a) => a.clone(),
            _ => return,
        };
        a.settle(Err(Error::Recipe(RecipeError::Cancelled {
            path: self.path.clone(),
        })));
    }

    pub(super) fn release(self: &Rc<Self>) -> AsyncResult<()> {
        let r = self.handler.async_result();
        let phase = std::mem::replace(&mut *self.phase.borrow_mut(), Phase::Idle);
        match phase {
            Phase::Idle => {
                let _ = r.set(());
            }
            Phase::Acquiring(a) => {
                *self.phase.borrow_mut() = Phase::Acquiring(a);
                self.cancel();
                let _ = r.set(());
            }
            Phase::Held(a) => {
                a.teardown();
                delete_until_gone(
                    &a.client,
                    &a.lp,
                    self.lease.clone(),
                    a.owner.get(),
                    Some(r.clone()),
                );
            }
        }
        r
    }

    fn lost(&self, a: &Rc<Attempt<H>>, why: &'static str) {
        if a.lost_told.replace(true) {
            return;
        }
        {
            let mut p = self.phase.borrow_mut();
            match &*p {
                Phase::Held(h) if Rc::ptr_eq(h, a) => *p = Phase::Idle,
                _ => return,
            }
        }
        a.teardown();
        debug!("semaphore {} lost: {why}", self.path);
        let err = RecipeError::Lost {
            path: self.path.clone(),
            why,
        };
        let fns: Vec<LostFn> = self.lost_fns.borrow().clone();
        for f in fns {
            f(&err);
        }
    }
}

/// One acquire, and then the hold it won.
pub(super) struct Attempt<H: Handler> {
    sem: Rc<Shared<H>>,
    client: WeakClient<H>,
    lp: Rc<dyn EventLoop>,
    out: AsyncResult<bool>,
    blocking: bool,
    base: Rc<Base<H>>,
    deadline: Cell<Option<TimerId>>,
    /// The internal lock of this try (a new one after a session loss).
    lock: RefCell<Option<Lock<H>>>,
    watcher: Watcher,
    /// (path, kind) of the watches set with `watcher` and not yet fired.
    watching: RefCell<Vec<(String, WatcherType)>>,
    /// Bumped at each session loss and new session: older replies are ignored.
    generation: Cell<u64>,
    /// Holding the internal lock, waiting for the lease children to change.
    waiting: Cell<bool>,
    /// The lease children changed (or a reconnect) while a count was in flight.
    changed: Cell<bool>,
    /// Our lease may exist (a create was sent).
    created: Cell<bool>,
    /// The session that created our lease.
    owner: Cell<i64>,
    retry: Backoff,
    done: Cell<bool>,
    lost_told: Cell<bool>,
}

impl<H: Handler> Attempt<H> {
    fn live(&self, generation: u64) -> bool {
        !self.done.get() && self.generation.get() == generation
    }

    fn held(&self) -> bool {
        matches!(&*self.sem.phase.borrow(), Phase::Held(a) if std::ptr::eq(&**a, self))
    }

    fn client(self: &Rc<Self>) -> Option<Client<H>> {
        let c = self.client.upgrade();
        if c.is_none() {
            self.settle(Err(Error::Recipe(RecipeError::Stopped {
                what: "Semaphore",
            })));
        }
        c
    }

    /// A failed step: transient errors try `step` again after a backoff (in the same
    /// generation), others end the acquire.
    fn transient(self: &Rc<Self>, g: u64, e: Error, step: fn(&Rc<Self>, u64)) {
        if !self.live(g) {
            return;
        }
        if e.is_retryable() || e.is_session_expired() {
            debug!("semaphore {}: {e}; trying again", self.sem.path);
            let a = self.clone();
            self.retry.later(move || {
                if a.live(g) {
                    step(&a, g)
                }
            });
        } else {
            self.settle(Err(e));
        }
    }

    /// The `path` node: created with `max_leases` (kazoo: `ensure_path` then `set`), or
    /// checked against it when it exists.
    fn assure(self: &Rc<Self>, g: u64) {
        if self.sem.assured.get() {
            return self.have_lease(g);
        }
        let Some(client) = self.client() else { return };
        let parent = match self.sem.path.rfind('/') {
            Some(0) | None => "/".to_string(),
            Some(i) => self.sem.path[..i].to_string(),
        };
        let a = self.clone();
        let c = client.clone();
        let parents = if parent == "/" {
            let r = client.handler().async_result();
            let _ = r.set(());
            r
        } else {
            client.ensure_path_async(&parent, None)
        };
        parents.rawlink(move |r| {
            if let Err(e) = r.get_nowait() {
                return a.transient(g, e, Self::assure);
            }
            if !a.live(g) {
                return;
            }
            let value = a.sem.max_leases.to_string();
            let b = a.clone();
            c.create_async(&a.sem.path, value.into_bytes(), CreateMode::Persistent)
                .rawlink(move |r| match r.get_nowait() {
                    Ok(_) => {
                        b.sem.assured.set(true);
                        b.have_lease(g)
                    }
                    Err(e) if e.is_node_exists() => b.check_max(g),
                    Err(e) => b.transient(g, e, Self::assure),
                });
        });
    }

    /// The `path` node existed: its data must be our `max_leases` if it is a number.
    fn check_max(self: &Rc<Self>, g: u64) {
        let Some(client) = self.client() else { return };
        let a = self.clone();
        client
            .get_async(&self.sem.path, None)
            .rawlink(move |r| match r.get_nowait() {
                Ok((data, _)) => {
                    if !a.live(g) {
                        return;
                    }
                    let text = String::from_utf8_lossy(&data.unwrap_or_default()).into_owned();
                    match text.trim().parse::<i64>() {
                        Ok(n) if n != i64::from(a.sem.max_leases) => {
                            a.settle(Err(Error::Recipe(RecipeError::MaxLeasesMismatch {
                                path: a.sem.path.clone(),
                                ours: a.sem.max_leases,
                                theirs: n.clamp(0, i64::from(u32::MAX)) as u32,
                            })))
                        }
                        _ => {
                            a.sem.assured.set(true);
                            a.have_lease(g)
                        }
                    }
                }
                Err(e) if e.is_no_node() => a.transient(g, Error::ConnectionLoss, Self::assure),
                Err(e) => a.transient(g, e, Self::check_max),
            });
    }

    /// kazoo: "Do we already have a lease?" (our fixed name makes a retry idempotent).
    fn have_lease(self: &Rc<Self>, g: u64) {
        let Some(client) = self.client() else { return };
        let a = self.clone();
        let c = client.clone();
        client
            .exists_async(&self.sem.lease, None)
            .rawlink(move |r| match r.get_nowait() {
                // Our name, left by our expired session and not yet removed by the
                // server: not a lease of this session. Look again shortly.
                Ok(Some(stat)) if a.live(g) && !session_owns(&c, stat.ephemeral_owner) => {
                    a.transient(g, Error::ConnectionLoss, Self::have_lease)
                }
                Ok(Some(stat)) if a.live(g) => {
                    a.created.set(true);
                    a.owner.set(stat.ephemeral_owner);
                    a.settle(Ok(true))
                }
                Ok(Some(_)) => {}
                Ok(None) if a.live(g) => a.take_lock(g),
                Ok(None) => {}
                Err(e) => a.transient(g, e, Self::have_lease),
            });
    }

    /// Takes the internal lock (a kazoo `Lock` at `path-__lock__`).
    fn take_lock(self: &Rc<Self>, g: u64) {
        let Some(client) = self.client() else { return };
        let lock = match Lock::new(&client, &self.sem.lock_path, &self.sem.identifier) {
            Ok(l) => l,
            Err(e) => return self.settle(Err(e)),
        };
        if let Some(old) = self.lock.replace(Some(lock.clone())) {
            drop(old.release_async());
        }
        let a = self.clone();
        let l = lock.clone();
        if self.blocking {
            lock.acquire_async(None)
                .rawlink(move |r| match r.get_nowait() {
                    Ok(()) if a.live(g) => a.count(g),
                    Ok(()) => {}
                    Err(e) => a.lock_failed(g, &l, e),
                });
        } else {
            lock.try_acquire_async()
                .rawlink(move |r| match r.get_nowait() {
                    Ok(true) if a.live(g) => a.count(g),
                    Ok(false) if a.live(g) => a.settle(Ok(false)),
                    Ok(_) => {}
                    Err(e) => a.lock_failed(g, &l, e),
                });
        }
    }

    /// The acquire of `lock` failed. Only if it is still this attempt's internal lock is
    /// it released and the step tried again: a lock replaced or released meanwhile (its
    /// failure is then our own cancel) says nothing of the current one.
    fn lock_failed(self: &Rc<Self>, g: u64, lock: &Lock<H>, e: Error) {
        let current = self.lock.borrow().as_ref().is_some_and(|l| l.same(lock));
        if !current {
            return;
        }
        if let Some(l) = self.lock.borrow_mut().take() {
            drop(l.release_async());
        }
        self.transient(g, e, Self::take_lock);
    }

    /// Under the internal lock: list the leases (watching them when blocking), create
    /// ours if one is free, then `exists` decides (kazoo's `_get_lease`).
    fn count(self: &Rc<Self>, g: u64) {
        let Some(client) = self.client() else { return };
        self.changed.set(false);
        let watch = if self.blocking {
            self.note_watch(&self.sem.path, WatcherType::Children);
            Some(self.watcher.clone())
        } else {
            None
        };
        let a = self.clone();
        let c = client.clone();
        client
            .get_children_async(&self.sem.path, watch)
            .rawlink(move |r| match r.get_nowait() {
                Ok(children) if a.live(g) => {
                    if children.len() < a.sem.max_leases as usize {
                        a.created.set(true);
                        a.owner.set(c.client_id().map_or(0, |(id, _)| id));
                        let b = a.clone();
                        c.create_async(&a.sem.lease, a.sem.data.clone(), CreateMode::Ephemeral)
                            .rawlink(move |r| match r.get_nowait() {
                                Ok(_) => b.decide(g),
                                Err(e) if e.is_node_exists() => b.decide(g),
                                Err(e) => b.transient(g, e, Self::count),
                            });
                    } else {
                        a.decide(g)
                    }
                }
                // Settled while the list was in flight: its watch was registered only
                // now, after the removal at the settle found nothing to remove.
                Ok(_) if a.blocking && a.done.get() => {
                    a.unwatch(&a.sem.path, WatcherType::Children)
                }
                Ok(_) => {}
                Err(e) => a.transient(g, e, Self::count),
            });
    }

    fn decide(self: &Rc<Self>, g: u64) {
        let Some(client) = self.client() else { return };
        let a = self.clone();
        let c = client.clone();
        client
            .exists_async(&self.sem.lease, None)
            .rawlink(move |r| match r.get_nowait() {
                Ok(Some(stat)) if a.live(g) && !session_owns(&c, stat.ephemeral_owner) => {
                    a.transient(g, Error::ConnectionLoss, Self::count)
                }
                Ok(Some(stat)) if a.live(g) => {
                    a.owner.set(stat.ephemeral_owner);
                    a.settle(Ok(true))
                }
                Ok(None) if a.live(g) => {
                    if a.blocking && a.changed.replace(false) {
                        // A change came while we counted: count again.
                        a.count(g)
                    } else if a.blocking {
                        // Full: wait for the watched children (or a reconnect) to change.
                        a.waiting.set(true);
                    } else {
                        a.settle(Ok(false))
                    }
                }
                Ok(_) => {}
                Err(e) => a.transient(g, e, Self::count),
            });
    }

    fn note_watch(&self, path: &str, kind: WatcherType) {
        let mut w = self.watching.borrow_mut();
        if !w.iter().any(|(p, k)| p == path && *k == kind) {
            w.push((path.to_string(), kind));
        }
    }

    fn event(self: &Rc<Self>, ev: WatchedEvent) {
        let Some(path) = ev.path.clone() else { return };
        let kind = match ev.event_type {
            EventType::NodeChildrenChanged => WatcherType::Children,
            EventType::NodeDeleted | EventType::NodeDataChanged | EventType::NodeCreated => {
                WatcherType::Data
            }
            _ => return,
        };
        self.watching
            .borrow_mut()
            .retain(|(p, k)| !(*p == path && *k == kind));
        if self.held() {
            if path == self.sem.lease && ev.event_type == EventType::NodeDeleted {
                self.sem.lost(self, "our lease node was deleted");
            } else if path == self.sem.lease {
                self.watch_own();
            }
            return;
        }
        if path == self.sem.path && !self.done.get() {
            if self.waiting.replace(false) {
                self.count(self.generation.get());
            } else {
                self.changed.set(true);
            }
        }
    }

    fn transition(self: &Rc<Self>, t: Transition) {
        if self.held() {
            match t {
                Transition::Lost => self.sem.lost(self, "the session expired"),
                Transition::Reconnected => self.watch_own(),
                Transition::NewSession => self.sem.lost(self, "the session expired"),
                Transition::Suspended => {}
            }
            return;
        }
        if self.done.get() {
            return;
        }
        match t {
            Transition::Suspended => {}
            Transition::Reconnected => {
                // The watch may have missed a change: look again (kazoo #282).
                if self.waiting.replace(false) {
                    self.count(self.generation.get());
                } else {
                    self.changed.set(true);
                }
            }
            Transition::Lost => {
                // Everything the session held is gone: start over on the next session.
                self.generation.set(self.generation.get() + 1);
                self.waiting.set(false);
                self.created.set(false);
                self.retry.cancel();
                self.watching.borrow_mut().clear();
                if let Some(l) = self.lock.borrow_mut().take() {
                    drop(l.release_async());
                }
            }
            Transition::NewSession => {
                self.generation.set(self.generation.get() + 1);
                self.retry.cancel();
                self.retry.reset();
                self.waiting.set(false);
                self.created.set(false);
                if let Some(l) = self.lock.borrow_mut().take() {
                    drop(l.release_async());
                }
                self.assure(self.generation.get());
            }
        }
    }

    /// While held: a data watch on our lease, to learn that someone else deleted it.
    fn watch_own(self: &Rc<Self>) {
        let Some(client) = self.client.upgrade() else {
            return;
        };
        self.note_watch(&self.sem.lease, WatcherType::Data);
        let a = self.clone();
        client
            .get_async(&self.sem.lease, &self.watcher)
            .rawlink(move |r| match r.get_nowait() {
                Ok(_) if !a.held() => a.unwatch(&a.sem.lease, WatcherType::Data),
                Ok(_) => {}
                Err(e) if e.is_no_node() => {
                    a.watching.borrow_mut().clear();
                    a.sem.lost(&a, "our lease node was deleted");
                }
                Err(e) if e.is_retryable() && a.held() => {
                    let b = a.clone();
                    a.retry.later(move || {
                        if b.held() {
                            b.watch_own()
                        }
                    });
                }
                Err(_) => {}
            });
    }

    /// Decides the acquire: the object's phase first, then the caller's result. The
    /// internal lock is released whatever the outcome (kazoo #429).
    fn settle(self: &Rc<Self>, r: Result<bool, Error>) {
        if self.done.replace(true) {
            return;
        }
        let won = matches!(r, Ok(true));
        if let Some(id) = self.deadline.take() {
            self.lp.cancel_timer(id);
        }
        self.retry.cancel();
        self.retry.reset();
        self.waiting.set(false);
        self.remove_watches();
        let released = self.lock.borrow_mut().take().map(|l| l.release_async());
        if won {
            *self.sem.phase.borrow_mut() = Phase::Held(self.clone());
            self.watch_own();
        } else {
            {
                let mut p = self.sem.phase.borrow_mut();
                if matches!(&*p, Phase::Acquiring(a) if Rc::ptr_eq(a, self)) {
                    *p = Phase::Idle;
                }
            }
            self.teardown();
            if self.created.replace(false) {
                delete_until_gone(
                    &self.client,
                    &self.lp,
                    self.sem.lease.clone(),
                    self.owner.get(),
                    None,
                );
            }
        }
        match released {
            // Decided: the caller hears of it once the internal lock is released (as
            // kazoo's `finally: lock.release()`), so a blocking caller that stops running
            // the loop leaves no lock node blocking the others. A failure (deadline,
            // cancel, error) is told at once, the release going on in the background.
            Some(rel) if r.is_ok() && !rel.ready() => {
                let out = self.out.clone();
                rel.rawlink(move |_| {
                    let _ = out.set_result(r);
                });
            }
            _ => {
                let _ = self.out.set_result(r);
            }
        }
    }

    /// Removes the listener, timers and watchers of this attempt.
    fn teardown(&self) {
        if let Some(id) = self.deadline.take() {
            self.lp.cancel_timer(id);
        }
        self.retry.cancel();
        self.base.stop();
        self.remove_watches();
    }

    fn remove_watches(&self) {
        let all: Vec<(String, WatcherType)> = self.watching.borrow_mut().drain(..).collect();
        for (p, kind) in all {
            self.unwatch(&p, kind);
        }
    }

    fn unwatch(&self, p: &str, kind: WatcherType) {
        self.watching
            .borrow_mut()
            .retain(|(q, k)| !(q == p && *k == kind));
        let Some(client) = self.client.upgrade() else {
            return;
        };
        let p = p.to_string();
        {
            client
                .remove_watcher_async(&p, kind, &self.watcher, WhenOffline::RemoveLocally)
                .rawlink(move |r| {
                    if let Err(e) = r.get_nowait() {
                        debug!("semaphore: removing the watch on {p}: {e}");
                    }
                });
        }
    }
}

/// Whether the client's current session is `owner` (an ephemeral node's owner).
fn session_owns<H: Handler>(c: &Client<H>, owner: i64) -> bool {
    c.client_id().is_some_and(|(id, _)| id == owner)
}

/// Deletes `node` until that succeeds, it is gone, or (ephemeral, `owner` != 0) its
/// session is; then resolves `out` if given.
pub(crate) fn delete_until_gone<H: Handler>(
    client: &WeakClient<H>,
    lp: &Rc<dyn EventLoop>,
    node: String,
    owner: i64,
    out: Option<AsyncResult<()>>,
) {
    let d = Rc::new(Deleter {
        client: client.clone(),
        node,
        owner,
        out,
        retry: Backoff::new(lp.clone(), BACKOFF_FIRST, BACKOFF_MAX),
    });
    d.delete();
}

struct Deleter<H: Handler> {
    client: WeakClient<H>,
    node: String,
    owner: i64,
    out: Option<AsyncResult<()>>,
    retry: Backoff,
}

impl<H: Handler> Deleter<H> {
    fn done(&self, r: Result<(), Error>) {
        if let Some(o) = &self.out {
            let _ = o.set_result(r);
        }
    }

    fn delete(self: &Rc<Self>) {
        let Some(client) = self.client.upgrade() else {
            return self.done(Err(Error::ConnectionClosed));
        };
        if self.owner != 0
            && client.connected()
            && client.client_id().map_or(0, |(id, _)| id) != self.owner
        {
            // On a new session: the node went with the old one.
            return self.done(Ok(()));
        }
        let d = self.clone();
        client
            .delete_async(&self.node, None)
            .rawlink(move |r| match r.get_nowait() {
                Ok(()) => d.done(Ok(())),
                Err(e) if e.is_no_node() => d.done(Ok(())),
                Err(e) if e.is_session_expired() && d.owner != 0 => d.done(Ok(())),
                Err(e) if e.is_retryable() || e.is_session_expired() => {
                    debug!("deleting {} failed ({e}); trying again", d.node);
                    let d2 = d.clone();
                    d.retry.later(move || d2.delete());
                }
                Err(e) => {
                    log::warn!("could not delete {}: {e}", d.node);
                    d.done(Err(e));
                }
            });
    }
}
