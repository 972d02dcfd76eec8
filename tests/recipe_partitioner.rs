//! SetPartitioner: kazoo's layout; three members split a set disjointly and completely and
//! re-split when one leaves; a connection blip on the same session changes nothing (kazoo's
//! #298, #148); a session expiry gives the set back at once and takes it again on the new
//! session; an item lock held elsewhere does not leave it stuck (#392); duplicate
//! identifiers take nothing; poll_once and embedded use; no leftovers.

#[path = "faults_support/mod.rs"]
mod faults_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use mio_zookeeper::recipe::{Lock, PartitionState, SetPartitioner};
use mio_zookeeper::testing::{Proxy, ZkServer};
use mio_zookeeper::{Client, Error, MioHandler};
use recipe_support::{assert_embedded_refusal, embedded, poll_until, polled, wait, LONG};

const ITEMS: [&str; 7] = ["i0", "i1", "i2", "i3", "i4", "i5", "i6"];
const BOUNDARY: Duration = Duration::from_millis(300);

/// A started client on `hosts` on the shared `handler` (one loop drives them all).
fn client_on(hosts: &str, handler: &MioHandler) -> Client {
    let c = Client::builder(hosts)
        .session_timeout(Duration::from_secs(6))
        .connection_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .handler(handler.clone())
        .build_with()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    c
}

type States = Rc<RefCell<Vec<PartitionState>>>;

/// A started partitioner that records its states and calls `release_set` on RELEASE.
fn member(c: &Client, id: &str) -> (SetPartitioner, States) {
    let p = SetPartitioner::new(c, "/sp", ITEMS, Some(id))
        .unwrap()
        .time_boundary(BOUNDARY);
    let states = States::default();
    let s = states.clone();
    p.on_state_change(move |me, st| {
        s.borrow_mut().push(st);
        if st == PartitionState::Release {
            drop(me.release_set_async());
        }
    });
    p.start();
    (p, states)
}

/// All acquired, and their shares disjoint and together the whole set.
fn split_ok(ps: &[&SetPartitioner]) -> bool {
    if !ps.iter().all(|p| p.acquired()) {
        return false;
    }
    let mut all: Vec<String> = ps.iter().flat_map(|p| p.acquired_set()).collect();
    all.sort();
    all == ITEMS
}

#[test]
fn three_split_the_set_on_kazoos_layout_and_two_re_split_when_one_leaves() {
    let zk = ZkServer::start().unwrap();
    let h = MioHandler::new().unwrap();
    let c: Vec<Client> = (0..3)
        .map(|_| client_on(&zk.connect_string(), &h))
        .collect();
    let (a, _) = member(&c[0], "a");
    let (b, _) = member(&c[1], "b");
    let (x, _) = member(&c[2], "x");
    wait(&c[0], "three shares", || split_ok(&[&a, &b, &x]));
    // kazoo's default split: sorted(items)[i::3], i our index among the sorted identifiers.
    assert_eq!(a.acquired_set(), ["i0", "i3", "i6"]);
    assert_eq!(b.acquired_set(), ["i1", "i4"]);
    assert_eq!(x.acquired_set(), ["i2", "i5"]);
    // The layout: ShallowParty members, one kazoo Lock per item.
    let mut party = c[0].get_children("/sp/party", None).unwrap();
    party.sort_by_key(|n| n[33..].to_string());
    assert_eq!(party.len(), 3);
    for (node, id) in party.iter().zip(["a", "b", "x"]) {
        assert_eq!(node.len(), 34, "{node}");
        assert!(node[..32].bytes().all(|b| b.is_ascii_hexdigit()), "{node}");
        assert_eq!(&node[32..], format!("-{id}"));
    }
    let mut locks = c[0].get_children("/sp/locks", None).unwrap();
    locks.sort();
    assert_eq!(locks, ITEMS);
    let held = Lock::new(&c[0], "/sp/locks/i3", "probe").unwrap();
    assert_eq!(held.contenders().unwrap(), ["a"]);

    x.finish().unwrap();
    assert_eq!(x.state(), PartitionState::Failure);
    assert!(x.acquired_set().is_empty());
    wait(&c[0], "two shares", || split_ok(&[&a, &b]));
    assert_eq!(a.acquired_set(), ["i0", "i2", "i4", "i6"]);
    assert_eq!(b.acquired_set(), ["i1", "i3", "i5"]);
    assert_eq!(c[0].get_children("/sp/party", None).unwrap().len(), 2);
}

#[test]
fn a_blip_on_the_same_session_releases_nothing() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let h = MioHandler::new().unwrap();
    let a_client = client_on(&zk.connect_string(), &h);
    let b_client = client_on(&proxy.connect_string(), &h);
    let (a, a_states) = member(&a_client, "a");
    let (b, b_states) = member(&b_client, "b");
    wait(&a_client, "two shares", || split_ok(&[&a, &b]));
    let (a_n, b_n) = (a_states.borrow().len(), b_states.borrow().len());
    let (a_set, b_set) = (a.acquired_set(), b.acquired_set());
    let session = b_client.client_id().unwrap().0;
    let lock_nodes = a_client.get_children("/sp/locks/i1", None).unwrap();

    proxy.drop_connections();
    wait(&b_client, "b suspended", || !b_client.connected());
    wait(&b_client, "b back", || b_client.connected());
    assert_eq!(b_client.client_id().unwrap().0, session, "the same session");
    // Longer than a settling and a lock timeout: a re-split would show.
    b_client
        .sleep(BOUNDARY * 2 + Duration::from_secs(1))
        .unwrap();

    assert_eq!(b_states.borrow().len(), b_n, "{:?}", b_states.borrow());
    assert_eq!(a_states.borrow().len(), a_n, "{:?}", a_states.borrow());
    assert_eq!((a.acquired_set(), b.acquired_set()), (a_set, b_set));
    assert!(a.acquired() && b.acquired());
    assert_eq!(
        a_client.get_children("/sp/locks/i1", None).unwrap(),
        lock_nodes,
        "b's lock node is the same one"
    );
}

#[test]
fn an_expired_session_gives_the_set_back_at_once_and_takes_it_again_on_the_new_one() {
    let zk = ZkServer::start().unwrap();
    let h = MioHandler::new().unwrap();
    let c = client_on(&zk.connect_string(), &h);
    let other = client_on(&zk.connect_string(), &h);
    let (p, states) = member(&c, "solo");
    p.wait_for_acquire(Some(LONG)).unwrap();
    assert_eq!(p.acquired_set(), ITEMS);
    let session = c.client_id().unwrap().0;
    states.borrow_mut().clear();

    let seen: Rc<RefCell<Vec<Vec<String>>>> = Rc::default();
    let s = seen.clone();
    p.on_state_change(move |me, _| s.borrow_mut().push(me.acquired_set()));
    faults_support::expire_session(zk.addr(), &c);
    wait(&c, "allocating again", || {
        states.borrow().first() == Some(&PartitionState::Allocating)
    });
    assert!(seen.borrow()[0].is_empty(), "the set is given back at once");
    wait(&c, "acquired on the new session", || p.acquired());
    assert_ne!(c.client_id().unwrap().0, session);
    assert_eq!(p.acquired_set(), ITEMS);
    assert_eq!(
        *states.borrow(),
        [PartitionState::Allocating, PartitionState::Acquired]
    );
    // Member again, and every lock is ours on the new session.
    assert_eq!(other.get_children("/sp/party", None).unwrap().len(), 1);
    let probe = Lock::new(&other, "/sp/locks/i0", "probe").unwrap();
    assert_eq!(probe.contenders().unwrap(), ["solo"]);
}

#[test]
fn an_item_lock_held_elsewhere_makes_it_release_and_retry_not_stick() {
    let zk = ZkServer::start().unwrap();
    let h = MioHandler::new().unwrap();
    let c = client_on(&zk.connect_string(), &h);
    let other = client_on(&zk.connect_string(), &h);
    let squatter = Lock::new(&other, "/sp/locks/i4", "squatter").unwrap();
    squatter.acquire(Some(LONG)).unwrap();
    let (p, _) = member(&c, "solo");
    let p = p.max_reaction_time(Duration::from_millis(200));
    wait(&c, "a lock timeout", || p.lock_timeouts() >= 1);
    assert!(p.allocating());
    // What it got before i4 was given back (it is allocating again, holding nothing).
    wait(&c, "i0 free again", || {
        Lock::new(&other, "/sp/locks/i0", "probe")
            .unwrap()
            .contenders_async()
            .get(true, None)
            .is_ok_and(|v| v.is_empty())
    });
    squatter.release().unwrap();
    p.wait_for_acquire(Some(LONG)).unwrap();
    assert_eq!(p.acquired_set(), ITEMS);
}

#[test]
fn duplicate_identifiers_take_nothing_until_one_leaves() {
    let zk = ZkServer::start().unwrap();
    let h = MioHandler::new().unwrap();
    let c1 = client_on(&zk.connect_string(), &h);
    let c2 = client_on(&zk.connect_string(), &h);
    let (p1, _) = member(&c1, "same");
    let (p2, _) = member(&c2, "same");
    wait(&c1, "both joined", || {
        c1.get_children("/sp/party", None)
            .is_ok_and(|v| v.len() == 2)
    });
    let r = p1.wait_for_acquire(Some(BOUNDARY * 4));
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    assert!(p1.allocating() && p2.allocating());
    assert!(c1.get_children("/sp/locks", None).unwrap().is_empty());
    p2.finish().unwrap();
    p1.wait_for_acquire(Some(LONG)).unwrap();
    assert_eq!(p1.acquired_set(), ITEMS);
}

#[test]
fn bad_arguments_are_refused() {
    let zk = ZkServer::start().unwrap();
    let c = recipe_support::client(&zk.connect_string());
    for items in [vec!["a/b"], vec![""], vec![".."]] {
        let r = SetPartitioner::new(&c, "/sp", items, Some("x"));
        assert!(matches!(r, Err(Error::BadArgument(_))), "{r:?}");
    }
    assert!(matches!(
        SetPartitioner::new(&c, "/", ["a"], Some("x")),
        Err(Error::BadArgument(_))
    ));
    assert!(SetPartitioner::new(&c, "sp", ["a"], Some("x")).is_err());
    assert!(matches!(
        SetPartitioner::new(&c, "/sp", ["a"], Some("x/y")),
        Err(Error::BadArgument(_))
    ));
    let p = SetPartitioner::new(&c, "/sp", ["b", "a", "b"], None).unwrap();
    assert_eq!(p.items(), ["a", "b"]);
    assert!(p
        .identifier()
        .ends_with(&format!("-{}", std::process::id())));
}

#[test]
fn under_poll_once_with_a_custom_split_and_nothing_left_behind() {
    let zk = ZkServer::start().unwrap();
    let c = polled(&zk);
    let (watches, listeners) = (c.watch_count(), c.listener_count());
    let p = SetPartitioner::new(&c, "/sp", ITEMS, Some("me"))
        .unwrap()
        .time_boundary(BOUNDARY)
        .partition_fn(|me, members, items| {
            assert_eq!((me, members), ("me", &["me".to_string()][..]));
            items
                .iter()
                .filter(|i| i.as_str() < "i3")
                .cloned()
                .collect()
        });
    // A wait that runs out leaves no timer that would fire later.
    let early = p.wait_for_acquire_async(Some(Duration::from_millis(1)));
    p.start();
    let got = p.wait_for_acquire_async(Some(LONG));
    poll_until(&c, "acquired", || got.ready());
    got.get_nowait().unwrap();
    assert!(matches!(early.get_nowait(), Err(Error::Timeout)));
    assert_eq!(p.acquired_set(), ["i0", "i1", "i2"]);
    let done = p.finish_async();
    poll_until(&c, "finished", || done.ready());
    done.get_nowait().unwrap();
    assert!(p.failed());
    assert!(matches!(
        p.wait_for_acquire_async(None).get_nowait(),
        Err(Error::Recipe(_))
    ));
    poll_until(&c, "the party's watch removed", || {
        c.watch_count() == watches
    });
    assert_eq!(c.listener_count(), listeners);
    assert!(c.get_children("/sp/party", None).unwrap().is_empty());
    for item in ["i0", "i1", "i2"] {
        assert!(c
            .get_children(&format!("/sp/locks/{item}"), None)
            .unwrap()
            .is_empty());
    }
}

#[test]
fn embedded_in_a_hosts_poll() {
    let zk = ZkServer::start().unwrap();
    let (mut host, c) = embedded(&zk);
    let p = SetPartitioner::new(&c, "/sp", ITEMS, Some("me"))
        .unwrap()
        .time_boundary(BOUNDARY);
    p.start();
    assert_embedded_refusal(
        p.wait_for_acquire(Some(LONG)).unwrap_err(),
        "SetPartitioner::wait_for_acquire",
    );
    let got = p.wait_for_acquire_async(Some(LONG));
    host.run_until("acquired", || got.ready());
    got.get_nowait().unwrap();
    assert_eq!(p.acquired_set(), ITEMS);
    assert_embedded_refusal(p.finish().unwrap_err(), "SetPartitioner::finish");
    let done = p.finish_async();
    host.run_until("finished", || done.ready());
    done.get_nowait().unwrap();
}

#[test]
fn dropping_the_last_handle_gives_the_items_back() {
    let zk = ZkServer::start().unwrap();
    let c = recipe_support::client(&zk.connect_string());
    let listeners = c.listener_count();
    let (p, _) = member(&c, "solo");
    p.wait_for_acquire(Some(LONG)).unwrap();
    assert!(c.listener_count() > listeners);
    drop(p); // the state callback holds no handle: this was the last one
    wait(&c, "every item lock released", || {
        ITEMS.iter().all(|i| {
            c.get_children(&format!("/sp/locks/{i}"), None)
                .is_ok_and(|v| v.is_empty())
        })
    });
    assert_eq!(c.listener_count(), listeners);
}

#[test]
fn an_expired_member_joins_again_and_the_two_split_again() {
    let zk = ZkServer::start().unwrap();
    let h = MioHandler::new().unwrap();
    let ca = client_on(&zk.connect_string(), &h);
    let cb = client_on(&zk.connect_string(), &h);
    let (a, _) = member(&ca, "a");
    let (b, b_states) = member(&cb, "b");
    wait(&ca, "two shares", || split_ok(&[&a, &b]));
    let b_set = b.acquired_set();
    b_states.borrow_mut().clear();
    faults_support::expire_session(zk.addr(), &cb);
    wait(&ca, "b allocating", || b.allocating());
    assert!(b.acquired_set().is_empty());
    wait(&ca, "two shares on b's new session", || {
        split_ok(&[&a, &b])
            && ca
                .get_children("/sp/party", None)
                .is_ok_and(|v| v.len() == 2)
    });
    assert_eq!(b.acquired_set(), b_set);
    assert_eq!(b_states.borrow()[0], PartitionState::Allocating);
    assert!(!b_states.borrow().contains(&PartitionState::Failure));
}
