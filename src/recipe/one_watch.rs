//! The engine of the recipes that follow one node with one watcher (DataWatch,
//! ChildrenWatch, PatientChildrenWatch): one [`Watcher`] for the watch's whole life,
//! re-registered by each read; at most one read in flight (a change seen meanwhile asks for
//! one more read after it); failed reads retried or waited out; and the end of the watch,
//! which removes everything it registered and tells the caller through [`WatchEnd`].
//!
//! Everything here runs from the loop and never blocks; the blocking conveniences are
//! [`start_blocking`], a thin wrapper that runs the loop.

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use log::debug;

use super::base::{Base, Transition};
use crate::handler::Handler;
use crate::{
    AsyncResult, Client, Error, EventType, KeeperState, LoopError, WatchedEvent, Watcher,
    WatcherType, WeakClient, WhenOffline,
};

/// What a watch callback returns: go on watching, or stop (kazoo's callbacks return
/// `False` to stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flow {
    /// Keep watching.
    #[default]
    Continue,
    /// Stop the watch, as [`stop`](crate::recipe::DataWatch::stop) does: it removes its
    /// watcher and state listener, and its [`ended`](crate::recipe::DataWatch::ended)
    /// result becomes [`WatchEnd::Stopped`].
    Stop,
}

/// Why a watch ended: the value of its `ended()` result (for example
/// [`DataWatch::ended`](crate::recipe::DataWatch::ended)).
///
/// A watch whose last client handle is dropped ends silently: its result stays pending.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WatchEnd {
    /// Stopped by its owner: `stop()`, or the callback returned [`Flow::Stop`].
    Stopped,
    /// The watched node was deleted (a [`ChildrenWatch`](crate::recipe::ChildrenWatch)
    /// ends then; kazoo's ends silently).
    NodeDeleted,
    /// A read failed for good (not a connection or session problem, which the watch
    /// waits out): for example `NoAuth` after the node's ACL changed, or `NoNode` on a
    /// [`ChildrenWatch`](crate::recipe::ChildrenWatch)'s first read.
    Failed(Error),
}

/// The user's callback, called with no borrow held: it may stop the watch or use the
/// client (even blocking calls, which nest the loop) from inside.
pub(crate) struct UserFn<F: ?Sized>(RefCell<Option<Box<F>>>);

impl<F: ?Sized> UserFn<F> {
    pub(crate) fn new(f: Box<F>) -> UserFn<F> {
        UserFn(RefCell::new(Some(f)))
    }

    /// Runs `go` with the callback (`None` if it is already running or was dropped); the
    /// callback is put back unless `keep` says the watch is over.
    pub(crate) fn call<R>(
        &self,
        go: impl FnOnce(&mut F) -> R,
        keep: impl Fn() -> bool,
    ) -> Option<R> {
        let mut f = self.0.borrow_mut().take()?;
        let r = go(&mut f);
        if keep() {
            *self.0.borrow_mut() = Some(f);
        }
        Some(r)
    }

    /// Drops the callback (and what it captured).
    pub(crate) fn clear(&self) {
        let f = self.0.borrow_mut().take();
        drop(f);
    }
}

/// The shared state of a one-watcher recipe.
pub(crate) struct Engine<H: Handler> {
    base: Rc<Base<H>>,
    /// The client, for the clean-up that follows a stop (`base` refuses it once stopped).
    client: WeakClient<H>,
    path: String,
    kind: WatcherType,
    watcher: OnceCell<Watcher>,
    /// A read is in flight (its reply, or the callback it leads to, is not done).
    reading: Cell<bool>,
    /// Another read was asked for while one was in flight, with the latest event.
    again: RefCell<Option<Option<WatchedEvent>>>,
    /// The watcher was removed from the client after the stop.
    released: Cell<bool>,
    ended: AsyncResult<WatchEnd>,
}

impl<H: Handler> Engine<H> {
    /// The engine of a watch on `path` (checked: an invalid path fails at once) whose
    /// watcher is of `kind`.
    pub(crate) fn new(client: &Client<H>, path: &str, kind: WatcherType) -> Result<Self, Error> {
        crate::validate_path(path, false)?;
        Ok(Engine {
            base: Base::new(client),
            client: client.downgrade(),
            path: path.to_string(),
            kind,
            watcher: OnceCell::new(),
            reading: Cell::new(false),
            again: RefCell::new(None),
            released: Cell::new(false),
            ended: client.handler().async_result(),
        })
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn base(&self) -> &Rc<Base<H>> {
        &self.base
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.base.is_stopped()
    }

    /// The result that tells why the watch ended.
    pub(crate) fn ended(&self) -> AsyncResult<WatchEnd> {
        self.ended.clone()
    }

    /// The client for a follow-up read inside a read in flight, unless stopped (then the
    /// read is over and what it registered is removed).
    pub(crate) fn client_for_reply(&self) -> Option<Client<H>> {
        let c = self.base.client();
        if c.is_none() {
            self.reading.set(false);
            self.release();
        }
        c
    }

    /// The read in flight is over (the caller then ends the watch).
    pub(crate) fn reading_done(&self) {
        self.reading.set(false);
    }

    /// Another read was asked for while the one in flight runs (a change seen meanwhile).
    pub(crate) fn read_again_asked(&self) -> bool {
        self.again.borrow().is_some()
    }

    pub(crate) fn watcher(&self) -> Option<&Watcher> {
        self.watcher.get()
    }

    /// Ends the watch (idempotent): no more reads or calls, the state listener and retry
    /// timer go, the watcher is removed (now, or when the read in flight is answered), and
    /// `ended` is set to `why`.
    pub(crate) fn stop(&self, why: WatchEnd) {
        if self.base.is_stopped() {
            return;
        }
        debug!("watch on {} ends: {why:?}", self.path);
        self.base.stop();
        let _ = self.ended.set(why);
        self.release();
    }

    /// Removes the watcher from the client once the watch is stopped and no read is in
    /// flight (a read in flight registers it again when answered).
    fn release(&self) {
        if !self.base.is_stopped() || self.reading.get() || self.released.replace(true) {
            return;
        }
        if let (Some(c), Some(w)) = (self.client.upgrade(), self.watcher.get()) {
            let path = self.path.clone();
            c.remove_watcher_async(&path, self.kind, w, WhenOffline::RemoveLocally)
                .rawlink(move |r| {
                    // A watcher that was not registered (NoWatcher) is fine.
                    if let Err(e) = r.get_nowait() {
                        debug!("watch on {path}: its watcher's removal: {e}");
                    }
                });
        }
    }
}

/// A recipe built on [`Engine`].
pub(crate) trait OneWatch<H: Handler>: Sized + 'static {
    fn engine(&self) -> &Engine<H>;

    /// Sends the recipe's read, watched by `w`; `ev` is the event that asked for it. Its
    /// reply handling ends with [`finish`], [`failed`] or [`end`].
    fn read(self: &Rc<Self>, client: &Client<H>, w: &Watcher, ev: Option<WatchedEvent>);

    /// A node event of the watcher (a change): by default, read again.
    fn changed(self: &Rc<Self>, ev: WatchedEvent) {
        refresh(self, Some(ev));
    }

    /// The watch ended (called once, after the engine stopped).
    fn on_end(&self) {}

    /// What the blocking `start` waits for (the first call, or the first result).
    fn initialized(&self) -> bool;
}

/// Starts `r`: its watcher, its state listener, and the first read.
pub(crate) fn launch<H: Handler, R: OneWatch<H>>(r: &Rc<R>) {
    let weak: Weak<R> = Rc::downgrade(r);
    let w = Watcher::new(move |ev: WatchedEvent| {
        if let Some(r) = weak.upgrade() {
            on_event(&r, ev);
        }
    });
    let _ = r.engine().watcher.set(w);
    // The listener holds the recipe: a running watch lives as long as the client (or
    // until stopped), whether or not its handle is kept.
    let held = r.clone();
    r.engine().base.listen(move |t| match t {
        Transition::Reconnected | Transition::NewSession => refresh(&held, None),
        Transition::Suspended | Transition::Lost => {}
    });
    refresh(r, None);
}

fn on_event<H: Handler, R: OneWatch<H>>(r: &Rc<R>, ev: WatchedEvent) {
    match ev.event_type {
        EventType::NodeCreated
        | EventType::NodeDeleted
        | EventType::NodeDataChanged
        | EventType::NodeChildrenChanged => r.changed(ev),
        // The client could not re-register the watch after a reconnect: read again.
        EventType::None if ev.state == KeeperState::SyncConnected => refresh(r, None),
        // The session is gone (the NewSession transition re-reads), or the watch was
        // removed (by the stop), or an event this version does not know.
        _ => {}
    }
}

/// Reads again now, or after the read in flight.
pub(crate) fn refresh<H: Handler, R: OneWatch<H>>(r: &Rc<R>, ev: Option<WatchedEvent>) {
    let e = r.engine();
    let Some(client) = e.base.client() else {
        return;
    };
    if e.reading.replace(true) {
        let mut again = e.again.borrow_mut();
        // Keep the latest node event: a later "read again" without one does not hide it.
        let keep = matches!(&*again, Some(Some(_))) && ev.is_none();
        if !keep {
            *again = Some(ev);
        }
        return;
    }
    let Some(w) = e.watcher.get().cloned() else {
        return;
    };
    r.read(&client, &w, ev);
}

/// The read (and what it led to) is done: read again if asked meanwhile.
pub(crate) fn finish<H: Handler, R: OneWatch<H>>(r: &Rc<R>) {
    let e = r.engine();
    e.reading.set(false);
    if e.is_stopped() {
        e.release();
        return;
    }
    e.base.succeeded();
    let again = e.again.borrow_mut().take();
    if let Some(ev) = again {
        refresh(r, ev);
    }
}

/// Ends the watch from a reply.
pub(crate) fn end<H: Handler, R: OneWatch<H>>(r: &Rc<R>, why: WatchEnd) {
    r.engine().reading.set(false);
    stop(r, why);
    // Stopped before (from a callback): the stop left the removal to this reply.
    r.engine().release();
}

/// Ends the watch (idempotent).
pub(crate) fn stop<H: Handler, R: OneWatch<H>>(r: &Rc<R>, why: WatchEnd) {
    let e = r.engine();
    if e.is_stopped() {
        return;
    }
    e.stop(why);
    e.again.borrow_mut().take();
    r.on_end();
}

/// A read failed with `err`: connection and session problems (and a full request queue)
/// are waited out (retried with backoff while connected, read again at the next reconnect
/// otherwise; a stopped client that is started again reconnects too); anything else ends
/// the watch with [`WatchEnd::Failed`].
pub(crate) fn failed<H: Handler, R: OneWatch<H>>(r: &Rc<R>, err: Error) {
    let e = r.engine();
    let waitable = err.is_retryable()
        || err.is_session_expired()
        || matches!(
            err,
            Error::ConnectionClosed | Error::SessionExpired | Error::QueueFull { .. }
        );
    if !waitable {
        end(r, WatchEnd::Failed(err));
        return;
    }
    e.reading.set(false);
    if e.is_stopped() {
        e.release();
        return;
    }
    let again = e.again.borrow_mut().take();
    if let Some(ev) = again {
        refresh(r, ev);
        return;
    }
    match e.base.client() {
        Some(c) if c.connected() => {
            debug!("watch on {}: {err}; retrying", e.path);
            let weak = Rc::downgrade(r);
            e.base.retry_later(move || {
                if let Some(r) = weak.upgrade() {
                    refresh(&r, None);
                }
            });
        }
        // Not connected: the next Reconnected or NewSession transition reads again.
        _ => debug!("watch on {}: {err}; waiting for the connection", e.path),
    }
}

/// A blocking `start(timeout)`: refused at once on an embedded loop (before anything
/// starts), else `start()` then runs the loop until the watch is
/// [`initialized`](OneWatch::initialized) or ended. A timeout (or any failure of the
/// wait) stops the watch and is returned, and so is the error of a watch that failed
/// before it was initialized.
pub(crate) fn start_blocking<H: Handler, R: OneWatch<H>>(
    client: &Client<H>,
    what: &'static str,
    timeout: Option<Duration>,
    start: impl FnOnce() -> Result<Rc<R>, Error>,
) -> Result<Rc<R>, Error> {
    if client.handler().is_embedded() {
        return Err(Error::Loop(LoopError::Embedded { what }));
    }
    let r = start()?;
    let ended = r.engine().ended();
    if let Err(err) = client.run_until(&|| r.initialized() || ended.ready(), timeout) {
        stop(&r, WatchEnd::Stopped);
        return Err(err);
    }
    if !r.initialized() {
        if let Ok(WatchEnd::Failed(err)) = ended.get_nowait() {
            return Err(err);
        }
    }
    Ok(r)
}

/// Reads the children of `r`'s node (sorted), watched by `w`: then `ok` (and the read is
/// finished), `no_node` (which finishes or ends it), or the failure handling of [`failed`].
pub(crate) fn read_children<H: Handler, R: OneWatch<H>>(
    r: &Rc<R>,
    client: &Client<H>,
    w: &Watcher,
    ok: impl FnOnce(&Rc<R>, Vec<String>) + 'static,
    no_node: impl FnOnce(&Rc<R>, Error) + 'static,
) {
    let me = r.clone();
    client
        .get_children_async(r.engine().path(), w)
        .rawlink(move |res| {
            if me.engine().client_for_reply().is_none() {
                return;
            }
            match res.get_nowait() {
                Ok(mut children) => {
                    children.sort_unstable();
                    ok(&me, children);
                    finish(&me);
                }
                Err(err) if err.is_no_node() => no_node(&me, err),
                Err(err) => failed(&me, err),
            }
        });
}

/// The methods every one-watcher recipe's handle has (a newtype over the `Rc` of a
/// [`OneWatch`] whose `engine` is a field), and its `Clone`.
macro_rules! watch_handle {
    ($name:ident) => {
        impl<H: Handler> $name<H> {
            /// Stops the watch (idempotent): no more calls or results; its watcher (on the
            /// server too), state listener and timers are removed, and
            /// [`ended`](Self::ended) becomes [`WatchEnd::Stopped`].
            pub fn stop(&self) {
                one_watch::stop(&self.0, WatchEnd::Stopped);
            }

            /// Whether the watch has ended (see [`ended`](Self::ended)).
            pub fn is_stopped(&self) -> bool {
                self.0.engine.is_stopped()
            }

            /// The watched path.
            pub fn path(&self) -> &str {
                self.0.engine.path()
            }

            /// A result set when the watch ends, with why ([`WatchEnd`]); it stays pending
            /// while the watch runs (and if the client is dropped first). Link a callback
            /// to it ([`AsyncResult::rawlink`]) to hear of the end.
            pub fn ended(&self) -> AsyncResult<WatchEnd> {
                self.0.engine.ended()
            }
        }

        impl<H: Handler> Clone for $name<H> {
            /// Another handle on the same watch.
            fn clone(&self) -> Self {
                $name(self.0.clone())
            }
        }
    };
}
pub(crate) use watch_handle;
