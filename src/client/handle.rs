//! Who owns a client: user handles, weak handles, and the close on the last user handle.
//!
//! Every [`Client`] the user holds shares one [`Handle`]; the library's own copies (inside a
//! spawned task, a completion closure, a transaction's result mapping) carry none. The
//! session's lifetime therefore follows the user's handles only: when the last of them goes,
//! the `Handle` is dropped and [`release`] closes the session, whatever the library still
//! holds internally. A [`WeakClient`] refers to the handle without keeping it, which is what
//! a watcher or a listener that needs the client should capture.
//!
//! Closing on drop follows `stop()` without the wait: closeSession goes out after whatever
//! was already submitted, and the core stays on the loop (it keeps itself alive) until the
//! server answers it or the session's close deadline passes, each time the loop is driven.
//! Dropping the socket at once instead would race the server: data of ours it has not read
//! yet (the closeSession) is discarded when our side resets the connection, and the session
//! with its ephemerals would then live for the whole session timeout.

use std::rc::{Rc, Weak};

use log::debug;

use super::driver::{self, Pending, Shared};
use super::{Client, ClientBuilder};
use crate::error::Error;
use crate::handler::EventLoop;
use crate::handler::Handler;

/// The part of a client that only user handles share: its drop closes the session.
pub(crate) struct Handle<H: Handler> {
    pub(crate) shared: Shared,
    pub(crate) handler: H,
    pub(crate) config: Rc<ClientBuilder<H>>,
}

impl<H: Handler> Drop for Handle<H> {
    fn drop(&mut self) {
        release(&self.shared, &self.handler.event_loop());
    }
}

/// The last user handle of the client whose core is `shared` (on `lp`) is gone: close
/// its session.
///
/// Requests already submitted go out before the closeSession, and every result still
/// pending completes at once, whether or not the loop is ever driven again: with
/// [`Error::ConnectionLoss`] when the session is connected (the request was sent or is
/// being sent with the closeSession: its outcome is unknown), or with the session's own
/// error when there is no connection to send the closeSession on (the session then ends at
/// once; its queued requests were never sent). Nothing here blocks or runs user code.
pub(crate) fn release(shared: &Shared, lp: &Rc<dyn EventLoop>) {
    // A handle can be dropped while the core is borrowed (a watcher that captured the last
    // handle, dropped while the watch table is cleared): close from the loop's queue then.
    let Ok(mut core) = shared.try_borrow_mut() else {
        debug!("last client handle dropped while its core was in use: closing from the loop");
        let (again, l) = (shared.clone(), lp.clone());
        lp.call_soon_fn(move || release(&again, &l));
        return;
    };
    let now = core.event_loop.now();
    let live = match core.session.as_mut() {
        Some(s) if !s.state().is_terminal() => {
            s.close(now);
            true
        }
        _ => false,
    };
    drop(core);
    if live {
        driver::pump(shared);
    }
    let ended = shared
        .borrow()
        .session
        .as_ref()
        .map_or(true, |s| s.state().is_terminal());
    if ended {
        // Nothing to wait for: hand out whatever is still pending.
        teardown(shared);
    } else {
        // Waiting for the server's answer: the core keeps itself on the loop until then.
        // The results handed out do not wait for it (their replies, when they come, find
        // no one waiting and are dropped).
        driver::keep_until_closed(shared);
        let leftover = shared.borrow_mut().pending.drain();
        for p in leftover {
            (p.complete)(Err(Error::ConnectionLoss));
        }
    }
}

/// Ends the session at once (after `stop` waited, or gave up waiting; or when a dropped
/// client has nothing to wait for): whatever is still pending fails with
/// [`Error::ConnectionClosed`], so every result handed out completes.
pub(crate) fn teardown(shared: &Shared) {
    driver::close_now(shared);
    let (leftover, closed) = {
        let mut core = shared.borrow_mut();
        core.session = None;
        let leftover: Vec<Pending> = core.pending.drain();
        (leftover, std::mem::take(&mut core.on_closed))
    };
    for p in leftover {
        (p.complete)(Err(Error::ConnectionClosed));
    }
    for r in closed {
        let _ = r.set(());
    }
}

/// A handle to a [`Client`] that does not keep its session open: capture it in watchers,
/// listeners and tasks that need the client, and [`upgrade`](WeakClient::upgrade) it when
/// they run. Once the last [`Client`] is dropped (and the session closed), `upgrade`
/// returns `None`.
///
/// # Examples
///
/// A watcher that re-arms itself without keeping the client alive:
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let hosts = server.connect_string();
/// use std::{cell::Cell, rc::Rc, time::Duration};
/// use mio_zookeeper::{Client, WatchedEvent, Watcher, WeakClient};
///
/// fn watch(zk: WeakClient, seen: Rc<Cell<u32>>) {
///     let Some(client) = zk.upgrade() else { return }; // the client is gone: stop
///     let (z, s) = (zk.clone(), seen.clone());
///     // The result does not matter here: the watcher is armed when the reply comes.
///     let rearm = Watcher::once(move |_: WatchedEvent| {
///         s.set(s.get() + 1);
///         watch(z, s);
///     });
///     drop(client.exists_async("/flag", rearm));
/// }
///
/// let zk = Client::new(&hosts)?;
/// zk.start(None)?;
/// let seen = Rc::new(Cell::new(0));
/// watch(zk.downgrade(), seen.clone());
/// zk.create("/flag", b"", mio_zookeeper::CreateMode::Persistent)?;
/// zk.run_until(&|| seen.get() == 1, Some(Duration::from_secs(10)))?;
/// drop(zk); // closes the session: the watcher does not keep it open
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WeakClient<H: Handler = crate::handler::MioHandler> {
    handle: Weak<Handle<H>>,
    timeout: Option<Option<std::time::Duration>>,
}

impl<H: Handler> WeakClient<H> {
    pub(crate) fn new(
        handle: Weak<Handle<H>>,
        timeout: Option<Option<std::time::Duration>>,
    ) -> Self {
        WeakClient { handle, timeout }
    }

    /// The client, while some [`Client`] handle still exists; `None` once the last one was
    /// dropped.
    pub fn upgrade(&self) -> Option<Client<H>> {
        let handle = self.handle.upgrade()?;
        Some(Client::from_handle(handle, self.timeout))
    }
}

impl<H: Handler> Clone for WeakClient<H> {
    fn clone(&self) -> Self {
        WeakClient {
            handle: self.handle.clone(),
            timeout: self.timeout,
        }
    }
}

impl<H: Handler> std::fmt::Debug for WeakClient<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakClient")
            .field("alive", &(self.handle.strong_count() > 0))
            .finish()
    }
}
