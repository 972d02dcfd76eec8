//! Protected creates (Curator's protection mode): a create whose reply was lost is found
//! again by a unique id in the node's name instead of being created twice; an ephemeral
//! node of another session is never taken for ours; a create that finally failed leaves no
//! node behind, because the client deletes it in the background.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::base::{timer_on, Backoff};
use crate::handler::{EventLoop, Handler, TimerId};
use crate::{AsyncResult, Client, CreateOptions, Error, Stat, WeakClient};

/// The first wait before a create (or a cleanup step) that failed with a retryable error is
/// tried again; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A random id in the textual form of a version 4 UUID (36 characters with dashes, as
/// Curator's `UUID.toString()`), from 16 random bytes of a generator seeded per process.
/// For kazoo's lock names (32 hex digits, no dashes) use `random_uuid().replace('-', "")`.
///
/// ```
/// let id = mio_zookeeper::recipe::random_uuid();
/// assert_eq!(id.len(), 36);
/// assert_ne!(id, mio_zookeeper::recipe::random_uuid());
/// ```
pub fn random_uuid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut bytes = [0u8; 16];
    for (i, half) in bytes.chunks_mut(8).enumerate() {
        // RandomState's keys are random per process (and per thread); the counter makes
        // every call differ.
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(nanos);
        h.write_usize(i);
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Where the protection id goes in the node's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdPlacement {
    /// Curator's form: `_c_<id>-<name>` (e.g. `_c_53345f98-…-lock-0000000001`).
    #[default]
    Curator,
    /// The id right before the name: `<id><name>` (kazoo's lock nodes are
    /// `<uuid hex>__lock__<sequence>`).
    Prefix,
}

/// A protected create (Curator's `withProtection()`): the node's name carries a unique id,
/// so that when a create fails with [`Error::ConnectionLoss`] (it may or may not have been
/// applied) the client lists the parent's children and finds its node by the id instead of
/// creating a second one. For a sequential mode the id comes before the sequence suffix.
///
/// - A node found by the id whose mode is ephemeral counts as ours only if its
///   `ephemeral_owner` is the client's current session (a node of another session, e.g. ours
///   before an expiry, is not taken).
/// - Retryable failures ([`Error::is_retryable`]: connection loss, timeouts) are retried
///   until the create is known to have happened or not, or until the deadline
///   ([`with_timeout`](Self::with_timeout)).
/// - If the create finally fails (an error the caller sees, the deadline, or the caller
///   setting the returned [`AsyncResult`] itself to cancel it), any node it may have created
///   is deleted in the background, on the loop, until the delete succeeds (or the node is
///   not there), or for an ephemeral node until the session that owned it is gone. The
///   cleanup outlives the call; it stops only if the client is stopped or dropped.
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let zk = mio_zookeeper::Client::new(&server.connect_string())?;
/// # zk.start(None)?;
/// use mio_zookeeper::recipe::ProtectedCreate;
/// use mio_zookeeper::CreateMode;
///
/// zk.ensure_path("/jobs", None)?;
/// let (path, stat) = ProtectedCreate::new("/jobs/job-", b"payload", CreateMode::EphemeralSequential)
///     .create(&zk)?;
/// assert!(path.starts_with("/jobs/_c_") && path.contains("-job-"));
/// assert_eq!(stat.ephemeral_owner, zk.client_id().unwrap().0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ProtectedCreate {
    path: String,
    data: Bytes,
    opts: CreateOptions,
    id: Option<String>,
    placement: IdPlacement,
    timeout: Option<Duration>,
}

impl ProtectedCreate {
    /// A protected create of `path` (`<parent>/<name>`; the id is put into `<name>`), with
    /// `data` and `opts` (a [`CreateMode`](crate::CreateMode) or [`CreateOptions`]). By
    /// default: a fresh [`random_uuid`], Curator's [`IdPlacement`], no deadline.
    pub fn new(path: &str, data: &[u8], opts: impl Into<CreateOptions>) -> ProtectedCreate {
        ProtectedCreate {
            path: path.to_string(),
            data: Bytes::copy_from_slice(data),
            opts: opts.into(),
            id: None,
            placement: IdPlacement::Curator,
            timeout: None,
        }
    }

    /// Uses `id` as the protection id (it must be unique to this create, and not contain `/`).
    pub fn with_id(mut self, id: &str) -> ProtectedCreate {
        self.id = Some(id.to_string());
        self
    }

    /// Puts the id where `placement` says.
    pub fn with_placement(mut self, placement: IdPlacement) -> ProtectedCreate {
        self.placement = placement;
        self
    }

    /// Gives up (with [`Error::Timeout`], then cleans up in the background) if the create
    /// is not known to have succeeded within `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> ProtectedCreate {
        self.timeout = Some(timeout);
        self
    }

    /// The path the node is created at (before any sequence suffix): the id placed into
    /// the name. With no id given, a fresh one is chosen (each call differs).
    pub fn protected_path(&self) -> String {
        let id = self.id.clone().unwrap_or_else(random_uuid);
        let (parent, name) = split(&self.path);
        let name = match self.placement {
            IdPlacement::Curator => format!("_c_{id}-{name}"),
            IdPlacement::Prefix => format!("{id}{name}"),
        };
        join(parent, &name)
    }

    /// Runs the create, blocking (the loop runs meanwhile) until it succeeded or failed for
    /// good; returns the node's path and stat as [`Client::create`] does.
    ///
    /// # Notable errors
    ///
    /// [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded loop (nothing is
    /// sent); [`Error::Timeout`] past [`with_timeout`](Self::with_timeout); the create's own
    /// errors ([`ErrorCode::NodeExists`](crate::ErrorCode::NodeExists), `NoNode`, …).
    pub fn create<H: Handler>(&self, client: &Client<H>) -> Result<(String, Stat), Error> {
        client.refuse_if_embedded("ProtectedCreate::create")?;
        self.create_async(client).get(true, None)
    }

    /// Non-blocking form of [`create`](Self::create): the engine runs on the loop. Setting
    /// the returned result yourself (e.g. `r.set_exception(Error::Timeout)`) cancels the
    /// create; a node it may have made is then deleted in the background.
    pub fn create_async<H: Handler>(&self, client: &Client<H>) -> AsyncResult<(String, Stat)> {
        let out = client.handler().async_result();
        if let Err(e) = crate::validate_path(&self.path, self.opts.mode.is_sequential()) {
            let _ = out.set_exception(e);
            return out;
        }
        let full = self.protected_path();
        let (parent, name) = split(&full);
        let lp = client.handler().event_loop();
        let eng = Rc::new(Engine {
            client: client.downgrade(),
            parent: parent.to_string(),
            name: name.to_string(),
            full: full.clone(),
            sequential: self.opts.mode.is_sequential(),
            ephemeral: self.opts.mode.is_ephemeral(),
            data: self.data.clone(),
            opts: self.opts.clone(),
            out: out.clone(),
            done_by_us: Cell::new(false),
            unknown: Cell::new(false),
            in_flight: Cell::new(0),
            cleaning: Cell::new(false),
            retry: Backoff::new(lp.clone(), BACKOFF_FIRST, BACKOFF_MAX),
            deadline: Cell::new(None),
            lp: lp.clone(),
        });
        if let Some(t) = self.timeout {
            eng.deadline
                .set(timer_on(&lp, t, &eng, |e| e.settle(Err(Error::Timeout))));
        }
        // The link holds the engine: whoever sets `out` (the caller's cancel too), its
        // cleanup runs, even if no step of the create is in flight any more by then (a
        // step whose reply came in between sees `out` set and stops, dropping its hold).
        // The cycle (engine -> out -> link -> engine) ends when `out` is set, which every
        // path of the engine does.
        let e = eng.clone();
        out.rawlink(move |_| e.finished());
        eng.create();
        out
    }
}

/// `path` as (parent, last name); the parent of `/a` is `/`.
fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("/", path),
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// One protected create on the loop, and after a failure its background cleanup.
struct Engine<H: Handler> {
    client: WeakClient<H>,
    lp: Rc<dyn EventLoop>,
    parent: String,
    /// The node's name with the id (the prefix of the real name for sequential modes).
    name: String,
    full: String,
    sequential: bool,
    ephemeral: bool,
    data: Bytes,
    opts: CreateOptions,
    out: AsyncResult<(String, Stat)>,
    /// The engine itself set `out` to success (any other completion starts the cleanup).
    done_by_us: Cell<bool>,
    /// A create was sent whose outcome is unknown (it failed with a retryable error).
    unknown: Cell<bool>,
    in_flight: Cell<usize>,
    cleaning: Cell<bool>,
    /// The caller's deadline.
    deadline: Cell<Option<TimerId>>,
    /// The one retry waiting (at most one at a time).
    retry: Backoff,
}

impl<H: Handler> Engine<H> {
    /// Whether a child name of the parent is one of this create's nodes.
    fn matches(&self, child: &str) -> bool {
        if self.sequential {
            child.starts_with(&self.name)
                && child.len() > self.name.len()
                && child[self.name.len()..]
                    .trim_start_matches('-')
                    .bytes()
                    .all(|b| b.is_ascii_digit())
        } else {
            child == self.name
        }
    }

    /// Whether a node found by the id is ours: for an ephemeral mode, owned by the
    /// client's current session.
    fn ours(&self, client: &Client<H>, stat: &Stat) -> bool {
        if !self.ephemeral {
            return stat.ephemeral_owner == 0;
        }
        client
            .client_id()
            .is_some_and(|(id, _)| id != 0 && id == stat.ephemeral_owner)
    }

    fn settle(self: &Rc<Self>, res: Result<(String, Stat), Error>) {
        if self.out.ready() {
            // Decided meanwhile (deadline, cancelled) before the cleanup started: a node
            // found or made now is not the caller's and goes.
            if let Ok((path, _)) = res {
                self.delete(path, |e| e.cleanup());
            }
            return;
        }
        if res.is_ok() {
            self.done_by_us.set(true);
        }
        let _ = self.out.set_result(res);
    }

    /// `out` was set (by us or by the caller): stop retrying; unless it was our success,
    /// clean up what may have been created.
    fn finished(self: &Rc<Self>) {
        if let Some(id) = self.deadline.take() {
            self.lp.cancel_timer(id);
        }
        self.retry.cancel();
        if !self.done_by_us.get() {
            self.cleaning.set(true);
            self.retry.reset();
            self.cleanup();
        }
    }

    fn later(self: &Rc<Self>, f: impl FnOnce(&Rc<Self>) + 'static) {
        let eng = self.clone();
        self.retry.later(move || f(&eng));
    }

    /// The next step of the create: after an unknown outcome look for the node first.
    fn attempt(self: &Rc<Self>) {
        if self.out.ready() {
            return;
        }
        if self.unknown.get() {
            self.find(false);
        } else {
            self.create();
        }
    }

    fn create(self: &Rc<Self>) {
        let Some(client) = self.client.upgrade() else {
            return self.settle(Err(Error::ConnectionClosed));
        };
        self.in_flight.set(self.in_flight.get() + 1);
        let eng = self.clone();
        client
            .create_async(&self.full, self.data.clone(), &self.opts)
            .rawlink(move |r| {
                eng.in_flight.set(eng.in_flight.get() - 1);
                match r.get_nowait() {
                    Ok((path, _)) if eng.cleaning.get() => eng.delete(path, |e| e.cleanup()),
                    Ok(found) => eng.settle(Ok(found)),
                    Err(e) if e.is_retryable() => {
                        eng.unknown.set(true);
                        if eng.cleaning.get() {
                            eng.cleanup();
                        } else {
                            eng.later(|e| e.attempt());
                        }
                    }
                    Err(_) if eng.cleaning.get() => eng.cleanup(),
                    Err(e) => eng.settle(Err(e)),
                }
            });
    }

    /// Lists the parent's children and checks each node carrying the id. Creating: takes
    /// the first of ours, or creates if none. Cleaning (`clean`): deletes every one of ours.
    fn find(self: &Rc<Self>, clean: bool) {
        let Some(client) = self.client.upgrade() else {
            if !clean {
                self.settle(Err(Error::ConnectionClosed));
            }
            return;
        };
        let eng = self.clone();
        client
            .get_children_async(&self.parent, None)
            .rawlink(move |r| match r.get_nowait() {
                Ok(children) => {
                    let found: Vec<String> = children
                        .into_iter()
                        .filter(|c| eng.matches(c))
                        .map(|c| join(&eng.parent, &c))
                        .collect();
                    eng.check(found, clean);
                }
                // No parent: nothing of ours exists.
                Err(e) if e.is_no_node() => eng.check(Vec::new(), clean),
                Err(e) if e.is_retryable() => eng.retry(clean),
                Err(e) if clean => log::warn!(
                    "protected create of {}: cleanup stopped, listing failed: {e}",
                    eng.full
                ),
                Err(e) => eng.settle(Err(e)),
            });
    }

    fn retry(self: &Rc<Self>, clean: bool) {
        if clean {
            self.later(|e| e.cleanup());
        } else {
            self.later(|e| e.attempt());
        }
    }

    /// Checks the candidates one by one (normally there is at most one).
    fn check(self: &Rc<Self>, mut found: Vec<String>, clean: bool) {
        if !clean && self.out.ready() {
            return;
        }
        let Some(path) = found.pop() else {
            // None of ours is left: cleaning is over; creating creates.
            if !clean {
                self.unknown.set(false);
                self.create();
            }
            return;
        };
        let Some(client) = self.client.upgrade() else {
            if !clean {
                self.settle(Err(Error::ConnectionClosed));
            }
            return;
        };
        let eng = self.clone();
        client
            .exists_async(&path, None)
            .rawlink(move |r| match r.get_nowait() {
                Ok(Some(stat)) => {
                    let Some(client) = eng.client.upgrade() else {
                        return;
                    };
                    if !eng.ours(&client, &stat) {
                        return eng.check(found, clean);
                    }
                    if clean {
                        eng.delete(path, move |eng| eng.check(found, true));
                    } else {
                        eng.settle(Ok((path, stat)));
                    }
                }
                Ok(None) => eng.check(found, clean),
                Err(e) if e.is_retryable() => eng.retry(clean),
                Err(e) if clean => {
                    log::warn!("protected create of {}: cleanup stopped: {e}", eng.full)
                }
                Err(e) => eng.settle(Err(e)),
            });
    }

    /// The background cleanup of a failed create: waits for creates still in flight (each
    /// calls here again when it ends), then finds and deletes every node of ours.
    fn cleanup(self: &Rc<Self>) {
        if self.in_flight.get() > 0 || !self.unknown.get() {
            return;
        }
        self.find(true);
    }

    /// Deletes `path` until that succeeds or it is gone, then `next`.
    fn delete(self: &Rc<Self>, path: String, next: impl FnOnce(&Rc<Self>) + 'static) {
        let Some(client) = self.client.upgrade() else {
            return;
        };
        let eng = self.clone();
        client
            .delete_async(&path, None)
            .rawlink(move |r| match r.get_nowait() {
                Ok(()) => next(&eng),
                Err(e) if e.is_no_node() => next(&eng),
                // Ours no more: the session that owned it is gone, and the node with it.
                Err(e) if e.is_session_expired() && eng.ephemeral => {}
                Err(e) if e.is_retryable() => {
                    let eng2 = eng.clone();
                    eng.later(move |_| eng2.delete(path, next));
                }
                Err(e) => log::warn!("protected create: could not delete {path}: {e}"),
            });
    }
}
