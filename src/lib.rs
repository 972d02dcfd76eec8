//! # mio-zookeeper
//!
//! A ZooKeeper client on a single-threaded, hand-rolled [`mio`] reactor, carrying over the
//! handler model of Python's kazoo: a [`Handler`] whose `select`, `socket` and `spawn` map
//! onto the loop, and Rc-based [`AsyncResult`]s that block *cooperatively*: a blocking call
//! drives the loop until its answer is in. No async runtime, no threads.
//!
//! [`Client`] is kazoo's `KazooClient`: every operation blocking and `*_async`, the
//! CONNECTED / SUSPENDED / LOST states with listeners, transactions, chroot, auth, ACLs, and
//! watches (one-shot, persistent and recursive) that survive reconnects. The [`client`]
//! module documents what happens to requests and watches when the connection drops or the
//! session expires.
//!
//! ## Layers
//!
//! Dependencies point only downward; `proto` and `session` never touch sockets, `Rc` or the
//! clock.
//!
//! ```text
//!  client/                 Client (kazoo's KazooClient), transactions, watches;
//!     |                    reaches its loop only through its Handler
//!  handler / async_result  Handler (IHandler) over the dyn-safe EventLoop (timers,
//!     |                    sockets, callbacks, tasks, the blocking wait); watch callbacks
//!     |                    serialized here; AsyncResult<T> (IAsyncResult) on a Scheduler;
//!     |                    MioHandler, the default, on the reactor below
//!  reactor/                mio::Poll or a host's Registry, tokens, timers, a plain FIFO;
//!     |                    knows nothing of ZooKeeper (another loop may replace it)
//!     |
//!  session/                sans-IO session state machine
//!     |
//!  proto/                  pure codec: frames and every jute record
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
//!    to [`Reactor::handle_event`], bounds its poll timeout with
//!    [`Reactor::next_timeout`] and calls [`Reactor::run_pending`] after each poll. Blocking
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
//! may do; the [`reactor`] module documents one loop iteration, nesting and embedding.
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(test, deny(warnings))]
#![doc(test(attr(deny(warnings))))]

// ---- layers (bottom-up) ----
pub mod proto;

pub mod session;

pub mod reactor;

pub mod handler;

pub mod async_result;

pub mod client;

mod error;
mod zk_error;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(any(fuzzing, test))]
pub mod fuzzing;

// ---- re-exports (each layer adds its own lines below, one `pub use` per line) ----
pub use async_result::AsyncResult;
pub use client::Watcher;
pub use client::WeakClient;
pub use client::{AddWatchMode, NodeData, NullData, WatchRegistration, WhenOffline};
pub use client::{Client, ClientBuilder, ClientState, CreateOptions, OpResult, WatchedEvent};
pub use error::Error;
pub use handler::{Handler, MioHandler};
pub use proto::{Acl, CreateMode, ErrorCode, EventType, Id, Perms, Stat, WatcherType};
pub use reactor::EmbeddedHost;
pub use reactor::LoopError;
pub use reactor::Reactor;
pub use zk_error::ZkError;

/// The README's Rust examples, compiled by `cargo test --doc` so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
