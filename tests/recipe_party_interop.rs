//! Party and ShallowParty next to kazoo's own recipes on one path: each sees the other's
//! members and identifiers.

#[path = "kazoo_support/mod.rs"]
mod kazoo_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use kazoo_support::Kazoo;
use mio_zookeeper::recipe::{Party, ShallowParty};
use mio_zookeeper::testing::ZkServer;
use recipe_support::*;
use serde_json::json;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn kazoo_party_and_ours_see_each_other() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    let ours = Party::new(&c, "/mixed/party", Some("rust-1")).unwrap();
    ours.join().unwrap();
    kz.exec("p = zk.Party('/mixed/party', 'py-1')");
    assert_eq!(kz.eval("sorted(list(p))"), json!(["rust-1"]));
    assert_eq!(kz.eval("len(p)"), 1);
    kz.exec("p.join()");
    assert_eq!(kz.eval("sorted(list(p))"), json!(["py-1", "rust-1"]));
    assert_eq!(sorted(ours.members().unwrap()), ["py-1", "rust-1"]);
    assert_eq!(ours.len().unwrap(), 2);
    kz.exec("p.leave()");
    assert_eq!(ours.members().unwrap(), ["rust-1"]);
    ours.leave().unwrap();
    assert_eq!(kz.eval("len(p)"), 0);
}

#[test]
fn kazoo_shallow_party_and_ours_see_each_other() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    let ours = ShallowParty::new(&c, "/mixed/shallow", Some("rust-host")).unwrap();
    ours.join().unwrap();
    kz.exec("s = zk.ShallowParty('/mixed/shallow', 'py-host')");
    assert_eq!(kz.eval("sorted(list(s))"), json!(["rust-host"]));
    kz.exec("s.join()");
    assert_eq!(kz.eval("sorted(list(s))"), json!(["py-host", "rust-host"]));
    assert_eq!(sorted(ours.members().unwrap()), ["py-host", "rust-host"]);
    assert_eq!(kz.eval("len(s)"), 2);
    ours.leave().unwrap();
    assert_eq!(kz.eval("sorted(list(s))"), json!(["py-host"]));
}
