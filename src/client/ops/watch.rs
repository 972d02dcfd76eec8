//! Persistent watches and watch removal: add_watch, remove_watches.

use std::rc::Rc;

use super::super::driver::Shared;
use super::super::watchers::{PendingKind, PendingWatcher, Withdraw};
use super::super::{Client, WatchedEvent, Watcher};
use crate::async_result::AsyncResult;
use crate::client::hosts::unchroot;
use crate::error::Error;
use crate::handler::Handler;
use crate::proto::{
    AddWatchMode, AddWatchRequest, ErrorCode, Request, WatcherType, WatchesRequest,
};

impl<H: Handler> Client<H> {
    /// Adds a persistent watch (`recursive`: on the node and every descendant), ZooKeeper
    /// 3.6+. `watcher` is called for every event until the watch is removed; the watch is
    /// re-registered after reconnects. ZooKeeper re-adds persistent watches without replaying
    /// the changes made while the client was disconnected, so after every reconnect of the
    /// same session the watcher gets a [`WatchedEvent`] with
    /// [`EventType::None`](crate::proto::EventType::None), state SyncConnected and the
    /// watch's path: "you may have missed changes, re-read what matters" (the Java client
    /// likewise tells every watcher of connection changes).
    ///
    /// The same [`Watcher`] added again on the path (same kind) is stored once. If the call
    /// fails on its per-call timeout, the watcher is not registered, even when the reply
    /// comes later.
    pub fn add_watch<W: Into<Watcher>>(
        &self,
        path: &str,
        recursive: bool,
        watcher: W,
    ) -> Result<(), Error> {
        let watcher = watcher.into();
        self.blocking_watch("Client::add_watch", |withdraw| {
            self.add_watch_impl(path, recursive, (watcher, Some(withdraw)))
        })
    }

    /// Async form of [`add_watch`](Self::add_watch).
    pub fn add_watch_async<W: Into<Watcher>>(
        &self,
        path: &str,
        recursive: bool,
        watcher: W,
    ) -> AsyncResult<()> {
        self.add_watch_impl(path, recursive, (watcher.into(), None))
    }

    fn add_watch_impl(
        &self,
        path: &str,
        recursive: bool,
        watcher: (Watcher, Option<Withdraw>),
    ) -> AsyncResult<()> {
        let full = or_fail!(self, self.path(path, false));
        let (mode, kind) = if recursive {
            (AddWatchMode::PersistentRecursive, PendingKind::Recursive)
        } else {
            (AddWatchMode::Persistent, PendingKind::Persistent)
        };
        let pending = PendingWatcher::of(kind, &full, Some(watcher));
        self.submit(
            Request::AddWatch(AddWatchRequest {
                path: full,
                mode: mode as i32,
            }),
            "addWatch",
            pending,
            |res| res.map(|_| ()),
        )
    }

    /// Removes this client's watches of `kind` on `path` from the server; each removed
    /// watcher is called once with a removal event. With `local`, when the server cannot be
    /// reached they are removed on this side only (and not re-registered).
    ///
    /// # Notable errors
    ///
    /// - [`ErrorCode::NoWatcher`] (in [`Error::ZooKeeper`]): the server holds no watch of
    ///   that kind on the path for this session. Watchers of that kind this client still
    ///   had there (whose server side was lost) are removed all the same, each told with
    ///   its removal event: they would otherwise wait for events that never come.
    pub fn remove_watches(&self, path: &str, kind: WatcherType, local: bool) -> Result<(), Error> {
        self.blocking("Client::remove_watches", || {
            self.remove_watches_async(path, kind, local)
        })
    }

    /// Async form of [`remove_watches`](Self::remove_watches).
    pub fn remove_watches_async(
        &self,
        path: &str,
        kind: WatcherType,
        local: bool,
    ) -> AsyncResult<()> {
        let full = or_fail!(self, self.path(path, false));
        if local && !self.connected() {
            if let Some(s) = self.shared.borrow_mut().session.as_mut() {
                s.remove_watches_locally(&full, kind);
            }
            fire_removed(&self.shared, &full, kind);
            let r = self.handler.async_result();
            let _ = r.set(());
            return r;
        }
        // Weak: a pending request does not keep the client alive.
        let weak = Rc::downgrade(&self.shared);
        let full2 = full.clone();
        self.submit(
            Request::RemoveWatches(WatchesRequest {
                path: full,
                watcher_type: kind as i32,
            }),
            "removeWatches",
            None,
            move |res| {
                // Removed, or none there on the server (NoWatcher): either way the server
                // holds none of these watches now, so the local watchers go too (the
                // session forgets them in both cases as well).
                let no_watcher = matches!(
                    &res,
                    Err(Error::ZooKeeper {
                        code: ErrorCode::NoWatcher,
                        ..
                    })
                );
                if res.is_ok() || no_watcher {
                    if let Some(shared) = weak.upgrade() {
                        fire_removed(&shared, &full2, kind);
                    }
                }
                res.map(|_| ())
            },
        )
    }
}

/// Removes the local watchers of `kind` on server path `full` and queues each one's removal
/// event.
fn fire_removed(shared: &Shared, full: &str, kind: WatcherType) {
    let (reactor, removed, path) = {
        let mut core = shared.borrow_mut();
        let removed = core.watchers.remove(full, kind);
        (
            core.reactor.clone(),
            removed,
            unchroot(core.chroot.as_deref(), full),
        )
    };
    for (f, t) in removed {
        let ev = WatchedEvent {
            event_type: t,
            state: crate::proto::KeeperState::SyncConnected,
            path: Some(path.clone()),
        };
        reactor.dispatch_watch(move || f.call(ev));
    }
}
