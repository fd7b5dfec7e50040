//! A global allocator that forwards to the system's and counts the bytes outstanding, for
//! tests that check memory on the real heap. A test binary declares it with
//! `#[global_allocator] static GLOBAL: Counting = Counting;`.

// Each test binary that includes this uses part of it.
#![allow(dead_code)]

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

thread_local! {
    /// Bytes allocated on this thread less bytes freed on it (constant-initialised and
    /// without a destructor, so the allocator may touch it at any time).
    static HERE: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

/// Bytes allocated on the calling thread less bytes freed on it: what a test that works
/// on one thread measures without counting the test harness's own allocations, which
/// its other threads make at any time.
pub fn outstanding_here() -> isize {
    HERE.with(std::cell::Cell::get)
}

fn here(delta: isize) {
    let _ = HERE.try_with(|h| h.set(h.get() + delta));
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        OUTSTANDING.fetch_add(l.size() as isize, SeqCst);
        here(l.size() as isize);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        OUTSTANDING.fetch_sub(l.size() as isize, SeqCst);
        here(-(l.size() as isize));
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, l) }
    }
}
