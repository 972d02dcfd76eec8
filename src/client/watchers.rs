//! The client's watch callbacks, keyed by server path, and how notifications reach them
//! (PROTOCOL.md §6).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use crate::proto::{EventType, KeeperState, WatcherType};
use crate::session::WatchKind;

/// A watch notification as a watcher sees it (kazoo's `WatchedEvent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    /// What happened: a node event, [`EventType::None`] when the session is gone (the watch
    /// will not fire any more, state `Expired`/`Closed`/`AuthFailed`) or when changes may
    /// have been missed (state `SyncConnected`, with the path: re-read; a persistent watcher
    /// hears it after every reconnect, and any watcher when the server refused to
    /// re-register its watch after a reconnect, which ends a one-shot watch), a removal
    /// event (`DataWatchRemoved`, ...) after `remove_watches`, or
    /// [`EventType::Unknown`] for a type this version does not know (persistent watchers
    /// only: it does not consume a one-shot watch).
    pub event_type: EventType,
    /// The session's state when the event was dispatched.
    pub state: KeeperState,
    /// The node (without the chroot); `None` for session events.
    pub path: Option<String>,
}

/// A one-shot watcher: called at most once.
pub(crate) type OneShot = Box<dyn FnOnce(WatchedEvent)>;
/// A persistent watcher: called for every event until removed.
pub(crate) type Persistent = Rc<dyn Fn(WatchedEvent)>;

/// What a pending request registers when its reply succeeds.
pub(crate) enum PendingWatcher {
    /// `exists`: a data watch if the node exists, an exist watch if not.
    Exists(String, OneShot),
    /// `get`.
    Data(String, OneShot),
    /// `get_children`.
    Child(String, OneShot),
    /// `add_watch`, persistent.
    Persistent(String, Persistent),
    /// `add_watch`, persistent recursive.
    Recursive(String, Persistent),
}

impl fmt::Debug for PendingWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, path) = match self {
            PendingWatcher::Exists(p, _) => ("exists", p),
            PendingWatcher::Data(p, _) => ("data", p),
            PendingWatcher::Child(p, _) => ("child", p),
            PendingWatcher::Persistent(p, _) => ("persistent", p),
            PendingWatcher::Recursive(p, _) => ("recursive", p),
        };
        write!(f, "PendingWatcher({kind} {path})")
    }
}

/// The callbacks registered on one path for one kind of watch. Nearly always there is one,
/// so it is held inline: no vector is allocated per watch.
pub(crate) enum Callbacks<F> {
    One(F),
    Many(Vec<F>),
}

impl<F> Callbacks<F> {
    fn push(&mut self, f: F) {
        match self {
            Callbacks::Many(v) => v.push(f),
            Callbacks::One(_) => {
                if let Callbacks::One(first) = std::mem::replace(self, Callbacks::Many(Vec::new()))
                {
                    *self = Callbacks::Many(vec![first, f]);
                }
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Callbacks::One(_) => 1,
            Callbacks::Many(v) => v.len(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &F> {
        let (one, many) = match self {
            Callbacks::One(f) => (Some(f), &[][..]),
            Callbacks::Many(v) => (None, &v[..]),
        };
        one.into_iter().chain(many)
    }
}

impl<F> IntoIterator for Callbacks<F> {
    type Item = F;
    type IntoIter = std::iter::Chain<std::option::IntoIter<F>, std::vec::IntoIter<F>>;

    fn into_iter(self) -> Self::IntoIter {
        let (one, many) = match self {
            Callbacks::One(f) => (Some(f), Vec::new()),
            Callbacks::Many(v) => (None, v),
        };
        one.into_iter().chain(many)
    }
}

/// Adds `f` to the callbacks of `path` in `map`.
fn add<F>(map: &mut HashMap<Box<str>, Callbacks<F>>, path: String, f: F) {
    // A boxed str key: 8 bytes less per watch than a String (the paths come with no spare
    // capacity, so this does not reallocate).
    match map.entry(path.into_boxed_str()) {
        Entry::Occupied(mut e) => e.get_mut().push(f),
        Entry::Vacant(e) => {
            e.insert(Callbacks::One(f));
        }
    }
}

/// Watch callbacks by server path.
#[derive(Default)]
pub(crate) struct Watchers {
    data: HashMap<Box<str>, Callbacks<OneShot>>,
    exist: HashMap<Box<str>, Callbacks<OneShot>>,
    child: HashMap<Box<str>, Callbacks<OneShot>>,
    persistent: HashMap<Box<str>, Callbacks<Persistent>>,
    recursive: HashMap<Box<str>, Callbacks<Persistent>>,
}

impl fmt::Debug for Watchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watchers")
            .field("data", &self.data.len())
            .field("exist", &self.exist.len())
            .field("child", &self.child.len())
            .field("persistent", &self.persistent.len())
            .field("recursive", &self.recursive.len())
            .finish()
    }
}

/// A watcher to call, and how.
pub(crate) enum Fire {
    Once(OneShot),
    Many(Persistent),
}

impl Fire {
    pub(crate) fn call(self, ev: WatchedEvent) {
        match self {
            Fire::Once(f) => f(ev),
            Fire::Many(f) => f(ev),
        }
    }
}

impl Watchers {
    /// Registers what a successful reply (or an exists NoNode) set.
    pub(crate) fn register(&mut self, w: PendingWatcher, node_exists: bool) {
        match w {
            PendingWatcher::Exists(p, f) if node_exists => add(&mut self.data, p, f),
            PendingWatcher::Exists(p, f) => add(&mut self.exist, p, f),
            PendingWatcher::Data(p, f) => add(&mut self.data, p, f),
            PendingWatcher::Child(p, f) => add(&mut self.child, p, f),
            PendingWatcher::Persistent(p, f) => add(&mut self.persistent, p, f),
            PendingWatcher::Recursive(p, f) => add(&mut self.recursive, p, f),
        }
    }

    /// The watchers a notification of `t` on server path `path` triggers; one-shot ones are
    /// removed.
    pub(crate) fn route(&mut self, t: EventType, path: &str) -> Vec<Fire> {
        let mut out = Vec::new();
        let mut take = |map: &mut HashMap<Box<str>, Callbacks<OneShot>>| {
            if let Some(v) = map.remove(path) {
                out.extend(v.into_iter().map(Fire::Once));
            }
        };
        match t {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                take(&mut self.data);
                take(&mut self.exist);
            }
            EventType::NodeDeleted => {
                take(&mut self.data);
                take(&mut self.exist);
                take(&mut self.child);
            }
            EventType::NodeChildrenChanged => take(&mut self.child),
            _ => {}
        }
        if let Some(v) = self.persistent.get(path) {
            out.extend(v.iter().cloned().map(Fire::Many));
        }
        if t != EventType::NodeChildrenChanged && !self.recursive.is_empty() {
            // The node itself and every ancestor.
            let mut p = path;
            loop {
                if let Some(v) = self.recursive.get(p) {
                    out.extend(v.iter().cloned().map(Fire::Many));
                }
                if p == "/" {
                    break;
                }
                p = match p.rfind('/') {
                    Some(0) => "/",
                    Some(i) => &p[..i],
                    None => break,
                };
            }
        }
        out
    }

    /// The watchers of the session's watch of `kind` on server path `path`, after the
    /// server refused to re-register it (`Event::WatchReset`): removed unless `kept` (a
    /// persistent watch re-added), for them to be told to re-read.
    pub(crate) fn reset(&mut self, kind: WatchKind, path: &str, kept: bool) -> Vec<Fire> {
        let one_shot = match kind {
            WatchKind::Data => &mut self.data,
            WatchKind::Exist => &mut self.exist,
            WatchKind::Child => &mut self.child,
            WatchKind::Persistent | WatchKind::PersistentRecursive => {
                let map = if kind == WatchKind::Persistent {
                    &mut self.persistent
                } else {
                    &mut self.recursive
                };
                return if kept {
                    map.get(path)
                        .map(|v| v.iter().cloned().map(Fire::Many).collect())
                        .unwrap_or_default()
                } else {
                    map.remove(path)
                        .map(|v| v.into_iter().map(Fire::Many).collect())
                        .unwrap_or_default()
                };
            }
        };
        one_shot
            .remove(path)
            .map(|v| v.into_iter().map(Fire::Once).collect())
            .unwrap_or_default()
    }

    /// Removes the watchers of type `t` on `path`, returning them with the removal event
    /// type each should see.
    pub(crate) fn remove(&mut self, path: &str, t: WatcherType) -> Vec<(Fire, EventType)> {
        let mut out = Vec::new();
        let data = matches!(t, WatcherType::Data | WatcherType::Any);
        let child = matches!(t, WatcherType::Children | WatcherType::Any);
        let pers = matches!(t, WatcherType::Persistent | WatcherType::Any);
        let rec = matches!(t, WatcherType::PersistentRecursive | WatcherType::Any);
        if data {
            for map in [&mut self.data, &mut self.exist] {
                if let Some(v) = map.remove(path) {
                    out.extend(
                        v.into_iter()
                            .map(|f| (Fire::Once(f), EventType::DataWatchRemoved)),
                    );
                }
            }
        }
        if child {
            if let Some(v) = self.child.remove(path) {
                out.extend(
                    v.into_iter()
                        .map(|f| (Fire::Once(f), EventType::ChildWatchRemoved)),
                );
            }
        }
        if pers {
            if let Some(v) = self.persistent.remove(path) {
                out.extend(
                    v.into_iter()
                        .map(|f| (Fire::Many(f), EventType::PersistentWatchRemoved)),
                );
            }
        }
        if rec {
            if let Some(v) = self.recursive.remove(path) {
                out.extend(
                    v.into_iter()
                        .map(|f| (Fire::Many(f), EventType::PersistentWatchRemoved)),
                );
            }
        }
        out
    }

    /// Every persistent and persistent-recursive watcher with its server path (they stay
    /// registered).
    pub(crate) fn persistent(&self) -> Vec<(String, Persistent)> {
        let mut out = Vec::new();
        for map in [&self.persistent, &self.recursive] {
            for (p, v) in map {
                out.extend(v.iter().map(|f| (p.to_string(), f.clone())));
            }
        }
        out
    }

    /// Takes every watcher out (the session is gone).
    pub(crate) fn drain(&mut self) -> Vec<Fire> {
        let mut out = Vec::new();
        for map in [&mut self.data, &mut self.exist, &mut self.child] {
            for (_, v) in map.drain() {
                out.extend(v.into_iter().map(Fire::Once));
            }
        }
        for map in [&mut self.persistent, &mut self.recursive] {
            for (_, v) in map.drain() {
                out.extend(v.into_iter().map(Fire::Many));
            }
        }
        out
    }

    /// How many watchers are registered.
    pub(crate) fn len(&self) -> usize {
        let one: usize = [&self.data, &self.exist, &self.child]
            .iter()
            .map(|m| m.values().map(Callbacks::len).sum::<usize>())
            .sum();
        let many: usize = [&self.persistent, &self.recursive]
            .iter()
            .map(|m| m.values().map(Callbacks::len).sum::<usize>())
            .sum();
        one + many
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn recorder() -> (Rc<RefCell<Vec<String>>>, impl Fn(&str) -> OneShot) {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let make = move |name: &str| -> OneShot {
            let l = l.clone();
            let name = name.to_string();
            Box::new(move |ev: WatchedEvent| {
                l.borrow_mut()
                    .push(format!("{name} {:?} {:?}", ev.event_type, ev.path))
            })
        };
        (log, make)
    }

    fn fire_all(fires: Vec<Fire>, t: EventType, path: &str) {
        for f in fires {
            f.call(WatchedEvent {
                event_type: t,
                state: KeeperState::SyncConnected,
                path: Some(path.into()),
            });
        }
    }

    #[test]
    fn routing_follows_the_protocol() {
        let (log, w) = recorder();
        let mut ws = Watchers::default();
        ws.register(PendingWatcher::Data("/a".into(), w("data")), true);
        ws.register(PendingWatcher::Exists("/b".into(), w("exist")), false);
        ws.register(PendingWatcher::Child("/a".into(), w("child")), true);
        fire_all(
            ws.route(EventType::NodeChildrenChanged, "/a"),
            EventType::NodeChildrenChanged,
            "/a",
        );
        fire_all(
            ws.route(EventType::NodeCreated, "/b"),
            EventType::NodeCreated,
            "/b",
        );
        fire_all(
            ws.route(EventType::NodeDeleted, "/a"),
            EventType::NodeDeleted,
            "/a",
        );
        assert_eq!(ws.len(), 0, "one-shot watchers are gone");
        assert_eq!(log.borrow().len(), 3);
        assert!(log.borrow()[0].starts_with("child"));
        assert!(log.borrow()[1].starts_with("exist"));
        assert!(log.borrow()[2].starts_with("data"));
    }

    #[test]
    fn recursive_watches_see_descendants_but_not_child_events() {
        let mut ws = Watchers::default();
        let hits = Rc::new(RefCell::new(0));
        let h = hits.clone();
        ws.register(
            PendingWatcher::Recursive("/r".into(), Rc::new(move |_| *h.borrow_mut() += 1)),
            true,
        );
        assert_eq!(ws.route(EventType::NodeCreated, "/r/a/b").len(), 1);
        assert_eq!(ws.route(EventType::NodeDataChanged, "/r").len(), 1);
        assert_eq!(ws.route(EventType::NodeChildrenChanged, "/r").len(), 0);
        assert_eq!(ws.route(EventType::NodeCreated, "/rx").len(), 0);
        assert_eq!(ws.len(), 1, "persistent");
        let root = Rc::new(|_| ());
        ws.register(PendingWatcher::Recursive("/".into(), root), true);
        assert_eq!(ws.route(EventType::NodeDeleted, "/r/a").len(), 2);
        assert_eq!(ws.remove("/r", WatcherType::PersistentRecursive).len(), 1);
        assert_eq!(ws.len(), 1);
    }

    #[test]
    fn an_unknown_event_reaches_persistent_watchers_and_leaves_one_shot_ones_armed() {
        let mut ws = Watchers::default();
        let (_, w) = recorder();
        ws.register(PendingWatcher::Data("/a".into(), w("data")), true);
        ws.register(PendingWatcher::Child("/a".into(), w("child")), true);
        ws.register(
            PendingWatcher::Persistent("/a".into(), Rc::new(|_| ())),
            true,
        );
        ws.register(PendingWatcher::Recursive("/".into(), Rc::new(|_| ())), true);
        let fires = ws.route(EventType::Unknown(42), "/a");
        assert_eq!(fires.len(), 2, "the persistent and the recursive watcher");
        assert!(fires.iter().all(|f| matches!(f, Fire::Many(_))));
        assert_eq!(
            ws.len(),
            4,
            "the one-shot watchers wait for an event they understand"
        );
    }

    #[test]
    fn a_reset_watch_hands_out_its_watchers_and_keeps_only_re_added_persistent_ones() {
        let mut ws = Watchers::default();
        let (_, w) = recorder();
        ws.register(PendingWatcher::Data("/a".into(), w("d1")), true);
        ws.register(PendingWatcher::Data("/a".into(), w("d2")), true);
        ws.register(PendingWatcher::Exists("/a".into(), w("e")), false);
        ws.register(
            PendingWatcher::Persistent("/p".into(), Rc::new(|_| ())),
            true,
        );
        ws.register(
            PendingWatcher::Recursive("/r".into(), Rc::new(|_| ())),
            true,
        );
        assert_eq!(ws.reset(WatchKind::Data, "/a", false).len(), 2);
        assert_eq!(ws.len(), 3, "the exist watcher is another watch");
        assert_eq!(ws.reset(WatchKind::Persistent, "/p", true).len(), 1);
        assert_eq!(ws.len(), 3, "a re-added persistent watcher stays");
        assert_eq!(
            ws.reset(WatchKind::PersistentRecursive, "/r", false).len(),
            1
        );
        assert_eq!(ws.reset(WatchKind::Child, "/a", false).len(), 0);
        assert_eq!(ws.len(), 2);
    }
}
