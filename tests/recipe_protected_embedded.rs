//! A protected create in a host's `mio::Poll`: the non-blocking form finds its node again
//! after the proxy lost the reply (exactly one node), and the blocking form is refused.
#![cfg(feature = "testing")]

#[path = "recipe_support/mod.rs"]
mod recipe_support;

use mio_zookeeper::recipe::ProtectedCreate;
use mio_zookeeper::testing::{Direction, Proxy, ZkServer};
use mio_zookeeper::CreateMode;
use recipe_support::*;

#[test]
fn an_embedded_protected_create_survives_a_lost_reply_and_the_blocking_form_is_refused() {
    let zk = ZkServer::start().unwrap();
    let proxy = Proxy::start(zk.addr()).unwrap();
    let other = client(&zk.connect_string());
    other.ensure_path("/emb", None).unwrap();

    let mut host = Host::new();
    let c = host.client(&proxy.connect_string());
    let started = c.start_async().unwrap();
    host.run_until("connected", || started.ready());

    let create = ProtectedCreate::new("/emb/n-", b"x", CreateMode::EphemeralSequential);
    let err = create.create(&c).unwrap_err();
    assert_embedded_refusal(err, "ProtectedCreate::create");

    // The create reaches the server; its reply is lost with the connection.
    proxy.cut_after(Direction::ServerToClient, 0);
    let r = create.create_async(&c);
    host.run_until("the protected create", || r.ready());
    let (path, stat) = r.get_nowait().unwrap();
    assert!(proxy.cuts() >= 1, "the reply was really lost");
    assert_eq!(stat.ephemeral_owner, c.client_id().unwrap().0);
    let kids = other.get_children("/emb", None).unwrap();
    assert_eq!(kids.len(), 1, "exactly one node: {kids:?}");
    assert_eq!(format!("/emb/{}", kids[0]), path);
}
