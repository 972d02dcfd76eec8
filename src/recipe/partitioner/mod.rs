//! [`SetPartitioner`]: kazoo's, a set of items split among the members of a party, each
//! item held by one member under a kazoo `Lock`, on kazoo's node layout.

mod engine;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use self::engine::Inner;
use super::base::Base;
use super::chain::{block, block_call};
use super::ShallowParty;
use crate::handler::{Handler, MioHandler};
use crate::{validate_path, AsyncResult, Client, Error};

/// Where a [`SetPartitioner`] stands (kazoo's `PartitionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartitionState {
    /// Waiting for the party to settle, then taking the item locks of our share.
    Allocating,
    /// Our share is held: [`SetPartitioner::acquired_set`] lists it.
    Acquired,
    /// The party changed while we held our share: finish the work on it and call
    /// [`SetPartitioner::release_set`] soon (the other members wait for our locks).
    Release,
    /// Over: after [`SetPartitioner::finish`], or an error it cannot ride out
    /// ([`SetPartitioner::failure`] tells which). A new partitioner must be made.
    Failure,
}

/// Splits a set of items among the members of a party (kazoo's `SetPartitioner`), so that
/// each item is worked on by one member at a time, and re-splits when members come and go.
///
/// **On the wire, as kazoo** (a kazoo `SetPartitioner` on the same path shares the work
/// with ours): the members are a [`ShallowParty`] at `path/party` (ephemeral
/// `<uuid hex>-<identifier>`); `path/locks` is created as kazoo's `ensure_path`; each item
/// of our share is held with a kazoo-compatible [`Lock`](super::Lock) at
/// `path/locks/<item>`, taken with `max_reaction_time` as its timeout. Once the party's
/// children stayed unchanged for `time_boundary` (a [`PatientChildrenWatch`](super::PatientChildrenWatch)),
/// the default split gives us `sorted(items)[i::n]`, `i` our index among the `n` sorted
/// identifiers; [`partition_fn`](Self::partition_fn) replaces it (kazoo's
/// `partition_func`). Items are strings (kazoo's `str(item)`), sorted by code point as
/// Python sorts them, duplicates dropped.
///
/// **Identifiers must be unique** with the default split: if ours appears more than once
/// (another process uses it, or a crashed process's node with it waits for its session to
/// time out) every holder of it would take the same share and the rest of the set would
/// stay unheld, so we take nothing and stay [`Allocating`](PartitionState::Allocating)
/// until the party changes again. (kazoo would take the same share twice.)
///
/// **States** (callbacks: [`on_state_change`](Self::on_state_change)): `Allocating` →
/// `Acquired`; a change of the party's members then gives `Release`, and
/// [`release_set`](Self::release_set) releases the locks and allocates again.
///
/// **Where it differs from kazoo:**
/// - a connection blip (SUSPENDED, then CONNECTED on the same session) changes nothing:
///   the session, our membership and our locks lived on, so there is no release and no
///   re-split (kazoo releases everything on every blip: its #298, #148);
/// - when the **session is lost** (expired), or an item lock is lost (its node deleted),
///   what we held is gone at once: the state goes straight back to `Allocating` with an
///   empty [`acquired_set`](Self::acquired_set) (stop working on the items when you see
///   this), the party is joined again on the new session and the set split again. kazoo
///   goes to FAILURE for good, and must be re-created;
/// - an item lock that cannot be taken within `max_reaction_time` (another member still
///   holds it, maybe splitting differently) makes us release what we got and allocate
///   again, instead of staying in ALLOCATING for ever (kazoo's #392);
/// - [`wait_for_acquire`](Self::wait_for_acquire) fails with [`Error::Timeout`] (kazoo
///   returns silently).
///
/// The engine runs on the loop ([`start`](Self::start) does not block), so it works under
/// [`Client::poll_once`] and embedded in a host's `mio::Poll`; the blocking conveniences
/// ([`wait_for_acquire`](Self::wait_for_acquire), [`release_set`](Self::release_set),
/// [`finish`](Self::finish)) are refused there. Dropping the last handle stops it and
/// releases its locks (its member node goes with the session, as kazoo's).
///
/// # Examples
///
/// ```
/// # let server = mio_zookeeper::testing::ZkServer::start()?;
/// # let zk = mio_zookeeper::Client::new(&server.connect_string())?;
/// # zk.start(None)?;
/// use std::time::Duration;
/// use mio_zookeeper::recipe::{PartitionState, SetPartitioner};
///
/// let p = SetPartitioner::new(&zk, "/work", ["q-1", "q-2", "q-3"], Some("worker-1"))?
///     .time_boundary(Duration::from_millis(200));
/// p.start();
/// p.wait_for_acquire(Some(Duration::from_secs(10)))?;
/// assert_eq!(p.state(), PartitionState::Acquired);
/// assert_eq!(p.acquired_set(), ["q-1", "q-2", "q-3"]); // alone in the party
/// p.finish()?;
/// assert_eq!(p.state(), PartitionState::Failure);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SetPartitioner<H: Handler = MioHandler>(Rc<Inner<H>>);

impl<H: Handler> Clone for SetPartitioner<H> {
    fn clone(&self) -> Self {
        SetPartitioner(self.0.clone())
    }
}

impl<H: Handler> fmt::Debug for SetPartitioner<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetPartitioner")
            .field("path", &self.0.path)
            .field("identifier", &self.0.identifier)
            .field("state", &self.state())
            .field("acquired", &self.0.acquired.borrow())
            .finish()
    }
}

/// kazoo's default identifier, `"<fqdn>-<pid>"` (here the host name).
fn default_identifier() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty() && !h.contains('/'))
        .unwrap_or_else(|| "localhost".to_string());
    format!("{host}-{}", std::process::id())
}

impl<H: Handler> SetPartitioner<H> {
    /// A partitioner of `items` on `path` for the member `identifier` (`None`: kazoo's
    /// default, `<host name>-<pid>`), with kazoo's defaults: `time_boundary` 30 s,
    /// `max_reaction_time` 1 s, the default split. Nothing is sent before
    /// [`start`](Self::start).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] for a bad `path`; [`Error::BadArgument`] for the root, an
    /// identifier that cannot be part of a node name, or an item that cannot be one (empty,
    /// `.`, `..`, a `/` or a control character).
    pub fn new<I, S>(
        client: &Client<H>,
        path: &str,
        items: I,
        identifier: Option<&str>,
    ) -> Result<SetPartitioner<H>, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        validate_path(path, false)?;
        if path == "/" {
            return Err(Error::BadArgument(
                "a SetPartitioner path must not be the root".to_string(),
            ));
        }
        let identifier = identifier.map_or_else(default_identifier, str::to_string);
        let lock_path = format!("{path}/locks");
        let party_path = format!("{path}/party");
        let mut items: Vec<String> = items.into_iter().map(Into::into).collect();
        items.sort();
        items.dedup();
        for item in &items {
            if item.is_empty()
                || item.contains('/')
                || validate_path(&format!("{lock_path}/{item}"), false).is_err()
            {
                return Err(Error::BadArgument(format!(
                    "SetPartitioner item {item:?} must be usable as a node name (not empty, no '/', not . or .., no control characters)"
                )));
            }
        }
        let party = ShallowParty::new(client, &party_path, Some(&identifier))?;
        Ok(SetPartitioner(Rc::new_cyclic(|me| Inner {
            me: me.clone(),
            client: client.downgrade(),
            handler: client.handler().clone(),
            path: path.to_string(),
            lock_path,
            party_path,
            party,
            identifier,
            items,
            partition_fn: RefCell::new(None),
            time_boundary: Cell::new(Duration::from_secs(30)),
            max_reaction_time: Cell::new(Duration::from_secs(1)),
            base: Base::new(client),
            started: Cell::new(false),
            state: Cell::new(PartitionState::Allocating),
            epoch: Cell::new(0),
            watch: RefCell::new(None),
            locks: RefCell::new(Vec::new()),
            acquired: RefCell::new(Vec::new()),
            waiters: RefCell::new(Vec::new()),
            state_fns: RefCell::new(Vec::new()),
            told: RefCell::new(VecDeque::new()),
            telling: Cell::new(false),
            failure: RefCell::new(None),
            lock_timeouts: Cell::new(0),
        })))
    }

    /// kazoo's `partition_func`: `f(our identifier, members' identifiers, items)` gives our
    /// share, whose items are then locked. It must give the members disjoint shares that
    /// together cover the set, computed the same way on every member (kazoo's processes
    /// too). Set before [`start`](Self::start).
    pub fn partition_fn(
        self,
        f: impl Fn(&str, &[String], &[String]) -> Vec<String> + 'static,
    ) -> SetPartitioner<H> {
        *self.0.partition_fn.borrow_mut() = Some(Rc::new(f));
        self
    }

    /// How long the party's members must stay unchanged before the set is split (kazoo's
    /// `time_boundary`, 30 s by default).
    pub fn time_boundary(self, d: Duration) -> SetPartitioner<H> {
        self.0.time_boundary.set(d);
        self
    }

    /// The timeout of each item lock's acquire (kazoo's `max_reaction_time`, 1 s by
    /// default); one that runs out makes the partitioner release and allocate again.
    pub fn max_reaction_time(self, d: Duration) -> SetPartitioner<H> {
        self.0.max_reaction_time.set(d);
        self
    }

    /// Calls `f` (from the loop) with the partitioner and its new state on every change
    /// of state, in order. `f` may call the partitioner's async methods (e.g.
    /// [`release_set_async`](Self::release_set_async) on [`PartitionState::Release`]); use
    /// the handle it is given rather than capture one, which would keep the partitioner
    /// alive after its last other handle is dropped.
    pub fn on_state_change(&self, f: impl Fn(&SetPartitioner<H>, PartitionState) + 'static) {
        self.0.state_fns.borrow_mut().push(Rc::new(f));
    }

    /// Starts: creates `path/locks`, joins the party, and allocates (kazoo's constructor
    /// does this). Does not block; idempotent; nothing after [`finish`](Self::finish).
    pub fn start(&self) {
        self.0.start();
    }

    /// The state now.
    pub fn state(&self) -> PartitionState {
        self.0.state.get()
    }

    /// kazoo's `acquired`.
    pub fn acquired(&self) -> bool {
        self.state() == PartitionState::Acquired
    }

    /// kazoo's `allocating`.
    pub fn allocating(&self) -> bool {
        self.state() == PartitionState::Allocating
    }

    /// kazoo's `release` (the state, not the method: that is [`release_set`](Self::release_set)).
    pub fn release(&self) -> bool {
        self.state() == PartitionState::Release
    }

    /// kazoo's `failed`.
    pub fn failed(&self) -> bool {
        self.state() == PartitionState::Failure
    }

    /// Why the partitioner is in [`PartitionState::Failure`], if it is.
    pub fn failure(&self) -> Option<Error> {
        self.failed().then(|| self.0.failure_error())
    }

    /// Our share (kazoo's iteration over the partitioner), sorted: the items whose locks
    /// we hold, while [`Acquired`](PartitionState::Acquired) or
    /// [`Release`](PartitionState::Release); empty otherwise.
    pub fn acquired_set(&self) -> Vec<String> {
        self.0.acquired.borrow().clone()
    }

    /// The items to split, sorted.
    pub fn items(&self) -> &[String] {
        &self.0.items
    }

    /// Our identifier in the party.
    pub fn identifier(&self) -> &str {
        &self.0.identifier
    }

    /// The partitioner's path.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// How many times an allocation gave up on an item lock that stayed taken for
    /// `max_reaction_time` and started over.
    pub fn lock_timeouts(&self) -> u64 {
        self.0.lock_timeouts.get()
    }

    /// Set once the state is [`Acquired`](PartitionState::Acquired) (at once if it is;
    /// start the partitioner first). One deadline: `timeout` (`None`: none).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`]; the reason of the failure once in
    /// [`PartitionState::Failure`]. The wait leaves no timer behind.
    pub fn wait_for_acquire_async(&self, timeout: Option<Duration>) -> AsyncResult<()> {
        self.0.wait_for_acquire(timeout)
    }

    /// Blocking form of [`wait_for_acquire_async`](Self::wait_for_acquire_async) (kazoo's
    /// `wait_for_acquire`).
    ///
    /// # Errors
    ///
    /// Those of the async form; [`LoopError::Embedded`](crate::LoopError::Embedded) on an
    /// embedded loop.
    pub fn wait_for_acquire(&self, timeout: Option<Duration>) -> Result<(), Error> {
        let c = self.client()?;
        block(&c, "SetPartitioner::wait_for_acquire", None, || {
            self.wait_for_acquire_async(timeout)
        })
    }

    /// kazoo's `release_set`: releases our item locks and allocates again (the state goes
    /// to [`Allocating`](PartitionState::Allocating) at once). The result is set once the
    /// locks are released (connection losses are retried by each lock).
    pub fn release_set_async(&self) -> AsyncResult<()> {
        self.0.release_set()
    }

    /// Blocking form of [`release_set_async`](Self::release_set_async), up to the client's
    /// per-call timeout.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`], a lock's release error, or the failure's reason once in
    /// [`PartitionState::Failure`]; [`LoopError::Embedded`](crate::LoopError::Embedded) on
    /// an embedded loop.
    pub fn release_set(&self) -> Result<(), Error> {
        let c = self.client()?;
        block_call(&c, "SetPartitioner::release_set", || {
            self.release_set_async()
        })
    }

    /// kazoo's `finish`: releases the locks, leaves the party, and ends in
    /// [`PartitionState::Failure`] (as kazoo). The result is set once the locks are
    /// released and the member node deleted. Idempotent.
    pub fn finish_async(&self) -> AsyncResult<()> {
        self.0.end(Error::Recipe(super::RecipeError::Stopped {
            what: "SetPartitioner",
        }))
    }

    /// Blocking form of [`finish_async`](Self::finish_async), up to the client's per-call
    /// timeout.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`], a release error; [`LoopError::Embedded`](crate::LoopError::Embedded)
    /// on an embedded loop (nothing is done).
    pub fn finish(&self) -> Result<(), Error> {
        let c = self.client()?;
        block_call(&c, "SetPartitioner::finish", || self.finish_async())
    }

    fn client(&self) -> Result<Client<H>, Error> {
        self.0
            .client
            .upgrade()
            .ok_or(Error::Recipe(super::RecipeError::Stopped {
                what: "SetPartitioner",
            }))
    }
}
