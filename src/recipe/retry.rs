//! [`Retry`]: kazoo's `KazooRetry` (and `client.retry`): call an operation again, with
//! jittered exponential backoff, while it fails with an error after which trying again is
//! the usual answer. Waits run the loop (blocking form) or sit on the loop's timers
//! (non-blocking form); nothing here sleeps a thread.

use std::cell::{Cell, RefCell};
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::base::instant_after;
use crate::handler::{EventLoop, Handler};
use crate::{AsyncResult, Client, Error, RetryStop};

/// How often the interrupt is asked during a wait (kazoo's 0.1 s slices).
const INTERRUPT_SLICE: Duration = Duration::from_millis(100);

/// A retry policy for one operation: kazoo's `KazooRetry`.
///
/// [`run`](Self::run) calls the operation, and while it fails with an error the policy
/// retries, waits and calls it again: a wait starts at [`delay`](Self::delay), is
/// multiplied by a random factor in `1 ± max_jitter`, and the next one is that wait times
/// [`backoff`](Self::backoff), never more than [`max_delay`](Self::max_delay) (the jittered
/// value compounds, as in kazoo). It stops when the operation succeeds, fails with an error
/// it does not retry (returned as it is), or gives up: [`Error::RetryFailed`] with the
/// reason ([`RetryStop`]), the number of calls and the last error.
///
/// **Retried:** [`Error::ConnectionLoss`] and the operation timeouts ([`Error::Timeout`],
/// the error of a blocking call whose reply did not come within the request timeout, and a
/// server's [`ErrorCode::OperationTimeout`](crate::ErrorCode::OperationTimeout) or
/// `ConnectionLoss` code): exactly [`Error::is_retryable`]. The client reconnects by itself,
/// and a retried request waits for the connection. [`Error::SessionExpired`] only with
/// [`retry_session_expired(true)`](Self::retry_session_expired). Everything else (the
/// server's refusals, [`Error::ConnectionClosed`], loop errors) is returned at once.
///
/// **Only for operations that are safe to apply twice.** Each retried error may come after
/// the server applied the request: a retried `create` can fail with `NodeExists` because
/// an earlier try created the node, a retried `delete` with `NoNode`. Handle those answers
/// as success where they mean it, or read back before retrying a non-idempotent write.
///
/// **Session expiry** is not retried by default, unlike kazoo (`ignore_expire=True`):
/// retrying it silently moves the caller to a new session, without the ephemeral nodes and
/// watches of the old one. Ask for it when the operation does not depend on the session.
///
/// Defaults: tries without limit (`max_tries(None)`, kazoo's `client.retry`), `delay`
/// 100 ms, `backoff` 2, `max_jitter` 0.4, `max_delay` 60 s, no deadline, no interrupt.
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// use std::time::Duration;
/// use mio_zookeeper::{recipe::Retry, Client, CreateMode};
///
/// let zk = Client::new(&server.connect_string())?;
/// zk.start(Some(Duration::from_secs(15)))?;
/// let retry = Retry::new()
///     .max_tries(Some(5))
///     .deadline(Some(Duration::from_secs(30)));
/// // Idempotent: an earlier try that created the node counts as success.
/// let made = retry.run(&zk, || match zk.create("/app", b"x".as_slice(), CreateMode::Persistent) {
///     Ok(_) => Ok(true),
///     Err(e) if e.is_node_exists() => Ok(false),
///     Err(e) => Err(e),
/// })?;
/// assert!(made);
/// let stat = retry.run(&zk, || zk.exists("/app", None))?;
/// assert!(stat.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Retry {
    max_tries: Option<u32>,
    delay: Duration,
    backoff: f64,
    max_jitter: f64,
    max_delay: Duration,
    deadline: Option<Duration>,
    retry_session_expired: bool,
    interrupt: Option<Rc<dyn Fn() -> bool>>,
    /// The jitter generator's state for the next run (each run advances it).
    seed: Cell<u64>,
}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("max_tries", &self.max_tries)
            .field("delay", &self.delay)
            .field("backoff", &self.backoff)
            .field("max_jitter", &self.max_jitter)
            .field("max_delay", &self.max_delay)
            .field("deadline", &self.deadline)
            .field("retry_session_expired", &self.retry_session_expired)
            .field("interrupt", &self.interrupt.is_some())
            .finish()
    }
}

impl Default for Retry {
    fn default() -> Retry {
        Retry::new()
    }
}

impl Retry {
    /// The default policy (see [`Retry`]), its jitter seeded at random.
    pub fn new() -> Retry {
        Retry {
            max_tries: None,
            delay: Duration::from_millis(100),
            backoff: 2.0,
            max_jitter: 0.4,
            max_delay: Duration::from_secs(60),
            deadline: None,
            retry_session_expired: false,
            interrupt: None,
            seed: Cell::new(RandomState::new().build_hasher().finish()),
        }
    }

    /// How many calls in all, the first included (kazoo's `max_tries` since 2.11): `Some(1)`
    /// never retries; `None` retries without limit. `Some(0)` is taken as `Some(1)`.
    pub fn max_tries(mut self, max_tries: Option<u32>) -> Retry {
        self.max_tries = max_tries.map(|n| n.max(1));
        self
    }

    /// The first wait (before jitter); default 100 ms.
    pub fn delay(mut self, delay: Duration) -> Retry {
        self.delay = delay;
        self
    }

    /// What each wait is multiplied by to give the next (default 2). A negative or
    /// non-finite factor is taken as 1 (fixed waits).
    pub fn backoff(mut self, backoff: f64) -> Retry {
        self.backoff = if backoff.is_finite() && backoff >= 0.0 {
            backoff
        } else {
            1.0
        };
        self
    }

    /// The jitter, as a fraction: each wait is multiplied by a random factor in
    /// `[1 - max_jitter, 1 + max_jitter)` (default 0.4, kazoo's). Clamped to `0..=1`; 0 for
    /// exact waits.
    pub fn max_jitter(mut self, max_jitter: f64) -> Retry {
        self.max_jitter = if max_jitter.is_nan() {
            0.0
        } else {
            max_jitter.clamp(0.0, 1.0)
        };
        self
    }

    /// The longest wait between two calls (default 60 s).
    pub fn max_delay(mut self, max_delay: Duration) -> Retry {
        self.max_delay = max_delay;
        self
    }

    /// A limit on the whole run, from the first call: the run gives up
    /// ([`RetryStop::Deadline`]) instead of waiting past it. As in kazoo, a call in progress
    /// is not cut short (a blocking call ends by its own request timeout).
    pub fn deadline(mut self, deadline: Option<Duration>) -> Retry {
        self.deadline = deadline;
        self
    }

    /// Whether [`Error::SessionExpired`] is retried (default `false`; kazoo's
    /// `ignore_expire`, whose default is `true`). A retry after an expiry runs on the
    /// client's new session, without the old session's ephemeral nodes and watches.
    pub fn retry_session_expired(mut self, retry: bool) -> Retry {
        self.retry_session_expired = retry;
        self
    }

    /// Asked during every wait (every 100 ms at least, and before each wait): `true` stops
    /// the run with [`RetryStop::Interrupted`] (kazoo's `interrupt`). It runs on the loop.
    pub fn interrupt(mut self, interrupt: impl Fn() -> bool + 'static) -> Retry {
        self.interrupt = Some(Rc::new(interrupt));
        self
    }

    /// Seeds the jitter (for a reproducible schedule); by default it is random.
    pub fn seed(self, seed: u64) -> Retry {
        self.seed.set(seed);
        self
    }

    /// Whether this policy retries `err`.
    pub fn retries(&self, err: &Error) -> bool {
        err.is_retryable() || (self.retry_session_expired && err.is_session_expired())
    }

    /// The waits the next run would make if every call failed with a retried error, in
    /// order (at most `max_tries - 1` of them, without limit otherwise; the deadline is not
    /// applied). The next run makes these exact waits, as long as the policy is not changed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mio_zookeeper::recipe::Retry;
    ///
    /// let r = Retry::new().max_tries(Some(4)).max_jitter(0.0).delay(Duration::from_secs(1));
    /// let waits: Vec<u64> = r.delays().map(|d| d.as_secs()).collect();
    /// assert_eq!(waits, [1, 2, 4]);
    /// ```
    pub fn delays(&self) -> impl Iterator<Item = Duration> + '_ {
        let mut rng = first_state(self.seed.get()).0;
        let mut cur = self.delay;
        let n = self.max_tries.map_or(u64::MAX, |n| u64::from(n) - 1);
        (0..n).map(move |_| {
            let (wait, next) = self.step(cur, unit(&mut rng));
            cur = next;
            wait
        })
    }

    /// One step of the schedule: the wait for base delay `cur` and a uniform sample `u` in
    /// `[0, 1)`, and the next base delay.
    fn step(&self, cur: Duration, u: f64) -> (Duration, Duration) {
        let factor = 1.0 - self.max_jitter + 2.0 * self.max_jitter * u;
        let wait = mul(cur, factor).min(self.max_delay);
        (wait, mul(wait, self.backoff).min(self.max_delay))
    }

    fn begin(&self, now: Instant) -> Attempts {
        let (rng, next) = first_state(self.seed.get());
        self.seed.set(next);
        Attempts {
            tries: 0,
            cur: self.delay,
            stop_at: self.deadline.and_then(|d| now.checked_add(d)),
            rng,
            last: None,
        }
    }

    /// After a failed call: how long to wait before the next, or the error to end with.
    fn after_failure(
        &self,
        at: &mut Attempts,
        err: Error,
        now: Instant,
    ) -> Result<Duration, Error> {
        if !self.retries(&err) {
            return Err(err);
        }
        let give_up = |reason| Error::RetryFailed {
            reason,
            tries: at.tries,
            last: Box::new(err.clone()),
        };
        if self.max_tries.is_some_and(|n| at.tries >= n) {
            return Err(give_up(RetryStop::TooManyTries));
        }
        let (wait, next) = self.step(at.cur, unit(&mut at.rng));
        let past = |stop| now.checked_add(wait).map_or(true, |end| end >= stop);
        if at.stop_at.is_some_and(past) {
            return Err(give_up(RetryStop::Deadline));
        }
        at.cur = next;
        at.last = Some(err);
        Ok(wait)
    }

    /// The error to end with if the interrupt says stop now.
    fn interrupted(&self, at: &Attempts) -> Option<Error> {
        let stop = self.interrupt.as_ref().is_some_and(|f| f());
        stop.then(|| Error::RetryFailed {
            reason: RetryStop::Interrupted,
            tries: at.tries,
            last: Box::new(at.last.clone().unwrap_or(Error::ConnectionLoss)),
        })
    }

    /// The next slice of a wait that ends at `until`: `None` once it has passed.
    fn slice(&self, now: Instant, until: Instant) -> Option<Instant> {
        if now >= until {
            return None;
        }
        Some(match self.interrupt {
            Some(_) => until.min(now + INTERRUPT_SLICE),
            None => until,
        })
    }

    /// Calls `op` until it succeeds, fails with an error this policy does not retry, or the
    /// policy gives up ([`Error::RetryFailed`]). The waits run `client`'s loop
    /// ([`Client::sleep`]): pings, replies and callbacks go on meanwhile.
    ///
    /// # Notable errors
    ///
    /// `op`'s error that is not retried; [`Error::RetryFailed`]; a wait's refusal, such as
    /// [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded loop (use
    /// [`run_async`](Self::run_async) there).
    pub fn run<H: Handler, T>(
        &self,
        client: &Client<H>,
        mut op: impl FnMut() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let lp = client.handler().event_loop();
        let mut at = self.begin(lp.now());
        loop {
            at.tries = at.tries.saturating_add(1);
            let err = match op() {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let until = instant_after(&*lp, self.after_failure(&mut at, err, lp.now())?);
            loop {
                if let Some(e) = self.interrupted(&at) {
                    return Err(e);
                }
                let now = lp.now();
                match self.slice(now, until) {
                    Some(end) => client.sleep(end - now)?,
                    None => break,
                }
            }
        }
    }

    /// The non-blocking [`run`](Self::run): `op` starts the operation (an `*_async` call)
    /// and the policy follows its result from the loop, waiting on the loop's timers. The
    /// returned result is set to the first success, the error that is not retried, or
    /// [`Error::RetryFailed`]. Works under [`Client::poll_once`] and embedded in a host's
    /// loop. `op` is called from the loop for every retry; each result it returns is
    /// consumed ([`AsyncResult::take`]).
    ///
    /// ```
    /// # let server = mio_zookeeper::testing::ZkServer::start()?;
    /// use std::time::Duration;
    /// use mio_zookeeper::{recipe::Retry, Client};
    ///
    /// let zk = Client::new(&server.connect_string())?;
    /// zk.start(Some(Duration::from_secs(15)))?;
    /// let c = zk.clone();
    /// let stat = Retry::new().max_tries(Some(3)).run_async(&zk, move || c.exists_async("/", None));
    /// // Any way of running the loop will do; here a blocking get.
    /// assert!(stat.get(true, Some(Duration::from_secs(15)))?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_async<H: Handler, T: 'static>(
        &self,
        client: &Client<H>,
        op: impl FnMut() -> AsyncResult<T> + 'static,
    ) -> AsyncResult<T> {
        let handler = client.handler();
        let lp = handler.event_loop();
        let job = Rc::new(Job {
            at: RefCell::new(self.begin(lp.now())),
            policy: self.clone(),
            op: RefCell::new(op),
            out: handler.async_result(),
            lp,
        });
        let out = job.out.clone();
        job.call();
        out
    }
}

/// The state of one run.
struct Attempts {
    /// Calls made so far.
    tries: u32,
    /// The base of the next wait.
    cur: Duration,
    stop_at: Option<Instant>,
    rng: u64,
    /// The last retried error (for an interrupt).
    last: Option<Error>,
}

/// One non-blocking run.
struct Job<T, F> {
    policy: Retry,
    op: RefCell<F>,
    out: AsyncResult<T>,
    lp: Rc<dyn EventLoop>,
    at: RefCell<Attempts>,
}

impl<T: 'static, F: FnMut() -> AsyncResult<T> + 'static> Job<T, F> {
    fn call(self: Rc<Self>) {
        {
            let mut at = self.at.borrow_mut();
            at.tries = at.tries.saturating_add(1);
        }
        let r = (self.op.borrow_mut())();
        r.rawlink(move |r| self.finished(r.take(false, None)));
    }

    fn finished(self: Rc<Self>, res: Result<T, Error>) {
        let err = match res {
            Ok(v) => return self.finish(Ok(v)),
            Err(e) => e,
        };
        let now = self.lp.now();
        let wait = self
            .policy
            .after_failure(&mut self.at.borrow_mut(), err, now);
        match wait {
            Ok(wait) => {
                let until = instant_after(&*self.lp, wait);
                self.wait_until(until)
            }
            Err(e) => self.finish(Err(e)),
        }
    }

    fn wait_until(self: Rc<Self>, until: Instant) {
        if let Some(e) = self.policy.interrupted(&self.at.borrow()) {
            return self.finish(Err(e));
        }
        match self.policy.slice(self.lp.now(), until) {
            None => self.call(),
            Some(end) => {
                let lp = self.lp.clone();
                lp.set_timer(end, Box::new(move || self.wait_until(until)));
            }
        }
    }

    fn finish(&self, res: Result<T, Error>) {
        if let Err(e) = self.out.set_result(res) {
            log::debug!("Retry::run_async: {e}");
        }
    }
}

/// `d * f` for a finite `f >= 0`, saturating.
fn mul(d: Duration, f: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * f).unwrap_or(Duration::MAX)
}

/// splitmix64: a small generator, enough for jitter.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A run's generator state from the policy's seed, and the seed of the run after it.
fn first_state(seed: u64) -> (u64, u64) {
    let mut next = seed;
    (splitmix(&mut next), next)
}

/// A uniform sample in `[0, 1)`.
fn unit(state: &mut u64) -> f64 {
    (splitmix(state) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: &[Duration]) -> Vec<f64> {
        d.iter().map(|d| d.as_secs_f64()).collect()
    }

    #[test]
    fn without_jitter_the_waits_double_up_to_max_delay() {
        let r = Retry::new()
            .max_jitter(0.0)
            .delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(700))
            .max_tries(Some(7));
        let w: Vec<Duration> = r.delays().collect();
        assert_eq!(secs(&w), [0.1, 0.2, 0.4, 0.7, 0.7, 0.7]);
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_compounds() {
        let r = Retry::new()
            .max_jitter(0.4)
            .backoff(2.0)
            .max_tries(Some(200))
            .max_delay(Duration::MAX)
            .seed(7);
        let mut cur = 0.1;
        let mut spread = (f64::MAX, 0.0f64);
        for w in r.delays().take(20) {
            let f = w.as_secs_f64() / cur;
            assert!((0.6 - 1e-9..1.4 + 1e-9).contains(&f), "factor {f}");
            spread = (spread.0.min(f), spread.1.max(f));
            cur = w.as_secs_f64() * 2.0; // the jittered wait compounds, as in kazoo
        }
        assert!(spread.1 - spread.0 > 0.1, "the jitter varies: {spread:?}");
    }

    #[test]
    fn max_tries_counts_calls_and_the_seed_makes_it_reproducible() {
        assert_eq!(Retry::new().max_tries(Some(1)).delays().count(), 0);
        assert_eq!(Retry::new().max_tries(Some(0)).delays().count(), 0);
        assert_eq!(Retry::new().max_tries(Some(3)).delays().count(), 2);
        assert_eq!(Retry::new().delays().take(1000).count(), 1000);
        let a: Vec<_> = Retry::new().seed(42).max_tries(Some(5)).delays().collect();
        let b: Vec<_> = Retry::new().seed(42).max_tries(Some(5)).delays().collect();
        assert_eq!(a, b);
    }

    #[test]
    fn a_run_makes_the_announced_waits_and_the_next_run_new_ones() {
        let r = Retry::new().seed(3).max_tries(Some(5));
        let planned: Vec<_> = r.delays().collect();
        let t0 = Instant::now();
        let mut at = r.begin(t0);
        let got: Vec<_> = (1..5)
            .map(|i| {
                at.tries = i;
                r.after_failure(&mut at, Error::ConnectionLoss, t0).unwrap()
            })
            .collect();
        assert_eq!(got, planned);
        assert_ne!(r.delays().collect::<Vec<_>>(), planned, "new jitter");
    }

    #[test]
    fn odd_knobs_are_tamed() {
        let r = Retry::new()
            .backoff(f64::NAN)
            .max_jitter(-3.0)
            .max_tries(Some(4));
        assert_eq!(secs(&r.delays().collect::<Vec<_>>()), [0.1, 0.1, 0.1]);
        let r = Retry::new()
            .backoff(f64::MAX)
            .max_jitter(f64::NAN)
            .max_delay(Duration::MAX)
            .max_tries(Some(4));
        let w: Vec<_> = r.delays().collect();
        assert_eq!(w[1], Duration::MAX);
        assert_eq!(w[2], Duration::MAX);
    }

    #[test]
    fn the_policy_stops_on_tries_and_deadline_and_keeps_the_last_error() {
        let t0 = Instant::now();
        let r = Retry::new().max_tries(Some(2)).max_jitter(0.0);
        let mut at = r.begin(t0);
        at.tries = 1;
        assert_eq!(
            r.after_failure(&mut at, Error::ConnectionLoss, t0).unwrap(),
            Duration::from_millis(100)
        );
        at.tries = 2;
        match r.after_failure(&mut at, Error::Timeout, t0) {
            Err(Error::RetryFailed {
                reason: RetryStop::TooManyTries,
                tries: 2,
                last,
            }) => assert!(matches!(*last, Error::Timeout)),
            other => panic!("{other:?}"),
        }
        let r = Retry::new()
            .max_jitter(0.0)
            .deadline(Some(Duration::from_millis(250)));
        let mut at = r.begin(t0);
        at.tries = 1;
        assert!(r.after_failure(&mut at, Error::ConnectionLoss, t0).is_ok());
        let later = t0 + Duration::from_millis(100);
        match r.after_failure(&mut at, Error::ConnectionLoss, later) {
            Err(Error::RetryFailed {
                reason: RetryStop::Deadline,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            r.after_failure(&mut at, Error::SessionExpired, t0),
            Err(Error::SessionExpired)
        ));
        let r = r.retry_session_expired(true);
        assert!(r
            .after_failure(&mut r.begin(t0), Error::SessionExpired, t0)
            .is_ok());
    }
}
