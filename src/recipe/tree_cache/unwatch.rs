//! Taking a closed cache's watcher off every path it was left on, a few hundred removals
//! at a time: a cache of 100 000 nodes holds its watcher on every one of them, and the
//! client refuses more than `max_queued_requests` waiting requests.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::{Handler, Watcher, WatcherType, WeakClient, WhenOffline};

/// How many removals may wait for their answer at once (each is one or two requests).
const MAX_IN_FLIGHT: usize = 500;

/// The paths still to clear of `watcher`, and the removals under way.
pub(super) struct Unwatcher<H: Handler> {
    client: WeakClient<H>,
    watcher: Watcher,
    todo: RefCell<Vec<(String, WatcherType)>>,
    in_flight: Cell<usize>,
}

impl<H: Handler> Unwatcher<H> {
    pub(super) fn new(client: WeakClient<H>, watcher: Watcher) -> Rc<Unwatcher<H>> {
        Rc::new(Unwatcher {
            client,
            watcher,
            todo: RefCell::new(Vec::new()),
            in_flight: Cell::new(0),
        })
    }

    /// Removes the watcher's watches of each kind from each path (server side too; only
    /// locally while disconnected), as room allows.
    pub(super) fn remove(
        self: &Rc<Self>,
        watches: impl IntoIterator<Item = (String, WatcherType)>,
    ) {
        self.todo.borrow_mut().extend(watches);
        self.pump();
    }

    fn pump(self: &Rc<Self>) {
        let Some(client) = self.client.upgrade() else {
            self.todo.borrow_mut().clear();
            return;
        };
        while self.in_flight.get() < MAX_IN_FLIGHT {
            let Some((path, kind)) = self.todo.borrow_mut().pop() else {
                break;
            };
            // Not registered there (it fired, or the read failed): nothing is sent.
            let r =
                client.remove_watcher_async(&path, kind, &self.watcher, WhenOffline::RemoveLocally);
            self.in_flight.set(self.in_flight.get() + 1);
            let me = self.clone();
            r.rawlink(move |r| {
                if let Some(e) = r.exception() {
                    log::debug!("TreeCache: removing the watch on {path}: {e}");
                }
                me.in_flight.set(me.in_flight.get() - 1);
                me.pump();
            });
        }
    }
}
