//! **global-malloc**: every value on the global heap, freed when it drops.
//!
//! The baseline the arenas are measured against. Nothing is shared between strands and
//! nothing is reset, so it has no hazards by construction; its costs are one allocator
//! call per value and one per release.

use crate::allocator::{StrandCx, Ticket, ValueAllocator};
use crate::error::AllocError;
use crate::stats::Registry;
use std::alloc::Layout;
use std::ptr::NonNull;

/// The global-malloc backend. See the [module documentation](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobalMalloc;

// No generations: nothing retired, so no waste to count.
// Every value is an allocation of its own: the bytes a strand reserves are its values.
static REGISTRY: Registry = Registry::new("global-malloc")
    .counting_retired_live()
    .reserving_used();

// SAFETY: (1) memory comes from the global allocator and is freed only by `dealloc` of
// that very allocation; nothing else ever frees it. (2) heap memory is valid on every
// thread. (3) `dealloc` frees with the layout it was given, which is the allocation's.
// (4) it touches no thread-local data.
unsafe impl ValueAllocator for GlobalMalloc {
    const NAME: &'static str = "global-malloc";
    const THREAD_BOUND: bool = false;
    const SCOPE_ARENA: bool = false;
    // Every value is a heap allocation of its own already.
    const LARGE_APART: bool = false;
    type StrandState = ();

    fn registry() -> &'static Registry {
        &REGISTRY
    }

    fn begin(_cx: &StrandCx) {}

    #[inline(always)]
    fn try_alloc(
        _: &(),
        _cx: &StrandCx,
        layout: Layout,
        _pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        // The heap's allocation is the strand's reservation, for as long as it lives: the
        // registry counts it as the value's used bytes (`reserving_used`), so nothing is
        // reported here.
        // SAFETY: `layout` has a non-zero size (the trait's contract).
        let ptr = NonNull::new(unsafe { std::alloc::alloc(layout) })
            .ok_or_else(|| AllocError::oom(Self::NAME, layout))?;
        Ok((ptr, Ticket::NONE))
    }

    #[inline(always)]
    unsafe fn dealloc(_: &(), _cx: &StrandCx, ptr: NonNull<u8>, layout: Layout, _: Ticket) {
        // SAFETY: the caller passes a live allocation from `try_alloc` and its layout.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
        if crate::trim::counts_global_malloc() {
            crate::trim::freed(layout.size());
        }
        // Its reservation ends with its used bytes (`reserving_used`).
    }

    /// Nothing to do: every value was already freed when it dropped.
    fn reset(_: &mut (), _cx: &StrandCx) {}

    fn exit(_: (), _cx: &StrandCx) {}
}
