//! The thread-safe part of a reactor: stop requests and task wake-ups from other threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Shared between the loop thread and any [`LoopWaker`]s (and cross-thread task wakers).
#[derive(Debug)]
pub(crate) struct Remote {
    /// `None` for an embedded reactor: the host owns the `Poll` and its single waker.
    waker: Option<mio::Waker>,
    /// Something below is waiting for the loop thread to look at it.
    pending: AtomicBool,
    /// A stop was requested.
    stop: AtomicBool,
    /// Keys of tasks woken from other threads.
    wakes: Mutex<Vec<usize>>,
}

impl Remote {
    pub(crate) fn new(waker: Option<mio::Waker>) -> Remote {
        Remote {
            waker,
            pending: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            wakes: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<usize>> {
        // A panic while holding this lock cannot leave the Vec inconsistent.
        self.wakes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self) {
        if let Some(w) = &self.waker {
            if let Err(e) = w.wake() {
                log::warn!("waking the reactor's poll failed: {e}");
            }
        }
    }

    pub(crate) fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    pub(crate) fn wake_task(&self, key: usize) {
        self.lock().push(key);
        self.pending.store(true, Ordering::Release);
        self.notify();
    }

    pub(crate) fn interrupt(&self) {
        self.pending.store(true, Ordering::Release);
        self.notify();
    }

    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.interrupt();
    }

    /// Called on the loop thread: moves woken task keys into `into`; returns whether
    /// anything was pending and whether a stop was requested.
    pub(crate) fn take(&self, into: &mut Vec<usize>) -> (bool, bool) {
        if !self.pending.load(Ordering::Acquire) || !self.pending.swap(false, Ordering::AcqRel) {
            return (false, false);
        }
        into.append(&mut self.lock());
        (true, self.stop.swap(false, Ordering::AcqRel))
    }
}

/// A `Send + Sync` handle another thread uses to interrupt a blocked poll of a
/// [`Reactor`](super::Reactor), or to ask it to stop.
///
/// A stop request is carried out on the loop thread at its next iteration, exactly like
/// [`Reactor::stop`](super::Reactor::stop): waits in progress return
/// [`LoopError::Stopped`](super::LoopError::Stopped).
///
/// For an embedded reactor the host owns the `mio::Poll` (and its single `mio::Waker`), so a
/// `LoopWaker` cannot interrupt the host's poll: it only flags the request, which the host
/// sees as `next_timeout() == Some(0)` and carries out at its next `run_pending`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use mio_zookeeper::{handler::Reactor, Error, LoopError};
///
/// let reactor = Reactor::new()?;
/// let waker = reactor.loop_waker();
/// let t = std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_millis(20));
///     waker.request_stop();
/// });
/// // Would sleep for a minute; the other thread stops it.
/// let slept = reactor.run_for(Duration::from_secs(60));
/// assert!(matches!(slept, Err(Error::Loop(LoopError::Stopped))));
/// t.join().unwrap();
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LoopWaker {
    pub(crate) remote: Arc<Remote>,
}

impl LoopWaker {
    /// Interrupts a blocked poll: the loop runs one more iteration.
    pub fn wake(&self) {
        self.remote.interrupt();
    }

    /// Asks the loop to stop, and interrupts its poll.
    pub fn request_stop(&self) {
        self.remote.request_stop();
    }
}
