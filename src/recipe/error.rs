//! The coordination recipes' own errors ([`Error::Recipe`](crate::Error::Recipe)).

/// What a coordination recipe refused or could not do, beyond the client's own errors
/// ([`Error::Recipe`](crate::Error::Recipe)). Except for [`OutcomeUnknown`](Self::OutcomeUnknown),
/// nothing here was sent to the server in a form that may still apply:
/// [`may_have_been_applied`](crate::Error::may_have_been_applied) is `false`; and
/// [`is_retryable`](crate::Error::is_retryable) is `false` for all (sending the same call
/// again fails the same way, or for `OutcomeUnknown` may apply twice).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecipeError {
    /// This recipe object already holds (or is acquiring) what was asked for again: a lock,
    /// a lease, a seat. Recipes are not re-entrant; release first, or use another object.
    #[error("{path} is already held or being acquired by this object (not re-entrant): release it first")]
    AlreadyAcquired {
        /// The recipe's path.
        path: String,
    },

    /// The caller cancelled the wait before it succeeded. Anything the wait created has
    /// been (or is being, in the background) deleted.
    #[error("the wait on {path} was cancelled")]
    Cancelled {
        /// The recipe's path.
        path: String,
    },

    /// What was held is held no more: the session expired or our node was deleted by
    /// someone else.
    #[error("{path} was lost: {why}")]
    Lost {
        /// The recipe's path.
        path: String,
        /// Why it was lost, briefly.
        why: &'static str,
    },

    /// A node's data is not what the recipe's wire format says it holds (a counter that is
    /// not a number, a lease record that does not parse, ...). Fix or delete the node.
    #[error("{path} holds data this recipe cannot read: {reason}")]
    BadData {
        /// The node.
        path: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A semaphore's `max_leases` differs from the one recorded on its node by another
    /// client (kazoo raises `ValueError` here).
    #[error("{path} is a semaphore of {theirs} leases, not {ours}")]
    MaxLeasesMismatch {
        /// The semaphore's path.
        path: String,
        /// The count this object was made with.
        ours: u32,
        /// The count recorded on the node.
        theirs: u32,
    },

    /// A change that is not idempotent (a [`Counter`](crate::recipe::Counter) add) lost its
    /// reply, and reading back could not tell whether it was applied (others changed the
    /// node meanwhile). [`may_have_been_applied`](crate::Error::may_have_been_applied) is
    /// `true`: check the state yourself before doing it again.
    #[error("the change of {path} lost its reply and may or may not have been applied")]
    OutcomeUnknown {
        /// The node changed.
        path: String,
    },

    /// The recipe was stopped (closed, released for good) or its client is gone.
    #[error("{what} is stopped (closed, or its client is gone)")]
    Stopped {
        /// Which recipe, e.g. `"Lock"`.
        what: &'static str,
    },
}
