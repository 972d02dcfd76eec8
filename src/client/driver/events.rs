//! Session events to the application: replies complete their results (registering their
//! watcher on success), watch events go to their watchers, state changes to kazoo's state,
//! the listeners and the results waiting on a connect or a close.

use super::{Listener, Shared};
use crate::client::hosts::unchroot;
use crate::client::watchers::{PendingKind, PendingWatcher, WatchedEvent};
use crate::client::ClientState;
use crate::error::Error;
use crate::proto::{ErrorCode, EventType, KeeperState};
use crate::session::{Event, RequestError, SessionState, WatchKind};

/// Maps the session's state to kazoo's.
fn kazoo_state(old: ClientState, s: SessionState) -> ClientState {
    match s {
        SessionState::Connected | SessionState::ConnectedReadOnly => ClientState::Connected,
        SessionState::Connecting | SessionState::Idle => match old {
            ClientState::Connected | ClientState::Suspended => ClientState::Suspended,
            ClientState::Lost => ClientState::Lost,
        },
        SessionState::Expired | SessionState::AuthFailed | SessionState::Closed => {
            ClientState::Lost
        }
    }
}

fn keeper_state(s: SessionState) -> KeeperState {
    match s {
        SessionState::Connected => KeeperState::SyncConnected,
        SessionState::ConnectedReadOnly => KeeperState::ConnectedReadOnly,
        SessionState::Connecting | SessionState::Idle => KeeperState::Disconnected,
        SessionState::Expired => KeeperState::Expired,
        SessionState::AuthFailed => KeeperState::AuthFailed,
        SessionState::Closed => KeeperState::Closed,
    }
}

/// Hands session events to the application, in order.
pub(super) fn dispatch_events(shared: &Shared) {
    loop {
        let event = {
            let mut core = shared.borrow_mut();
            match core.session.as_mut() {
                Some(s) => s.poll_event(),
                None => None,
            }
        };
        let Some(event) = event else { return };
        match event {
            Event::Reply { id, reply } => {
                let pending = shared.borrow_mut().pending.remove(id);
                let Some(p) = pending else { continue };
                let exists_nonode = matches!(
                    (&reply.result, p.watcher.as_deref()),
                    (
                        Err(RequestError::Server(ErrorCode::NoNode)),
                        Some(PendingWatcher {
                            kind: PendingKind::Exists,
                            ..
                        })
                    )
                );
                let ok = reply.result.is_ok();
                if let Some(w) = p.watcher {
                    if ok || exists_nonode {
                        let mut core = shared.borrow_mut();
                        // A watcher withdrawn by its timed-out caller leaves a server watch
                        // that nobody listens to: not re-registered on reconnects.
                        if let Some((kind, path)) = core.watchers.register(*w, ok) {
                            if let Some(s) = core.session.as_mut() {
                                s.forget_watch(kind, &path);
                            }
                        }
                    }
                }
                let result = reply.result.map_err(|e| match &reply.path {
                    Some(path) => {
                        let path = unchroot(shared.borrow().chroot.as_deref(), path);
                        e.into_error(&path)
                    }
                    None => e.into_error(p.label),
                });
                (p.complete)(result);
            }
            Event::Watch { event, .. } => {
                let (lp, fires, path) = {
                    let mut core = shared.borrow_mut();
                    let fires = core.watchers.route(event.event_type, &event.path);
                    let path = unchroot(core.chroot.as_deref(), &event.path);
                    (core.event_loop.clone(), fires, path)
                };
                for f in fires {
                    let ev = WatchedEvent {
                        event_type: event.event_type,
                        state: event.state,
                        path: Some(path.clone()),
                    };
                    lp.dispatch_watch(move || f.call(ev));
                }
            }
            Event::State(s) => on_state(shared, s),
            Event::WatchReset { kind, path, kept } => on_watch_reset(shared, kind, &path, kept),
        }
    }
}

/// A watch the server would not re-register after a reconnect: its watchers get the
/// "reconnected, re-read" event they know from reconnects (`None`, `SyncConnected`, the
/// path), and are dropped unless the watch is registered again (`kept`).
fn on_watch_reset(shared: &Shared, kind: WatchKind, path: &str, kept: bool) {
    let (lp, fires, path) = {
        let mut core = shared.borrow_mut();
        let fires = core.watchers.reset(kind, path, kept);
        let path = unchroot(core.chroot.as_deref(), path);
        (core.event_loop.clone(), fires, path)
    };
    for f in fires {
        let ev = WatchedEvent {
            event_type: EventType::None,
            state: KeeperState::SyncConnected,
            path: Some(path.clone()),
        };
        lp.dispatch_watch(move || f.call(ev));
    }
}

fn on_state(shared: &Shared, s: SessionState) {
    let (lp, listeners, changed, lost_watchers, connected, closed, resumed, _keepalive) = {
        let mut core = shared.borrow_mut();
        core.keeper = s;
        // A dropped client's session has ended: the core may go (once the caller, which
        // holds it strongly, is done with it).
        let keepalive = if s.is_terminal() {
            core.keepalive.take()
        } else {
            None
        };
        let new = kazoo_state(core.state, s);
        // Back on the same session after a connection loss: ZooKeeper re-registers
        // persistent watches (SetWatches2) without replaying what changed meanwhile, so
        // their watchers are told to re-read (as the Java client tells every watcher).
        let resumed = if core.state == ClientState::Suspended && new == ClientState::Connected {
            core.watchers.persistent()
        } else {
            Vec::new()
        };
        let changed = (new != core.state).then_some(new);
        core.state = new;
        let lost = matches!(
            s,
            SessionState::Expired | SessionState::AuthFailed | SessionState::Closed
        );
        let lost_watchers = if lost {
            core.watchers.drain()
        } else {
            Vec::new()
        };
        let connected = if s.is_connected() {
            std::mem::take(&mut core.on_connected)
        } else if matches!(s, SessionState::AuthFailed | SessionState::Closed) {
            // A start() still waiting will never see CONNECTED: tell it why.
            let err = if s == SessionState::AuthFailed {
                Error::AuthFailed
            } else {
                Error::ConnectionClosed
            };
            for r in std::mem::take(&mut core.on_connected) {
                let _ = r.set_exception(err.clone());
            }
            Vec::new()
        } else {
            Vec::new()
        };
        let closed = if s == SessionState::Closed || s == SessionState::AuthFailed {
            std::mem::take(&mut core.on_closed)
        } else {
            Vec::new()
        };
        let listeners: Vec<Listener> = core.listeners.iter().map(|(_, l)| l.clone()).collect();
        (
            core.event_loop.clone(),
            listeners,
            changed,
            lost_watchers,
            connected,
            closed,
            resumed,
            keepalive,
        )
    };
    for r in connected {
        let _ = r.set(());
    }
    for r in closed {
        let _ = r.set(());
    }
    if let Some(new) = changed {
        for l in listeners {
            lp.call_soon_fn(move || l(new));
        }
    }
    let chroot = shared.borrow().chroot.clone();
    for (path, f) in resumed {
        let ev = WatchedEvent {
            event_type: EventType::None,
            state: keeper_state(s),
            path: Some(unchroot(chroot.as_deref(), &path)),
        };
        lp.dispatch_watch(move || f.call(ev));
    }
    // kazoo: when the session is gone every watcher hears it once, then is dropped.
    let ks = keeper_state(s);
    for f in lost_watchers {
        let ev = WatchedEvent {
            event_type: EventType::None,
            state: ks,
            path: None,
        };
        lp.dispatch_watch(move || f.call(ev));
    }
}
