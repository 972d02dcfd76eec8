//! # mio-zookeeper
//!
//! A ZooKeeper client on a single-threaded, hand-rolled [`mio`] reactor, carrying over the
//! handler model of Python's kazoo: a [`Handler`] whose `select`, `socket` and `spawn` map
//! onto the loop, and Rc-based [`AsyncResult`]s that block *cooperatively*: a blocking call
//! drives the loop until its answer is in. No async runtime, no threads.
//!
//! [`Client`] is kazoo's `KazooClient`: every operation blocking and `*_async`, the
//! CONNECTED / SUSPENDED / LOST states with listeners, transactions, chroot, auth, ACLs, and
//! watches (one-shot, persistent and recursive) that survive reconnects. [The
//! client](#the-client) below says what happens to requests and watches when the connection
//! drops or the session expires.
//!
//! ## For a kazoo user
//!
//! | kazoo | here |
//! |---|---|
//! | `KazooClient(hosts=...)`, `start`, `stop` | [`Client::new`], [`Client::builder`] ([`ClientBuilder`]), [`Client::start`], [`Client::stop`]; a [`WeakClient`] inside callbacks |
//! | `IHandler`, `SequentialGeventHandler` | the [`Handler`] trait, [`MioHandler`] (one default loop per thread); the rest of the trait's vocabulary is in [`handler`] |
//! | `IAsyncResult` | [`AsyncResult`]: `get`, `rawlink`, ... and `.await` |
//! | a watch function, `WatchedEvent` | a [`Watcher`] called with a [`WatchedEvent`] ([`EventType`], [`KeeperState`]); [`Client::add_watch`] ([`AddWatchMode`]) gives a [`WatchRegistration`] |
//! | `KazooState`, `add_listener` | [`ClientState`], [`Client::add_listener`]; the fine-grained [`SessionState`] |
//! | `kazoo.exceptions` | one [`Error`]: ZooKeeper's answers as a [`ZkError`] (an [`ErrorCode`] and the path; `is_no_node()`, ...), the loop's own as a [`LoopError`], and the connection's (`ConnectionLoss`, `SessionExpired`, ...) |
//! | `transaction()`, `check`, `commit` | [`Client::transaction`]: a [`Transaction`] committed into [`OpResult`]s |
//! | `ZnodeStat`, `kazoo.security` | [`Stat`]; [`Acl`], [`Id`], [`Perms`], [`make_digest_acl`] |
//! | `create(..., ephemeral=True, sequence=True)` | [`CreateMode`] or [`CreateOptions`] |
//! | `kazoo.recipe.watchers`, `kazoo.recipe.cache` | [`recipe`]: `DataWatch`, `ChildrenWatch`, `PatientChildrenWatch`, `TreeCache`, and `RecursiveCache` on one recursive watch |
//! | `kazoo.recipe.lock`, `election`, `counter`, `barrier`, `party`, `queue`, `lease`, `partitioner`; `KazooRetry` | [`recipe`]: `Lock`, `ReadLock`, `WriteLock`, `Semaphore`, `Election`, `Counter`, `Barrier`, `DoubleBarrier`, `Party`, `ShallowParty`, `Queue`, `LockingQueue`, `NonBlockingLease`, `MultiNonBlockingLease`, `SetPartitioner` on kazoo's wire format; `Retry`; `ProtectedCreate` |
//!
//! ## What is public
//!
//! Like mio, the crate keeps its modules private and re-exports what a user of the client
//! needs at the root. Besides the root there are:
//!
//! - [`recipe`]: kazoo's recipes (the watches and tree caches, the coordination recipes on
//!   kazoo's wire format, the retry helper and protected creates), on the public client API
//!   only, each working in all three driving modes;
//! - [`handler`]: what an implementor of the [`Handler`] trait needs (its dyn-safe
//!   `EventLoop`, `Scheduler`, sockets, callbacks, kazoo's event and lock objects), and the
//!   loop under [`MioHandler`]: its `Reactor`, whose `handle_event`, `next_timeout` and
//!   `run_pending` an application embedding the client in its own `mio::Poll` calls;
//! - [`sasl`]: SASL authentication, sans-IO: the [`SaslMechanism`](sasl::SaslMechanism)
//!   trait a user can implement, and the built-in DIGEST-MD5 client
//!   ([`DigestMd5`](sasl::DigestMd5)) (not yet run by the client: issue #14);
//! - `testing` (feature `testing`): the real-ZooKeeper test harness;
//! - `proto` and `session` (feature `lowlevel`): the wire codec and the sans-IO session
//!   state machine, for tools, test servers, proxies and fuzzing. They are **lower-level
//!   and less stable** than the client's API: they follow the protocol and may change in
//!   any minor release.
//!
//! | feature | what it adds |
//! |---|---|
//! | `lowlevel` | the public modules `proto` and `session` |
//! | `testing` | the module `testing` (throwaway servers, ensembles, a fault proxy); turns on `lowlevel` |
//! | `cli` | the binaries `zkcli` and `zkdump` (`cargo install mio-zookeeper --features cli`); turns on `lowlevel` |
//!
//! ## Layers
//!
//! Dependencies point only downward; `proto` and `session` never touch sockets, `Rc` or the
//! clock. Each layer is a folder of `src/` whose `mod.rs` says what lives there and what it
//! may use.
//!
//! ```text
//!  client/                 Client (kazoo's KazooClient), builder, operations, watches,
//!     |                    transactions; reaches its loop ONLY through its Handler
//!  handler / async_result  Handler (IHandler) over the dyn-safe EventLoop (timers,
//!     |                    sockets, callbacks, tasks, the blocking wait); watch callbacks
//!     |                    serialized here; AsyncResult<T> (IAsyncResult) on a Scheduler;
//!     |                    MioHandler, the default, on the reactor below
//!  reactor/                mio::Poll or a host's Registry, tokens, timers, a plain FIFO;
//!     |                    knows nothing of ZooKeeper (another loop may replace it)
//!     |
//!  session/                sans-IO session state machine: bytes and `now` in; bytes,
//!     |                    events, actions and the next deadline out
//!  proto/                  pure codec: frames and every jute record; no IO, no clock
//! ```
//!
//! ## A blocking call, a callback, an awaited result
//!
//! The examples start a throwaway server with the test harness (`mio_zookeeper::testing`,
//! behind the `testing` feature); `hosts` is its connect string, such as `"127.0.0.1:2181"` (in
//! general `"10.0.0.1:2181,10.0.0.2:2181/app"`: several servers and a chroot).
//!
//! **Blocking calls** run the loop (I/O, timers, pings, callbacks) until the answer is in;
//! each waits at most the client's request timeout.
//!
//! ```
//! # let server = mio_zookeeper::testing::ZkServer::start()?;
//! # let hosts = server.connect_string();
//! use std::time::Duration;
//! use mio_zookeeper::{Client, ClientState, CreateMode};
//!
//! let zk = Client::new(&hosts)?;
//! zk.add_listener(|state| println!("the client is now {state:?}"));
//! zk.start(Some(Duration::from_secs(15)))?;
//! assert_eq!(zk.state(), ClientState::Connected);
//!
//! zk.create("/greeting", b"hello", CreateMode::Persistent)?;
//! let (data, stat) = zk.get("/greeting", None)?; // None: no watch
//! assert_eq!(data.as_deref(), Some(&b"hello"[..]));
//! assert_eq!(stat.version, 0);
//! zk.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Callbacks.** An `*_async` call returns an [`AsyncResult`] at once; several requests
//! can be in flight. A `rawlink` callback runs on the loop once the reply is in, never
//! inside the call that set it up, and callbacks run in the order the replies came.
//!
//! ```
//! # let server = mio_zookeeper::testing::ZkServer::start()?;
//! # let hosts = server.connect_string();
//! use std::{cell::RefCell, rc::Rc, time::Duration};
//! use mio_zookeeper::{Client, CreateMode};
//!
//! let zk = Client::new(&hosts)?;
//! zk.start(None)?;
//! let created = Rc::new(RefCell::new(Vec::new()));
//! for name in ["/a", "/b", "/c"] {
//!     let c = created.clone();
//!     zk.create_async(name, b"", CreateMode::Persistent)
//!         .rawlink(move |r| match r.get_nowait() {
//!             Ok((path, _stat)) => c.borrow_mut().push(path),
//!             Err(e) => eprintln!("create {name}: {e}"),
//!         });
//! }
//! assert!(created.borrow().is_empty()); // nothing ran yet: the loop runs callbacks
//! zk.run_until(&|| created.borrow().len() == 3, Some(Duration::from_secs(10)))?;
//! assert_eq!(*created.borrow(), ["/a", "/b", "/c"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **An awaited result.** [`AsyncResult`] is a `Future`; [`Handler::spawn_future`] runs an
//! `async` block as a cooperative task on the loop (gevent's greenlet, without threads), and
//! its own result can be waited on, linked or awaited in turn.
//!
//! ```
//! # let server = mio_zookeeper::testing::ZkServer::start()?;
//! # let hosts = server.connect_string();
//! use std::time::Duration;
//! use mio_zookeeper::{Client, Handler};
//!
//! let zk = Client::new(&hosts)?;
//! zk.start(None)?;
//! zk.ensure_path("/jobs/1", None)?;
//! zk.ensure_path("/jobs/2", None)?;
//!
//! let c = zk.clone();
//! let task = zk.handler().spawn_future(async move {
//!     let mut jobs = c.get_children_async("/jobs", None).await?;
//!     jobs.sort();
//!     let mut versions = Vec::new();
//!     for job in &jobs {
//!         let (_data, stat) = c.get_async(&format!("/jobs/{job}"), None).await?;
//!         versions.push(stat.version);
//!     }
//!     Ok::<_, mio_zookeeper::Error>((jobs, versions))
//! });
//! let (jobs, versions) = task.get(true, Some(Duration::from_secs(10)))??;
//! assert_eq!(jobs, ["1", "2"]);
//! assert_eq!(versions, [0, 0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Who drives the loop
//!
//! Each thread has one default loop ([`MioHandler::current`]), and every client built
//! without an explicit handler ([`Client::new`], [`ClientBuilder::build`]) runs on it, as
//! gevent has one hub per thread: **any wait on the thread drives all of its clients** (a
//! blocking call of one client sends the others' pings). A client built on
//! [`MioHandler::new`] (`Client::builder(hosts).handler(h)`) has a loop of its own, driven
//! only by waits on that loop. [`Handler::stop`] stops a loop for all its clients: on the
//! default loop, every wait on the thread fails with
//! [`LoopError::Stopped`] until it is started
//! again (a client's `start` does).
//!
//! 1. **Blocking calls**, as above: every wait runs the loop.
//! 2. **`poll_once` in your own loop**: one iteration per call (I/O, due timers, queued
//!    callbacks and tasks), returning whether anything happened; your work goes between
//!    iterations.
//!
//!    ```
//!    # let server = mio_zookeeper::testing::ZkServer::start()?;
//!    # let hosts = server.connect_string();
//!    use std::time::{Duration, Instant};
//!    use mio_zookeeper::Client;
//!
//!    let zk = Client::new(&hosts)?;
//!    let started = zk.start_async()?;
//!    let give_up = Instant::now() + Duration::from_secs(15);
//!    while !started.ready() && Instant::now() < give_up {
//!        // ... the application's own work ...
//!        zk.poll_once(Some(Duration::from_millis(50)))?;
//!    }
//!    assert!(zk.connected());
//!    # Ok::<(), Box<dyn std::error::Error>>(())
//!    ```
//!
//! 3. **Embedded in a host's `mio::Poll`**: the client's sockets live in the host's poll
//!    under tokens the host hands over ([`MioHandler::embedded`]); the host passes events
//!    to [`Reactor::handle_event`](handler::Reactor::handle_event), bounds its poll timeout
//!    with [`Reactor::next_timeout`](handler::Reactor::next_timeout) and calls
//!    [`Reactor::run_pending`](handler::Reactor::run_pending) after each poll (an
//!    [`EmbeddedHost`] does the same for several clients in one `Poll`). Blocking
//!    calls are refused there ([`LoopError::Embedded`]): use
//!    `*_async`, callbacks and tasks.
//!
//!    ```
//!    # let server = mio_zookeeper::testing::ZkServer::start()?;
//!    # let hosts = server.connect_string();
//!    use std::time::{Duration, Instant};
//!    use mio::{Events, Poll};
//!    use mio_zookeeper::{Client, MioHandler};
//!
//!    let mut poll = Poll::new()?;
//!    let handler = MioHandler::embedded(poll.registry(), 1000..1100)?; // the client's tokens
//!    let zk = Client::builder(&hosts).handler(handler.clone()).build_with()?;
//!    let started = zk.start_async()?;
//!    let mut events = Events::with_capacity(128);
//!    let give_up = Instant::now() + Duration::from_secs(15);
//!    while !started.ready() && Instant::now() < give_up {
//!        poll.poll(&mut events, handler.reactor().next_timeout())?;
//!        for event in events.iter() {
//!            if !handler.reactor().handle_event(event) {
//!                // one of the host's own sources
//!            }
//!        }
//!        handler.reactor().run_pending()?;
//!    }
//!    assert!(zk.connected());
//!    use mio_zookeeper::{Error, LoopError};
//!    assert!(matches!(zk.get("/", None), Err(Error::Loop(LoopError::Embedded { .. }))));
//!    # Ok::<(), Box<dyn std::error::Error>>(())
//!    ```
//!
//! The [`handler`] module documents in which order and context callbacks run and what they
//! may do; [`Reactor`](handler::Reactor) documents one loop iteration, nesting and embedding.
//!
//! ## The client
//!
//! [`Client::new`] or [`Client::builder`] makes a client (not yet started) for a connect
//! string `host:port[,host:port...][/chroot]` (IPv6 in brackets, port 2181 by default);
//! [`Client::start`] connects, running the loop until the session is established.
//!
//! Every operation comes in two forms: a blocking one (`get`) that runs the loop until the
//! answer is in, and an `*_async` one that returns an [`AsyncResult`] at once (wait on it,
//! `rawlink` a callback to it, or `.await` it in a task). Blocking calls wait at most the
//! client's per-call timeout ([`Client::with_timeout`]); the request itself still completes
//! later, with a value or an error.
//!
//! ### A watch
//!
//! ```
//! # let server = mio_zookeeper::testing::ZkServer::start()?;
//! # let hosts = server.connect_string();
//! use std::{cell::Cell, rc::Rc, time::Duration};
//! use mio_zookeeper::{Client, EventType, WatchedEvent, Watcher};
//!
//! let zk = Client::new(&hosts)?; // for example "127.0.0.1:2181/app"
//! zk.start(None)?;
//! zk.ensure_path("/config", None)?;
//! zk.set("/config", b"v1", None)?; // None: any version
//!
//! let changed = Rc::new(Cell::new(false));
//! let c = changed.clone();
//! let watcher = Watcher::new(move |event: WatchedEvent| {
//!     c.set(event.event_type == EventType::NodeDataChanged)
//! });
//! let (data, stat) = zk.get("/config", &watcher)?;
//! assert_eq!(data.as_deref(), Some(&b"v1"[..]));
//! assert_eq!(stat.version, 1);
//!
//! zk.set("/config", b"v2", None)?;
//! // The server sends the watch event before the reply to set().
//! zk.run_until(&|| changed.get(), Some(Duration::from_secs(10)))?;
//! zk.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ### Operations
//!
//! - **Nodes:** [`create`](Client::create) (a [`CreateMode`] or
//!   [`CreateOptions`]: ephemeral, sequential, container, TTL; ACL; makepath),
//!   [`ensure_path`](Client::ensure_path) (with an ACL), [`get`](Client::get),
//!   [`exists`](Client::exists), [`get_children`](Client::get_children) (and
//!   [`get_children_with_stat`](Client::get_children_with_stat)), [`set`](Client::set),
//!   [`delete`](Client::delete), [`delete_recursive`](Client::delete_recursive),
//!   [`get_acls`](Client::get_acls), [`set_acls`](Client::set_acls), [`sync`](Client::sync).
//!   Data is any [`NodeData`] (bytes in any form, or [`NullData`]); versions are
//!   `Option<i32>`, `None` for any version.
//! - **Watches:** one-shot, as the `watch` argument of `get`, `exists` and `get_children`
//!   (`None` or a [`Watcher`]); persistent and recursive [`add_watch`](Client::add_watch),
//!   whose [`WatchRegistration`] removes exactly that watcher;
//!   [`remove_watcher`](Client::remove_watcher) (exactly one watcher) and
//!   [`remove_watches`](Client::remove_watches) (every watcher of a kind on a path).
//! - **Several operations at once:** [`transaction`](Client::transaction) (atomic writes, one
//!   [`OpResult`] per op) and [`multi_read`](Client::multi_read).
//! - **Session and server:** [`add_auth`](Client::add_auth), [`whoami`](Client::whoami),
//!   [`last_zxid`](Client::last_zxid),
//!   [`get_ephemerals`](Client::get_ephemerals),
//!   [`get_all_children_number`](Client::get_all_children_number),
//!   [`reconfig`](Client::reconfig), [`get_config`](Client::get_config),
//!   [`command`](Client::command) (four-letter words),
//!   [`server_version`](Client::server_version). All but the last two have `*_async` forms;
//!   `command` and `server_version` open a connection of their own and block the thread for
//!   at most the per-call timeout (as kazoo's do).
//! - **Lifecycle:** [`start`](Client::start) / [`start_async`](Client::start_async),
//!   [`stop`](Client::stop) / [`stop_async`](Client::stop_async),
//!   [`restart`](Client::restart), [`close`](Client::close), [`state`](Client::state),
//!   [`session_state`](Client::session_state), [`client_id`](Client::client_id),
//!   [`add_listener`](Client::add_listener) / [`remove_listener`](Client::remove_listener).
//!
//! Paths are absolute and checked before anything is sent ([`validate_path`]: an invalid
//! path fails with [`Error::InvalidPath`] naming the path and the rule). With a chroot, it is
//! added on the way out and removed from every path that comes back (created paths, `sync`,
//! watch events).
//!
//! ### Keeping the session alive
//!
//! There is no background thread. Pings go out while the loop runs: inside any blocking
//! call, `poll_once`, `run_for`, the handler's `sleep`, or (embedded) the host's loop. A
//! thread that does other work for longer than a third of the session timeout without running
//! the loop misses its pings, and the server expires the session after the timeout. Use
//! `client.handler().sleep(d)` instead of `std::thread::sleep(d)`.
//!
//! Which waits drive which clients: clients built without a handler ([`Client::new`],
//! [`ClientBuilder::build`]) share their thread's default loop
//! ([`MioHandler::current`]), so a wait of any of them (or on that loop) drives them all:
//! a blocking call on one client sends the others' pings too. A client built on a handler of
//! its own ([`ClientBuilder::handler`] with [`MioHandler::new`]) is driven only by waits on
//! that handler's loop. An embedded client is driven by its host only.
//!
//! ### Ownership: dropping the client closes the session
//!
//! A `Client` is a cheap handle; its clones share one client. When the program's last
//! handle is dropped the session is closed, as by [`stop`](Client::stop) without the
//! wait: closeSession goes out at once, after whatever was already submitted, and every
//! result still pending completes at once with an error: [`Error::ConnectionLoss`] while
//! connected (the request went out with the closeSession and may have been applied), or
//! [`Error::ConnectionClosed`] without a connection (it never left). The library's own
//! copies (a create with `makepath`, `ensure_path`, `delete_recursive`, a transaction in
//! flight) never keep the session open. The client's loop finishes the close (waits for the
//! server's answer, so that the closeSession is not lost in a reset connection, then
//! releases the socket) the next time it is driven, within the session's close deadline.
//!
//! **A watcher or a listener must not capture a `Client` clone**: it is stored in the
//! client, so the clone keeps the client alive — a cycle; the session then stays open
//! (pings and all) after the program dropped its own handles, until that callback is
//! dropped (a one-shot watcher after it ran, a listener never). Capture a [`WeakClient`]
//! ([`Client::downgrade`]) and [`upgrade`](WeakClient::upgrade) it when the callback runs.
//!
//! ### States
//!
//! [`ClientState`] is kazoo's coarse state (CONNECTED / SUSPENDED / LOST), told to
//! listeners when it changes; [`Client::session_state`] is the fine-grained one. A dropped
//! connection makes the client SUSPENDED: requests in flight fail with
//! [`Error::ConnectionLoss`], new ones wait (up to `max_queued_requests`) and go out after
//! the reconnect, and **watches are kept** (re-registered with SetWatches; if the server
//! refuses that, one-shot watchers are told with an `EventType::None` event and dropped,
//! and persistent watches are re-added with `addWatch`). When the session
//! expires the client is LOST: pending requests fail with [`Error::SessionExpired`], every
//! watcher is told once with an [`EventType::None`] event,
//! and a new session follows (kazoo's behaviour) unless configured otherwise.
//!
//! ### Watches and callbacks
//!
//! A one-shot watch is registered only when its request succeeds (an `exists` on a missing
//! node leaves a watch for its creation) and fires at most once; a persistent one fires
//! until removed. Watch callbacks, completion callbacks and listeners all run from the
//! loop's queue, never inside the call that triggered them, in the order the server sent
//! their triggers: a watch event is seen before the reply that reflects the change. Watch
//! callbacks run one at a time (see [`crate::handler`]).
//!
//! Watchers are [`Watcher`]s (a closure converts into a new one): the same watcher is stored
//! once per path and kind of watch however often it is registered there, and called once
//! per event, so polling a node with `get(path, &watcher)` and one watcher does not grow the watch
//! table. A blocking watch call that fails on its per-call timeout registers nothing, even
//! when the reply comes later.
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(test, deny(warnings))]
#![doc(test(attr(deny(warnings))))]

// ---- layers (bottom-up) ----
// The codec and the sans-IO session: public only with the `lowlevel` feature (tools, test
// servers, proxies, fuzzing); otherwise private, and what the client does not use of them is
// allowed to sit unused.
#[cfg(feature = "lowlevel")]
pub mod proto;
#[cfg(not(feature = "lowlevel"))]
#[allow(dead_code, unreachable_pub, unused_imports)]
mod proto;

#[cfg(feature = "lowlevel")]
pub mod session;
#[cfg(not(feature = "lowlevel"))]
#[allow(dead_code, unreachable_pub, unused_imports)]
mod session;

mod reactor;

pub mod handler;

pub mod recipe;

pub mod sasl;

mod async_result;

mod client;

mod error;
mod zk_error;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(any(fuzzing, test))]
pub mod fuzzing;

// ---- re-exports: the client's API (one `pub use` per line) ----
pub use async_result::{AsyncResult, LinkId};
pub use client::{make_digest_acl, make_digest_acl_credential, validate_path};
pub use client::{AddWatchMode, NodeData, NullData, WatchRegistration, WhenOffline};
pub use client::{Client, ClientBuilder, ClientState, ListenerId, WeakClient};
pub use client::{CreateOptions, OpResult, ReadOp, ReadResult, Transaction};
pub use client::{Resolver, WatchedEvent, Watcher};
pub use error::Error;
pub use error::RetryStop;
pub use handler::{EmbeddedHost, Handler, MioHandler};
pub use proto::{Acl, ClientInfo, CreateMode, ErrorCode, Id, Perms, Stat};
pub use proto::{DecodeError, EncodeError};
pub use proto::{EventType, KeeperState, WatcherType};
pub use reactor::LoopError;
pub use session::SessionState;
pub use zk_error::ZkError;

/// The README's Rust examples, compiled by `cargo test --doc` so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
