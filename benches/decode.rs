//! Reply decoding speed: frames/s, MB/s and heap allocations per decoded reply.
//!
//! ```sh
//! cargo bench --bench decode
//! ```
//!
//! Each case decodes one reply frame (as the `FrameDecoder` hands it out) with
//! `decode_reply_header` + `decode_response`, for about half a second. The last case also
//! splits the frames off a receive buffer. Target: at least 10 million Stat-only replies/s
//! on one core, with zero heap allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mio_zookeeper::proto::*;

/// Counts allocations (the bench is single-threaded).
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; the counter is a plain atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const TARGET_TIME: Duration = Duration::from_millis(500);

fn stat() -> Stat {
    Stat {
        czxid: 0x1_0000_0003,
        mzxid: 0x1_0000_0009,
        ctime: 1_700_000_000_000,
        mtime: 1_700_000_000_123,
        version: 4,
        cversion: 1000,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 100,
        num_children: 1000,
        pzxid: 0x1_0000_000a,
    }
}

/// One encoded reply frame body, split off a buffer by the FrameDecoder.
fn frame(resp: &Response) -> Bytes {
    let header = ReplyHeader {
        xid: 42,
        zxid: 0x1_0000_0010,
        err: ErrorCode::Ok,
    };
    let mut out = BytesMut::new();
    encode_reply(&header, resp, &mut out);
    FrameDecoder::default()
        .decode(&mut out)
        .expect("valid frame")
        .expect("whole frame")
}

fn decode_one(op: OpCode, frame: &Bytes) -> Response {
    let (h, body) = decode_reply_header(frame).expect("header");
    decode_response(op, &h, &body).expect("body")
}

/// Runs `f` in batches until TARGET_TIME has passed; returns (iterations, elapsed, allocs).
fn run(mut f: impl FnMut()) -> (u64, Duration, u64) {
    for _ in 0..1000 {
        f(); // warm up
    }
    let a0 = ALLOCS.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut iters = 0u64;
    let mut batch = 64u64;
    while start.elapsed() < TARGET_TIME {
        for _ in 0..batch {
            f();
        }
        iters += batch;
        batch = (batch * 2).min(1 << 20);
    }
    let elapsed = start.elapsed();
    (iters, elapsed, ALLOCS.load(Ordering::Relaxed) - a0)
}

fn report(name: &str, wire_bytes: usize, frames_per_iter: u64, r: (u64, Duration, u64)) {
    let (iters, elapsed, allocs) = r;
    let frames = iters * frames_per_iter;
    let secs = elapsed.as_secs_f64();
    let fps = frames as f64 / secs;
    let mbps = fps * wire_bytes as f64 / 1e6;
    println!(
        "{name:<34} {:>8.1} ns/frame {:>14.0} frames/s {:>10.1} MB/s {:>8.2} allocs/frame",
        1e9 / fps,
        fps,
        mbps,
        allocs as f64 / frames as f64,
    );
}

fn bench_reply(name: &str, op: OpCode, resp: Response) {
    let frame = frame(&resp);
    assert_eq!(decode_one(op, &frame), resp, "{name}: decode mismatch");
    let r = run(|| {
        black_box(decode_one(op, black_box(&frame)));
    });
    report(name, frame.len() + 4, 1, r);
}

fn main() {
    println!("decode_reply_header + decode_response per frame; MB/s counts wire bytes");
    println!("(data payloads are zero-copy slices, so big getData frames cost the same as small)");
    for (name, size) in [
        ("getData 100 B", 100),
        ("getData 1 KiB", 1024),
        ("getData 100 KiB", 100 * 1024),
    ] {
        bench_reply(
            name,
            OpCode::GetData,
            Response::GetData {
                data: Some(Bytes::from(vec![0xab; size])),
                stat: stat(),
            },
        );
    }
    bench_reply(
        "getChildren2 1,000 children",
        OpCode::GetChildren2,
        Response::GetChildren2 {
            children: (0..1000).map(|i| format!("lock-{i:010}")).collect(),
            stat: stat(),
        },
    );
    bench_reply("exists (Stat only)", OpCode::Exists, Response::Stat(stat()));
    bench_reply(
        "setData (Stat only)",
        OpCode::SetData,
        Response::Stat(stat()),
    );

    // Split + decode: 1,000 exists replies per receive buffer, as a reactor would see them.
    let one = frame(&Response::Stat(stat()));
    let mut wire = BytesMut::new();
    for _ in 0..1000 {
        wire.extend_from_slice(&(one.len() as i32).to_be_bytes());
        wire.extend_from_slice(&one);
    }
    let wire = wire.freeze();
    let dec = FrameDecoder::default();
    let mut buf = BytesMut::with_capacity(wire.len());
    let r = run(|| {
        buf.clear();
        buf.extend_from_slice(&wire);
        let mut n = 0;
        while let Some(frame) = dec.decode(&mut buf).expect("frame") {
            black_box(decode_one(OpCode::Exists, &frame));
            n += 1;
        }
        assert_eq!(n, 1000);
    });
    report(
        "exists, split 1,000/buffer + decode",
        one.len() + 4,
        1000,
        r,
    );
}
