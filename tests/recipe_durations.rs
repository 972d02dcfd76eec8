//! Durations are user input: a recipe given `Duration::MAX` as its timeout waits without a
//! deadline instead of panicking on `now + timeout`.

#[path = "recipe_support/mod.rs"]
mod recipe_support;

use std::time::Duration;

use mio_zookeeper::recipe::RetryStop;
use mio_zookeeper::recipe::{
    Barrier, Lock, LockingQueue, NonBlockingLease, PatientChildrenWatch, ProtectedCreate, Retry,
    Semaphore,
};
use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{CreateMode, Error, Handler};
use recipe_support::client;

#[test]
fn a_huge_timeout_is_no_deadline_not_a_panic() {
    let zk = ZkServer::start().unwrap();
    let c = client(&zk.connect_string());
    let lock = Lock::new(&c, "/d/lock", "me").unwrap();
    lock.acquire(Some(Duration::MAX)).unwrap();
    lock.release().unwrap();
    let sem = Semaphore::new(&c, "/d/sem", "me", 1).unwrap();
    sem.acquire(Some(Duration::MAX)).unwrap();
    sem.release().unwrap();
    ProtectedCreate::new("/d/p", b"", CreateMode::Persistent)
        .with_timeout(Duration::MAX)
        .create(&c)
        .unwrap();
    let b = Barrier::new(&c, "/d/gate").unwrap();
    assert!(b.wait(Some(Duration::MAX)).unwrap(), "no barrier: down");
    let q = LockingQueue::new(&c, "/d/q").unwrap();
    q.put(b"x", 100).unwrap();
    assert_eq!(&q.get(Some(Duration::MAX)).unwrap()[..], b"x");
    // A lease for "ever", and a lease decision with no deadline.
    assert!(NonBlockingLease::acquire(
        &c,
        "/d/lease",
        Duration::MAX,
        Some("me"),
        Some(Duration::MAX)
    )
    .unwrap());
    // A retry policy of enormous waits: the first failure's wait is past the deadline.
    let policy = Retry::new()
        .delay(Duration::MAX)
        .max_delay(Duration::MAX)
        .deadline(Some(Duration::from_secs(5)));
    let err = policy
        .run(&c, || Err::<(), _>(Error::ConnectionLoss))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::RetryFailed {
                reason: RetryStop::Deadline,
                ..
            }
        ),
        "{err}"
    );
    let h = c.handler().clone();
    let r = policy.run_async(&c, move || {
        let failed = h.async_result::<()>();
        failed.set_exception(Error::ConnectionLoss).unwrap();
        failed
    });
    let err = r.get(true, None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RetryFailed {
                reason: RetryStop::Deadline,
                ..
            }
        ),
        "{err}"
    );
    // A settling time of "ever": it never settles, and nothing panics.
    let patient = PatientChildrenWatch::new(&c, "/d", Duration::MAX).unwrap();
    let settled = patient.start_async();
    c.sleep(Duration::from_millis(300)).unwrap();
    assert!(!settled.ready());
}
