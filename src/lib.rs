//! # mio-zookeeper
//!
//! A ZooKeeper client on a single-threaded, hand-rolled [`mio`] reactor, carrying over the
//! handler model of Python's kazoo: a `Handler` whose `select`, `socket` and `spawn` map onto
//! the loop, and Rc-based `AsyncResult`s that block *cooperatively*: a blocking `get()` drives
//! the loop until the answer is in.
//!
//! ## Layers
//!
//! Dependencies point only downward; `proto` and `session` never touch sockets, `Rc` or the
//! clock.
//!
//! ```text
//!  client/                 Client (kazoo's KazooClient)
//!     |
//!  handler / async_result  Handler trait (IHandler), AsyncResult<T> (IAsyncResult)
//!     |
//!  reactor/                mio::Poll or a host's Registry, tokens, timers, task queue
//!     |
//!  session/                sans-IO session state machine
//!     |
//!  proto/                  pure codec: frames and every jute record
//! ```
//!
//! ## Three ways to wait
//!
//! The engine alone (no client yet): a [`MioHandler`] runs one single-threaded
//! [`Reactor`]; an [`AsyncResult`] is a value that arrives later.
//!
//! **A blocking call.** `get(true, timeout)` runs the loop (I/O, timers, callbacks, tasks)
//! until the value is in; nothing else blocks the thread.
//!
//! ```
//! use std::time::Duration;
//! use mio_zookeeper::{Handler, MioHandler};
//!
//! let handler = MioHandler::new()?;
//! let result = handler.async_result::<String>();
//! let r = result.clone();
//! handler.reactor().set_timeout(Duration::from_millis(10), move || {
//!     r.set("pong".to_string()).unwrap();
//! });
//! assert_eq!(result.get(true, Some(Duration::from_secs(5)))?, "pong");
//! # Ok::<(), mio_zookeeper::Error>(())
//! ```
//!
//! **A callback.** `rawlink` callbacks are one-shot and always deferred to the loop's queue,
//! even on a result that is already set; they run when the loop is driven, here by a manual
//! `poll_once` loop.
//!
//! ```
//! use std::{cell::Cell, rc::Rc, time::Duration};
//! use mio_zookeeper::{Handler, MioHandler};
//!
//! let handler = MioHandler::new()?;
//! let result = handler.async_result::<u32>();
//! let seen = Rc::new(Cell::new(None));
//! let s = seen.clone();
//! result.rawlink(move |r| s.set(r.value()));
//! result.set(7)?;
//! assert_eq!(seen.get(), None); // not run inside set()
//! while handler.poll_once(Some(Duration::ZERO))? {}
//! assert_eq!(seen.get(), Some(7));
//! # Ok::<(), mio_zookeeper::Error>(())
//! ```
//!
//! **An awaited result.** `AsyncResult` is a `Future`; `spawn_future` runs an `async` block
//! as a cooperative task on the loop (gevent's greenlet, without threads).
//!
//! ```
//! use std::time::Duration;
//! use mio_zookeeper::{Handler, MioHandler};
//!
//! let handler = MioHandler::new()?;
//! let result = handler.async_result::<u32>();
//! let (r, reactor) = (result.clone(), handler.reactor().clone());
//! let task = handler.spawn_future(async move {
//!     reactor.sleep_async(Duration::from_millis(5)).await;
//!     let v = r.await?;
//!     Ok::<u32, mio_zookeeper::Error>(v + 1)
//! });
//! result.set(41)?;
//! assert_eq!(task.get(true, Some(Duration::from_secs(5)))??, 42);
//! # Ok::<(), mio_zookeeper::Error>(())
//! ```
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

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(any(fuzzing, test))]
pub mod fuzzing;

// ---- re-exports (each layer adds its own lines below, one `pub use` per line) ----
pub use async_result::AsyncResult;
pub use client::{Client, ClientBuilder, ClientState, CreateOptions, WatchedEvent};
pub use error::Error;
pub use handler::{Handler, MioHandler};
pub use proto::{Acl, CreateMode, ErrorCode, Id, Perms, Stat};
pub use reactor::Reactor;
