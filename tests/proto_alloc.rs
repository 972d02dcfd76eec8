//! Heap use of the decoders, measured with a per-thread counting allocator: Stat-only and
//! error replies do not allocate, data payloads are not copied, and hostile lengths fail
//! before anything is allocated.

mod proto_samples;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use mio_zookeeper::proto::*;
use proto_samples::*;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|c| c.set(c.get() + size));
}

// SAFETY: forwards to the system allocator unchanged; the counters are plain thread-local
// cells with constant initialisers, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (allocations, bytes) made by `f` on this thread.
fn measure<T>(f: impl FnOnce() -> T) -> (usize, usize, T) {
    let a0 = ALLOCS.with(Cell::get);
    let b0 = BYTES.with(Cell::get);
    let v = f();
    (ALLOCS.with(Cell::get) - a0, BYTES.with(Cell::get) - b0, v)
}

fn decode_whole(op: OpCode, frame: &Bytes) -> Response {
    let (h, body) = decode_reply_header(frame).expect("header");
    decode_response(op, &h, &body).expect("body")
}

#[test]
fn stat_only_replies_do_not_allocate() {
    for op in [
        OpCode::Exists,
        OpCode::SetData,
        OpCode::SetAcl,
        OpCode::Check,
    ] {
        let frame = reply_frame(&ok_header(1), &Response::Stat(stat(1)));
        let (allocs, _, resp) = measure(|| decode_whole(op, &frame));
        assert_eq!(resp, Response::Stat(stat(1)));
        assert_eq!(allocs, 0, "{op} reply allocated");
    }
}

#[test]
fn error_replies_do_not_allocate() {
    let header = ReplyHeader {
        err: ErrorCode::NoNode,
        ..ok_header(1)
    };
    let frame = reply_frame(&header, &Response::Empty);
    let (allocs, _, resp) = measure(|| decode_whole(OpCode::GetData, &frame));
    assert_eq!(resp, Response::Empty);
    assert_eq!(allocs, 0);
}

#[test]
fn get_data_payload_is_not_copied() {
    let payload = Bytes::from(vec![1u8; 100 * 1024]);
    let frame = reply_frame(
        &ok_header(1),
        &Response::GetData {
            data: Some(payload.clone()),
            stat: stat(2),
        },
    );
    let (allocs, bytes, resp) = measure(|| decode_whole(OpCode::GetData, &frame));
    assert_eq!(allocs, 0, "{bytes} bytes allocated");
    let Response::GetData { data: Some(d), .. } = resp else {
        panic!()
    };
    assert_eq!(d, payload);
}

#[test]
fn hostile_counts_and_lengths_allocate_nothing() {
    // A 20-byte frame: ReplyHeader{1, 7, Ok} and a count/length of 10^9.
    let mut raw = Vec::new();
    raw.extend_from_slice(&1i32.to_be_bytes());
    raw.extend_from_slice(&7i64.to_be_bytes());
    raw.extend_from_slice(&0i32.to_be_bytes());
    raw.extend_from_slice(&1_000_000_000i32.to_be_bytes());
    let hostile = reply_frame_from_raw(raw);
    for op in [
        OpCode::GetChildren,
        OpCode::GetChildren2,
        OpCode::GetAcl,
        OpCode::GetEphemerals,
        OpCode::WhoAmI,
        OpCode::GetData,
        OpCode::Sasl,
        OpCode::Sync,
    ] {
        let (allocs, bytes, res) = measure(|| {
            let (h, body) = decode_reply_header(&hostile).expect("header");
            decode_response(op, &h, &body)
        });
        assert!(res.is_err(), "{op}");
        assert_eq!((allocs, bytes), (0, 0), "{op} allocated on the error path");
    }
}

/// A frame as the FrameDecoder hands it out (a shared, refcounted buffer).
fn reply_frame_from_raw(raw: Vec<u8>) -> Bytes {
    let mut buf = bytes::BytesMut::new();
    buf.extend_from_slice(&(raw.len() as i32).to_be_bytes());
    buf.extend_from_slice(&raw);
    one_frame(buf)
}

#[test]
fn children_allocation_is_bounded_by_the_element_count() {
    let children: Vec<String> = (0..100).map(|i| format!("child-{i:04}")).collect();
    let frame = reply_frame(
        &ok_header(1),
        &Response::GetChildren {
            children: children.clone(),
        },
    );
    let (allocs, bytes, resp) = measure(|| decode_whole(OpCode::GetChildren, &frame));
    assert_eq!(resp, Response::GetChildren { children });
    // One Vec plus one String per child, nothing more.
    assert_eq!(allocs, 101);
    assert!(bytes < 100 * 24 + 100 * 10 + 64, "{bytes}");
}
