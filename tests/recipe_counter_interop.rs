//! A kazoo `Counter` and ours on one path: interleaved adds from both converge, in kazoo's
//! decimal format and in the Curator format (`support_curator=True`); each reads what the
//! other wrote.
#![cfg(feature = "testing")]

#[path = "kazoo_support/mod.rs"]
mod kazoo_support;
#[path = "recipe_support/mod.rs"]
mod recipe_support;

use kazoo_support::Kazoo;
use mio_zookeeper::recipe::{Counter, CounterFormat};
use mio_zookeeper::testing::ZkServer;
use recipe_support::client;

#[test]
fn kazoos_counter_and_ours_converge_in_both_formats() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    for (path, format, curator) in [
        ("/kc/decimal", CounterFormat::Decimal, "False"),
        ("/kc/curator", CounterFormat::Curator, "True"),
    ] {
        kz.exec(&format!(
            "kc = zk.Counter('{path}', default=3, support_curator={curator})"
        ));
        let ours = Counter::new(&c, path).unwrap().default(3).format(format);
        // We create the node (as kazoo's ensure_path would); kazoo reads its default there.
        assert_eq!(ours.value().unwrap(), 3);
        assert_eq!(kz.eval("kc.value"), 3, "{path}");
        let mut expected = 3;
        for i in 1..=20i64 {
            if i % 2 == 0 {
                let ch = ours.add(i).unwrap();
                assert_eq!(ch.pre, expected, "{path}: we start from kazoo's value");
            } else {
                kz.exec(&format!("kc += {i}"));
                assert_eq!(kz.eval("kc.pre_value"), expected, "{path}");
            }
            expected += i;
            assert_eq!(ours.value().unwrap(), expected, "{path}: ours reads it");
            assert_eq!(kz.eval("kc.value"), expected, "{path}: kazoo reads it");
        }
        kz.exec("kc -= 7");
        ours.sub(1).unwrap();
        assert_eq!(kz.eval("kc.value"), expected - 8, "{path}");
        // The exact bytes kazoo would write itself.
        let raw = c.get(path, None).unwrap().0.unwrap().to_vec();
        let kazoo_raw = match format {
            CounterFormat::Curator => ((expected - 8) as i32).to_be_bytes().to_vec(),
            _ => (expected - 8).to_string().into_bytes(),
        };
        assert_eq!(raw, kazoo_raw, "{path}");
    }
}

#[test]
fn kazoo_and_ours_contending_lose_no_add() {
    let zk = ZkServer::start().unwrap();
    let Some(mut kz) = Kazoo::start(&zk.connect_string()) else {
        return;
    };
    let c = client(&zk.connect_string());
    // kazoo adds 200 in its own thread while ours adds 200 here.
    kz.exec(
        "kc = zk.Counter('/race')\n\
         def adds():\n    for _ in range(200):\n        kc.__add__(1)\n    emit('done')\n\
         spawn(adds)",
    );
    let ours = Counter::new(&c, "/race").unwrap();
    for _ in 0..200 {
        ours.add(1).unwrap();
    }
    kz.expect_event("kazoo's adds");
    assert_eq!(ours.value().unwrap(), 400);
    assert_eq!(kz.eval("kc.value"), 400);
}
