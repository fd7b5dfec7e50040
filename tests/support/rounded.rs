//! A test-only backend, written against the public API alone: every value in a heap
//! allocation of its own, rounded up to 64 bytes. It reports only what the library
//! cannot see (the bytes it reserves); the library counts everything else.

use std::alloc::Layout;
use std::ptr::NonNull;
use strand_alloc::stats::Registry;
use strand_alloc::{AllocError, StrandCx, Ticket, ValueAllocator};

/// The rounded-heap backend.
pub struct Rounded;

static REGISTRY: Registry = Registry::new("rounded");

/// What a value of `layout` takes.
pub fn rounded(layout: Layout) -> Layout {
    Layout::from_size_align(layout.size().next_multiple_of(64), layout.align().max(64))
        .expect("a rounded layout")
}

// SAFETY: (1) each allocation is its own heap block, freed only by its own `dealloc`;
// (2) heap memory is valid on every thread; (3) `dealloc` frees with the rounded layout
// of the layout it is given, which is the allocation's; (4) it touches no thread-local.
unsafe impl ValueAllocator for Rounded {
    const NAME: &'static str = "rounded";
    const THREAD_BOUND: bool = false;
    type StrandState = ();

    fn registry() -> &'static Registry {
        &REGISTRY
    }

    fn begin(_: &StrandCx) {}

    fn try_alloc(
        _: &(),
        cx: &StrandCx,
        layout: Layout,
        _pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        let l = rounded(layout);
        // SAFETY: `l` has a non-zero size (the trait's contract gives a non-zero layout).
        let p = NonNull::new(unsafe { std::alloc::alloc(l) }).ok_or(AllocError::OutOfMemory {
            backend: Self::NAME,
            requested: l.size(),
        })?;
        cx.reserve(l.size() as i64);
        Ok((p, Ticket::NONE))
    }

    unsafe fn dealloc(_: &(), cx: &StrandCx, ptr: NonNull<u8>, layout: Layout, _: Ticket) {
        let l = rounded(layout);
        // SAFETY: the caller passes a live allocation of `layout`, made with `l`.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), l) };
        cx.reserve(-(l.size() as i64));
    }

    fn reset(_: &mut (), _: &StrandCx) {}

    fn exit(_: (), _: &StrandCx) {}
}
