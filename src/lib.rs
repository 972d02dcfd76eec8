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
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(test, deny(warnings))]
#![doc(test(attr(deny(warnings))))]

// ---- layers (bottom-up) ----
pub mod proto;

pub mod reactor;

pub mod handler;

pub mod async_result;

mod error;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(any(fuzzing, test))]
pub mod fuzzing;

// ---- re-exports (each layer adds its own lines below, one `pub use` per line) ----
pub use error::Error;
pub use proto::{Acl, CreateMode, ErrorCode, Id, Perms, Stat};
