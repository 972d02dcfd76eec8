//! The client's ZooKeeper operations, one concept per file, each an
//! `impl<H: Handler> Client<H>` block: nodes ([`node`]), children, ACLs, watches, several
//! operations at once ([`multi`]) and the session and server ones ([`admin`]). They reach
//! the session only through the client's plumbing in `client/mod.rs` (`submit`,
//! `blocking`, `path`...).

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
mod multi;
mod node;
mod watch;

pub use multi::{ReadOp, ReadResult};
pub use node::CreateOptions;
