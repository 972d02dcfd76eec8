//! The server-side watches a session has registered, as the session must know them to
//! re-register them after a reconnect (SetWatches / SetWatches2, PROTOCOL.md §4).

use std::collections::BTreeSet;

use crate::proto::{
    AddWatchMode, ErrorCode, EventType, OpCode, Request, SetWatches, SetWatches2, WatcherType,
};

/// The kinds of watch ZooKeeper keeps for a session (PROTOCOL.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchKind {
    /// Set by `getData`, or by `exists` on an existing node: fires on data change and delete.
    Data,
    /// Set by `exists` on a missing node: fires on create.
    Exist,
    /// Set by `getChildren`: fires on children change and delete.
    Child,
    /// Set by `addWatch` (mode persistent): every event of the node, until removed.
    Persistent,
    /// Set by `addWatch` (mode persistent recursive): created, deleted and data-changed events
    /// of the node and every descendant, until removed.
    PersistentRecursive,
}

/// What a request will register if its reply succeeds, worked out when it is submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PendingWatch {
    /// `exists` with watch: a data watch on success, an exist watch on NoNode.
    Exists(String),
    /// `getData` with watch.
    Data(String),
    /// `getChildren` / `getChildren2` with watch.
    Child(String),
    /// `addWatch`.
    Add(String, WatchKind),
    /// `removeWatches`: on success, forget these kinds on the path.
    Remove(String, WatcherType),
}

impl PendingWatch {
    /// The watch registration a request asks for, if any.
    pub(crate) fn of(req: &Request) -> Option<PendingWatch> {
        match req {
            Request::Exists(r) if r.watch => Some(PendingWatch::Exists(r.path.clone())),
            Request::GetData(r) if r.watch => Some(PendingWatch::Data(r.path.clone())),
            Request::GetChildren(r) | Request::GetChildren2(r) if r.watch => {
                Some(PendingWatch::Child(r.path.clone()))
            }
            Request::AddWatch(r) => {
                let kind = if r.mode == AddWatchMode::PersistentRecursive as i32 {
                    WatchKind::PersistentRecursive
                } else {
                    WatchKind::Persistent
                };
                Some(PendingWatch::Add(r.path.clone(), kind))
            }
            Request::RemoveWatches(r) => {
                watcher_type(r.watcher_type).map(|t| PendingWatch::Remove(r.path.clone(), t))
            }
            _ => None,
        }
    }
}

fn watcher_type(v: i32) -> Option<WatcherType> {
    Some(match v {
        1 => WatcherType::Children,
        2 => WatcherType::Data,
        3 => WatcherType::Any,
        4 => WatcherType::Persistent,
        5 => WatcherType::PersistentRecursive,
        _ => return None,
    })
}

/// The session's registered watches, one set of paths per kind.
#[derive(Debug, Default, Clone)]
pub struct WatchRegistry {
    data: BTreeSet<String>,
    exist: BTreeSet<String>,
    child: BTreeSet<String>,
    persistent: BTreeSet<String>,
    recursive: BTreeSet<String>,
}

/// Java's limit for one SetWatches packet: about 128 KiB of path characters (PROTOCOL.md §4).
pub(crate) const SET_WATCHES_BATCH_BYTES: usize = 128 * 1024;

impl WatchRegistry {
    fn set(&self, kind: WatchKind) -> &BTreeSet<String> {
        match kind {
            WatchKind::Data => &self.data,
            WatchKind::Exist => &self.exist,
            WatchKind::Child => &self.child,
            WatchKind::Persistent => &self.persistent,
            WatchKind::PersistentRecursive => &self.recursive,
        }
    }

    fn set_mut(&mut self, kind: WatchKind) -> &mut BTreeSet<String> {
        match kind {
            WatchKind::Data => &mut self.data,
            WatchKind::Exist => &mut self.exist,
            WatchKind::Child => &mut self.child,
            WatchKind::Persistent => &mut self.persistent,
            WatchKind::PersistentRecursive => &mut self.recursive,
        }
    }

    /// Whether a watch of `kind` is registered on `path`.
    pub fn contains(&self, kind: WatchKind, path: &str) -> bool {
        self.set(kind).contains(path)
    }

    /// How many watches are registered, all kinds together.
    pub fn len(&self) -> usize {
        self.data.len()
            + self.exist.len()
            + self.child.len()
            + self.persistent.len()
            + self.recursive.len()
    }

    /// Whether no watch is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every watch (the session is gone).
    pub fn clear(&mut self) {
        *self = WatchRegistry::default();
    }

    /// Records what a successful (or, for `exists`, NoNode) reply registered, and what a
    /// removeWatches reply (successful or NoWatcher) removed.
    pub(crate) fn on_reply(&mut self, pending: &PendingWatch, err: ErrorCode) {
        match (pending, err) {
            (PendingWatch::Exists(p), ErrorCode::Ok) => {
                self.data.insert(p.clone());
            }
            (PendingWatch::Exists(p), ErrorCode::NoNode) => {
                self.exist.insert(p.clone());
            }
            (PendingWatch::Data(p), ErrorCode::Ok) => {
                self.data.insert(p.clone());
            }
            (PendingWatch::Child(p), ErrorCode::Ok) => {
                self.child.insert(p.clone());
            }
            (PendingWatch::Add(p, kind), ErrorCode::Ok) => {
                self.set_mut(*kind).insert(p.clone());
            }
            // NoWatcher: the server holds none of these, so none is re-registered either.
            (PendingWatch::Remove(p, t), ErrorCode::Ok | ErrorCode::NoWatcher) => {
                self.remove(p, *t);
            }
            _ => {}
        }
    }

    /// Forgets the watch of `kind` on `path`. Returns whether it was registered.
    pub fn forget(&mut self, kind: WatchKind, path: &str) -> bool {
        self.set_mut(kind).remove(path)
    }

    /// Forgets the watches of type `t` on `path` (a successful removeWatches, or a local
    /// removal). Returns whether anything was registered.
    pub fn remove(&mut self, path: &str, t: WatcherType) -> bool {
        let kinds: &[WatchKind] = match t {
            WatcherType::Children => &[WatchKind::Child],
            WatcherType::Data => &[WatchKind::Data, WatchKind::Exist],
            WatcherType::Any => &[
                WatchKind::Data,
                WatchKind::Exist,
                WatchKind::Child,
                WatchKind::Persistent,
                WatchKind::PersistentRecursive,
            ],
            WatcherType::Persistent => &[WatchKind::Persistent],
            WatcherType::PersistentRecursive => &[WatchKind::PersistentRecursive],
        };
        let mut any = false;
        for k in kinds {
            any |= self.set_mut(*k).remove(path);
        }
        any
    }

    /// Updates the registry for a notification: one-shot watches that it triggers are gone on
    /// the server now (PROTOCOL.md §6). Persistent watches stay.
    pub(crate) fn on_event(&mut self, event_type: EventType, path: &str) {
        match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                self.data.remove(path);
                self.exist.remove(path);
            }
            EventType::NodeDeleted => {
                self.data.remove(path);
                self.exist.remove(path);
                self.child.remove(path);
            }
            EventType::NodeChildrenChanged => {
                self.child.remove(path);
            }
            _ => {}
        }
    }

    /// The requests that re-register every watch on a new connection of the same session:
    /// SetWatches, or SetWatches2 when persistent watches exist (older servers do not know
    /// opcode 105), in batches of under [`SET_WATCHES_BATCH_BYTES`] of paths.
    pub(crate) fn set_watches_requests(&self, relative_zxid: i64) -> Vec<Request> {
        let use2 = !self.persistent.is_empty() || !self.recursive.is_empty();
        let kinds: &[WatchKind] = if use2 {
            &[
                WatchKind::Data,
                WatchKind::Exist,
                WatchKind::Child,
                WatchKind::Persistent,
                WatchKind::PersistentRecursive,
            ]
        } else {
            &[WatchKind::Data, WatchKind::Exist, WatchKind::Child]
        };
        let mut out = Vec::new();
        let mut batch: [Vec<String>; 5] = Default::default();
        let mut bytes = 0;
        let flush = |batch: &mut [Vec<String>; 5], out: &mut Vec<Request>| {
            if batch.iter().all(Vec::is_empty) {
                return;
            }
            let [d, e, c, p, r] = std::mem::take(batch);
            out.push(if use2 {
                Request::SetWatches2(SetWatches2 {
                    relative_zxid,
                    data_watches: d,
                    exist_watches: e,
                    child_watches: c,
                    persistent_watches: p,
                    persistent_recursive_watches: r,
                })
            } else {
                Request::SetWatches(SetWatches {
                    relative_zxid,
                    data_watches: d,
                    exist_watches: e,
                    child_watches: c,
                })
            });
        };
        for (slot, kind) in kinds.iter().enumerate() {
            for path in self.set(*kind) {
                // 4 bytes of length prefix per path, as on the wire.
                let cost = path.len() + 4;
                if bytes + cost > SET_WATCHES_BATCH_BYTES && bytes > 0 {
                    flush(&mut batch, &mut out);
                    bytes = 0;
                }
                batch[slot].push(path.clone());
                bytes += cost;
            }
        }
        flush(&mut batch, &mut out);
        debug_assert!(out
            .iter()
            .all(|r| matches!(r.op_code(), OpCode::SetWatches | OpCode::SetWatches2)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_no_watcher_reply_forgets_the_watches_like_a_successful_removal() {
        let mut reg = WatchRegistry::default();
        reg.on_reply(&PendingWatch::Data("/a".into()), ErrorCode::Ok);
        reg.on_reply(&PendingWatch::Exists("/a".into()), ErrorCode::NoNode);
        reg.on_reply(&PendingWatch::Child("/a".into()), ErrorCode::Ok);
        assert_eq!(reg.len(), 3);
        let remove = PendingWatch::Remove("/a".into(), WatcherType::Data);
        reg.on_reply(&remove, ErrorCode::NoWatcher);
        assert!(!reg.contains(WatchKind::Data, "/a"));
        assert!(!reg.contains(WatchKind::Exist, "/a"));
        assert!(reg.contains(WatchKind::Child, "/a"), "another kind stays");
        // Any other error leaves them alone.
        let remove = PendingWatch::Remove("/a".into(), WatcherType::Any);
        reg.on_reply(&remove, ErrorCode::MarshallingError);
        assert_eq!(reg.len(), 1);
    }

    #[test]
    fn forget_removes_one_kind_only() {
        let mut reg = WatchRegistry::default();
        reg.on_reply(&PendingWatch::Data("/a".into()), ErrorCode::Ok);
        reg.on_reply(&PendingWatch::Exists("/a".into()), ErrorCode::NoNode);
        assert!(reg.forget(WatchKind::Exist, "/a"));
        assert!(!reg.forget(WatchKind::Exist, "/a"));
        assert!(reg.contains(WatchKind::Data, "/a"));
        assert_eq!(reg.set_watches_requests(0).len(), 1);
    }
}
