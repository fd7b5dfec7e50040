//! The `global-malloc+mimalloc` baseline (feature `mimalloc`): global-malloc measured in a
//! process whose global allocator is mimalloc, the allocator a runtime author would pick
//! instead of an arena.
//!
//! The comparison's child processes are this same executable, and a process has one
//! global allocator, fixed at build time. So the executable's global allocator is a
//! switch: the system allocator, unless the process was started with
//! [`ENV`] set, in which case `main` turns mimalloc on before doing anything else. Every
//! later allocation of that process (the workload, May, the harness) comes from
//! mimalloc; a block is always freed or resized by the allocator that made it (mimalloc
//! knows its own blocks), so what the runtime allocated before the switch stays valid.
//! Processes without [`ENV`] (every other backend) pay one relaxed load per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The baseline's name among the backends.
pub const NAME: &str = "global-malloc+mimalloc";

/// The environment variable that turns mimalloc on in a child process.
pub const ENV: &str = "STRAND_ALLOC_CHILD_MIMALLOC";

static ON: AtomicBool = AtomicBool::new(false);

/// The switching global allocator.
pub struct Switch;

#[global_allocator]
static GLOBAL: Switch = Switch;

/// Whether `p` was allocated by mimalloc.
fn mimalloc_owns(p: *mut u8) -> bool {
    // SAFETY: `mi_is_in_heap_region` only inspects mimalloc's own segment map for the
    // address; any pointer value is allowed.
    ON.load(Relaxed) && unsafe { libmimalloc_sys::mi_is_in_heap_region(p.cast()) }
}

// SAFETY: every block comes from either the system allocator or mimalloc, each with its
// own contract forwarded unchanged, and is freed or resized by the one that made it
// (decided by `mimalloc_owns`, which is exact: mimalloc is on from before its first block).
unsafe impl GlobalAlloc for Switch {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe {
            if ON.load(Relaxed) {
                mimalloc::MiMalloc.alloc(l)
            } else {
                System.alloc(l)
            }
        }
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe {
            if ON.load(Relaxed) {
                mimalloc::MiMalloc.alloc_zeroed(l)
            } else {
                System.alloc_zeroed(l)
            }
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded contract, to the allocator that made `p`.
        unsafe {
            if mimalloc_owns(p) {
                mimalloc::MiMalloc.dealloc(p, l)
            } else {
                System.dealloc(p, l)
            }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract, to the allocator that made `p`.
        unsafe {
            if mimalloc_owns(p) {
                mimalloc::MiMalloc.realloc(p, l, new_size)
            } else {
                System.realloc(p, l, new_size)
            }
        }
    }
}

/// Turns mimalloc on when this process was started for the baseline. Called first thing
/// in `main`.
pub fn switch_if_asked() {
    if std::env::var_os(ENV).is_some() {
        ON.store(true, Relaxed);
    }
}

/// Whether this process allocates from mimalloc.
pub fn on() -> bool {
    ON.load(Relaxed)
}
