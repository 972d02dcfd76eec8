//! The [`SetPartitioner`](super::SetPartitioner)'s engine: settle the party, split the
//! set, take the item locks one by one, and react to membership changes and losses. All of
//! it runs from the loop; every step carries the allocation's epoch, and a step of an
//! older epoch (aborted, released, lost) does nothing.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::{PartitionState, SetPartitioner};
use crate::handler::{Handler, TimerId};
use crate::recipe::base::{timer_on, Base, Transition};
use crate::recipe::{Lock, PatientChildrenWatch, RecipeError, Settled, ShallowParty};
use crate::{AsyncResult, Client, Error, WeakClient};

/// A state-change callback, given the partitioner (so it need not hold a handle, which
/// would keep the partitioner alive for ever).
pub(super) type StateFn<H> = Rc<dyn Fn(&SetPartitioner<H>, PartitionState)>;

/// A custom split: `(our identifier, the members' identifiers, the items)` to our items.
pub(super) type PartitionFn = Rc<dyn Fn(&str, &[String], &[String]) -> Vec<String>>;

pub(super) struct Inner<H: Handler> {
    pub(super) client: WeakClient<H>,
    pub(super) handler: H,
    pub(super) path: String,
    pub(super) lock_path: String,
    pub(super) party_path: String,
    pub(super) party: ShallowParty<H>,
    pub(super) identifier: String,
    /// The items, sorted and without duplicates.
    pub(super) items: Vec<String>,
    pub(super) partition_fn: RefCell<Option<PartitionFn>>,
    pub(super) time_boundary: Cell<Duration>,
    pub(super) max_reaction_time: Cell<Duration>,
    pub(super) base: Rc<Base<H>>,
    pub(super) started: Cell<bool>,
    pub(super) state: Cell<PartitionState>,
    /// Bumped by every new allocation, release, loss and the end.
    pub(super) epoch: Cell<u64>,
    pub(super) watch: RefCell<Option<PatientChildrenWatch<H>>>,
    /// The item locks of this allocation, held or being acquired.
    pub(super) locks: RefCell<Vec<Lock<H>>>,
    pub(super) acquired: RefCell<Vec<String>>,
    pub(super) waiters: RefCell<Vec<(AsyncResult<()>, Option<TimerId>)>>,
    pub(super) state_fns: RefCell<Vec<StateFn<H>>>,
    /// Ourselves, to hand the callbacks a handle.
    pub(super) me: Weak<Inner<H>>,
    /// States not yet told to the callbacks, and whether they are being told now.
    pub(super) told: RefCell<VecDeque<PartitionState>>,
    pub(super) telling: Cell<bool>,
    /// Why the partitioner is in FAILURE (finished, or an error it cannot ride out).
    pub(super) failure: RefCell<Option<Error>>,
    /// How many allocations gave up on an item lock that stayed taken (kazoo's #392).
    pub(super) lock_timeouts: Cell<u64>,
}

/// kazoo's default split: `sorted(items)[i::len(members)]`, `i` our index among the sorted
/// members; `None` unless our identifier is there exactly once.
pub(super) fn default_split(me: &str, members: &[String], items: &[String]) -> Option<Vec<String>> {
    let mut workers: Vec<&String> = members.iter().collect();
    workers.sort();
    if workers.iter().filter(|w| w.as_str() == me).count() != 1 {
        return None;
    }
    let i = workers.iter().position(|w| w.as_str() == me)?;
    let mut all: Vec<&String> = items.iter().collect();
    all.sort();
    Some(
        all.into_iter()
            .skip(i)
            .step_by(workers.len())
            .cloned()
            .collect(),
    )
}

/// A ShallowParty child's identifier, as kazoo reads it: after the first `-`.
fn member(child: &str) -> String {
    match child.find('-') {
        Some(i) => child[i + 1..].to_string(),
        None => child.to_string(),
    }
}

impl<H: Handler> Inner<H> {
    fn client(&self) -> Option<Client<H>> {
        self.client.upgrade()
    }

    pub(super) fn set_state(&self, s: PartitionState) {
        if self.state.replace(s) == s {
            return;
        }
        if s == PartitionState::Acquired {
            for (w, timer) in self.waiters.take() {
                self.cancel_timer(timer);
                let _ = w.set(());
            }
        }
        // Callbacks hear every state in order, even when one of them changes the state
        // (e.g. `release_set_async` on RELEASE): a change made from a callback is told
        // once the current one has been told to all.
        self.told.borrow_mut().push_back(s);
        if self.telling.replace(true) {
            return;
        }
        loop {
            let Some(next) = self.told.borrow_mut().pop_front() else {
                break;
            };
            let fns = self.state_fns.borrow().clone();
            let Some(me) = self.me.upgrade() else {
                continue; // being dropped: nobody to tell
            };
            let handle = SetPartitioner(me);
            for f in fns {
                f(&handle, next)
            }
        }
        self.telling.set(false);
    }

    fn cancel_timer(&self, timer: Option<TimerId>) {
        if let Some(id) = timer {
            self.base.event_loop().cancel_timer(id);
        }
    }

    fn next_epoch(&self) -> u64 {
        let e = self.epoch.get() + 1;
        self.epoch.set(e);
        e
    }

    fn current(&self, e: u64) -> bool {
        self.epoch.get() == e && self.state.get() != PartitionState::Failure
    }

    /// Starts the partitioner: the paths, the party, then the first allocation.
    pub(super) fn start(self: &Rc<Self>) {
        if self.started.replace(true) || self.state.get() == PartitionState::Failure {
            return;
        }
        let weak = Rc::downgrade(self);
        self.base.listen(move |t| {
            if let Some(me) = weak.upgrade() {
                me.transition(t)
            }
        });
        self.prepare();
    }

    /// kazoo's `ensure_path(path/locks)` and the party's join, retried until done.
    fn prepare(self: &Rc<Self>) {
        let Some(client) = self.client() else { return };
        let weak = Rc::downgrade(self);
        client
            .ensure_path_async(&self.lock_path, None)
            .rawlink(move |r| {
                let Some(me) = weak.upgrade() else { return };
                if me.state.get() == PartitionState::Failure {
                    return;
                }
                if r.get_nowait().is_err() {
                    let again = Rc::downgrade(&me);
                    return me.base.retry_later(move || {
                        if let Some(me) = again.upgrade() {
                            me.prepare()
                        }
                    });
                }
                me.base.succeeded();
                let weak = Rc::downgrade(&me);
                me.party.join_async().rawlink(move |r| {
                    let Some(me) = weak.upgrade() else { return };
                    match r.get_nowait() {
                        Ok(()) => me.allocate(),
                        Err(e) => me.fail(e),
                    }
                });
            });
    }

    fn transition(self: &Rc<Self>, t: Transition) {
        match t {
            // Not kazoo's churn (#298, #148): while the session lives, our locks and our
            // membership live; the watch and the locks re-check on their own.
            Transition::Suspended | Transition::Reconnected | Transition::NewSession => {}
            Transition::Lost => self.lost(self.epoch.get()),
        }
    }

    /// The session (or an item lock) was lost: what we held is gone; allocate again (the
    /// party joins again on the new session by itself).
    pub(super) fn lost(self: &Rc<Self>, e: u64) {
        if !self.current(e) || !self.started.get() {
            return;
        }
        self.restart();
    }

    /// Releases this allocation's locks (in the background) and allocates again.
    pub(super) fn restart(self: &Rc<Self>) -> AsyncResult<()> {
        let released = self.release_locks();
        self.allocate();
        released
    }

    /// A new allocation: wait for the party to settle, then split and lock.
    fn allocate(self: &Rc<Self>) {
        if self.state.get() == PartitionState::Failure {
            return;
        }
        let e = self.next_epoch();
        self.stop_watch();
        self.set_state(PartitionState::Allocating);
        if !self.current(e) {
            return; // a state callback changed things
        }
        let Some(client) = self.client() else { return };
        let watch =
            match PatientChildrenWatch::new(&client, &self.party_path, self.time_boundary.get()) {
                Ok(w) => w,
                Err(err) => return self.fail(err),
            };
        let weak = Rc::downgrade(self);
        watch.start_async().rawlink(move |r| {
            if let Some(me) = weak.upgrade() {
                me.settled(e, r.get_nowait());
            }
        });
        *self.watch.borrow_mut() = Some(watch);
    }

    fn stop_watch(&self) {
        if let Some(w) = self.watch.take() {
            w.stop();
        }
    }

    fn retry_allocate(self: &Rc<Self>, e: u64) {
        let weak = Rc::downgrade(self);
        self.base.retry_later(move || {
            if let Some(me) = weak.upgrade() {
                if me.current(e) {
                    me.allocate()
                }
            }
        });
    }

    fn settled(self: &Rc<Self>, e: u64, r: Result<Settled, Error>) {
        if !self.current(e) {
            return;
        }
        let s = match r {
            Ok(s) => s,
            // The party's node went away (or the watch ended): try again later.
            Err(_) => return self.retry_allocate(e),
        };
        self.base.succeeded();
        let weak = Rc::downgrade(self);
        s.next_change.rawlink(move |_| {
            if let Some(me) = weak.upgrade() {
                me.membership_changed(e)
            }
        });
        let members: Vec<String> = s.children.iter().map(|c| member(c)).collect();
        let custom = self.partition_fn.borrow().clone();
        let share = match custom {
            Some(f) => f(&self.identifier, &members, &self.items),
            // Our identifier missing (our join not seen yet) or present twice (another
            // member with our identifier, e.g. the stale node of a crashed process with the
            // same identifier): the default split would be wrong, so we take nothing and
            // wait for the next change of the membership.
            None => match default_split(&self.identifier, &members, &self.items) {
                Some(share) => share,
                None => return,
            },
        };
        self.acquire_next(e, Rc::new(share), 0);
    }

    /// The membership changed after it settled.
    fn membership_changed(self: &Rc<Self>, e: u64) {
        if !self.current(e) {
            return;
        }
        match self.state.get() {
            PartitionState::Acquired => self.set_state(PartitionState::Release),
            PartitionState::Allocating => {
                self.restart();
            }
            PartitionState::Release | PartitionState::Failure => {}
        }
    }

    fn acquire_next(self: &Rc<Self>, e: u64, share: Rc<Vec<String>>, i: usize) {
        if !self.current(e) {
            return;
        }
        let Some(item) = share.get(i) else {
            *self.acquired.borrow_mut() = share.to_vec();
            return self.set_state(PartitionState::Acquired);
        };
        let Some(client) = self.client() else { return };
        let lock = match Lock::new(
            &client,
            &format!("{}/{item}", self.lock_path),
            &self.identifier,
        ) {
            Ok(l) => l,
            Err(err) => return self.fail(err),
        };
        let weak = Rc::downgrade(self);
        lock.on_lost(move |_| {
            if let Some(me) = weak.upgrade() {
                me.lost(e)
            }
        });
        self.locks.borrow_mut().push(lock.clone());
        let weak: Weak<Self> = Rc::downgrade(self);
        lock.acquire_async(Some(self.max_reaction_time.get()))
            .rawlink(move |r| {
                let Some(me) = weak.upgrade() else { return };
                if !me.current(e) {
                    return;
                }
                match r.get_nowait() {
                    Ok(()) => me.acquire_next(e, share, i + 1),
                    // Another member still holds the item (it may split differently, or
                    // not have released yet): release what we got and allocate again,
                    // rather than wait forever (kazoo's #392).
                    Err(Error::Timeout) => {
                        me.lock_timeouts.set(me.lock_timeouts.get() + 1);
                        me.restart();
                    }
                    Err(err) => me.fail(err),
                }
            });
    }

    /// Releases every lock of this allocation (and cancels one being acquired); the result
    /// is set once all are released (the first error, if any).
    pub(super) fn release_locks(&self) -> AsyncResult<()> {
        self.next_epoch();
        self.stop_watch();
        self.acquired.borrow_mut().clear();
        let out = self.handler.async_result::<()>();
        let locks = self.locks.take();
        if locks.is_empty() {
            let _ = out.set(());
            return out;
        }
        let left = Rc::new(Cell::new(locks.len()));
        let first_err: Rc<RefCell<Option<Error>>> = Rc::new(RefCell::new(None));
        for lock in locks {
            let (left, first_err, out) = (left.clone(), first_err.clone(), out.clone());
            lock.release_async().rawlink(move |r| {
                if let Err(e) = r.get_nowait() {
                    first_err.borrow_mut().get_or_insert(e);
                }
                left.set(left.get() - 1);
                if left.get() == 0 {
                    let _ = out.set_result(match first_err.take() {
                        Some(e) => Err(e),
                        None => Ok(()),
                    });
                }
            });
        }
        out
    }

    /// kazoo's `release_set`: release, then allocate again.
    pub(super) fn release_set(self: &Rc<Self>) -> AsyncResult<()> {
        if self.state.get() == PartitionState::Failure {
            return self.failed_result();
        }
        if !self.started.get() {
            self.start();
            let out = self.handler.async_result();
            let _ = out.set(());
            return out;
        }
        self.restart()
    }

    /// The end (kazoo's `finish`, or an error that cannot be ridden out): releases the
    /// locks, leaves the party, stops everything, and goes to FAILURE.
    pub(super) fn end(&self, why: Error) -> AsyncResult<()> {
        let released = self.release_locks();
        self.base.stop();
        let out = self.handler.async_result::<()>();
        let left = self.party.leave_async();
        let o = out.clone();
        released.rawlink(move |r| {
            let released = r.get_nowait();
            left.rawlink(move |l| {
                let _ = o.set_result(released.and(l.get_nowait().map(|_| ())));
            });
        });
        if self.state.get() != PartitionState::Failure {
            self.failure.borrow_mut().get_or_insert(why);
            for (w, timer) in self.waiters.take() {
                self.cancel_timer(timer);
                let _ = w.set_exception(self.failure_error());
            }
            self.set_state(PartitionState::Failure);
        }
        out
    }

    fn fail(&self, err: Error) {
        drop(self.end(err));
    }

    pub(super) fn failure_error(&self) -> Error {
        self.failure
            .borrow()
            .clone()
            .unwrap_or(Error::Recipe(RecipeError::Stopped {
                what: "SetPartitioner",
            }))
    }

    pub(super) fn failed_result(&self) -> AsyncResult<()> {
        let out = self.handler.async_result();
        let _ = out.set_exception(self.failure_error());
        out
    }

    /// Set once the state is ACQUIRED (at once if it is), failing at the deadline with
    /// [`Error::Timeout`] or once in FAILURE.
    pub(super) fn wait_for_acquire(self: &Rc<Self>, timeout: Option<Duration>) -> AsyncResult<()> {
        match self.state.get() {
            PartitionState::Failure => return self.failed_result(),
            PartitionState::Acquired => {
                let out = self.handler.async_result();
                let _ = out.set(());
                return out;
            }
            _ => {}
        }
        let out = self.handler.async_result::<()>();
        let timer = timeout.and_then(|t| {
            let o = out.clone();
            timer_on(self.base.event_loop(), t, self, move |me| {
                let _ = o.set_exception(Error::Timeout);
                me.waiters.borrow_mut().retain(|(w, _)| !w.ready());
            })
        });
        self.waiters.borrow_mut().push((out.clone(), timer));
        out
    }
}

impl<H: Handler> Drop for Inner<H> {
    fn drop(&mut self) {
        // The last handle is gone: stop listening and watching, give the items back.
        self.base.stop();
        self.stop_watch();
        for lock in self.locks.take() {
            drop(lock.release_async());
        }
        for (w, timer) in self.waiters.take() {
            self.cancel_timer(timer);
            let _ = w.set_exception(Error::Recipe(RecipeError::Stopped {
                what: "SetPartitioner",
            }));
        }
    }
}
