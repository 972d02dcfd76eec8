//! kazoo's recipes, built only on the public client API.
//!
//! **What lives here, and what it may use:** the watch recipes (data and children watches,
//! tree caches) and their shared engine (`base.rs`: the weakly held client, one state
//! listener, retries with backoff; `store.rs`: the nodes a cache holds). A recipe uses the
//! [`Client`](crate::Client) as any user would, and reaches the loop only through the
//! client's [`Handler`](crate::Handler). If a recipe needs something the client lacks, the
//! client grows it publicly.
//!
//! Every recipe's engine is non-blocking: reads are `*_async` calls whose callbacks run on
//! the loop, and no callback ever waits. So every recipe works in the three ways the
//! client is driven: blocking calls (the blocking conveniences run the loop until done),
//! [`Client::poll_once`](crate::Client::poll_once), and embedded in a host's `mio::Poll`.
//!
//! **The watches** follow one node with one watcher (`one_watch.rs` is their engine: one
//! read in flight at a time, retries, the end that removes everything registered):
//! [`DataWatch`] calls back with a node's data on every change of its `mzxid`;
//! [`ChildrenWatch`] with its children on every change, and ends (saying so) when the node
//! is deleted; [`PatientChildrenWatch`] gives the children once they stayed unchanged for a
//! time boundary. Callbacks return a [`Flow`]; each watch's `ended()` result tells why it
//! ended ([`WatchEnd`]). Across a session loss they keep running, and once the client is on
//! a new session they read again and report only the differences.
//!
//! **[`RecursiveCache`]** keeps a whole subtree in memory on ONE persistent recursive
//! watch (ZooKeeper 3.6+, Curator 5's `CuratorCache` idea): the events and queries of
//! kazoo's `TreeCache`, an initial load pipelined and batched into `multiRead` requests (a
//! node's children are listed only when its stat says it has some), events and replies applied in the order the server sent
//! them, and after every reconnect a full re-read that reports exactly the differences.
//!
//! **[`TreeCache`]** (kazoo's port of Curator's): a subtree in memory, one data watch and
//! one child watch per node, events ([`CacheEvent`]) in the order the server sent the
//! changes, a pipelined initial load (at most 1 000 reads in flight), a root that need not
//! exist (it is watched until it appears; the cache never writes). On a session loss it
//! keeps what it has, and on the new session reads the tree again and reports exactly the
//! differences. `close` (or dropping the last handle) removes every watch it left, on the
//! server too.
//!
//! **[`ProtectedCreate`]** (Curator's protection mode, for the coordination recipes and for
//! any create that must not happen twice): the node's name carries a unique id (Curator's
//! `_c_<id>-<name>`, or `<id><name>` as kazoo's lock nodes: [`IdPlacement`]); after a
//! [`ConnectionLoss`](crate::Error::ConnectionLoss) the parent's children are listed and
//! the node is found by its id instead of being created again; an ephemeral node counts as
//! ours only if our current session owns it; and a create that finally failed (error,
//! deadline, or cancelled by the caller) has any node it may have made deleted in the
//! background until that succeeds or the owning session is gone. [`random_uuid`] makes ids.
//!
//! **[`Retry`]** (kazoo's `KazooRetry` and `client.retry`) calls an operation again while
//! it fails with an error after which trying again is the usual answer (connection loss,
//! operation timeout; session expiry only when asked), with jittered exponential backoff,
//! a limit on tries and a deadline, and an interrupt. [`Retry::run`] waits by running the
//! loop; [`Retry::run_async`] on the loop's timers (for `poll_once` and embedded use). When
//! it gives up it says why: [`Error::RetryFailed`](crate::Error::RetryFailed) with a
//! [`RetryStop`], the number of tries and the last error.
//!
//! **[`Lock`], [`ReadLock`], [`WriteLock`], [`Election`]** (kazoo's, on kazoo's wire
//! format: `<path>/<uuid hex>__lock__<seq>` / `__rlock__`, ephemeral sequential, the
//! identifier as data, so a kazoo process on the same path takes part): an acquire is an
//! `AsyncResult` with ONE deadline; the waiter watches (getData) only its predecessor, ordered
//! by parsed, wrap-aware sequences; every reconnect re-checks; a failed, timed-out or
//! cancelled acquire deletes its node in the background until that succeeds or the session
//! is gone, and leaves no watcher or listener; a holder learns of a loss (`on_lost`,
//! `is_held`). An [`Election`] is a [`Lock`] whose holder leads.
//!
//! **Membership and queues**, on kazoo's node names so that kazoo's recipes on the same
//! path interoperate: [`Party`] (ephemeral `<uuid hex>__party__`, the identifier as data)
//! and [`ShallowParty`] (`<uuid hex>-<identifier>`) list their members, call back on every
//! change ([`Party::watch_async`]) and, unlike kazoo's, join again after a session expiry
//! until they leave. [`Queue`] serves persistent sequential `entry-<priority>-<seq>` items
//! by priority, then by sequence number compared across the signed wrap;
//! [`LockingQueue`] takes an item with an ephemeral `taken/<entry>` node until it is
//! consumed or released, and its `get` waits on the loop with one watcher that is removed
//! when the wait ends (kazoo's #175).
//!
//! **[`Counter`]** (kazoo's `Counter`): an integer in one node's data, in kazoo's decimal
//! ASCII or the Curator-compatible 4-byte form ([`CounterFormat`]), changed by versioned
//! sets (a contended set reads again and retries). A handle starts its next add with the
//! set alone (one round trip uncontended), and adds in flight on one handle are coalesced
//! into one set of their sum, each caller still getting its own consecutive [`Change`]
//! (many `add_async` in flight are not held to the server's serial write rate). Unlike kazoo, a set whose reply was lost is not
//! applied twice: the node is read back, and when that cannot decide, the add fails with
//! [`RecipeError::OutcomeUnknown`] (`may_have_been_applied()` is `true`).
//!
//! **[`Barrier`]** and **[`DoubleBarrier`]** (kazoo's): the same nodes as kazoo's, so
//! kazoo's members and ours wait, enter and leave together. Every wait has one deadline,
//! checks again after each reconnect and on a new session, and leaves no watcher,
//! listener or timer behind; a failed or timed-out enter deletes its member node in the
//! background, and errors are returned, not swallowed as kazoo's `enter` does.
//!
//! **[`SetPartitioner`]** (kazoo's, on kazoo's layout: a [`ShallowParty`] at
//! `path/party`, a kazoo-compatible [`Lock`] per item at `path/locks/<item>`, kazoo's
//! default split `sorted(items)[i::n]`, so a kazoo `SetPartitioner` on the same path
//! shares the work): the party settles ([`PatientChildrenWatch`]), our share's locks are
//! taken one by one with `max_reaction_time` as timeout, and the [`PartitionState`] goes
//! `Allocating` → `Acquired` → `Release` (the party changed; `release_set`) with a
//! callback on every change. Unlike kazoo's, a connection blip on the same session
//! releases nothing (#298, #148); a lost session gives the set back at once and allocates
//! again on the new session instead of failing for good; an item lock that stays taken
//! makes it release and start over rather than stick in ALLOCATING (#392).
//!
//! **[`Semaphore`]** (kazoo's, on kazoo's wire format: `max_leases` as ASCII on the path,
//! a [`Lock`] at the sibling `<path>-__lock__`, leases as ephemeral `<path>/<uuid hex>`
//! holding the identifier): leases are counted and created only under the internal lock,
//! which is released after every attempt; one deadline covers the whole acquire; a failed,
//! timed-out or cancelled acquire leaves no node, watcher or listener; a holder learns of a
//! loss. **[`NonBlockingLease`], [`MultiNonBlockingLease`]** (kazoo's): a lease decided at
//! once under a [`Lock`] on the lease path, in kazoo's exact `lease_holder` JSON record, so
//! kazoo's leases and these exclude each other; the lock wait has a deadline.
//!
//! ## For a kazoo user
//!
//! | kazoo (`kazoo.recipe.*`) | here |
//! |---|---|
//! | `DataWatch(client, path, func)`; `func` returns `False` to stop | [`DataWatch::start`] (blocking until the first call) or [`DataWatch::start_async`]; the callback returns [`Flow::Stop`] |
//! | `ChildrenWatch(client, path, func, send_event=True)` | [`ChildrenWatch`]: the event is always passed; the node's deletion ends the watch and says so ([`WatchEnd::NodeDeleted`]) where kazoo stops silently |
//! | `PatientChildrenWatch(client, path, time_boundary).start()` | [`PatientChildrenWatch`]: a [`Settled`] result with `next_change` |
//! | `TreeCache(client, path)`, `listen`, `start`, `close`, `get_data`, `get_children`, `TreeEvent` | [`TreeCache`] with the same members; [`CacheEvent`]; the root is not created |
//! | (none; Curator's `create().withProtection()`; kazoo's `Lock` does a weaker form inside) | [`ProtectedCreate`] |
//! | (none; Curator 5's `CuratorCache`) | [`RecursiveCache`]: the same API on one persistent recursive watch |
//! | `zk.Lock(path, identifier, extra_lock_patterns)`: `acquire(blocking, timeout, ephemeral)`, `release`, `cancel`, `contenders`, `is_acquired` | [`Lock::new`] + `extra_lock_patterns` (literal markers, not regexes) + `ephemeral`; [`Lock::acquire`] / `acquire_async` (one deadline, [`Error::Timeout`](crate::Error::Timeout)); `try_acquire` for `blocking=False`; `release`, `cancel`, `contenders`; [`Lock::is_held`] (false once lost) and [`Lock::on_lost`] |
//! | `zk.ReadLock`, `zk.WriteLock` | [`ReadLock`], [`WriteLock`] (the same members) |
//! | `zk.Election(path, identifier)`: `run(func)`, `cancel`, `contenders` | [`Election`]: `run(f, timeout)`, `campaign_async`, `cancel`, `resign`, `is_leader`, `on_lost`, `contenders`, `leader` |
//!
//! | `Counter(client, path, default=0, support_curator=False)`; `counter += n`, `counter -= n`, `counter.value`, `pre_value`/`post_value` | [`Counter::new`] with `.default(v)`, `.format(CounterFormat::Curator)`; [`Counter::add`]/[`sub`](Counter::sub) return a [`Change`] `{ pre, post }`; [`Counter::value`]; `*_async` forms. Integers only (`i64`); kazoo's float counter data is [`RecipeError::BadData`] |
//! | `Barrier(client, path)`: `create()`, `remove()`, `wait(timeout=None)` | [`Barrier`]: the same, `wait` returns `Ok(false)` at the deadline as kazoo's `False`, and survives reconnects; `*_async` forms |
//! | `DoubleBarrier(client, path, num_clients, identifier=None)`: `enter()`, `leave()`, `participating` | [`DoubleBarrier::new`] (the identifier is given); [`enter`](DoubleBarrier::enter)/[`leave`](DoubleBarrier::leave) take a timeout and return errors; [`participating`](DoubleBarrier::participating) |
//!
//! | `zk.Semaphore(path, identifier, max_leases)`: `acquire(blocking, timeout)`, `release`, `cancel`, `lease_holders`, `is_acquired` | [`Semaphore::new`]; `acquire` / `acquire_async` (one deadline), `try_acquire` for `blocking=False`, `release`, `cancel`, `lease_holders`, [`Semaphore::is_held`] (false once lost), [`Semaphore::on_lost`]; kazoo's `ValueError` is [`RecipeError::MaxLeasesMismatch`] |
//! | `zk.NonBlockingLease(path, duration, identifier)` (truthy if obtained) | [`NonBlockingLease::acquire`] / `acquire_async` → `bool`, with a deadline on the lock (kazoo waits forever) |
//! | `zk.MultiNonBlockingLease(count, path, duration, identifier)` | [`MultiNonBlockingLease::acquire`] → the slot obtained, `Option<u32>` |
//! | `KazooRetry(max_tries, delay, backoff, max_jitter, max_delay, ignore_expire, deadline, interrupt)`, `client.retry(func)` | [`Retry`] with the same knobs (`retry_session_expired` for `ignore_expire`, default `false`), `run(&client, op)` / `run_async`; `RetryFailedError` is [`Error::RetryFailed`](crate::Error::RetryFailed) |
//! | `Party(client, path, identifier)`: `join`, `leave`, `iter`, `len` | [`Party`]: `join`, `leave`, [`members`](Party::members), `len` (+ `*_async`); [`watch_async`](Party::watch_async); rejoins after a session expiry |
//! | `ShallowParty(client, path, identifier)` | [`ShallowParty`], the same members; a bad identifier is [`Error::BadArgument`](crate::Error::BadArgument) at once |
//! | `Queue(client, path)`: `put(value, priority=100)`, `get()`, `len` | [`Queue`]: `put(value, priority)` ([`DEFAULT_PRIORITY`]), `get` (`None` when empty), `len` (+ `*_async`) |
//! | `LockingQueue(client, path)`: `put`, `put_all`, `get(timeout)`, `holds_lock`, `consume`, `release`, `len` | [`LockingQueue`] with the same members (+ `*_async`); `get` running out is [`Error::Timeout`](crate::Error::Timeout) where kazoo returns `None` |
//! | `zk.SetPartitioner(path, set, partition_func, identifier, time_boundary, max_reaction_time)`: `state`, `failed`/`release`/`allocating`/`acquired`, `wait_for_acquire(timeout)`, `release_set`, `finish`, iteration | [`SetPartitioner::new`] + `partition_fn`, `time_boundary`, `max_reaction_time`, then [`start`](SetPartitioner::start); [`state`](SetPartitioner::state) ([`PartitionState`]) and the same four predicates, [`on_state_change`](SetPartitioner::on_state_change) (kazoo's `state_change_event`), `wait_for_acquire` (+ `_async`; [`Error::Timeout`](crate::Error::Timeout) where kazoo returns silently), `release_set`, `finish` (+ `_async`), [`acquired_set`](SetPartitioner::acquired_set) for the iteration; items are strings |
//!
//! ## Faults, and what each recipe does on LOST
//!
//! Every recipe holds the client weakly (a running recipe never keeps a session open), has
//! one state listener, and retries a failed read with backoff (100 ms doubling to 10 s) or
//! at the next reconnect. While the connection is down (SUSPENDED) it keeps what it has.
//!
//! | recipe | back on the same session | on LOST (session expired) | then, on a new session |
//! |---|---|---|---|
//! | [`DataWatch`] | the client re-set its watch (the server fires it if the node changed); a read after a reconnect calls only if `mzxid` moved | no call; keeps its last value | reads again; one call if the node changed (data, created, deleted), none otherwise |
//! | [`ChildrenWatch`] | as `DataWatch`, on the child list | no call; keeps its last list | reads again; one call if the children differ; ends with [`WatchEnd::NodeDeleted`] if the node is gone |
//! | [`PatientChildrenWatch`] | re-reads; a difference restarts the wait (or fires `next_change` once settled); it never settles while disconnected | no settling until the client is back | as on the same session |
//! | [`TreeCache`] | `ConnectionSuspended`, `ConnectionReconnected`, then the changes the re-set watches report | `ConnectionLost`; keeps its nodes | `ConnectionReconnected`; reads and watches the whole tree again and reports exactly the differences |
//! | [`RecursiveCache`] | `ConnectionSuspended`, `ConnectionReconnected`; the server does not replay missed changes to a persistent watch, so it re-reads the tree and reports exactly the differences | `ConnectionLost`; keeps its nodes | `ConnectionReconnected`; adds its watch again, re-reads, reports exactly the differences |
//!
//! If the client never connects again, a recipe stays idle until it is stopped or closed;
//! once the last client handle is dropped it ends silently. Stopping or closing any recipe
//! removes everything it registered: its watchers (on the server too, with
//! `removeWatches`), its state listener and its timers.
mod barrier;
mod base;
mod cache_event;
mod chain;
mod children_watch;
mod counter;
mod data_watch;
mod double_barrier;
mod election;
mod error;
mod lease;
mod lock;
mod locking_queue;
mod node_wait;
mod one_watch;
mod partitioner;
mod party;
mod patient;
mod protected;
mod queue;
mod recursive_cache;
mod retry;
mod semaphore;
mod sequence;
mod store;
mod tree_cache;

pub use crate::error::RetryStop;
pub use barrier::Barrier;
pub use cache_event::{CacheEvent, CachedNode};
pub use children_watch::ChildrenWatch;
pub use counter::{Change, Counter, CounterFormat};
pub use data_watch::{DataWatch, NodeValue};
pub use double_barrier::DoubleBarrier;
pub use election::Election;
pub use error::RecipeError;
pub use lease::{MultiNonBlockingLease, NonBlockingLease, DEFAULT_LEASE_TIMEOUT};
pub use lock::{Lock, ReadLock, WriteLock};
pub use locking_queue::LockingQueue;
pub use one_watch::{Flow, WatchEnd};
pub use partitioner::{PartitionState, SetPartitioner};
pub use party::{Party, ShallowParty};
pub use patient::{PatientChildrenWatch, Settled};
pub use protected::{random_uuid, IdPlacement, ProtectedCreate};
pub use queue::{Queue, DEFAULT_PRIORITY};
pub use recursive_cache::RecursiveCache;
pub use retry::Retry;
pub use semaphore::Semaphore;
pub use tree_cache::TreeCache;
