//! The request plumbing every operation goes through: paths in and out of the chroot,
//! handing a request to the session with the conversion of its reply, and the blocking
//! wrappers (refused when embedded, bounded by the per-call timeout, withdrawing a watcher
//! whose wait gave up).

use bytes::Bytes;

use super::driver::{self, Pending};
use super::hosts::{chroot_path, unchroot};
use super::transaction::{self, OpResult};
use super::watchers::{PendingWatcher, Withdraw};
use super::Client;
use crate::async_result::AsyncResult;
use crate::error::Error;
use crate::handler::Handler;
use crate::proto::{Acl, MultiOp, Request, Response};
use crate::LoopError;

impl<H: Handler> Client<H> {
    /// Refuses a blocking call on an embedded handler, whose loop only the host drives.
    /// Blocking operations call it *before* submitting anything, so a refused call has no
    /// effect on the server.
    pub(crate) fn refuse_if_embedded(&self, what: &'static str) -> Result<(), Error> {
        if self.handler.is_embedded() {
            return Err(Error::Loop(LoopError::Embedded { what }));
        }
        Ok(())
    }

    /// A blocking operation: refused up front when embedded, else `submit` then wait.
    pub(super) fn blocking<T: 'static>(
        &self,
        what: &'static str,
        submit: impl FnOnce() -> AsyncResult<T>,
    ) -> Result<T, Error> {
        self.refuse_if_embedded(what)?;
        self.wait(submit())
    }

    pub(super) fn wait<T: 'static>(&self, r: AsyncResult<T>) -> Result<T, Error> {
        let timeout = self.timeout.unwrap_or(self.config.request_timeout);
        r.take(true, timeout)
    }

    /// A blocking operation that leaves a watch: [`blocking`](Self::blocking), and when the
    /// wait ends before the reply (the per-call timeout), the watcher is withdrawn: the
    /// caller saw the call fail, so the late reply completes the request but registers
    /// nothing.
    pub(super) fn blocking_watch<T: 'static>(
        &self,
        what: &'static str,
        submit: impl FnOnce(Withdraw) -> AsyncResult<T>,
    ) -> Result<T, Error> {
        self.refuse_if_embedded(what)?;
        let withdraw = Withdraw::default();
        let r = submit(withdraw.clone());
        let out = self.wait(r.clone());
        if !r.ready() {
            withdraw.withdraw();
        }
        out
    }

    pub(super) fn path(&self, path: &str, sequential: bool) -> Result<String, Error> {
        chroot_path(self.shared.borrow().chroot.as_deref(), path, sequential)
    }

    pub(super) fn unchroot(&self, path: &str) -> String {
        unchroot(self.shared.borrow().chroot.as_deref(), path)
    }

    /// Hands `req` to the session and returns its result, completed through `convert`.
    /// `label` names the request in a server error when it has no path of its own.
    pub(super) fn submit<T: 'static>(
        &self,
        req: Request,
        label: &'static str,
        watcher: Option<PendingWatcher>,
        convert: impl FnOnce(Result<Response, Error>) -> Result<T, Error> + 'static,
    ) -> AsyncResult<T> {
        let r = self.handler.async_result::<T>();
        let mut guard = self.shared.borrow_mut();
        let core = &mut *guard;
        let now = core.event_loop.now();
        let submitted = match core.session.as_mut() {
            None => Err(Error::ConnectionClosed),
            Some(s) => s.submit(now, req).map_err(|e| e.into_error(label)),
        };
        match submitted {
            Ok(id) => {
                let r2 = r.clone();
                core.pending.insert(
                    id,
                    Pending {
                        complete: Box::new(move |res| {
                            let _ = r2.set_result(convert(res));
                        }),
                        watcher: watcher.map(Box::new),
                        label,
                    },
                );
                drop(guard);
                driver::submitted(&self.shared);
            }
            Err(e) => {
                drop(guard);
                let _ = r.set_exception(e);
            }
        }
        r
    }

    pub(super) fn failed<T: 'static>(&self, e: Error) -> AsyncResult<T> {
        let r = self.handler.async_result::<T>();
        let _ = r.set_exception(e);
        r
    }

    pub(crate) fn submit_multi(
        &self,
        ops: Vec<MultiOp>,
        kinds: Vec<transaction::Kind>,
    ) -> AsyncResult<Vec<OpResult>> {
        let this = self.internal();
        self.submit(Request::Multi(ops), "multi", None, move |res| match res? {
            Response::Multi(results) => Ok(transaction::results(&this, results, kinds)),
            other => Err(unexpected("multi", &other)),
        })
    }

    pub(crate) fn full_path(&self, path: &str, sequential: bool) -> Result<String, Error> {
        self.path(path, sequential)
    }

    pub(crate) fn strip_chroot(&self, path: &str) -> String {
        self.unchroot(path)
    }

    pub(crate) fn default_acl(&self) -> Vec<Acl> {
        self.config.default_acl.clone()
    }

    pub(crate) fn wait_result<T: 'static>(&self, r: AsyncResult<T>) -> Result<T, Error> {
        self.wait(r)
    }
}

/// A reply's data as the caller keeps it. The decoder hands out slices of the buffer the
/// reply was read into, which holds many replies; a small value kept by the caller would keep
/// that whole buffer alive, so it is copied out. Large values (most of their buffer anyway)
/// stay zero-copy. The price, measured in the README's issue #6 table: one allocation and
/// copy per small value (`get_1k` at 0.93 of the raw client, within the run-to-run spread).
pub(super) fn detach(data: Bytes) -> Bytes {
    if data.len() <= DETACH_UP_TO {
        Bytes::copy_from_slice(&data)
    } else {
        data
    }
}

/// Replies' data up to this size are copied out of the read buffer ([`detach`]).
const DETACH_UP_TO: usize = 64 * 1024;

pub(super) fn unexpected(op: &'static str, r: &Response) -> Error {
    Error::protocol(op, r)
}
