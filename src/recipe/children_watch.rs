//! [`ChildrenWatch`]: kazoo's ChildrenWatch, one node's children followed with one
//! watcher; the node's deletion ends it and says so.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::one_watch::{self, Engine, Flow, OneWatch, UserFn, WatchEnd};
use crate::handler::{Handler, MioHandler};
use crate::{AsyncResult, Client, Error, WatchedEvent, Watcher, WatcherType};

type ChildrenFn = dyn FnMut(&[String], Option<&WatchedEvent>) -> Flow;

/// Follows one node's children (kazoo's `ChildrenWatch`): the callback is called with the
/// children (sorted by name) at once, then on every change of the list.
///
/// The callback also gets the watch event that led to the call (kazoo's `send_event`;
/// `None` for the first call and for re-reads after a reconnect). A re-read that finds the
/// same children calls nothing, so there is exactly one call per change seen (several
/// changes made quickly may be seen as one: the callback gets the latest list). It returns
/// [`Flow::Stop`] to end the watch, and is called from the loop with no borrow held: it
/// may call [`stop`](Self::stop) or use the client.
///
/// **The node must exist**, as in kazoo: if the first read finds no node, the watch ends
/// with [`WatchEnd::Failed`] (`NoNode`), which the blocking [`start`](Self::start)
/// returns as its error. **The node's deletion ends the watch and says so** (kazoo's ends
/// silently): no further call, [`node_deleted`](Self::node_deleted) turns `true`, and
/// [`ended`](Self::ended) becomes [`WatchEnd::NodeDeleted`] (link a callback to it with
/// [`AsyncResult::rawlink`] to hear of it).
///
/// The engine never blocks, so the watch works in the three ways the loop is driven
/// (blocking calls, [`Client::poll_once`], a host's `mio::Poll`: there use
/// [`start_async`](Self::start_async); [`start`](Self::start) is refused with
/// [`LoopError::Embedded`](crate::LoopError::Embedded)).
///
/// **Faults.** A read that fails on the connection is retried with backoff, or when the
/// client reconnects; after every reconnect the children are read again, so a change made
/// while the client was disconnected is reported once it is back, and unchanged children
/// give no call.
///
/// **Session loss (LOST).** The watch keeps running and keeps its last list (no call at
/// the loss). When the client is connected on a new session it reads the children again
/// and calls only if they changed (or ends with [`WatchEnd::NodeDeleted`] if the node is
/// gone). If the client never connects again the watch stays idle until stopped; if the
/// last client handle is dropped it ends silently.
///
/// Stopping (or any end) removes its watcher (on the server too) and its state listener.
/// Dropping the handle does not stop the watch.
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let hosts = server.connect_string();
/// use std::{cell::RefCell, rc::Rc, time::Duration};
/// use mio_zookeeper::recipe::{ChildrenWatch, Flow};
/// use mio_zookeeper::{Client, CreateMode};
///
/// let zk = Client::new(&hosts)?;
/// zk.start(None)?;
/// zk.ensure_path("/workers", None)?;
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let s = seen.clone();
/// let watch = ChildrenWatch::start(&zk, "/workers", Some(Duration::from_secs(10)), move |children, _event| {
///     s.borrow_mut().push(children.to_vec());
///     Flow::Continue
/// })?;
/// zk.create("/workers/a", b"", CreateMode::Ephemeral)?;
/// zk.run_until(&|| seen.borrow().len() == 2, Some(Duration::from_secs(10)))?;
/// assert_eq!(seen.borrow()[1], ["a"]);
/// zk.delete_recursive("/workers")?;
/// zk.run_until(&|| watch.node_deleted(), Some(Duration::from_secs(10)))?;
/// assert_eq!(zk.watch_count(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ChildrenWatch<H: Handler = MioHandler>(Rc<Inner<H>>);

struct Inner<H: Handler> {
    engine: Engine<H>,
    f: UserFn<ChildrenFn>,
    /// The children the callback was last told of (`None` before the first call).
    last: RefCell<Option<Vec<String>>>,
}

impl<H: Handler> ChildrenWatch<H> {
    /// Starts watching the children of `path`; `f` is first called from the loop, so this
    /// never blocks. A missing node ends the watch with [`WatchEnd::Failed`] (`NoNode`)
    /// instead of a first call.
    ///
    /// # Notable errors
    ///
    /// [`Error::InvalidPath`], at once.
    pub fn start_async<F>(client: &Client<H>, path: &str, f: F) -> Result<ChildrenWatch<H>, Error>
    where
        F: FnMut(&[String], Option<&WatchedEvent>) -> Flow + 'static,
    {
        let inner = Rc::new(Inner {
            engine: Engine::new(client, path, WatcherType::Children)?,
            f: UserFn::new(Box::new(f)),
            last: RefCell::new(None),
        });
        one_watch::launch(&inner);
        Ok(ChildrenWatch(inner))
    }

    /// Starts watching the children of `path` and returns once `f` was first called.
    ///
    /// # Notable errors
    ///
    /// [`Error::InvalidPath`]; the `NoNode` [`Error::ZooKeeper`] if the node does not exist
    /// (kazoo's `NoNodeError`); [`LoopError::Embedded`](crate::LoopError::Embedded) on an
    /// embedded loop (nothing is started); [`Error::Timeout`] if the first call did not
    /// come within `timeout` (the watch is then stopped).
    pub fn start<F>(
        client: &Client<H>,
        path: &str,
        timeout: Option<Duration>,
        f: F,
    ) -> Result<ChildrenWatch<H>, Error>
    where
        F: FnMut(&[String], Option<&WatchedEvent>) -> Flow + 'static,
    {
        let inner = one_watch::start_blocking(client, "ChildrenWatch::start", timeout, || {
            Self::start_async(client, path, f).map(|w| w.0)
        })?;
        Ok(ChildrenWatch(inner))
    }

    /// Whether the first call was made.
    pub fn initialized(&self) -> bool {
        self.0.initialized()
    }

    /// Whether the watch ended because its node was deleted.
    pub fn node_deleted(&self) -> bool {
        let ended = self.0.engine.ended();
        ended.ready() && matches!(ended.get_nowait(), Ok(WatchEnd::NodeDeleted))
    }
}

one_watch::watch_handle!(ChildrenWatch);

impl<H: Handler> OneWatch<H> for Inner<H> {
    fn engine(&self) -> &Engine<H> {
        &self.engine
    }

    fn read(self: &Rc<Self>, client: &Client<H>, w: &Watcher, ev: Option<WatchedEvent>) {
        one_watch::read_children(
            self,
            client,
            w,
            |me, children| me.deliver(children, ev),
            |me, err| {
                let why = if me.initialized() {
                    WatchEnd::NodeDeleted
                } else {
                    WatchEnd::Failed(err)
                };
                one_watch::end(me, why);
            },
        );
    }

    fn on_end(&self) {
        self.f.clear();
    }

    fn initialized(&self) -> bool {
        self.last.borrow().is_some()
    }
}

impl<H: Handler> Inner<H> {
    fn deliver(self: &Rc<Self>, children: Vec<String>, ev: Option<WatchedEvent>) {
        if self.last.borrow().as_ref() == Some(&children) {
            return;
        }
        *self.last.borrow_mut() = Some(children.clone());
        let e = &self.engine;
        let flow = self
            .f
            .call(|f| f(&children, ev.as_ref()), || !e.is_stopped())
            .unwrap_or_default();
        if flow == Flow::Stop {
            one_watch::stop(self, WatchEnd::Stopped);
        }
    }
}

impl<H: Handler> fmt::Debug for ChildrenWatch<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildrenWatch")
            .field("path", &self.path())
            .field("initialized", &self.initialized())
            .field("stopped", &self.is_stopped())
            .finish()
    }
}
