//! Counter coalescing: adds in flight on one handle go out as one versioned set of their
//! sum, each caller getting its own consecutive `Change`; a lost reply of such a set
//! counts the whole batch exactly once; a batch that would overflow is split so each add
//! gets its own verdict.
#![cfg(feature = "testing")]

#[path = "recipe_support/mod.rs"]
mod recipe_support;

use mio_zookeeper::recipe::{Change, Counter, CounterFormat};
use mio_zookeeper::testing::{Direction, Proxy, ZkServer};
use mio_zookeeper::{AsyncResult, Client, Error};
use recipe_support::{client, poll_until, polled};

fn version(c: &Client, path: &str) -> i32 {
    c.exists(path, None).unwrap().unwrap().version
}

/// Every result, and that they are consecutive from `from` with their own deltas.
fn chain(rs: &[(i64, AsyncResult<Change>)], from: i64) -> i64 {
    let mut pre = from;
    for (delta, r) in rs {
        let change = r.take(false, None).unwrap();
        assert_eq!(
            change,
            Change {
                pre,
                post: pre + delta
            },
            "delta {delta}"
        );
        pre = change.post;
    }
    pre
}

#[test]
fn adds_in_flight_on_one_handle_are_one_set_with_consecutive_changes() {
    let zk = ZkServer::start().unwrap();
    let c = polled(&zk);
    let n = Counter::new(&c, "/batched").unwrap();
    let first = n.add_async(10);
    poll_until(&c, "the first add", || first.ready());
    assert_eq!(
        first.take(false, None).unwrap(),
        Change { pre: 0, post: 10 }
    );
    assert_eq!(version(&c, "/batched"), 1);
    // 50 adds at once: the first goes out alone, the 49 queued behind it as one set.
    let rs: Vec<_> = (1..=50).map(|d| (d, n.add_async(d))).collect();
    poll_until(&c, "50 adds", || rs.iter().all(|(_, r)| r.ready()));
    assert_eq!(chain(&rs, 10), 10 + 50 * 51 / 2);
    assert_eq!(version(&c, "/batched"), 3, "two sets for 50 adds");
    let v = n.value_async();
    poll_until(&c, "the value", || v.ready());
    assert_eq!(v.take(false, None).unwrap(), 1285);
}

#[test]
fn a_lost_reply_of_a_batch_counts_the_batch_once() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let c = client(&proxy.connect_string());
    let other = client(&zk.connect_string());
    let n = Counter::new(&c, "/lost-batch").unwrap();
    n.add(10).unwrap();
    // The next add goes alone (a set: its reply is 4 + 16 + 68 = 88 bytes), the five
    // behind it as one set whose reply is cut after its first byte: the server applied it.
    let cuts = proxy.cuts();
    proxy.cut_after(Direction::ServerToClient, 89);
    let rs: Vec<_> = (1..=6).map(|d| (d, n.add_async(d))).collect();
    c.run_until(
        &|| rs.iter().all(|(_, r)| r.ready()),
        Some(recipe_support::LONG),
    )
    .unwrap();
    assert_eq!(proxy.cuts(), cuts + 1, "the batch's reply was cut");
    assert_eq!(chain(&rs, 10), 31);
    assert_eq!(
        other.get("/lost-batch", None).unwrap().0.as_deref(),
        Some(&b"31"[..])
    );
    assert_eq!(version(&other, "/lost-batch"), 3, "each set applied once");
}

#[test]
fn a_batch_out_of_range_is_split_and_each_add_gets_its_own_verdict() {
    let zk = ZkServer::start().unwrap();
    let c = polled(&zk);
    let n = Counter::new(&c, "/split")
        .unwrap()
        .format(CounterFormat::Curator)
        .default(i32::MAX as i64 - 10);
    let first = n.add_async(1);
    // Queued behind it: +5 fits, +100 does not (alone it fails), -3 fits after +5.
    let (a, b, d) = (n.add_async(5), n.add_async(100), n.add_async(-3));
    poll_until(&c, "the adds", || {
        [&first, &a, &b, &d].iter().all(|r| r.ready())
    });
    let top = i32::MAX as i64;
    assert_eq!(first.take(false, None).unwrap().post, top - 9);
    assert_eq!(
        a.take(false, None).unwrap(),
        Change {
            pre: top - 9,
            post: top - 4
        }
    );
    assert!(matches!(b.take(false, None), Err(Error::BadArgument(_))));
    assert_eq!(
        d.take(false, None).unwrap(),
        Change {
            pre: top - 4,
            post: top - 7
        }
    );
}
