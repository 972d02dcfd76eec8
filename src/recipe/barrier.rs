//! [`Barrier`]: kazoo's `Barrier`, up while its node exists.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::node_wait::{ensure_node, failed, transient, Wait};
use crate::handler::{Handler, MioHandler};
use crate::{AsyncResult, Client, Error, WeakClient};

/// A barrier (kazoo's `Barrier(client, path)`): it is up while the node `path` exists.
/// [`create`](Self::create) puts it up (kazoo's `ensure_path`: a persistent node with empty
/// data, parents too), [`remove`](Self::remove) takes it down, and [`wait`](Self::wait)
/// blocks until it is down. The same node as kazoo's and Curator's `DistributedBarrier`, so
/// a barrier put up by either is waited on by the others.
///
/// **Unlike kazoo's**, a wait survives connection loss: it checks the node again after
/// every reconnect (and on a new session), so a barrier removed while the client was
/// disconnected is seen once it is back (kazoo's wait can miss it). The wait has one
/// deadline; when it passes the wait returns `Ok(false)` (kazoo's `False`) and leaves no
/// watcher, listener or timer behind. Failures on the connection are retried with backoff
/// until the deadline.
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let zk = mio_zookeeper::Client::new(&server.connect_string())?;
/// # zk.start(None)?;
/// use std::time::Duration;
/// use mio_zookeeper::recipe::Barrier;
///
/// let gate = Barrier::new(&zk, "/deploy/gate")?;
/// gate.create()?;
/// // Up: a wait times out.
/// assert!(!gate.wait(Some(Duration::from_millis(100)))?);
/// assert!(gate.remove()?);
/// assert!(gate.wait(Some(Duration::from_secs(10)))?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Barrier<H: Handler = MioHandler>(Rc<Inner<H>>);

struct Inner<H: Handler> {
    client: WeakClient<H>,
    handler: H,
    path: String,
}

impl<H: Handler> Clone for Barrier<H> {
    fn clone(&self) -> Self {
        Barrier(self.0.clone())
    }
}

impl<H: Handler> fmt::Debug for Barrier<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("path", &self.0.path)
            .finish()
    }
}

impl<H: Handler> Barrier<H> {
    /// A barrier on `path` (nothing is sent).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] for a path ZooKeeper would refuse.
    pub fn new(client: &Client<H>, path: &str) -> Result<Barrier<H>, Error> {
        crate::validate_path(path, false)?;
        Ok(Barrier(Rc::new(Inner {
            client: client.downgrade(),
            handler: client.handler().clone(),
            path: path.to_string(),
        })))
    }

    /// The barrier's path.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    fn client(&self) -> Result<Client<H>, Error> {
        self.0.client.upgrade().ok_or(Error::ConnectionClosed)
    }

    /// Puts the barrier up (kazoo's `create`): creates the node and its parents if missing.
    /// Failures on the connection are retried until the client stops.
    pub fn create(&self) -> Result<(), Error> {
        let c = self.client()?;
        c.refuse_if_embedded("Barrier::create")?;
        self.create_async().take(true, None)
    }

    /// Non-blocking form of [`create`](Self::create).
    pub fn create_async(&self) -> AsyncResult<()> {
        let path = self.0.path.clone();
        self.op(move |w: &Rc<Wait<H, ()>>, c: &Client<H>| {
            let w = w.clone();
            ensure_node(c, &path, Vec::new(), move |r| match r {
                Err(e) if transient(&e) => w.retry(),
                res => w.finish(res),
            });
        })
    }

    /// Takes the barrier down (kazoo's `remove`): `true` if this call deleted the node,
    /// `false` if it was not there. Failures on the connection are retried until the
    /// client stops (a retry after a lost reply may find the node gone: `false`).
    ///
    /// # Errors
    ///
    /// [`ErrorCode::NotEmpty`](crate::ErrorCode::NotEmpty) if the node has children.
    pub fn remove(&self) -> Result<bool, Error> {
        let c = self.client()?;
        c.refuse_if_embedded("Barrier::remove")?;
        self.remove_async().take(true, None)
    }

    /// Non-blocking form of [`remove`](Self::remove).
    pub fn remove_async(&self) -> AsyncResult<bool> {
        let path = self.0.path.clone();
        self.op(move |w: &Rc<Wait<H, bool>>, c: &Client<H>| {
            let w = w.clone();
            c.delete_async(&path, None)
                .rawlink(move |r| match r.get_nowait() {
                    Ok(()) => w.finish(Ok(true)),
                    Err(e) if e.is_no_node() => w.finish(Ok(false)),
                    Err(e) if transient(&e) => w.retry(),
                    Err(e) => w.finish(Err(e)),
                });
        })
    }

    /// Waits until the barrier is down (its node does not exist): `Ok(true)`; or
    /// `Ok(false)` once `timeout` passed (`None`: no deadline). The loop runs meanwhile.
    ///
    /// # Errors
    ///
    /// The client's errors that retrying does not cure ([`Error::ConnectionClosed`],
    /// `NoAuth`); [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded loop.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        let c = self.client()?;
        c.refuse_if_embedded("Barrier::wait")?;
        self.wait_async(timeout).take(true, None)
    }

    /// Non-blocking form of [`wait`](Self::wait). Setting the result yourself cancels the
    /// wait (its watcher and listener are removed).
    pub fn wait_async(&self, timeout: Option<Duration>) -> AsyncResult<bool> {
        let Ok(client) = self.client() else {
            return failed(&self.0.handler, Error::ConnectionClosed);
        };
        let path = self.0.path.clone();
        Wait::start(
            &client,
            timeout,
            || Ok(false),
            move |w| {
                let Some(c) = w.client() else {
                    return w.finish(Err(Error::ConnectionClosed));
                };
                let w = w.clone();
                let p = path.clone();
                c.exists_async(&path, w.watch(&path))
                    .rawlink(move |r| match r.get_nowait() {
                        _ if w.ended(&p) => {}
                        Ok(None) => w.finish(Ok(true)),
                        Ok(Some(_)) => w.idle(),
                        Err(e) if transient(&e) => w.retry(),
                        Err(e) => w.finish(Err(e)),
                    });
            },
        )
    }

    /// A retried operation: `step` runs again (after a backoff, or at a reconnect) when it
    /// calls `retry`.
    fn op<T: 'static>(
        &self,
        step: impl Fn(&Rc<Wait<H, T>>, &Client<H>) + 'static,
    ) -> AsyncResult<T> {
        let Ok(client) = self.client() else {
            return failed(&self.0.handler, Error::ConnectionClosed);
        };
        Wait::start(
            &client,
            None,
            || Err(Error::Timeout),
            move |w| match w.client() {
                Some(c) => step(w, &c),
                None => w.finish(Err(Error::ConnectionClosed)),
            },
        )
    }
}
