//! The lock's engine on the loop: one acquire attempt (create, list, watch the
//! predecessor, re-check), the hold (watching our own node and the session), and the
//! background deletes that outlive both.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use bytes::Bytes;
use log::debug;

use super::contenders::{decide, Decision};
use crate::handler::{EventLoop, Handler, TimerId};
use crate::recipe::base::{timer_on, Backoff, Base, Transition};
use crate::recipe::protected::{IdPlacement, ProtectedCreate};
use crate::recipe::RecipeError;
use crate::{
    AsyncResult, Client, CreateMode, Error, EventType, Stat, WatchedEvent, Watcher, WatcherType,
    WeakClient, WhenOffline,
};

const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// What a lock object is doing.
pub(super) enum Phase<H: Handler> {
    Idle,
    Acquiring(Rc<Attempt<H>>),
    Held(Rc<Attempt<H>>),
}

type LostFn = Rc<dyn Fn(&RecipeError)>;

/// The state of one lock object (shared by its clones).
pub(super) struct Shared<H: Handler> {
    pub(super) client: WeakClient<H>,
    pub(super) handler: H,
    pub(super) path: String,
    /// `<uuid hex><node name>`: the name of our node before the sequence suffix.
    pub(super) prefix: String,
    pub(super) node_name: &'static str,
    /// The markers of the nodes that exclude ours (with the extra patterns).
    pub(super) excluding: RefCell<Vec<String>>,
    pub(super) ephemeral: Cell<bool>,
    pub(super) data: Bytes,
    /// The parent is known to exist (kazoo's `assured_path`).
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

    pub(super) fn node(&self) -> Option<String> {
        match &*self.phase.borrow() {
            Phase::Idle => None,
            Phase::Acquiring(a) | Phase::Held(a) => a.node.borrow().clone(),
        }
    }

    /// Starts an acquire: `blocking` waits for the lock, otherwise the first check decides
    /// (kazoo's `blocking=False`). Resolves to whether the lock is held.
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
            return self.failed(Error::Recipe(RecipeError::Stopped { what: "Lock" }));
        };
        let lp = client.handler().event_loop();
        let out: AsyncResult<bool> = client.handler().async_result();
        let a = Rc::new_cyclic(|weak: &Weak<Attempt<H>>| {
            let w = weak.clone();
            Attempt {
                lock: self.clone(),
                client: client.downgrade(),
                lp: lp.clone(),
                out: out.clone(),
                blocking,
                base: Base::new(&client),
                node: RefCell::new(None),
                owner: Cell::new(0),
                creating: RefCell::new(None),
                deadline: Cell::new(None),
                watcher: Watcher::new(move |ev| {
                    if let Some(a) = w.upgrade() {
                        a.event(ev);
                    }
                }),
                watched: RefCell::new(Vec::new()),
                checking: Cell::new(false),
                again: Cell::new(false),
                retry: Backoff::new(lp.clone(), BACKOFF_FIRST, BACKOFF_MAX),
                lost_told: Cell::new(false),
                done: Cell::new(false),
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
        a.create();
        out
    }

    /// Cancels a pending acquire (it fails with `Cancelled`).
    pub(super) fn cancel(&self) {
        let a = match &*self.phase.borrow() {
            Phase::Acquiring(a) => a.clone(),
            _ => return,
        };
        a.settle(Err(Error::Recipe(RecipeError::Cancelled {
            path: self.path.clone(),
        })));
    }

    /// Releases: deletes our node (retried; gone already is fine). Releasing a lock not
    /// held (never acquired, or lost) is Ok; a pending acquire is cancelled.
    pub(super) fn release(self: &Rc<Self>) -> AsyncResult<()> {
        let phase = std::mem::replace(&mut *self.phase.borrow_mut(), Phase::Idle);
        match phase {
            Phase::Idle => {
                let r = self.handler.async_result();
                let _ = r.set(());
                r
            }
            Phase::Acquiring(a) => {
                *self.phase.borrow_mut() = Phase::Acquiring(a);
                self.cancel();
                let r = self.handler.async_result();
                let _ = r.set(());
                r
            }
            Phase::Held(a) => {
                // The delete below fires, and so clears, the watch on our own node: no
                // removeWatches for it (one request less a cycle).
                if let Some(node) = a.node.borrow().as_ref() {
                    a.watched.borrow_mut().retain(|w| w != node);
                }
                a.teardown();
                let out = self.handler.async_result();
                match a.node.borrow_mut().take() {
                    Some(node) => delete_until_gone(&a, node, Some(out.clone())),
                    None => {
                        let _ = out.set(());
                    }
                }
                out
            }
        }
    }

    fn lost(&self, a: &Rc<Attempt<H>>, why: &'static str) {
        if a.lost_told.replace(true) {
            return;
        }
        let was_held = {
            let mut p = self.phase.borrow_mut();
            match &*p {
                Phase::Held(h) if Rc::ptr_eq(h, a) => {
                    *p = Phase::Idle;
                    true
                }
                _ => false,
            }
        };
        if !was_held {
            return;
        }
        a.teardown();
        debug!("lock {} lost: {why}", self.path);
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
    lock: Rc<Shared<H>>,
    client: WeakClient<H>,
    lp: Rc<dyn EventLoop>,
    out: AsyncResult<bool>,
    blocking: bool,
    base: Rc<Base<H>>,
    /// Our node's path, once created.
    pub(super) node: RefCell<Option<String>>,
    /// The session that owns our (ephemeral) node.
    owner: Cell<i64>,
    /// The protected create in flight.
    creating: RefCell<Option<AsyncResult<(String, Stat)>>>,
    deadline: Cell<Option<TimerId>>,
    /// The one watcher: on the predecessor while waiting, on our own node while held.
    watcher: Watcher,
    /// The paths the watcher may still be registered on.
    watched: RefCell<Vec<String>>,
    checking: Cell<bool>,
    again: Cell<bool>,
    retry: Backoff,
    lost_told: Cell<bool>,
    /// The acquire is decided.
    done: Cell<bool>,
}

impl<H: Handler> Attempt<H> {
    fn waiting(&self) -> bool {
        !self.done.get()
    }

    fn held(self: &Rc<Self>) -> bool {
        matches!(&*self.lock.phase.borrow(), Phase::Held(h) if Rc::ptr_eq(h, self))
    }

    fn fail(self: &Rc<Self>, e: Error) {
        self.settle(Err(e));
    }

    /// Ensures the parent (once per lock object, like kazoo), then creates our node.
    ///
    /// Several paths lead here at once (a retry waiting after a failure, a reconnect, the
    /// parent's creation): only the first creates. With a node of ours already made there
    /// is nothing to create: a second node would be forgotten, left for good with our
    /// session, and our own acquire would wait behind it.
    fn create(self: &Rc<Self>) {
        if !self.waiting() || self.creating.borrow().is_some() || self.node.borrow().is_some() {
            return;
        }
        let Some(client) = self.client.upgrade() else {
            return self.fail(Error::ConnectionClosed);
        };
        if !self.lock.assured.get() {
            let a = self.clone();
            client
                .ensure_path_async(&self.lock.path, None)
                .rawlink(move |r| match r.get_nowait() {
                    Ok(()) => {
                        a.lock.assured.set(true);
                        a.create();
                    }
                    Err(e) => a.transient(e, |a| a.create()),
                });
            return;
        }
        let mode = if self.lock.ephemeral.get() {
            CreateMode::EphemeralSequential
        } else {
            CreateMode::PersistentSequential
        };
        let (id, name) = self
            .lock
            .prefix
            .split_at(self.lock.prefix.len() - self.lock.node_name.len());
        let create =
            ProtectedCreate::new(&format!("{}/{name}", self.lock.path), &self.lock.data, mode)
                .with_id(id)
                .with_placement(IdPlacement::Prefix)
                .create_async(&client);
        *self.creating.borrow_mut() = Some(create.clone());
        let a = self.clone();
        create.rawlink(move |r| {
            a.creating.borrow_mut().take();
            match r.get_nowait() {
                Ok((path, stat)) => {
                    if !a.waiting() {
                        // Finished meanwhile (deadline, cancel): the node goes at once.
                        return delete_until_gone(&a, path, None);
                    }
                    if a.node.borrow().is_some() {
                        // Never the case (one create at a time), but never forget a node.
                        return delete_until_gone(&a, path, None);
                    }
                    a.owner.set(stat.ephemeral_owner);
                    *a.node.borrow_mut() = Some(path);
                    a.check();
                }
                Err(e) if e.is_no_node() => {
                    a.lock.assured.set(false);
                    a.transient(Error::ConnectionLoss, |a| a.create());
                }
                // Cancelled by us: nothing to do (the create cleans up after itself).
                Err(_) if !a.waiting() => {}
                Err(e) => a.transient(e, |a| a.create()),
            }
        });
    }

    /// After a retryable error (or a session expiry, waiting for the new session) tries
    /// again later; any other error ends the acquire.
    fn transient(self: &Rc<Self>, e: Error, next: impl FnOnce(&Rc<Self>) + 'static) {
        if !self.waiting() {
            return;
        }
        // After a session expiry the next try runs on the new session.
        if e.is_retryable() || e.is_session_expired() {
            let a = self.clone();
            self.retry.later(move || next(&a));
            return;
        }
        self.fail(e);
    }

    /// Lists the contenders and decides; a check asked for while one is in flight runs
    /// once that one is answered.
    fn check(self: &Rc<Self>) {
        if !self.waiting() {
            return;
        }
        if self.checking.replace(true) {
            self.again.set(true);
            return;
        }
        let Some(client) = self.client.upgrade() else {
            return self.fail(Error::ConnectionClosed);
        };
        let a = self.clone();
        client
            .get_children_async(&self.lock.path, None)
            .rawlink(move |r| {
                a.checking.set(false);
                if !a.waiting() {
                    return;
                }
                if a.again.replace(false) {
                    return a.check();
                }
                match r.get_nowait() {
                    Ok(children) => a.decided(&children),
                    Err(e) => a.transient(e, |a| a.check()),
                }
            });
    }

    fn decided(self: &Rc<Self>, children: &[String]) {
        let Some(node) = self.node.borrow().clone() else {
            return self.create();
        };
        let mine = node.rsplit('/').next().unwrap_or(&node);
        let excluding = self.lock.excluding.borrow().clone();
        match decide(children, mine, self.lock.node_name, &excluding) {
            Decision::Holding => {
                self.retry.reset();
                self.settle(Ok(true));
            }
            Decision::Missing => {
                // Deleted by someone else, or gone with its session: create again.
                self.node.borrow_mut().take();
                self.create();
            }
            Decision::Wait(_) if !self.blocking => {
                self.settle(Ok(false));
            }
            Decision::Wait(pred) => self.watch_predecessor(&format!("{}/{pred}", self.lock.path)),
        }
    }

    /// A getData watch on the predecessor (kazoo's; an exists watch on a node just
    /// deleted would leave a creation watch behind); gone already: check again at once.
    fn watch_predecessor(self: &Rc<Self>, pred: &str) {
        let Some(client) = self.client.upgrade() else {
            return self.fail(Error::ConnectionClosed);
        };
        self.note_watched(pred);
        let a = self.clone();
        let p = pred.to_string();
        client
            .get_async(pred, &self.watcher)
            .rawlink(move |r| match r.get_nowait() {
                // Finished while the read was in flight: its watch is registered only now.
                Ok(_) if !a.waiting() => a.unwatch(p),
                Ok(_) => a.retry.reset(),
                Err(e) if e.is_no_node() => {
                    a.watched.borrow_mut().retain(|w| *w != p);
                    a.check();
                }
                Err(e) => a.transient(e, |a| a.check()),
            });
    }

    fn note_watched(&self, path: &str) {
        let mut w = self.watched.borrow_mut();
        if !w.iter().any(|p| p == path) {
            w.push(path.to_string());
        }
    }

    /// The watcher fired: while waiting, the predecessor changed; while held, our node.
    fn event(self: &Rc<Self>, ev: WatchedEvent) {
        if ev.event_type != EventType::None {
            self.watched
                .borrow_mut()
                .retain(|w| Some(w) != ev.path.as_ref());
        }
        if self.waiting() {
            return self.check();
        }
        if self.held() {
            match ev.event_type {
                EventType::NodeDeleted => self.lock.lost(self, "our node was deleted"),
                EventType::None => {}
                _ => self.watch_own(),
            }
        }
    }

    fn transition(self: &Rc<Self>, t: Transition) {
        match t {
            Transition::Suspended => {}
            Transition::Lost => {
                if self.held() {
                    self.lock.lost(self, "the session expired");
                } else if self.waiting() && self.lock.ephemeral.get() {
                    // Our ephemeral node went with the session.
                    self.node.borrow_mut().take();
                    self.watched.borrow_mut().clear();
                }
            }
            Transition::Reconnected | Transition::NewSession => {
                if self.held() {
                    self.watch_own();
                } else if self.node.borrow().is_some() {
                    self.check();
                } else {
                    self.create();
                }
            }
        }
    }

    /// While held: a watch on our own node, to learn that someone else deleted it.
    fn watch_own(self: &Rc<Self>) {
        let (Some(client), Some(node)) = (self.client.upgrade(), self.node.borrow().clone()) else {
            return;
        };
        self.note_watched(&node);
        let a = self.clone();
        let node_ = node.clone();
        // getData, not exists: on a node already gone it leaves no creation watch.
        client
            .get_async(&node, &self.watcher)
            .rawlink(move |r| match r.get_nowait() {
                // Released meanwhile: its delete (sent behind this read) fires and so
                // clears the watch; otherwise remove it.
                Ok(_) if !a.held() && a.node.borrow().is_none() => {
                    a.watched.borrow_mut().retain(|w| *w != node_)
                }
                Ok(_) if !a.held() => a.unwatch(node_),
                Ok(_) => {}
                Err(e) if e.is_no_node() => {
                    a.watched.borrow_mut().clear();
                    a.lock.lost(&a, "our node was deleted");
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

    /// The acquire is decided (by us, the deadline, a cancel, or an error).
    /// Decides the acquire: the lock object's phase first, then the caller's result.
    fn settle(self: &Rc<Self>, r: Result<bool, Error>) {
        if self.done.replace(true) {
            return;
        }
        self.finished(matches!(r, Ok(true)));
        let _ = self.out.set_result(r);
    }

    fn finished(self: &Rc<Self>, won: bool) {
        if let Some(id) = self.deadline.take() {
            self.lp.cancel_timer(id);
        }
        self.retry.cancel();
        self.retry.reset();
        self.remove_watches();
        if won {
            *self.lock.phase.borrow_mut() = Phase::Held(self.clone());
            self.watch_own();
            return;
        }
        {
            let mut p = self.lock.phase.borrow_mut();
            if matches!(&*p, Phase::Acquiring(a) if Rc::ptr_eq(a, self)) {
                *p = Phase::Idle;
            }
        }
        self.teardown();
        // Whatever the acquire created goes, until that succeeds or the session is gone.
        if let Some(c) = self.creating.borrow_mut().take() {
            let _ = c.set_exception(Error::Timeout);
        }
        if let Some(node) = self.node.borrow_mut().take() {
            delete_until_gone(self, node, None);
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
        let paths: Vec<String> = self.watched.borrow_mut().drain(..).collect();
        for p in paths {
            self.unwatch(p);
        }
    }

    fn unwatch(&self, p: String) {
        self.watched.borrow_mut().retain(|w| *w != p);
        let Some(client) = self.client.upgrade() else {
            return;
        };
        {
            client
                .remove_watcher_async(
                    &p,
                    WatcherType::Data,
                    &self.watcher,
                    WhenOffline::RemoveLocally,
                )
                .rawlink(move |r| {
                    if let Err(e) = r.get_nowait() {
                        debug!("lock: removing the watch on {p}: {e}");
                    }
                });
        }
    }
}

/// Deletes `node` until that succeeds, it is gone, or (ephemeral) its session is; then
/// resolves `out` if given (a release; a session gone counts as released).
fn delete_until_gone<H: Handler>(a: &Rc<Attempt<H>>, node: String, out: Option<AsyncResult<()>>) {
    let d = Rc::new(Deleter {
        client: a.client.clone(),
        node,
        owner: if a.lock.ephemeral.get() {
            a.owner.get()
        } else {
            0
        },
        out,
        retry: Backoff::new(a.lp.clone(), BACKOFF_FIRST, BACKOFF_MAX),
    });
    d.delete();
}

struct Deleter<H: Handler> {
    client: WeakClient<H>,
    node: String,
    /// The session owning the node (0: persistent).
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

    fn session_gone(&self, client: &Client<H>) -> bool {
        self.owner != 0 && client.client_id().map_or(0, |(id, _)| id) != self.owner
    }

    fn delete(self: &Rc<Self>) {
        let Some(client) = self.client.upgrade() else {
            return self.done(Err(Error::ConnectionClosed));
        };
        if self.session_gone(&client) {
            // Connected on a new session: the node went with the old one.
            if client.connected() {
                return self.done(Ok(()));
            }
        }
        let d = self.clone();
        client
            .delete_async(&self.node, None)
            .rawlink(move |r| match r.get_nowait() {
                Ok(()) => d.done(Ok(())),
                Err(e) if e.is_no_node() => d.done(Ok(())),
                Err(e) if e.is_session_expired() && d.owner != 0 => d.done(Ok(())),
                Err(e) if e.is_retryable() || e.is_session_expired() => {
                    debug!("lock: deleting {} failed ({e}); trying again", d.node);
                    let d2 = d.clone();
                    d.retry.later(move || d2.delete());
                }
                Err(e) => {
                    log::warn!("lock: could not delete {}: {e}", d.node);
                    d.done(Err(e));
                }
            });
    }
}
