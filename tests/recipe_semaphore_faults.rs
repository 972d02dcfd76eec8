//! Semaphore under faults: a waiter re-checks after a server restart (kazoo #282), and
//! contenders whose connections are cut at random (one session expired on the way) never
//! exceed the leases, never wait past their deadline, and leave no node behind.

#[path = "faults_support/mod.rs"]
mod faults_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio_zookeeper::recipe::Semaphore;
use mio_zookeeper::testing::{Proxy, RandomCuts, ZkServer};
use mio_zookeeper::{AsyncResult, Client, Error};
use recipe_support::{client, wait, LONG};

#[test]
fn a_waiter_gets_the_lease_across_a_server_restart() {
    let mut zk = ZkServer::start().unwrap();
    let a = client(&zk.connect_string());
    let b = client(&zk.connect_string());
    let sa = Semaphore::new(&a, "/s", "a", 1).unwrap();
    sa.acquire(Some(LONG)).unwrap();
    let sb = Semaphore::new(&b, "/s", "b", 1).unwrap();
    let got = sb.acquire_async(Some(LONG));
    wait(&b, "b waiting under the internal lock", || {
        a.get_children("/s-__lock__", None)
            .unwrap_or_default()
            .len()
            == 1
    });
    zk.stop().unwrap();
    zk.start_again().unwrap();
    let released = sa.release_async();
    wait(&a, "the release", || released.ready());
    released.get_nowait().unwrap();
    wait(&b, "b to get the lease after the restart", || got.ready());
    got.get_nowait().unwrap();
    assert!(sb.is_held());
}

enum St {
    Acquiring(AsyncResult<()>, Instant),
    Holding(u32),
    Releasing(AsyncResult<()>),
    Done,
}

#[test]
fn contenders_with_random_cuts_and_an_expiry_never_exceed_the_leases() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let observer = client(&zk.connect_string());
    let clients: Vec<Client> = (0..3)
        .map(|_| faults_support::start_client(&proxy.connect_string(), Duration::from_secs(8)))
        .collect();
    let holders = Rc::new(Cell::new(0i32));
    let sems: Vec<Semaphore> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let s = Semaphore::new(c, "/chaos", &format!("c{i}"), 2).unwrap();
            let h = holders.clone();
            s.on_lost(move |_| h.set(h.get() - 1));
            s
        })
        .collect();
    proxy
        .start_random_cuts(
            RandomCuts::new(11).every(Duration::from_millis(100), Duration::from_millis(400)),
        )
        .unwrap();
    let deadline = Duration::from_secs(10);
    let rounds = 10;
    let mut done = vec![0; sems.len()];
    let mut st: Vec<St> = sems
        .iter()
        .map(|s| St::Acquiring(s.acquire_async(Some(deadline)), Instant::now()))
        .collect();
    let (mut timeouts, mut wins, mut expired) = (0, 0, false);
    let give_up = Instant::now() + Duration::from_secs(240);
    while st.iter().any(|s| !matches!(s, St::Done)) {
        assert!(Instant::now() < give_up, "the rounds did not finish");
        for (i, c) in clients.iter().enumerate() {
            c.poll_once(Some(Duration::from_millis(2))).unwrap();
            let next = match &mut st[i] {
                St::Acquiring(r, since) if r.ready() => {
                    assert!(since.elapsed() < deadline + Duration::from_secs(3), "late");
                    match r.get_nowait() {
                        Ok(()) => {
                            holders.set(holders.get() + 1);
                            assert!(holders.get() <= 2, "{} holders", holders.get());
                            wins += 1;
                            Some(St::Holding(20))
                        }
                        Err(Error::Timeout) => {
                            timeouts += 1;
                            Some(St::Acquiring(
                                sems[i].acquire_async(Some(deadline)),
                                Instant::now(),
                            ))
                        }
                        Err(e) => panic!("acquire: {e}"),
                    }
                }
                St::Acquiring(..) => None,
                St::Holding(n) if *n > 0 => {
                    *n -= 1;
                    None
                }
                St::Holding(_) => {
                    if !expired && i == 0 && sems[0].is_held() {
                        // Once: the holder's session expires; it learns so (on_lost).
                        expired = true;
                        faults_support::expire_session(zk.addr(), c);
                        let before = holders.get();
                        wait(c, "the loss", || holders.get() == before - 1);
                        Some(St::Releasing(sems[i].release_async()))
                    } else {
                        if sems[i].is_held() {
                            holders.set(holders.get() - 1);
                        }
                        Some(St::Releasing(sems[i].release_async()))
                    }
                }
                St::Releasing(r) if r.ready() => {
                    r.get_nowait().unwrap();
                    done[i] += 1;
                    if done[i] < rounds {
                        Some(St::Acquiring(
                            sems[i].acquire_async(Some(deadline)),
                            Instant::now(),
                        ))
                    } else {
                        Some(St::Done)
                    }
                }
                _ => None,
            };
            if let Some(n) = next {
                st[i] = n;
            }
        }
        let leases = observer.get_children("/chaos", None).unwrap_or_default();
        assert!(leases.len() <= 2, "leases on the server: {leases:?}");
    }
    proxy.stop_random_cuts();
    assert!(proxy.cuts() > 3, "cuts: {}", proxy.cuts());
    eprintln!("cuts {}, wins {wins}, timeouts {timeouts}", proxy.cuts());
    assert!(expired, "the expiry happened");
    assert!(wins >= rounds, "wins {wins}, timeouts {timeouts}");
    wait(&observer, "no lease and no internal lock node left", || {
        for c in &clients {
            c.poll_once(Some(Duration::from_millis(1))).unwrap();
        }
        observer.get_children("/chaos", None).unwrap().is_empty()
            && observer
                .get_children("/chaos-__lock__", None)
                .unwrap()
                .is_empty()
    });
}
