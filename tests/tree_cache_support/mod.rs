//! Helpers shared by the TreeCache tests: an event recorder, waits, the server's tree as
//! read by a client, and the check that a cache mirrors it.
#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use mio_zookeeper::recipe::{CacheEvent, TreeCache};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{Client, CreateMode, Handler};

/// The longest any single wait may take before the test fails.
pub const LONG: Duration = Duration::from_secs(30);

pub type Events = Rc<RefCell<Vec<CacheEvent>>>;

/// Records every event `cache` sends from now on.
pub fn record<H: Handler>(cache: &TreeCache<H>) -> Events {
    let events = Events::default();
    let e = events.clone();
    cache.listen(move |ev| e.borrow_mut().push(ev.clone()));
    events
}

/// Runs `zk`'s loop until `cond` holds (at most [`LONG`]).
pub fn wait_for(zk: &Client, what: &str, cond: impl Fn() -> bool) {
    zk.run_until(&cond, Some(LONG))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
}

/// A short name for an event: `+/a`, `~/a=v`, `-/a`, `suspended`, ...
pub fn short(ev: &CacheEvent) -> String {
    match ev {
        CacheEvent::NodeAdded(n) => format!("+{}", n.path),
        CacheEvent::NodeUpdated(n) => format!("~{}={}", n.path, String::from_utf8_lossy(&n.data)),
        CacheEvent::NodeRemoved(n) => format!("-{}", n.path),
        CacheEvent::ConnectionSuspended => "suspended".into(),
        CacheEvent::ConnectionReconnected => "reconnected".into(),
        CacheEvent::ConnectionLost => "lost".into(),
        CacheEvent::Initialized => "initialized".into(),
        other => format!("{other:?}"),
    }
}

/// The events, shortened, and the log emptied.
pub fn drain(events: &Events) -> Vec<String> {
    events.borrow_mut().drain(..).map(|e| short(&e)).collect()
}

/// The node events only (connection events left out), shortened, and the log emptied.
pub fn drain_nodes(events: &Events) -> Vec<String> {
    events
        .borrow_mut()
        .drain(..)
        .filter(|e| {
            matches!(
                e,
                CacheEvent::NodeAdded(_) | CacheEvent::NodeUpdated(_) | CacheEvent::NodeRemoved(_)
            )
        })
        .map(|e| short(&e))
        .collect()
}

/// Creates `path` with `data` (its parents must exist).
pub fn mk(zk: &Client, path: &str, data: &str) {
    zk.create(path, data.as_bytes(), CreateMode::Persistent)
        .unwrap_or_else(|e| panic!("create {path}: {e}"));
}

/// A node as the server has it: data and mzxid.
pub type ServerTree = BTreeMap<String, (Bytes, i64)>;

/// `root` and everything under it, read with `zk` (empty if `root` is missing). Read
/// while nothing writes: the walk is not a snapshot.
pub fn server_tree(zk: &Client, root: &str) -> ServerTree {
    let mut out = ServerTree::new();
    let mut todo = vec![root.to_string()];
    while let Some(p) = todo.pop() {
        let Ok((data, stat)) = zk.get(&p, None) else {
            continue;
        };
        out.insert(p.clone(), (data.unwrap_or_default(), stat.mzxid));
        if let Ok(names) = zk.get_children(&p, None) {
            todo.extend(names.iter().map(|n| join(&p, n)));
        }
    }
    out
}

pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// What `cache` holds, in the same shape as [`server_tree`], walked through the cache's
/// own `get_data`/`get_children`.
pub fn cache_tree<H: Handler>(cache: &TreeCache<H>) -> ServerTree {
    let mut out = ServerTree::new();
    let mut todo = vec![cache.path().to_string()];
    while let Some(p) = todo.pop() {
        let Some(node) = cache.get_data(&p) else {
            continue;
        };
        assert_eq!(node.path, p, "the node's path");
        out.insert(p.clone(), (node.data, node.stat.mzxid));
        let names = cache
            .get_children(&p)
            .expect("a cached node has a child list");
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "children are sorted");
        todo.extend(names.iter().map(|n| join(&p, n)));
    }
    assert_eq!(
        out.len(),
        cache.len(),
        "every cached node is reachable from the root"
    );
    out
}

/// Whether `cache` holds exactly the server's tree (paths, data, mzxid).
pub fn mirrors<H: Handler>(cache: &TreeCache<H>, zk: &Client) -> bool {
    cache_tree(cache) == server_tree(zk, cache.path())
}

/// Runs `zk`'s loop until `cache` mirrors the server's tree; fails with the difference.
pub fn wait_mirror<H: Handler>(zk: &Client, cache: &TreeCache<H>) {
    if zk.run_until(&|| mirrors(cache, zk), Some(LONG)).is_err() {
        assert_eq!(
            cache_tree(cache),
            server_tree(zk, cache.path()),
            "the cache (left) does not mirror the server (right)"
        );
    }
}

/// Checks that a node event log is one the server's changes can explain with no event
/// twice: per path, adds and removes alternate (starting with an add unless the path was
/// cached before, `initially`), and each update moves the mzxid forward.
pub fn assert_no_duplicates(events: &[CacheEvent], initially: &[&str]) {
    let mut present: HashMap<String, Option<i64>> =
        initially.iter().map(|p| (p.to_string(), None)).collect();
    for ev in events {
        match ev {
            CacheEvent::NodeAdded(n) => {
                assert!(!present.contains_key(&n.path), "added twice: {}", n.path);
                present.insert(n.path.clone(), Some(n.stat.mzxid));
            }
            CacheEvent::NodeUpdated(n) => {
                let last = present
                    .get_mut(&n.path)
                    .unwrap_or_else(|| panic!("updated while absent: {}", n.path));
                if let Some(m) = *last {
                    assert!(
                        n.stat.mzxid > m,
                        "update not forward: {} {m} -> {}",
                        n.path,
                        n.stat.mzxid
                    );
                }
                *last = Some(n.stat.mzxid);
            }
            CacheEvent::NodeRemoved(n) => {
                assert!(
                    present.remove(&n.path).is_some(),
                    "removed while absent: {}",
                    n.path
                );
            }
            _ => {}
        }
    }
}

/// The server's total number of data watches (`wchs`; child watches are counted apart
/// and not shown).
pub fn server_watches(zk: &ZkServer) -> usize {
    let out = zk.four_letter("wchs").unwrap();
    out.lines()
        .find_map(|l| l.strip_prefix("Total watches:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no watch total in {out:?}"))
}
