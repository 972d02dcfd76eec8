//! The engine of the barriers' waits: a step of reads run again on every watch event and on
//! every reconnect, until it sets the result or the one deadline passes; at the end every
//! watcher, the state listener and the timer it registered are removed.

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::base::{timer_on, Backoff, Base, Transition};
use crate::handler::{Handler, TimerId};
use crate::{AsyncResult, Client, Error, WatchedEvent, Watcher, WatcherType, WhenOffline};

type Step<H, T> = Rc<dyn Fn(&Rc<Wait<H, T>>)>;

/// One wait (or one retried operation) on the loop.
pub(crate) struct Wait<H: Handler, T: 'static> {
    pub(crate) base: Rc<Base<H>>,
    pub(crate) out: AsyncResult<T>,
    watcher: OnceCell<Watcher>,
    /// Paths the watcher was registered on (removed from each at the end).
    watched: RefCell<Vec<String>>,
    deadline: Cell<Option<TimerId>>,
    step: OnceCell<Step<H, T>>,
    running: Cell<bool>,
    again: Cell<bool>,
    /// The client came back on a new session since the step last looked (the step clears it).
    pub(crate) new_session: Cell<bool>,
}

impl<H: Handler, T: 'static> Wait<H, T> {
    /// Starts `step` now; it runs again after each watch event and reconnect (never two at
    /// once). At `timeout` the result is set to `on_timeout()`.
    pub(crate) fn start(
        client: &Client<H>,
        timeout: Option<Duration>,
        on_timeout: impl FnOnce() -> Result<T, Error> + 'static,
        step: impl Fn(&Rc<Wait<H, T>>) + 'static,
    ) -> AsyncResult<T> {
        let out = client.handler().async_result();
        let w = Rc::new(Wait {
            base: Base::new(client),
            out: out.clone(),
            watcher: OnceCell::new(),
            watched: RefCell::new(Vec::new()),
            deadline: Cell::new(None),
            step: OnceCell::new(),
            running: Cell::new(false),
            again: Cell::new(false),
            new_session: Cell::new(false),
        });
        let _ = w.step.set(Rc::new(step));
        let weak: Weak<Self> = Rc::downgrade(&w);
        let _ = w.watcher.set(Watcher::new(move |_ev: WatchedEvent| {
            if let Some(w) = weak.upgrade() {
                w.wake();
            }
        }));
        let weak: Weak<Self> = Rc::downgrade(&w);
        w.base.listen(move |t| {
            let Some(w) = weak.upgrade() else { return };
            match t {
                Transition::Reconnected => w.wake(),
                Transition::NewSession => {
                    w.new_session.set(true);
                    w.wake()
                }
                Transition::Suspended | Transition::Lost => {}
            }
        });
        if let Some(t) = timeout {
            w.deadline.set(timer_on(w.base.event_loop(), t, &w, |w| {
                w.deadline.set(None);
                w.finish(on_timeout());
            }));
        }
        // The result's link keeps the wait alive until it is set (by us or by the caller).
        let strong = w.clone();
        out.rawlink(move |_| strong.end());
        w.wake();
        out
    }

    /// Runs the step (again, once the one running is idle).
    pub(crate) fn wake(self: &Rc<Self>) {
        if self.out.ready() {
            return;
        }
        if self.running.replace(true) {
            self.again.set(true);
            return;
        }
        if let Some(step) = self.step.get().cloned() {
            step(self)
        }
    }

    /// The step is waiting (for its watch or a reconnect).
    pub(crate) fn idle(self: &Rc<Self>) {
        self.running.set(false);
        if self.again.take() {
            self.wake();
        }
    }

    /// The step failed on the connection: it runs again after a backoff (or at a reconnect).
    pub(crate) fn retry(self: &Rc<Self>) {
        self.running.set(false);
        let weak = Rc::downgrade(self);
        self.base.retry_later(move || {
            if let Some(w) = weak.upgrade() {
                w.wake()
            }
        });
    }

    /// The watcher, to pass to a read on `path`; it is removed from `path` at the end.
    pub(crate) fn watch(&self, path: &str) -> Option<Watcher> {
        let mut watched = self.watched.borrow_mut();
        if !watched.iter().any(|p| p == path) {
            watched.push(path.to_string());
        }
        self.watcher.get().cloned()
    }

    pub(crate) fn client(&self) -> Option<Client<H>> {
        self.base.client()
    }

    pub(crate) fn finish(&self, res: Result<T, Error>) {
        let _ = self.out.set_result(res);
    }

    /// Called first by the reply of a read that passed [`watch`](Self::watch)`(path)`:
    /// `true` if the wait ended meanwhile, and then the watcher that the reply registered
    /// is removed (the removal at the end ran before it existed).
    pub(crate) fn ended(&self, path: &str) -> bool {
        if !self.out.ready() {
            return false;
        }
        if let Some(client) = self.base.client_even_stopped() {
            self.unwatch(&client, path);
        }
        true
    }

    fn unwatch(&self, client: &Client<H>, path: &str) {
        if let Some(w) = self.watcher.get() {
            // A watch that fired (or was never set) is not registered: NoWatcher is fine.
            client
                .remove_watcher_async(path, WatcherType::Data, w, WhenOffline::RemoveLocally)
                .rawlink(|_| {});
        }
    }

    /// The result is set: remove the timer, the listener and every watcher registered.
    fn end(&self) {
        if let Some(id) = self.deadline.take() {
            self.base.event_loop().cancel_timer(id);
        }
        let Some(client) = self.base.stop() else {
            return;
        };
        for path in self.watched.take() {
            self.unwatch(&client, &path);
        }
    }
}

/// Deletes `path` in the background until that succeeds, the node is gone (an ephemeral
/// goes with its session), or the client stops.
pub(crate) fn delete_in_background<H: Handler>(client: &Client<H>, path: String) {
    let backoff = Rc::new(Backoff::new(
        client.handler().event_loop(),
        Duration::from_millis(50),
        Duration::from_secs(1),
    ));
    delete_step(client.downgrade(), path, backoff);
}

fn delete_step<H: Handler>(client: crate::WeakClient<H>, path: String, backoff: Rc<Backoff>) {
    let Some(c) = client.upgrade() else { return };
    c.delete_async(&path, None)
        .rawlink(move |r| match r.get_nowait() {
            Ok(()) => {}
            Err(e) if e.is_no_node() || e.is_session_expired() => {}
            Err(e) if e.is_retryable() => {
                let b = backoff.clone();
                b.later(move || delete_step(client, path, backoff));
            }
            Err(e) => log::warn!("could not delete {path}: {e}"),
        });
}

/// A failure on the connection after which the same read may succeed.
pub(crate) fn transient(e: &Error) -> bool {
    e.is_retryable() || e.is_session_expired()
}

/// A result already failed with `e`.
pub(crate) fn failed<H: Handler, T: 'static>(handler: &H, e: Error) -> AsyncResult<T> {
    let r = handler.async_result();
    let _ = r.set_exception(e);
    r
}

/// Creates `path` (and its missing parents) as kazoo's `ensure_path` does, but with `data`
/// (kazoo writes empty data, not null: kazoo's recipes fail reading a null value). An
/// existing node is success.
pub(crate) fn ensure_node<H: Handler>(
    client: &Client<H>,
    path: &str,
    data: Vec<u8>,
    done: impl FnOnce(Result<(), Error>) + 'static,
) {
    let opts = crate::CreateOptions::mode(crate::CreateMode::Persistent).with_makepath();
    client
        .create_async(path, data, opts)
        .rawlink(move |r| match r.get_nowait() {
            Ok(_) => done(Ok(())),
            Err(e) if e.is_node_exists() => done(Ok(())),
            Err(e) => done(Err(e)),
        });
}
