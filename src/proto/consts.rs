//! Wire constants: opcodes, error codes, event types, keeper states, create modes, watch
//! modes, permissions and the special xids (PROTOCOL.md §4–§7).

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};

/// Defines a fieldless `i32` enum with `ALL`, `from_i32`, `as_i32`, `name` and `Display`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i32)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value with this wire number, or `None` if there is none.
            pub const fn from_i32(v: i32) -> Option<Self> {
                match v {
                    $( $value => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// The wire number.
            pub const fn as_i32(self) -> i32 {
                self as i32
            }

            /// The name used by PROTOCOL.md and the reference clients.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

/// Like `wire_enum!`, for the enums a server sends unprompted (watch notifications): a value
/// this version does not know is kept as `Unknown(i32)` instead of failing the decode, so a
/// newer server's event reaches the application instead of dropping the connection.
macro_rules! open_wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know (a newer server's), with its wire number.
            Unknown(i32),
        }

        impl $name {
            /// Every known value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The known value with this wire number, or `None` if this version knows none
            /// ([`from_wire`](Self::from_wire) keeps it as `Unknown`).
            pub const fn from_i32(v: i32) -> Option<Self> {
                match v {
                    $( $value => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// The value with this wire number, `Unknown(v)` if this version knows none.
            pub const fn from_wire(v: i32) -> Self {
                match Self::from_i32(v) {
                    Some(x) => x,
                    None => $name::Unknown(v),
                }
            }

            /// The wire number.
            pub const fn as_i32(self) -> i32 {
                match self {
                    $( $name::$variant => $value, )+
                    $name::Unknown(v) => v,
                }
            }

            /// The name used by PROTOCOL.md and the reference clients (`"Unknown"` for a value
            /// this version does not know).
            pub const fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Unknown(_) => "Unknown",
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $name::Unknown(v) => write!(f, "Unknown({v})"),
                    other => f.write_str(other.name()),
                }
            }
        }
    };
}

wire_enum! {
    /// A ZooKeeper opcode (`ZooDefs.OpCode`, PROTOCOL.md §5), the `type` of a
    /// `RequestHeader` or `MultiHeader`.
    ///
    /// # Examples
    ///
    /// ```
    /// use mio_zookeeper::proto::OpCode;
    ///
    /// assert_eq!(OpCode::from_i32(4), Some(OpCode::GetData));
    /// assert_eq!(OpCode::GetData.name(), "getData");
    /// assert_eq!(OpCode::CloseSession.as_i32(), -11);
    /// assert_eq!(OpCode::from_i32(10), None); // opcode 10 does not exist
    /// ```
    pub enum OpCode {
        /// A watch notification (xid −1); never sent by a client.
        Notification = 0 => "notification",
        /// `create`: `CreateRequest` → `CreateResponse`.
        Create = 1 => "create",
        /// `delete`: `DeleteRequest` → no body.
        Delete = 2 => "delete",
        /// `exists`: `ExistsRequest` → `ExistsResponse{Stat}`.
        Exists = 3 => "exists",
        /// `getData`: `GetDataRequest` → `GetDataResponse`.
        GetData = 4 => "getData",
        /// `setData`: `SetDataRequest` → `SetDataResponse{Stat}`.
        SetData = 5 => "setData",
        /// `getACL`: `GetACLRequest` → `GetACLResponse`.
        GetAcl = 6 => "getACL",
        /// `setACL`: `SetACLRequest` → `SetACLResponse{Stat}`.
        SetAcl = 7 => "setACL",
        /// `getChildren`: `GetChildrenRequest` → `GetChildrenResponse`.
        GetChildren = 8 => "getChildren",
        /// `sync`: `SyncRequest` → `SyncResponse`.
        Sync = 9 => "sync",
        /// `ping` (xid −2): no body either way.
        Ping = 11 => "ping",
        /// `getChildren2`: `GetChildren2Request` → `GetChildren2Response` (children + Stat).
        GetChildren2 = 12 => "getChildren2",
        /// `check`: `CheckVersionRequest` → `SetDataResponse{Stat}` (no body inside multi).
        Check = 13 => "check",
        /// `multi` (3.4): a transaction, PROTOCOL.md §8.
        Multi = 14 => "multi",
        /// `create2` (3.5): `CreateRequest` → `Create2Response` (path + Stat).
        Create2 = 15 => "create2",
        /// `reconfig` (3.5): `ReconfigRequest` → `GetDataResponse`.
        Reconfig = 16 => "reconfig",
        /// `checkWatches` (3.5): `CheckWatchesRequest` → no body.
        CheckWatches = 17 => "checkWatches",
        /// `removeWatches` (3.5): `RemoveWatchesRequest` → no body.
        RemoveWatches = 18 => "removeWatches",
        /// `createContainer` (3.5.1): `CreateRequest` (flags 4) → `Create2Response`.
        CreateContainer = 19 => "createContainer",
        /// `deleteContainer`: server-internal.
        DeleteContainer = 20 => "deleteContainer",
        /// `createTTL` (3.5.3): `CreateTTLRequest` → `Create2Response`.
        CreateTtl = 21 => "createTTL",
        /// `multiRead` (3.6): a non-atomic batch of getData / getChildren.
        MultiRead = 22 => "multiRead",
        /// `auth` (xid −4): `AuthPacket` → no body.
        Auth = 100 => "auth",
        /// `setWatches`: `SetWatches` → no body.
        SetWatches = 101 => "setWatches",
        /// `sasl`: `GetSASLRequest` → `SetSASLResponse`.
        Sasl = 102 => "sasl",
        /// `getEphemerals` (3.6): `GetEphemeralsRequest` → `GetEphemeralsResponse`.
        GetEphemerals = 103 => "getEphemerals",
        /// `getAllChildrenNumber` (3.6): → `GetAllChildrenNumberResponse{int}`.
        GetAllChildrenNumber = 104 => "getAllChildrenNumber",
        /// `setWatches2` (3.6): `SetWatches2` → no body.
        SetWatches2 = 105 => "setWatches2",
        /// `addWatch` (3.6): `AddWatchRequest` → `ErrorResponse{int err}`.
        AddWatch = 106 => "addWatch",
        /// `whoAmI` (3.7): no body → `WhoAmIResponse`.
        WhoAmI = 107 => "whoAmI",
        /// `createSession`: server-internal.
        CreateSession = -10 => "createSession",
        /// `closeSession`: no body either way; the server then closes the socket.
        CloseSession = -11 => "closeSession",
        /// `error`: the type of an error result inside a multi response.
        Error = -1 => "error",
    }
}

open_wire_enum! {
    /// The type of a watch event (`Watcher.Event.EventType`, PROTOCOL.md §6).
    ///
    /// Values 5–7 are generated by clients, never sent by a server, but are accepted. A type
    /// this version does not know decodes as `Unknown(n)` and is delivered to the watchers
    /// that take every event of the path (persistent ones); it does not consume a one-shot
    /// watch, which cannot tell what it means.
    ///
    /// # Examples
    ///
    /// ```
    /// use mio_zookeeper::EventType;
    ///
    /// assert_eq!(EventType::from_i32(3), Some(EventType::NodeDataChanged));
    /// assert_eq!(EventType::from_i32(9), None);
    /// assert_eq!(EventType::from_wire(9), EventType::Unknown(9));
    /// assert_eq!(EventType::Unknown(9).as_i32(), 9);
    /// ```
    pub enum EventType {
        /// A session state change, not about a node.
        None = -1 => "None",
        /// The node was created.
        NodeCreated = 1 => "NodeCreated",
        /// The node was deleted.
        NodeDeleted = 2 => "NodeDeleted",
        /// The node's data changed.
        NodeDataChanged = 3 => "NodeDataChanged",
        /// The node's children changed.
        NodeChildrenChanged = 4 => "NodeChildrenChanged",
        /// A data watch was removed (client-generated).
        DataWatchRemoved = 5 => "DataWatchRemoved",
        /// A child watch was removed (client-generated).
        ChildWatchRemoved = 6 => "ChildWatchRemoved",
        /// A persistent watch was removed (client-generated).
        PersistentWatchRemoved = 7 => "PersistentWatchRemoved",
    }
}

open_wire_enum! {
    /// A session state (`Watcher.Event.KeeperState`, PROTOCOL.md §6).
    ///
    /// A state this version does not know decodes as `Unknown(n)`; Java's deprecated
    /// `Unknown` (-1) is `Unknown(-1)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use mio_zookeeper::KeeperState;
    ///
    /// assert_eq!(KeeperState::from_i32(3), Some(KeeperState::SyncConnected));
    /// assert_eq!(KeeperState::Expired.as_i32(), -112);
    /// assert_eq!(KeeperState::from_wire(-1), KeeperState::Unknown(-1));
    /// ```
    pub enum KeeperState {
        /// Not connected.
        Disconnected = 0 => "Disconnected",
        /// Deprecated, unused.
        NoSyncConnected = 1 => "NoSyncConnected",
        /// Connected; the state of every watch notification on the wire.
        SyncConnected = 3 => "SyncConnected",
        /// Authentication failed.
        AuthFailed = 4 => "AuthFailed",
        /// Connected to a read-only server.
        ConnectedReadOnly = 5 => "ConnectedReadOnly",
        /// SASL authentication succeeded.
        SaslAuthenticated = 6 => "SaslAuthenticated",
        /// The session expired.
        Expired = -112 => "Expired",
        /// The client was closed (client-local).
        Closed = 7 => "Closed",
    }
}

wire_enum! {
    /// The node type of a create, as sent in the `flags` field (`CreateMode`, PROTOCOL.md §6).
    ///
    /// # Examples
    ///
    /// ```
    /// use mio_zookeeper::proto::{CreateMode, OpCode};
    ///
    /// let mode = CreateMode::from_flags(3).unwrap();
    /// assert_eq!(mode, CreateMode::EphemeralSequential);
    /// assert!(mode.is_ephemeral() && mode.is_sequential());
    /// assert_eq!(mode.op_code(), OpCode::Create2);
    /// assert_eq!(CreateMode::PersistentWithTtl.op_code(), OpCode::CreateTtl);
    /// ```
    pub enum CreateMode {
        /// A plain node.
        Persistent = 0 => "PERSISTENT",
        /// Deleted when the session ends.
        Ephemeral = 1 => "EPHEMERAL",
        /// Persistent, with a 10-digit sequence suffix.
        PersistentSequential = 2 => "PERSISTENT_SEQUENTIAL",
        /// Ephemeral, with a 10-digit sequence suffix.
        EphemeralSequential = 3 => "EPHEMERAL_SEQUENTIAL",
        /// Deleted by the server once its last child is gone (3.5.1+).
        Container = 4 => "CONTAINER",
        /// Deleted when unmodified and childless for its TTL (3.5.3+, extended types).
        PersistentWithTtl = 5 => "PERSISTENT_WITH_TTL",
        /// Sequential with a TTL.
        PersistentSequentialWithTtl = 6 => "PERSISTENT_SEQUENTIAL_WITH_TTL",
    }
}

impl CreateMode {
    /// The `flags` value sent on the wire.
    pub const fn flags(self) -> i32 {
        self.as_i32()
    }

    /// The mode for a `flags` value, or `None`.
    pub const fn from_flags(flags: i32) -> Option<Self> {
        Self::from_i32(flags)
    }

    /// True for `Ephemeral` and `EphemeralSequential`.
    pub const fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// True for the sequential modes.
    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// True for the TTL modes.
    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// True for `Container`.
    pub const fn is_container(self) -> bool {
        matches!(self, CreateMode::Container)
    }

    /// The opcode to create a node of this mode with (PROTOCOL.md §6): `create2` for the
    /// four classic modes (it returns the Stat), `createContainer`, or `createTTL`.
    #[cfg_attr(not(feature = "lowlevel"), doc(hidden))] // OpCode is codec-level
    pub const fn op_code(self) -> OpCode {
        match self {
            CreateMode::Container => OpCode::CreateContainer,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl => {
                OpCode::CreateTtl
            }
            _ => OpCode::Create2,
        }
    }
}

wire_enum! {
    /// The `mode` of an `addWatch` request (PROTOCOL.md §6).
    ///
    /// # Examples
    ///
    /// ```
    /// use mio_zookeeper::AddWatchMode;
    ///
    /// assert_eq!(AddWatchMode::PersistentRecursive.as_i32(), 1);
    /// ```
    pub enum AddWatchMode {
        /// Fires on created, deleted, data-changed and children-changed for the path.
        Persistent = 0 => "PERSISTENT",
        /// Fires on created, deleted and data-changed for the path and all descendants.
        PersistentRecursive = 1 => "PERSISTENT_RECURSIVE",
    }
}

wire_enum! {
    /// The watch `type` of `removeWatches` / `checkWatches` (PROTOCOL.md §6).
    ///
    /// # Examples
    ///
    /// ```
    /// use mio_zookeeper::WatcherType;
    ///
    /// assert_eq!(WatcherType::from_i32(3), Some(WatcherType::Any));
    /// ```
    pub enum WatcherType {
        /// Child watches.
        Children = 1 => "Children",
        /// Data (and exist) watches.
        Data = 2 => "Data",
        /// Every kind.
        Any = 3 => "Any",
        /// Persistent watches (3.9.0+).
        Persistent = 4 => "Persistent",
        /// Persistent recursive watches (3.9.0+).
        PersistentRecursive = 5 => "PersistentRecursive",
    }
}

/// Defines `ErrorCode` with its table (variant, code, name, description).
macro_rules! error_codes {
    ( $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal, $desc:literal; )+ ) => {
        /// A ZooKeeper error code (`KeeperException.Code`, PROTOCOL.md §7), as carried in a
        /// `ReplyHeader`, a `MultiHeader` or an `ErrorResponse`.
        ///
        /// Decoding is total: a code this crate does not know is kept as
        /// [`ErrorCode::Unknown`], never an error (PROTOCOL.md §11). Always build values with
        /// [`ErrorCode::from_i32`], so that a known code never ends up as `Unknown(n)`.
        ///
        /// # Examples
        ///
        /// ```
        /// use mio_zookeeper::ErrorCode;
        ///
        /// let e = ErrorCode::from_i32(-101);
        /// assert_eq!(e, ErrorCode::NoNode);
        /// assert_eq!(e.to_string(), "NoNode (-101)");
        /// assert_eq!(ErrorCode::from_i32(-999), ErrorCode::Unknown(-999));
        /// assert!(ErrorCode::from_i32(0).is_ok());
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum ErrorCode {
            $( $(#[$vmeta])* $variant, )+
            /// A code this crate does not know; kept so a new server code is not fatal.
            Unknown(i32),
        }

        impl ErrorCode {
            /// Every known code (without `Unknown`), in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code for a wire value; total (unknown values give `Unknown(v)`).
            pub const fn from_i32(v: i32) -> Self {
                match v {
                    $( $value => ErrorCode::$variant, )+
                    other => ErrorCode::Unknown(other),
                }
            }

            /// The wire value.
            pub const fn as_i32(self) -> i32 {
                match self {
                    $( ErrorCode::$variant => $value, )+
                    ErrorCode::Unknown(v) => v,
                }
            }

            /// The code's name, e.g. `"NoNode"`; `"Unknown"` for unknown codes.
            pub const fn name(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $text, )+
                    ErrorCode::Unknown(_) => "Unknown",
                }
            }

            /// A short human description, e.g. `"the node does not exist"`.
            pub const fn description(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $desc, )+
                    ErrorCode::Unknown(_) => "error code unknown to this client",
                }
            }
        }
    };
}

error_codes! {
    /// 0: no error.
    #[default]
    Ok = 0 => "Ok", "no error";
    /// −1: marks the start of the system error range; never sent.
    SystemError = -1 => "SystemError", "system error";
    /// −2: also used for multi sub-ops after the failing one.
    RuntimeInconsistency = -2 => "RuntimeInconsistency", "runtime inconsistency (or an earlier op of the multi failed)";
    /// −3: data inconsistency.
    DataInconsistency = -3 => "DataInconsistency", "data inconsistency";
    /// −4: the connection was lost (client-generated).
    ConnectionLoss = -4 => "ConnectionLoss", "connection to the server lost";
    /// −5: a record could not be (de)serialized.
    MarshallingError = -5 => "MarshallingError", "marshalling error";
    /// −6: the server does not implement this (e.g. TTL nodes disabled, unknown op).
    Unimplemented = -6 => "Unimplemented", "operation not implemented or disabled on the server";
    /// −7: the operation timed out (client-generated).
    OperationTimeout = -7 => "OperationTimeout", "operation timed out";
    /// −8: invalid arguments.
    BadArguments = -8 => "BadArguments", "invalid arguments";
    /// −9: invalid handle state (C client only).
    InvalidState = -9 => "InvalidState", "invalid client state";
    /// −12: unknown session (server-internal).
    UnknownSession = -12 => "UnknownSession", "unknown session";
    /// −13: the new configuration has no quorum.
    NewConfigNoQuorum = -13 => "NewConfigNoQuorum", "new configuration has no quorum";
    /// −14: another reconfiguration is in progress.
    ReconfigInProgress = -14 => "ReconfigInProgress", "a reconfiguration is in progress";
    /// −15: SSL connection error (C client only).
    SslConnectionError = -15 => "SslConnectionError", "SSL connection error";
    /// −100: marks the start of the API error range; never sent.
    ApiError = -100 => "APIError", "API error";
    /// −101: the node does not exist.
    NoNode = -101 => "NoNode", "the node does not exist";
    /// −102: not authorized.
    NoAuth = -102 => "NoAuth", "not authorized";
    /// −103: version conflict.
    BadVersion = -103 => "BadVersion", "version conflict";
    /// −108: ephemeral nodes may not have children.
    NoChildrenForEphemerals = -108 => "NoChildrenForEphemerals", "ephemeral nodes may not have children";
    /// −110: the node already exists.
    NodeExists = -110 => "NodeExists", "the node already exists";
    /// −111: the node has children.
    NotEmpty = -111 => "NotEmpty", "the node has children";
    /// −112: the session expired.
    SessionExpired = -112 => "SessionExpired", "the session expired";
    /// −113: invalid callback.
    InvalidCallback = -113 => "InvalidCallback", "invalid callback";
    /// −114: invalid ACL.
    InvalidAcl = -114 => "InvalidACL", "invalid ACL";
    /// −115: authentication failed.
    AuthFailed = -115 => "AuthFailed", "authentication failed";
    /// −116: the client is closing (C client only).
    Closing = -116 => "Closing", "the client is closing";
    /// −117: no more data (C client only).
    Nothing = -117 => "Nothing", "no server responses to process";
    /// −118: the session moved to another server.
    SessionMoved = -118 => "SessionMoved", "the session moved to another server";
    /// −119: a write was sent to a read-only server.
    NotReadOnly = -119 => "NotReadOnly", "state-changing request sent to a read-only server";
    /// −120: ephemeral node created on a local session.
    EphemeralOnLocalSession = -120 => "EphemeralOnLocalSession", "ephemeral node on a local session";
    /// −121: no such watcher.
    NoWatcher = -121 => "NoWatcher", "no such watcher";
    /// −122: the request timed out (Java client-side).
    RequestTimeout = -122 => "RequestTimeout", "request timed out";
    /// −123: reconfiguration is disabled.
    ReconfigDisabled = -123 => "ReconfigDisabled", "reconfiguration is disabled";
    /// −124: the session was closed because SASL authentication is required.
    SessionClosedRequireSaslAuth = -124 => "SessionClosedRequireSaslAuth", "session closed: SASL authentication required";
    /// −125: a quota was exceeded.
    QuotaExceeded = -125 => "QuotaExceeded", "quota exceeded";
    /// −127: the request was throttled; retry with backoff.
    ThrottledOp = -127 => "ThrottledOp", "operation throttled by the server";
}

impl ErrorCode {
    /// True for [`ErrorCode::Ok`].
    pub const fn is_ok(self) -> bool {
        matches!(self, ErrorCode::Ok)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.as_i32())
    }
}

impl From<i32> for ErrorCode {
    fn from(v: i32) -> Self {
        ErrorCode::from_i32(v)
    }
}

impl From<ErrorCode> for i32 {
    fn from(e: ErrorCode) -> Self {
        e.as_i32()
    }
}

/// ACL permission bits (`ZooDefs.Perms`, PROTOCOL.md §6).
///
/// # Examples
///
/// ```
/// use mio_zookeeper::Perms;
///
/// let rw = Perms::READ | Perms::WRITE;
/// assert!(rw.contains(Perms::READ));
/// assert!(!rw.contains(Perms::ADMIN));
/// assert!(Perms::ALL.contains(rw));
/// assert_eq!(Perms::ALL.to_string(), "rwcda");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Perms(pub i32);

impl Perms {
    /// No permission.
    pub const NONE: Perms = Perms(0);
    /// Read data and list children.
    pub const READ: Perms = Perms(1);
    /// Set data.
    pub const WRITE: Perms = Perms(2);
    /// Create children.
    pub const CREATE: Perms = Perms(4);
    /// Delete children.
    pub const DELETE: Perms = Perms(8);
    /// Set the ACL.
    pub const ADMIN: Perms = Perms(16);
    /// Every permission (31).
    pub const ALL: Perms = Perms(31);

    /// True if every bit of `other` is set in `self`.
    pub const fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Perms {
    type Output = Perms;
    fn bitor(self, rhs: Perms) -> Perms {
        Perms(self.0 | rhs.0)
    }
}

impl BitOrAssign for Perms {
    fn bitor_assign(&mut self, rhs: Perms) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Perms {
    type Output = Perms;
    fn bitand(self, rhs: Perms) -> Perms {
        Perms(self.0 & rhs.0)
    }
}

impl fmt::Display for Perms {
    /// kazoo-style letters: `r`, `w`, `c`, `d`, `a` for the bits that are set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [
            (Perms::READ, 'r'),
            (Perms::WRITE, 'w'),
            (Perms::CREATE, 'c'),
            (Perms::DELETE, 'd'),
            (Perms::ADMIN, 'a'),
        ] {
            if self.contains(bit) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// The special xids (PROTOCOL.md §4).
///
/// # Examples
///
/// ```
/// use mio_zookeeper::proto::xid;
///
/// assert_eq!(xid::PING, -2);
/// ```
pub mod xid {
    /// Watch notifications, server → client only.
    pub const NOTIFICATION: i32 = -1;
    /// Pings; the server hard-codes it in the reply.
    pub const PING: i32 = -2;
    /// Auth packets; the server echoes it.
    pub const AUTH: i32 = -4;
    /// SetWatches by client convention (C client, zookeeper-client crate); Java uses a
    /// normal xid instead.
    pub const SET_WATCHES: i32 = -8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_table_round_trips() {
        assert_eq!(OpCode::ALL.len(), 33);
        for &op in OpCode::ALL {
            assert_eq!(OpCode::from_i32(op.as_i32()), Some(op));
        }
        for v in [10, 23, 99, 108, -2, -12] {
            assert_eq!(OpCode::from_i32(v), None, "{v}");
        }
        assert_eq!(OpCode::CreateTtl.name(), "createTTL");
        assert_eq!(OpCode::MultiRead.name(), "multiRead");
        assert_eq!(OpCode::SetWatches2.name(), "setWatches2");
        assert_eq!(OpCode::WhoAmI.name(), "whoAmI");
        assert_eq!(OpCode::Error.name(), "error");
    }

    #[test]
    fn error_codes_round_trip_and_unknown_is_kept() {
        assert_eq!(ErrorCode::ALL.len(), 36);
        for &e in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_i32(e.as_i32()), e);
            assert_ne!(e.name(), "Unknown");
        }
        for v in [-10, -11, -104, -105, -106, -107, -109, -126, 1, -1000] {
            assert_eq!(ErrorCode::from_i32(v), ErrorCode::Unknown(v));
            assert_eq!(ErrorCode::from_i32(v).as_i32(), v);
        }
        assert_eq!(ErrorCode::Unknown(-126).to_string(), "Unknown (-126)");
        assert_eq!(ErrorCode::ThrottledOp.as_i32(), -127);
        assert!(!ErrorCode::NoNode.is_ok());
    }

    #[test]
    fn create_mode_flags() {
        for &m in CreateMode::ALL {
            assert_eq!(CreateMode::from_flags(m.flags()), Some(m));
        }
        assert_eq!(CreateMode::from_flags(7), None);
        assert!(CreateMode::Container.is_container());
        assert_eq!(CreateMode::Container.op_code(), OpCode::CreateContainer);
        assert!(CreateMode::PersistentSequentialWithTtl.is_ttl());
        assert!(CreateMode::PersistentSequentialWithTtl.is_sequential());
        assert!(!CreateMode::PersistentSequentialWithTtl.is_ephemeral());
        assert_eq!(CreateMode::Persistent.op_code(), OpCode::Create2);
    }

    #[test]
    fn perms() {
        assert_eq!(
            Perms::READ | Perms::WRITE | Perms::CREATE | Perms::DELETE | Perms::ADMIN,
            Perms::ALL
        );
        let mut p = Perms::NONE;
        p |= Perms::ADMIN;
        assert_eq!(p.to_string(), "a");
        assert_eq!((Perms::ALL & Perms::READ), Perms::READ);
    }
}
