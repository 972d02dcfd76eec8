//! Cooperative, single-threaded event and lock objects: waiting runs the loop.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::reactor::WeakReactor;
use crate::{Error, LoopError};

/// kazoo's `handler.event_object()`: a flag that can be waited for.
pub trait EventObject {
    /// Whether the flag is set.
    fn is_set(&self) -> bool;
    /// Sets the flag; waiters see it at their next check.
    fn set(&self);
    /// Clears the flag.
    fn clear(&self);
    /// Waits until the flag is set; `Ok(true)` if it is, `Ok(false)` on timeout.
    fn wait(&self, timeout: Option<Duration>) -> Result<bool, Error>;
}

/// kazoo's `handler.lock_object()` and `rlock_object()`.
pub trait LockObject {
    /// Takes the lock. Without `blocking`, only if it is free (the timeout is ignored);
    /// with it, waits up to `timeout` (`None`: no limit). `Ok(true)` if taken.
    fn acquire(&self, blocking: bool, timeout: Option<Duration>) -> Result<bool, Error>;
    /// Releases the lock; [`LoopError::NotLocked`] if the caller does
    /// not hold it.
    fn release(&self) -> Result<(), Error>;
    /// Whether someone holds it.
    fn locked(&self) -> bool;
}

fn wait_on(
    reactor: &WeakReactor,
    done: &dyn Fn() -> bool,
    timeout: Option<Duration>,
    what: &'static str,
) -> Result<bool, Error> {
    if done() {
        return Ok(true);
    }
    let reactor = reactor.upgrade().ok_or(Error::Loop(LoopError::Gone))?;
    match reactor.wait_until(done, timeout, what) {
        Ok(()) => Ok(true),
        Err(Error::Timeout) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The [`MioHandler`](super::MioHandler)'s event object: `wait` runs the loop until another
/// callback or task sets the flag.
///
/// ```
/// use std::time::Duration;
/// use mio_zookeeper::handler::{EventObject, Handler, MioHandler};
///
/// let handler = MioHandler::new()?;
/// let event = handler.event_object();
/// let e = event.clone();
/// handler.spawn(move || e.set());
/// assert!(event.wait(Some(Duration::from_secs(5)))?);
/// event.clear();
/// assert!(!event.wait(Some(Duration::from_millis(1)))?);
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
#[derive(Clone)]
pub struct MioEvent {
    flag: Rc<Cell<bool>>,
    reactor: WeakReactor,
}

impl MioEvent {
    pub(crate) fn new(reactor: WeakReactor) -> MioEvent {
        MioEvent {
            flag: Rc::new(Cell::new(false)),
            reactor,
        }
    }
}

impl fmt::Debug for MioEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MioEvent")
            .field("set", &self.flag.get())
            .finish()
    }
}

impl EventObject for MioEvent {
    fn is_set(&self) -> bool {
        self.flag.get()
    }
    fn set(&self) {
        self.flag.set(true);
    }
    fn clear(&self) {
        self.flag.set(false);
    }
    fn wait(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        let flag = &self.flag;
        wait_on(&self.reactor, &|| flag.get(), timeout, "Event::wait")
    }
}

/// The [`MioHandler`](super::MioHandler)'s lock: held by nobody in particular (like
/// `threading.Lock`, any code may release it). A blocking `acquire` runs the loop until the
/// holder (another callback or task) releases it.
///
/// Blocking waits nest on one stack, which shapes two things:
///
/// - when several callbacks wait for the lock, each one's wait runs the next one nested
///   inside it, so the *innermost* (most recently started) wait is served first;
/// - a holder further down the stack cannot run, and so cannot release, while a callback
///   nested above it waits for the lock: that `acquire` waits until its timeout. Do not
///   hold a lock across a blocking wait that other lock users may run inside (an async task
///   that holds it across an `.await` is fine: awaiting does not nest).
///
/// ```
/// use mio_zookeeper::handler::{Handler, LockObject, MioHandler};
///
/// let handler = MioHandler::new()?;
/// let lock = handler.lock_object();
/// assert!(lock.acquire(true, None)?);
/// assert!(!lock.acquire(false, None)?);
/// let l = lock.clone();
/// handler.spawn(move || l.release().unwrap());
/// assert!(lock.acquire(true, None)?); // runs the loop until the task releases it
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
#[derive(Clone)]
pub struct MioLock {
    locked: Rc<Cell<bool>>,
    reactor: WeakReactor,
}

impl MioLock {
    pub(crate) fn new(reactor: WeakReactor) -> MioLock {
        MioLock {
            locked: Rc::new(Cell::new(false)),
            reactor,
        }
    }
}

impl fmt::Debug for MioLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MioLock")
            .field("locked", &self.locked.get())
            .finish()
    }
}

impl LockObject for MioLock {
    fn acquire(&self, blocking: bool, timeout: Option<Duration>) -> Result<bool, Error> {
        let locked = &self.locked;
        let free = if blocking {
            wait_on(&self.reactor, &|| !locked.get(), timeout, "Lock::acquire")?
        } else {
            !locked.get()
        };
        if free {
            locked.set(true);
        }
        Ok(free)
    }
    fn release(&self) -> Result<(), Error> {
        if !self.locked.replace(false) {
            return Err(Error::Loop(LoopError::NotLocked));
        }
        Ok(())
    }
    fn locked(&self) -> bool {
        self.locked.get()
    }
}

/// The [`MioHandler`](super::MioHandler)'s re-entrant lock. Its owner is the running
/// *context* ([`Reactor::current_context`](crate::handler::Reactor::current_context)): the
/// top level, one callback run, or one spawned future across all its polls; that context
/// may acquire it again and must release it as often.
///
/// ```
/// use mio_zookeeper::handler::{Handler, LockObject, MioHandler};
///
/// let handler = MioHandler::new()?;
/// let rlock = handler.rlock_object();
/// assert!(rlock.acquire(true, None)?);
/// assert!(rlock.acquire(false, None)?); // same context: re-entered
/// rlock.release()?;
/// assert!(rlock.locked());
/// rlock.release()?;
/// assert!(!rlock.locked());
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
#[derive(Clone)]
pub struct MioRLock {
    state: Rc<RLockState>,
    reactor: WeakReactor,
}

#[derive(Default)]
struct RLockState {
    owner: Cell<Option<u64>>,
    count: Cell<u32>,
}

impl MioRLock {
    pub(crate) fn new(reactor: WeakReactor) -> MioRLock {
        MioRLock {
            state: Rc::new(RLockState::default()),
            reactor,
        }
    }

    fn context(&self) -> Result<u64, Error> {
        Ok(self
            .reactor
            .upgrade()
            .ok_or(Error::Loop(LoopError::Gone))?
            .current_context())
    }
}

impl fmt::Debug for MioRLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MioRLock")
            .field("owner", &self.state.owner.get())
            .field("count", &self.state.count.get())
            .finish()
    }
}

impl LockObject for MioRLock {
    fn acquire(&self, blocking: bool, timeout: Option<Duration>) -> Result<bool, Error> {
        let me = self.context()?;
        let s = &self.state;
        if s.owner.get() == Some(me) {
            s.count.set(s.count.get().saturating_add(1));
            return Ok(true);
        }
        let free = if blocking {
            wait_on(
                &self.reactor,
                &|| s.owner.get().is_none(),
                timeout,
                "RLock::acquire",
            )?
        } else {
            s.owner.get().is_none()
        };
        if free {
            s.owner.set(Some(me));
            s.count.set(1);
        }
        Ok(free)
    }
    fn release(&self) -> Result<(), Error> {
        let me = self.context()?;
        let s = &self.state;
        if s.owner.get() != Some(me) {
            return Err(Error::Loop(LoopError::NotLocked));
        }
        let n = s.count.get().saturating_sub(1);
        s.count.set(n);
        if n == 0 {
            s.owner.set(None);
        }
        Ok(())
    }
    fn locked(&self) -> bool {
        self.state.owner.get().is_some()
    }
}
