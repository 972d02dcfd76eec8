//! [`Election`]: kazoo's leader election, a [`Lock`] whose holder is the leader.

use std::fmt;
use std::time::Duration;

use super::error::RecipeError;
use super::lock::Lock;
use crate::handler::{Handler, MioHandler};
use crate::{AsyncResult, Client, Error};

/// A leader election (kazoo's `Election`): exactly a [`Lock`] on `path` (same nodes, so
/// a kazoo `Election` or `Lock` on the same path takes part), whose holder is the leader.
/// The identifier is the contender's node data: [`contenders`](Self::contenders) and
/// [`leader`](Self::leader) read it.
///
/// [`campaign_async`](Self::campaign_async) resolves once this contender leads;
/// [`run`](Self::run) (kazoo's `run(func)`) campaigns, calls `f` while leading, then
/// resigns. Leadership can be lost (session expired, node deleted): [`is_leader`](Self::is_leader)
/// turns false and [`on_lost`](Self::on_lost) callbacks run, so a leader can stop its work.
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let zk = mio_zookeeper::Client::new(&server.connect_string())?;
/// # zk.start(None)?;
/// use mio_zookeeper::recipe::Election;
///
/// let election = Election::new(&zk, "/election", "node-1")?;
/// let led = election.run(|| election.is_leader(), None)?;
/// assert!(led);
/// assert!(!election.is_leader()); // resigned after `f`
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Election<H: Handler = MioHandler> {
    lock: Lock<H>,
}

impl<H: Handler> Clone for Election<H> {
    fn clone(&self) -> Self {
        Election {
            lock: self.lock.clone(),
        }
    }
}

impl<H: Handler> fmt::Debug for Election<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Election")
            .field("path", &self.lock.path())
            .field("leader", &self.is_leader())
            .finish()
    }
}

impl<H: Handler> Election<H> {
    /// An election on `path` for the contender `identifier`. Nothing is sent yet.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] for a bad `path`.
    pub fn new(client: &Client<H>, path: &str, identifier: &str) -> Result<Election<H>, Error> {
        Ok(Election {
            lock: Lock::new(client, path, identifier)?,
        })
    }

    /// The election's path.
    pub fn path(&self) -> &str {
        self.lock.path()
    }

    /// Joins the election; resolves once this contender is the leader (errors as
    /// [`Lock::acquire_async`] with no deadline: [`cancel`](Self::cancel) to give up).
    pub fn campaign_async(&self) -> AsyncResult<()> {
        self.lock.acquire_async(None)
    }

    /// kazoo's `run(func)`: waits (at most `timeout`) to be elected, calls `f` while
    /// leading, then resigns and returns what `f` returned.
    ///
    /// # Errors
    ///
    /// Those of [`Lock::acquire`]; a failed resignation after `f`.
    pub fn run<T>(&self, f: impl FnOnce() -> T, timeout: Option<Duration>) -> Result<T, Error> {
        self.lock.acquire(timeout)?;
        let out = f();
        self.lock.release()?;
        Ok(out)
    }

    /// Gives up a pending campaign (it fails with [`RecipeError::Cancelled`]).
    pub fn cancel(&self) {
        self.lock.cancel()
    }

    /// Steps down (or leaves the election): deletes our node.
    pub fn resign_async(&self) -> AsyncResult<()> {
        self.lock.release_async()
    }

    /// Blocking form of [`resign_async`](Self::resign_async).
    pub fn resign(&self) -> Result<(), Error> {
        self.lock.release()
    }

    /// Whether this contender leads now (false once leadership was lost).
    pub fn is_leader(&self) -> bool {
        self.lock.is_held()
    }

    /// Calls `f` (from the loop) when leadership held is lost: session expired, or our
    /// node deleted by someone else.
    pub fn on_lost(&self, f: impl Fn(&RecipeError) + 'static) {
        self.lock.on_lost(f)
    }

    /// The contenders' identifiers, the leader first.
    pub fn contenders_async(&self) -> AsyncResult<Vec<String>> {
        self.lock.contenders_async()
    }

    /// Blocking form of [`contenders_async`](Self::contenders_async).
    pub fn contenders(&self) -> Result<Vec<String>, Error> {
        self.lock.contenders()
    }

    /// The current leader's identifier, or `None` if nobody campaigns.
    pub fn leader_async(&self) -> AsyncResult<Option<String>> {
        let inner = self.lock.contenders_async();
        let out: AsyncResult<Option<String>> = self.lock.handler().async_result();
        let o = out.clone();
        inner.rawlink(move |r| {
            let _ = o.set_result(r.get_nowait().map(|v| v.into_iter().next()));
        });
        out
    }

    /// Blocking form of [`leader_async`](Self::leader_async).
    pub fn leader(&self) -> Result<Option<String>, Error> {
        self.lock.refuse("Election::leader")?;
        self.leader_async().get(true, None)
    }
}
