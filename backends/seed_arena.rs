//! **seed-arena**: the Seq runtime's thread-local arena policy, reproduced *on purpose*,
//! so that its hazards can be shown, detected and counted. Never use it for real work.
//!
//! It exists only together with the `checked` feature (its cargo feature turns `checked`
//! on), whose access checks refuse every value whose memory it invalidated, so the
//! hazards are counted instead of corrupting memory. Its policy is the seed's, exactly:
//!
//! - one `Bump` per OS thread, shared by every strand that runs there;
//! - **every strand exit resets the exiting thread's arena**, whoever else still holds
//!   strings in it (hazard 1, shared-thread reset; hazard 2, migration: a strand that
//!   moved keeps strings in an arena that its old thread resets);
//! - **the threshold is tested after the allocation**, so the value whose allocation
//!   crossed it is returned already reset (hazard 3);
//! - **the threshold counts chunk capacity** (`Bump::allocated_bytes`), and bumpalo keeps
//!   the largest chunk on reset, so once one chunk is over the threshold every later
//!   allocation resets the arena (hazard 4);
//! - strings are never freed one by one.
//!
//! Its arena's tag names the owning thread: a value read from any other thread is
//! refused as a hazard, since the owner may reset the arena at any moment. The checks
//! guard the moment of access only: a `&str` borrowed from a seed-arena value must not be
//! held across a yield (the comparison's workloads read and drop such borrows at once).

use crate::allocator::{ResetCause, StrandCx, Ticket, ValueAllocator};
use crate::checked::ArenaTag;
use crate::error::AllocError;
use crate::stats::Registry;
use crate::thread::thread_index;
use bumpalo::Bump;
use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::ptr::NonNull;

#[cfg(not(feature = "checked"))]
compile_error!("strand-alloc: the seed-arena backend needs the checked feature");

/// The seed policy backend. See the [module documentation](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct SeedArena;

// It never retires a generation: no waste to count.
static REGISTRY: Registry = Registry::new("seed-arena").counting_retired_live();

struct SeedThread {
    bump: Bump,
    tag: ArenaTag,
    /// The arena's capacity as last reported (memory of the thread, no strand's).
    reserved: usize,
}

impl SeedThread {
    fn try_new() -> Result<Self, AllocError> {
        Ok(SeedThread {
            bump: Bump::new(),
            tag: ArenaTag::try_new(Some(thread_index()))
                .ok_or(crate::checked::no_tag(SeedArena::NAME))?,
            reserved: 0,
        })
    }

    /// The seed's `arena_reset`: everything allocated here is gone, whoever holds it.
    fn reset(&mut self) {
        self.tag.invalidate();
        self.bump.reset();
        self.measure();
    }

    /// Reports a change in the arena's capacity.
    fn measure(&mut self) {
        let reserved = self.bump.allocated_bytes();
        REGISTRY.reserve_shared(reserved as i64 - self.reserved as i64);
        self.reserved = reserved;
    }
}

impl Drop for SeedThread {
    fn drop(&mut self) {
        REGISTRY.reserve_shared(-(self.reserved as i64));
    }
}

thread_local! {
    static SEED: UnsafeCell<Option<SeedThread>> = const { UnsafeCell::new(None) };
}

/// Runs `f` with this thread's arena; out of line so no thread-local address is kept
/// across a yield. `None` while the thread's locals are being destroyed.
/// `None` also when the thread has no arena yet and none can be made (no free tag).
#[inline(never)]
fn with_seed<R>(f: impl FnOnce(&mut SeedThread) -> R) -> Option<R> {
    SEED.try_with(|cell| {
        // SAFETY: only this function reaches the cell, and it is never re-entered: `f` is
        // backend code that calls no user code and does not yield.
        let st = unsafe { &mut *cell.get() };
        if st.is_none() {
            *st = Some(SeedThread::try_new().ok()?);
        }
        st.as_mut().map(f)
    })
    .ok()
    .flatten()
}

// SAFETY: this backend breaks promise 1 of the contract on purpose (`SAFE = false`): its
// memory is invalidated by other strands' exits and by its own threshold test. It exists
// only with `checked`, where each invalidation advances the arena tag's epoch *before*
// the memory is reset, and every value access validates the stamp (and the owning thread)
// first, so invalidated memory is refused rather than read. Promises 2-4 hold: states
// are empty, `dealloc` does nothing, and `with_seed` runs no user code.
unsafe impl ValueAllocator for SeedArena {
    const NAME: &'static str = "seed-arena";
    const THREAD_BOUND: bool = true;
    const SAFE: bool = false;
    // The seed policy as it was: every value in the thread's arena.
    const LARGE_APART: bool = false;
    type StrandState = ();

    fn registry() -> &'static Registry {
        &REGISTRY
    }

    fn begin(_cx: &StrandCx) {}

    fn try_alloc(
        _: &(),
        cx: &StrandCx,
        layout: Layout,
        _pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        with_seed(|st| {
            let ptr = st
                .bump
                .try_alloc_layout(layout)
                .map_err(|_| AllocError::oom(SeedArena::NAME, layout))?;
            let stamp = st.tag.stamp();
            st.measure();
            // The seed's order: allocate, then test capacity against the threshold.
            if st.reserved > cx.config().threshold() {
                st.reset();
                cx.count_reset(ResetCause::Threshold);
            }
            // The ticket names the thread whose arena the value sits in.
            Ok((
                ptr,
                Ticket::new(crate::thread::thread_index()).with_stamp(stamp),
            ))
        })
        .unwrap_or_else(|| Err(AllocError::oom(SeedArena::NAME, layout)))
    }

    fn home(_: &(), t: Ticket) -> Option<u32> {
        (t != Ticket::PINNED).then_some(t.id())
    }

    unsafe fn dealloc(_: &(), _: &StrandCx, _: NonNull<u8>, _: Layout, _: Ticket) {
        // Arena strings are never freed one by one.
    }

    fn reset(_: &mut (), cx: &StrandCx) {
        with_seed(SeedThread::reset);
        cx.count_reset(ResetCause::Explicit);
    }

    fn exit(_: (), cx: &StrandCx) {
        // The seed resets the thread's arena on every strand exit.
        with_seed(SeedThread::reset);
        cx.count_reset(ResetCause::StrandExit);
    }
}
