//! The client's watch callbacks, keyed by server path, and how notifications reach them
//! (PROTOCOL.md §6).
//!
//! A [`Watcher`] is stored at most once per path and kind of watch (its identity rule is on
//! [`Watcher`]), and called at most once per event.

use std::cell::Cell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use super::watcher::Watcher;
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

/// Which watch a pending request leaves if its reply succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PendingKind {
    /// `exists`: a data watch if the node exists, an exist watch if not.
    Exists,
    /// `get`.
    Data,
    /// `get_children`.
    Child,
    /// `add_watch`, persistent.
    Persistent,
    /// `add_watch`, persistent recursive.
    Recursive,
}

impl PendingKind {
    /// The single kind of server watch this registration sets (an `exists` watch on a
    /// missing node counts as a data watch, as the server removes both together).
    pub(crate) fn watcher_type(self) -> WatcherType {
        match self {
            PendingKind::Exists | PendingKind::Data => WatcherType::Data,
            PendingKind::Child => WatcherType::Children,
            PendingKind::Persistent => WatcherType::Persistent,
            PendingKind::Recursive => WatcherType::PersistentRecursive,
        }
    }
}

/// Set by a blocking call that stopped waiting before its reply came (its per-call timeout):
/// the caller saw the call fail, so the late reply must not register its watcher.
#[derive(Debug, Clone, Default)]
pub(crate) struct Withdraw(Rc<Cell<bool>>);

impl Withdraw {
    /// Marks the watcher withdrawn.
    pub(crate) fn withdraw(&self) {
        self.0.set(true)
    }

    fn is_withdrawn(&self) -> bool {
        self.0.get()
    }
}

/// What a pending request registers when its reply succeeds.
pub(crate) struct PendingWatcher {
    pub(crate) kind: PendingKind,
    /// The server path.
    pub(crate) path: String,
    pub(crate) watcher: Watcher,
    /// Present for blocking calls, which can give up waiting.
    pub(crate) withdraw: Option<Withdraw>,
}

impl PendingWatcher {
    /// What a request of `kind` on server path `path` registers, if it has a watcher (with
    /// the token of a blocking call that may withdraw it).
    pub(crate) fn of(
        kind: PendingKind,
        path: &str,
        watcher: Option<(Watcher, Option<Withdraw>)>,
    ) -> Option<PendingWatcher> {
        watcher.map(|(watcher, withdraw)| PendingWatcher {
            kind,
            path: path.to_string(),
            watcher,
            withdraw,
        })
    }
}

impl fmt::Debug for PendingWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PendingWatcher({:?} {})", self.kind, self.path)
    }
}

/// The watchers registered on one path for one kind of watch, each once. Nearly always
/// there is one, so it is held inline: no vector is allocated per watch, and the rare
/// vector is boxed so that a table slot stays two words.
pub(crate) enum Callbacks<F> {
    One(F),
    // Boxed on purpose (see above): the extra allocation is only for the rare case.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<F>>),
}

impl Callbacks<Watcher> {
    /// Adds `w` unless the same watcher is there; returns whether it was added.
    fn insert(&mut self, w: Watcher) -> bool {
        if self.iter().any(|x| x.same(&w)) {
            return false;
        }
        match self {
            Callbacks::Many(v) => v.push(w),
            Callbacks::One(_) => {
                let empty = Callbacks::Many(Box::default());
                if let Callbacks::One(first) = std::mem::replace(self, empty) {
                    *self = Callbacks::Many(Box::new(vec![first, w]));
                }
            }
        }
        true
    }
}

impl Callbacks<Watcher> {
    /// Removes `w` if it is there; returns whether it was, and whether the set is empty now.
    fn remove_same(&mut self, w: &Watcher) -> (bool, bool) {
        match self {
            Callbacks::One(x) => {
                let hit = x.same(w);
                (hit, hit)
            }
            Callbacks::Many(v) => {
                let before = v.len();
                v.retain(|x| !x.same(w));
                (v.len() != before, v.is_empty())
            }
        }
    }
}

impl<F> Callbacks<F> {
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
            Callbacks::Many(v) => (None, *v),
        };
        one.into_iter().chain(many)
    }
}

type Table = HashMap<Box<str>, Callbacks<Watcher>>;

/// Adds `w` to the watchers of `path` in `map`, unless it is there already.
fn add(map: &mut Table, path: String, w: Watcher) {
    // A boxed str key: 8 bytes less per watch than a String (the paths come with no spare
    // capacity, so this does not reallocate).
    match map.entry(path.into_boxed_str()) {
        Entry::Occupied(mut e) => {
            e.get_mut().insert(w);
        }
        Entry::Vacant(e) => {
            e.insert(Callbacks::One(w));
        }
    }
}

/// Appends `w` to `out` unless the same watcher is there: one call per event.
fn push_once(out: &mut Vec<Watcher>, w: Watcher) {
    if !out.iter().any(|x| x.same(&w)) {
        out.push(w);
    }
}

/// Watch callbacks by server path.
#[derive(Default)]
pub(crate) struct Watchers {
    data: Table,
    exist: Table,
    child: Table,
    persistent: Table,
    recursive: Table,
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

impl Watchers {
    fn table(&mut self, kind: WatchKind) -> &mut Table {
        match kind {
            WatchKind::Data => &mut self.data,
            WatchKind::Exist => &mut self.exist,
            WatchKind::Child => &mut self.child,
            WatchKind::Persistent => &mut self.persistent,
            WatchKind::PersistentRecursive => &mut self.recursive,
        }
    }

    /// Registers what a successful reply (or an exists NoNode) set; `node_exists` tells an
    /// exists reply's two cases apart.
    ///
    /// A watcher withdrawn by its caller (a blocking call that timed out) is not registered.
    /// The server did set the watch, so when no watcher of that kind is left on the path,
    /// the kind and path are returned: the session should forget that watch rather than
    /// re-register it on every reconnect for nobody.
    pub(crate) fn register(
        &mut self,
        w: PendingWatcher,
        node_exists: bool,
    ) -> Option<(WatchKind, String)> {
        let kind = match w.kind {
            PendingKind::Exists if node_exists => WatchKind::Data,
            PendingKind::Exists => WatchKind::Exist,
            PendingKind::Data => WatchKind::Data,
            PendingKind::Child => WatchKind::Child,
            PendingKind::Persistent => WatchKind::Persistent,
            PendingKind::Recursive => WatchKind::PersistentRecursive,
        };
        if w.withdraw.as_ref().is_some_and(Withdraw::is_withdrawn) {
            let left = self.table(kind).contains_key(w.path.as_str());
            return (!left).then_some((kind, w.path));
        }
        add(self.table(kind), w.path, w.watcher);
        None
    }

    /// The watchers a notification of `t` on server path `path` triggers, each once;
    /// one-shot ones are removed.
    pub(crate) fn route(&mut self, t: EventType, path: &str) -> Vec<Watcher> {
        let mut out = Vec::new();
        let mut take = |map: &mut Table| {
            if let Some(v) = map.remove(path) {
                for w in v {
                    push_once(&mut out, w);
                }
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
            for w in v.iter() {
                push_once(&mut out, w.clone());
            }
        }
        if t != EventType::NodeChildrenChanged && !self.recursive.is_empty() {
            // The node itself and every ancestor.
            let mut p = path;
            loop {
                if let Some(v) = self.recursive.get(p) {
                    for w in v.iter() {
                        push_once(&mut out, w.clone());
                    }
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
    pub(crate) fn reset(&mut self, kind: WatchKind, path: &str, kept: bool) -> Vec<Watcher> {
        let persistent = matches!(kind, WatchKind::Persistent | WatchKind::PersistentRecursive);
        let table = self.table(kind);
        if persistent && kept {
            return table
                .get(path)
                .map(|v| v.iter().cloned().collect())
                .unwrap_or_default();
        }
        table
            .remove(path)
            .map(|v| v.into_iter().collect())
            .unwrap_or_default()
    }

    /// Removes the watchers of type `t` on `path`, returning them with the removal event
    /// type each should see (a watcher registered under several kinds that share a removal
    /// event type hears it once).
    pub(crate) fn remove(&mut self, path: &str, t: WatcherType) -> Vec<(Watcher, EventType)> {
        let data = matches!(t, WatcherType::Data | WatcherType::Any);
        let child = matches!(t, WatcherType::Children | WatcherType::Any);
        let pers = matches!(t, WatcherType::Persistent | WatcherType::Any);
        let rec = matches!(t, WatcherType::PersistentRecursive | WatcherType::Any);
        let mut out: Vec<(Watcher, EventType)> = Vec::new();
        let mut take = |map: &mut Table, removal: EventType| {
            for w in map.remove(path).into_iter().flatten() {
                if !out.iter().any(|(x, e)| x.same(&w) && *e == removal) {
                    out.push((w, removal));
                }
            }
        };
        if data {
            take(&mut self.data, EventType::DataWatchRemoved);
            take(&mut self.exist, EventType::DataWatchRemoved);
        }
        if child {
            take(&mut self.child, EventType::ChildWatchRemoved);
        }
        if pers {
            take(&mut self.persistent, EventType::PersistentWatchRemoved);
        }
        if rec {
            take(&mut self.recursive, EventType::PersistentWatchRemoved);
        }
        out
    }

    /// The tables that hold the watches the server knows as `t` (a data watch of the server
    /// is a `get` or an `exists` watch here).
    fn tables(&self, t: WatcherType) -> Vec<&Table> {
        match t {
            WatcherType::Data => vec![&self.data, &self.exist],
            WatcherType::Children => vec![&self.child],
            WatcherType::Persistent => vec![&self.persistent],
            WatcherType::PersistentRecursive => vec![&self.recursive],
            WatcherType::Any => vec![
                &self.data,
                &self.exist,
                &self.child,
                &self.persistent,
                &self.recursive,
            ],
        }
    }

    /// The single kinds of watch that `t` names (`Any`: all four).
    pub(crate) fn kinds_of(t: WatcherType) -> Vec<WatcherType> {
        match t {
            WatcherType::Any => vec![
                WatcherType::Data,
                WatcherType::Children,
                WatcherType::Persistent,
                WatcherType::PersistentRecursive,
            ],
            one => vec![one],
        }
    }

    /// For removing `w` alone from `path`: each single kind of `t` under which `w` is
    /// registered there, with whether `w` is the last watcher of that kind on the path (then
    /// the server's watch must go too; otherwise the other watchers still need it).
    pub(crate) fn plan_remove_one(
        &self,
        path: &str,
        t: WatcherType,
        w: &Watcher,
    ) -> Vec<(WatcherType, bool)> {
        let mut out = Vec::new();
        for k in Self::kinds_of(t) {
            let mut found = false;
            let mut others = false;
            for table in self.tables(k) {
                for x in table.get(path).map(|c| c.iter()).into_iter().flatten() {
                    if x.same(w) {
                        found = true;
                    } else {
                        others = true;
                    }
                }
            }
            if found {
                out.push((k, !others));
            }
        }
        out
    }

    /// Whether anything but `w`'s watch of single kind `k` is registered on `path`: another
    /// watcher of any kind, or `w` under another kind.
    pub(crate) fn others_on(&self, path: &str, k: WatcherType, w: &Watcher) -> bool {
        let own: Vec<*const Table> = self
            .tables(k)
            .into_iter()
            .map(|t| t as *const Table)
            .collect();
        self.tables(WatcherType::Any).into_iter().any(|table| {
            let mine = own.contains(&(table as *const Table));
            table
                .get(path)
                .is_some_and(|c| c.iter().any(|x| !(mine && x.same(w))))
        })
    }

    /// Removes `w` alone from the watches of single kind `k` on `path`; returns the removal
    /// event it should hear, if it was there.
    pub(crate) fn remove_one(
        &mut self,
        path: &str,
        k: WatcherType,
        w: &Watcher,
    ) -> Option<EventType> {
        let (tables, removal): (Vec<&mut Table>, EventType) = match k {
            WatcherType::Data => (
                vec![&mut self.data, &mut self.exist],
                EventType::DataWatchRemoved,
            ),
            WatcherType::Children => (vec![&mut self.child], EventType::ChildWatchRemoved),
            WatcherType::Persistent => (
                vec![&mut self.persistent],
                EventType::PersistentWatchRemoved,
            ),
            WatcherType::PersistentRecursive => {
                (vec![&mut self.recursive], EventType::PersistentWatchRemoved)
            }
            WatcherType::Any => return None,
        };
        let mut hit = false;
        for table in tables {
            if let Some(c) = table.get_mut(path) {
                let (removed, empty) = c.remove_same(w);
                hit |= removed;
                if empty {
                    table.remove(path);
                }
            }
        }
        hit.then_some(removal)
    }

    /// Every persistent and persistent-recursive watcher with its server path (they stay
    /// registered).
    pub(crate) fn persistent(&self) -> Vec<(String, Watcher)> {
        let mut out = Vec::new();
        for map in [&self.persistent, &self.recursive] {
            for (p, v) in map {
                out.extend(v.iter().map(|w| (p.to_string(), w.clone())));
            }
        }
        out
    }

    /// Takes every watcher out (the session is gone), each once.
    pub(crate) fn drain(&mut self) -> Vec<Watcher> {
        let mut out = Vec::new();
        for map in [
            &mut self.data,
            &mut self.exist,
            &mut self.child,
            &mut self.persistent,
            &mut self.recursive,
        ] {
            for (_, v) in map.drain() {
                for w in v {
                    push_once(&mut out, w);
                }
            }
        }
        out
    }

    /// How many watchers are registered (a watcher counts once per path and kind).
    pub(crate) fn len(&self) -> usize {
        [
            &self.data,
            &self.exist,
            &self.child,
            &self.persistent,
            &self.recursive,
        ]
        .iter()
        .map(|m| m.values().map(Callbacks::len).sum::<usize>())
        .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    type Seen = Rc<RefCell<Vec<String>>>;

    fn recorder() -> (Seen, impl Fn(&str) -> Watcher) {
        let log = Seen::default();
        let l = log.clone();
        let make = move |name: &str| -> Watcher {
            let l = l.clone();
            let name = name.to_string();
            Watcher::new(move |ev: WatchedEvent| {
                l.borrow_mut()
                    .push(format!("{name} {:?} {:?}", ev.event_type, ev.path))
            })
        };
        (log, make)
    }

    fn fire_all(fires: Vec<Watcher>, t: EventType, path: &str) {
        for f in fires {
            f.call(WatchedEvent {
                event_type: t,
                state: KeeperState::SyncConnected,
                path: Some(path.into()),
            });
        }
    }

    fn pw(kind: PendingKind, path: &str, w: &Watcher) -> PendingWatcher {
        PendingWatcher::of(kind, path, Some((w.clone(), None))).unwrap()
    }

    #[test]
    fn routing_follows_the_protocol() {
        let (log, w) = recorder();
        let mut ws = Watchers::default();
        ws.register(pw(PendingKind::Data, "/a", &w("data")), true);
        ws.register(pw(PendingKind::Exists, "/b", &w("exist")), false);
        ws.register(pw(PendingKind::Child, "/a", &w("child")), true);
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
        let r = Watcher::new(|_| ());
        ws.register(pw(PendingKind::Recursive, "/r", &r), true);
        assert_eq!(ws.route(EventType::NodeCreated, "/r/a/b").len(), 1);
        assert_eq!(ws.route(EventType::NodeDataChanged, "/r").len(), 1);
        assert_eq!(ws.route(EventType::NodeChildrenChanged, "/r").len(), 0);
        assert_eq!(ws.route(EventType::NodeCreated, "/rx").len(), 0);
        assert_eq!(ws.len(), 1, "persistent");
        let root = Watcher::new(|_| ());
        ws.register(pw(PendingKind::Recursive, "/", &root), true);
        assert_eq!(ws.route(EventType::NodeDeleted, "/r/a").len(), 2);
        assert_eq!(ws.remove("/r", WatcherType::PersistentRecursive).len(), 1);
        assert_eq!(ws.len(), 1);
    }

    #[test]
    fn an_unknown_event_reaches_persistent_watchers_and_leaves_one_shot_ones_armed() {
        let mut ws = Watchers::default();
        let (_, w) = recorder();
        ws.register(pw(PendingKind::Data, "/a", &w("data")), true);
        ws.register(pw(PendingKind::Child, "/a", &w("child")), true);
        ws.register(pw(PendingKind::Persistent, "/a", &w("p")), true);
        ws.register(pw(PendingKind::Recursive, "/", &w("r")), true);
        let fires = ws.route(EventType::Unknown(42), "/a");
        assert_eq!(fires.len(), 2, "the persistent and the recursive watcher");
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
        ws.register(pw(PendingKind::Data, "/a", &w("d1")), true);
        ws.register(pw(PendingKind::Data, "/a", &w("d2")), true);
        ws.register(pw(PendingKind::Exists, "/a", &w("e")), false);
        ws.register(pw(PendingKind::Persistent, "/p", &w("p")), true);
        ws.register(pw(PendingKind::Recursive, "/r", &w("r")), true);
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

    #[test]
    fn the_same_watcher_is_stored_once_per_path_and_kind_and_called_once_per_event() {
        let (log, w) = recorder();
        let mut ws = Watchers::default();
        let same = w("same");
        for _ in 0..1000 {
            ws.register(pw(PendingKind::Data, "/a", &same), true);
        }
        assert_eq!(ws.len(), 1);
        // Under two kinds, and as a recursive watch on the parent: a delete calls it once.
        ws.register(pw(PendingKind::Child, "/a", &same), true);
        ws.register(pw(PendingKind::Recursive, "/", &same), true);
        ws.register(pw(PendingKind::Data, "/a", &w("other")), true);
        assert_eq!(ws.len(), 4);
        fire_all(
            ws.route(EventType::NodeDeleted, "/a"),
            EventType::NodeDeleted,
            "/a",
        );
        let mut got = log.borrow().clone();
        got.sort();
        assert_eq!(
            got,
            [
                "other NodeDeleted Some(\"/a\")",
                "same NodeDeleted Some(\"/a\")"
            ]
        );
        assert_eq!(ws.len(), 1, "the recursive watch stays");
        assert_eq!(ws.drain().len(), 1);
    }

    #[test]
    fn removing_one_watcher_keeps_the_others_and_knows_when_it_was_the_last() {
        let mut ws = Watchers::default();
        let (a, b, c) = (
            Watcher::new(|_| ()),
            Watcher::new(|_| ()),
            Watcher::new(|_| ()),
        );
        ws.register(pw(PendingKind::Data, "/a", &a), true);
        ws.register(pw(PendingKind::Exists, "/a", &b), false);
        ws.register(pw(PendingKind::Child, "/a", &a), true);
        ws.register(pw(PendingKind::Persistent, "/p", &c), true);
        // a: a data watch shared with b's exist watch, and the only child watch.
        assert_eq!(
            ws.plan_remove_one("/a", WatcherType::Any, &a),
            [(WatcherType::Data, false), (WatcherType::Children, true)]
        );
        assert_eq!(ws.plan_remove_one("/a", WatcherType::Persistent, &a), []);
        assert!(
            ws.others_on("/a", WatcherType::Children, &a),
            "b and a's data watch"
        );
        assert!(!ws.others_on("/p", WatcherType::Persistent, &c));
        assert_eq!(
            ws.remove_one("/a", WatcherType::Data, &a),
            Some(EventType::DataWatchRemoved)
        );
        assert_eq!(ws.remove_one("/a", WatcherType::Data, &a), None, "gone");
        assert_eq!(ws.len(), 3, "b's exist watch and a's child watch stay");
        assert_eq!(
            ws.plan_remove_one("/a", WatcherType::Data, &b),
            [(WatcherType::Data, true)]
        );
        assert_eq!(
            ws.remove_one("/p", WatcherType::Persistent, &c),
            Some(EventType::PersistentWatchRemoved)
        );
        assert_eq!(ws.len(), 2);
        let fires = ws.route(EventType::NodeDataChanged, "/a");
        assert!(fires.len() == 1 && fires[0].same(&b), "only b fires");
    }

    #[test]
    fn a_withdrawn_watcher_is_not_registered_and_its_watch_is_forgotten_if_none_is_left() {
        let mut ws = Watchers::default();
        let w = Watcher::new(|_| ());
        let gone = Withdraw::default();
        gone.withdraw();
        let mut late = pw(PendingKind::Exists, "/a", &w);
        late.withdraw = Some(gone.clone());
        assert_eq!(
            ws.register(late, false),
            Some((WatchKind::Exist, "/a".to_string()))
        );
        assert_eq!(ws.len(), 0);
        // Another watcher of that kind is left: the session keeps the watch.
        ws.register(pw(PendingKind::Data, "/a", &Watcher::new(|_| ())), true);
        let mut late = pw(PendingKind::Exists, "/a", &w);
        late.withdraw = Some(gone);
        assert_eq!(ws.register(late, true), None);
        assert_eq!(ws.len(), 1);
        // Not withdrawn: registered.
        let mut on_time = pw(PendingKind::Child, "/a", &w);
        on_time.withdraw = Some(Withdraw::default());
        assert_eq!(ws.register(on_time, true), None);
        assert_eq!(ws.len(), 2);
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod size {
    /// A table slot's value is two words: the one watcher's pointer (the common case), or a
    /// boxed vector (issue #6 measures heap bytes per watch).
    #[test]
    fn a_table_slot_stays_two_words() {
        assert_eq!(std::mem::size_of::<super::Callbacks<super::Watcher>>(), 16);
    }
}
