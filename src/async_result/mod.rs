//! `AsyncResult<T>`: an Rc-based, cooperatively blocking result (kazoo's `IAsyncResult`).
//!
//! **What lives here, and what it may use:** the result object only; it reaches its loop
//! through the handler layer's dyn-safe [`Scheduler`] (queue a notification, run a blocking
//! wait), never a particular loop, so any [`Handler`](crate::Handler) can make results.
//!
//! This module is private: [`AsyncResult`] is re-exported at the crate root, and its
//! contract is documented on the type.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::handler::{Deferred, Scheduler, SchedulerRef};
use crate::{Error, LoopError};

type Callback<T> = Box<dyn FnOnce(&AsyncResult<T>)>;

/// Identifies a callback linked with [`AsyncResult::rawlink`], to
/// [`unlink`](AsyncResult::unlink) it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkId(u32);

enum Outcome<T> {
    Pending,
    Done(Result<T, Error>),
    /// The value was moved out by `take`; remembers whether it was a success.
    Taken(bool),
}

/// Linked callbacks in link order: `first` (if any) is older than everything in `rest`.
/// Nearly every result has at most one callback, so the others live behind a box that is
/// only allocated for a second one (this keeps every result small).
struct Links<T> {
    first: Option<(LinkId, Callback<T>)>,
    // A boxed Vec on purpose: 8 bytes in every result instead of 24 (clippy's
    // box_collection is about the extra allocation, which only a second callback pays).
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<Link<T>>>>,
}

type Link<T> = (LinkId, Callback<T>);

impl<T> Default for Links<T> {
    fn default() -> Self {
        Links {
            first: None,
            rest: None,
        }
    }
}

impl<T> Links<T> {
    fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.as_ref().map_or(true, |r| r.is_empty())
    }
}

struct Inner<T> {
    outcome: Outcome<T>,
    links: Links<T>,
    waker: Option<Waker>,
    /// Tasks awaiting the result besides `waker` (rare: boxed when needed).
    #[allow(clippy::box_collection)] // 8 bytes in every result instead of 24, as `Links::rest`
    more_wakers: Option<Box<Vec<Waker>>>,
    next_link: u32,
}

struct State<T> {
    /// The handler's scheduler, by a thin weak pointer (8 bytes: a result does not grow).
    scheduler: Weak<Box<dyn Scheduler>>,
    inner: RefCell<Inner<T>>,
    /// A notification of this result is in the loop's queue.
    queued: Cell<bool>,
}

/// The Rust form of kazoo's `IAsyncResult`: a value or an [`Error`] that arrives later,
/// shared by cloning (an `Rc`; `!Send`), bound to the [`Scheduler`] of the handler that made it
/// (any
/// [`Handler`](crate::Handler), through the dyn-safe [`Scheduler`]).
///
/// Besides the blocking API it implements [`Future`] (output `Result<T, Error>`), for tasks
/// spawned on the loop.
///
/// # Examples
///
/// A blocking `get`: the loop runs (here, a timer sets the result) until the value is in.
///
/// ```
/// use std::time::Duration;
/// use mio_zookeeper::handler::{EventLoop, Handler, MioHandler};
///
/// let handler = MioHandler::new()?;
/// let result = handler.async_result();
/// let r = result.clone();
/// let soon = handler.now() + Duration::from_millis(5);
/// handler.set_timer(soon, Box::new(move || r.set(42).unwrap()));
/// assert_eq!(result.get(true, Some(Duration::from_secs(5)))?, 42);
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
///
/// A callback, always run later by the loop:
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use mio_zookeeper::{AsyncResult, Handler, MioHandler};
///
/// let handler = MioHandler::new()?;
/// let result: AsyncResult<&str> = handler.async_result();
/// let seen = Rc::new(Cell::new(""));
/// let s = seen.clone();
/// result.rawlink(move |r| s.set(r.value().unwrap()));
/// result.set("hello")?;
/// assert_eq!(seen.get(), ""); // deferred, not run inside set()
/// handler.poll_once(Some(std::time::Duration::ZERO))?;
/// assert_eq!(seen.get(), "hello");
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
///
/// # The contract
///
/// DESIGN.md's; where kazoo's handlers differ, this follows gevent's:
///
/// - a result is set at most once: a second [`set`](AsyncResult::set) or
///   [`set_exception`](AsyncResult::set_exception) is refused with
///   [`LoopError::AlreadySet`];
/// - [`rawlink`](AsyncResult::rawlink) callbacks are one-shot and **always deferred** to the
///   loop's queue, even when the result is already set: a callback never runs inside `set`
///   or `rawlink`, and never twice;
/// - [`get`](AsyncResult::get) with `block` drives the loop until the result is set or the
///   timeout passes ([`Error::Timeout`], the handler's timeout error); inside a callback or
///   task this nests (bounded, and watch callbacks stay serialized: see
///   [`handler`](crate::handler#how-callbacks-are-called));
/// - on an embedded loop a blocking wait is refused with
///   [`LoopError::Embedded`]; await the
///   result in a task or `rawlink` instead;
/// - notifications run in the order the results were set (and, for one result, in the order
///   the callbacks were linked); the tasks awaiting a result are woken after its callbacks are
///   queued, so they resume after them.
///
/// A result does not keep its loop alive: when the last handler is dropped, blocking calls
/// fail with [`LoopError::Gone`] and pending notifications are dropped
/// (with a warning).
pub struct AsyncResult<T> {
    state: Rc<State<T>>,
}

impl<T> Clone for AsyncResult<T> {
    fn clone(&self) -> Self {
        AsyncResult {
            state: self.state.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AsyncResult");
        match self.state.inner.try_borrow() {
            Ok(i) => match &i.outcome {
                Outcome::Pending => d.field("state", &"pending"),
                Outcome::Done(r) => d.field("state", r),
                Outcome::Taken(ok) => d.field("taken", ok),
            },
            Err(_) => d.field("state", &"<borrowed>"),
        };
        d.finish()
    }
}

impl<T: 'static> AsyncResult<T> {
    /// A pending result whose callbacks are queued by `scheduler` (a handler's; usually
    /// made with [`Handler::async_result`](crate::Handler::async_result)).
    pub fn new(scheduler: &SchedulerRef) -> AsyncResult<T> {
        AsyncResult {
            state: Rc::new(State {
                scheduler: scheduler.downgrade(),
                inner: RefCell::new(Inner {
                    outcome: Outcome::Pending,
                    links: Links::default(),
                    waker: None,
                    more_wakers: None,
                    next_link: 0,
                }),
                queued: Cell::new(false),
            }),
        }
    }

    /// Sets the value; queues the linked callbacks and wakes awaiting tasks.
    ///
    /// # Notable errors
    ///
    /// [`LoopError::AlreadySet`] if it was already set (the stored
    /// outcome is kept).
    pub fn set(&self, value: T) -> Result<(), Error> {
        self.complete(Ok(value))
    }

    /// Sets an error (kazoo's `set_exception`); `get` will return it.
    ///
    /// # Notable errors
    ///
    /// [`LoopError::AlreadySet`] if it was already set.
    pub fn set_exception(&self, error: Error) -> Result<(), Error> {
        self.complete(Err(error))
    }

    /// Sets the outcome from a `Result`.
    pub fn set_result(&self, result: Result<T, Error>) -> Result<(), Error> {
        self.complete(result)
    }

    fn complete(&self, result: Result<T, Error>) -> Result<(), Error> {
        let (has_links, waker, more) = {
            let mut i = self.state.inner.borrow_mut();
            if !matches!(i.outcome, Outcome::Pending) {
                drop(i);
                drop(result);
                return Err(Error::Loop(LoopError::AlreadySet));
            }
            i.outcome = Outcome::Done(result);
            (!i.links.is_empty(), i.waker.take(), i.more_wakers.take())
        };
        if has_links {
            self.queue_notify();
        }
        if let Some(w) = waker {
            w.wake();
        }
        for w in more.into_iter().flat_map(|m| *m) {
            w.wake();
        }
        Ok(())
    }

    fn queue_notify(&self) {
        if self.state.queued.replace(true) {
            return;
        }
        match self.state.scheduler.upgrade() {
            Some(s) => s.defer(self.state.clone()),
            None => {
                self.state.queued.set(false);
                log::warn!("AsyncResult set after its handler was dropped: callbacks dropped");
                let links = std::mem::take(&mut self.state.inner.borrow_mut().links);
                drop(links);
            }
        }
    }

    /// Whether it is set (kazoo's `ready`).
    pub fn ready(&self) -> bool {
        !matches!(self.state.inner.borrow().outcome, Outcome::Pending)
    }

    /// Whether it is set to a value, not an error (`false` while pending).
    pub fn successful(&self) -> bool {
        matches!(
            self.state.inner.borrow().outcome,
            Outcome::Done(Ok(_)) | Outcome::Taken(true)
        )
    }

    /// The error, if it is set to one (`None` while pending and on success).
    pub fn exception(&self) -> Option<Error> {
        match &self.state.inner.borrow().outcome {
            Outcome::Done(Err(e)) => Some(e.clone()),
            _ => None,
        }
    }

    /// Links a one-shot callback, run by the loop once the result is set; if it already is,
    /// the callback is queued now (it still runs later, never inside this call). The callback
    /// gets the result. Returns an id for [`unlink`](AsyncResult::unlink).
    ///
    /// A completion callback runs on the loop like any queued callback: it may block
    /// (nested, bounded), but should not, as it holds up the loop it runs on.
    pub fn rawlink<F: FnOnce(&AsyncResult<T>) + 'static>(&self, callback: F) -> LinkId {
        let (id, ready) = {
            let mut i = self.state.inner.borrow_mut();
            let id = LinkId(i.next_link);
            i.next_link = i.next_link.wrapping_add(1);
            let cb: Callback<T> = Box::new(callback);
            if i.links.is_empty() {
                i.links.first = Some((id, cb));
            } else {
                i.links.rest.get_or_insert_with(Box::default).push((id, cb));
            }
            (id, !matches!(i.outcome, Outcome::Pending))
        };
        if ready {
            self.queue_notify();
        }
        id
    }

    /// Removes a linked callback before it runs; `false` (a no-op) once the result is set, as
    /// in kazoo, or if the id is unknown.
    pub fn unlink(&self, id: LinkId) -> bool {
        let removed = {
            let mut i = self.state.inner.borrow_mut();
            if !matches!(i.outcome, Outcome::Pending) {
                return false;
            }
            if matches!(&i.links.first, Some((x, _)) if *x == id) {
                i.links.first.take()
            } else {
                let rest = i.links.rest.as_deref_mut();
                rest.and_then(|r| Some((r.iter().position(|(x, _)| *x == id)?, r)))
                    .map(|(pos, r)| r.remove(pos))
            }
        };
        removed.is_some()
    }

    /// Waits (running the loop) until set; `Ok(true)` once set, `Ok(false)` on timeout. It
    /// never returns the stored error (kazoo's threading `wait`).
    ///
    /// # Notable errors
    ///
    /// [`LoopError::Stopped`],
    /// [`LoopError::NestingTooDeep`],
    /// [`LoopError::Embedded`],
    /// [`LoopError::Gone`].
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        match self.block(timeout, "AsyncResult::wait") {
            Ok(()) => Ok(true),
            Err(Error::Timeout) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn block(&self, timeout: Option<Duration>, what: &'static str) -> Result<(), Error> {
        if self.ready() {
            return Ok(());
        }
        let scheduler = self.state.scheduler.upgrade().ok_or(LoopError::Gone)?;
        scheduler.wait_until(&|| self.ready(), timeout, what)
    }

    /// Moves the outcome out, waiting like [`get`](AsyncResult::get) (for a `T` that is not
    /// `Clone`, or to avoid a copy). Afterwards the result stays ready, `successful` is
    /// unchanged, and reading it again gives [`LoopError::Taken`].
    pub fn take(&self, block: bool, timeout: Option<Duration>) -> Result<T, Error> {
        if block {
            self.block(timeout, "AsyncResult::take")?;
        }
        let mut i = self.state.inner.borrow_mut();
        match &i.outcome {
            Outcome::Pending => Err(Error::Timeout),
            Outcome::Taken(_) => Err(Error::Loop(LoopError::Taken)),
            Outcome::Done(r) => {
                let ok = r.is_ok();
                match std::mem::replace(&mut i.outcome, Outcome::Taken(ok)) {
                    Outcome::Done(r) => r,
                    _ => Err(Error::Loop(LoopError::Taken)),
                }
            }
        }
    }

    /// Routes the error of `f` into this result (kazoo's `capture_exceptions`): runs `f`; on
    /// `Err(e)` sets the exception and returns `None`, on `Ok(v)` returns `Some(v)` and
    /// leaves the result alone.
    pub fn capture_exceptions<R>(&self, f: impl FnOnce() -> Result<R, Error>) -> Option<R> {
        match f() {
            Ok(v) => Some(v),
            Err(e) => {
                if let Err(already) = self.set_exception(e) {
                    log::debug!("capture_exceptions: {already}");
                }
                None
            }
        }
    }

    /// Runs `f` and routes its outcome into this result (kazoo's `wrap`): `Ok(Some(v))` sets
    /// the value, `Err(e)` the error, and `Ok(None)` leaves it pending (the function handed
    /// the result on to something that will set it later).
    ///
    /// ```
    /// use mio_zookeeper::{AsyncResult, Error, Handler, MioHandler};
    ///
    /// let handler = MioHandler::new()?;
    /// let ok = handler.async_result();
    /// ok.wrap(|| Ok(Some(1)));
    /// assert_eq!(ok.get_nowait()?, 1);
    /// let failed: AsyncResult<i32> = handler.async_result();
    /// failed.wrap(|| Err(Error::Timeout));
    /// assert!(matches!(failed.exception(), Some(Error::Timeout)));
    /// let pending: AsyncResult<i32> = handler.async_result();
    /// pending.wrap(|| Ok(None));
    /// assert!(!pending.ready());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn wrap(&self, f: impl FnOnce() -> Result<Option<T>, Error>) {
        let res = match f() {
            Ok(Some(v)) => self.set(v),
            Ok(None) => Ok(()),
            Err(e) => self.set_exception(e),
        };
        if let Err(e) = res {
            log::debug!("wrap: {e}");
        }
    }
}

impl<T: Clone + 'static> AsyncResult<T> {
    /// The outcome if set, without waiting.
    fn peek(&self) -> Option<Result<T, Error>> {
        match &self.state.inner.borrow().outcome {
            Outcome::Pending => None,
            Outcome::Done(r) => Some(r.clone()),
            Outcome::Taken(_) => Some(Err(Error::Loop(LoopError::Taken))),
        }
    }

    /// The value, or the stored error. If it is not set yet: with `block`, runs the loop
    /// until it is or `timeout` passes (`None`: no limit); without, fails at once. Each call
    /// returns a clone of the same outcome.
    ///
    /// # Notable errors
    ///
    /// The stored error; [`Error::Timeout`] (the handler's timeout error) when not set in
    /// time or not set and `!block`; [`LoopError::Stopped`] if the
    /// handler is or gets stopped;
    /// [`LoopError::NestingTooDeep`];
    /// [`LoopError::Embedded`] for a blocking call on an embedded
    /// loop; [`LoopError::Gone`].
    pub fn get(&self, block: bool, timeout: Option<Duration>) -> Result<T, Error> {
        if let Some(r) = self.peek() {
            return r;
        }
        if !block {
            return Err(Error::Timeout);
        }
        self.block(timeout, "AsyncResult::get")?;
        self.peek().unwrap_or(Err(Error::Timeout))
    }

    /// `get(false, None)`: the outcome if set, else [`Error::Timeout`] at once.
    pub fn get_nowait(&self) -> Result<T, Error> {
        self.get(false, None)
    }

    /// The value if set to one (`None` while pending or on error).
    pub fn value(&self) -> Option<T> {
        match &self.state.inner.borrow().outcome {
            Outcome::Done(Ok(v)) => Some(v.clone()),
            _ => None,
        }
    }
}

impl<T: 'static> Deferred for State<T> {
    fn run_deferred(self: Rc<Self>) {
        self.queued.set(false);
        // A snapshot: unlink is a no-op once set, and callbacks linked from inside these
        // callbacks are queued afresh (deferred, like any other).
        let links = std::mem::take(&mut self.inner.borrow_mut().links);
        let handle = AsyncResult { state: self };
        if let Some((_, cb)) = links.first {
            cb(&handle);
        }
        for (_, cb) in links.rest.into_iter().flat_map(|r| *r) {
            cb(&handle);
        }
    }
}

impl<T: Clone + 'static> Future for AsyncResult<T> {
    type Output = Result<T, Error>;

    /// Ready with [`get_nowait`](AsyncResult::get_nowait)'s outcome once set; until then
    /// the task is woken when the result is set.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        if let Some(r) = self.peek() {
            return Poll::Ready(r);
        }
        let mut i = self.state.inner.borrow_mut();
        let new = cx.waker();
        let known = i.waker.as_ref().is_some_and(|w| w.will_wake(new))
            || i.more_wakers
                .as_ref()
                .is_some_and(|m| m.iter().any(|w| w.will_wake(new)));
        if !known {
            if i.waker.is_none() {
                i.waker = Some(new.clone());
            } else {
                i.more_wakers
                    .get_or_insert_with(Box::default)
                    .push(new.clone());
            }
        }
        Poll::Pending
    }
}

/// The size of a result's shared state (tests keep it small).
#[cfg(test)]
pub(crate) fn state_size<T>() -> usize {
    std::mem::size_of::<State<T>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_order_after_unlink_of_first() {
        use crate::handler::{Handler, MioHandler};
        let handler = MioHandler::new().unwrap();
        let r: AsyncResult<u8> = handler.async_result();
        let order = Rc::new(RefCell::new(Vec::new()));
        let ids: Vec<LinkId> = (0..3)
            .map(|n| {
                let o = order.clone();
                r.rawlink(move |_| o.borrow_mut().push(n))
            })
            .collect();
        assert!(r.unlink(ids[0]));
        let o = order.clone();
        r.rawlink(move |_| o.borrow_mut().push(3));
        r.set(0).unwrap();
        handler.poll_once(Some(Duration::ZERO)).unwrap();
        assert_eq!(*order.borrow(), [1, 2, 3]);
    }
}
