//! Helpers shared by the tests of both tree caches (`TreeCache` and `RecursiveCache`, which
//! have the same public API): a small [`Cache`] trait over the two, an event log and its
//! descriptions, the server's tree as read by a client, the cache's tree, the wait until a
//! cache mirrors the server, a check that a log says each change exactly once, and the
//! server's watch totals.
#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio_zookeeper::recipe::{CacheEvent, CachedNode, RecursiveCache, TreeCache};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{AsyncResult, Client, CreateMode, CreateOptions, Error, Handler, Stat};

#[path = "../faults_support/mod.rs"]
mod faults_support;
#[allow(unused_imports)] // each test file uses a different subset
pub use faults_support::{expire_session, start_client, LONG};

/// What the helpers need of a tree cache: the calls both caches share.
pub trait Cache: Sized {
    /// The handler of the cache's client.
    type Handler: Handler;
    /// A new cache of `path` on `c` (not started).
    fn open(c: &Client<Self::Handler>, path: &str) -> Self;
    /// Starts the cache, waiting (at most [`LONG`]) for its first load.
    fn start_blocking(&self);
    /// The cache's root.
    fn path(&self) -> &str;
    /// The cached node at `path`.
    fn get_data(&self, path: &str) -> Option<CachedNode>;
    /// The names of the cached children of `path`.
    fn get_children(&self, path: &str) -> Option<Vec<String>>;
    /// How many nodes are cached.
    fn len(&self) -> usize;
    /// Calls `f` with every event from now on.
    fn listen(&self, f: impl Fn(&CacheEvent) + 'static);
}

macro_rules! impl_cache {
    ($($cache:ident),*) => {$(
        impl<H: Handler> Cache for $cache<H> {
            type Handler = H;
            fn open(c: &Client<H>, path: &str) -> Self {
                $cache::new(c, path).unwrap()
            }
            fn start_blocking(&self) {
                $cache::start(self, Some(LONG)).unwrap()
            }
            fn path(&self) -> &str {
                $cache::path(self)
            }
            fn get_data(&self, path: &str) -> Option<CachedNode> {
                $cache::get_data(self, path)
            }
            fn get_children(&self, path: &str) -> Option<Vec<String>> {
                $cache::get_children(self, path)
            }
            fn len(&self) -> usize {
                $cache::len(self)
            }
            fn listen(&self, f: impl Fn(&CacheEvent) + 'static) {
                $cache::listen(self, f)
            }
        }
    )*};
}
impl_cache!(TreeCache, RecursiveCache);

/// An event log.
pub type Log = Rc<RefCell<Vec<CacheEvent>>>;

/// A tree as (path -> (data, mzxid)).
pub type Tree = BTreeMap<String, (Bytes, i64)>;

/// Records every event `cache` reports from now on.
pub fn record(cache: &impl Cache) -> Log {
    let log = Log::default();
    let l = log.clone();
    cache.listen(move |ev| l.borrow_mut().push(ev.clone()));
    log
}

/// A cache of `path` on `c`, recorded from the start, started (blocking).
pub fn start_cache<C: Cache>(c: &Client<C::Handler>, path: &str) -> (C, Log) {
    let cache = C::open(c, path);
    let log = record(&cache);
    cache.start_blocking();
    (cache, log)
}

/// Whether python3 can import `modules` (kazoo's); if not, says the test is skipped.
pub fn kazoo_imports(modules: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: python3 cannot import {modules} (`pip install kazoo`)");
    }
    ok
}

/// Whether `ev` is about a node (added, updated, removed) rather than the connection.
pub fn is_node_event(ev: &CacheEvent) -> bool {
    matches!(
        ev,
        CacheEvent::NodeAdded(_) | CacheEvent::NodeUpdated(_) | CacheEvent::NodeRemoved(_)
    )
}

/// How an event is written: [`short`] or [`describe`].
#[derive(Clone, Copy, PartialEq)]
enum Style {
    Short,
    Words,
}

fn write(ev: &CacheEvent, style: Style) -> String {
    let data = |n: &CachedNode| String::from_utf8_lossy(&n.data).into_owned();
    match (ev, style) {
        (CacheEvent::NodeAdded(n), Style::Short) => format!("+{}", n.path),
        (CacheEvent::NodeAdded(n), Style::Words) => format!("added {}={}", n.path, data(n)),
        (CacheEvent::NodeUpdated(n), Style::Short) => format!("~{}={}", n.path, data(n)),
        (CacheEvent::NodeUpdated(n), Style::Words) => format!("updated {}={}", n.path, data(n)),
        (CacheEvent::NodeRemoved(n), Style::Short) => format!("-{}", n.path),
        (CacheEvent::NodeRemoved(n), Style::Words) => format!("removed {}", n.path),
        (CacheEvent::ConnectionSuspended, _) => "suspended".into(),
        (CacheEvent::ConnectionReconnected, _) => "reconnected".into(),
        (CacheEvent::ConnectionLost, _) => "lost".into(),
        (CacheEvent::Initialized, _) => "initialized".into(),
        (other, _) => format!("{other:?}"),
    }
}

/// A short name for an event: `+/a`, `~/a=v`, `-/a`, `suspended`, ...
pub fn short(ev: &CacheEvent) -> String {
    write(ev, Style::Short)
}

/// An event in a few words: `added /a=x`, `updated /a=y`, `removed /a`, `initialized`...
pub fn describe(ev: &CacheEvent) -> String {
    write(ev, Style::Words)
}

/// The events, shortened, and the log emptied.
pub fn drain(log: &Log) -> Vec<String> {
    log.borrow_mut().drain(..).map(|e| short(&e)).collect()
}

/// The log's events from `from` on, described.
pub fn described(log: &Log, from: usize) -> Vec<String> {
    log.borrow()[from..].iter().map(describe).collect()
}

/// The node events of the log from `from` on, described (connection events left out).
pub fn node_events(log: &Log, from: usize) -> Vec<String> {
    log.borrow()[from..]
        .iter()
        .filter(|e| is_node_event(e))
        .map(describe)
        .collect()
}

/// Whether the log, from `from` on, has the event described as `what`.
pub fn saw(log: &Log, from: usize, what: &str) -> bool {
    described(log, from).iter().any(|e| e == what)
}

/// Runs `c`'s loop until `cond` holds, failing with `what` after [`LONG`].
pub fn wait_for<H: Handler>(c: &Client<H>, what: &str, cond: impl Fn() -> bool) {
    c.run_until(&cond, Some(LONG))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
}

/// A throwaway standalone server.
pub fn server() -> ZkServer {
    ZkServer::start().expect("start a ZooKeeper server (scripts/install-zookeeper)")
}

/// Creates `path` with `data` (its parents must exist).
pub fn mk(c: &Client, path: &str, data: &str) {
    c.create(path, data.as_bytes(), CreateMode::Persistent)
        .unwrap_or_else(|e| panic!("create {path}: {e}"));
}

/// Creates `path` (and its missing parents) with `data`.
pub fn make(c: &Client, path: &str, data: &str) {
    c.create(path, data, CreateOptions::default().with_makepath())
        .unwrap();
}

/// Creates `nodes` (parents first) with their data, pipelined, at most 1 000 in flight.
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

pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// `root` and everything under it on the server, read with `c` (blocking; empty if `root`
/// is missing). Read while nothing writes: the walk is not a snapshot.
pub fn server_tree<H: Handler>(c: &Client<H>, root: &str) -> Tree {
    let mut out = Tree::new();
    let mut todo = vec![root.to_string()];
    // A cut that was still under way when the test stopped cutting fails a read or two
    // (ConnectionLoss): those are read again once the client is back.
    let give_up = Instant::now() + LONG;
    let again = |e: &Error, what: &str, p: &str| {
        assert!(
            e.is_retryable() && Instant::now() < give_up,
            "{what} {p}: {e}"
        );
        let _ = c.run_until(&|| c.connected(), Some(LONG));
    };
    while let Some(p) = todo.pop() {
        let (data, stat) = match c.get(&p, None) {
            Ok(r) => r,
            Err(e) if e.is_no_node() => continue,
            Err(e) => {
                again(&e, "reading", &p);
                todo.push(p);
                continue;
            }
        };
        match c.get_children(&p, None) {
            Ok(names) => todo.extend(names.iter().map(|n| join(&p, n))),
            Err(e) if e.is_no_node() => {}
            Err(e) => {
                again(&e, "listing", &p);
                todo.push(p);
                continue;
            }
        }
        out.insert(p, (data.unwrap_or_default(), stat.mzxid));
    }
    out
}

/// What `cache` holds, in the same shape as [`server_tree`], walked through the cache's
/// own `get_data`/`get_children` from its root. Checks on the way that each node knows its
/// path, has a child list, sorted, and that every cached node is reachable.
pub fn cache_tree(cache: &impl Cache) -> Tree {
    let mut out = Tree::new();
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

/// Whether `cache` holds exactly the server's tree (paths, data, mzxid), read with `c`.
pub fn mirrors<H: Handler>(cache: &impl Cache, c: &Client<H>) -> bool {
    cache_tree(cache) == server_tree(c, cache.path())
}

/// Waits (running the loop) until `cache` holds exactly the server's tree, read with `c`;
/// fails with (the first 20 of) the differences after [`LONG`].
pub fn wait_mirror<H: Handler>(c: &Client<H>, cache: &impl Cache) {
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

/// Replays the node events of `events` on a model holding `initially` (paths cached
/// before the log starts, their stat unknown) and checks they say each change once: an add
/// of a node not there (and not the same node, same czxid and mzxid, again after its
/// removal), an update of a node there that moves its mzxid forward, a removal of a node
/// there. Returns the nodes the events leave (those of `initially` only if an event told
/// their data).
pub fn replay_from(events: &[CacheEvent], initially: &[&str]) -> Tree {
    let mut model: BTreeMap<String, Option<Stat>> =
        initially.iter().map(|p| (p.to_string(), None)).collect();
    let mut data = Tree::new();
    let mut removed: BTreeMap<String, Option<Stat>> = BTreeMap::new();
    for ev in events {
        let n = match ev {
            CacheEvent::NodeAdded(n) => {
                assert!(!model.contains_key(&n.path), "added twice: {}", n.path);
                if let Some(Some(old)) = removed.get(&n.path) {
                    assert!(
                        old.czxid != n.stat.czxid || old.mzxid != n.stat.mzxid,
                        "removed and added again unchanged: {}",
                        n.path
                    );
                }
                n
            }
            CacheEvent::NodeUpdated(n) => {
                let old = model
                    .get(&n.path)
                    .unwrap_or_else(|| panic!("updated while absent: {}", n.path));
                if let Some(old) = old {
                    assert!(
                        n.stat.mzxid > old.mzxid,
                        "update not forward: {} {} -> {}",
                        n.path,
                        old.mzxid,
                        n.stat.mzxid
                    );
                }
                n
            }
            CacheEvent::NodeRemoved(n) => {
                let old = model
                    .remove(&n.path)
                    .unwrap_or_else(|| panic!("removed while absent: {}", n.path));
                removed.insert(n.path.clone(), old);
                data.remove(&n.path);
                continue;
            }
            _ => continue,
        };
        model.insert(n.path.clone(), Some(n.stat));
        data.insert(n.path.clone(), (n.data.clone(), n.stat.mzxid));
    }
    data
}

/// [`replay_from`] an empty model: the tree the whole log describes.
pub fn replay(log: &Log) -> Tree {
    replay_from(&log.borrow(), &[])
}

/// [`replay_from`] the paths cached before `events` began, for its checks alone.
pub fn assert_no_duplicates(events: &[CacheEvent], initially: &[&str]) {
    replay_from(events, initially);
}

/// The server's watch totals from `wchs`: (paths watched, watches). The connection count
/// is left out: ZooKeeper keeps counting a connection whose watches were all removed.
pub fn watch_totals(wchs: &str) -> (u64, u64) {
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

/// The server's total number of data watches (`wchs`; child watches are counted apart
/// and not shown).
pub fn server_watches(zk: &ZkServer) -> u64 {
    watch_totals(&zk.four_letter("wchs").unwrap()).1
}
