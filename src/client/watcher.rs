//! [`Watcher`]: a watch callback with an identity, so that registering the same watcher
//! again on the same path does not store it twice (the Java client keeps a set of watchers
//! per path; kazoo dedupes by the callable).

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use super::watchers::WatchedEvent;

/// The callback behind a [`Watcher`]: reusable or one-shot.
trait Callback {
    fn call(&self, ev: WatchedEvent);
}

/// A reusable callback (`Fn`).
struct Reusable<F>(F);

impl<F: Fn(WatchedEvent)> Callback for Reusable<F> {
    fn call(&self, ev: WatchedEvent) {
        (self.0)(ev)
    }
}

/// A callback that can run once (`FnOnce`); later calls do nothing.
struct Once<F>(Cell<Option<F>>);

impl<F: FnOnce(WatchedEvent)> Callback for Once<F> {
    fn call(&self, ev: WatchedEvent) {
        if let Some(f) = self.0.take() {
            f(ev)
        }
    }
}

/// A watch callback with an identity: cheap to clone, and every clone is the same watcher.
///
/// **Identity rule.** Two `Watcher`s are the same watcher when one is a clone of the other
/// ([`Watcher::same`]). The client stores a watcher at most once per path and kind of watch
/// (data or exist, child, persistent, persistent recursive), however often it is registered
/// there, and calls it at most once per event, even when it is registered under several
/// kinds that the event triggers (a delete fires data and child watches). Each conversion
/// of a closure makes a **new** watcher: to poll a node with `get(path, &watcher)` without
/// growing the client's watch table, make the watcher once and pass it (or clones of it).
/// The identity is also what [`Client::remove_watcher`](crate::client::Client::remove_watcher)
/// removes: exactly that watcher, not the others on the same path.
///
/// The reads (`get`, `exists`, `get_children`) take their watch as
/// `impl Into<Option<Watcher>>`: `None`, a `Watcher`, or a `&Watcher` (a clone of it). A
/// closure becomes a watcher with [`Watcher::new`] (or [`Watcher::once`] for an `FnOnce`);
/// [`add_watch`](crate::client::Client::add_watch) takes `impl Into<Watcher>`, so a
/// closure `Fn(WatchedEvent)` can be passed there directly.
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let hosts = server.connect_string();
/// use std::{cell::Cell, rc::Rc};
/// use mio_zookeeper::{Client, Watcher};
///
/// let zk = Client::new(&hosts)?;
/// zk.start(None)?;
/// zk.ensure_path("/polled", None)?;
/// let fired = Rc::new(Cell::new(0));
/// let f = fired.clone();
/// let watcher = Watcher::new(move |_event| f.set(f.get() + 1));
/// for _ in 0..10 {
///     zk.get("/polled", &watcher)?;
/// }
/// assert_eq!(zk.watch_count(), 1, "the same watcher on the same path is stored once");
/// zk.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Watcher(Rc<dyn Callback>);

impl Watcher {
    /// A watcher that runs `f` for every event it is told of (it can be registered as a
    /// one-shot watch many times, or as a persistent watch).
    pub fn new<F: Fn(WatchedEvent) + 'static>(f: F) -> Watcher {
        Watcher(Rc::new(Reusable(f)))
    }

    /// A watcher that runs `f` at most once, on the first event it is told of; later events
    /// are ignored. Meant for one-shot watches with a closure that consumes what it
    /// captured; as a persistent watch it would hear only the first event.
    pub fn once<F: FnOnce(WatchedEvent) + 'static>(f: F) -> Watcher {
        Watcher(Rc::new(Once(Cell::new(Some(f)))))
    }

    /// Whether `self` and `other` are the same watcher (one is a clone of the other).
    pub fn same(&self, other: &Watcher) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// Runs the callback with `ev`.
    pub(crate) fn call(&self, ev: WatchedEvent) {
        self.0.call(ev)
    }
}

impl<F: Fn(WatchedEvent) + 'static> From<F> for Watcher {
    /// A new watcher (see [`Watcher::new`]).
    fn from(f: F) -> Watcher {
        Watcher::new(f)
    }
}

impl From<&Watcher> for Watcher {
    /// A clone: the same watcher (see [`Watcher::same`]).
    fn from(w: &Watcher) -> Watcher {
        w.clone()
    }
}

impl From<&Watcher> for Option<Watcher> {
    /// `Some` of a clone: the same watcher (see [`Watcher::same`]), for the reads' watch
    /// argument (`zk.get(path, &watcher)`).
    fn from(w: &Watcher) -> Option<Watcher> {
        Some(w.clone())
    }
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The address names the identity.
        write!(f, "Watcher({:p})", Rc::as_ptr(&self.0).cast::<()>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{EventType, KeeperState};

    fn ev() -> WatchedEvent {
        WatchedEvent {
            event_type: EventType::NodeDataChanged,
            state: KeeperState::SyncConnected,
            path: Some("/a".into()),
        }
    }

    #[test]
    fn clones_are_the_same_watcher_and_conversions_are_new_ones() {
        let f = |_ev: WatchedEvent| ();
        let a = Watcher::new(f);
        let b = a.clone();
        assert!(a.same(&b));
        assert!(!a.same(&Watcher::new(f)));
        assert!(!Watcher::from(f).same(&Watcher::from(f)));
    }

    #[test]
    fn a_once_watcher_runs_once() {
        let hits = Rc::new(Cell::new(0));
        let h = hits.clone();
        let w = Watcher::once(move |_| h.set(h.get() + 1));
        w.call(ev());
        w.clone().call(ev());
        assert_eq!(hits.get(), 1);
        let h = hits.clone();
        let w = Watcher::new(move |_| h.set(h.get() + 1));
        w.call(ev());
        w.call(ev());
        assert_eq!(hits.get(), 3);
    }
}
