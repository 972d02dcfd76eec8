//! What every recipe's engine shares: the client (held weakly), one state listener that
//! turns [`ClientState`] changes into [`Transition`]s, a retry timer with its backoff, and
//! the stopped flag. Nothing here blocks: it all runs from the loop.

use std::cell::Cell;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use crate::handler::{EventLoop, Handler, TimerId};
use crate::{Client, ClientState, ListenerId, WeakClient};

/// The first wait before a failed read is tried again; it doubles up to [`RETRY_MAX`].
pub(crate) const RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest wait between two tries of a failed read.
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(10);

/// What a recipe hears of the client's state, as changes that matter to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// The connection dropped; the session may still be alive (watches kept).
    Suspended,
    /// Back on the same session: watches were re-registered by the client, but a recipe
    /// re-reads what it shows (persistent watches miss what changed meanwhile).
    Reconnected,
    /// The session is gone, and with it every watch (the client told each watcher).
    Lost,
    /// Connected on a new session after a loss: everything must be read and watched again.
    NewSession,
}

/// The shared part of a running recipe. Recipes keep it in an `Rc`.
pub(crate) struct Base<H: Handler> {
    client: WeakClient<H>,
    lp: Rc<dyn EventLoop>,
    stopped: Cell<bool>,
    listener: Cell<Option<ListenerId>>,
    retry: Backoff,
}

impl<H: Handler> Base<H> {
    pub(crate) fn new(client: &Client<H>) -> Rc<Base<H>> {
        Rc::new(Base {
            client: client.downgrade(),
            lp: client.handler().event_loop(),
            stopped: Cell::new(false),
            listener: Cell::new(None),
            retry: Backoff::new(client.handler().event_loop(), RETRY_FIRST, RETRY_MAX),
        })
    }

    /// The client, unless the recipe was stopped or the last client handle is gone.
    pub(crate) fn client(&self) -> Option<Client<H>> {
        if self.stopped.get() {
            return None;
        }
        self.client.upgrade()
    }

    /// The client, if a handle still exists, even after [`stop`](Self::stop) (to remove
    /// what a late reply registered).
    pub(crate) fn client_even_stopped(&self) -> Option<Client<H>> {
        self.client.upgrade()
    }

    /// The loop the recipe runs on.
    pub(crate) fn event_loop(&self) -> &Rc<dyn EventLoop> {
        &self.lp
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.get()
    }

    /// Registers the recipe's one state listener (replacing an earlier one): `f` hears
    /// each [`Transition`], from the loop, until [`stop`](Self::stop).
    pub(crate) fn listen(self: &Rc<Self>, f: impl Fn(Transition) + 'static) {
        let Some(client) = self.client() else { return };
        let last = Cell::new(client.state());
        // A loss is remembered until the next CONNECTED, which then starts a new session
        // even if SUSPENDED came in between.
        let lost = Cell::new(last.get() == ClientState::Lost);
        let base = Rc::downgrade(self);
        let id = client.add_listener(move |state| {
            let Some(base) = base.upgrade() else { return };
            if base.is_stopped() || state == last.replace(state) {
                return;
            }
            let t = match state {
                ClientState::Suspended => Transition::Suspended,
                ClientState::Lost => {
                    lost.set(true);
                    Transition::Lost
                }
                ClientState::Connected if lost.replace(false) => Transition::NewSession,
                ClientState::Connected => Transition::Reconnected,
            };
            f(t)
        });
        if let Some(old) = self.listener.replace(Some(id)) {
            client.remove_listener(old);
        }
    }

    /// Runs `f` once the current backoff has passed (100 ms, doubling up to 10 s), unless
    /// the recipe is stopped by then. A retry already waiting is replaced.
    pub(crate) fn retry_later(self: &Rc<Self>, f: impl FnOnce() + 'static) {
        let base: Weak<Self> = Rc::downgrade(self);
        self.retry.later(move || {
            if base.upgrade().is_some_and(|b| !b.is_stopped()) {
                f()
            }
        });
    }

    /// A read succeeded: the next failure waits the shortest backoff again.
    pub(crate) fn succeeded(&self) {
        self.retry.reset();
    }

    /// Stops the recipe: no more transitions, no pending retry. Returns the client (if it
    /// still exists) so the caller can remove what it registered; `None` if already
    /// stopped or the client is gone.
    pub(crate) fn stop(&self) -> Option<Client<H>> {
        let client = self.client();
        self.stopped.set(true);
        self.retry.cancel();
        if let Some(id) = self.listener.take() {
            if let Some(c) = self.client.upgrade() {
                c.remove_listener(id);
            }
        }
        client
    }
}

/// A backoff on the loop's timer: each [`later`](Self::later) waits the current delay, which
/// then doubles up to a maximum; at most one call waits at a time (a new one replaces it).
/// The recipes' retries ([`Base::retry_later`]) and the protected create's share it.
pub(crate) struct Backoff {
    lp: Rc<dyn EventLoop>,
    first: Duration,
    max: Duration,
    next: Cell<Duration>,
    pending: Rc<Cell<Option<TimerId>>>,
}

impl Backoff {
    pub(crate) fn new(lp: Rc<dyn EventLoop>, first: Duration, max: Duration) -> Backoff {
        Backoff {
            lp,
            first,
            max,
            next: Cell::new(first),
            pending: Rc::new(Cell::new(None)),
        }
    }

    /// Runs `f` once the current delay has passed, replacing a call still waiting.
    pub(crate) fn later(&self, f: impl FnOnce() + 'static) {
        let wait = self.next.get();
        self.next.set((wait * 2).min(self.max));
        let pending = self.pending.clone();
        let id = self.lp.set_timer(
            self.lp.now() + wait,
            Box::new(move || {
                pending.set(None);
                f()
            }),
        );
        if let Some(old) = self.pending.replace(Some(id)) {
            self.lp.cancel_timer(old);
        }
    }

    /// The next wait is the first delay again.
    pub(crate) fn reset(&self) {
        self.next.set(self.first);
    }

    /// Cancels the call waiting, if any.
    pub(crate) fn cancel(&self) {
        if let Some(id) = self.pending.take() {
            self.lp.cancel_timer(id);
        }
    }
}

/// `after` from now on `lp`'s clock, or `None` when that is further than an `Instant` can
/// hold: a duration that long (`Duration::MAX`, say) means no deadline, never a panic.
pub(crate) fn deadline_after(lp: &dyn EventLoop, after: Duration) -> Option<Instant> {
    lp.now().checked_add(after)
}

/// `after` from now on `lp`'s clock; a duration too long to add is a century away (for a
/// wait, the same as none), never a panic.
pub(crate) fn instant_after(lp: &dyn EventLoop, after: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    deadline_after(lp, after)
        .or_else(|| deadline_after(lp, CENTURY))
        .unwrap_or_else(|| lp.now())
}

/// A timer that, `after` from now, calls `fire` on `owner` if it still lives (the timer
/// holds it weakly). `None`, and no timer, when `after` is too long to be a deadline.
pub(crate) fn timer_on<T: 'static>(
    lp: &Rc<dyn EventLoop>,
    after: Duration,
    owner: &Rc<T>,
    fire: impl FnOnce(&Rc<T>) + 'static,
) -> Option<TimerId> {
    let at = deadline_after(&**lp, after)?;
    let weak = Rc::downgrade(owner);
    Some(lp.set_timer(
        at,
        Box::new(move || {
            if let Some(owner) = weak.upgrade() {
                fire(&owner)
            }
        }),
    ))
}
