//! A mini "arbitrary" over the input bytes: requests, replies, connect records and
//! notifications built from whatever the fuzzer gives.

use bytes::Bytes;

use crate::proto::*;

use super::REPLY_OPS;

/// Reads values off the input; past the end it yields zeros, so every value is finite.
pub(super) struct Gen<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Gen<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Gen { data, pos: 0 }
    }

    pub(super) fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub(super) fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }

    pub(super) fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    pub(super) fn i32(&mut self) -> i32 {
        i32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub(super) fn i64(&mut self) -> i64 {
        (i64::from(self.i32()) << 32) | i64::from(self.i32() as u32)
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::from(self.u8()) % items.len()]
    }

    pub(super) fn string(&mut self) -> String {
        const WIDE: [char; 6] = ['é', '€', '中', '𝄞', 'ß', '\u{0}'];
        let n = self.u8() % 12;
        (0..n)
            .map(|_| match self.u8() {
                b @ 0..=0x7f => char::from(b),
                b => WIDE[usize::from(b) % WIDE.len()],
            })
            .collect()
    }

    pub(super) fn opt_string(&mut self) -> Option<String> {
        if self.u8() % 4 == 0 {
            None
        } else {
            Some(self.string())
        }
    }

    pub(super) fn bytes(&mut self) -> Bytes {
        let n = self.u8() % 24;
        (0..n).map(|_| self.u8()).collect::<Vec<u8>>().into()
    }

    pub(super) fn opt_bytes(&mut self) -> Option<Bytes> {
        if self.u8() % 5 == 0 {
            None
        } else {
            Some(self.bytes())
        }
    }

    pub(super) fn strings(&mut self) -> Vec<String> {
        let n = self.u8() % 5;
        (0..n).map(|_| self.string()).collect()
    }

    pub(super) fn acl(&mut self) -> Vec<Acl> {
        let n = self.u8() % 4;
        (0..n)
            .map(|_| Acl {
                perms: Perms(self.i32()),
                id: Id {
                    scheme: self.string(),
                    id: self.string(),
                },
            })
            .collect()
    }

    pub(super) fn stat(&mut self) -> Stat {
        Stat {
            czxid: self.i64(),
            mzxid: self.i64(),
            ctime: self.i64(),
            mtime: self.i64(),
            version: self.i32(),
            cversion: self.i32(),
            aversion: self.i32(),
            ephemeral_owner: self.i64(),
            data_length: self.i32(),
            num_children: self.i32(),
            pzxid: self.i64(),
        }
    }
}

pub(super) fn gen_error_code(g: &mut Gen<'_>) -> ErrorCode {
    if g.bool() {
        g.pick(ErrorCode::ALL)
    } else {
        ErrorCode::from_i32(g.i32())
    }
}

pub(super) fn gen_create(g: &mut Gen<'_>) -> CreateRequest {
    CreateRequest {
        path: g.string(),
        data: g.opt_bytes(),
        acl: g.acl(),
        flags: g.i32(),
    }
}

pub(super) fn gen_create_ttl(g: &mut Gen<'_>) -> CreateTtlRequest {
    CreateTtlRequest {
        path: g.string(),
        data: g.opt_bytes(),
        acl: g.acl(),
        flags: g.i32(),
        ttl: g.i64(),
    }
}

pub(super) fn gen_path_watch(g: &mut Gen<'_>) -> PathWatch {
    PathWatch {
        path: g.string(),
        watch: g.bool(),
    }
}

pub(super) fn gen_path(g: &mut Gen<'_>) -> PathOnly {
    PathOnly { path: g.string() }
}

pub(super) fn gen_multi_ops(g: &mut Gen<'_>) -> Vec<MultiOp> {
    let n = g.u8() % 6;
    (0..n)
        .map(|_| match g.u8() % 9 {
            0 => MultiOp::Create(gen_create(g)),
            1 => MultiOp::Create2(gen_create(g)),
            2 => MultiOp::CreateContainer(gen_create(g)),
            3 => MultiOp::CreateTtl(gen_create_ttl(g)),
            4 => MultiOp::Delete(DeleteRequest {
                path: g.string(),
                version: g.i32(),
            }),
            5 => MultiOp::SetData(SetDataRequest {
                path: g.string(),
                data: g.opt_bytes(),
                version: g.i32(),
            }),
            6 => MultiOp::Check(CheckVersionRequest {
                path: g.string(),
                version: g.i32(),
            }),
            7 => MultiOp::GetData(g.string()),
            _ => MultiOp::GetChildren(g.string()),
        })
        .collect()
}

/// Number of [`Request`] variants `gen_request` chooses from.
pub(super) const REQUEST_VARIANTS: u8 = 29;

pub(super) fn gen_request(g: &mut Gen<'_>) -> Request {
    match g.u8() % REQUEST_VARIANTS {
        0 => Request::Create(gen_create(g)),
        1 => Request::Create2(gen_create(g)),
        2 => Request::CreateContainer(gen_create(g)),
        3 => Request::CreateTtl(gen_create_ttl(g)),
        4 => Request::Delete(DeleteRequest {
            path: g.string(),
            version: g.i32(),
        }),
        5 => Request::Exists(gen_path_watch(g)),
        6 => Request::GetData(gen_path_watch(g)),
        7 => Request::SetData(SetDataRequest {
            path: g.string(),
            data: g.opt_bytes(),
            version: g.i32(),
        }),
        8 => Request::GetAcl(gen_path(g)),
        9 => Request::SetAcl(SetAclRequest {
            path: g.string(),
            acl: g.acl(),
            version: g.i32(),
        }),
        10 => Request::GetChildren(gen_path_watch(g)),
        11 => Request::GetChildren2(gen_path_watch(g)),
        12 => Request::Sync(gen_path(g)),
        13 => Request::Check(CheckVersionRequest {
            path: g.string(),
            version: g.i32(),
        }),
        14 => Request::Multi(gen_multi_ops(g)),
        15 => Request::MultiRead(gen_multi_ops(g)),
        16 => Request::Reconfig(ReconfigRequest {
            joining_servers: g.opt_string(),
            leaving_servers: g.opt_string(),
            new_members: g.opt_string(),
            cur_config_id: g.i64(),
        }),
        17 => Request::CheckWatches(WatchesRequest {
            path: g.string(),
            watcher_type: g.i32(),
        }),
        18 => Request::RemoveWatches(WatchesRequest {
            path: g.string(),
            watcher_type: g.i32(),
        }),
        19 => Request::AddWatch(AddWatchRequest {
            path: g.string(),
            mode: g.i32(),
        }),
        20 => Request::SetWatches(SetWatches {
            relative_zxid: g.i64(),
            data_watches: g.strings(),
            exist_watches: g.strings(),
            child_watches: g.strings(),
        }),
        21 => Request::SetWatches2(SetWatches2 {
            relative_zxid: g.i64(),
            data_watches: g.strings(),
            exist_watches: g.strings(),
            child_watches: g.strings(),
            persistent_watches: g.strings(),
            persistent_recursive_watches: g.strings(),
        }),
        22 => Request::Auth(AuthPacket {
            auth_type: g.i32(),
            scheme: g.string(),
            auth: g.opt_bytes(),
        }),
        23 => Request::Sasl(SaslRequest {
            token: g.opt_bytes(),
        }),
        24 => Request::GetEphemerals(gen_path(g)),
        25 => Request::GetAllChildrenNumber(gen_path(g)),
        26 => Request::WhoAmI,
        27 => Request::Ping,
        _ => Request::CloseSession,
    }
}

pub(super) fn gen_multi_results(g: &mut Gen<'_>) -> Vec<MultiResult> {
    let n = g.u8() % 6;
    (0..n)
        .map(|_| match g.u8() % 8 {
            0 => MultiResult::Create { path: g.string() },
            1 => MultiResult::Create2 {
                path: g.string(),
                stat: g.stat(),
            },
            2 => MultiResult::Delete,
            3 => MultiResult::SetData(g.stat()),
            4 => MultiResult::Check,
            5 => MultiResult::GetData {
                data: g.opt_bytes(),
                stat: g.stat(),
            },
            6 => MultiResult::GetChildren {
                children: g.strings(),
            },
            _ => MultiResult::Error(gen_error_code(g)),
        })
        .collect()
}

/// The successful reply body for `op`.
pub(super) fn gen_response(g: &mut Gen<'_>, op: OpCode) -> Response {
    match op {
        OpCode::Create => Response::Create { path: g.string() },
        OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => Response::Create2 {
            path: g.string(),
            stat: g.stat(),
        },
        OpCode::Exists | OpCode::SetData | OpCode::Check | OpCode::SetAcl => {
            Response::Stat(g.stat())
        }
        OpCode::GetData | OpCode::Reconfig => Response::GetData {
            data: g.opt_bytes(),
            stat: g.stat(),
        },
        OpCode::GetAcl => Response::GetAcl {
            acl: g.acl(),
            stat: g.stat(),
        },
        OpCode::GetChildren => Response::GetChildren {
            children: g.strings(),
        },
        OpCode::GetChildren2 => Response::GetChildren2 {
            children: g.strings(),
            stat: g.stat(),
        },
        OpCode::Sync => Response::Sync { path: g.string() },
        OpCode::Multi | OpCode::MultiRead => Response::Multi(gen_multi_results(g)),
        OpCode::Sasl => Response::Sasl {
            token: g.opt_bytes(),
        },
        OpCode::GetEphemerals => Response::GetEphemerals {
            ephemerals: g.strings(),
        },
        OpCode::GetAllChildrenNumber => Response::GetAllChildrenNumber { total: g.i32() },
        OpCode::AddWatch => Response::AddWatch {
            err: gen_error_code(g),
        },
        OpCode::WhoAmI => {
            let n = g.u8() % 4;
            Response::WhoAmI(
                (0..n)
                    .map(|_| ClientInfo {
                        auth_scheme: g.string(),
                        user: g.string(),
                    })
                    .collect(),
            )
        }
        _ => Response::Empty,
    }
}

pub(super) fn gen_reply(g: &mut Gen<'_>) -> (OpCode, ReplyHeader, Response) {
    let op = g.pick(REPLY_OPS);
    let xid = g.i32();
    let zxid = g.i64();
    let err = if g.u8() % 4 == 0 {
        gen_error_code(g)
    } else {
        ErrorCode::Ok
    };
    let header = ReplyHeader { xid, zxid, err };
    let resp = if err.is_ok() {
        gen_response(g, op)
    } else if matches!(op, OpCode::Multi | OpCode::MultiRead) && g.bool() {
        Response::Multi(gen_multi_results(g))
    } else {
        Response::Empty
    };
    (op, header, resp)
}

pub(super) fn gen_read_only(g: &mut Gen<'_>) -> Option<bool> {
    match g.u8() % 3 {
        0 => None,
        1 => Some(false),
        _ => Some(true),
    }
}

pub(super) fn gen_connect_request(g: &mut Gen<'_>) -> ConnectRequest {
    ConnectRequest {
        protocol_version: g.i32(),
        last_zxid_seen: g.i64(),
        timeout_ms: g.i32(),
        session_id: g.i64(),
        passwd: g.bytes(),
        read_only: gen_read_only(g),
    }
}

pub(super) fn gen_connect_response(g: &mut Gen<'_>) -> ConnectResponse {
    ConnectResponse {
        protocol_version: g.i32(),
        timeout_ms: g.i32(),
        session_id: g.i64(),
        passwd: g.bytes(),
        read_only: gen_read_only(g),
    }
}

pub(super) fn gen_event(g: &mut Gen<'_>) -> WatcherEvent {
    WatcherEvent {
        event_type: g.pick(EventType::ALL),
        state: g.pick(KeeperState::ALL),
        path: g.string(),
    }
}
