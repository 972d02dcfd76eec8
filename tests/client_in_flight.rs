//! `max_in_flight`: past the bound, requests wait in the client's queue (bounded by
//! `max_queued_requests`, `QueueFull` beyond it) and go out as replies come back, in
//! submission order.

use mio_zookeeper::{Client, CreateMode, CreateOptions, Error, NullData};
use std::time::Duration;

use mio_zookeeper::testing::ZkServer;

/// The longest any single wait may take before the test fails.
const LONG: Duration = Duration::from_secs(60);

#[test]
fn requests_past_max_in_flight_wait_in_the_queue_and_complete_in_order() {
    let zk = ZkServer::start().unwrap();
    let c = Client::builder(&zk.connect_string())
        .max_in_flight(4)
        .max_queued_requests(1996)
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    c.create("/q", b"", CreateMode::Persistent).unwrap();
    let seq = CreateOptions {
        mode: CreateMode::PersistentSequential,
        ..CreateOptions::default()
    };
    // Connected, yet only 4 go out: the next 1996 wait, and one more does not fit.
    let pending: Vec<_> = (0..2000)
        .map(|_| c.create_async("/q/n-", NullData, &seq))
        .collect();
    let over = c.exists_async("/q", None);
    match over.get(false, None) {
        Err(Error::QueueFull { limit: 1996 }) => {}
        other => panic!("past max_in_flight + max_queued_requests: {other:?}"),
    }
    let mut last = None;
    for (i, r) in pending.iter().enumerate() {
        let (path, _) = r.get(true, Some(LONG)).unwrap();
        let n: u64 = path["/q/n-".len()..].parse().unwrap();
        if let Some(l) = last {
            assert!(n > l, "request {i}: {path} after sequence {l}");
        }
        last = Some(n);
    }
    assert_eq!(c.get_children("/q", None).unwrap().len(), 2000);
    // With the queue drained, there is room again.
    assert!(c.exists("/q", None).unwrap().is_some());
    c.stop().unwrap();
}
