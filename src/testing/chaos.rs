//! Seeded chaos for the [`Proxy`](super::Proxy): a small deterministic random generator,
//! the directions of a connection, and random cuts of every live connection.
//!
//! The *sequence* of faults (how long to wait before each cut, whether it is a clean cut
//! or one in the middle of a frame, after how many bytes, in which direction) is a pure
//! function of the seed, so a failing run can be replayed with the same seed. When the
//! faults land relative to the traffic still depends on the scheduler, so tests assert
//! invariants that hold whatever the timing, not exact outcomes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A small, seeded, deterministic random number generator (SplitMix64) for tests: the same
/// seed gives the same sequence on every platform. Not for anything that needs real
/// randomness.
///
/// # Examples
///
/// ```
/// use mio_zookeeper::testing::SeededRng;
///
/// let mut a = SeededRng::new(7);
/// let mut b = SeededRng::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let n = a.below(10);
/// assert!(n < 10);
/// let mut bytes = [0u8; 16];
/// a.fill(&mut bytes);
/// ```
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: u64,
}

impl SeededRng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> SeededRng {
        SeededRng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is `0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// `true` with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < u64::from(percent)
    }

    /// A duration in `min..=max` (millisecond resolution; `min` when `max <= min`).
    pub fn duration_between(&mut self, min: Duration, max: Duration) -> Duration {
        let span = max.saturating_sub(min).as_millis();
        let span = u64::try_from(span).unwrap_or(u64::MAX - 1);
        min + Duration::from_millis(self.below(span.saturating_add(1)))
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let r = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }
}

/// One direction of a proxied connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// What the client sends to the server.
    ClientToServer,
    /// What the server sends to the client.
    ServerToClient,
}

impl Direction {
    pub(crate) fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }
}

/// How [`Proxy::start_random_cuts`](super::Proxy::start_random_cuts) cuts: waits a seeded
/// random time in `min..=max` (default 50 ms to 300 ms), then cuts every live connection,
/// either at once or, with probability `mid_frame_percent` (default 50 %), after a random
/// `1..=max_offset` bytes (default 2048) more in a random direction, which most of the time
/// falls in the middle of a frame.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use mio_zookeeper::testing::RandomCuts;
///
/// let cuts = RandomCuts::new(42)
///     .every(Duration::from_millis(20), Duration::from_millis(100))
///     .mid_frame(30, 512);
/// # let _ = cuts;
/// ```
#[derive(Debug, Clone)]
pub struct RandomCuts {
    pub(crate) seed: u64,
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    pub(crate) mid_frame_percent: u32,
    pub(crate) max_offset: usize,
}

impl RandomCuts {
    /// Random cuts whose sequence is fixed by `seed`, with the defaults above.
    pub fn new(seed: u64) -> RandomCuts {
        RandomCuts {
            seed,
            min: Duration::from_millis(50),
            max: Duration::from_millis(300),
            mid_frame_percent: 50,
            max_offset: 2048,
        }
    }

    /// Waits between `min` and `max` (inclusive) before each cut.
    pub fn every(mut self, min: Duration, max: Duration) -> RandomCuts {
        self.min = min;
        self.max = max.max(min);
        self
    }

    /// With probability `percent`/100 (clamped to 100), a cut happens only after `1..=max_offset`
    /// more bytes in a random direction; `0` makes every cut immediate.
    pub fn mid_frame(mut self, percent: u32, max_offset: usize) -> RandomCuts {
        self.mid_frame_percent = percent.min(100);
        self.max_offset = max_offset.max(1);
        self
    }
}

/// What the chaos thread does to the proxy: implemented by the proxy's shared state.
pub(crate) trait Cutter: Send + Sync + 'static {
    /// Cuts every live connection now.
    fn cut_all(&self);
    /// Cuts every live connection after `bytes` more bytes in `dir`.
    fn cut_all_after(&self, dir: Direction, bytes: usize);
    /// Whether the proxy is shutting down.
    fn stopping(&self) -> bool;
}

/// A running chaos thread; stopped (and joined) by [`RandomCutsThread::stop`].
#[derive(Debug)]
pub(crate) struct RandomCutsThread {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl RandomCutsThread {
    pub(crate) fn spawn(
        cfg: RandomCuts,
        target: Arc<dyn Cutter>,
    ) -> std::io::Result<RandomCutsThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = thread::Builder::new()
            .name("zk-test-chaos".into())
            .spawn(move || {
                let mut rng = SeededRng::new(cfg.seed);
                loop {
                    let wait = rng.duration_between(cfg.min, cfg.max);
                    let mid = rng.chance(cfg.mid_frame_percent);
                    let dir = if rng.chance(50) {
                        Direction::ClientToServer
                    } else {
                        Direction::ServerToClient
                    };
                    let offset = 1 + rng.below(cfg.max_offset as u64) as usize;
                    let until = Instant::now() + wait;
                    while Instant::now() < until {
                        if s.load(Ordering::SeqCst) || target.stopping() {
                            return;
                        }
                        thread::sleep(Duration::from_millis(2).min(wait));
                    }
                    if mid {
                        log::debug!("chaos: cut every connection after {offset} bytes {dir:?}");
                        target.cut_all_after(dir, offset);
                    } else {
                        log::debug!("chaos: cut every connection");
                        target.cut_all();
                    }
                }
            })?;
        Ok(RandomCutsThread {
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RandomCutsThread {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let a: Vec<u64> = {
            let mut r = SeededRng::new(1);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let mut r = SeededRng::new(1);
        assert_eq!(a, (0..8).map(|_| r.next_u64()).collect::<Vec<_>>());
        let mut other = SeededRng::new(2);
        assert_ne!(a[0], other.next_u64());
    }

    #[test]
    fn ranges_are_respected() {
        let mut r = SeededRng::new(3);
        for _ in 0..1000 {
            assert!(r.below(7) < 7);
            let d = r.duration_between(Duration::from_millis(5), Duration::from_millis(9));
            assert!(d >= Duration::from_millis(5) && d <= Duration::from_millis(9));
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(
            r.duration_between(Duration::from_secs(2), Duration::from_secs(1)),
            Duration::from_secs(2)
        );
        let mut buf = [0u8; 13];
        r.fill(&mut buf);
        assert!(buf.iter().any(|b| *b != 0));
    }
}
