//! TreeCache and kazoo (issue #12 §4): kazoo writes a tree while our cache runs and the
//! cache mirrors it; kazoo's own TreeCache sees what our client writes. Needs `python3`
//! with kazoo (skipped with a message otherwise, as `client_interop.rs`).

#[path = "cache_support/mod.rs"]
mod cache_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use cache_support::*;
use mio_zookeeper::recipe::{CacheEvent, TreeCache};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{Client, CreateMode};
use serde_json::Value;

fn kazoo_available() -> bool {
    kazoo_imports("kazoo.client, kazoo.recipe.cache")
}

/// kazoo writes `/kz`: a nested tree with data, then updates and removals.
const KAZOO_WRITES: &str = r#"
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1]); zk.start(timeout=30)
zk.ensure_path("/kz")
for i in range(10):
    zk.create("/kz/n%d" % i, b"v%d" % i)
    for j in range(3):
        zk.create("/kz/n%d/m%d" % (i, j), b"")
for i in range(0, 10, 2):
    zk.set("/kz/n%d" % i, b"updated")
for i in range(1, 10, 3):
    zk.delete("/kz/n%d" % i, recursive=True)
zk.create("/kz/n1", b"again")
zk.stop(); zk.close()
"#;

#[test]
fn kazoo_writes_and_our_cache_mirrors_it() {
    if !kazoo_available() {
        return;
    }
    let server = ZkServer::start().unwrap();
    let zk = Client::new(&server.connect_string()).unwrap();
    zk.start(Some(LONG)).unwrap();
    let cache = TreeCache::new(&zk, "/kz").unwrap();
    let events = record(&cache);
    cache.start(Some(LONG)).unwrap();

    let child = std::cell::RefCell::new(
        Command::new("python3")
            .args(["-c", KAZOO_WRITES, &server.connect_string()])
            .spawn()
            .expect("python3 runs"),
    );
    // Our loop runs while kazoo writes.
    let done = std::cell::RefCell::new(None);
    wait_for(&zk, "kazoo's writes", || {
        let st = child.borrow_mut().try_wait().unwrap();
        *done.borrow_mut() = st;
        st.is_some()
    });
    assert!(
        done.into_inner().unwrap().success(),
        "the kazoo script failed"
    );
    wait_mirror(&zk, &cache);
    assert_eq!(cache.len(), 1 + 7 * 4 + 1);
    assert_eq!(&cache.get_data("/kz/n0").unwrap().data[..], b"updated");
    assert_eq!(&cache.get_data("/kz/n1").unwrap().data[..], b"again");
    let log: Vec<CacheEvent> = events.borrow().clone();
    assert_no_duplicates(&log, &[]);
}

/// kazoo's TreeCache on `/ours`: prints `ready` once initialized, then, once it holds
/// `/ours/done` and the server's tree, its content and the node events it heard, as JSON.
const KAZOO_CACHE: &str = r#"
import sys, json, threading
from kazoo.client import KazooClient
from kazoo.recipe.cache import TreeCache, TreeEvent
zk = KazooClient(hosts=sys.argv[1]); zk.start(timeout=30)
cache = TreeCache(zk, "/ours")
ready, done, events = threading.Event(), threading.Event(), []
names = {TreeEvent.NODE_ADDED: "+", TreeEvent.NODE_UPDATED: "~", TreeEvent.NODE_REMOVED: "-"}
def listener(ev):
    if ev.event_type == TreeEvent.INITIALIZED:
        ready.set()
    elif ev.event_type in names:
        events.append(names[ev.event_type] + ev.event_data.path)
        if ev.event_data.path == "/ours/done":
            done.set()
cache.listen(listener)
cache.start()
assert ready.wait(30), "kazoo's cache initialized"
print("ready", flush=True)
assert done.wait(30), "kazoo's cache saw /ours/done"
import time
def walk(get_data, get_children, p, out):
    data = get_data(p)
    if data is None:
        return
    out[p] = data.decode()
    for c in get_children(p) or []:
        walk(get_data, get_children, p + "/" + c, out)
def cached(p):
    node = cache.get_data(p)
    return None if node is None else node.data
def server(p):
    try:
        return zk.get(p)[0]
    except Exception:
        return None
# kazoo's cache reports /ours/done before it may have read everything: wait until it
# holds what the server holds (at most 30 s).
deadline = time.time() + 30
while True:
    tree, truth = {}, {}
    walk(cached, cache.get_children, "/ours", tree)
    walk(server, zk.get_children, "/ours", truth)
    if tree == truth or time.time() > deadline:
        break
    time.sleep(0.05)
print(json.dumps({"tree": tree, "events": events}), flush=True)
cache.close(); zk.stop(); zk.close()
"#;

#[test]
fn kazoos_tree_cache_sees_what_our_client_writes() {
    if !kazoo_available() {
        return;
    }
    let server = ZkServer::start().unwrap();
    let zk = Client::new(&server.connect_string()).unwrap();
    zk.start(Some(LONG)).unwrap();
    mk(&zk, "/ours", "");
    let mut child = Command::new("python3")
        .args(["-c", KAZOO_CACHE, &server.connect_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "kazoo's cache started");

    mk(&zk, "/ours/a", "1");
    mk(&zk, "/ours/a/b", "2");
    zk.set("/ours/a", b"1b", None).unwrap();
    mk(&zk, "/ours/gone", "");
    zk.delete("/ours/gone", None).unwrap();
    zk.create("/ours/done", b"d", CreateMode::Persistent)
        .unwrap();

    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(child.wait().unwrap().success(), "the kazoo script failed");
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let tree: Vec<(String, String)> = v["tree"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, d)| (k.clone(), d.as_str().unwrap().to_string()))
        .collect();
    let ours: Vec<(String, String)> = server_tree(&zk, "/ours")
        .into_iter()
        .map(|(k, (d, _))| (k, String::from_utf8(d.to_vec()).unwrap()))
        .collect();
    let mut tree = tree;
    tree.sort();
    assert_eq!(tree, ours, "kazoo's cache mirrors what we wrote");
    let events: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    // The update of /ours/a may come before kazoo's cache read it: then it is in the add.
    for e in ["+/ours/a", "+/ours/a/b", "+/ours/done"] {
        assert!(events.contains(&e), "kazoo heard {e}: {events:?}");
    }
}
