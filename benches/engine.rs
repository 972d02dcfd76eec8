//! Engine micro-benchmarks: time and heap allocations per round.
//!
//! `cargo bench --bench engine` prints, for each round: nanoseconds (best of several runs
//! of many rounds) and allocations per round (counted by a global allocator).
//!
//! Rounds:
//! - spawn-and-run: `spawn` of a closure, then the loop runs it (`run_pending`: the queue
//!   phase without the I/O poll; and `poll_once(0)`: a full iteration, with its syscall);
//! - AsyncResult: create, `rawlink` a callback, `set`, the loop runs the callback;
//! - timer: `set_timer` for now, the loop fires it;
//! - idle `poll_once(Some(0))`: one iteration with nothing to do (one `epoll_wait`);
//! - spawn_future (extra): spawn an `async` block that awaits a set result, run it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mio_zookeeper::handler::Reactor;
use mio_zookeeper::{AsyncResult, Handler, MioHandler};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

static HITS: AtomicU64 = AtomicU64::new(0);

fn hit() {
    HITS.fetch_add(1, Ordering::Relaxed);
}

/// Runs `round` `n` times per run, 7 runs; reports the best run's ns per round and the
/// allocations per round of that run.
fn bench(name: &str, n: u64, round: impl FnMut()) {
    bench_per(name, n, 1, round)
}

/// Like `bench` for a closure doing `per` rounds per call.
fn bench_per(name: &str, n: u64, per: u64, mut round: impl FnMut()) {
    for _ in 0..n.min(10_000) {
        round(); // warm up, grow queues to their steady size
    }
    let mut best = (f64::MAX, 0.0);
    for _ in 0..7 {
        let a0 = ALLOCS.load(Ordering::Relaxed);
        let t0 = Instant::now();
        for _ in 0..n {
            round();
        }
        let ns = t0.elapsed().as_nanos() as f64 / (n * per) as f64;
        let allocs = (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / (n * per) as f64;
        if ns < best.0 {
            best = (ns, allocs);
        }
    }
    println!(
        "{name:<64} {:>7.1} ns/round {:>5.2} allocs/round",
        best.0, best.1
    );
}

fn main() {
    let r = Reactor::new().expect("a reactor");
    // Results are bound to a handler's scheduler (here over the same reactor).
    let handler = MioHandler::from_reactor(r.clone());
    let sched = handler.scheduler().clone();
    println!("mio-zookeeper engine benchmark (best of 7 runs)\n");

    bench("spawn-and-run (spawn + run_pending)", 1_000_000, || {
        r.spawn(hit);
        black_box(r.run_pending().unwrap());
    });
    bench(
        "spawn-and-run (spawn + poll_once(0), with epoll_wait)",
        200_000,
        || {
            r.spawn(hit);
            black_box(r.poll_once(Some(Duration::ZERO)).unwrap());
        },
    );
    bench_per("spawn-and-run, 64 per run_pending", 20_000, 64, || {
        for _ in 0..64 {
            r.spawn(hit);
        }
        black_box(r.run_pending().unwrap());
    });

    bench(
        "AsyncResult create -> rawlink -> set -> callback (run_pending)",
        1_000_000,
        || {
            let res: AsyncResult<u64> = AsyncResult::new(&sched);
            res.rawlink(|x| {
                black_box(x);
                hit()
            });
            res.set(1).unwrap();
            black_box(r.run_pending().unwrap());
        },
    );
    bench(
        "AsyncResult create -> rawlink -> set -> callback (poll_once(0))",
        200_000,
        || {
            let res: AsyncResult<u64> = AsyncResult::new(&sched);
            res.rawlink(|_| hit());
            res.set(1).unwrap();
            black_box(r.poll_once(Some(Duration::ZERO)).unwrap());
        },
    );

    bench(
        "timer set-and-fire (set_timer(now) + run_pending)",
        1_000_000,
        || {
            r.set_timer(Instant::now(), hit);
            black_box(r.run_pending().unwrap());
        },
    );
    bench("timer set-and-cancel", 1_000_000, || {
        let id = r.set_timeout(Duration::from_secs(60), hit);
        black_box(r.cancel_timer(id));
    });

    bench("idle poll_once(Some(0))", 200_000, || {
        black_box(r.poll_once(Some(Duration::ZERO)).unwrap());
    });
    bench("idle run_pending", 1_000_000, || {
        black_box(r.run_pending().unwrap());
    });

    bench(
        "spawn_future awaiting a set AsyncResult, run to completion",
        500_000,
        || {
            let res: AsyncResult<u64> = AsyncResult::new(&sched);
            res.set(1).unwrap();
            r.spawn_future(async move {
                black_box(res.await.unwrap());
            });
            black_box(r.run_pending().unwrap());
        },
    );

    assert!(HITS.load(Ordering::Relaxed) > 0);
}
