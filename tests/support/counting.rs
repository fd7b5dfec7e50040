//! A global allocator that forwards to the system's and counts the bytes outstanding, for
//! tests that check memory on the real heap. A test binary declares it with
//! `#[global_allocator] static GLOBAL: Counting = Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::SeqCst};

/// The counting allocator.
pub struct Counting;

/// Bytes allocated and not yet freed.
pub static OUTSTANDING: AtomicIsize = AtomicIsize::new(0);

/// Bytes allocated and not yet freed, now.
pub fn outstanding() -> isize {
    OUTSTANDING.load(SeqCst)
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        OUTSTANDING.fetch_add(l.size() as isize, SeqCst);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        OUTSTANDING.fetch_sub(l.size() as isize, SeqCst);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, l) }
    }
}
