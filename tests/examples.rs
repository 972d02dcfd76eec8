//! The examples, run in-process: the tour (examples/tour.rs) against a throwaway server and
//! against a server given as `ZK_HOSTS`, checking the lines it prints.

#[allow(dead_code)]
#[path = "../examples/tour.rs"]
mod tour;

use std::time::Duration;

use mio_zookeeper::testing::ZkServer;
use mio_zookeeper::{Client, CreateMode, LoopError, NullData, Watcher};

/// The tour's output, with helpers that show all of it when an expectation fails.
struct Lines(Vec<String>);

impl Lines {
    fn dump(&self) -> String {
        self.0.join("\n")
    }

    /// The index of the first line at or after `from` that contains `needle`.
    fn find_from(&self, from: usize, needle: &str) -> usize {
        match self.0.iter().skip(from).position(|l| l.contains(needle)) {
            Some(i) => from + i,
            None => panic!(
                "no line containing {needle:?} after line {from}; the tour printed:\n{}",
                self.dump()
            ),
        }
    }

    fn find(&self, needle: &str) -> usize {
        self.find_from(0, needle)
    }

    fn count(&self, needle: &str) -> usize {
        self.0.iter().filter(|l| l.contains(needle)).count()
    }

    /// The lines that start with `prefix`, with it stripped.
    fn tagged(&self, prefix: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|l| l.strip_prefix(prefix))
            .collect()
    }
}

#[test]
fn tour_against_a_throwaway_server() {
    let lines = Lines(tour::run(None, false).expect("the tour runs"));

    // 1. The listener told every state change of A, in order, ending with LOST; B's too.
    assert_eq!(
        lines.tagged("[listener A] "),
        ["CONNECTED", "SUSPENDED", "CONNECTED", "LOST"],
        "{}",
        lines.dump()
    );
    assert_eq!(
        lines.tagged("[listener B] "),
        ["CONNECTED", "LOST"],
        "{}",
        lines.dump()
    );
    let connected = lines.find("[listener A] CONNECTED");
    assert!(
        connected < lines.find("A: start() returned"),
        "{}",
        lines.dump()
    );

    // 2. The data watch fired, and before set() returned (the event precedes the reply).
    let watch = lines.find("[watch] NodeDataChanged /config");
    let set = lines.find("set /config \"v2\" -> version 1");
    assert!(watch < set, "{}", lines.dump());
    lines.find("get /config -> \"v2\"");

    // 3. The ephemeral node went with B's session.
    let created = lines.find("-> /workers/worker-0000000000");
    let deleted = lines.find_from(created, "[watch A] NodeDeleted /workers/worker-0000000000");
    assert!(lines.find("B: stop()") < deleted, "{}", lines.dump());
    lines.find_from(deleted, "/workers now has 0 children");

    // 4. The failing transaction: each op's result, nothing applied; then the fixed one.
    let txn = lines.find("== 4.");
    let create = lines.find_from(txn, "create /from-txn");
    assert!(lines.0[create].ends_with("rolled back"), "{}", lines.dump());
    let set = lines.find_from(create, "set_data /config, expecting version 0");
    assert!(
        lines.0[set].contains("FAILED: BadVersion"),
        "{}",
        lines.dump()
    );
    let check = lines.find_from(set, "check /workers");
    assert!(
        lines.0[check].contains("FAILED: RuntimeInconsistency"),
        "{}",
        lines.dump()
    );
    let again = lines.find_from(check, "exists /from-txn -> no");
    let create = lines.find_from(again, "create /from-txn");
    assert!(
        lines.0[create].ends_with("ok, created /from-txn"),
        "{}",
        lines.dump()
    );
    let set = lines.find_from(create, "set_data /config, expecting version 1");
    assert!(lines.0[set].ends_with("ok, version 2"), "{}", lines.dump());

    // 5. Callbacks: none ran inside the submitting calls; then all six, in order.
    lines.find("submitted 6 creates; 0 callbacks have run so far");
    let callbacks = lines.tagged("[callback] create ");
    assert_eq!(callbacks.len(), 6, "{}", lines.dump());
    for (i, c) in callbacks[..5].iter().enumerate() {
        let p = format!("/items/{}", i + 1);
        assert!(c.starts_with(&format!("{p} -> {p} (czxid ")), "{c}");
    }
    assert_eq!(
        callbacks[5],
        "/items/1 -> error: NodeExists (-110): /items/1"
    );
    lines.find("all 6 callbacks ran, in request order");

    // 6. The task awaited the reads: 10 + 20 + 30 + 40 + 50.
    let task = lines.find("[task] read each item with an await: total 150");
    assert!(
        task < lines.find("the task returned 150"),
        "{}",
        lines.dump()
    );

    // 7. The recursive watch saw each change below /tree, then its removal, then nothing.
    assert_eq!(
        lines.tagged("[recursive watch] "),
        [
            "NodeCreated /tree",
            "NodeCreated /tree/leaf",
            "NodeDataChanged /tree/leaf",
            "NodeDeleted /tree/leaf",
            "PersistentWatchRemoved /tree",
        ],
        "{}",
        lines.dump()
    );
    lines.find("create /tree/after -> 0 new events");

    // 8. The blip: SUSPENDED, CONNECTED on the same session, and the watch fired.
    let cut = lines.find("the proxy cut A's connection");
    let suspended = lines.find_from(cut, "[listener A] SUSPENDED");
    let back = lines.find_from(suspended, "[listener A] CONNECTED");
    lines.find_from(cut, "[watch A] NodeDataChanged /config");
    lines.find_from(back, "(the same one)");
    lines.find_from(back, "A: get /config -> \"changed while A was away\"");

    // 9. The cache: loaded, followed a change, then after the blip reported exactly the
    // three differences (nothing for /services/db), and close() removed its watch.
    let section = lines.find("== 9.");
    let cache: Vec<&str> = lines.0[section..]
        .iter()
        .filter_map(|l| l.strip_prefix("[cache] "))
        .collect();
    let init = cache.iter().position(|l| *l == "INITIALIZED");
    assert_eq!(init, Some(5), "{}", lines.dump());
    let mut added = cache[..5].to_vec();
    added.sort();
    assert_eq!(
        added,
        [
            "NODE_ADDED /services \"\"",
            "NODE_ADDED /services/db \"primary\"",
            "NODE_ADDED /services/web \"\"",
            "NODE_ADDED /services/web/1 \"10.0.0.1\"",
            "NODE_ADDED /services/web/2 \"10.0.0.2\"",
        ],
        "{}",
        lines.dump()
    );
    assert_eq!(
        cache[6..9],
        [
            "NODE_UPDATED /services/db \"replica\"",
            "CONNECTION_SUSPENDED",
            "CONNECTION_RECONNECTED"
        ],
        "{}",
        lines.dump()
    );
    let mut diff = cache[9..].to_vec();
    diff.sort();
    assert_eq!(
        diff,
        [
            "NODE_ADDED /services/web/3 \"10.0.0.3\"",
            "NODE_REMOVED /services/web/2",
            "NODE_UPDATED /services/web/1 \"10.0.0.9\"",
        ],
        "{}",
        lines.dump()
    );
    lines.find_from(section, "C: the cache still shows web = [\"1\", \"2\"]");
    lines.find_from(section, "C: caught up: web = [\"1\", \"3\"]");
    lines.find_from(section, "C: cache.close() -> 0 watches on the client");

    // 10. LOST at the end, and the client refuses work afterwards.
    let lost = lines.find("[listener A] LOST");
    assert!(lost > back, "{}", lines.dump());
    lines.find_from(
        lost,
        "A: get after stop -> error: the client is not started",
    );
    assert!(
        lines.0.last().is_some_and(|l| l.ends_with("; done")),
        "{}",
        lines.dump()
    );
    assert_eq!(lines.count("unexpectedly"), 0, "{}", lines.dump());
}

#[test]
fn tour_with_zk_hosts_works_under_its_own_node_and_removes_it() {
    let zk = ZkServer::start().expect("a server");
    let admin = Client::new(&zk.connect_string()).unwrap();
    admin.start(Some(Duration::from_secs(15))).unwrap();
    admin.create("/app", b"", CreateMode::Persistent).unwrap();

    // A connect string with a chroot of its own, as a user's ZK_HOSTS may have.
    let hosts = format!("{}/app", zk.connect_string());
    let lines = Lines(tour::run(Some(&hosts), false).expect("the tour runs"));

    lines.find(&format!("using ZK_HOSTS={hosts}"));
    lines.find("skipped with ZK_HOSTS");
    assert_eq!(
        lines.tagged("[listener A] "),
        ["CONNECTED", "LOST"],
        "{}",
        lines.dump()
    );
    lines.find("[watch] NodeDataChanged /config");
    lines.find("the task returned 150");
    let updated = lines.find("[cache] NODE_UPDATED /services/db \"replica\"");
    lines.find_from(updated, "the blip is skipped with ZK_HOSTS");

    // It worked below /app/mio-zookeeper-tour-* and left nothing behind, above or below.
    assert!(admin.get_children("/app", None).unwrap().is_empty());
    let mut root = admin.get_children("/", None).unwrap();
    root.sort();
    assert_eq!(root, ["app", "zookeeper"]);
    admin.stop().unwrap();
}

/// README, "Embedded in your mio::Poll": the host owns the poll and its own sources; the
/// client works through async calls, callbacks, watches and tasks, and refuses to block.
#[test]
fn readme_embedded_loop_runs_async_calls_callbacks_watches_and_tasks() {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use std::time::Instant;

    use mio::net::{TcpListener, TcpStream};
    use mio::{Events, Interest, Poll, Token};
    use mio_zookeeper::EventType;
    use mio_zookeeper::{CreateOptions, Error, Handler, MioHandler};

    let zk = ZkServer::start().expect("a server");
    let mut poll = Poll::new().unwrap();
    // The host's own source, under a token outside the client's range.
    const HOST: Token = Token(7);
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    poll.registry()
        .register(&mut listener, HOST, Interest::READABLE)
        .unwrap();
    let _peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();

    let handler = MioHandler::embedded(poll.registry(), 1000..1100).unwrap();
    let client = Client::builder(&zk.connect_string())
        .handler(handler.clone())
        .build_with()
        .unwrap();
    let connected = Rc::new(Cell::new(false));
    let c = connected.clone();
    client
        .start_async()
        .unwrap()
        .rawlink(move |r| c.set(r.successful()));

    let host_events = Rc::new(Cell::new(0));
    let reactor = handler.reactor().clone();
    let mut events = Events::with_capacity(256);
    let turn = |events: &mut Events, poll: &mut Poll| {
        poll.poll(events, reactor.next_timeout()).unwrap();
        for event in events.iter() {
            if !reactor.handle_event(event) {
                assert_eq!(event.token(), HOST);
                host_events.set(host_events.get() + 1);
                let _ = listener.accept();
            }
        }
        reactor.run_pending().unwrap();
    };
    let run_until = |done: &dyn Fn() -> bool, events: &mut Events, poll: &mut Poll| {
        let give_up = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < give_up, "the embedded loop got stuck");
            turn(events, poll);
        }
    };
    run_until(&|| connected.get(), &mut events, &mut poll);

    // Blocking is refused in this mode, with a clear error.
    assert!(matches!(
        client.get("/", None),
        Err(Error::Loop(LoopError::Embedded { .. }))
    ));

    // Async calls with callbacks, a watch, and a task awaiting results.
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    client
        .create_async("/e", NullData, CreateOptions::default())
        .rawlink(move |r| {
            l.borrow_mut()
                .push(format!("created {:?}", r.value().map(|v| v.0)))
        });
    let l = log.clone();
    client
        .exists_async(
            "/e",
            Watcher::new(move |ev: mio_zookeeper::WatchedEvent| {
                l.borrow_mut().push(format!("watch {}", ev.event_type))
            }),
        )
        .rawlink(|_| {});
    let c = client.clone();
    let task = handler.spawn_future(async move {
        c.set_async("/e", bytes::Bytes::from_static(b"x"), None)
            .await?;
        let (data, _) = c.get_async("/e", None).await?;
        Ok::<_, Error>(data)
    });
    run_until(
        &|| task.ready() && log.borrow().len() == 2,
        &mut events,
        &mut poll,
    );
    assert_eq!(
        *log.borrow(),
        [
            "created Some(\"/e\")".to_string(),
            format!("watch {}", EventType::NodeDataChanged)
        ]
    );
    assert_eq!(
        task.get_nowait().unwrap().unwrap().as_deref(),
        Some(&b"x"[..])
    );
    assert!(
        host_events.get() >= 1,
        "the host's own event was not handed back"
    );

    let stopped = client.stop_async();
    run_until(&|| stopped.ready(), &mut events, &mut poll);
    assert_eq!(client.state(), mio_zookeeper::ClientState::Lost);
}
