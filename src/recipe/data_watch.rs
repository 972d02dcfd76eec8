//! [`DataWatch`]: kazoo's DataWatch, one node's data followed with one watcher.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::one_watch::{self, Engine, Flow, OneWatch, UserFn, WatchEnd};
use crate::handler::{Handler, MioHandler};
use crate::{AsyncResult, Client, Error, Stat, WatchedEvent, Watcher, WatcherType};

/// A node's data and stat, as a [`DataWatch`] callback sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeValue {
    /// The data; `None` for null data (not the same as empty data).
    pub data: Option<Bytes>,
    /// The node's stat.
    pub stat: Stat,
}

type DataFn = dyn FnMut(Option<&NodeValue>, Option<&WatchedEvent>) -> Flow;

/// Follows one node's data (kazoo's `DataWatch`): the callback is called with the current
/// value at once, then on every change of the node's `mzxid`, and when the node is created
/// or deleted (`None`: the node does not exist; it is then watched with `exists` until it
/// appears).
///
/// The callback gets the node's value and the watch event that led to the call (`None` for
/// the first call and for re-reads after a reconnect). It is called **exactly once per
/// change seen**: a re-read that finds the same `mzxid` (or a node still missing) calls
/// nothing. Several changes made quickly may be seen as one (ZooKeeper's watches are
/// one-shot): the callback always gets the latest value. It returns [`Flow::Stop`] to end
/// the watch. It is called from the loop with no borrow held: it may call
/// [`stop`](Self::stop) or use the client.
///
/// The engine never blocks: every read is asynchronous, so the watch works whether the
/// loop is run by blocking calls, by [`Client::poll_once`], or by a host's `mio::Poll`
/// (there, use [`start_async`](Self::start_async); the blocking [`start`](Self::start) is
/// refused with [`LoopError::Embedded`](crate::LoopError::Embedded)).
///
/// **Faults.** A read that fails on the connection (ConnectionLoss, a timeout) is retried
/// with backoff (100 ms doubling to 10 s), or when the client reconnects. After every
/// reconnect the node is read again, so a change made while the client was disconnected is
/// reported once it is back, and an unchanged node gives no call.
///
/// **Session loss (LOST).** The watch keeps running and keeps its last value (no call at
/// the loss). When the client is connected on a new session it reads the node again and
/// calls only if the node changed meanwhile (another `mzxid`, or it was created or
/// deleted). If the client never connects again the watch stays idle until stopped; if the
/// last client handle is dropped it ends silently.
///
/// **The end.** [`stop`](Self::stop) or [`Flow::Stop`] ends it ([`WatchEnd::Stopped`]);
/// a read that fails for good (such as `NoAuth`) ends it with [`WatchEnd::Failed`]. Either
/// way its watcher (on the server too) and state listener are removed, and
/// [`ended`](Self::ended) tells why. Dropping the handle does **not** stop the watch (as
/// in kazoo, where a `DataWatch` is often used as a decorator and never kept).
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let hosts = server.connect_string();
/// use std::{cell::RefCell, rc::Rc, time::Duration};
/// use mio_zookeeper::recipe::{DataWatch, Flow};
/// use mio_zookeeper::{Client, CreateMode};
///
/// let zk = Client::new(&hosts)?;
/// zk.start(None)?;
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let s = seen.clone();
/// let watch = DataWatch::start(&zk, "/config", Some(Duration::from_secs(10)), move |value, _event| {
///     s.borrow_mut().push(value.and_then(|v| v.data.clone()));
///     Flow::Continue
/// })?;
/// assert_eq!(*seen.borrow(), [None]); // called at once: the node is missing
/// zk.create("/config", b"v1", CreateMode::Persistent)?;
/// zk.run_until(&|| seen.borrow().len() == 2, Some(Duration::from_secs(10)))?;
/// assert_eq!(seen.borrow()[1].as_deref(), Some(&b"v1"[..]));
/// watch.stop(); // its watcher goes once the server confirmed the removal
/// zk.run_until(&|| zk.watch_count() == 0, Some(Duration::from_secs(10)))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DataWatch<H: Handler = MioHandler>(Rc<Inner<H>>);

struct Inner<H: Handler> {
    engine: Engine<H>,
    f: UserFn<DataFn>,
    /// What the callback was last told: `None` before the first call, then the node's
    /// `mzxid` (`None` while it is missing).
    last: Cell<Option<Option<i64>>>,
}

impl<H: Handler> DataWatch<H> {
    /// Starts watching `path`; `f` is first called from the loop (with the current value),
    /// so this never blocks.
    ///
    /// # Notable errors
    ///
    /// [`Error::InvalidPath`], at once. Later failures end the watch (see
    /// [`ended`](Self::ended)).
    pub fn start_async<F>(client: &Client<H>, path: &str, f: F) -> Result<DataWatch<H>, Error>
    where
        F: FnMut(Option<&NodeValue>, Option<&WatchedEvent>) -> Flow + 'static,
    {
        let inner = Rc::new(Inner {
            engine: Engine::new(client, path, WatcherType::Data)?,
            f: UserFn::new(Box::new(f)),
            last: Cell::new(None),
        });
        one_watch::launch(&inner);
        Ok(DataWatch(inner))
    }

    /// Starts watching `path` and returns once `f` was first called (kazoo's constructor,
    /// which calls the function before returning).
    ///
    /// # Notable errors
    ///
    /// [`Error::InvalidPath`]; [`LoopError::Embedded`](crate::LoopError::Embedded) on an
    /// embedded loop (nothing is started: use [`start_async`](Self::start_async));
    /// [`Error::Timeout`] if the first call did not come within `timeout` (the watch is
    /// then stopped); the error of a first read that failed for good.
    pub fn start<F>(
        client: &Client<H>,
        path: &str,
        timeout: Option<Duration>,
        f: F,
    ) -> Result<DataWatch<H>, Error>
    where
        F: FnMut(Option<&NodeValue>, Option<&WatchedEvent>) -> Flow + 'static,
    {
        let inner = one_watch::start_blocking(client, "DataWatch::start", timeout, || {
            Self::start_async(client, path, f).map(|w| w.0)
        })?;
        Ok(DataWatch(inner))
    }

    /// Whether the first call was made.
    pub fn initialized(&self) -> bool {
        self.0.initialized()
    }
}

one_watch::watch_handle!(DataWatch);

impl<H: Handler> Inner<H> {
    /// Tells the callback about `value`, unless it already saw this state of the node.
    fn deliver(self: &Rc<Self>, value: Option<NodeValue>, ev: Option<WatchedEvent>) {
        let now = value.as_ref().map(|v| v.stat.mzxid);
        if self.last.get() == Some(now) {
            return;
        }
        self.last.set(Some(now));
        let e = &self.engine;
        let flow = self
            .f
            .call(|f| f(value.as_ref(), ev.as_ref()), || !e.is_stopped())
            .unwrap_or_default();
        if flow == Flow::Stop {
            one_watch::stop(self, WatchEnd::Stopped);
        }
    }

    /// The node is missing: watch it with exists (if it appeared meanwhile, read it).
    fn read_missing(self: &Rc<Self>, client: &Client<H>, w: &Watcher, ev: Option<WatchedEvent>) {
        let me = self.clone();
        client
            .exists_async(self.engine.path(), w)
            .rawlink(move |r| {
                let Some(client) = me.engine.client_for_reply() else {
                    return;
                };
                match r.get_nowait() {
                    Ok(None) => {
                        me.deliver(None, ev);
                        one_watch::finish(&me);
                    }
                    Ok(Some(_)) => {
                        if let Some(w) = me.engine.watcher() {
                            me.read(&client, &w.clone(), ev);
                        }
                    }
                    Err(err) => one_watch::failed(&me, err),
                }
            });
    }
}

impl<H: Handler> OneWatch<H> for Inner<H> {
    fn engine(&self) -> &Engine<H> {
        &self.engine
    }

    fn read(self: &Rc<Self>, client: &Client<H>, w: &Watcher, ev: Option<WatchedEvent>) {
        let (me, w2) = (self.clone(), w.clone());
        client.get_async(self.engine.path(), w).rawlink(move |r| {
            let Some(client) = me.engine.client_for_reply() else {
                return;
            };
            match r.get_nowait() {
                Ok((data, stat)) => {
                    me.deliver(Some(NodeValue { data, stat }), ev);
                    one_watch::finish(&me);
                }
                Err(err) if err.is_no_node() => me.read_missing(&client, &w2, ev),
                Err(err) => one_watch::failed(&me, err),
            }
        });
    }

    fn on_end(&self) {
        self.f.clear();
    }

    fn initialized(&self) -> bool {
        self.last.get().is_some()
    }
}

impl<H: Handler> fmt::Debug for DataWatch<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataWatch")
            .field("path", &self.path())
            .field("initialized", &self.initialized())
            .field("stopped", &self.is_stopped())
            .finish()
    }
}
