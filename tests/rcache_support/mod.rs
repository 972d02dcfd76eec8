//! Helpers of the RecursiveCache tests: an event log, the server's tree walked with the
//! client, the cache's tree, and a check that an event log says each change exactly once.
#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio_zookeeper::recipe::{CacheEvent, RecursiveCache};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{AsyncResult, Client, CreateOptions, Handler, Stat};

#[path = "../faults_support/mod.rs"]
mod faults_support;
#[allow(unused_imports)] // each test file uses a different subset
pub use faults_support::{expire_session, start_client, LONG};

pub type Log = Rc<RefCell<Vec<CacheEvent>>>;

/// A tree as (path -> (data, mzxid)).
pub type Tree = BTreeMap<String, (Bytes, i64)>;

/// Records every event `cache` reports from now on.
pub fn record<H: Handler>(cache: &RecursiveCache<H>) -> Log {
    let log = Log::default();
    let l = log.clone();
    cache.listen(move |ev| l.borrow_mut().push(ev.clone()));
    log
}

/// An event in a few words: `added /a=x`, `updated /a=y`, `removed /a`, `initialized`...
pub fn describe(ev: &CacheEvent) -> String {
    let data = |d: &Bytes| String::from_utf8_lossy(d).into_owned();
    match ev {
        CacheEvent::NodeAdded(n) => format!("added {}={}", n.path, data(&n.data)),
        CacheEvent::NodeUpdated(n) => format!("updated {}={}", n.path, data(&n.data)),
        CacheEvent::NodeRemoved(n) => format!("removed {}", n.path),
        CacheEvent::ConnectionSuspended => "suspended".into(),
        CacheEvent::ConnectionReconnected => "reconnected".into(),
        CacheEvent::ConnectionLost => "lost".into(),
        CacheEvent::Initialized => "initialized".into(),
        other => format!("{other:?}"),
    }
}

/// The log's events from `from` on, described.
pub fn described(log: &Log, from: usize) -> Vec<String> {
    log.borrow()[from..].iter().map(describe).collect()
}

/// The node events of the log from `from` on, described (connection events left out).
pub fn node_events(log: &Log, from: usize) -> Vec<String> {
    log.borrow()[from..]
        .iter()
        .filter(|e| {
            matches!(
                e,
                CacheEvent::NodeAdded(_) | CacheEvent::NodeUpdated(_) | CacheEvent::NodeRemoved(_)
            )
        })
        .map(describe)
        .collect()
}

/// `root` and everything under it on the server, read with `c` (blocking).
pub fn server_tree<H: Handler>(c: &Client<H>, root: &str) -> Tree {
    let mut out = Tree::new();
    let mut todo = vec![root.to_string()];
    while let Some(p) = todo.pop() {
        let (data, stat) = match c.get(&p, None) {
            Ok(r) => r,
            Err(e) if e.is_no_node() => continue,
            Err(e) => panic!("reading {p}: {e}"),
        };
        out.insert(p.clone(), (data.unwrap_or_default(), stat.mzxid));
        match c.get_children(&p, None) {
            Ok(names) => todo.extend(names.iter().map(|n| join(&p, n))),
            Err(e) if e.is_no_node() => {}
            Err(e) => panic!("listing {p}: {e}"),
        }
    }
    out
}

/// What `cache` holds, walked through its queries from its root.
pub fn cache_tree<H: Handler>(cache: &RecursiveCache<H>) -> Tree {
    let mut out = Tree::new();
    let mut todo = vec![cache.path().to_string()];
    while let Some(p) = todo.pop() {
        let Some(n) = cache.get_data(&p) else {
            continue;
        };
        out.insert(p.clone(), (n.data, n.stat.mzxid));
        todo.extend(
            cache
                .get_children(&p)
                .unwrap_or_default()
                .iter()
                .map(|n| join(&p, n)),
        );
    }
    assert_eq!(out.len(), cache.len(), "every cached node is reachable");
    out
}

pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Waits (running the loop) until `cache` holds exactly the server's tree, read with `c`.
pub fn wait_mirrors<H: Handler>(c: &Client<H>, cache: &RecursiveCache<H>) {
    let give_up = Instant::now() + LONG;
    loop {
        let server = server_tree(c, cache.path());
        let cached = cache_tree(cache);
        if server == cached {
            return;
        }
        if Instant::now() > give_up {
            let diff: Vec<_> = server
                .iter()
                .filter(|(k, v)| cached.get(*k) != Some(v))
                .map(|(k, _)| format!("server has {k}"))
                .chain(
                    cached
                        .iter()
                        .filter(|(k, v)| server.get(*k) != Some(v))
                        .map(|(k, _)| format!("cache has {k}")),
                )
                .take(20)
                .collect();
            panic!("the cache never mirrored the server: {diff:?}");
        }
        c.sleep(Duration::from_millis(50)).unwrap();
    }
}

/// Replays an event log on an empty model and checks it says each change once: an add of
/// a node not there (and not the same node again after its removal), an update that moves
/// `mzxid`, a removal of a node there. Returns the model.
pub fn replay(log: &Log) -> Tree {
    let mut model: BTreeMap<String, Stat> = BTreeMap::new();
    let mut data = Tree::new();
    let mut removed: BTreeMap<String, Stat> = BTreeMap::new();
    for ev in log.borrow().iter() {
        match ev {
            CacheEvent::NodeAdded(n) => {
                assert!(!model.contains_key(&n.path), "added twice: {}", n.path);
                if let Some(old) = removed.get(&n.path) {
                    assert!(
                        old.czxid != n.stat.czxid || old.mzxid != n.stat.mzxid,
                        "removed and added again unchanged: {}",
                        n.path
                    );
                }
                model.insert(n.path.clone(), n.stat);
                data.insert(n.path.clone(), (n.data.clone(), n.stat.mzxid));
            }
            CacheEvent::NodeUpdated(n) => {
                let old = model
                    .get(&n.path)
                    .unwrap_or_else(|| panic!("update of a node not there: {}", n.path));
                assert_ne!(old.mzxid, n.stat.mzxid, "update without change: {}", n.path);
                model.insert(n.path.clone(), n.stat);
                data.insert(n.path.clone(), (n.data.clone(), n.stat.mzxid));
            }
            CacheEvent::NodeRemoved(n) => {
                let old = model
                    .remove(&n.path)
                    .unwrap_or_else(|| panic!("removal of a node not there: {}", n.path));
                removed.insert(n.path.clone(), old);
                data.remove(&n.path);
            }
            _ => {}
        }
    }
    data
}

/// Creates `paths` (parents first) with their data, pipelined, at most 1 000 in flight.
pub fn create_all<H: Handler>(c: &Client<H>, nodes: &[(String, Vec<u8>)]) {
    for chunk in nodes.chunks(1000) {
        let results: Vec<AsyncResult<(String, Stat)>> = chunk
            .iter()
            .map(|(p, d)| c.create_async(p, d.as_slice(), CreateOptions::default()))
            .collect();
        c.run_until(&|| results.iter().all(|r| r.ready()), Some(LONG))
            .unwrap();
        for (r, (p, _)) in results.iter().zip(chunk) {
            r.get_nowait()
                .unwrap_or_else(|e| panic!("creating {p}: {e}"));
        }
    }
}

/// A throwaway standalone server.
pub fn server() -> ZkServer {
    ZkServer::start().expect("start a ZooKeeper server (scripts/install-zookeeper)")
}

/// Creates `path` (and its missing parents) with `data`.
pub fn make(c: &Client, path: &str, data: &str) {
    c.create(path, data, CreateOptions::default().with_makepath())
        .unwrap();
}

/// A cache of `path`, recorded, started (blocking).
pub fn started(c: &Client, path: &str) -> (RecursiveCache, Log) {
    let cache = RecursiveCache::new(c, path).unwrap();
    let log = record(&cache);
    cache.start(Some(LONG)).unwrap();
    (cache, log)
}

/// Runs `c`'s loop until `cond` holds, failing with `what` after [`LONG`].
pub fn wait(c: &Client, what: &str, cond: impl Fn() -> bool) {
    c.run_until(&cond, Some(LONG))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
}

/// Whether the log, from `from` on, has the event described as `what`.
pub fn saw(log: &Log, from: usize, what: &str) -> bool {
    described(log, from).iter().any(|e| e == what)
}

/// The server's watch totals from `wchs`: (paths watched, watches). The connection count
/// is left out: ZooKeeper keeps counting a connection whose watches were all removed.
pub fn server_watches(wchs: &str) -> (u64, u64) {
    let num_after = |key: &str| -> u64 {
        let at = wchs
            .find(key)
            .unwrap_or_else(|| panic!("{key:?} in {wchs:?}"));
        wchs[at + key.len()..]
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a number after {key:?} in {wchs:?}"))
    };
    let paths = wchs
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .find(|w| w[1] == "paths")
        .and_then(|w| w[0].parse().ok())
        .unwrap_or_else(|| panic!("paths in {wchs:?}"));
    (paths, num_after("Total watches:"))
}
