//! [`PatientChildrenWatch`]: kazoo's, the children of a node once they stayed unchanged
//! for a time boundary, on the loop's timers.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::base::timer_on;
use super::one_watch::{self, Engine, OneWatch, WatchEnd};
use crate::handler::{Handler, MioHandler, TimerId};
use crate::WatcherType;
use crate::{AsyncResult, Client, Error, EventType, KeeperState, WatchedEvent, Watcher};

/// What a [`PatientChildrenWatch`] gives once the children settled.
#[derive(Debug, Clone)]
pub struct Settled {
    /// The children (sorted by name) that stayed unchanged for the time boundary.
    pub children: Vec<String>,
    /// Set on the next change of the children after they settled: the watch event
    /// (`NodeChildrenChanged`, or `NodeDeleted`). A change found by the re-read after a
    /// session loss is given as a `NodeChildrenChanged` event. It fails with
    /// [`Error::ConnectionClosed`] if the watch is stopped first.
    pub next_change: AsyncResult<WatchedEvent>,
}

/// Waits until the children of a node stay unchanged for a time boundary (kazoo's
/// `PatientChildrenWatch`): [`start_async`](Self::start_async) gives a result set with the
/// [`Settled`] children, and `Settled::next_change` fires on the next change after that
/// (then the watch is over, and removes what it registered).
///
/// Every change of the children (a watch event) restarts the wait; the wait runs on the
/// loop's timers, so nothing blocks and the watch works in the three ways the loop is
/// driven ([`start`](Self::start) is the blocking convenience, refused with
/// [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded loop).
///
/// **Faults and LOST.** Failed reads are retried with backoff or at the next reconnect,
/// and the children are read again after every reconnect (a difference restarts the wait,
/// or after the settling fires `next_change`). The wait itself goes on through a
/// disconnection, as kazoo's sleep does, but unlike kazoo it never settles while the
/// client is disconnected (the children may have changed meanwhile): a boundary that
/// passed then settles on the first read once back if that finds the children unchanged
/// (and no change was reported meanwhile), else the wait restarts. After a session loss
/// the watch keeps running and does the same once the client is connected on a new
/// session. If the node
/// is missing (at the start or later), the result (or `next_change`, with the
/// `NodeDeleted` event) tells it: the result fails with the `NoNode` error.
///
/// [`stop`](Self::stop) ends it at any time (idempotent): its watcher, state listener
/// and timers are removed; a result not yet set fails with [`Error::ConnectionClosed`].
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let hosts = server.connect_string();
/// use std::time::Duration;
/// use mio_zookeeper::recipe::PatientChildrenWatch;
/// use mio_zookeeper::{Client, CreateMode};
///
/// let zk = Client::new(&hosts)?;
/// zk.start(None)?;
/// zk.ensure_path("/party/a", None)?;
/// let watch = PatientChildrenWatch::new(&zk, "/party", Duration::from_millis(200))?;
/// let settled = watch.start(Some(Duration::from_secs(10)))?;
/// assert_eq!(settled.children, ["a"]);
/// zk.create("/party/b", b"", CreateMode::Persistent)?;
/// let event = settled.next_change.get(true, Some(Duration::from_secs(10)))?;
/// assert_eq!(event.path.as_deref(), Some("/party"));
/// assert_eq!(zk.watch_count(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PatientChildrenWatch<H: Handler = MioHandler>(Rc<Inner<H>>);

struct Inner<H: Handler> {
    engine: Engine<H>,
    boundary: Duration,
    started: Cell<bool>,
    result: AsyncResult<Settled>,
    /// The children last read (while settling), sorted.
    last: RefCell<Option<Vec<String>>>,
    timer: Cell<Option<TimerId>>,
    /// The boundary passed while the client was not connected: the children are settled
    /// by the next read that finds them unchanged (with no change reported meanwhile).
    due: Cell<bool>,
    /// Once settled: what was given, and the result of the next change.
    settled: RefCell<Option<Settled>>,
}

impl<H: Handler> PatientChildrenWatch<H> {
    /// A watch of the children of `path` that settles after `time_boundary` without
    /// change; nothing is read before [`start_async`](Self::start_async).
    ///
    /// # Notable errors
    ///
    /// [`Error::InvalidPath`].
    pub fn new(
        client: &Client<H>,
        path: &str,
        time_boundary: Duration,
    ) -> Result<PatientChildrenWatch<H>, Error> {
        Ok(PatientChildrenWatch(Rc::new(Inner {
            engine: Engine::new(client, path, WatcherType::Children)?,
            boundary: time_boundary,
            started: Cell::new(false),
            result: client.handler().async_result(),
            last: RefCell::new(None),
            timer: Cell::new(None),
            due: Cell::new(false),
            settled: RefCell::new(None),
        })))
    }

    /// Starts the watch (a second call only returns the same result): the result is set
    /// once the children stayed unchanged for the time boundary, or fails (`NoNode` when
    /// the node is missing, [`Error::ConnectionClosed`] when stopped first).
    pub fn start_async(&self) -> AsyncResult<Settled> {
        if !self.0.started.replace(true) {
            one_watch::launch(&self.0);
        }
        self.0.result.clone()
    }

    /// Starts the watch and waits (running the loop) until the children settled.
    ///
    /// # Notable errors
    ///
    /// [`LoopError::Embedded`](crate::LoopError::Embedded) on an embedded loop (nothing is
    /// started); [`Error::Timeout`] (the watch is then stopped); the result's error.
    pub fn start(&self, timeout: Option<Duration>) -> Result<Settled, Error> {
        let client = self.0.engine.base().client();
        let client = client.ok_or(Error::ConnectionClosed)?;
        one_watch::start_blocking(&client, "PatientChildrenWatch::start", timeout, || {
            self.start_async();
            Ok(self.0.clone())
        })?;
        self.0.result.get_nowait()
    }

    /// The time the children must stay unchanged.
    pub fn time_boundary(&self) -> Duration {
        self.0.boundary
    }
}

one_watch::watch_handle!(PatientChildrenWatch);

impl<H: Handler> Inner<H> {
    /// (Re)arms the settling timer.
    fn arm(self: &Rc<Self>) {
        let lp = self.engine.base().event_loop();
        let id = timer_on(lp, self.boundary, self, |me| {
            me.timer.set(None);
            me.settle();
        });
        if let Some(old) = self.timer.replace(id) {
            lp.cancel_timer(old);
        }
    }

    fn settle(self: &Rc<Self>) {
        if self.engine.is_stopped() {
            return;
        }
        let Some(children) = self.last.borrow().clone() else {
            return;
        };
        let Some(client) = self.engine.base().client() else {
            return;
        };
        if !client.connected() {
            // Changes made meanwhile are not known yet: the read after the reconnect tells.
            self.due.set(true);
            return;
        }
        self.due.set(false);
        let settled = Settled {
            children,
            next_change: client.handler().async_result(),
        };
        *self.settled.borrow_mut() = Some(settled.clone());
        let _ = self.result.set(settled);
    }

    /// An event of `t` on the watched node, for a change found by a re-read.
    fn event(&self, t: EventType) -> WatchedEvent {
        WatchedEvent {
            event_type: t,
            state: KeeperState::SyncConnected,
            path: Some(self.engine.path().to_string()),
        }
    }

    /// The next change after the settling: given, and the watch is over.
    fn changed_after(self: &Rc<Self>, ev: WatchedEvent) {
        let next = self
            .settled
            .borrow()
            .as_ref()
            .map(|s| s.next_change.clone());
        if let Some(next) = next {
            let _ = next.set(ev);
        }
        one_watch::stop(self, WatchEnd::Stopped);
    }

    /// The children read: restart the wait on a change (or on any watch event while
    /// settling), or give the next change once settled.
    fn handle(self: &Rc<Self>, children: Vec<String>, ev: Option<WatchedEvent>) {
        let settled = self.settled.borrow().as_ref().map(|s| s.children.clone());
        if let Some(before) = settled {
            if before != children {
                self.changed_after(self.event(EventType::NodeChildrenChanged));
            }
            return;
        }
        let differs = self.last.borrow().as_ref() != Some(&children);
        if differs || ev.is_some() {
            *self.last.borrow_mut() = Some(children);
            self.due.set(false);
            self.arm();
        } else if self.due.get() && !self.engine.read_again_asked() {
            // Unchanged since before the disconnection, and no change seen meanwhile.
            self.settle();
        }
    }
}

impl<H: Handler> OneWatch<H> for Inner<H> {
    fn engine(&self) -> &Engine<H> {
        &self.engine
    }

    fn read(self: &Rc<Self>, client: &Client<H>, w: &Watcher, ev: Option<WatchedEvent>) {
        one_watch::read_children(
            self,
            client,
            w,
            |me, children| me.handle(children, ev),
            |me, err| {
                if me.settled.borrow().is_some() {
                    // Deleted while the session was lost: the next change.
                    me.engine.reading_done();
                    me.changed_after(me.event(EventType::NodeDeleted));
                } else {
                    let _ = me.result.set_exception(err.clone());
                    one_watch::end(me, WatchEnd::Failed(err));
                }
            },
        );
    }

    fn changed(self: &Rc<Self>, ev: WatchedEvent) {
        if self.settled.borrow().is_some() {
            self.changed_after(ev);
        } else {
            one_watch::refresh(self, Some(ev));
        }
    }

    fn on_end(&self) {
        if let Some(id) = self.timer.take() {
            self.engine.base().event_loop().cancel_timer(id);
        }
        let _ = self.result.set_exception(Error::ConnectionClosed);
        if let Some(s) = self.settled.borrow().as_ref() {
            let _ = s.next_change.set_exception(Error::ConnectionClosed);
        }
    }

    fn initialized(&self) -> bool {
        self.result.ready()
    }
}

impl<H: Handler> fmt::Debug for PatientChildrenWatch<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PatientChildrenWatch")
            .field("path", &self.path())
            .field("time_boundary", &self.0.boundary)
            .field("stopped", &self.is_stopped())
            .finish()
    }
}
