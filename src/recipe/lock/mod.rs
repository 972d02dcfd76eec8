//! [`Lock`], [`ReadLock`] and [`WriteLock`]: kazoo's locks, on kazoo's wire format.

mod contenders;
mod engine;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use self::contenders::contenders;
use self::engine::{Phase, Shared};
use super::error::RecipeError;
use crate::handler::{Handler, MioHandler};
use crate::{AsyncResult, Client, Error};

/// Which kind of lock node, and which earlier nodes exclude it.
#[derive(Clone, Copy)]
pub(crate) struct Kind {
    node_name: &'static str,
    excluding: &'static [&'static str],
    what: &'static str,
}

const MUTEX: Kind = Kind {
    node_name: "__lock__",
    excluding: &["__lock__"],
    what: "Lock",
};
const READ: Kind = Kind {
    node_name: "__rlock__",
    excluding: &["__lock__"],
    what: "ReadLock",
};
const WRITE: Kind = Kind {
    node_name: "__lock__",
    excluding: &["__lock__", "__rlock__"],
    what: "WriteLock",
};

/// A distributed lock (kazoo's `Lock`), wire-compatible with kazoo: a kazoo `Lock` on the
/// same path and this one exclude each other, and each lists the other in `contenders()`.
///
/// **On the wire.** Each contender creates an ephemeral sequential node
/// `<path>/<uuid hex>__lock__<sequence>` holding its identifier (UTF-8); the uuid is chosen
/// once per lock object and reused on every acquire. The parent is created as kazoo's
/// `ensure_path` does (persistent, empty). The contenders are the children named with a
/// lock marker and a sequence suffix; the lowest holds the lock, and every other one
/// watches (getData) only the contender right before it. Sequences are compared as
/// numbers across the signed wrap (kazoo compares strings: its #606), and other children
/// of the path are ignored.
///
/// **Where it differs from kazoo (and is right):** one deadline for the whole acquire
/// (#605); a second acquire on a held lock fails at once with
/// [`RecipeError::AlreadyAcquired`]; every wait re-checks after each reconnect (#282); a
/// contender node left by a failed, timed-out or cancelled acquire is deleted in the
/// background until that succeeds or its session is gone (#732); a finished wait leaves no
/// watcher or listener (#175); and a holder learns of a loss: [`is_held`](Self::is_held)
/// turns false and [`on_lost`](Self::on_lost) callbacks run (the session expired, or
/// someone deleted our node: #565). The create is a [`ProtectedCreate`](super::ProtectedCreate)
/// with the uuid as id, so a create whose reply was lost is found again, never made twice.
///
/// The engine runs on the loop: [`acquire_async`](Self::acquire_async) works under
/// [`Client::poll_once`] and embedded in a host's `mio::Poll`; [`acquire`](Self::acquire)
/// is its blocking convenience (refused when embedded).
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let zk = mio_zookeeper::Client::new(&server.connect_string())?;
/// # zk.start(None)?;
/// use std::time::Duration;
/// use mio_zookeeper::recipe::Lock;
///
/// let lock = Lock::new(&zk, "/locks/job", "worker-1")?;
/// lock.acquire(Some(Duration::from_secs(10)))?;
/// assert!(lock.is_held());
/// assert_eq!(lock.contenders()?, ["worker-1"]);
/// let other = Lock::new(&zk, "/locks/job", "worker-2")?;
/// assert!(!other.try_acquire()?); // the first one holds it
/// lock.release()?;
/// assert!(other.try_acquire()?);
/// other.release()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Lock<H: Handler = MioHandler>(Rc<Shared<H>>, Kind);

impl<H: Handler> Clone for Lock<H> {
    fn clone(&self) -> Self {
        Lock(self.0.clone(), self.1)
    }
}

impl<H: Handler> fmt::Debug for Lock<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.1.what)
            .field("path", &self.0.path)
            .field("held", &self.is_held())
            .field("node", &self.node())
            .finish()
    }
}

impl<H: Handler> Lock<H> {
    /// A lock on `path` for the contender `identifier` (stored as its node's data; kazoo's
    /// `contenders()` shows it). Nothing is sent until an acquire.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] for a bad `path`.
    pub fn new(client: &Client<H>, path: &str, identifier: &str) -> Result<Lock<H>, Error> {
        Lock::of_kind(client, path, identifier, MUTEX)
    }

    pub(crate) fn of_kind(
        client: &Client<H>,
        path: &str,
        identifier: &str,
        kind: Kind,
    ) -> Result<Lock<H>, Error> {
        crate::validate_path(path, false)?;
        if path == "/" {
            return Err(Error::BadArgument(
                "a lock path must not be the root".to_string(),
            ));
        }
        let prefix = format!(
            "{}{}",
            super::random_uuid().replace('-', ""),
            kind.node_name
        );
        Ok(Lock(
            Rc::new(Shared {
                client: client.downgrade(),
                handler: client.handler().clone(),
                path: path.to_string(),
                prefix,
                node_name: kind.node_name,
                excluding: RefCell::new(kind.excluding.iter().map(|s| s.to_string()).collect()),
                ephemeral: Cell::new(true),
                data: Bytes::copy_from_slice(identifier.as_bytes()),
                assured: Cell::new(false),
                phase: RefCell::new(Phase::Idle),
                lost_fns: RefCell::new(Vec::new()),
            }),
            kind,
        ))
    }

    /// kazoo's `extra_lock_patterns`: children named with one of `names` followed by a
    /// sequence suffix also count as contenders (e.g. `"-lock-"` for Curator's or go-zk's
    /// nodes). Unlike kazoo these are **literal** markers, not regular expressions.
    pub fn extra_lock_patterns(self, names: &[&str]) -> Lock<H> {
        {
            let mut ex = self.0.excluding.borrow_mut();
            for n in names {
                if !n.is_empty() && !ex.iter().any(|e| e == n) {
                    ex.push(n.to_string());
                }
            }
        }
        self
    }

    /// Whether our node is ephemeral (the default; kazoo's `acquire(ephemeral=False)` is
    /// `ephemeral(false)`: the node then outlives the session, and the lock is held until
    /// released or the node deleted).
    pub fn ephemeral(self, yes: bool) -> Lock<H> {
        self.0.ephemeral.set(yes);
        self
    }

    /// The lock's path.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// Acquires the lock, waiting at most `timeout` in all (`None`: no limit), without
    /// blocking: the engine runs on the loop. The result fails with [`Error::Timeout`] at
    /// the deadline, [`RecipeError::Cancelled`] after [`cancel`](Self::cancel),
    /// [`RecipeError::AlreadyAcquired`] at once if this object holds or is acquiring the
    /// lock; in each case the node it made is deleted in the background. Connection losses
    /// and session expiries are ridden out (on a new session the node is created again)
    /// until the deadline.
    pub fn acquire_async(&self, timeout: Option<Duration>) -> AsyncResult<()> {
        let inner = self.0.acquire(true, timeout);
        let out: AsyncResult<()> = self.0.handler.async_result();
        if inner.ready() {
            let _ = out.set_result(inner.get_nowait().map(|_| ()));
            return out;
        }
        let o = out.clone();
        inner.rawlink(move |r| {
            let _ = o.set_result(r.get_nowait().map(|_| ()));
        });
        out
    }

    /// Blocking form of [`acquire_async`](Self::acquire_async): runs the loop until the
    /// lock is held or the acquire failed.
    ///
    /// # Errors
    ///
    /// Those of `acquire_async`, and [`LoopError::Embedded`](crate::LoopError::Embedded)
    /// on an embedded loop (nothing is sent).
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<(), Error> {
        self.refuse("Lock::acquire")?;
        self.acquire_async(timeout).get(true, None)
    }

    /// kazoo's `acquire(blocking=False)`: takes the lock if no earlier contender holds it,
    /// and otherwise gives up at once (deleting its node): `true` if now held.
    pub fn try_acquire_async(&self) -> AsyncResult<bool> {
        self.0.acquire(false, None)
    }

    /// Blocking form of [`try_acquire_async`](Self::try_acquire_async).
    pub fn try_acquire(&self) -> Result<bool, Error> {
        self.refuse("Lock::try_acquire")?;
        self.try_acquire_async().get(true, None)
    }

    /// Cancels a pending acquire: it fails with [`RecipeError::Cancelled`] and its node is
    /// deleted in the background. Nothing happens if none is pending.
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// Releases the lock: deletes our node, retrying connection losses (a node already
    /// gone is fine). Releasing a lock that is not held (never acquired, or lost) is `Ok`;
    /// a pending acquire is cancelled.
    pub fn release_async(&self) -> AsyncResult<()> {
        self.0.release()
    }

    /// Blocking form of [`release_async`](Self::release_async).
    pub fn release(&self) -> Result<(), Error> {
        self.refuse("Lock::release")?;
        self.release_async().get(true, None)
    }

    /// Whether this object holds the lock now: false again once it was lost (session
    /// expired, node deleted by someone else), not only after a release.
    pub fn is_held(&self) -> bool {
        self.0.is_held()
    }

    /// Our node's path while acquiring (once created) or holding.
    pub fn node(&self) -> Option<String> {
        self.0.node()
    }

    /// Calls `f` (from the loop) each time a held lock is lost: our session expired or our
    /// node was deleted by someone else. It is not called for a release.
    pub fn on_lost(&self, f: impl Fn(&RecipeError) + 'static) {
        self.0.lost_fns.borrow_mut().push(Rc::new(f));
    }

    /// The identifiers of the contenders (their nodes' data), in the order they will hold
    /// the lock, the holder first (kazoo's `contenders()`).
    pub fn contenders_async(&self) -> AsyncResult<Vec<String>> {
        let Some(client) = self.0.client.upgrade() else {
            return self
                .0
                .failed(Error::Recipe(RecipeError::Stopped { what: self.1.what }));
        };
        let out: AsyncResult<Vec<String>> = client.handler().async_result();
        let mut markers = self.0.excluding.borrow().clone();
        markers.push(self.0.node_name.to_string());
        let (o, c, path) = (out.clone(), client.clone(), self.0.path.clone());
        client.get_children_async(&path, None).rawlink(move |r| {
            let children = match r.get_nowait() {
                Ok(ch) => ch,
                Err(e) if e.is_no_node() => Vec::new(),
                Err(e) => return drop(o.set_exception(e)),
            };
            read_all(&c, &path, contenders(&children, &markers), o);
        });
        out
    }

    /// Blocking form of [`contenders_async`](Self::contenders_async).
    pub fn contenders(&self) -> Result<Vec<String>, Error> {
        self.refuse("Lock::contenders")?;
        self.contenders_async().get(true, None)
    }

    /// Whether `other` is a handle on this very lock object (not just the same path).
    pub(crate) fn same(&self, other: &Lock<H>) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    pub(crate) fn handler(&self) -> &H {
        &self.0.handler
    }

    pub(crate) fn refuse(&self, what: &'static str) -> Result<(), Error> {
        match self.0.client.upgrade() {
            Some(c) => c.refuse_if_embedded(what),
            None => Err(Error::Recipe(RecipeError::Stopped { what: self.1.what })),
        }
    }
}

/// Reads the data of `names` under `path` (pipelined) into `out`, in order; a node gone
/// meanwhile is left out.
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

/// Defines a lock type over [`Lock`]'s engine, with the same members.
macro_rules! lock_kind {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $what:literal) => {
        $(#[$doc])*
        pub struct $name<H: Handler = MioHandler>(Lock<H>);

        impl<H: Handler> Clone for $name<H> {
            fn clone(&self) -> Self {
                $name(self.0.clone())
            }
        }

        impl<H: Handler> fmt::Debug for $name<H> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl<H: Handler> $name<H> {
            #[doc = concat!("A ", $what, " on `path` for `identifier`; see [`Lock::new`].")]
            pub fn new(client: &Client<H>, path: &str, identifier: &str) -> Result<$name<H>, Error> {
                Lock::of_kind(client, path, identifier, $kind).map($name)
            }
            /// See [`Lock::extra_lock_patterns`].
            pub fn extra_lock_patterns(self, names: &[&str]) -> $name<H> {
                $name(self.0.extra_lock_patterns(names))
            }
            /// See [`Lock::ephemeral`].
            pub fn ephemeral(self, yes: bool) -> $name<H> {
                $name(self.0.ephemeral(yes))
            }
            /// See [`Lock::path`].
            pub fn path(&self) -> &str {
                self.0.path()
            }
            /// See [`Lock::acquire_async`].
            pub fn acquire_async(&self, timeout: Option<Duration>) -> AsyncResult<()> {
                self.0.acquire_async(timeout)
            }
            /// See [`Lock::acquire`].
            pub fn acquire(&self, timeout: Option<Duration>) -> Result<(), Error> {
                self.0.acquire(timeout)
            }
            /// See [`Lock::try_acquire_async`].
            pub fn try_acquire_async(&self) -> AsyncResult<bool> {
                self.0.try_acquire_async()
            }
            /// See [`Lock::try_acquire`].
            pub fn try_acquire(&self) -> Result<bool, Error> {
                self.0.try_acquire()
            }
            /// See [`Lock::cancel`].
            pub fn cancel(&self) {
                self.0.cancel()
            }
            /// See [`Lock::release_async`].
            pub fn release_async(&self) -> AsyncResult<()> {
                self.0.release_async()
            }
            /// See [`Lock::release`].
            pub fn release(&self) -> Result<(), Error> {
                self.0.release()
            }
            /// See [`Lock::is_held`].
            pub fn is_held(&self) -> bool {
                self.0.is_held()
            }
            /// See [`Lock::node`].
            pub fn node(&self) -> Option<String> {
                self.0.node()
            }
            /// See [`Lock::on_lost`].
            pub fn on_lost(&self, f: impl Fn(&RecipeError) + 'static) {
                self.0.on_lost(f)
            }
            /// See [`Lock::contenders_async`]: readers and writers, in sequence order.
            pub fn contenders_async(&self) -> AsyncResult<Vec<String>> {
                self.0.contenders_async()
            }
            /// See [`Lock::contenders`].
            pub fn contenders(&self) -> Result<Vec<String>, Error> {
                self.0.contenders()
            }
        }
    };
}

lock_kind!(
    /// The shared side of kazoo's read/write lock (`ReadLock`): node
    /// `<uuid hex>__rlock__<sequence>`; it waits only for earlier writers
    /// ([`WriteLock`] or [`Lock`] nodes, `__lock__`), so readers share. Otherwise
    /// exactly a [`Lock`] (same members, same guarantees).
    ///
    /// ```
    /// # let server = mio_zookeeper::testing::ZkServer::start()?;
    /// # let zk = mio_zookeeper::Client::new(&server.connect_string())?;
    /// # zk.start(None)?;
    /// use mio_zookeeper::recipe::{ReadLock, WriteLock};
    ///
    /// let r1 = ReadLock::new(&zk, "/rw", "reader-1")?;
    /// let r2 = ReadLock::new(&zk, "/rw", "reader-2")?;
    /// assert!(r1.try_acquire()? && r2.try_acquire()?); // readers share
    /// let w = WriteLock::new(&zk, "/rw", "writer")?;
    /// assert!(!w.try_acquire()?); // a writer waits for them
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ReadLock,
    READ,
    "read lock"
);

lock_kind!(
    /// The exclusive side of kazoo's read/write lock (`WriteLock`): node
    /// `<uuid hex>__lock__<sequence>`; it waits for every earlier node, reader
    /// (`__rlock__`) or writer. Otherwise exactly a [`Lock`] (same members, same
    /// guarantees); a plain [`Lock`] on the same path excludes writers but not readers,
    /// as in kazoo.
    WriteLock,
    WRITE,
    "write lock"
);
