//! [`Counter`]: kazoo's `Counter`, an integer in one node's data, changed by versioned sets.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::base::Backoff;
use super::error::RecipeError;
use super::node_wait::ensure_node;
use crate::handler::{Handler, MioHandler};
use crate::{AsyncResult, Client, Error, ErrorCode, Stat, WeakClient, ZkError};

const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// How a [`Counter`] writes its value into the node's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterFormat {
    /// kazoo's default: the value in decimal ASCII (`5` is `b"5"`, `-12` is `b"-12"`), over
    /// the whole `i64` range.
    #[default]
    Decimal,
    /// kazoo's `support_curator=True`, Curator's `SharedCount` and
    /// `DistributedAtomicInteger`: a 4-byte big-endian signed integer (`5` is
    /// `b"\0\0\0\x05"`). Values outside `i32` are refused with [`Error::BadArgument`].
    Curator,
}

impl CounterFormat {
    /// The node data for `value`.
    pub fn encode(self, value: i64) -> Result<Vec<u8>, Error> {
        match self {
            CounterFormat::Decimal => Ok(value.to_string().into_bytes()),
            CounterFormat::Curator => i32::try_from(value)
                .map(|v| v.to_be_bytes().to_vec())
                .map_err(|_| {
                    Error::BadArgument(format!(
                        "{value} does not fit the Curator counter format (a 4-byte signed integer)"
                    ))
                }),
        }
    }

    /// The value in `data` (null or empty data: `None`, the counter's default applies).
    /// `Err` says what was found instead of a number.
    pub fn decode(self, data: Option<&[u8]>) -> Result<Option<i64>, String> {
        let data = match data {
            None | Some([]) => return Ok(None),
            Some(d) => d,
        };
        match self {
            CounterFormat::Decimal => std::str::from_utf8(data)
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .map(Some)
                .ok_or_else(|| format!("not a decimal integer: {}", shown(data))),
            CounterFormat::Curator => <[u8; 4]>::try_from(data)
                .map(|b| Some(i64::from(i32::from_be_bytes(b))))
                .map_err(|_| {
                    format!(
                        "not a 4-byte Curator counter ({} bytes): {}",
                        data.len(),
                        shown(data)
                    )
                }),
        }
    }
}

/// At most 64 bytes of `data`, escaped, for an error message.
fn shown(data: &[u8]) -> String {
    let head: String = data[..data.len().min(64)].escape_ascii().to_string();
    if data.len() > 64 {
        format!("b\"{head}\"…")
    } else {
        format!("b\"{head}\"")
    }
}

/// One change of a [`Counter`]: the value before and after it (kazoo's `pre_value` and
/// `post_value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The value the change was applied to.
    pub pre: i64,
    /// The value it made.
    pub post: i64,
}

/// An integer counter in one node (kazoo's `Counter(client, path, default=0,
/// support_curator=False)`), on kazoo's wire format so that kazoo's counter and this one
/// share a path: the node is created as `ensure_path` does (persistent, empty data, not
/// null, which kazoo's counter cannot read; empty data means the default), and the value is
/// written in decimal ASCII or, with [`CounterFormat::Curator`], as a 4-byte big-endian
/// integer; in that format a new node is seeded with the default's 4 bytes, since Curator's
/// `SharedCount` cannot read an empty one. Data that does not parse (kazoo's float counter
/// writes `b"3.75"`) is [`RecipeError::BadData`].
///
/// **A change** is a versioned set: the value read with its version, then
/// `set(path, value + delta, version)`; when another client changed the node meanwhile
/// ([`ErrorCode::BadVersion`]) it reads again and retries, so concurrent adds from any
/// number of clients (kazoo's too) all count. The handle remembers the value and version
/// its last change made, and starts the next change with the set alone: **one round trip
/// per uncontended add** (kazoo: two, a get and a set). If the set fails with
/// `BadVersion`, the node is read and the set sent again. Once an add met contention, the
/// next starts with a read, and every set goes out with a read pipelined right behind it
/// (the server answers it after the set): a set refused on its version finds the new
/// value already on its way, so each further try costs one round trip, not two.
///
/// **Concurrent adds on one handle are coalesced.** While a change of this handle (or of a
/// clone of it) is on the wire, further [`add_async`](Self::add_async) calls wait in a
/// queue; when it completes, everything queued goes out as ONE versioned set of the sum of
/// their deltas. Each caller still gets its own exact [`Change`]: the batch's changes are
/// consecutive, in call order (`pre` of each is `post` of the one before), as if they had
/// been applied one after another with nothing in between. A batch whose sum would
/// overflow is split (the first add goes alone, the rest waits for the next batch). Many
/// adds in flight on one handle thus cost one round trip per batch, not one (or, under
/// contention, several) per add, so they are not limited by the server's rate of versioned
/// writes. Everything below (retries, a lost reply) applies to a batch as to one add.
///
/// **A lost reply.** Adding is not idempotent: when the set's reply is lost
/// ([`Error::ConnectionLoss`], session expiry) kazoo adds a second time. Here the node is
/// read back: if its version is still the one the set expected, the set was not applied and
/// is sent again; if the version is one more and the value is exactly what the set wrote,
/// it was applied and the add succeeds; anything else (other clients changed the counter
/// meanwhile) cannot be told apart and fails with [`RecipeError::OutcomeUnknown`], whose
/// [`may_have_been_applied`](Error::may_have_been_applied) is `true`: the caller decides.
///
/// Failed reads and sets on the connection are retried with backoff (50 ms doubling to
/// 1 s) for as long as the client runs, like kazoo's default `client.retry`; a stopped
/// client fails the change with [`Error::ConnectionClosed`]. The engine is non-blocking:
/// [`add_async`](Self::add_async) and [`value_async`](Self::value_async) work under
/// [`Client::poll_once`] and embedded in a host's `mio::Poll`; the blocking forms are
/// refused there with [`LoopError::Embedded`](crate::LoopError::Embedded).
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let zk = mio_zookeeper::Client::new(&server.connect_string())?;
/// # zk.start(None)?;
/// use mio_zookeeper::recipe::{Counter, CounterFormat};
///
/// let hits = Counter::new(&zk, "/stats/hits")?;
/// assert_eq!(hits.value()?, 0);
/// let change = hits.add(5)?;
/// assert_eq!((change.pre, change.post), (0, 5));
/// hits.sub(2)?;
/// assert_eq!(hits.value()?, 3);
/// assert_eq!(zk.get("/stats/hits", None)?.0.as_deref(), Some(&b"3"[..]));
///
/// // Curator's 4-byte form (kazoo's support_curator=True), starting from 10.
/// let shared = Counter::new(&zk, "/stats/shared")?
///     .format(CounterFormat::Curator)
///     .default(10);
/// shared.add(1)?;
/// assert_eq!(zk.get("/stats/shared", None)?.0.as_deref(), Some(&[0u8, 0, 0, 11][..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Counter<H: Handler = MioHandler>(Rc<Inner<H>>);

impl<H: Handler> Clone for Counter<H> {
    fn clone(&self) -> Self {
        Counter(self.0.clone())
    }
}

struct Inner<H: Handler> {
    client: WeakClient<H>,
    handler: H,
    path: String,
    default: Cell<i64>,
    format: Cell<CounterFormat>,
    /// The value and version the last change of this handle left, if the next change may
    /// start from them (set first).
    last: Cell<Option<(i64, i32)>>,
    /// The last change of this handle met contention.
    contended: Cell<bool>,
    /// A batch of adds is on the wire.
    busy: Cell<bool>,
    /// Adds waiting for the next batch, in call order.
    queue: RefCell<VecDeque<Pending>>,
}

/// One add waiting in a batch: its delta and its caller's result.
type Pending = (i64, AsyncResult<Change>);

impl<H: Handler> fmt::Debug for Counter<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counter")
            .field("path", &self.0.path)
            .field("default", &self.0.default.get())
            .field("format", &self.0.format.get())
            .finish()
    }
}

impl<H: Handler> Counter<H> {
    /// A counter at `path` (nothing is sent yet; the node is created by the first read or
    /// change), with default `0` and kazoo's [`CounterFormat::Decimal`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] for a path ZooKeeper would refuse.
    pub fn new(client: &Client<H>, path: &str) -> Result<Counter<H>, Error> {
        crate::validate_path(path, false)?;
        Ok(Counter(Rc::new(Inner {
            client: client.downgrade(),
            handler: client.handler().clone(),
            path: path.to_string(),
            default: Cell::new(0),
            format: Cell::new(CounterFormat::Decimal),
            last: Cell::new(None),
            contended: Cell::new(false),
            busy: Cell::new(false),
            queue: RefCell::new(VecDeque::new()),
        })))
    }

    /// The value of a node with empty (or null) data (kazoo's `default`).
    pub fn default(self, value: i64) -> Counter<H> {
        self.0.default.set(value);
        self
    }

    /// How the value is written ([`CounterFormat::Curator`] is kazoo's
    /// `support_curator=True`).
    pub fn format(self, format: CounterFormat) -> Counter<H> {
        self.0.format.set(format);
        self.0.last.set(None);
        self
    }

    /// The counter's path.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// Adds `delta` (kazoo's `counter += delta`), blocking until the change is made.
    ///
    /// # Errors
    ///
    /// [`Error::BadArgument`] when the result overflows `i64` (or `i32` in the Curator
    /// format); [`RecipeError::BadData`] when the node holds something else than a
    /// counter; [`RecipeError::OutcomeUnknown`] when a lost reply left it unknown whether
    /// the change was made (see the type's docs); [`Error::ConnectionClosed`] when the
    /// client stops; [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded
    /// loop.
    pub fn add(&self, delta: i64) -> Result<Change, Error> {
        self.blocking("Counter::add", || self.add_async(delta))
    }

    /// Subtracts `delta` (kazoo's `counter -= delta`); as [`add`](Self::add).
    pub fn sub(&self, delta: i64) -> Result<Change, Error> {
        self.blocking("Counter::sub", || self.sub_async(delta))
    }

    /// Non-blocking form of [`sub`](Self::sub).
    pub fn sub_async(&self, delta: i64) -> AsyncResult<Change> {
        match delta.checked_neg() {
            Some(d) => self.add_async(d),
            None => self.failed(Error::BadArgument(format!("cannot subtract {delta}"))),
        }
    }

    /// Non-blocking form of [`add`](Self::add): the change runs on the loop. While an
    /// earlier change of this handle is on the wire, the add waits and goes out with the
    /// others queued meanwhile in one set (see the type's docs).
    pub fn add_async(&self, delta: i64) -> AsyncResult<Change> {
        let out = self.0.handler.async_result();
        self.0.queue.borrow_mut().push_back((delta, out.clone()));
        if !self.0.busy.get() {
            start_batch(&self.0);
        }
        out
    }

    /// The current value (kazoo's `counter.value`), blocking; creates the node if missing.
    ///
    /// # Errors
    ///
    /// [`RecipeError::BadData`] when the node holds something else than a counter; the
    /// client's errors ([`Error::ConnectionClosed`], `NoAuth`, …).
    pub fn value(&self) -> Result<i64, Error> {
        self.blocking("Counter::value", || self.value_async())
    }

    /// Non-blocking form of [`value`](Self::value).
    pub fn value_async(&self) -> AsyncResult<i64> {
        let out = self.0.handler.async_result();
        let inner = self.0.clone();
        let o = out.clone();
        let backoff = Rc::new(Backoff::new(
            self.0.handler.event_loop(),
            BACKOFF_FIRST,
            BACKOFF_MAX,
        ));
        fetch(&self.0, backoff, move |r| {
            let _ = o.set_result(r.and_then(|(d, _)| inner.parse(d.as_deref())));
        });
        out
    }

    fn failed<T: 'static>(&self, e: Error) -> AsyncResult<T> {
        let r = self.0.handler.async_result();
        let _ = r.set_exception(e);
        r
    }

    fn blocking<T: 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce() -> AsyncResult<T>,
    ) -> Result<T, Error> {
        let client = self.0.client.upgrade().ok_or(Error::ConnectionClosed)?;
        client.refuse_if_embedded(what)?;
        f().take(true, None)
    }
}

impl<H: Handler> Inner<H> {
    /// The value in `data`.
    fn parse(&self, data: Option<&[u8]>) -> Result<i64, Error> {
        match self.format.get().decode(data) {
            Ok(v) => Ok(v.unwrap_or(self.default.get())),
            Err(reason) => Err(RecipeError::BadData {
                path: self.path.clone(),
                reason,
            }
            .into()),
        }
    }
}

/// Sends everything queued on `inner` as one change (nothing if the queue is empty).
fn start_batch<H: Handler>(inner: &Rc<Inner<H>>) {
    let mut adds = Vec::new();
    let mut delta = 0i64;
    {
        let mut queue = inner.queue.borrow_mut();
        // The longest run of queued adds whose sum fits (at least one).
        while let Some(&(d, _)) = queue.front() {
            match delta.checked_add(d) {
                Some(sum) => delta = sum,
                None => break,
            }
            adds.extend(queue.pop_front());
        }
    }
    if adds.is_empty() {
        inner.busy.set(false);
        return;
    }
    inner.busy.set(true);
    let op = Rc::new(Op {
        inner: inner.clone(),
        delta: Cell::new(delta),
        adds: RefCell::new(adds),
        attempt: Cell::new(None),
        unknown: Cell::new(false),
        contended: Cell::new(false),
        peek: RefCell::new(None),
        retry: Rc::new(Backoff::new(
            inner.handler.event_loop(),
            BACKOFF_FIRST,
            BACKOFF_MAX,
        )),
    });
    match inner.last.take() {
        Some((value, version)) => op.set_from(value, version),
        None => op.read(),
    }
}

/// A node's data and stat, as `get` returns them.
type NodeRead = (Option<Bytes>, Stat);
type Read = Result<NodeRead, Error>;

/// Reads the counter's node, creating it first if missing (kazoo's `ensure_path`), and
/// retrying failures on the connection with `backoff` while the client runs.
fn fetch<H: Handler>(
    inner: &Rc<Inner<H>>,
    backoff: Rc<Backoff>,
    done: impl FnOnce(Read) + 'static,
) {
    let Some(client) = inner.client.upgrade() else {
        return done(Err(Error::ConnectionClosed));
    };
    let inner = inner.clone();
    client
        .get_async(&inner.path, None)
        .rawlink(move |r| match r.get_nowait() {
            Ok(read) => done(Ok(read)),
            Err(e) if e.is_no_node() => {
                let Some(client) = inner.client.upgrade() else {
                    return done(Err(Error::ConnectionClosed));
                };
                // kazoo's ensure_path writes empty data; the Curator format is seeded
                // with the default's 4 bytes (Curator's SharedCount cannot read an empty
                // node).
                let seed = match inner.format.get() {
                    CounterFormat::Curator => CounterFormat::Curator
                        .encode(inner.default.get())
                        .unwrap_or_default(),
                    CounterFormat::Decimal => Vec::new(),
                };
                let path = inner.path.clone();
                ensure_node(&client, &path, seed, move |r| match r {
                    Ok(()) => fetch(&inner, backoff, done),
                    Err(e) if transient(&e) => {
                        let b = backoff.clone();
                        b.later(move || fetch(&inner, backoff, done))
                    }
                    Err(e) => done(Err(e)),
                });
            }
            Err(e) if transient(&e) => {
                let b = backoff.clone();
                b.later(move || fetch(&inner, backoff, done))
            }
            Err(e) => done(Err(e)),
        });
}

/// A failure on the connection, after which the same request may succeed: retried.
fn transient(e: &Error) -> bool {
    e.is_retryable() || e.is_session_expired()
}

fn is_bad_version(e: &Error) -> bool {
    matches!(
        e,
        Error::ZooKeeper(ZkError {
            code: ErrorCode::BadVersion,
            ..
        })
    )
}

/// One set sent: the version it expected, and the change it makes.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    version: i32,
    change: Change,
}

/// One batch of adds on the loop: one change of their summed delta.
struct Op<H: Handler> {
    inner: Rc<Inner<H>>,
    /// The sum of the batch's deltas.
    delta: Cell<i64>,
    /// The batch, in call order.
    adds: RefCell<Vec<Pending>>,
    /// The last set sent.
    attempt: Cell<Option<Attempt>>,
    /// A set's reply was lost: whether it was applied is not known yet.
    unknown: Cell<bool>,
    /// A set of this add failed on its version (the counter is contended).
    contended: Cell<bool>,
    /// A read sent right behind the last set (contended mode).
    peek: RefCell<Option<AsyncResult<NodeRead>>>,
    retry: Rc<Backoff>,
}

impl<H: Handler> Op<H> {
    /// Resolves every add of the batch (their consecutive changes, or the error), then
    /// starts the next batch.
    fn finish(&self, res: Result<Change, Error>) {
        self.retry.cancel();
        let adds = self.adds.take();
        match res {
            Ok(change) => {
                let mut pre = change.pre;
                for (delta, out) in adds {
                    // In range: every partial sum was checked before the set was sent.
                    let post = pre.wrapping_add(delta);
                    let _ = out.set(Change { pre, post });
                    pre = post;
                }
            }
            Err(e) => {
                for (_, out) in adds {
                    let _ = out.set_exception(e.clone());
                }
            }
        }
        start_batch(&self.inner);
    }

    /// Reads the node, then sets from what it holds (or, after a lost reply, decides).
    fn read(self: &Rc<Self>) {
        let op = self.clone();
        fetch(&self.inner, self.retry.clone(), move |r| match r {
            Ok((data, stat)) => op.after_read(data, stat),
            Err(e) => op.finish(Err(e)),
        });
    }

    /// The set failed on its version: the read sent right behind it (the server answers it
    /// after the failed set, so it shows a newer version) saves a round trip; without one,
    /// read now.
    fn reread(self: &Rc<Self>) {
        let Some(peek) = self.peek.take() else {
            return self.read();
        };
        let op = self.clone();
        peek.rawlink(move |r| match r.get_nowait() {
            Ok((data, stat)) => op.after_read(data, stat),
            Err(_) => op.read(),
        });
    }

    fn after_read(self: &Rc<Self>, data: Option<Bytes>, stat: Stat) {
        let value = match self.inner.parse(data.as_deref()) {
            Ok(v) => v,
            Err(e) => return self.finish(Err(e)),
        };
        match self.attempt.get() {
            Some(a) if self.unknown.get() => {
                if stat.version == a.version {
                    // Not applied (a set never lowers the version): send it again.
                    self.set_from(value, stat.version)
                } else if stat.version == a.version.wrapping_add(1) && value == a.change.post {
                    self.done(a.change, stat.version)
                } else {
                    self.finish(Err(RecipeError::OutcomeUnknown {
                        path: self.inner.path.clone(),
                    }
                    .into()))
                }
            }
            _ => self.set_from(value, stat.version),
        }
    }

    fn done(&self, change: Change, version: i32) {
        // Uncontended, the next add starts with the set alone; contended, with a read,
        // and every set carries a read right behind it.
        let contended = self.contended.get();
        self.inner.contended.set(contended);
        if !contended {
            self.inner.last.set(Some((change.post, version)));
        }
        self.finish(Ok(change))
    }

    /// Sends the set that adds `delta` to `value`, expecting `version`.
    fn set_from(self: &Rc<Self>, value: i64, version: i32) {
        // Every add of the batch must land in range as if applied alone, one after another:
        // the adds after the first that would not go to the next batch (where each gets
        // its own verdict).
        let format = self.inner.format.get();
        let fits = |v: i64| format != CounterFormat::Curator || i32::try_from(v).is_ok();
        let mut post = value;
        let mut ok = 0;
        for &(d, _) in self.adds.borrow().iter() {
            match post.checked_add(d) {
                Some(p) if fits(p) => post = p,
                _ => break,
            }
            ok += 1;
        }
        let n = self.adds.borrow().len();
        if n > 1 && ok < n && !self.unknown.get() {
            let keep = ok.max(1);
            let rest: Vec<Pending> = self.adds.borrow_mut().drain(keep..).collect();
            let mut queue = self.inner.queue.borrow_mut();
            for p in rest.into_iter().rev() {
                queue.push_front(p);
            }
            drop(queue);
            let sum = self
                .adds
                .borrow()
                .iter()
                .map(|a| a.0)
                .fold(0i64, i64::wrapping_add);
            self.delta.set(sum);
        }
        let Some(post) = value.checked_add(self.delta.get()) else {
            return self.finish(Err(Error::BadArgument(format!(
                "{value} + {} overflows the counter at {}",
                self.delta.get(),
                self.inner.path
            ))));
        };
        let data = match format.encode(post) {
            Ok(d) => d,
            Err(e) => return self.finish(Err(e)),
        };
        let Some(client) = self.inner.client.upgrade() else {
            return self.finish(Err(Error::ConnectionClosed));
        };
        let attempt = Attempt {
            version,
            change: Change { pre: value, post },
        };
        self.attempt.set(Some(attempt));
        let op = self.clone();
        let set = client.set_async(&self.inner.path, data, Some(version));
        if self.contended.get() || self.inner.contended.get() {
            self.peek
                .replace(Some(client.get_async(&self.inner.path, None)));
        }
        set.rawlink(move |r| match r.get_nowait() {
            Ok(stat) => op.done(attempt.change, stat.version),
            Err(e) if is_bad_version(&e) => {
                op.contended.set(true);
                op.reread()
            }
            Err(e) if transient(&e) => {
                op.unknown.set(true);
                let o = op.clone();
                op.retry.later(move || o.read())
            }
            // Deleted meanwhile: unless a lost set may have been applied before, the
            // read recreates it and the add starts over.
            Err(e) if e.is_no_node() && !op.unknown.get() => op.read(),
            Err(e) if e.is_no_node() => op.finish(Err(RecipeError::OutcomeUnknown {
                path: op.inner.path.clone(),
            }
            .into())),
            Err(e) => op.finish(Err(e)),
        });
    }
}
