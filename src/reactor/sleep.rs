//! [`Sleep`]: a future completing at a deadline, on a reactor's timers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll as TaskPoll};
use std::time::Instant;

use super::{TimerAction, TimerId, WeakReactor};

/// A future completing at a deadline, driven by a reactor's timers; see
/// [`Reactor::sleep_async`](super::Reactor::sleep_async).
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    pub(super) reactor: WeakReactor,
    pub(super) deadline: Instant,
    pub(super) timer: Option<TimerId>,
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Sleep {
    /// When it completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> TaskPoll<()> {
        let Some(reactor) = self.reactor.upgrade() else {
            return TaskPoll::Ready(()); // nothing could ever fire it
        };
        if Instant::now() >= self.deadline {
            if let Some(id) = self.timer.take() {
                reactor.cancel_timer(id);
            }
            return TaskPoll::Ready(());
        }
        let mut timers = reactor.inner.timers.borrow_mut();
        let old = match self.timer.and_then(|id| timers.get_mut(id)) {
            Some(TimerAction::Wake(w)) if w.will_wake(cx.waker()) => None,
            Some(action) => Some(std::mem::replace(
                action,
                TimerAction::Wake(cx.waker().clone()),
            )),
            None => {
                let id = timers.insert(self.deadline, TimerAction::Wake(cx.waker().clone()));
                self.timer = Some(id);
                None
            }
        };
        drop(timers);
        drop(old);
        TaskPoll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (Some(id), Some(r)) = (self.timer, self.reactor.upgrade()) {
            r.cancel_timer(id);
        }
    }
}
