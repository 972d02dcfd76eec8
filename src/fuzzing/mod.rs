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

//!
//! # What lives here
//!
//! This folder may use the codec (`proto`) and the sans-IO session, never IO or the clock:
//!
//! - `mod.rs`: the byte-level entry points (`frame_decoder`, `decode_reply`,
//!   `decode_request`, `roundtrip`), which the targets in `fuzz/fuzz_targets/` call;
//! - `split.rs`: feeding a stream to the frame decoder in chunks;
//! - `check.rs`: the codec's decode-side and encode-side invariants;
//! - `gen.rs`: structured values built from the input bytes;
//! - `session_ops/`: the session driven by operations against a model server;
//! - `tests.rs`: each entry point over its seed corpus (and mutations of it).

use bytes::Bytes;

use crate::proto::*;

mod check;
mod gen;
pub mod session_ops;
mod split;
#[cfg(test)]
mod tests;

pub use session_ops::session_ops;

use check::*;
use gen::*;
use split::*;

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
