//! Wakers for tasks (futures) spawned on a reactor.
//!
//! # Why the waker is an integer
//!
//! A [`Waker`] may be cloned, sent to and woken from any thread, so its data must be
//! `Send + Sync`. The loop and its tasks are `Rc`-based and must never be touched from
//! another thread. So the waker's data pointer is not a pointer at all: it is an integer
//! packing the loop's id and the task's slab key. Waking looks the id up:
//!
//! - in a thread-local registry of the loops living on the *current* thread (the usual case:
//!   an `AsyncResult` set or a timer firing on the loop thread). A hit means the loop lives
//!   on this thread, so touching its `Rc` is sound; the task is queued directly;
//! - otherwise in a process-wide registry of the loops' `Arc<Remote>`s (plain `Send + Sync`
//!   data behind a mutex): the key is pushed there and the loop's `mio::Waker` is woken; the
//!   loop thread then queues the task.
//!
//! Cloning and dropping the waker touch nothing. A wake for a task that has finished (or
//! whose slab key was reused by a newer task) at most causes one spurious poll, which
//! futures must tolerate anyway. On 32-bit targets the id and key have 16 bits each, so
//! more than 65 536 live tasks on one loop, or ids of loops created 65 536 apart, can alias
//! and lose a wake; on 64-bit targets both are 32 bits.

use std::cell::RefCell;
use std::rc::Weak;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Weak as ArcWeak};
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::remote::Remote;
use super::Inner;

const HALF: u32 = usize::BITS / 2;
const MASK: usize = (1usize << HALF) - 1;

thread_local! {
    static LOCAL: RefCell<Vec<(usize, Weak<Inner>)>> = const { RefCell::new(Vec::new()) };
}

static GLOBAL: Mutex<Vec<(usize, ArcWeak<Remote>)>> = Mutex::new(Vec::new());

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// A fresh loop id (masked to the bits a waker carries).
pub(crate) fn next_loop_id() -> usize {
    NEXT_ID.fetch_add(1, Ordering::Relaxed) & MASK
}

/// Records a new loop in both registries.
pub(crate) fn register_loop(id: usize, inner: Weak<Inner>, remote: ArcWeak<Remote>) {
    LOCAL.with(|l| l.borrow_mut().push((id, inner)));
    GLOBAL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((id, remote));
}

/// Forgets a loop being dropped.
pub(crate) fn unregister_loop(id: usize) {
    // The thread-local may already be gone if the loop is dropped during thread exit.
    let _ = LOCAL.try_with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            l.retain(|(i, _)| *i != id);
        }
    });
    GLOBAL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(i, _)| *i != id);
}

fn encode(loop_id: usize, key: usize) -> usize {
    ((loop_id & MASK) << HALF) | (key & MASK)
}

fn decode(data: usize) -> (usize, usize) {
    (data >> HALF, data & MASK)
}

/// The waker of task `key` on loop `loop_id`.
pub(crate) fn waker(loop_id: usize, key: usize) -> Waker {
    let raw = RawWaker::new(encode(loop_id, key) as *const (), &VTABLE);
    // SAFETY: the vtable functions below never dereference the data pointer: it is an
    // integer. `wake` only touches a loop's `Rc` after finding it in the registry of the
    // current thread (so the loop lives on this thread), and otherwise only `Send + Sync`
    // data (`GLOBAL` and `Remote`). Clone and drop do nothing, so every vtable function is
    // safe to call from any thread, any number of times, as the `RawWaker` contract requires.
    unsafe { Waker::from_raw(raw) }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_raw, drop_raw);

fn clone_raw(data: *const ()) -> RawWaker {
    RawWaker::new(data, &VTABLE)
}

fn drop_raw(_: *const ()) {}

fn wake_raw(data: *const ()) {
    let (loop_id, key) = decode(data as usize);
    let local = LOCAL
        .try_with(|l| {
            let l = l.try_borrow().ok()?;
            l.iter()
                .find(|(i, _)| *i == loop_id)
                .map(|(_, w)| w.upgrade())
        })
        .ok()
        .flatten();
    match local {
        Some(Some(inner)) => inner.schedule_task(key),
        Some(None) => {} // the loop was dropped
        None => {
            let remote = GLOBAL
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|(i, _)| *i == loop_id)
                .and_then(|(_, r)| r.upgrade());
            if let Some(remote) = remote {
                remote.wake_task(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_round_trips() {
        assert_eq!(decode(encode(7, 42)), (7, 42));
        assert_eq!(decode(encode(MASK, MASK)), (MASK, MASK));
    }
}
