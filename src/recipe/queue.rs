//! [`Queue`]: kazoo's simple priority queue, on kazoo's node names; and the entry names
//! both queues share.

use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};

use bytes::Bytes;

use super::chain::{block_call, children_or_none, then};
use super::sequence::{parse_suffix, sort_by_sequence};
use super::{RecipeError, Retry};
use crate::handler::{Handler, MioHandler};
use crate::{validate_path, AsyncResult, Client, CreateMode, Error, WeakClient};

/// The default priority of kazoo's `put` (lower is served first).
pub const DEFAULT_PRIORITY: u32 = 100;

/// The name prefix of an entry of `priority` (kazoo's `entry-%03d-`).
pub(crate) fn entry_prefix(priority: u32) -> String {
    format!("entry-{priority:03}-")
}

/// Checks a priority (kazoo: 0 to 999).
pub(crate) fn check_priority(priority: u32) -> Result<(), Error> {
    if priority > 999 {
        return Err(Error::BadArgument(format!(
            "a queue priority is 0 to 999 (lower first), not {priority}"
        )));
    }
    Ok(())
}

/// The priority and sequence number of an entry name `entry-PPP-<sequence>`, or `None`
/// for any other name.
pub(crate) fn parse_entry(name: &str) -> Option<(u32, i32)> {
    let rest = name.strip_prefix("entry-")?;
    let (prio, seq) = (rest.get(..3)?, rest.get(3..)?);
    if !prio.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq = parse_suffix(seq.strip_prefix('-')?)?;
    Some((prio.parse().ok()?, seq))
}

/// The entry names among `children`, in the order they are served: by priority, then by
/// sequence number as the server handed them out (parsed, across the signed wrap, where
/// kazoo compares the strings). Other names are left out.
pub(crate) fn serving_order(children: Vec<String>) -> Vec<String> {
    let mut entries: Vec<(String, u32, i32)> = children
        .into_iter()
        .filter_map(|c| parse_entry(&c).map(|(p, s)| (c, p, s)))
        .collect();
    sort_by_sequence(&mut entries, |e| e.2);
    entries.sort_by_key(|e| e.1); // stable: keeps the sequence order within a priority
    entries.into_iter().map(|e| e.0).collect()
}

/// A distributed queue with priorities (kazoo's `Queue`), on kazoo's nodes: an item is a
/// persistent sequential node `path/entry-<priority:03>-<sequence>` holding the value, so a
/// kazoo `Queue` on the same path and this one share the items and their order.
///
/// [`get`](Self::get) takes the first item by priority (lower first), then by the order
/// the server created them, and deletes it; a `None` means the queue is empty. An item
/// someone else took first (its node gone) is skipped for the next. As in kazoo, **the
/// item is removed before it is processed**: a consumer that dies with it loses it (use
/// [`LockingQueue`](super::LockingQueue) for that).
///
/// Where this differs from kazoo, staying compatible: the sequence numbers are compared as
/// numbers across the signed wrap (kazoo sorts the names as strings, so past 2^31 items on
/// one path it serves the newest first), and children that are not entries are ignored
/// (kazoo would hand them out too).
///
/// **A put is not retried.** Its node name is kazoo's (a protected name, Curator's
/// `_c_<id>-entry-…`, would sort before every entry in kazoo's string order and break its
/// priorities), so after a [`ConnectionLoss`](Error::ConnectionLoss) nothing tells whether
/// the item was enqueued: the error says so
/// ([`may_have_been_applied`](Error::may_have_been_applied)). Reads and takes are retried
/// ([`Retry`]'s default policy) on connection loss; a take whose delete reply was lost may
/// have removed the item (at most once, as kazoo's).
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let hosts = server.connect_string();
/// use mio_zookeeper::recipe::Queue;
/// use mio_zookeeper::Client;
///
/// let zk = Client::new(&hosts)?;
/// zk.start(None)?;
/// let q = Queue::new(&zk, "/jobs")?;
/// q.put(b"later", 500)?;
/// q.put(b"urgent", 1)?;
/// assert_eq!(q.len()?, 2);
/// assert_eq!(q.get()?.as_deref(), Some(&b"urgent"[..]));
/// assert_eq!(q.get()?.as_deref(), Some(&b"later"[..]));
/// assert_eq!(q.get()?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Queue<H: Handler = MioHandler>(Rc<Inner<H>>);

struct Inner<H: Handler> {
    client: WeakClient<H>,
    handler: H,
    path: String,
}

impl<H: Handler> Queue<H> {
    /// A queue on `path` (created, as kazoo's `ensure_path`, by the first `put`).
    ///
    /// # Notable errors
    ///
    /// [`Error::InvalidPath`]; [`Error::BadArgument`] for the root.
    pub fn new(client: &Client<H>, path: &str) -> Result<Queue<H>, Error> {
        validate_path(path, false)?;
        if path == "/" {
            return Err(Error::BadArgument(
                "a queue needs its own node, not the root".into(),
            ));
        }
        Ok(Queue(Rc::new(Inner {
            client: client.downgrade(),
            handler: client.handler().clone(),
            path: path.to_string(),
        })))
    }

    /// The queue's path.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    fn client(&self) -> Result<Client<H>, Error> {
        self.0
            .client
            .upgrade()
            .ok_or(Error::Recipe(RecipeError::Stopped { what: "Queue" }))
    }

    fn failed<T: 'static>(&self, e: Error) -> AsyncResult<T> {
        let r = self.0.handler.async_result();
        let _ = r.set_exception(e);
        r
    }

    /// Puts `value` in the queue with `priority` (0 to 999, lower first; kazoo's default is
    /// [`DEFAULT_PRIORITY`]). Returns the item's node path.
    ///
    /// # Notable errors
    ///
    /// [`Error::BadArgument`] for a priority over 999 (nothing sent); a
    /// [`ConnectionLoss`](Error::ConnectionLoss) leaves it unknown whether the item was
    /// put (see [`Queue`]).
    pub fn put(&self, value: &[u8], priority: u32) -> Result<String, Error> {
        let c = self.client()?;
        block_call(&c, "Queue::put", || self.put_async(value, priority))
    }

    /// Async form of [`put`](Self::put).
    pub fn put_async(&self, value: &[u8], priority: u32) -> AsyncResult<String> {
        let client = match check_priority(priority).and_then(|()| self.client()) {
            Ok(c) => c,
            Err(e) => return self.failed(e),
        };
        let out = client.handler().async_result();
        let node = format!("{}/{}", self.0.path, entry_prefix(priority));
        let (c, value) = (client.clone(), value.to_vec());
        then(
            client.ensure_path_async(&self.0.path, None),
            &out,
            move |r, out| {
                if let Err(e) = r {
                    return Some(Err(e));
                }
                then(
                    c.create_async(&node, value, CreateMode::PersistentSequential),
                    out,
                    |r, _| Some(r.map(|(path, _)| path)),
                );
                None
            },
        );
        out
    }

    /// Takes the first item (get and delete): its value, or `None` if the queue is empty.
    pub fn get(&self) -> Result<Option<Bytes>, Error> {
        let c = self.client()?;
        block_call(&c, "Queue::get", || self.get_async())
    }

    /// Async form of [`get`](Self::get).
    pub fn get_async(&self) -> AsyncResult<Option<Bytes>> {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return self.failed(e),
        };
        let (c, weak) = (client.clone(), Rc::downgrade(&self.0));
        Retry::new().run_async(&client, move || {
            let out = c.handler().async_result();
            take_next(&c, &weak, VecDeque::new(), &out);
            out
        })
    }

    /// How many items the queue holds (kazoo's `len(queue)`: the children of its node).
    pub fn len(&self) -> Result<usize, Error> {
        let c = self.client()?;
        block_call(&c, "Queue::len", || self.len_async())
    }

    /// Async form of [`len`](Self::len).
    pub fn len_async(&self) -> AsyncResult<usize> {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return self.failed(e),
        };
        count_children(&client, &self.0.path)
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> Result<bool, Error> {
        self.len().map(|n| n == 0)
    }
}

/// The number of children of `path` (0 if it does not exist), retried on connection loss.
pub(crate) fn count_children<H: Handler>(client: &Client<H>, path: &str) -> AsyncResult<usize> {
    let (c, path) = (client.clone(), path.to_string());
    Retry::new().run_async(client, move || {
        let out = c.handler().async_result();
        then(c.exists_async(&path, None), &out, |r, _| {
            Some(r.map(|s| s.map_or(0, |s| usize::try_from(s.num_children).unwrap_or(0))))
        });
        out
    })
}

/// Takes the first of `candidates` still there (listing the queue when they run out);
/// sets `out` to its value, or `None` once a listing finds the queue empty.
fn take_next<H: Handler>(
    c: &Client<H>,
    weak: &Weak<Inner<H>>,
    mut candidates: VecDeque<String>,
    out: &AsyncResult<Option<Bytes>>,
) {
    let Some(me) = weak.upgrade() else {
        let _ = out.set_exception(Error::Recipe(RecipeError::Stopped { what: "Queue" }));
        return;
    };
    let (c2, weak) = (c.clone(), weak.clone());
    let Some(name) = candidates.pop_front() else {
        then(children_or_none(c, &me.path), out, move |r, out| {
            let order: VecDeque<String> = match r {
                Ok(children) => serving_order(children).into(),
                Err(e) => return Some(Err(e)),
            };
            if order.is_empty() {
                return Some(Ok(None));
            }
            take_next(&c2, &weak, order, out);
            None
        });
        return;
    };
    let node = format!("{}/{name}", me.path);
    then(c.get_async(&node, None), out, move |r, out| {
        let data = match r {
            Ok((data, _)) => data.unwrap_or_default(),
            Err(e) if e.is_no_node() => {
                take_next(&c2, &weak, candidates, out);
                return None;
            }
            Err(e) => return Some(Err(e)),
        };
        let c3 = c2.clone();
        then(c2.delete_async(&node, None), out, move |r, out| match r {
            Ok(()) => Some(Ok(Some(data))),
            // Someone else took it between our read and our delete.
            Err(e) if e.is_no_node() => {
                take_next(&c3, &weak, candidates, out);
                None
            }
            Err(e) => Some(Err(e)),
        });
        None
    });
}

impl<H: Handler> Clone for Queue<H> {
    fn clone(&self) -> Self {
        Queue(self.0.clone())
    }
}

impl<H: Handler> fmt::Debug for Queue<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue").field("path", &self.0.path).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_served_by_priority_then_parsed_sequence() {
        assert_eq!(parse_entry("entry-005-0000000001"), Some((5, 1)));
        assert_eq!(parse_entry("entry-100--2147483648"), Some((100, i32::MIN)));
        assert_eq!(parse_entry("entry-10-0000000001"), None);
        assert_eq!(parse_entry("_c_x-entry-005-0000000001"), None);
        assert_eq!(parse_entry("entry-abc-0000000001"), None);
        let names = [
            "entry-100--2147483648",
            "entry-100-2147483647",
            "other",
            "entry-001-2147483646",
            "entry-100-2147483646",
        ];
        assert_eq!(
            serving_order(names.iter().map(|s| s.to_string()).collect()),
            [
                "entry-001-2147483646",
                "entry-100-2147483646",
                "entry-100-2147483647",
                "entry-100--2147483648"
            ]
        );
    }
}
