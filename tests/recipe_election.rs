//! Election: one leader, hand-over on resignation, leadership loss told, and a kazoo
//! `Election` on the same path.

#[path = "faults_support/mod.rs"]
mod faults_support;
#[path = "kazoo_support/mod.rs"]
mod kazoo_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::cell::Cell;
use std::rc::Rc;

use kazoo_support::Kazoo;
use mio_zookeeper::recipe::Election;
use mio_zookeeper::testing::ZkServer;
use recipe_support::{client, wait};
use serde_json::json;

#[test]
fn one_leader_at_a_time_and_the_next_takes_over_on_resignation() {
    let zk = ZkServer::start().unwrap();
    let a = client(&zk.connect_string());
    let b = client(&zk.connect_string());
    let ea = Election::new(&a, "/el", "a").unwrap();
    let eb = Election::new(&b, "/el", "b").unwrap();
    assert_eq!(ea.leader().unwrap(), None);
    let ca = ea.campaign_async();
    wait(&a, "a elected", || ca.ready());
    let cb = eb.campaign_async();
    wait(&b, "b campaigning", || eb.contenders().unwrap().len() == 2);
    assert!(ea.is_leader() && !eb.is_leader() && !cb.ready());
    assert_eq!(eb.contenders().unwrap(), ["a", "b"]);
    assert_eq!(eb.leader().unwrap().as_deref(), Some("a"));
    ea.resign().unwrap();
    wait(&b, "b elected", || cb.ready());
    assert!(eb.is_leader() && !ea.is_leader());
    assert_eq!(ea.leader().unwrap().as_deref(), Some("b"));
    // run: leads while f runs, resigns after.
    eb.resign().unwrap();
    let led = ea
        .run(|| ea.is_leader(), Some(recipe_support::LONG))
        .unwrap();
    assert!(led && !ea.is_leader());
    assert_eq!(ea.leader().unwrap(), None);
}

#[test]
fn a_leader_learns_when_its_leadership_is_lost() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let e = Election::new(&c, "/el", "me").unwrap();
    let lost = Rc::new(Cell::new(false));
    let l = lost.clone();
    e.on_lost(move |_| l.set(true));
    let won = e.campaign_async();
    wait(&c, "elected", || won.ready());
    faults_support::expire_session(zk.addr(), &c);
    wait(&c, "the loss", || lost.get());
    assert!(!e.is_leader());
}

#[test]
fn a_kazoo_election_and_ours_elect_one_leader_and_hand_over() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    let ours = Election::new(&c, "/kel", "rust").unwrap();
    let won = ours.campaign_async();
    wait(&c, "ours elected", || won.ready());
    // kazoo campaigns while we lead: it waits, and sees us as the leader.
    kz.exec(
        "import threading\nstop = threading.Event()\nel = zk.Election('/kel', 'py')\n\
         def lead():\n    emit({'leader': 'py'})\n    stop.wait(30)\n\
         spawn(lambda: el.run(lead))",
    );
    wait(&c, "kazoo's node", || ours.contenders().unwrap().len() == 2);
    assert_eq!(kz.eval("el.contenders()"), json!(["rust", "py"]));
    assert!(kz.event(std::time::Duration::from_millis(300)).is_none());
    ours.resign().unwrap();
    assert_eq!(kz.expect_event("kazoo elected")["leader"], "py");
    // Now kazoo leads: ours waits.
    let again = ours.campaign_async();
    wait(&c, "ours campaigning", || {
        ours.contenders().unwrap().len() == 2
    });
    assert_eq!(ours.leader().unwrap().as_deref(), Some("py"));
    assert!(!again.ready());
    kz.exec("stop.set()");
    wait(&c, "ours elected again", || again.ready());
    again.get_nowait().unwrap();
    assert!(ours.is_leader());
    ours.resign().unwrap();
}
