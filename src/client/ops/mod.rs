//! The client's ZooKeeper operations, one concept per file, each an
//! `impl<H: Handler> Client<H>` block: nodes (`node.rs`: create, ensure_path, get, exists,
//! set, delete), children, ACLs, watches (`watch.rs`: add_watch, removal), several
//! operations at once (`multi.rs`) and the session and server ones (`admin.rs`); what the
//! writes accept as data is in `data.rs`. They reach the session only through the client's
//! plumbing in `client/submit.rs` (`submit`, `blocking`, `path`...).
//!
//! Every operation has one shape: the blocking form and the `*_async` form take the same
//! arguments and give the same value (`Result<T, Error>` / `AsyncResult<T>`); the blocking
//! one submits what the async one does and waits. Watches are an argument of the reads
//! (`None` or a [`Watcher`]), versions are `Option<i32>` (`None`: any version) everywhere.

use super::watchers::Withdraw;
use super::{Client, Watcher};
use crate::async_result::AsyncResult;
use crate::error::Error;
use crate::handler::Handler;

/// The value of a `Result`, or (on error) an already failed `AsyncResult` returned from the
/// enclosing `*_async` method: bad arguments fail the result, they never panic or block.
macro_rules! or_fail {
    ($client:ident, $result:expr) => {
        match $result {
            Ok(v) => v,
            Err(e) => return $client.failed(e),
        }
    };
}

mod acl;
mod admin;
mod children;
mod data;
mod multi;
mod node;
mod watch;

pub use data::{NodeData, NullData};
pub use multi::{ReadOp, ReadResult};
pub use node::CreateOptions;
pub use watch::{WatchRegistration, WhenOffline};

/// The watcher a read leaves, with the token of a blocking call that may withdraw it.
type WatchArg = Option<(Watcher, Option<Withdraw>)>;

/// A version argument on the wire: `None` (any version) is -1.
fn version_of(version: Option<i32>) -> i32 {
    version.unwrap_or(-1)
}

impl<H: Handler> Client<H> {
    /// A blocking read that may leave a watch: without a watcher a plain blocking call;
    /// with one, a call whose watcher is withdrawn if the wait ends before the reply.
    fn watched<T: 'static>(
        &self,
        what: &'static str,
        watch: Option<Watcher>,
        submit: impl FnOnce(WatchArg) -> AsyncResult<T>,
    ) -> Result<T, Error> {
        match watch {
            None => self.blocking(what, || submit(None)),
            Some(w) => self.blocking_watch(what, |withdraw| submit(Some((w, Some(withdraw))))),
        }
    }
}
