//! Persistent watches and watch removal: add_watch (with the [`WatchRegistration`] that
//! removes exactly its watcher), remove_watcher (exactly one watcher, one-shot or
//! persistent), remove_watches (every watcher of a kind on a path).
//!
//! The server holds one watch per path and kind for the whole session, whatever number of
//! watchers this client hangs on it; removing one watcher therefore tells the server only
//! when it was the last of its kind on the path.

use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::super::driver::{Core, Shared};
use super::super::watchers::{PendingKind, PendingWatcher, Withdraw};
use super::super::{Client, ClientBuilder, WatchedEvent, Watcher};
use crate::async_result::AsyncResult;
use crate::client::hosts::unchroot;
use crate::error::Error;
use crate::handler::{Handler, MioHandler};
use crate::proto::{
    AddWatchMode, AddWatchRequest, ErrorCode, KeeperState, Request, WatcherType, WatchesRequest,
};
use crate::ZkError;

/// What a watch removal does while the server cannot be reached (the Java client's `local`
/// flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenOffline {
    /// The removal waits for the connection, as every request does, and goes to the server
    /// after the reconnect.
    #[default]
    Wait,
    /// The watchers are removed on this side at once (each told with its removal event) and
    /// their watch is not re-registered after the reconnect. Connected, the removal goes to
    /// the server as with [`Wait`](WhenOffline::Wait).
    RemoveLocally,
}

/// A persistent watch added by [`Client::add_watch`]: [`remove`](Self::remove) removes
/// exactly this watcher from its path, and tells the server only if no other watcher of
/// this client uses the same persistent watch there.
///
/// It refers to the client weakly: keeping it (even inside the watcher itself) does not
/// keep the client or its session alive. Dropping it leaves the watch in place.
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let hosts = server.connect_string();
/// use mio_zookeeper::{AddWatchMode, Client};
///
/// let zk = Client::new(&hosts)?;
/// zk.start(None)?;
/// let audit = zk.add_watch("/app", AddWatchMode::PersistentRecursive, |ev| println!("audit {ev:?}"))?;
/// let cache = zk.add_watch("/app", AddWatchMode::PersistentRecursive, |ev| println!("cache {ev:?}"))?;
/// audit.remove()?; // the cache watcher still hears every change under /app
/// assert_eq!(zk.watch_count(), 1);
/// cache.remove()?; // the last one: the server's watch goes too
/// assert_eq!(zk.watch_count(), 0);
/// zk.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WatchRegistration<H: Handler = MioHandler> {
    shared: Weak<RefCell<Core>>,
    handler: H,
    config: Rc<ClientBuilder<H>>,
    timeout: Option<Option<Duration>>,
    path: String,
    kind: WatcherType,
    watcher: Watcher,
}

impl<H: Handler> WatchRegistration<H> {
    /// The watched path (as given to `add_watch`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The kind of watch: [`WatcherType::Persistent`] or
    /// [`WatcherType::PersistentRecursive`].
    pub fn kind(&self) -> WatcherType {
        self.kind
    }

    /// The watcher (the same watcher: [`Watcher::same`] holds).
    pub fn watcher(&self) -> &Watcher {
        &self.watcher
    }

    /// Removes this watcher ([`Client::remove_watcher`] with [`WhenOffline::Wait`]); it
    /// hears a `PersistentWatchRemoved` event. Fails with [`ErrorCode::NoWatcher`] (in
    /// [`Error::ZooKeeper`]) if it was already removed, and with
    /// [`Error::ConnectionClosed`] once the client is gone.
    pub fn remove(&self) -> Result<(), Error> {
        match self.client() {
            Some(c) => c.remove_watcher(&self.path, self.kind, &self.watcher, WhenOffline::Wait),
            None => Err(Error::ConnectionClosed),
        }
    }

    /// Async form of [`remove`](Self::remove).
    pub fn remove_async(&self) -> AsyncResult<()> {
        match self.client() {
            Some(c) => {
                c.remove_watcher_async(&self.path, self.kind, &self.watcher, WhenOffline::Wait)
            }
            None => {
                let r = self.handler.async_result();
                let _ = r.set_exception(Error::ConnectionClosed);
                r
            }
        }
    }

    /// The library's own copy of the client, while its core exists.
    fn client(&self) -> Option<Client<H>> {
        Some(Client {
            shared: self.shared.upgrade()?,
            handler: self.handler.clone(),
            config: self.config.clone(),
            timeout: self.timeout,
            handle: None,
        })
    }
}

impl<H: Handler> Clone for WatchRegistration<H> {
    fn clone(&self) -> Self {
        WatchRegistration {
            shared: self.shared.clone(),
            handler: self.handler.clone(),
            config: self.config.clone(),
            timeout: self.timeout,
            path: self.path.clone(),
            kind: self.kind,
            watcher: self.watcher.clone(),
        }
    }
}

impl<H: Handler> fmt::Debug for WatchRegistration<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchRegistration")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("watcher", &self.watcher)
            .finish()
    }
}

impl<H: Handler> Client<H> {
    /// Adds a persistent watch (ZooKeeper 3.6+): `mode` says on what
    /// ([`AddWatchMode::Persistent`]: the node; [`AddWatchMode::PersistentRecursive`]: the
    /// node and every descendant). `watcher` (a [`Watcher`], or a closure that becomes a
    /// new one) is called for every event until removed; the watch is re-registered after
    /// reconnects. ZooKeeper re-adds persistent watches without replaying the changes made
    /// while the client was disconnected, so after every reconnect of the same session the
    /// watcher gets a [`WatchedEvent`] with
    /// [`EventType::None`](crate::proto::EventType::None), state SyncConnected and the
    /// watch's path: "you may have missed changes, re-read what matters" (the Java client
    /// likewise tells every watcher of connection changes).
    ///
    /// Returns the [`WatchRegistration`] that removes exactly this watcher. The same
    /// [`Watcher`] added again on the path (same mode) is stored once. If the call fails on
    /// its per-call timeout, the watcher is not registered, even when the reply comes later.
    pub fn add_watch(
        &self,
        path: &str,
        mode: AddWatchMode,
        watcher: impl Into<Watcher>,
    ) -> Result<WatchRegistration<H>, Error> {
        let watcher = watcher.into();
        self.blocking_watch("Client::add_watch", |withdraw| {
            self.add_watch_impl(path, mode, (watcher, Some(withdraw)))
        })
    }

    /// Async form of [`add_watch`](Self::add_watch).
    pub fn add_watch_async(
        &self,
        path: &str,
        mode: AddWatchMode,
        watcher: impl Into<Watcher>,
    ) -> AsyncResult<WatchRegistration<H>> {
        self.add_watch_impl(path, mode, (watcher.into(), None))
    }

    fn add_watch_impl(
        &self,
        path: &str,
        mode: AddWatchMode,
        watcher: (Watcher, Option<Withdraw>),
    ) -> AsyncResult<WatchRegistration<H>> {
        let full = or_fail!(self, self.path(path, false));
        let (kind, pending_kind) = match mode {
            AddWatchMode::Persistent => (WatcherType::Persistent, PendingKind::Persistent),
            AddWatchMode::PersistentRecursive => {
                (WatcherType::PersistentRecursive, PendingKind::Recursive)
            }
        };
        let registration = WatchRegistration {
            shared: Rc::downgrade(&self.shared),
            handler: self.handler.clone(),
            config: self.config.clone(),
            timeout: self.timeout,
            path: path.to_string(),
            kind,
            watcher: watcher.0.clone(),
        };
        let pending = PendingWatcher::of(pending_kind, &full, Some(watcher));
        self.submit(
            Request::AddWatch(AddWatchRequest {
                path: full,
                mode: mode as i32,
            }),
            "addWatch",
            pending,
            move |res| res.map(|_| registration),
        )
    }

    /// Removes exactly `watcher` from its watches of `kind` on `path` (one-shot ones left
    /// by [`get`](Self::get), [`exists`](Self::exists) (both `Data`) or
    /// [`get_children`](Self::get_children) (`Children`), or persistent ones; `Any`: all
    /// of them); the client's other watchers there stay. The watcher hears its removal
    /// event (`DataWatchRemoved`, `ChildWatchRemoved`, `PersistentWatchRemoved`).
    ///
    /// The server is told (removeWatches) only for a kind of watch that loses its last
    /// watcher on the path; otherwise the removal is local and completes at once. A 3.8
    /// server cannot remove a persistent watch by its type (ZOOKEEPER-4466): the removal
    /// then uses `Any` when no other watcher of this client is on the path, and otherwise
    /// stops listening locally (the server keeps sending that watch's events, which nobody
    /// hears).
    ///
    /// # Notable errors
    ///
    /// - [`ErrorCode::NoWatcher`] (in [`Error::ZooKeeper`]): `watcher` is not registered
    ///   on `path` under `kind` (nothing is sent), or the server had lost the watch (the
    ///   watcher is removed all the same).
    pub fn remove_watcher(
        &self,
        path: &str,
        kind: WatcherType,
        watcher: &Watcher,
        offline: WhenOffline,
    ) -> Result<(), Error> {
        self.blocking("Client::remove_watcher", || {
            self.remove_watcher_async(path, kind, watcher, offline)
        })
    }

    /// Async form of [`remove_watcher`](Self::remove_watcher).
    pub fn remove_watcher_async(
        &self,
        path: &str,
        kind: WatcherType,
        watcher: &Watcher,
        offline: WhenOffline,
    ) -> AsyncResult<()> {
        let full = or_fail!(self, self.path(path, false));
        let plan: Vec<(WatcherType, bool)> = {
            let core = self.shared.borrow();
            core.watchers
                .plan_remove_one(&full, kind, watcher)
                .into_iter()
                // A registration still in flight on the path needs the server's watch too:
                // the server sets it when it answers, so removing it now would leave that
                // watcher registered here and deaf.
                .map(|(k, last)| (k, last && !core.pending.registers(&full, k, watcher)))
                .collect()
        };
        if plan.is_empty() {
            return self.failed(Error::ZooKeeper(ZkError {
                code: ErrorCode::NoWatcher,
                path: path.to_string(),
            }));
        }
        let mut server = Vec::new();
        for (k, last) in plan {
            if last {
                server.push(k);
            } else {
                // Other watchers still need the server's watch: a local removal.
                fire_one(&self.shared, &full, k, watcher);
            }
        }
        if offline == WhenOffline::RemoveLocally && !self.connected() {
            for k in server.drain(..) {
                if let Some(s) = self.shared.borrow_mut().session.as_mut() {
                    s.remove_watches_locally(&full, k);
                }
                fire_one(&self.shared, &full, k, watcher);
            }
        }
        let mut sent: Vec<AsyncResult<()>> = server
            .into_iter()
            .map(|k| self.remove_last_watcher(&full, k, watcher))
            .collect();
        match sent.len() {
            0 => {
                let r = self.handler.async_result();
                let _ = r.set(());
                r
            }
            1 => sent.remove(0),
            _ => {
                let out = self.handler.async_result();
                let o = out.clone();
                self.handler.spawn_future(async move {
                    let mut res = Ok(());
                    for r in sent {
                        let one = r.await;
                        if res.is_ok() {
                            res = one;
                        }
                    }
                    let _ = o.set_result(res);
                });
                out
            }
        }
    }

    /// Removes `w`, the last watcher of single kind `k` on server path `full`, on the
    /// server too; `w` hears its removal once the server's watch is gone.
    fn remove_last_watcher(&self, full: &str, k: WatcherType, w: &Watcher) -> AsyncResult<()> {
        let this = self.internal();
        let (full, w) = (full.to_string(), w.clone());
        let first = self.remove_request(&full, k);
        let out = self.handler.async_result();
        let o = out.clone();
        self.handler.spawn_future(async move {
            let mut res = first.await;
            let persistent = matches!(
                k,
                WatcherType::Persistent | WatcherType::PersistentRecursive
            );
            if persistent && is_code(&res, ErrorCode::MarshallingError) {
                // A server before 3.9 cannot decode this type (ZOOKEEPER-4466).
                let others = this.shared.borrow().watchers.others_on(&full, k, &w);
                if others {
                    // Any would remove the other watchers' watches too: stop listening
                    // here only; the session does not re-register the watch.
                    if let Some(s) = this.shared.borrow_mut().session.as_mut() {
                        s.remove_watches_locally(&full, k);
                    }
                    res = Ok(());
                } else {
                    res = this.remove_request(&full, WatcherType::Any).await;
                }
            }
            // Removed, or none there on the server (NoWatcher): either way the server
            // holds no such watch now, so the watcher goes too.
            if res.is_ok() || is_code(&res, ErrorCode::NoWatcher) {
                fire_one(&this.shared, &full, k, &w);
            }
            let _ = o.set_result(res);
        });
        out
    }

    fn remove_request(&self, full: &str, k: WatcherType) -> AsyncResult<()> {
        self.submit(
            Request::RemoveWatches(WatchesRequest {
                path: full.to_string(),
                watcher_type: k as i32,
            }),
            "removeWatches",
            None,
            |res| res.map(|_| ()),
        )
    }

    /// Removes every watcher of this client of `kind` on `path`, on the server too; each
    /// removed watcher is called once with its removal event. `offline` says what happens
    /// while the server cannot be reached. To remove one watcher and keep the others, see
    /// [`remove_watcher`](Self::remove_watcher).
    ///
    /// # Notable errors
    ///
    /// - [`ErrorCode::NoWatcher`] (in [`Error::ZooKeeper`]): the server holds no watch of
    ///   that kind on the path for this session. Watchers of that kind this client still
    ///   had there (whose server side was lost) are removed all the same, each told with
    ///   its removal event: they would otherwise wait for events that never come.
    pub fn remove_watches(
        &self,
        path: &str,
        kind: WatcherType,
        offline: WhenOffline,
    ) -> Result<(), Error> {
        self.blocking("Client::remove_watches", || {
            self.remove_watches_async(path, kind, offline)
        })
    }

    /// Async form of [`remove_watches`](Self::remove_watches).
    pub fn remove_watches_async(
        &self,
        path: &str,
        kind: WatcherType,
        offline: WhenOffline,
    ) -> AsyncResult<()> {
        let full = or_fail!(self, self.path(path, false));
        if offline == WhenOffline::RemoveLocally && !self.connected() {
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
                if res.is_ok() || is_code(&res, ErrorCode::NoWatcher) {
                    if let Some(shared) = weak.upgrade() {
                        fire_removed(&shared, &full2, kind);
                    }
                }
                res.map(|_| ())
            },
        )
    }
}

fn is_code<T>(res: &Result<T, Error>, code: ErrorCode) -> bool {
    matches!(res, Err(Error::ZooKeeper(ZkError { code: c, .. })) if *c == code)
}

/// Removes the local watchers of `kind` on server path `full` and queues each one's removal
/// event.
fn fire_removed(shared: &Shared, full: &str, kind: WatcherType) {
    let (lp, removed, path) = {
        let mut core = shared.borrow_mut();
        let removed = core.watchers.remove(full, kind);
        (
            core.event_loop.clone(),
            removed,
            unchroot(core.chroot.as_deref(), full),
        )
    };
    for (f, t) in removed {
        let ev = WatchedEvent {
            event_type: t,
            state: KeeperState::SyncConnected,
            path: Some(path.clone()),
        };
        lp.dispatch_watch(move || f.call(ev));
    }
}

/// Removes `w` alone from the watches of single kind `k` on server path `full` and queues
/// its removal event (if it was there).
fn fire_one(shared: &Shared, full: &str, k: WatcherType, w: &Watcher) {
    let (lp, removal, path) = {
        let mut core = shared.borrow_mut();
        let removal = core.watchers.remove_one(full, k, w);
        (
            core.event_loop.clone(),
            removal,
            unchroot(core.chroot.as_deref(), full),
        )
    };
    if let Some(t) = removal {
        let w = w.clone();
        let ev = WatchedEvent {
            event_type: t,
            state: KeeperState::SyncConnected,
            path: Some(path),
        };
        lp.dispatch_watch(move || w.call(ev));
    }
}
