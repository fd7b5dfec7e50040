//! The strand as an `allocator-api2` 0.2 [`Allocator`] (the version bumpalo implements),
//! for collections of the user's own.

use crate::allocator::{Ticket, ValueAllocator};
use crate::strand::Strand;
use allocator_api2::alloc::{AllocError, Allocator};
use std::alloc::Layout;
use std::ptr::NonNull;

/// Allocates from a strand's backend; obtained from [`Strand::allocator`].
///
/// Memory from it cannot outlive the strand (the handle borrows it). On the thread-arena
/// backend, freeing such memory does not let its arena be reset early: the arena stays
/// alive until the strand exits or calls [`Strand::reset`].
pub struct StrandAllocator<'s, A: ValueAllocator> {
    strand: &'s Strand<A>,
}

impl<A: ValueAllocator> std::fmt::Debug for StrandAllocator<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrandAllocator")
            .field("strand", &self.strand.id())
            .field("backend", &A::NAME)
            .finish()
    }
}

impl<A: ValueAllocator> Clone for StrandAllocator<'_, A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: ValueAllocator> Copy for StrandAllocator<'_, A> {}

impl<'s, A: ValueAllocator> StrandAllocator<'s, A> {
    pub(crate) fn new(strand: &'s Strand<A>) -> Self {
        StrandAllocator { strand }
    }
}

// SAFETY: blocks come from `Strand::alloc_raw`, which (by `ValueAllocator`'s contract)
// stay valid until released, reset or exit; reset needs `&mut Strand` and exit needs the
// strand gone, neither possible while this handle (and every clone, all borrowing the
// strand for `'s`) is alive. Pinned allocations carry `Ticket::PINNED`, so releasing
// them needs no ticket from the caller.
unsafe impl<A: ValueAllocator> Allocator for StrandAllocator<'_, A> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let (ptr, _) = self
            .strand
            .alloc_raw(layout, true)
            .map_err(|_| AllocError)?;
        Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller promises `ptr` was allocated by this allocator with `layout`
        // and is not used again; every such block is pinned.
        unsafe { self.strand.dealloc_raw(ptr, layout, Ticket::PINNED) }
    }
}

impl<A: ValueAllocator> Strand<A> {
    /// An `allocator-api2` allocator that allocates from this strand, for collections
    /// of your own. Memory from it lives at most as long as the strand; on the
    /// thread-arena backend it keeps the arena it came from alive until the strand exits
    /// or resets, even after it is freed.
    ///
    /// ```
    /// # #[cfg(feature = "thread-arena")] {
    /// use strand_alloc::{Strand, ThreadArena};
    /// let s = Strand::<ThreadArena>::local().unwrap();
    /// let mut v = allocator_api2::vec::Vec::new_in(s.allocator());
    /// v.extend_from_slice(&[1u32, 2, 3]);
    /// assert_eq!(v.iter().sum::<u32>(), 6);
    /// # }
    /// ```
    pub fn allocator(&self) -> StrandAllocator<'_, A> {
        StrandAllocator::new(self)
    }
}
