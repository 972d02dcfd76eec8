//! Small pieces the coordination recipes share to chain async calls on the loop: a result
//! fed from another, a blocking wait that is refused when embedded, and reads gathered
//! from many nodes at once.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use crate::handler::Handler;
use crate::{AsyncResult, Client, Error};

/// Calls `f` with the outcome of `r` once it is set (from the loop), and sets `out` to
/// what `f` returns: `Some(result)` ends, `None` leaves `out` to `f` (it chained another
/// call that will set it).
pub(crate) fn then<A: 'static, B: 'static>(
    r: AsyncResult<A>,
    out: &AsyncResult<B>,
    f: impl FnOnce(Result<A, Error>, &AsyncResult<B>) -> Option<Result<B, Error>> + 'static,
) {
    let out = out.clone();
    r.rawlink(move |r| {
        if let Some(res) = f(r.take(false, None), &out) {
            let _ = out.set_result(res);
        }
    });
}

/// A blocking wait on what `start` begins: refused at once (before anything is sent) on
/// an embedded loop, else the loop runs until the result is set or `timeout` passes
/// ([`Error::Timeout`]).
pub(crate) fn block<H: Handler, T: 'static>(
    client: &Client<H>,
    what: &'static str,
    timeout: Option<Duration>,
    start: impl FnOnce() -> AsyncResult<T>,
) -> Result<T, Error> {
    client.refuse_if_embedded(what)?;
    start().take(true, timeout)
}

/// A blocking wait on what `start` begins, up to the client's per-call timeout
/// ([`Client::with_timeout`]); refused at once on an embedded loop.
pub(crate) fn block_call<H: Handler, T: 'static>(
    client: &Client<H>,
    what: &'static str,
    start: impl FnOnce() -> AsyncResult<T>,
) -> Result<T, Error> {
    client.refuse_if_embedded(what)?;
    client.wait_result(start())
}

/// Reads the data of every path in `paths` (pipelined); a node gone meanwhile gives
/// `None`. Fails with the first other error.
pub(crate) fn read_all<H: Handler>(
    client: &Client<H>,
    paths: Vec<String>,
) -> AsyncResult<Vec<Option<Bytes>>> {
    let out = client.handler().async_result::<Vec<Option<Bytes>>>();
    if paths.is_empty() {
        let _ = out.set(Vec::new());
        return out;
    }
    let slots = Rc::new(RefCell::new((vec![None; paths.len()], paths.len())));
    for (i, p) in paths.iter().enumerate() {
        let (slots, out) = (slots.clone(), out.clone());
        client.get_async(p, None).rawlink(move |r| {
            if out.ready() {
                return;
            }
            let mut s = slots.borrow_mut();
            match r.take(false, None) {
                Ok((data, _)) => s.0[i] = Some(data.unwrap_or_default()),
                Err(e) if e.is_no_node() => {}
                Err(e) => {
                    drop(s);
                    let _ = out.set_exception(e);
                    return;
                }
            }
            s.1 -= 1;
            if s.1 == 0 {
                let v = std::mem::take(&mut s.0);
                drop(s);
                let _ = out.set(v);
            }
        });
    }
    out
}

/// The children of `path`, or none if it does not exist.
pub(crate) fn children_or_none<H: Handler>(
    client: &Client<H>,
    path: &str,
) -> AsyncResult<Vec<String>> {
    let out = client.handler().async_result();
    then(client.get_children_async(path, None), &out, |r, _| {
        Some(match r {
            Err(e) if e.is_no_node() => Ok(Vec::new()),
            other => other,
        })
    });
    out
}
