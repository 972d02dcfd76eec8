//! [`Semaphore`]: kazoo's counting semaphore, on kazoo's wire format.

mod engine;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use self::engine::{Phase, Shared};
use super::error::RecipeError;
use crate::handler::{Handler, MioHandler};
use crate::{AsyncResult, Client, Error};

/// A distributed counting semaphore (kazoo's `Semaphore`): at most `max_leases` holders at
/// once, wire-compatible with kazoo, so a kazoo `Semaphore` on the same path and this one
/// share the leases.
///
/// **On the wire (kazoo's, exactly).** The `path` node holds `max_leases` as decimal ASCII,
/// written only by the client that created it; a semaphore whose `path` already holds a
/// different number is refused with [`RecipeError::MaxLeasesMismatch`] (kazoo raises
/// `ValueError`), and data that is not a number is ignored. Contenders take turns through
/// a [`Lock`](super::Lock) at the sibling path `path + "-__lock__"`; under it, the one
/// holding the internal lock lists the children of `path` and, if fewer than `max_leases`,
/// creates its lease: the ephemeral node `path/<uuid hex>` (one name per object) holding
/// the identifier. Only the internal lock's holder watches the leases while they are all
/// taken, so a release wakes one waiter, not all.
///
/// **Where it differs from kazoo (and is right):** one deadline covers the whole acquire,
/// the internal lock's wait included (#605); the internal lock is released after every
/// attempt, whatever its outcome (#429), and a lease is only counted and created under it
/// (#213); a timed-out, cancelled or failed acquire leaves no lease and no internal lock
/// node (deleted in the background until that succeeds or the session is gone, #732) and
/// no watcher or listener (#175); waits re-check after every reconnect (#282); a second
/// acquire while holding fails at once with [`RecipeError::AlreadyAcquired`]; a holder
/// learns of a loss ([`is_held`](Self::is_held), [`on_lost`](Self::on_lost)). After a
/// session expiry during an acquire it starts over on the new session (as kazoo).
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let zk = mio_zookeeper::Client::new(&server.connect_string())?;
/// # zk.start(None)?;
/// use std::time::Duration;
/// use mio_zookeeper::recipe::Semaphore;
///
/// let a = Semaphore::new(&zk, "/sem/pool", "worker-a", 2)?;
/// let b = Semaphore::new(&zk, "/sem/pool", "worker-b", 2)?;
/// let c = Semaphore::new(&zk, "/sem/pool", "worker-c", 2)?;
/// a.acquire(Some(Duration::from_secs(10)))?;
/// assert!(b.try_acquire()?);
/// assert!(!c.try_acquire()?); // both leases are taken
/// let mut holders = a.lease_holders()?;
/// holders.sort();
/// assert_eq!(holders, ["worker-a", "worker-b"]);
/// a.release()?;
/// assert!(c.try_acquire()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Semaphore<H: Handler = MioHandler>(Rc<Shared<H>>);

impl<H: Handler> Clone for Semaphore<H> {
    fn clone(&self) -> Self {
        Semaphore(self.0.clone())
    }
}

impl<H: Handler> fmt::Debug for Semaphore<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("path", &self.0.path)
            .field("max_leases", &self.0.max_leases)
            .field("held", &self.is_held())
            .finish()
    }
}

impl<H: Handler> Semaphore<H> {
    /// A semaphore of `max_leases` leases on `path`, for the holder `identifier` (its
    /// lease node's data; [`lease_holders`](Self::lease_holders) lists it). Nothing is
    /// sent until an acquire.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] for a bad `path` (or the root); [`Error::BadArgument`] for
    /// `max_leases == 0`.
    pub fn new(
        client: &Client<H>,
        path: &str,
        identifier: &str,
        max_leases: u32,
    ) -> Result<Semaphore<H>, Error> {
        crate::validate_path(path, false)?;
        if path == "/" {
            return Err(Error::BadArgument(
                "a semaphore path must not be the root".to_string(),
            ));
        }
        if max_leases == 0 {
            return Err(Error::BadArgument(
                "a semaphore needs max_leases of at least 1".to_string(),
            ));
        }
        Ok(Semaphore(Rc::new(Shared {
            client: client.downgrade(),
            handler: client.handler().clone(),
            path: path.to_string(),
            lock_path: format!("{path}-__lock__"),
            lease: format!("{path}/{}", super::random_uuid().replace('-', "")),
            identifier: identifier.to_string(),
            data: Bytes::copy_from_slice(identifier.as_bytes()),
            max_leases,
            assured: Cell::new(false),
            phase: RefCell::new(Phase::Idle),
            lost_fns: RefCell::new(Vec::new()),
        })))
    }

    /// The semaphore's path.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// The number of leases this object was made with.
    pub fn max_leases(&self) -> u32 {
        self.0.max_leases
    }

    /// Our lease node's path (`path/<uuid hex>`), whether or not it exists.
    pub fn lease_node(&self) -> &str {
        &self.0.lease
    }

    /// Acquires a lease, waiting at most `timeout` in all (`None`: no limit), without
    /// blocking: the engine runs on the loop. Fails with [`Error::Timeout`] at the
    /// deadline, [`RecipeError::Cancelled`] after [`cancel`](Self::cancel),
    /// [`RecipeError::MaxLeasesMismatch`] if `path` records another count,
    /// [`RecipeError::AlreadyAcquired`] at once if this object holds or is acquiring a
    /// lease. Connection losses and session expiries are ridden out until the deadline.
    pub fn acquire_async(&self, timeout: Option<Duration>) -> AsyncResult<()> {
        let inner = self.0.acquire(true, timeout);
        let out: AsyncResult<()> = self.0.handler.async_result();
        let o = out.clone();
        inner.rawlink(move |r| {
            let _ = o.set_result(r.get_nowait().map(|_| ()));
        });
        out
    }

    /// Blocking form of [`acquire_async`](Self::acquire_async).
    ///
    /// # Errors
    ///
    /// Those of `acquire_async`; [`LoopError::Embedded`](crate::LoopError::Embedded) on
    /// an embedded loop.
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<(), Error> {
        self.refuse("Semaphore::acquire")?;
        self.acquire_async(timeout).get(true, None)
    }

    /// kazoo's `acquire(blocking=False)`: takes a lease if one is free now (the internal
    /// lock is still waited for; it is held only briefly): `true` if now held.
    pub fn try_acquire_async(&self) -> AsyncResult<bool> {
        self.0.acquire(false, None)
    }

    /// Blocking form of [`try_acquire_async`](Self::try_acquire_async).
    pub fn try_acquire(&self) -> Result<bool, Error> {
        self.refuse("Semaphore::try_acquire")?;
        self.try_acquire_async().get(true, None)
    }

    /// Cancels a pending acquire: it fails with [`RecipeError::Cancelled`]; what it
    /// created is deleted in the background.
    pub fn cancel(&self) {
        self.0.cancel()
    }

    /// Releases the lease (deletes our node, retrying connection losses). Releasing when
    /// not held is `Ok`; a pending acquire is cancelled.
    pub fn release_async(&self) -> AsyncResult<()> {
        self.0.release()
    }

    /// Blocking form of [`release_async`](Self::release_async).
    pub fn release(&self) -> Result<(), Error> {
        self.refuse("Semaphore::release")?;
        self.release_async().get(true, None)
    }

    /// Whether this object holds a lease now (false once lost, not only after release).
    pub fn is_held(&self) -> bool {
        self.0.is_held()
    }

    /// Calls `f` (from the loop) each time a held lease is lost: the session expired or
    /// our lease node was deleted by someone else. Not called for a release.
    pub fn on_lost(&self, f: impl Fn(&RecipeError) + 'static) {
        self.0.lost_fns.borrow_mut().push(Rc::new(f));
    }

    /// kazoo's `lease_holders()`: the identifiers of the current holders (their lease
    /// nodes' data), unordered; empty if `path` does not exist.
    pub fn lease_holders_async(&self) -> AsyncResult<Vec<String>> {
        let Some(client) = self.0.client.upgrade() else {
            return self
                .0
                .failed(Error::Recipe(RecipeError::Stopped { what: "Semaphore" }));
        };
        let out: AsyncResult<Vec<String>> = client.handler().async_result();
        let (o, c, path) = (out.clone(), client.clone(), self.0.path.clone());
        client.get_children_async(&path, None).rawlink(move |r| {
            let children = match r.get_nowait() {
                Ok(ch) => ch,
                Err(e) if e.is_no_node() => Vec::new(),
                Err(e) => return drop(o.set_exception(e)),
            };
            read_all(&c, &path, children, o);
        });
        out
    }

    /// Blocking form of [`lease_holders_async`](Self::lease_holders_async).
    pub fn lease_holders(&self) -> Result<Vec<String>, Error> {
        self.refuse("Semaphore::lease_holders")?;
        self.lease_holders_async().get(true, None)
    }

    fn refuse(&self, what: &'static str) -> Result<(), Error> {
        match self.0.client.upgrade() {
            Some(c) => c.refuse_if_embedded(what),
            None => Err(Error::Recipe(RecipeError::Stopped { what: "Semaphore" })),
        }
    }
}

/// Reads the data of `names` under `path` (pipelined) into `out`; a node gone meanwhile
/// is left out.
fn read_all<H: Handler>(
    c: &Client<H>,
    path: &str,
    names: Vec<String>,
    out: AsyncResult<Vec<String>>,
) {
    let n = names.len();
    if n == 0 {
        let _ = out.set(Vec::new());
        return;
    }
    let slots: Rc<RefCell<Vec<Option<String>>>> = Rc::new(RefCell::new(vec![None; n]));
    let left = Rc::new(Cell::new(n));
    for (i, name) in names.iter().enumerate() {
        let (slots, left, out) = (slots.clone(), left.clone(), out.clone());
        c.get_async(&format!("{path}/{name}"), None)
            .rawlink(move |r| {
                match r.get_nowait() {
                    Ok((data, _)) => {
                        let d = data.unwrap_or_default();
                        slots.borrow_mut()[i] = Some(String::from_utf8_lossy(&d).into_owned());
                    }
                    Err(e) if e.is_no_node() => {}
                    Err(e) => {
                        let _ = out.set_exception(e);
                    }
                }
                left.set(left.get() - 1);
                if left.get() == 0 && !out.ready() {
                    let _ = out.set(slots.borrow_mut().drain(..).flatten().collect());
                }
            });
    }
}
