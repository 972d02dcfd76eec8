//! [`LoopError`]: what the loop and the objects bound to it (results, locks, embedded
//! token ranges) refuse, apart from what a ZooKeeper user handles.

/// An error of the loop layer: the handler, the reactor, an
/// [`AsyncResult`](crate::AsyncResult) or a lock refused the call. The crate's
/// [`Error`](crate::Error) carries it as [`Error::Loop`](crate::Error::Loop).
///
/// ```
/// use mio_zookeeper::{Error, LoopError};
/// let e: Error = LoopError::Stopped.into();
/// assert!(matches!(e, Error::Loop(LoopError::Stopped)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoopError {
    /// The handler is stopped (or was stopped while this call waited): call `start()` again.
    #[error("the handler is stopped: call start() before waiting on its loop")]
    Stopped,

    /// Blocking waits were nested deeper than the fixed bound (a callback that blocks, inside a
    /// callback that blocks, ...).
    #[error(
        "blocking waits nested more than {limit} deep (a callback or task that blocks, inside \
         another that blocks, ...): use rawlink, spawn or an async task instead"
    )]
    NestingTooDeep {
        /// The bound that was hit.
        limit: u32,
    },

    /// A call that waits on the loop was made on a reactor embedded in a host's `mio::Poll`.
    #[error(
        "{what} would have to wait on the loop, but this reactor is embedded in a host's \
         mio::Poll, which only the host drives: use the *_async form with a callback \
         (rawlink) or an async task, and let the host call handle_event, next_timeout and \
         run_pending"
    )]
    Embedded {
        /// The call that was refused.
        what: &'static str,
    },

    /// An `AsyncResult` was set a second time; a result is set at most once.
    #[error("the AsyncResult is already set: a result can be set only once")]
    AlreadySet,

    /// The value of an `AsyncResult` was moved out by `take`, so it cannot be read again.
    #[error("the AsyncResult's value was already taken out with take()")]
    Taken,

    /// The loop (handler) this object belongs to was dropped.
    #[error("the loop (handler) this object belongs to was dropped")]
    Gone,

    /// The token range given to an embedded reactor is unusable or used up.
    #[error(
        "token range {start}..{end} of the embedded reactor is empty, includes usize::MAX, or \
         is used up: hand over a larger range"
    )]
    TokenRange {
        /// First token of the range.
        start: usize,
        /// One past the last token of the range.
        end: usize,
    },

    /// A token range asked of an [`EmbeddedHost`](crate::handler::EmbeddedHost) overlaps
    /// one it already handed out (or the host reserved): two sources would share a token.
    #[error(
        "token range {start}..{end} overlaps {other_start}..{other_end}, which is already \
         held by {holder} on this mio::Poll: give every embedded reactor (and the host's own \
         sources) a range of its own"
    )]
    TokenCollision {
        /// First token of the refused range.
        start: usize,
        /// One past the last token of the refused range.
        end: usize,
        /// First token of the range it overlaps.
        other_start: usize,
        /// One past the last token of the range it overlaps.
        other_end: usize,
        /// Who holds that range: the host's own sources or another embedded reactor.
        holder: &'static str,
    },

    /// A token that this reactor did not hand out, or that is no longer registered.
    #[error("token {token} is not registered with this reactor")]
    UnknownToken {
        /// The token's value.
        token: usize,
    },

    /// `release()` of a lock that is not held (by this context, for a re-entrant lock).
    #[error("release() of a lock that is not held by the caller")]
    NotLocked,
}
