//! Semaphore against kazoo's own `Semaphore` on the same path: shared leases never exceeded,
//! kazoo's `lease_holders()` lists ours, and a mismatched `max_leases` refused both ways.

#[path = "kazoo_support/mod.rs"]
mod kazoo_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::time::{Duration, Instant};

use kazoo_support::Kazoo;
use mio_zookeeper::recipe::{RecipeError, Semaphore};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::Error;
use recipe_support::{client, wait, LONG};
use serde_json::json;

#[test]
fn kazoo_and_ours_share_the_leases_and_see_each_other() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    kz.exec("sem = zk.Semaphore('/shared', 'py', max_leases=2)");
    assert_eq!(kz.eval("sem.acquire(timeout=10)"), true);
    let ours = Semaphore::new(&c, "/shared", "rust", 2).unwrap();
    ours.acquire(Some(LONG)).unwrap();
    let mut holders = kz.eval("sorted(sem.lease_holders())");
    assert_eq!(holders, json!(["py", "rust"]));
    holders = json!(ours
        .lease_holders()
        .unwrap()
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>());
    assert_eq!(holders, json!(["py", "rust"]));
    // Full: a third (kazoo's or ours) does not get one.
    kz.exec("sem3 = zk.Semaphore('/shared', 'py3', max_leases=2)");
    assert_eq!(kz.eval("sem3.acquire(blocking=False)"), false);
    let third = Semaphore::new(&c, "/shared", "rust3", 2).unwrap();
    assert!(!third.try_acquire().unwrap());
    // kazoo waits; our release hands it the lease.
    kz.exec("spawn(lambda: emit({'got': sem3.acquire(timeout=30)}))");
    wait(&c, "kazoo waiting under the internal lock", || {
        c.get_children("/shared-__lock__", None)
            .unwrap_or_default()
            .len()
            == 1
    });
    ours.release().unwrap();
    assert_eq!(kz.expect_event("kazoo's acquire")["got"], true);
    // Ours waits; kazoo's release hands it over.
    let got = third.acquire_async(Some(LONG));
    wait(&c, "ours waiting", || {
        c.get_children("/shared-__lock__", None)
            .unwrap_or_default()
            .len()
            == 1
    });
    kz.exec("sem.release()");
    wait(&c, "ours after kazoo's release", || got.ready());
    got.get_nowait().unwrap();
    assert_eq!(
        kz.eval("sorted(sem.lease_holders())"),
        json!(["py3", "rust3"])
    );
}

#[test]
fn kazoo_and_our_contenders_never_exceed_two_holders() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    // Each kazoo holder, in its own thread, counts the leases while it holds one.
    kz.exec(concat!(
        "def rounds(name, n):\n",
        "    s = zk.Semaphore('/pool', name, max_leases=2)\n",
        "    most = 0\n",
        "    for i in range(n):\n",
        "        s.acquire(timeout=60)\n",
        "        most = max(most, len(zk.get_children('/pool')))\n",
        "        time.sleep(0.01)\n",
        "        most = max(most, len(zk.get_children('/pool')))\n",
        "        s.release()\n",
        "    emit({'name': name, 'most': most})"
    ));
    kz.exec("import time");
    kz.exec("spawn(rounds, 'py1', 15)");
    kz.exec("spawn(rounds, 'py2', 15)");
    let clients: Vec<_> = (0..2).map(|_| client(&zk.connect_string())).collect();
    let sems: Vec<Semaphore> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| Semaphore::new(c, "/pool", &format!("rs{i}"), 2).unwrap())
        .collect();
    let give_up = Instant::now() + Duration::from_secs(120);
    for _round in 0..15 {
        let pending: Vec<_> = sems.iter().map(|s| s.acquire_async(Some(LONG))).collect();
        let mut held = vec![false; sems.len()];
        while held.iter().any(|h| !h) {
            assert!(Instant::now() < give_up, "our rounds did not finish");
            for (i, c) in clients.iter().enumerate() {
                c.poll_once(Some(Duration::from_millis(2))).unwrap();
                if !held[i] && pending[i].ready() {
                    pending[i].get_nowait().unwrap();
                    let n = c.get_children("/pool", None).unwrap().len();
                    assert!(n <= 2, "{n} leases while ours holds");
                    held[i] = true;
                    let r = sems[i].release_async();
                    while !r.ready() {
                        c.poll_once(Some(Duration::from_millis(2))).unwrap();
                    }
                    r.get_nowait().unwrap();
                }
            }
        }
    }
    for _ in 0..2 {
        let ev = kz.expect_event("a kazoo contender finished");
        assert!(ev["most"].as_u64().unwrap() <= 2, "{ev}");
    }
    wait(&clients[0], "no lease or internal lock node left", || {
        clients[0].get_children("/pool", None).unwrap().is_empty()
            && clients[0]
                .get_children("/pool-__lock__", None)
                .unwrap()
                .is_empty()
    });
}

#[test]
fn a_mismatched_max_leases_is_refused_both_ways() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    // kazoo made it with 3: ours with 2 is refused.
    assert_eq!(
        kz.eval("zk.Semaphore('/k', 'py', max_leases=3).acquire(timeout=10)"),
        true
    );
    assert_eq!(kz.eval("zk.get('/k')[0]"), "3");
    let ours = Semaphore::new(&c, "/k", "rust", 2).unwrap();
    match ours.acquire(Some(LONG)) {
        Err(Error::Recipe(RecipeError::MaxLeasesMismatch {
            ours: 2, theirs: 3, ..
        })) => {}
        other => panic!("{other:?}"),
    }
    assert!(Semaphore::new(&c, "/k", "rust", 3)
        .unwrap()
        .try_acquire()
        .unwrap());
    // Ours made it with 2: kazoo with 3 is refused (its ValueError), with 2 accepted.
    Semaphore::new(&c, "/r", "rust", 2)
        .unwrap()
        .acquire(Some(LONG))
        .unwrap();
    let err = kz
        .try_eval("zk.Semaphore('/r', 'py', max_leases=3).acquire(timeout=10)")
        .unwrap_err();
    assert!(err.contains("Inconsistent max leases"), "{err}");
    assert_eq!(
        kz.eval("zk.Semaphore('/r', 'py', max_leases=2).acquire(timeout=10)"),
        true
    );
}
