//! The watch model: what the application should believe is registered, from the replies
//! and notifications it saw (PROTOCOL.md §6).

use super::*;

/// What the application should believe is registered, from what it saw. `None` for an
/// entry the model cannot decide (the spec leaves it open), which the check skips.
#[derive(Debug, Clone, Default)]
pub(super) struct WatchModel {
    pub(super) entries: BTreeMap<(WatchKind, String), Option<bool>>,
}

impl WatchModel {
    pub(super) fn set(&mut self, kind: WatchKind, path: &str, v: Option<bool>) {
        self.entries.insert((kind, path.to_string()), v);
    }

    pub(super) fn certain(&self) -> impl Iterator<Item = &(WatchKind, String)> {
        self.entries
            .iter()
            .filter(|(_, v)| **v == Some(true))
            .map(|(k, _)| k)
    }

    pub(super) fn remove_type(&mut self, path: &str, t: WatcherType, v: Option<bool>) {
        for k in kinds_of(t) {
            self.set(*k, path, v);
        }
    }

    pub(super) fn on_event(&mut self, event_type: EventType, path: &str) {
        // PROTOCOL.md §6: the one-shot watches a notification triggers.
        let gone: &[WatchKind] = match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                &[WatchKind::Data, WatchKind::Exist]
            }
            EventType::NodeDeleted => &[WatchKind::Data, WatchKind::Exist, WatchKind::Child],
            EventType::NodeChildrenChanged => &[WatchKind::Child],
            _ => &[],
        };
        for k in gone {
            self.set(*k, path, Some(false));
        }
    }
}

pub(super) fn kinds_of(t: WatcherType) -> &'static [WatchKind] {
    match t {
        WatcherType::Children => &[WatchKind::Child],
        WatcherType::Data => &[WatchKind::Data, WatchKind::Exist],
        WatcherType::Any => &ALL_KINDS,
        WatcherType::Persistent => &[WatchKind::Persistent],
        WatcherType::PersistentRecursive => &[WatchKind::PersistentRecursive],
    }
}

pub(super) fn watcher_type(v: i32) -> Option<WatcherType> {
    Some(match v {
        1 => WatcherType::Children,
        2 => WatcherType::Data,
        3 => WatcherType::Any,
        4 => WatcherType::Persistent,
        5 => WatcherType::PersistentRecursive,
        _ => return None,
    })
}

/// What a pending request means for the watch model once it completes.
#[derive(Debug, Clone)]
pub(super) enum WatchEffect {
    None,
    Exists(String),
    Data(String),
    Child(String),
    Add(String, WatchKind),
    Remove(String, WatcherType),
}

impl WatchEffect {
    pub(super) fn of(req: &Request) -> WatchEffect {
        match req {
            Request::Exists(r) if r.watch => WatchEffect::Exists(r.path.clone()),
            Request::GetData(r) if r.watch => WatchEffect::Data(r.path.clone()),
            Request::GetChildren(r) | Request::GetChildren2(r) if r.watch => {
                WatchEffect::Child(r.path.clone())
            }
            Request::AddWatch(r) => WatchEffect::Add(
                r.path.clone(),
                if r.mode == 1 {
                    WatchKind::PersistentRecursive
                } else {
                    WatchKind::Persistent
                },
            ),
            Request::RemoveWatches(r) => match watcher_type(r.watcher_type) {
                Some(t) => WatchEffect::Remove(r.path.clone(), t),
                None => WatchEffect::None,
            },
            _ => WatchEffect::None,
        }
    }

    /// Applies a completed request's result to the model (PROTOCOL.md §6).
    pub(super) fn apply(&self, model: &mut WatchModel, result: &Result<Response, RequestError>) {
        let ok = result.is_ok();
        let code = match result {
            Err(RequestError::Server(c)) => Some(*c),
            _ => None,
        };
        match self {
            WatchEffect::None => {}
            WatchEffect::Exists(p) if ok => model.set(WatchKind::Data, p, Some(true)),
            WatchEffect::Exists(p) if code == Some(ErrorCode::NoNode) => {
                model.set(WatchKind::Exist, p, Some(true))
            }
            WatchEffect::Data(p) if ok => model.set(WatchKind::Data, p, Some(true)),
            WatchEffect::Child(p) if ok => model.set(WatchKind::Child, p, Some(true)),
            WatchEffect::Add(p, k) if ok => model.set(*k, p, Some(true)),
            WatchEffect::Remove(p, t) if ok => model.remove_type(p, *t, Some(false)),
            // The server has none of these: the session forgets its own too.
            WatchEffect::Remove(p, t) if code == Some(ErrorCode::NoWatcher) => {
                model.remove_type(p, *t, Some(false))
            }
            _ => {}
        }
    }
}

/// The watches a resumed connection re-registered are exactly what the application was
/// told it holds when the handshake was answered (entries the model leaves open may go
/// either way).
pub(super) fn check_set_watches(
    snapshot: &WatchModel,
    sent: &BTreeSet<(WatchKind, String)>,
    resumed: bool,
) {
    if !resumed {
        assert!(sent.is_empty(), "SetWatches on a new session: {sent:?}");
    }
    for k in snapshot.certain() {
        if resumed {
            assert!(
                sent.contains(k),
                "watch {k:?} not re-registered: sent {sent:?}"
            );
        }
    }
    for k in sent {
        assert!(
            snapshot.entries.get(k).is_some_and(|v| *v != Some(false)),
            "re-registered {k:?}, which the application does not hold"
        );
    }
}
