//! RecursiveCache's batched reads (`multiRead`, see `src/recipe/recursive_cache/batch.rs`)
//! against a real server: a load takes far fewer requests than nodes; a batch holding a
//! node deleted meanwhile still applies its other reads; a batch whose reply is over the
//! client's frame limit (the connection drops) is read again singly and the cache loads.
//! (The fallback for a server that refuses `multiRead`, ZooKeeper 3.5, is unit-tested in
//! `batch.rs`: no server here refuses it.)

#[path = "cache_support/mod.rs"]
mod cache_support;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use cache_support::*;
use mio_zookeeper::recipe::{CacheEvent, RecursiveCache};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{Client, ClientState};

/// Keeps every log message (the tests run in parallel: each looks for its own cache's).
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        self.0.lock().unwrap().push(record.args().to_string());
    }
    fn flush(&self) {}
}

/// The log messages so far that contain `what`.
fn logged(what: &str) -> Vec<String> {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    let capture = CAPTURE.get_or_init(|| {
        let c: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(c).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        c
    });
    let all = capture.0.lock().unwrap();
    all.iter().filter(|m| m.contains(what)).cloned().collect()
}

/// The server's `zk_packets_received` (`mntr`).
fn packets_received(zk: &ZkServer) -> u64 {
    let mntr = zk.four_letter("mntr").unwrap();
    mntr.lines()
        .find_map(|l| l.strip_prefix("zk_packets_received"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("zk_packets_received in {mntr:?}"))
}

#[test]
fn a_load_takes_far_fewer_requests_than_nodes() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&c, "/big", "root");
    let mut nodes = Vec::new();
    for i in 0..40 {
        nodes.push((format!("/big/n{i:02}"), vec![b'p'; 10]));
    }
    for i in 0..40 {
        for j in 0..50 {
            nodes.push((format!("/big/n{i:02}/c{j:02}"), vec![b'c'; 20]));
        }
    }
    create_all(&c, &nodes);
    let loader = start_client(&zk.connect_string(), Duration::from_secs(10));
    let before = packets_received(&zk);
    let (cache, log) = start_cache::<RecursiveCache>(&loader, "/big");
    let requests = packets_received(&zk) - before;
    assert_eq!(cache.len(), 2041);
    assert!(mirrors(&cache, &c));
    assert_no_duplicates(&log.borrow(), &[]);
    // One getData per node and a getChildren per parent would be 2 082 requests; batches
    // of up to 128 reads need ~25 (and a few pings, the addWatch, the mntr).
    assert!(requests < 100, "{requests} requests for 2041 nodes");
}

#[test]
fn a_batch_with_a_node_deleted_meanwhile_applies_its_other_reads() {
    let zk = server();
    let c = start_client(&zk.connect_string(), Duration::from_secs(10));
    for (p, d) in [
        ("/d", "root"),
        ("/d/a", "1"),
        ("/d/a/x", "deep"),
        ("/d/b", "doomed"),
        ("/d/c", "3"),
    ] {
        make(&c, p, d);
    }
    logged(""); // the log captured from here on
    let cache = RecursiveCache::new(&c, "/d").unwrap();
    let log = record(&cache);
    // The root's NodeAdded is reported once its getChildren is sent (replies are applied,
    // more reads sent, then the events reported): a delete sent from here on the same
    // connection reaches the server after that getChildren (which lists b) and before the
    // batch of getData of a, b, c that its reply causes.
    let deleter = c.clone();
    cache.listen(move |ev| {
        if matches!(ev, CacheEvent::NodeAdded(n) if n.path == "/d") {
            deleter.delete_async("/d/b", None);
        }
    });
    cache.start(Some(LONG)).unwrap();
    assert!(c.exists("/d/b", None).unwrap().is_none(), "b was deleted");
    let mut added = node_events(&log, 0);
    added.sort();
    assert_eq!(
        added,
        [
            "added /d/a/x=deep",
            "added /d/a=1",
            "added /d/c=3",
            "added /d=root"
        ]
    );
    assert_eq!(cache.get_children("/d").unwrap(), ["a", "c"]);
    assert!(cache.is_initialized());
    // b's read was in the batch with a's and c's, its NoNode failed neither them nor the
    // load (a failure would have been logged and the tree read again).
    let batches = logged("RecursiveCache /d: multiRead");
    assert!(
        batches
            .iter()
            .any(|m| m.contains("\"/d/a\"") && m.contains("\"/d/b\"") && m.contains("\"/d/c\"")),
        "{batches:?}"
    );
    let failures = logged("RecursiveCache /d: reading");
    assert!(failures.is_empty(), "{failures:?}");
    wait_mirror(&c, &cache);
}

#[test]
fn a_batch_reply_over_the_frame_limit_is_read_again_singly() {
    let zk = server();
    let admin = start_client(&zk.connect_string(), Duration::from_secs(10));
    make(&admin, "/f", "");
    // 20 nodes of 4 KiB: one reply is ~4 KiB, a batch of them ~80 KiB.
    let nodes: Vec<_> = (0..20)
        .map(|i| (format!("/f/n{i:02}"), vec![b'a' + i as u8; 4096]))
        .collect();
    create_all(&admin, &nodes);
    make(&admin, "/f/n00/small", "s");
    let c = Client::builder(&zk.connect_string())
        .session_timeout(Duration::from_secs(10))
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .frame_limits(32 * 1024, 1 << 20)
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    let states = Rc::new(RefCell::new(Vec::new()));
    let s = states.clone();
    c.add_listener(move |st| s.borrow_mut().push(st));
    let (cache, log) = start_cache::<RecursiveCache>(&c, "/f");
    // The first batch's reply was refused (the connection dropped and came back), the
    // reads were made again singly.
    assert!(
        states.borrow().contains(&ClientState::Suspended),
        "the oversized batch dropped the connection: {:?}",
        states.borrow()
    );
    assert_eq!(cache.len(), 22);
    wait_mirror(&admin, &cache);
    // Each node reported once, whatever the retries.
    assert_no_duplicates(&log.borrow(), &[]);
    assert_eq!(node_events(&log, 0).len(), 22);
    // The cache keeps following the tree.
    admin.set("/f/n05", b"changed", None).unwrap();
    wait_for(&c, "the update", || saw(&log, 0, "updated /f/n05=changed"));
}
