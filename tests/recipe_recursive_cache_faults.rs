//! RecursiveCache through faults, against real servers: connection cuts (one, and random
//! ones) while another client changes the tree, a server restart, a session expiry, a
//! 3-node ensemble losing the client's server; and kazoo writing the tree it mirrors.
//! After each the cache must equal the server's tree, and its events must say each change
//! once (nothing for what did not change).

#[path = "cache_support/mod.rs"]
mod cache_support;

use std::process::Command;
use std::time::Duration;

use cache_support::*;
use mio_zookeeper::recipe::RecursiveCache;
use mio_zookeeper::testing::{Proxy, RandomCuts, ZkEnsemble, ZkServer};
use mio_zookeeper::{Client, CreateOptions, Error};

const SESSION: Duration = Duration::from_secs(10);

/// A cache of `path`, recorded, started (blocking).
fn started(c: &Client, path: &str) -> (RecursiveCache, Log) {
    start_cache(c, path)
}

/// The tree the offline tests start from.
fn seed_tree(c: &Client) {
    for (p, d) in [
        ("/t/a", "1"),
        ("/t/b", "b"),
        ("/t/gone", "g"),
        ("/t/gone/kid", "k"),
        ("/t/same", "s"),
        ("/t/deep/x", "x"),
    ] {
        make(c, p, d);
    }
}

/// The changes the offline tests make while the cache cannot hear, and what it must report
/// for them once back (in any order: the re-read finds them by walking the tree).
fn change_tree(w: &Client) -> Vec<&'static str> {
    w.set("/t/a", "2", None).unwrap();
    w.create("/t/new", "n", CreateOptions::default()).unwrap();
    w.delete_recursive("/t/gone").unwrap();
    w.create("/t/deep/y", "y", CreateOptions::default())
        .unwrap();
    w.delete("/t/deep/x", None).unwrap();
    vec![
        "added /t/deep/y=y",
        "added /t/new=n",
        "removed /t/deep/x",
        "removed /t/gone",
        "removed /t/gone/kid",
        "updated /t/a=2",
    ]
}

fn sorted_node_events(log: &Log, from: usize) -> Vec<String> {
    let mut v = node_events(log, from);
    v.sort();
    v
}

/// The cache's client is cut off (a proxy refusing), another client changes the tree,
/// `meanwhile` runs (an expiry, or nothing), and the cache's client is let back in. The
/// cache must report exactly `change_tree`'s differences, after `connection` events, and
/// follow the tree after that with its watch in place.
fn cut_off(meanwhile: impl FnOnce(&ZkServer, &Client), connection: &[&str]) {
    let zk = server();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), SESSION);
    let w = start_client(&zk.connect_string(), SESSION);
    seed_tree(&w);
    let (cache, log) = started(&c, "/t");
    let mark = log.borrow().len();
    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "suspended", || saw(&log, mark, "suspended"));
    meanwhile(&zk, &c);
    let expected = change_tree(&w);
    proxy.set_refusing(false);
    wait_for(&c, "reconnected", || saw(&log, mark, "reconnected"));
    wait_mirror(&c, &cache);
    // Nothing more once quiet (no late duplicate from the re-read).
    c.sleep(Duration::from_millis(300)).unwrap();
    let events = described(&log, mark);
    assert_eq!(events[..connection.len()], *connection);
    assert_eq!(
        events.len(),
        connection.len() + expected.len(),
        "{events:?}"
    );
    assert_eq!(sorted_node_events(&log, mark), expected);
    assert_eq!(replay(&log), server_tree(&w, "/t"));
    // The watch is in place (re-added after an expiry): a later change is seen.
    assert_eq!(c.watch_count(), 1);
    w.set("/t/same", "s2", None).unwrap();
    wait_for(&c, "an update", || saw(&log, mark, "updated /t/same=s2"));
    cache.close();
}

#[test]
fn a_cut_while_another_client_changes_reports_exactly_the_differences() {
    cut_off(|_, _| {}, &["suspended", "reconnected"]);
}

#[test]
fn a_session_expiry_reports_lost_then_exactly_the_differences() {
    cut_off(
        |zk, c| expire_session(zk.addr(), c),
        &["suspended", "lost", "reconnected"],
    );
}

#[test]
fn random_cuts_while_another_client_changes_the_tree() {
    let zk = server();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), SESSION);
    let w = start_client(&zk.connect_string(), SESSION);
    make(&w, "/rc", "");
    let (cache, log) = started(&c, "/rc");
    proxy
        .start_random_cuts(
            RandomCuts::new(12).every(Duration::from_millis(100), Duration::from_millis(400)),
        )
        .unwrap();
    for i in 0..400u32 {
        let p = format!("/rc/n{}", i % 40);
        // Failures (a node already gone, a parent missing) are part of the mix.
        match i % 5 {
            0 | 1 => {
                let made = CreateOptions::default().with_makepath();
                drop(w.create_async(&format!("{p}/c{i}"), "c", made));
            }
            2 => {
                drop(w.set_async(&p, format!("v{i}"), None));
            }
            3 => {
                drop(w.delete_async(&format!("/rc/n{}/c{}", (i + 7) % 40, i - 3), None));
            }
            _ => {
                drop(w.delete_recursive_async(&format!("/rc/n{}", (i * 7) % 40)));
            }
        }
        if i % 10 == 0 {
            w.sleep(Duration::from_millis(20)).unwrap();
        }
    }
    w.sync("/rc").unwrap();
    proxy.stop_random_cuts();
    assert!(proxy.cuts() > 0, "the proxy cut the connection");
    wait_for(&c, "connected", || c.connected());
    wait_mirror(&c, &cache);
    assert_eq!(replay(&log), server_tree(&w, "/rc"));
    cache.close();
}

#[test]
fn a_server_restart() {
    let mut zk = server();
    let c = start_client(&zk.connect_string(), SESSION);
    seed_tree(&c);
    let (cache, log) = started(&c, "/t");
    let mark = log.borrow().len();
    zk.restart().unwrap();
    wait_for(&c, "reconnected", || saw(&log, mark, "reconnected"));
    let w = start_client(&zk.connect_string(), SESSION);
    let expected = change_tree(&w);
    wait_mirror(&c, &cache);
    assert_eq!(sorted_node_events(&log, mark), expected);
    assert_eq!(described(&log, mark)[..2], ["suspended", "reconnected"]);
    assert_eq!(replay(&log), server_tree(&w, "/t"));
    cache.close();
}

/// Runs `f` until it succeeds, again after each retryable failure (at most [`LONG`]).
fn until_done(c: &Client, f: impl Fn() -> Result<(), Error>) {
    let give_up = std::time::Instant::now() + LONG;
    loop {
        match f() {
            Ok(()) => return,
            Err(e) if e.is_retryable() && std::time::Instant::now() < give_up => {
                c.sleep(Duration::from_millis(100)).unwrap()
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn an_ensemble_losing_the_clients_server() {
    let mut ens = ZkEnsemble::start(3).expect("a 3-node ensemble");
    let c = start_client(&ens.connect_string(), SESSION);
    let (cache, log) = started(&c, "/e");
    let on = c.current_server().unwrap();
    let i = (0..3)
        .find(|&i| ens.server(i).unwrap().addr().to_string() == on)
        .expect("the client's server");
    // The writer knows only the other two servers (they may re-elect a leader, dropping
    // their clients for a moment: its writes are retried).
    let others: Vec<String> = (1..3)
        .map(|k| ens.server((i + k) % 3).unwrap().addr().to_string())
        .collect();
    let w = start_client(&others.join(","), SESSION);
    make(&w, "/e/before", "1");
    wait_for(&c, "the first node", || {
        cache.get_data("/e/before").is_some()
    });
    let mark = log.borrow().len();
    ens.stop(i).unwrap();
    until_done(&w, || {
        match w.create("/e/during/x", "2", CreateOptions::default().with_makepath()) {
            Err(e) if e.is_node_exists() => Ok(()),
            r => r.map(drop),
        }
    });
    until_done(&w, || w.set("/e/before", "changed", None).map(drop));
    wait_for(&c, "reconnected", || saw(&log, mark, "reconnected"));
    assert_ne!(c.current_server().unwrap(), on);
    wait_mirror(&c, &cache);
    assert_eq!(replay(&log), server_tree(&w, "/e"));
    until_done(&w, || {
        w.create("/e/after", "3", CreateOptions::default())
            .map(drop)
    });
    wait_for(&c, "a node made after", || {
        cache.get_data("/e/after").is_some()
    });
    cache.close();
}

/// kazoo builds a tree under argv[2], then changes it.
const KAZOO_WRITES: &str = r#"
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1])
zk.start()
root = sys.argv[2]
zk.create(root + "/conf/db", b"primary", makepath=True)
zk.create(root + "/conf/cache", b"on", makepath=True)
for i in range(50):
    zk.create(root + "/jobs/job-", b"%d" % i, sequence=True, makepath=True)
zk.set(root + "/conf/db", b"replica")
zk.delete(root + "/conf/cache")
for name in sorted(zk.get_children(root + "/jobs"))[:10]:
    zk.delete(root + "/jobs/" + name)
zk.stop()
"#;

#[test]
fn kazoo_writes_and_the_cache_mirrors_it() {
    if !kazoo_imports("kazoo.client") {
        return;
    }
    let zk = server();
    let c = start_client(&zk.connect_string(), SESSION);
    let (cache, log) = started(&c, "/kz");
    let out = Command::new("python3")
        .args(["-c", KAZOO_WRITES, &zk.connect_string(), "/kz"])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_mirror(&c, &cache);
    assert_eq!(cache.get_data("/kz/conf/db").unwrap().data, "replica");
    assert_eq!(cache.get_children("/kz/conf").unwrap(), ["db"]);
    assert_eq!(cache.get_children("/kz/jobs").unwrap().len(), 40);
    assert_eq!(replay(&log), server_tree(&c, "/kz"));
    cache.close();
}

#[test]
fn changes_during_the_re_read_are_each_reported_once() {
    let zk = server();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = start_client(&proxy.connect_string(), SESSION);
    let w = start_client(&zk.connect_string(), SESSION);
    let nodes: Vec<(String, Vec<u8>)> = std::iter::once(("/big".to_string(), Vec::new()))
        .chain((0..3000).map(|i| (format!("/big/n{i}"), b"0".to_vec())))
        .collect();
    create_all(&w, &nodes);
    let (cache, log) = started(&c, "/big");
    let mark = log.borrow().len();
    proxy.set_refusing(true);
    proxy.drop_connections();
    wait_for(&c, "suspended", || saw(&log, mark, "suspended"));
    for i in (0..3000).step_by(10) {
        drop(w.set_async(&format!("/big/n{i}"), "away", None));
    }
    w.sync("/big").unwrap();
    proxy.set_refusing(false);
    wait_for(&c, "reconnected", || saw(&log, mark, "reconnected"));
    // While the re-read of 3 000 nodes is in flight: more changes, some to nodes the
    // re-read has not reached yet, some to nodes it has.
    for i in (5..3000).step_by(10) {
        drop(w.set_async(&format!("/big/n{i}"), "during", None));
        if i % 100 == 5 {
            drop(w.delete_async(&format!("/big/n{}", i + 1), None));
            drop(w.create_async(&format!("/big/m{i}"), "new", CreateOptions::default()));
        }
    }
    w.sync("/big").unwrap();
    wait_mirror(&c, &cache);
    let events = node_events(&log, mark);
    assert_eq!(events.len(), 300 + 300 + 30 + 30, "{events:?}");
    assert_eq!(replay(&log), server_tree(&w, "/big"));
    cache.close();
}
