//! A client against a fake server (`testing::FakeServer`) that answers the handshake
//! correctly and then sends garbage: a negative frame length, a 2 GiB frame length, a reply
//! to an xid never used, a truncated Stat, an unknown event type, seeded random bytes and
//! seeded random reply bodies.
//!
//! For each: no panic, no hang (every wait has a deadline), no busy spin (the loop's polls
//! and the thread's CPU time over the whole episode are bounded, generously), every request
//! in flight completes with an error, and the client either reconnects to the fake server
//! (and is CONNECTED again) or reports the failure on the request.

use std::time::{Duration, Instant};

use mio_zookeeper::testing::{FakeServer, Garbage, FAKE_SESSION_ID};
use mio_zookeeper::{Client, ClientState, Error, ZkError};

/// The longest any single wait may take before the test fails.
const LONG: Duration = Duration::from_secs(30);

/// The session timeout asked for (the fake server grants what it is asked).
const SESSION: Duration = Duration::from_secs(2);

/// Requests in flight when the garbage comes.
const REQUESTS: usize = 8;

/// The CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn wait_for(c: &Client, what: &str, cond: impl Fn() -> bool) {
    c.handler()
        .reactor()
        .run_until(&cond, Some(LONG))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
}

/// What the client must do after the garbage, besides failing every request in flight.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Then {
    /// Drop the connection and connect to the fake server again.
    Reconnects,
    /// Either of the above, or keep the connection: the outcome is not pinned (a truncated
    /// body fails only its request; an unknown event type is being changed to be delivered).
    Either,
}

/// A request in flight, type-erased: `None` while pending, then its outcome.
type Outcome = Box<dyn Fn() -> Option<Result<(), Error>>>;

/// Submits request `i` of a rotation of kinds whose replies have different bodies (data and
/// Stat, children, ACLs and Stat, a multi-read), all of which fail on `NoNode`.
fn submit(c: &Client, i: usize) -> Outcome {
    fn erase<T: Clone + 'static>(r: mio_zookeeper::AsyncResult<T>) -> Outcome {
        Box::new(move || r.ready().then(|| r.get_nowait().map(|_| ())))
    }
    let path = format!("/garbage-{i}");
    match i % 4 {
        0 => erase(c.get_async(&path, None)),
        1 => erase(c.get_children_with_stat_async(&path, None)),
        2 => erase(c.get_acls_async(&path)),
        _ => erase(c.sync_async(&path)),
    }
}

/// Runs one client through `garbage` and checks the common invariants.
fn survives(garbage: Garbage, then: Then) {
    survives_with(garbage, then, 0)
}

/// [`survives`], with the first request (the one the garbage answers) of kind `first`.
fn survives_with(garbage: Garbage, then: Then, first: usize) {
    let label = format!("{garbage:?}");
    let fake = FakeServer::start(garbage).unwrap();
    let c = Client::builder(&fake.connect_string())
        .session_timeout(SESSION)
        .connection_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    c.start(Some(LONG)).unwrap();
    assert_eq!(c.client_id().map(|(id, _)| id), Some(FAKE_SESSION_ID));

    let io_before = c.handler().reactor().io_stats();
    let cpu_before = thread_cpu();
    let t0 = Instant::now();
    let results: Vec<Outcome> = (0..REQUESTS).map(|i| submit(&c, first + i)).collect();
    wait_for(&c, &format!("{label}: every request to complete"), || {
        results.iter().all(|r| r().is_some())
    });
    for (i, r) in results.iter().enumerate() {
        match r().unwrap_or(Ok(())) {
            Err(Error::ConnectionLoss | Error::Decode(_) | Error::ZooKeeper(ZkError { .. })) => {}
            // ConnectionClosed is "not sent", which these were; accept it too.
            Err(Error::ConnectionClosed) => {}
            other => panic!("{label}: request {i} must fail, got {other:?}"),
        }
    }
    assert!(fake.garbage_sent() >= 1, "{label}: the garbage was sent");
    if then == Then::Reconnects {
        wait_for(&c, &format!("{label}: a new connection"), || {
            fake.handshakes() >= 2 && c.state() == ClientState::Connected
        });
        assert_eq!(
            c.client_id().map(|(id, _)| id),
            Some(FAKE_SESSION_ID),
            "{label}: the same session resumed"
        );
    }
    // Give a spinning loop the chance to show itself.
    c.handler().run_for(Duration::from_millis(500)).unwrap();
    let wall = t0.elapsed();
    let cpu = thread_cpu().saturating_sub(cpu_before);
    let polls = c.handler().reactor().io_stats().since(&io_before).polls;
    // A spinning loop polls tens of thousands of times a second and burns a whole core;
    // an idle one polls a few times per ping interval (T/3) and per reconnect.
    let max_polls = 200 + 500 * wall.as_secs();
    assert!(
        polls <= max_polls,
        "{label}: {polls} polls in {wall:?} (at most {max_polls}): a busy loop"
    );
    assert!(
        cpu <= wall / 2 + Duration::from_millis(300),
        "{label}: {cpu:?} of CPU in {wall:?}: a busy loop"
    );
    assert!(
        fake.accepted() <= 2 + (wall.as_millis() / 20) as usize,
        "{label}: {} connections in {wall:?}: reconnecting without backoff",
        fake.accepted()
    );
    // The client is still usable and closes cleanly (no hang).
    let t = Instant::now();
    let stopped = c.stop();
    assert!(t.elapsed() < LONG, "{label}: stop() hung");
    eprintln!(
        "{label}: {wall:?} wall, {cpu:?} CPU, {polls} polls, {} connections, first result {:?}, \
         stop() -> {stopped:?}",
        fake.accepted(),
        results[0]().and_then(|r| r.err()),
    );
}

#[test]
fn a_negative_frame_length_drops_the_connection_and_the_client_reconnects() {
    survives(Garbage::NegativeLength, Then::Reconnects);
}

#[test]
fn a_2_gib_frame_length_is_refused_without_allocating_and_the_client_reconnects() {
    survives(Garbage::HugeLength, Then::Reconnects);
}

#[test]
fn a_reply_to_an_unknown_xid_drops_the_connection_and_the_client_reconnects() {
    survives(Garbage::UnknownXid, Then::Reconnects);
}

#[test]
fn a_truncated_stat_fails_its_request_and_nothing_hangs() {
    survives(Garbage::TruncatedStat, Then::Either);
}

#[test]
fn an_unknown_event_type_neither_panics_nor_hangs_and_requests_complete() {
    survives(Garbage::UnknownEventType, Then::Either);
}

#[test]
fn seeded_random_bytes_after_the_handshake_never_panic_hang_or_spin() {
    // Seeds whose first four bytes are a negative length (1), a length over the 4 MiB frame
    // limit (5, 6), and one within it (5224: an 830 kB frame of which 508 bytes come, and
    // then only the fake's ping replies: the client must not wait for ever).
    for seed in [1, 5, 6, 5224] {
        survives(Garbage::RandomBytes { seed, len: 512 }, Then::Either);
    }
}

#[test]
fn seeded_random_reply_bodies_never_panic_hang_or_spin() {
    for seed in 0..12 {
        survives_with(
            Garbage::RandomReply {
                seed,
                len: 16 + 8 * seed as usize,
            },
            Then::Either,
            seed as usize,
        );
    }
}

/// A server that sends garbage right after every handshake makes the client drop every
/// connection it opens: the reconnects must back off, not storm the server.
fn reconnects_back_off(garbage: Garbage) {
    let label = format!("eager {garbage:?}");
    let fake = FakeServer::start_eager(garbage).unwrap();
    let c = Client::builder(&fake.connect_string())
        .session_timeout(SESSION)
        .connection_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    let started = c.start_async().unwrap();
    let io_before = c.handler().reactor().io_stats();
    let cpu_before = thread_cpu();
    let t0 = Instant::now();
    let window = Duration::from_secs(2);
    c.handler().run_for(window).unwrap();
    let wall = t0.elapsed();
    let cpu = thread_cpu().saturating_sub(cpu_before);
    let polls = c.handler().reactor().io_stats().since(&io_before).polls;
    let conns = fake.accepted();
    assert!(
        started.ready(),
        "{label}: start() completes once a handshake succeeded"
    );
    eprintln!("{label}: {conns} connections, {polls} polls, {cpu:?} CPU in {wall:?}");
    // With a 20 ms initial backoff doubling to 200 ms, 2 s hold about 15 attempts; a
    // generous bound still tells a backoff from a storm (one per round trip: hundreds).
    assert!(
        conns <= 40,
        "{label}: {conns} connections in {wall:?}: the reconnects do not back off"
    );
    // Polls per connection are few; more than that per second is a spin.
    assert!(
        polls <= 200 + 500 * wall.as_secs() + 5 * conns as u64,
        "{label}: {polls} polls in {wall:?}: a busy loop"
    );
    assert!(
        cpu <= wall / 2 + Duration::from_millis(300),
        "{label}: {cpu:?} of CPU in {wall:?}: a busy loop"
    );
    let t = Instant::now();
    let _ = c.stop();
    assert!(t.elapsed() < LONG, "{label}: stop() hung");
}

#[test]
fn a_server_that_sends_a_bad_length_after_every_handshake_gets_backed_off_reconnects() {
    reconnects_back_off(Garbage::NegativeLength);
}

#[test]
fn a_server_that_sends_an_unknown_event_after_every_handshake_gets_no_reconnect_storm() {
    reconnects_back_off(Garbage::UnknownEventType);
}
