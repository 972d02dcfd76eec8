//! Fuzz entry points, shared by the cargo-fuzz targets in `fuzz/` and by ordinary tests.
//!
//! Each entry point takes arbitrary bytes, must never panic on them, and checks invariants
//! with assertions (a failed assertion is a bug the fuzzer found):
//!
//! - decoding never panics, whatever the input;
//! - anything that decodes re-encodes to a frame of the **same length** that decodes to
//!   the **same value** (the codec is symmetric and consumes whole bodies);
//! - frame splitting gives the same frames however the stream is chunked;
//! - structured values survive encode → decode → encode byte for byte.
//!
//! Corpus formats (`fuzz/corpus/<target>/`):
//!
//! | Target | Input |
//! |---|---|
//! | `frame_decoder` | a raw byte stream as read from a socket (length-prefixed frames) |
//! | `decode_reply` | 1 byte: the request's opcode as an `i8` (e.g. `0x04` getData, `0xf5` closeSession); then one reply frame body (`ReplyHeader` + body, no length prefix) |
//! | `decode_request` | one request frame body (`RequestHeader` + body, or a ConnectRequest), no length prefix |
//! | `roundtrip` | any bytes: read as a recipe for structured values |
//! | `session_ops` | 3 config bytes, then operations driving a [`Session`](crate::session::Session) against a model server ([`session_ops`](mod@session_ops)) |

use bytes::{Bytes, BytesMut};

use crate::proto::{self, *};

pub mod session_ops;
pub use session_ops::session_ops;

/// Opcodes whose replies have a record of their own (all but notification, createSession,
/// deleteContainer and error).
const REPLY_OPS: &[OpCode] = &[
    OpCode::Create,
    OpCode::Delete,
    OpCode::Exists,
    OpCode::GetData,
    OpCode::SetData,
    OpCode::GetAcl,
    OpCode::SetAcl,
    OpCode::GetChildren,
    OpCode::Sync,
    OpCode::Ping,
    OpCode::GetChildren2,
    OpCode::Check,
    OpCode::Multi,
    OpCode::Create2,
    OpCode::Reconfig,
    OpCode::CheckWatches,
    OpCode::RemoveWatches,
    OpCode::CreateContainer,
    OpCode::CreateTtl,
    OpCode::MultiRead,
    OpCode::Auth,
    OpCode::SetWatches,
    OpCode::Sasl,
    OpCode::GetEphemerals,
    OpCode::GetAllChildrenNumber,
    OpCode::SetWatches2,
    OpCode::AddWatch,
    OpCode::WhoAmI,
    OpCode::CloseSession,
];

/// A limit for the frame splitter in `frame_decoder`: small enough that a hostile length
/// does not make every fuzz input reserve megabytes, large enough for real frames.
const FUZZ_MAX_FRAME: usize = 64 * 1024;

/// Feeds `data` to a [`FrameDecoder`] in several chunkings (all at once, byte by byte,
/// pseudo-random chunks derived from the data), asserts that all give the same frames and
/// the same error, and decodes every frame as everything it could be: a reply to every
/// opcode, a notification, a request, and the connect records.
pub fn frame_decoder(data: &[u8]) {
    let whole = split_stream(data, &mut |_| usize::MAX);
    let bytewise = split_stream(data, &mut |_| 1);
    let mut rng = XorShift::new(hash(data));
    let chunked = split_stream(data, &mut |_| 1 + (rng.next() % 97) as usize);
    assert_eq!(whole, bytewise, "byte-by-byte feeding changed the frames");
    assert_eq!(whole, chunked, "chunked feeding changed the frames");
    for frame in &whole.frames {
        check_reply_frame(frame, REPLY_OPS);
        check_request_frame(frame);
        check_connect_frames(frame);
    }
}

/// Decodes a reply: the first byte is the opcode of the request it answers (as an `i8`;
/// bytes that are no opcode pick one by index), the rest is the frame body.
pub fn decode_reply(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let op = OpCode::from_i32(i32::from(first as i8))
        .unwrap_or(OpCode::ALL[usize::from(first) % OpCode::ALL.len()]);
    let frame = Bytes::copy_from_slice(rest);
    check_reply_frame(&frame, &[op]);
}

/// Decodes `data` as a request frame body and as a ConnectRequest.
pub fn decode_request(data: &[u8]) {
    let frame = Bytes::copy_from_slice(data);
    check_request_frame(&frame);
    check_connect_frames(&frame);
}

/// Builds structured values (requests, replies, connect records, notifications) from the
/// bytes, encodes each, and asserts that decoding gives the value back and re-encoding gives
/// the same bytes.
pub fn roundtrip(data: &[u8]) {
    let mut g = Gen::new(data);
    let mut items = 0;
    while !g.exhausted() && items < 64 {
        items += 1;
        match g.u8() % 6 {
            0 => {
                let xid = g.i32();
                let req = gen_request(&mut g);
                roundtrip_request(xid, &req);
            }
            1 => {
                let (op, header, resp) = gen_reply(&mut g);
                roundtrip_reply(op, &header, &resp);
            }
            2 => roundtrip_connect_request(&gen_connect_request(&mut g)),
            3 => roundtrip_connect_response(&gen_connect_response(&mut g)),
            4 => {
                let zxid = g.i64();
                roundtrip_notification(zxid, &gen_event(&mut g));
            }
            _ => {
                let header = ReplyHeader {
                    xid: g.i32(),
                    zxid: g.i64(),
                    err: gen_error_code(&mut g),
                };
                roundtrip_refusal(&header);
            }
        }
    }
}

// ---- frame splitting ----

/// What a byte stream splits into.
#[derive(Debug, PartialEq)]
struct Split {
    frames: Vec<Bytes>,
    /// The error that ended the stream, if any.
    error: Option<FrameError>,
    /// Bytes left over (a partial frame) when there was no error.
    leftover: usize,
}

/// Splits `data` fed in chunks of `chunk(i)` bytes.
fn split_stream(data: &[u8], chunk: &mut dyn FnMut(usize) -> usize) -> Split {
    let dec = FrameDecoder::new(FUZZ_MAX_FRAME);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < data.len() {
        let n = chunk(i).clamp(1, data.len() - pos);
        i += 1;
        buf.extend_from_slice(&data[pos..pos + n]);
        pos += n;
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    let _ = e.to_string();
                    return Split {
                        frames,
                        error: Some(e),
                        leftover: 0,
                    };
                }
            }
        }
    }
    Split {
        frames,
        error: None,
        leftover: buf.len(),
    }
}

// ---- decode-side invariants ----

/// Splits one frame off `out` (which must hold exactly one) and returns its body.
fn single_frame(mut out: BytesMut) -> Bytes {
    let frame = FrameDecoder::new(usize::MAX)
        .decode(&mut out)
        .expect("the codec wrote a valid length prefix")
        .expect("the codec wrote a whole frame");
    assert!(out.is_empty(), "the codec wrote more than one frame");
    frame
}

/// If `frame` decodes as a request, it re-encodes to the same length and decodes back.
fn check_request_frame(frame: &Bytes) {
    match proto::decode_request(frame) {
        Ok((header, req)) => {
            assert_eq!(header.op, req.op_code().as_i32());
            let mut out = BytesMut::new();
            encode_request(header.xid, &req, &mut out, usize::MAX)
                .expect("a decoded request re-encodes");
            let again = single_frame(out);
            assert_eq!(
                again.len(),
                frame.len(),
                "re-encoded request changed length"
            );
            assert_eq!(proto::decode_request(&again), Ok((header, req)));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Decodes `frame` as a reply to each of `ops` and as a notification; whatever decodes
/// re-encodes to the same length and decodes back.
fn check_reply_frame(frame: &Bytes, ops: &[OpCode]) {
    let (header, body) = match decode_reply_header(frame) {
        Ok(v) => v,
        Err(e) => {
            let _ = e.to_string();
            assert!(frame.len() < ReplyHeader::LEN);
            return;
        }
    };
    assert_eq!(body.len() + ReplyHeader::LEN, frame.len());
    for &op in ops {
        match decode_response(op, &header, &body) {
            Ok(resp) => {
                let mut out = BytesMut::new();
                encode_reply(&header, &resp, &mut out);
                let again = single_frame(out);
                assert_eq!(
                    again.len(),
                    frame.len(),
                    "re-encoded {op} reply changed length"
                );
                let (h2, b2) = decode_reply_header(&again).expect("re-encoded header decodes");
                assert_eq!(h2, header);
                assert_eq!(decode_response(op, &h2, &b2), Ok(resp));
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    match decode_notification(&body) {
        Ok(event) => {
            let mut out = BytesMut::new();
            encode_notification(header.zxid, &event, &mut out);
            let again = single_frame(out);
            assert_eq!(
                again.len(),
                frame.len(),
                "re-encoded notification changed length"
            );
            let (_, b2) = decode_reply_header(&again).expect("re-encoded header decodes");
            assert_eq!(decode_notification(&b2), Ok(event));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Decodes `frame` as the connect records; whatever decodes re-encodes and decodes back.
fn check_connect_frames(frame: &Bytes) {
    if let Ok(req) = ConnectRequest::decode(frame) {
        let mut out = BytesMut::new();
        encode_connect_request(&req, &mut out);
        let again = single_frame(out);
        assert_eq!(again.len(), frame.len());
        assert_eq!(ConnectRequest::decode(&again), Ok(req));
    }
    let plain = ConnectResponse::decode(frame);
    if let Ok(resp) = &plain {
        let mut out = BytesMut::new();
        encode_connect_response(resp, &mut out);
        let again = single_frame(out);
        assert_eq!(again.len(), frame.len());
        assert_eq!(ConnectResponse::decode(&again).as_ref(), Ok(resp));
    }
    match decode_connect_reply(frame) {
        Ok(ConnectReply::Refused(err)) => {
            assert_eq!(frame.len(), ReplyHeader::LEN);
            assert!(!err.is_ok());
        }
        Ok(ConnectReply::Response(resp)) => assert_eq!(plain, Ok(resp)),
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

// ---- encode-side round trips ----

fn roundtrip_request(xid: i32, req: &Request) {
    let mut out = BytesMut::new();
    encode_request(xid, req, &mut out, usize::MAX).expect("a generated request encodes");
    let bytes = out.clone().freeze();
    let frame = single_frame(out);
    let (header, back) = proto::decode_request(&frame)
        .unwrap_or_else(|e| panic!("encoded {} request does not decode: {e}", req.op_code()));
    assert_eq!(
        header,
        RequestHeader {
            xid,
            op: req.op_code().as_i32()
        }
    );
    assert_eq!(&back, req);
    let mut again = BytesMut::new();
    encode_request(xid, &back, &mut again, usize::MAX).expect("re-encodes");
    assert_eq!(again.freeze(), bytes);
}

fn roundtrip_reply(op: OpCode, header: &ReplyHeader, resp: &Response) {
    let mut out = BytesMut::new();
    encode_reply(header, resp, &mut out);
    let bytes = out.clone().freeze();
    let frame = single_frame(out);
    let (h, body) = decode_reply_header(&frame).expect("encoded reply header decodes");
    assert_eq!(&h, header);
    let back = decode_response(op, &h, &body)
        .unwrap_or_else(|e| panic!("encoded {op} reply {resp:?} does not decode: {e}"));
    assert_eq!(&back, resp);
    let mut again = BytesMut::new();
    encode_reply(&h, &back, &mut again);
    assert_eq!(again.freeze(), bytes);
}

fn roundtrip_connect_request(req: &ConnectRequest) {
    let mut out = BytesMut::new();
    encode_connect_request(req, &mut out);
    let bytes = out.clone().freeze();
    let back = ConnectRequest::decode(&single_frame(out)).expect("ConnectRequest decodes");
    assert_eq!(&back, req);
    let mut again = BytesMut::new();
    encode_connect_request(&back, &mut again);
    assert_eq!(again.freeze(), bytes);
}

fn roundtrip_connect_response(resp: &ConnectResponse) {
    let mut out = BytesMut::new();
    encode_connect_response(resp, &mut out);
    let bytes = out.clone().freeze();
    let frame = single_frame(out);
    let back = ConnectResponse::decode(&frame).expect("ConnectResponse decodes");
    assert_eq!(&back, resp);
    assert_eq!(
        decode_connect_reply(&frame),
        Ok(ConnectReply::Response(resp.clone()))
    );
    let mut again = BytesMut::new();
    encode_connect_response(&back, &mut again);
    assert_eq!(again.freeze(), bytes);
}

fn roundtrip_notification(zxid: i64, event: &WatcherEvent) {
    let mut out = BytesMut::new();
    encode_notification(zxid, event, &mut out);
    let frame = single_frame(out);
    let (h, body) = decode_reply_header(&frame).expect("notification header decodes");
    assert_eq!(
        h,
        ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid,
            err: ErrorCode::Ok
        }
    );
    assert_eq!(decode_notification(&body).as_ref(), Ok(event));
}

fn roundtrip_refusal(header: &ReplyHeader) {
    let mut out = BytesMut::new();
    header.encode(&mut out);
    let frame = out.freeze();
    let got = decode_connect_reply(&frame);
    if header.err.is_ok() {
        assert!(
            got.is_err(),
            "a 16-byte Ok header is neither refusal nor response"
        );
    } else {
        assert_eq!(got, Ok(ConnectReply::Refused(header.err)));
    }
}

// ---- a mini "arbitrary" over the input bytes ----

/// Reads values off the input; past the end it yields zeros, so every value is finite.
struct Gen<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Gen<'a> {
    fn new(data: &'a [u8]) -> Self {
        Gen { data, pos: 0 }
    }

    fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }

    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    fn i32(&mut self) -> i32 {
        i32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn i64(&mut self) -> i64 {
        (i64::from(self.i32()) << 32) | i64::from(self.i32() as u32)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::from(self.u8()) % items.len()]
    }

    fn string(&mut self) -> String {
        const WIDE: [char; 6] = ['é', '€', '中', '𝄞', 'ß', '\u{0}'];
        let n = self.u8() % 12;
        (0..n)
            .map(|_| match self.u8() {
                b @ 0..=0x7f => char::from(b),
                b => WIDE[usize::from(b) % WIDE.len()],
            })
            .collect()
    }

    fn opt_string(&mut self) -> Option<String> {
        if self.u8() % 4 == 0 {
            None
        } else {
            Some(self.string())
        }
    }

    fn bytes(&mut self) -> Bytes {
        let n = self.u8() % 24;
        (0..n).map(|_| self.u8()).collect::<Vec<u8>>().into()
    }

    fn opt_bytes(&mut self) -> Option<Bytes> {
        if self.u8() % 5 == 0 {
            None
        } else {
            Some(self.bytes())
        }
    }

    fn strings(&mut self) -> Vec<String> {
        let n = self.u8() % 5;
        (0..n).map(|_| self.string()).collect()
    }

    fn acl(&mut self) -> Vec<Acl> {
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

    fn stat(&mut self) -> Stat {
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

fn gen_error_code(g: &mut Gen<'_>) -> ErrorCode {
    if g.bool() {
        g.pick(ErrorCode::ALL)
    } else {
        ErrorCode::from_i32(g.i32())
    }
}

fn gen_create(g: &mut Gen<'_>) -> CreateRequest {
    CreateRequest {
        path: g.string(),
        data: g.opt_bytes(),
        acl: g.acl(),
        flags: g.i32(),
    }
}

fn gen_create_ttl(g: &mut Gen<'_>) -> CreateTtlRequest {
    CreateTtlRequest {
        path: g.string(),
        data: g.opt_bytes(),
        acl: g.acl(),
        flags: g.i32(),
        ttl: g.i64(),
    }
}

fn gen_path_watch(g: &mut Gen<'_>) -> PathWatch {
    PathWatch {
        path: g.string(),
        watch: g.bool(),
    }
}

fn gen_path(g: &mut Gen<'_>) -> PathOnly {
    PathOnly { path: g.string() }
}

fn gen_multi_ops(g: &mut Gen<'_>) -> Vec<MultiOp> {
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
const REQUEST_VARIANTS: u8 = 29;

fn gen_request(g: &mut Gen<'_>) -> Request {
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

fn gen_multi_results(g: &mut Gen<'_>) -> Vec<MultiResult> {
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
fn gen_response(g: &mut Gen<'_>, op: OpCode) -> Response {
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

fn gen_reply(g: &mut Gen<'_>) -> (OpCode, ReplyHeader, Response) {
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

fn gen_read_only(g: &mut Gen<'_>) -> Option<bool> {
    match g.u8() % 3 {
        0 => None,
        1 => Some(false),
        _ => Some(true),
    }
}

fn gen_connect_request(g: &mut Gen<'_>) -> ConnectRequest {
    ConnectRequest {
        protocol_version: g.i32(),
        last_zxid_seen: g.i64(),
        timeout_ms: g.i32(),
        session_id: g.i64(),
        passwd: g.bytes(),
        read_only: gen_read_only(g),
    }
}

fn gen_connect_response(g: &mut Gen<'_>) -> ConnectResponse {
    ConnectResponse {
        protocol_version: g.i32(),
        timeout_ms: g.i32(),
        session_id: g.i64(),
        passwd: g.bytes(),
        read_only: gen_read_only(g),
    }
}

fn gen_event(g: &mut Gen<'_>) -> WatcherEvent {
    WatcherEvent {
        event_type: g.pick(EventType::ALL),
        state: g.pick(KeeperState::ALL),
        path: g.string(),
    }
}

// ---- deterministic pseudo-randomness ----

/// xorshift64: a fixed-seed generator for chunkings and test mutations.
#[derive(Debug, Clone)]
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// FNV-1a, to derive a chunking from the input itself.
fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::{Path, PathBuf};

    type Target = fn(&[u8]);

    const TARGETS: &[(&str, Target)] = &[
        ("frame_decoder", frame_decoder),
        ("decode_reply", decode_reply),
        ("decode_request", decode_request),
        ("roundtrip", roundtrip),
        ("session_ops", session_ops),
    ];

    /// Mutated inputs per target, spread over its corpus files.
    const MUTATIONS_PER_TARGET: usize = 3000;

    fn corpus_dir(target: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target)
    }

    fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
        let dir = corpus_dir(target);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                (
                    p.display().to_string(),
                    fs::read(&p).expect("read corpus file"),
                )
            })
            .collect()
    }

    /// One random edit: bit flip, truncation, insertion, deletion, special byte, length
    /// field tweak, or chunk duplication.
    fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
        let mut v = input.to_vec();
        for _ in 0..1 + rng.next() % 3 {
            let len = v.len();
            let at = |rng: &mut XorShift, n: usize| (rng.next() % (n as u64 + 1)) as usize;
            match rng.next() % 7 {
                0 if len > 0 => {
                    let i = at(rng, len - 1);
                    v[i] ^= 1 << (rng.next() % 8);
                }
                1 => v.truncate(at(rng, len)),
                2 => {
                    let i = at(rng, len);
                    let b = rng.next() as u8;
                    v.insert(i, b);
                }
                3 if len > 0 => {
                    let i = at(rng, len - 1);
                    let j = (i + 1 + at(rng, 8)).min(len);
                    v.drain(i..j);
                }
                4 if len > 0 => {
                    let i = at(rng, len - 1);
                    v[i] = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x02][at(rng, 5)];
                }
                5 if len >= 4 => {
                    let i = at(rng, len - 4);
                    let old = i32::from_be_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
                    let new = [
                        -1,
                        -2,
                        0,
                        1,
                        i32::MAX,
                        i32::MIN,
                        1_000_000_000,
                        old.wrapping_add(1),
                        old.wrapping_sub(1),
                    ][at(rng, 8)];
                    v[i..i + 4].copy_from_slice(&new.to_be_bytes());
                }
                6 if len > 0 => {
                    let i = at(rng, len - 1);
                    let j = (i + 1 + at(rng, 16)).min(len);
                    let chunk = v[i..j].to_vec();
                    let k = at(rng, v.len());
                    v.splice(k..k, chunk);
                }
                _ => v.push(rng.next() as u8),
            }
        }
        v
    }

    /// Every entry point over its corpus plus deterministic mutations: `cargo test` covers
    /// the fuzz code without nightly.
    #[test]
    fn corpus_and_mutations_pass_every_entry_point() {
        for &(name, target) in TARGETS {
            let files = corpus(name);
            assert!(!files.is_empty(), "fuzz/corpus/{name} has no seeds");
            let per_file = (MUTATIONS_PER_TARGET / files.len()).max(10);
            let mut rng = XorShift::new(0x5eed_0000 + name.len() as u64);
            for (path, input) in &files {
                target(input);
                for _ in 0..per_file {
                    let m = mutate(&mut rng, input);
                    let r = std::panic::catch_unwind(|| target(&m));
                    assert!(r.is_ok(), "{name}: mutation of {path} panicked: {m:02x?}");
                }
            }
        }
    }

    #[test]
    fn entry_points_accept_empty_and_tiny_inputs() {
        for &(_, target) in TARGETS {
            target(&[]);
            for b in 0..=255u8 {
                target(&[b]);
                target(&[b, b, b, b, b]);
            }
        }
    }

    #[test]
    fn roundtrip_covers_every_request_and_reply_kind() {
        // Drive the generator through every variant choice; each must round-trip.
        for v in 0..REQUEST_VARIANTS {
            let seed = [0, 1, 2, 3, 4, v, 3, b'/', b'a', 0xc3, 5, 6, 7, 8, 9, 10];
            roundtrip(&seed);
        }
        for (i, _) in REPLY_OPS.iter().enumerate() {
            for err in [1u8, 0] {
                let seed = [1, i as u8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9, err, 3, b'x'];
                roundtrip(&seed);
            }
        }
    }

    // ---- seed corpus ----

    /// A fixed filler that makes the generator produce non-trivial values.
    const PATTERN: &[u8] = &[
        3, 2, b'/', b'n', 1, 5, 4, 1, 2, 3, 4, 2, 0, 0, 0, 31, 2, b'i', b'p', 3, b'1', b'.', b'2',
        0, 0, 0, 7, 1, 2, 0, 0, 0, 1, 4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
        12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
        35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57,
        58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70,
    ];

    fn seed_of(prefix: &[u8]) -> Vec<u8> {
        let mut v = prefix.to_vec();
        v.extend_from_slice(PATTERN);
        v
    }

    /// All synthetic seeds: (target, file name, contents).
    fn synthetic_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
        let mut seeds = Vec::new();
        let mut client_stream = BytesMut::new();
        let mut server_stream = BytesMut::new();

        // Requests: one per Request variant.
        let mut connect = ConnectRequest::new_session(30_000, true);
        encode_connect_request(&connect, &mut client_stream);
        seeds.push((
            "decode_request",
            "seed-connect-request".into(),
            client_stream[4..].to_vec(),
        ));
        connect.read_only = None;
        let mut out = BytesMut::new();
        encode_connect_request(&connect, &mut out);
        seeds.push((
            "decode_request",
            "seed-connect-request-45".into(),
            out[4..].to_vec(),
        ));
        for v in 0..REQUEST_VARIANTS {
            let recipe = seed_of(&[v]);
            let req = gen_request(&mut Gen::new(&recipe));
            let mut out = BytesMut::new();
            encode_request(i32::from(v) + 1, &req, &mut out, usize::MAX).expect("encodes");
            client_stream.extend_from_slice(&out);
            let name = format!("seed-{}", req.op_code().name());
            seeds.push(("decode_request", name.clone(), out[4..].to_vec()));
            seeds.push((
                "roundtrip",
                format!("{name}-request"),
                seed_of(&[0, 0, 0, 0, v + 1, v]),
            ));
        }

        // Replies: a success and an error reply per opcode.
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout_ms: 30_000,
            session_id: 0x0100_0000_0000_0001,
            passwd: Bytes::from_static(&[0x5a; 16]),
            read_only: Some(false),
        };
        encode_connect_response(&resp, &mut server_stream);
        for (i, &op) in REPLY_OPS.iter().enumerate() {
            let recipe = seed_of(&[]);
            let body = gen_response(&mut Gen::new(&recipe), op);
            let header = ReplyHeader {
                xid: i as i32 + 1,
                zxid: 0x42,
                err: ErrorCode::Ok,
            };
            let mut out = BytesMut::new();
            encode_reply(&header, &body, &mut out);
            server_stream.extend_from_slice(&out);
            let mut input = vec![op.as_i32() as i8 as u8];
            input.extend_from_slice(&out[4..]);
            seeds.push(("decode_reply", format!("seed-{}", op.name()), input));
            let err = ReplyHeader {
                err: ErrorCode::NoNode,
                ..header
            };
            let mut out = BytesMut::new();
            encode_reply(&err, &Response::Empty, &mut out);
            let mut input = vec![op.as_i32() as i8 as u8];
            input.extend_from_slice(&out[4..]);
            seeds.push(("decode_reply", format!("seed-{}-error", op.name()), input));
            seeds.push((
                "roundtrip",
                format!("seed-{}-reply", op.name()),
                seed_of(&[1, i as u8]),
            ));
        }
        // A failed multi (PROTOCOL.md §8) and a notification.
        let failed = Response::Multi(vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::NodeExists),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ]);
        let mut out = BytesMut::new();
        encode_reply(
            &ReplyHeader {
                xid: 99,
                zxid: 7,
                err: ErrorCode::Ok,
            },
            &failed,
            &mut out,
        );
        server_stream.extend_from_slice(&out);
        let mut input = vec![OpCode::Multi.as_i32() as u8];
        input.extend_from_slice(&out[4..]);
        seeds.push(("decode_reply", "seed-multi-failed".into(), input));
        let event = WatcherEvent {
            event_type: EventType::NodeDataChanged,
            state: KeeperState::SyncConnected,
            path: "/app/config".into(),
        };
        let mut out = BytesMut::new();
        encode_notification(-1, &event, &mut out);
        server_stream.extend_from_slice(&out);
        let mut input = vec![OpCode::Notification.as_i32() as u8];
        input.extend_from_slice(&out[4..]);
        seeds.push(("decode_reply", "seed-notification".into(), input));

        seeds.push((
            "frame_decoder",
            "seed-client-stream".into(),
            client_stream.to_vec(),
        ));
        seeds.push((
            "frame_decoder",
            "seed-server-stream".into(),
            server_stream.to_vec(),
        ));
        for kind in 2..6u8 {
            seeds.push(("roundtrip", format!("seed-kind-{kind}"), seed_of(&[kind])));
        }
        seeds
    }

    /// Writes the synthetic seeds into `fuzz/corpus/<target>/`. Run after a codec change:
    /// `cargo test --lib fuzzing::tests::write_seed_corpus -- --ignored`.
    #[test]
    #[ignore = "writes files: run by hand to regenerate the seed corpus"]
    fn write_seed_corpus() {
        for (target, name, bytes) in synthetic_seeds() {
            let dir = corpus_dir(target);
            fs::create_dir_all(&dir).expect("create corpus dir");
            fs::write(dir.join(name), bytes).expect("write seed");
        }
    }

    /// The committed seeds are what the generator makes today (regenerate with
    /// `write_seed_corpus` if this fails after an intended change).
    #[test]
    fn seed_corpus_is_up_to_date() {
        for (target, name, bytes) in synthetic_seeds() {
            let path = corpus_dir(target).join(&name);
            let on_disk = fs::read(&path).unwrap_or_default();
            assert_eq!(on_disk, bytes, "{} is stale or missing", path.display());
        }
    }
}
