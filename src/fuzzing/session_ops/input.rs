//! The fuzz input: a [`Config`] and a sequence of [`Op`]s, decoded from bytes by hand (so
//! that ordinary tests run it without `arbitrary`), and the requests the ops submit.

use super::*;

/// The session's settings, from the first three bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Config {
    /// Bits 0-1: host count - 1 (0..=2, 3 reads as 2); bit 2: read-only allowed; bit 3: no
    /// reconnect after expiry; bit 4: resume a session; bit 5: one credential configured.
    pub(super) flags: u8,
    /// The requested session timeout, an index into [`SESSION_TIMEOUTS`].
    pub(super) timeout: u8,
    /// Bits 0-1: `max_queued_requests` index; bits 2-3: backoff_initial; bits 4-5:
    /// backoff_max.
    pub(super) limits: u8,
}

pub(super) const SESSION_TIMEOUTS: [Duration; 8] = [
    Duration::from_secs(10),
    Duration::from_secs(4),
    Duration::from_secs(30),
    Duration::from_millis(1),
    Duration::from_millis(100),
    Duration::ZERO,
    Duration::from_secs(40 * 24 * 3600),
    Duration::from_millis(2_500),
];

impl Config {
    pub(super) fn decode(g: &mut Gen<'_>) -> Config {
        Config {
            flags: g.u8(),
            timeout: g.u8(),
            limits: g.u8(),
        }
    }

    #[cfg(test)]
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.flags, self.timeout, self.limits]);
    }

    pub(super) fn session_config(&self) -> SessionConfig {
        let mut c = SessionConfig::new(1 + usize::from(self.flags & 3).min(2));
        c.read_only = self.flags & 4 != 0;
        c.reconnect_after_expiry = self.flags & 8 == 0;
        if self.flags & 16 != 0 {
            c.resume = Some((RESUMED_SESSION, [7; 16]));
        }
        if self.flags & 32 != 0 {
            c.auth.push(("digest".into(), Bytes::from_static(b"u:p")));
        }
        c.session_timeout = SESSION_TIMEOUTS[usize::from(self.timeout) % SESSION_TIMEOUTS.len()];
        c.max_queued_requests = [10_000, 0, 1, 3][usize::from(self.limits & 3)];
        c.backoff_initial = [
            Duration::from_millis(100),
            Duration::ZERO,
            Duration::from_millis(1),
            Duration::from_secs(10),
        ][usize::from(self.limits >> 2 & 3)];
        c.backoff_max = [
            Duration::from_secs(10),
            Duration::ZERO,
            Duration::from_millis(100),
            Duration::from_secs(3600),
        ][usize::from(self.limits >> 4 & 3)];
        c.seed = 0x5eed_0000 + u64::from(self.flags) * 7 + u64::from(self.limits);
        c
    }
}

/// The session id a `resume` config starts with; the model server knows it.
pub(super) const RESUMED_SESSION: i64 = 0x77;

/// One step of a fuzz input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// Submit a request: `kind` picks the request ([`request_of`]), `path` an entry of
    /// [`PATHS`], `arg` the rest (version, mode, watcher type, ...).
    Submit {
        kind: u8,
        path: u8,
        watch: bool,
        arg: u8,
    },
    /// The TCP connection the session asked for is up (`handle_connected`; also called when
    /// nothing was asked, which must be harmless).
    Connect,
    /// The connection (or the attempt) failed or the peer closed it (`handle_disconnected`).
    Disconnect,
    /// The server answers up to `count` of the frames it read, in order; `choice` is the
    /// first answer's choice and seeds the later ones' (0: every answer a plain success;
    /// see [`Server::connect_response`] and [`Harness::answer`]); then, if `deliver`,
    /// everything it wrote reaches the session.
    Serve {
        count: u8,
        choice: u8,
        deliver: bool,
    },
    /// Up to `len` bytes of what the server wrote reach the session (0: all of it).
    Deliver { len: u16 },
    /// The server writes a watch notification.
    Notify { event: u8, path: u8 },
    /// The server writes something wrong ([`Server::garbage`]).
    Garbage { kind: u8, arg: u32 },
    /// Up to `len` bytes of what the server wrote reach the session, then the connection is
    /// cut (a frame cut in the middle).
    Cut { len: u16 },
    /// The clock moves `amount` units of [`UNITS`]`[unit]`, then `handle_timeout`.
    Advance { unit: u8, amount: u16 },
    /// The clock moves to the session's next deadline plus `extra_ms`, then `handle_timeout`.
    ToDeadline { extra_ms: u8 },
    /// `close`.
    Close,
    /// `close_now`.
    CloseNow,
    /// `add_auth` with one of two credentials.
    AddAuth { which: u8 },
    /// `handle_probe_result`.
    Probe { host: u8, read_write: bool },
    /// `remove_watches_locally`.
    RemoveLocal { path: u8, watcher_type: u8 },
    /// The server expires the session; `cut` also closes the connection.
    ServerExpire { cut: bool },
    /// `start` again (harmless once started).
    Start,
    /// From now on the driver writes at most `bytes` bytes per turn (0: no limit), as a
    /// socket with a full send buffer would.
    WriteLimit { bytes: u16 },
}

/// Clock units of [`Op::Advance`]: up to about two million years in one step.
pub(super) const UNITS: [Duration; 6] = [
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_secs(1),
    Duration::from_secs(60),
    Duration::from_secs(3600),
    Duration::from_secs(365 * 24 * 3600),
];

/// Number of op tags.
pub(super) const OP_TAGS: u8 = 18;

impl Op {
    pub(super) fn decode(g: &mut Gen<'_>) -> Op {
        let u16 = |g: &mut Gen<'_>| u16::from_be_bytes([g.u8(), g.u8()]);
        match g.u8() % OP_TAGS {
            0 => Op::Submit {
                kind: g.u8(),
                path: g.u8(),
                watch: g.bool(),
                arg: g.u8(),
            },
            1 => Op::Connect,
            2 => Op::Disconnect,
            3 => Op::Serve {
                count: g.u8(),
                choice: g.u8(),
                deliver: g.bool(),
            },
            4 => Op::Deliver { len: u16(g) },
            5 => Op::Notify {
                event: g.u8(),
                path: g.u8(),
            },
            6 => Op::Garbage {
                kind: g.u8(),
                arg: g.i32() as u32,
            },
            7 => Op::Cut { len: u16(g) },
            8 => Op::Advance {
                unit: g.u8(),
                amount: u16(g),
            },
            9 => Op::ToDeadline { extra_ms: g.u8() },
            10 => Op::Close,
            11 => Op::CloseNow,
            12 => Op::AddAuth { which: g.u8() },
            13 => Op::Probe {
                host: g.u8(),
                read_write: g.bool(),
            },
            14 => Op::RemoveLocal {
                path: g.u8(),
                watcher_type: g.u8(),
            },
            15 => Op::ServerExpire { cut: g.bool() },
            16 => Op::Start,
            _ => Op::WriteLimit { bytes: u16(g) },
        }
    }

    #[cfg(test)]
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Op::Submit {
                kind,
                path,
                watch,
                arg,
            } => out.extend_from_slice(&[0, kind, path, u8::from(watch), arg]),
            Op::Connect => out.push(1),
            Op::Disconnect => out.push(2),
            Op::Serve {
                count,
                choice,
                deliver,
            } => out.extend_from_slice(&[3, count, choice, u8::from(deliver)]),
            Op::Deliver { len } => {
                out.push(4);
                out.extend_from_slice(&len.to_be_bytes());
            }
            Op::Notify { event, path } => out.extend_from_slice(&[5, event, path]),
            Op::Garbage { kind, arg } => {
                out.extend_from_slice(&[6, kind]);
                out.extend_from_slice(&arg.to_be_bytes());
            }
            Op::Cut { len } => {
                out.push(7);
                out.extend_from_slice(&len.to_be_bytes());
            }
            Op::Advance { unit, amount } => {
                out.extend_from_slice(&[8, unit]);
                out.extend_from_slice(&amount.to_be_bytes());
            }
            Op::ToDeadline { extra_ms } => out.extend_from_slice(&[9, extra_ms]),
            Op::Close => out.push(10),
            Op::CloseNow => out.push(11),
            Op::AddAuth { which } => out.extend_from_slice(&[12, which]),
            Op::Probe { host, read_write } => {
                out.extend_from_slice(&[13, host, u8::from(read_write)])
            }
            Op::RemoveLocal { path, watcher_type } => {
                out.extend_from_slice(&[14, path, watcher_type])
            }
            Op::ServerExpire { cut } => out.extend_from_slice(&[15, u8::from(cut)]),
            Op::Start => out.push(16),
            Op::WriteLimit { bytes } => {
                out.push(17);
                out.extend_from_slice(&bytes.to_be_bytes());
            }
        }
    }
}

pub(super) fn path_of(i: u8) -> &'static str {
    PATHS[usize::from(i) % PATHS.len()]
}

/// Number of request kinds [`request_of`] builds.
pub(super) const REQUEST_KINDS: u8 = 31;

/// The request an [`Op::Submit`] sends.
pub(super) fn request_of(kind: u8, path: u8, watch: bool, arg: u8) -> Request {
    let path = path_of(path).to_string();
    let data = Some(Bytes::from(vec![arg; usize::from(arg % 8)]));
    let version = i32::from(arg) - 2;
    let create = CreateRequest {
        path: path.clone(),
        data: data.clone(),
        acl: Vec::new(),
        flags: i32::from(arg % 4),
    };
    match kind % REQUEST_KINDS {
        0 => Request::Create(create),
        1 => Request::Create2(create),
        2 => Request::CreateContainer(create),
        3 => Request::CreateTtl(CreateTtlRequest {
            path,
            data,
            acl: Vec::new(),
            flags: 5,
            ttl: i64::from(arg),
        }),
        4 => Request::Delete(DeleteRequest { path, version }),
        5 => Request::Exists(PathWatch { path, watch }),
        6 => Request::GetData(PathWatch { path, watch }),
        7 => Request::SetData(SetDataRequest {
            path,
            data,
            version,
        }),
        8 => Request::GetAcl(PathOnly { path }),
        9 => Request::SetAcl(SetAclRequest {
            path,
            acl: Vec::new(),
            version,
        }),
        10 => Request::GetChildren(PathWatch { path, watch }),
        11 => Request::GetChildren2(PathWatch { path, watch }),
        12 => Request::Sync(PathOnly { path }),
        13 => Request::Check(CheckVersionRequest { path, version }),
        14 => Request::Multi(vec![
            MultiOp::Create(create),
            MultiOp::Delete(DeleteRequest { path, version }),
        ]),
        15 => Request::MultiRead(vec![
            MultiOp::GetData(path.clone()),
            MultiOp::GetChildren(path),
        ]),
        16 => Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: Some("3".into()),
            new_members: None,
            cur_config_id: -1,
        }),
        17 => Request::CheckWatches(WatchesRequest {
            path,
            watcher_type: i32::from(arg % 6),
        }),
        18 => Request::RemoveWatches(WatchesRequest {
            path,
            // Mostly valid types (1..=5), sometimes 0 or another byte.
            watcher_type: if arg < 200 {
                1 + i32::from(arg % 5)
            } else {
                i32::from(arg)
            },
        }),
        19 => Request::AddWatch(AddWatchRequest {
            path,
            mode: i32::from(arg % 2),
        }),
        20 => Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: data,
        }),
        21 => Request::Sasl(SaslRequest { token: data }),
        22 => Request::GetEphemerals(PathOnly { path }),
        23 => Request::GetAllChildrenNumber(PathOnly { path }),
        24 => Request::WhoAmI,
        25 => Request::Ping,
        26 => Request::CloseSession,
        27 => Request::SetWatches(SetWatches {
            relative_zxid: USER_SET_WATCHES_ZXID,
            data_watches: vec![path],
            ..SetWatches::default()
        }),
        28 => Request::SetWatches2(SetWatches2 {
            relative_zxid: USER_SET_WATCHES_ZXID,
            persistent_watches: vec![path],
            ..SetWatches2::default()
        }),
        // Larger than the server accepts: refused at submit.
        29 => Request::SetData(SetDataRequest {
            path,
            data: Some(Bytes::from(vec![0; 1_100_000])),
            version,
        }),
        // Anything the codec's generator makes from the op's bytes.
        // (A SetWatches from there would pass for the session's own: sent as WhoAmI.)
        _ => match gen_request(&mut Gen::new(&[arg, path.len() as u8, arg, 1, 2, 3, 4, 5])) {
            Request::SetWatches(_) | Request::SetWatches2(_) => Request::WhoAmI,
            r => r,
        },
    }
}

/// The `relative_zxid` of a SetWatches the *user* submits, to tell it from the session's
/// own (which carries the last zxid seen, never negative).
pub(super) const USER_SET_WATCHES_ZXID: i64 = -77;
