//! [`DoubleBarrier`]: kazoo's `DoubleBarrier`, members that enter together and leave
//! together.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::error::RecipeError;
use super::node_wait::{delete_in_background, ensure_node, failed, transient, Wait};
use super::protected::random_uuid;
use crate::handler::{Handler, MioHandler};
use crate::{AsyncResult, Client, CreateMode, Error, WeakClient};

const READY: &str = "ready";

/// A double barrier (kazoo's `DoubleBarrier(client, path, num_clients, identifier)`):
/// [`enter`](Self::enter) waits until `num_clients` members are in, [`leave`](Self::leave)
/// until all of them are out.
///
/// **On the wire, as kazoo**, so kazoo's members and ours share a barrier: each member is
/// an ephemeral node `path/<uuid4 hex>` (32 lowercase hex digits) holding the identifier;
/// the member that sees `num_clients` children (the `ready` node counts, as in kazoo)
/// creates the persistent empty `path/ready`, and everyone waiting on `ready` is in.
/// Leaving deletes `ready`, then, with the members sorted by name: the lowest waits for the
/// highest to be gone, every other member deletes its node and waits for the lowest; so
/// the lowest leaves last.
///
/// **Unlike kazoo's**: `enter` has a deadline (`timeout`), and errors are returned, not
/// swallowed. An enter that fails or times out deletes its member node in the background
/// (until that succeeds or the session is gone), so no stray member keeps the count wrong;
/// a failed leave does the same. Every wait checks again after each reconnect, and on a new
/// session the member node is created again (an enter that had not finished). No watcher,
/// listener or timer is left behind by a finished or timed-out wait.
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let zk = mio_zookeeper::Client::new(&server.connect_string())?;
/// # zk.start(None)?;
/// use std::time::Duration;
/// use mio_zookeeper::recipe::DoubleBarrier;
///
/// let a = DoubleBarrier::new(&zk, "/batch/7", 2, "worker-a")?;
/// let b = DoubleBarrier::new(&zk, "/batch/7", 2, "worker-b")?;
/// let entering = a.enter_async(Some(Duration::from_secs(10)));
/// b.enter(Some(Duration::from_secs(10)))?; // the second member: both are in
/// entering.get(true, None)?;
/// // ... the work ...
/// let leaving = a.leave_async(Some(Duration::from_secs(10)));
/// b.leave(Some(Duration::from_secs(10)))?;
/// leaving.get(true, None)?;
/// assert_eq!(zk.get_children("/batch/7", None)?, Vec::<String>::new());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DoubleBarrier<H: Handler = MioHandler>(Rc<Inner<H>>);

struct Inner<H: Handler> {
    client: WeakClient<H>,
    handler: H,
    path: String,
    num_clients: usize,
    identifier: Bytes,
    /// This member's node name (a fresh uuid hex per enter).
    name: RefCell<String>,
    /// Entered and not left.
    participating: Cell<bool>,
    /// Names of this object's earlier, failed enters whose nodes may still be there (their
    /// background delete is queued behind the next enter's requests): not members, so not
    /// counted. Pruned at each count to the names still among the children.
    stale: RefCell<Vec<String>>,
    /// An enter was started (so `name` may be on the server).
    tried: Cell<bool>,
}

impl<H: Handler> Clone for DoubleBarrier<H> {
    fn clone(&self) -> Self {
        DoubleBarrier(self.0.clone())
    }
}

impl<H: Handler> fmt::Debug for DoubleBarrier<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DoubleBarrier")
            .field("path", &self.0.path)
            .field("num_clients", &self.0.num_clients)
            .field("node", &*self.0.name.borrow())
            .field("participating", &self.0.participating.get())
            .finish()
    }
}

impl<H: Handler> DoubleBarrier<H> {
    /// A double barrier of `num_clients` members on `path`; this member's node holds
    /// `identifier` (kazoo's default is `<fqdn>-<pid>`). Nothing is sent yet.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] for a path ZooKeeper would refuse; [`Error::BadArgument`]
    /// for `num_clients == 0`.
    pub fn new(
        client: &Client<H>,
        path: &str,
        num_clients: usize,
        identifier: &str,
    ) -> Result<DoubleBarrier<H>, Error> {
        crate::validate_path(path, false)?;
        if num_clients == 0 {
            return Err(Error::BadArgument(format!(
                "a double barrier on {path} needs at least one member, not 0"
            )));
        }
        Ok(DoubleBarrier(Rc::new(Inner {
            client: client.downgrade(),
            handler: client.handler().clone(),
            path: path.to_string(),
            num_clients,
            identifier: Bytes::copy_from_slice(identifier.as_bytes()),
            name: RefCell::new(random_uuid().replace('-', "")),
            participating: Cell::new(false),
            stale: RefCell::new(Vec::new()),
            tried: Cell::new(false),
        })))
    }

    /// The barrier's path.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// This member's node (`path/<uuid hex>`).
    pub fn node_path(&self) -> String {
        self.0.member()
    }

    /// Whether this member entered and has not left (kazoo's `participating`).
    pub fn participating(&self) -> bool {
        self.0.participating.get()
    }

    /// Enters: creates this member's node and waits until `num_clients` members are in,
    /// or `timeout` passed (`None`: no deadline). The loop runs meanwhile.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] at the deadline; [`RecipeError::AlreadyAcquired`] if this object
    /// already entered; the client's errors that retrying does not cure; and
    /// [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded loop. On any error
    /// the member node is deleted in the background.
    pub fn enter(&self, timeout: Option<Duration>) -> Result<(), Error> {
        self.blocking("DoubleBarrier::enter", || self.enter_async(timeout))
    }

    /// Non-blocking form of [`enter`](Self::enter). Setting the result yourself cancels
    /// the enter (the member node is then deleted in the background).
    pub fn enter_async(&self, timeout: Option<Duration>) -> AsyncResult<()> {
        let inner = self.0.clone();
        if inner.participating.get() {
            return failed(
                &inner.handler,
                RecipeError::AlreadyAcquired {
                    path: inner.path.clone(),
                }
                .into(),
            );
        }
        let Some(client) = inner.client.upgrade() else {
            return failed(&inner.handler, Error::ConnectionClosed);
        };
        let fresh = random_uuid().replace('-', "");
        let old = std::mem::replace(&mut *inner.name.borrow_mut(), fresh);
        if inner.tried.replace(true) {
            inner.stale.borrow_mut().push(old);
        }
        let member = inner.member();
        let created = Rc::new(Cell::new(false));
        let step_inner = inner.clone();
        let out = Wait::start(
            &client,
            timeout,
            || Err(Error::Timeout),
            move |w| {
                if w.new_session.take() {
                    created.set(false);
                }
                step_inner.enter_step(w, created.clone());
            },
        );
        out.rawlink(move |r| {
            if !r.successful() {
                inner.participating.set(false);
                if let Some(c) = inner.client.upgrade() {
                    delete_in_background(&c, member);
                }
            }
        });
        out
    }

    /// Leaves: waits until every member left (kazoo's protocol, so kazoo's members and ours
    /// leave together), or `timeout` passed (`None`: no deadline).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] at the deadline; the client's errors that retrying does not cure;
    /// [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded loop. On any
    /// error the member node is deleted in the background.
    pub fn leave(&self, timeout: Option<Duration>) -> Result<(), Error> {
        self.blocking("DoubleBarrier::leave", || self.leave_async(timeout))
    }

    /// Non-blocking form of [`leave`](Self::leave).
    pub fn leave_async(&self, timeout: Option<Duration>) -> AsyncResult<()> {
        let inner = self.0.clone();
        let Some(client) = inner.client.upgrade() else {
            return failed(&inner.handler, Error::ConnectionClosed);
        };
        inner.participating.set(false);
        let member = inner.member();
        let ready_deleted = Rc::new(Cell::new(false));
        let step_inner = inner.clone();
        let out = Wait::start(
            &client,
            timeout,
            || Err(Error::Timeout),
            move |w| {
                step_inner.leave_step(w, ready_deleted.clone());
            },
        );
        out.rawlink(move |r| {
            if !r.successful() {
                if let Some(c) = inner.client.upgrade() {
                    delete_in_background(&c, member);
                }
            }
        });
        out
    }

    fn blocking(
        &self,
        what: &'static str,
        f: impl FnOnce() -> AsyncResult<()>,
    ) -> Result<(), Error> {
        let client = self.0.client.upgrade().ok_or(Error::ConnectionClosed)?;
        client.refuse_if_embedded(what)?;
        f().take(true, None)
    }
}

impl<H: Handler> Inner<H> {
    fn member(&self) -> String {
        format!("{}/{}", self.path, self.name.borrow())
    }

    /// How many of `children` count as members (`ready` included, as kazoo counts it):
    /// all but this object's own stale nodes of failed enters.
    fn members(&self, children: &[String]) -> usize {
        let mut stale = self.stale.borrow_mut();
        stale.retain(|n| children.contains(n));
        children.len() - stale.len()
    }

    fn ready(&self) -> String {
        format!("{}/{READY}", self.path)
    }

    /// A failed read or write: retried if transient, else the end.
    fn failed(w: &Rc<Wait<H, ()>>, e: Error) {
        if transient(&e) {
            w.retry()
        } else {
            w.finish(Err(e))
        }
    }

    /// kazoo's `_inner_enter`: the parent, our member node (once per session), a watch on
    /// `ready`, and the count.
    fn enter_step(self: &Rc<Self>, w: &Rc<Wait<H, ()>>, created: Rc<Cell<bool>>) {
        let Some(c) = w.client() else {
            return w.finish(Err(Error::ConnectionClosed));
        };
        let (me, w2) = (self.clone(), w.clone());
        if !created.get() {
            let opts = crate::CreateOptions::mode(CreateMode::Ephemeral).with_makepath();
            let member = self.member();
            c.create_async(&member, self.identifier.clone(), opts)
                .rawlink(move |r| match r.get_nowait() {
                    // The enter ended (deadline, error) before the node was made: its
                    // background delete may have run first (a makepath create is sent
                    // from a task, after the loop's timers), so delete it again.
                    Ok(_) if w2.out.ready() => {
                        if let Some(c) = me.client.upgrade() {
                            delete_in_background(&c, member);
                        }
                    }
                    Ok(_) => {
                        created.set(true);
                        me.enter_step(&w2, created)
                    }
                    // Ours, from a try whose reply was lost (the name is unique).
                    Err(e) if e.is_node_exists() => {
                        created.set(true);
                        me.enter_step(&w2, created)
                    }
                    Err(e) => Self::failed(&w2, e),
                });
            return;
        }
        let ready = self.ready();
        c.exists_async(&ready, w.watch(&ready))
            .rawlink(move |r| match r.get_nowait() {
                _ if w2.ended(&me.ready()) => {}
                Ok(Some(_)) => {
                    me.participating.set(true);
                    w2.finish(Ok(()))
                }
                Ok(None) => me.count(&w2),
                Err(e) => Self::failed(&w2, e),
            });
    }

    /// Counts the children (`ready` included, as kazoo): enough → creates `ready`.
    fn count(self: &Rc<Self>, w: &Rc<Wait<H, ()>>) {
        let Some(c) = w.client() else {
            return w.finish(Err(Error::ConnectionClosed));
        };
        let (me, w) = (self.clone(), w.clone());
        c.get_children_async(&self.path, None)
            .rawlink(move |r| match r.get_nowait() {
                Ok(children) if me.members(&children) < me.num_clients => w.idle(),
                Ok(_) => {
                    let Some(c) = w.client() else {
                        return w.finish(Err(Error::ConnectionClosed));
                    };
                    let ready = me.ready();
                    ensure_node(&c, &ready, Vec::new(), move |r| match r {
                        Ok(()) => {
                            me.participating.set(true);
                            w.finish(Ok(()))
                        }
                        Err(e) => Self::failed(&w, e),
                    });
                }
                Err(e) => Self::failed(&w, e),
            });
    }

    /// kazoo's `_inner_leave`: deletes `ready` (once), then one round of its loop.
    fn leave_step(self: &Rc<Self>, w: &Rc<Wait<H, ()>>, ready_deleted: Rc<Cell<bool>>) {
        let Some(c) = w.client() else {
            return w.finish(Err(Error::ConnectionClosed));
        };
        let (me, w) = (self.clone(), w.clone());
        if !ready_deleted.get() {
            c.delete_async(&self.ready(), None)
                .rawlink(move |r| match r.get_nowait() {
                    Ok(()) => {
                        ready_deleted.set(true);
                        me.leave_step(&w, ready_deleted)
                    }
                    Err(e) if e.is_no_node() => {
                        ready_deleted.set(true);
                        me.leave_step(&w, ready_deleted)
                    }
                    Err(e) => Self::failed(&w, e),
                });
            return;
        }
        c.get_children_async(&self.path, None)
            .rawlink(move |r| match r.get_nowait() {
                Ok(children) => me.leave_round(&w, children),
                Err(e) if e.is_no_node() => w.finish(Ok(())),
                Err(e) => Self::failed(&w, e),
            });
    }

    fn leave_round(self: &Rc<Self>, w: &Rc<Wait<H, ()>>, mut children: Vec<String>) {
        let Some(c) = w.client() else {
            return w.finish(Err(Error::ConnectionClosed));
        };
        // `ready` is not a member (a late enter may have made it again); Curator filters it
        // too.
        children.retain(|n| n != READY);
        children.sort();
        let name = self.name.borrow().clone();
        let (Some(lowest), Some(highest)) = (children.first(), children.last()) else {
            return w.finish(Ok(()));
        };
        let (me, w) = (self.clone(), w.clone());
        if children.len() == 1 && *lowest == name {
            c.delete_async(&self.member(), None)
                .rawlink(move |r| match r.get_nowait() {
                    Ok(()) => w.finish(Ok(())),
                    Err(e) if e.is_no_node() => w.finish(Ok(())),
                    Err(e) => Self::failed(&w, e),
                });
            return;
        }
        let target = format!(
            "{}/{}",
            self.path,
            if *lowest == name { highest } else { lowest }
        );
        let watch = move |c: &Client<H>, w: Rc<Wait<H, ()>>| {
            let w2 = w.clone();
            let t = target.clone();
            c.exists_async(&target, w.watch(&target))
                .rawlink(move |r| match r.get_nowait() {
                    _ if w2.ended(&t) => {}
                    // Gone already: look again.
                    Ok(None) => {
                        w2.idle();
                        w2.wake()
                    }
                    Ok(Some(_)) => w2.idle(),
                    Err(e) => Self::failed(&w2, e),
                });
        };
        if *lowest == name {
            // We're first: wait for the highest to leave.
            return watch(&c, w);
        }
        // Delete our node, then wait for the lowest.
        let c2 = c.clone();
        c.delete_async(&me.member(), None)
            .rawlink(move |r| match r.get_nowait() {
                Ok(()) => watch(&c2, w),
                Err(e) if e.is_no_node() => watch(&c2, w),
                Err(e) => Self::failed(&w, e),
            });
    }
}
