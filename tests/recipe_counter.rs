//! Counter against a real server: both wire formats byte for byte, data that is not a
//! counter, contention of four clients (the exact total), a lost set reply (the add counted
//! exactly once, or an error saying it may have been applied), and the non-blocking form
//! under `poll_once` and embedded in a host's `mio::Poll`.
#![cfg(feature = "testing")]

#[path = "recipe_support/mod.rs"]
mod recipe_support;

use mio_zookeeper::recipe::{Change, Counter, CounterFormat, RecipeError};
use mio_zookeeper::testing::{Direction, Proxy, ZkServer};
use mio_zookeeper::{Client, CreateMode, Error};
use recipe_support::{assert_embedded_refusal, client, embedded, poll_until, polled};

fn data(c: &Client, path: &str) -> Option<Vec<u8>> {
    c.get(path, None).unwrap().0.map(|d| d.to_vec())
}

#[test]
fn the_decimal_format_is_kazoos_bytes_and_empty_data_is_the_default() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let n = Counter::new(&c, "/a/b/count").unwrap();
    assert_eq!(n.value().unwrap(), 0);
    // Created as kazoo's ensure_path: persistent, no data; parents too.
    let stat = c.exists("/a/b/count", None).unwrap().unwrap();
    assert_eq!((stat.ephemeral_owner, stat.data_length), (0, 0));
    // Empty, not null: kazoo's counter fails on null data.
    assert_eq!(data(&c, "/a/b/count").as_deref(), Some(&b""[..]));
    assert_eq!(n.add(5).unwrap(), Change { pre: 0, post: 5 });
    assert_eq!(data(&c, "/a/b/count").as_deref(), Some(&b"5"[..]));
    assert_eq!(n.sub(17).unwrap(), Change { pre: 5, post: -12 });
    assert_eq!(data(&c, "/a/b/count").as_deref(), Some(&b"-12"[..]));
    // Beyond i32: the decimal format holds any i64.
    n.add(1 << 40).unwrap();
    assert_eq!(n.value().unwrap(), (1 << 40) - 12);
    assert_eq!(
        data(&c, "/a/b/count").unwrap(),
        ((1i64 << 40) - 12).to_string().into_bytes()
    );
    // A default applies to empty data only.
    c.create("/empty", b"", CreateMode::Persistent).unwrap();
    let d = Counter::new(&c, "/empty").unwrap().default(7);
    assert_eq!(d.value().unwrap(), 7);
    assert_eq!(d.add(1).unwrap(), Change { pre: 7, post: 8 });
    assert_eq!(data(&c, "/empty").as_deref(), Some(&b"8"[..]));
}

#[test]
fn the_curator_format_is_four_big_endian_bytes_and_refuses_values_beyond_i32() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let n = Counter::new(&c, "/cur")
        .unwrap()
        .format(CounterFormat::Curator);
    assert_eq!(n.add(5).unwrap(), Change { pre: 0, post: 5 });
    assert_eq!(data(&c, "/cur").as_deref(), Some(&[0u8, 0, 0, 5][..]));
    n.sub(6).unwrap();
    assert_eq!(
        data(&c, "/cur").as_deref(),
        Some(&[0xffu8, 0xff, 0xff, 0xff][..])
    );
    assert_eq!(n.value().unwrap(), -1);
    let err = n.add(i64::from(i32::MAX) + 2).unwrap_err();
    assert!(matches!(err, Error::BadArgument(_)), "{err}");
    assert!(!err.may_have_been_applied());
    assert_eq!(n.value().unwrap(), -1, "nothing was written");
    assert_eq!(
        n.add(i64::from(i32::MIN) + 1).unwrap().post,
        i64::from(i32::MIN)
    );
}

#[test]
fn data_that_is_not_a_counter_is_bad_data_saying_what_was_found() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    // kazoo's float counter.
    c.create("/float", b"3.75", CreateMode::Persistent).unwrap();
    let err = Counter::new(&c, "/float").unwrap().add(1).unwrap_err();
    match &err {
        Error::Recipe(RecipeError::BadData { path, reason }) => {
            assert_eq!(path, "/float");
            assert!(reason.contains("3.75"), "{reason}");
        }
        other => panic!("expected BadData, got {other}"),
    }
    assert_eq!(data(&c, "/float").as_deref(), Some(&b"3.75"[..]));
    c.create("/five", b"12345", CreateMode::Persistent).unwrap();
    let err = Counter::new(&c, "/five")
        .unwrap()
        .format(CounterFormat::Curator)
        .value()
        .unwrap_err();
    assert!(
        matches!(err, Error::Recipe(RecipeError::BadData { .. })),
        "{err}"
    );
    assert!(matches!(
        Counter::new(&c, "no-slash").unwrap_err(),
        Error::InvalidPath { .. }
    ));
}

#[test]
fn four_contending_clients_make_the_exact_total() {
    const CLIENTS: usize = 4;
    const ADDS: i64 = 150;
    let zk = ZkServer::start().unwrap();
    let hosts = zk.connect_string();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let hosts = hosts.clone();
            std::thread::spawn(move || {
                let c = client(&hosts);
                let n = Counter::new(&c, "/contended").unwrap();
                let mut seen = Vec::new();
                for _ in 0..ADDS {
                    let ch = n.add(i as i64 + 1).unwrap();
                    assert_eq!(ch.post, ch.pre + i as i64 + 1);
                    seen.push(ch.post);
                }
                seen
            })
        })
        .collect();
    let mut posts: Vec<i64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let c = client(&hosts);
    let total: i64 = (1..=CLIENTS as i64).sum::<i64>() * ADDS;
    assert_eq!(
        Counter::new(&c, "/contended").unwrap().value().unwrap(),
        total
    );
    // Every add produced its own value: no two adds applied to the same version.
    posts.sort();
    posts.dedup();
    assert_eq!(posts.len(), CLIENTS * ADDS as usize);
    assert_eq!(
        c.exists("/contended", None).unwrap().unwrap().version as i64,
        CLIENTS as i64 * ADDS
    );
}

/// A server, a proxy in front of it, a client through the proxy and one straight to it.
fn setup() -> (ZkServer, Proxy, Client, Client) {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client(&proxy.connect_string());
    let other = client(&zk.connect_string());
    (zk, proxy, c, other)
}

#[test]
fn a_set_whose_reply_is_lost_is_counted_exactly_once() {
    let (_zk, proxy, c, other) = setup();
    let n = Counter::new(&c, "/lost").unwrap();
    n.add(10).unwrap();
    // The handle starts the next add with the set: its request reaches the server, and
    // the reply is cut.
    let cuts = proxy.cuts();
    proxy.cut_after(Direction::ServerToClient, 0);
    assert_eq!(n.add(1).unwrap(), Change { pre: 10, post: 11 });
    assert_eq!(proxy.cuts(), cuts + 1, "the reply was cut");
    assert_eq!(data(&other, "/lost").as_deref(), Some(&b"11"[..]));
    assert_eq!(other.exists("/lost", None).unwrap().unwrap().version, 2);
}

#[test]
fn a_set_that_never_reached_the_server_is_sent_again() {
    let (_zk, proxy, c, other) = setup();
    let n = Counter::new(&c, "/unsent").unwrap();
    n.add(10).unwrap();
    let cuts = proxy.cuts();
    proxy.cut_after(Direction::ClientToServer, 0);
    assert_eq!(n.add(1).unwrap(), Change { pre: 10, post: 11 });
    assert_eq!(proxy.cuts(), cuts + 1, "the request was cut");
    assert_eq!(data(&other, "/unsent").as_deref(), Some(&b"11"[..]));
}

#[test]
fn a_lost_reply_with_other_changes_meanwhile_is_an_error_that_may_have_been_applied() {
    let (_zk, proxy, c, other) = setup();
    let n = Counter::new(&c, "/unknown").unwrap();
    n.add(10).unwrap();
    // The reply is cut and no reconnect succeeds until another client added too.
    let cuts = proxy.cuts();
    proxy.set_refusing(true);
    proxy.cut_after(Direction::ServerToClient, 0);
    let r = n.add_async(1);
    poll_until(&c, "the cut", || proxy.cuts() > cuts);
    Counter::new(&other, "/unknown").unwrap().add(100).unwrap();
    proxy.set_refusing(false);
    poll_until(&c, "the add's end", || r.ready());
    let err = r.take(false, None).unwrap_err();
    assert!(
        matches!(&err, Error::Recipe(RecipeError::OutcomeUnknown { path }) if path == "/unknown"),
        "{err}"
    );
    assert!(err.may_have_been_applied());
    assert!(!err.is_retryable());
    // It was applied once (the server got the set), and never twice.
    assert_eq!(data(&other, "/unknown").as_deref(), Some(&b"111"[..]));
}

#[test]
fn add_async_works_under_poll_once_and_embedded() {
    let zk = ZkServer::start().unwrap();
    let c = polled(&zk);
    let n = Counter::new(&c, "/polled").unwrap();
    let rs: Vec<_> = (0..20).map(|_| n.add_async(1)).collect();
    poll_until(&c, "20 adds", || rs.iter().all(|r| r.ready()));
    for r in &rs {
        r.take(false, None).unwrap();
    }
    let v = n.value_async();
    poll_until(&c, "the value", || v.ready());
    assert_eq!(v.take(false, None).unwrap(), 20);

    let (mut host, e) = embedded(&zk);
    let n = Counter::new(&e, "/polled").unwrap();
    let r = n.add_async(5);
    host.run_until("the embedded add", || r.ready());
    assert_eq!(r.take(false, None).unwrap(), Change { pre: 20, post: 25 });
    assert_embedded_refusal(n.add(1).unwrap_err(), "Counter::add");
    assert_embedded_refusal(n.value().unwrap_err(), "Counter::value");
    let v = n.value_async();
    host.run_until("the embedded value", || v.ready());
    assert_eq!(v.take(false, None).unwrap(), 25);
}
