//! What the tree caches (`TreeCache` and `RecursiveCache`) tell their listeners, and what
//! they hold.

use bytes::Bytes;

use crate::Stat;

/// A node as a cache holds it: its full path (as the client sees it, chroot removed), data
/// and stat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedNode {
    /// The node's path, such as `/app/config`.
    pub path: String,
    /// The node's data.
    pub data: Bytes,
    /// The node's stat.
    pub stat: Stat,
}

/// What a tree cache reports, in the order it learned it (kazoo's `TreeEvent` types).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheEvent {
    /// A node appeared in the cache (during the initial load too).
    NodeAdded(CachedNode),
    /// A node's data changed: its `mzxid` moved. A stat change alone (children, ACL) is
    /// not reported.
    NodeUpdated(CachedNode),
    /// A node left the cache; the node as it was last seen. A removed subtree is reported
    /// deepest nodes first.
    NodeRemoved(CachedNode),
    /// The connection dropped; the cache keeps what it has and may be stale.
    ConnectionSuspended,
    /// Back on the same session; the cache re-reads and reports what changed meanwhile.
    ConnectionReconnected,
    /// The session is gone; the cache keeps what it has until the client connects on a new
    /// session, then re-reads everything and reports the differences.
    ConnectionLost,
    /// The initial load completed: from here on the cache mirrors the tree. Sent once.
    Initialized,
}
