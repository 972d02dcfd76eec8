//! Semaphore: kazoo's wire format, never more than `max_leases` holders across clients and
//! rounds, one deadline, no re-entry, no leftovers (nodes, watchers, listeners) after
//! hundreds of timed-out acquires, loss on session expiry, and the non-blocking modes.

#[path = "faults_support/mod.rs"]
mod faults_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio_zookeeper::recipe::{RecipeError, Semaphore};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{AsyncResult, Client, Error};
use recipe_support::{assert_embedded_refusal, client, embedded, wait, LONG};

fn children(c: &Client, path: &str) -> Vec<String> {
    let mut v = c.get_children(path, None).unwrap_or_default();
    v.sort();
    v
}

#[test]
fn on_the_wire_max_leases_on_the_path_a_sibling_lock_and_uuid_lease_nodes() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let sem = Semaphore::new(&c, "/app/sem", "me", 2).unwrap();
    sem.acquire(Some(LONG)).unwrap();
    assert!(sem.is_held());
    let (data, pstat) = c.get("/app/sem", None).unwrap();
    assert_eq!(data.as_deref(), Some(&b"2"[..]));
    assert_eq!(pstat.ephemeral_owner, 0);
    let leases = children(&c, "/app/sem");
    assert_eq!(leases.len(), 1);
    let name = &leases[0];
    assert_eq!(name.len(), 32, "{name}");
    assert!(name
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(format!("/app/sem/{name}"), sem.lease_node());
    let (data, stat) = c.get(sem.lease_node(), None).unwrap();
    assert_eq!(data.as_deref(), Some(&b"me"[..]));
    assert_eq!(stat.ephemeral_owner, c.client_id().unwrap().0);
    // The internal lock was taken at the sibling path, and released before the acquire
    // returned (no lock node waits for our loop to run again).
    let other = client(&zk.connect_string());
    assert!(other.exists("/app/sem-__lock__", None).unwrap().is_some());
    assert!(children(&other, "/app/sem-__lock__").is_empty());
    assert_eq!(sem.lease_holders().unwrap(), ["me"]);
    sem.release().unwrap();
    assert!(!sem.is_held());
    assert!(children(&c, "/app/sem").is_empty());
    assert!(matches!(
        Semaphore::new(&c, "/s", "x", 0),
        Err(Error::BadArgument(_))
    ));
    assert!(matches!(
        Semaphore::new(&c, "nope", "x", 1),
        Err(Error::InvalidPath { .. })
    ));
}

#[test]
fn four_clients_over_many_rounds_never_exceed_two_holders() {
    let zk = ZkServer::start().unwrap();
    let clients: Vec<Client> = (0..4).map(|_| client(&zk.connect_string())).collect();
    let observer = client(&zk.connect_string());
    let sems: Vec<Semaphore> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| Semaphore::new(c, "/pool", &format!("c{i}"), 2).unwrap())
        .collect();
    let holding = Rc::new(Cell::new(0usize));
    let most = Rc::new(Cell::new(0usize));
    let rounds = 8;
    let done = Rc::new(RefCell::new(vec![0usize; sems.len()]));
    // Each contender: acquire (async), hold for a few loop turns, release, again.
    let pending: Vec<RefCell<Option<AsyncResult<()>>>> = sems
        .iter()
        .map(|s| RefCell::new(Some(s.acquire_async(Some(LONG)))))
        .collect();
    let held_for = vec![Cell::new(0u32); sems.len()];
    let give_up = Instant::now() + Duration::from_secs(120);
    while done.borrow().iter().any(|&n| n < rounds) {
        assert!(Instant::now() < give_up, "rounds did not finish");
        for (i, c) in clients.iter().enumerate() {
            c.poll_once(Some(Duration::from_millis(2))).unwrap();
            let ready = pending[i].borrow().as_ref().is_some_and(|p| p.ready());
            if ready {
                let r = pending[i].borrow_mut().take().unwrap();
                r.get_nowait().unwrap();
                holding.set(holding.get() + 1);
                most.set(most.get().max(holding.get()));
                assert!(holding.get() <= 2, "{} holders at once", holding.get());
                held_for[i].set(1);
            } else if held_for[i].get() > 0 {
                held_for[i].set(held_for[i].get() + 1);
                if held_for[i].get() > 5 {
                    held_for[i].set(0);
                    holding.set(holding.get() - 1);
                    sems[i].release_async();
                    done.borrow_mut()[i] += 1;
                    if done.borrow()[i] < rounds {
                        *pending[i].borrow_mut() = Some(sems[i].acquire_async(Some(LONG)));
                    }
                }
            }
        }
        // And from the nodes: never more than two leases.
        let leases = observer.get_children("/pool", None).unwrap_or_default();
        assert!(leases.len() <= 2, "leases on the server: {leases:?}");
    }
    assert_eq!(most.get(), 2, "the two leases were used at once");
    for c in &clients {
        c.poll_once(Some(Duration::from_millis(10))).unwrap();
    }
    wait(&observer, "every lease and lock node gone", || {
        for c in &clients {
            c.poll_once(Some(Duration::from_millis(1))).unwrap();
        }
        children(&observer, "/pool").is_empty() && children(&observer, "/pool-__lock__").is_empty()
    });
}

#[test]
fn a_full_semaphore_times_out_at_its_deadline_and_leaves_nothing_behind() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let a = Semaphore::new(&c, "/one", "a", 1).unwrap();
    let b = Semaphore::new(&c, "/one", "b", 1).unwrap();
    a.acquire(Some(LONG)).unwrap();
    // Re-acquire while holding: refused at once.
    match a.acquire(Some(LONG)) {
        Err(Error::Recipe(RecipeError::AlreadyAcquired { path })) => assert_eq!(path, "/one"),
        other => panic!("{other:?}"),
    }
    assert!(!b.try_acquire().unwrap());
    wait(&c, "settled", || children(&c, "/one-__lock__").is_empty());
    let (watches, listeners) = (c.watch_count(), c.listener_count());
    let t = Instant::now();
    let err = b.acquire(Some(Duration::from_millis(300))).unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    for _ in 0..300 {
        let err = b.acquire(Some(Duration::from_millis(3))).unwrap_err();
        assert!(matches!(err, Error::Timeout), "{err}");
        assert!(!b.is_held());
    }
    wait(&c, "the watchers and internal lock nodes gone", || {
        eprintln!(
            "w {} {} l {:?}",
            c.watch_count(),
            watches,
            children(&c, "/one-__lock__")
        );
        c.watch_count() == watches && children(&c, "/one-__lock__").is_empty()
    });
    assert_eq!(c.listener_count(), listeners);
    assert_eq!(
        children(&c, "/one"),
        [a.lease_node().rsplit('/').next().unwrap()]
    );
    // Cancelled while waiting: Cancelled, and nothing left either.
    let got = b.acquire_async(None);
    wait(&c, "b waiting under the internal lock", || {
        children(&c, "/one-__lock__").len() == 1
    });
    b.cancel();
    wait(&c, "cancelled", || got.ready());
    assert!(matches!(
        got.get_nowait(),
        Err(Error::Recipe(RecipeError::Cancelled { .. }))
    ));
    wait(&c, "cleaned", || {
        c.watch_count() == watches && children(&c, "/one-__lock__").is_empty()
    });
    // A release hands the lease over to a waiter.
    let got = b.acquire_async(Some(LONG));
    wait(&c, "b waiting", || children(&c, "/one-__lock__").len() == 1);
    a.release().unwrap();
    wait(&c, "b holds", || got.ready());
    got.get_nowait().unwrap();
    assert!(b.is_held());
    assert_eq!(b.lease_holders().unwrap(), ["b"]);
}

#[test]
fn a_different_max_leases_on_an_existing_path_is_refused() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let a = Semaphore::new(&c, "/m", "a", 3).unwrap();
    a.acquire(Some(LONG)).unwrap();
    let b = Semaphore::new(&c, "/m", "b", 2).unwrap();
    match b.acquire(Some(LONG)) {
        Err(Error::Recipe(RecipeError::MaxLeasesMismatch { path, ours, theirs })) => {
            assert_eq!((path.as_str(), ours, theirs), ("/m", 2, 3))
        }
        other => panic!("{other:?}"),
    }
    assert!(!b.is_held());
    // Non-numeric data is ignored (kazoo's rule).
    c.create("/other", b"whatever", mio_zookeeper::CreateMode::Persistent)
        .unwrap();
    let d = Semaphore::new(&c, "/other", "d", 2).unwrap();
    d.acquire(Some(LONG)).unwrap();
    assert_eq!(
        c.get("/other", None).unwrap().0.as_deref(),
        Some(&b"whatever"[..])
    );
}

#[test]
fn a_holder_learns_when_its_session_expires() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let sem = Semaphore::new(&c, "/exp", "x", 1).unwrap();
    sem.acquire(Some(LONG)).unwrap();
    let lost = Rc::new(RefCell::new(Vec::new()));
    let l = lost.clone();
    sem.on_lost(move |e| l.borrow_mut().push(e.clone()));
    faults_support::expire_session(zk.addr(), &c);
    wait(&c, "the loss", || !lost.borrow().is_empty());
    assert!(!sem.is_held());
    assert!(matches!(&lost.borrow()[0], RecipeError::Lost { path, .. } if path == "/exp"));
    // Someone deleting our lease node is a loss too.
    wait(&c, "connected again", || c.connected());
    sem.acquire(Some(LONG)).unwrap();
    c.delete(sem.lease_node(), None).unwrap();
    wait(&c, "the second loss", || lost.borrow().len() == 2);
    assert!(!sem.is_held());
    sem.acquire(Some(LONG)).unwrap();
    assert_eq!(lost.borrow().len(), 2);
}

#[test]
fn embedded_in_a_host_poll_the_async_forms_work_and_blocking_is_refused() {
    let zk = ZkServer::start().unwrap();
    let (mut host, c) = embedded(&zk);
    let a = Semaphore::new(&c, "/emb", "a", 1).unwrap();
    let b = Semaphore::new(&c, "/emb", "b", 1).unwrap();
    assert_embedded_refusal(a.acquire(Some(LONG)).unwrap_err(), "Semaphore::acquire");
    let got = a.acquire_async(Some(LONG));
    host.run_until("a holds", || got.ready());
    got.get_nowait().unwrap();
    let tried = b.try_acquire_async();
    host.run_until("b tried", || tried.ready());
    assert!(!tried.get_nowait().unwrap());
    let waiting = b.acquire_async(Some(LONG));
    let released = a.release_async();
    host.run_until("b holds", || released.ready() && waiting.ready());
    waiting.get_nowait().unwrap();
    let holders = b.lease_holders_async();
    host.run_until("holders", || holders.ready());
    assert_eq!(holders.get_nowait().unwrap(), ["b"]);
}

#[test]
fn a_lease_created_by_an_acquire_cancelled_before_it_decided_is_deleted() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let observer = client(&zk.connect_string());
    let sem = Semaphore::new(&c, "/cx", "c", 1).unwrap();
    let mut caught = false;
    for _ in 0..50 {
        let got = sem.acquire_async(Some(LONG));
        // Drive our client a step at a time until its lease is on the server.
        let give_up = Instant::now() + LONG;
        while observer.exists(sem.lease_node(), None).unwrap().is_none() {
            assert!(Instant::now() < give_up);
            c.poll_once(Some(Duration::from_millis(1))).unwrap();
        }
        if !sem.is_held() {
            // Created, not yet decided: cancel now. The lease must not stay behind.
            sem.cancel();
            wait(&c, "the cancelled result", || got.ready());
            assert!(matches!(
                got.get_nowait(),
                Err(Error::Recipe(RecipeError::Cancelled { .. }))
            ));
            assert!(!sem.is_held());
            wait(&c, "the lease deleted in the background", || {
                observer.exists(sem.lease_node(), None).unwrap().is_none()
            });
            caught = true;
            break;
        }
        wait(&c, "the result", || got.ready());
        got.get_nowait().unwrap();
        sem.release().unwrap();
    }
    assert!(
        caught,
        "never caught the acquire between its create and its decision"
    );
}
