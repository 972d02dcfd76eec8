//! Heap accounting: the bench's global allocator counts the allocation calls and live
//! bytes and blocks of the calling thread, for `allocs_per_op` and the memory workloads.

use super::*;

/// The global allocator: `System`, counting per thread the live heap bytes and blocks and the
/// allocation calls. Per-thread counts (plain `Cell`s, no atomics) keep it cheap and leave out
/// other threads (the test harness, the server harness's log readers).
struct CountingAlloc;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// This thread's heap counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct HeapCount {
    /// Bytes allocated minus bytes freed (sizes as requested, not as rounded up by malloc).
    pub(super) live_bytes: i64,
    /// Blocks allocated minus blocks freed.
    pub(super) live_blocks: i64,
    /// Allocation calls (alloc, alloc_zeroed, realloc).
    pub(super) calls: u64,
}

thread_local! {
    static HEAP: Cell<HeapCount> = const {
        Cell::new(HeapCount { live_bytes: 0, live_blocks: 0, calls: 0 })
    };
}

fn heap_note(bytes: i64, blocks: i64, calls: u64) {
    // `try_with`: never panic in the allocator (e.g. while the thread's locals are torn down).
    let _ = HEAP.try_with(|h| {
        let c = h.get();
        h.set(HeapCount {
            live_bytes: c.live_bytes + bytes,
            live_blocks: c.live_blocks + blocks,
            calls: c.calls + calls,
        });
    });
}

/// This thread's heap counts now.
pub(super) fn heap() -> HeapCount {
    HEAP.try_with(Cell::get).unwrap_or_default()
}

// SAFETY: every call is passed on unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; the counting only touches a thread-local `Cell` and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            heap_note(layout.size() as i64, 1, 1);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            heap_note(layout.size() as i64, 1, 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through us) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        heap_note(-(layout.size() as i64), -1, 0);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller's contract on `new_size`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            heap_note(new_size as i64 - layout.size() as i64, 0, 1);
        }
        p
    }
}
