//! Thread identity: a small number for each OS thread, unique for the life of the
//! process, used to tell where a strand runs (migrations, stranded bytes, the owner of a
//! seed-arena arena) and to name threads in statistics.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT_THREAD: AtomicU32 = AtomicU32::new(1);

thread_local! {
    static THREAD_INDEX: Cell<u32> = const { Cell::new(0) };
}

/// A small number naming the calling OS thread, unique for the life of the process
/// (1, 2, 3, ...).
///
/// Kept out of line: inside a strand, a thread-local address must be computed afresh on
/// every call, because the strand may have moved to another thread since the last one.
#[inline(never)]
pub fn thread_index() -> u32 {
    THREAD_INDEX.with(|c| {
        let v = c.get();
        if v != 0 {
            v
        } else {
            let v = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
            c.set(v);
            v
        }
    })
}
