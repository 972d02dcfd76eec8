//! What goes in and out of the session besides bytes: request ids, the connection state, the
//! application's [`Event`]s and the driver's [`Action`]s.

#[cfg(doc)]
use super::Session;
use super::{RequestError, WatchKind};
#[cfg(doc)]
use crate::proto::Request;
use crate::proto::{Response, WatcherEvent};

/// Identifies a submitted request; its reply comes back as [`Event::Reply`] with this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// The session's connection state: the fine-grained one behind [`ClientState`](crate::ClientState),
/// given by [`Client::session_state`](crate::Client::session_state) (and reported by the
/// session as `Event::State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Not started yet.
    Idle,
    /// Looking for a server: connecting, handshaking or backing off. After a connection loss
    /// this is kazoo's SUSPENDED.
    Connecting,
    /// Connected to a read-write server, auth done.
    Connected,
    /// Connected to a read-only server (writes fail with NotReadOnly).
    ConnectedReadOnly,
    /// The session expired (server said so, or nothing answered for longer than T). Pending
    /// requests failed; a new session follows unless configured otherwise.
    Expired,
    /// The server refused our credentials. Terminal.
    AuthFailed,
    /// Closed (the client's `stop` or `close`, the session's `close`), or expired with no
    /// reconnect. Terminal.
    Closed,
}

impl SessionState {
    /// Whether a request can go out now.
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            SessionState::Connected | SessionState::ConnectedReadOnly
        )
    }

    /// Whether the session can do nothing more.
    pub fn is_terminal(self) -> bool {
        matches!(self, SessionState::AuthFailed | SessionState::Closed)
    }
}

/// A reply to a submitted request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The zxid of the reply header.
    pub zxid: i64,
    /// The decoded reply, or why there is none.
    pub result: Result<Response, RequestError>,
    /// The request's path as sent ([`Request::into_path`]), for error messages; `None` for
    /// requests without one.
    pub path: Option<String>,
}

/// What the application gets from the session, in wire order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The reply to request `id`.
    Reply {
        /// The request it answers.
        id: RequestId,
        /// The reply.
        reply: Reply,
    },
    /// A watch notification (path as the server sent it), with the zxid of its header.
    Watch {
        /// The event.
        event: WatcherEvent,
        /// The header zxid (-1 before ZooKeeper 3.9).
        zxid: i64,
    },
    /// The state changed.
    State(SessionState),
    /// A watch could not be re-registered after a reconnect (the server refused the
    /// SetWatches batch that carried it): events may have been missed. With `kept: false`
    /// the server does not have it (a one-shot watch, or a persistent one whose re-add
    /// failed too) and the session forgot it; with `kept: true` it is a persistent watch
    /// that was re-added with `addWatch`. Either way its watchers should re-read.
    WatchReset {
        /// The kind of the watch.
        kind: WatchKind,
        /// Its path, as the server knows it.
        path: String,
        /// Whether the watch is registered with the server again.
        kept: bool,
    },
}

/// What the session asks of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to host `host` (an index below `host_count`); report the outcome
    /// with [`Session::handle_connected`] or [`Session::handle_disconnected`].
    Connect {
        /// Which host.
        host: usize,
    },
    /// Close the current connection (no `handle_disconnected` needed afterwards).
    Disconnect,
    /// Ask host `host` whether it is a read-write server (the `isro` four-letter word) and
    /// report with [`Session::handle_probe_result`].
    ProbeReadWrite {
        /// Which host.
        host: usize,
    },
}
