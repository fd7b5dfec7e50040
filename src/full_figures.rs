//! A backend at the full level of figures, whatever the build's features.
//!
//! A build keeps one level of figures for every backend: the production level by
//! default, the full level with the `full-figures` feature ([`crate::FULL_FIGURES`]).
//! [`FullFigures<A>`] is backend `A` with its strands at the full level in any build, so
//! that one program can run the same backend at both: a runtime times its values at the
//! production level it ships and counts migrations and stranded bytes in a second run at
//! the full level (the comparison command does exactly this), or keeps the full level
//! for a few strands it watches.
//!
//! It is `A` in every other respect: the same memory, the same thread arenas, the same
//! registry (so [`crate::stats()`] of either type reads the strands of both, and
//! [`crate::StatsSnapshot::full_level`] says whether every one of them kept the full
//! level). Its strands, handles and current strands are its own: a
//! [`crate::Strand<FullFigures<A>>`] is not a [`crate::Strand<A>`], and a `checked` build
//! refuses the handle word of one type passed to the other (in a build with
//! `full-figures` too, where both keep the full level). `A` must not keep the full level
//! itself ([`ValueAllocator::FULL_FIGURES`]): a program whose code reaches a strand of
//! `FullFigures<FullFigures<A>>` fails to build, with a message that says so (at code
//! generation: `cargo check` does not see it). A report says which level its strand kept
//! ([`crate::StrandReport::full_level`]); the backend's name is the same at both.

use crate::allocator::{StrandCx, Ticket, ValueAllocator};
use crate::error::AllocError;
use crate::stats::Registry;
use std::alloc::Layout;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// Backend `A` with its strands at the full level of figures. See the
/// [module documentation](self).
///
/// What the full level costs per value is measured in docs/PERFORMANCE.md (the full level
/// rows of `benches/strand_path.rs`).
///
/// ```
/// # #[cfg(feature = "thread-arena")] {
/// use strand_alloc::{stats, FullFigures, Strand, ThreadArena};
///
/// type Watched = FullFigures<ThreadArena>;
/// let s = Strand::<Watched>::local().unwrap();
/// let hello = s.str("hello");
/// assert_eq!(s.stats().used, 5);
/// // Only full-level strands have begun on thread-arena in this program, so every
/// // figure, migrations and stranded bytes included, is counted.
/// assert!(stats::<Watched>().full_level);
/// assert!(!stats::<Watched>().to_string().contains("uncounted (production level)"));
/// # drop(hello);
/// # }
/// ```
pub struct FullFigures<A>(PhantomData<fn() -> A>);

impl<A: ValueAllocator> std::fmt::Debug for FullFigures<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FullFigures<{}>", A::NAME)
    }
}

impl<A> Clone for FullFigures<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for FullFigures<A> {}

impl<A> Default for FullFigures<A> {
    fn default() -> Self {
        FullFigures(PhantomData)
    }
}

// SAFETY: every method is `A`'s, called with `A`'s state for `A`'s strands, so `A`'s
// promises are these promises. The level of figures changes what the library counts,
// never which memory `A` hands out or frees.
unsafe impl<A: ValueAllocator> ValueAllocator for FullFigures<A> {
    const NAME: &'static str = A::NAME;
    const THREAD_BOUND: bool = A::THREAD_BOUND;
    const SAFE: bool = A::SAFE;
    const LARGE_APART: bool = A::LARGE_APART;
    const SCOPE_ARENA: bool = A::SCOPE_ARENA;
    const FULL_FIGURES: bool = true;
    type StrandState = A::StrandState;

    #[inline]
    fn registry() -> &'static Registry {
        // Every use of the backend reads its registry: a program that names a backend at
        // the full level twice over is refused when it is built, not when two of its
        // strands would share an identity (see `backend_id`).
        const {
            assert!(
                !A::FULL_FIGURES,
                "FullFigures<A>: A keeps the full level of figures already; name A itself"
            )
        };
        A::registry()
    }

    #[inline]
    fn begin(cx: &StrandCx) -> Self::StrandState {
        A::begin(cx)
    }

    #[inline(always)]
    fn try_alloc(
        state: &Self::StrandState,
        cx: &StrandCx,
        layout: Layout,
        pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        A::try_alloc(state, cx, layout, pinned)
    }

    #[inline(always)]
    unsafe fn dealloc(
        state: &Self::StrandState,
        cx: &StrandCx,
        ptr: NonNull<u8>,
        layout: Layout,
        ticket: Ticket,
    ) {
        // SAFETY: forwarded: the caller's contract is `A::dealloc`'s.
        unsafe { A::dealloc(state, cx, ptr, layout, ticket) }
    }

    #[inline(always)]
    fn home(state: &Self::StrandState, ticket: Ticket) -> Option<u32> {
        A::home(state, ticket)
    }

    #[inline(always)]
    fn thread_of_last_alloc(state: &Self::StrandState) -> Option<u32> {
        A::thread_of_last_alloc(state)
    }

    fn reset(state: &mut Self::StrandState, cx: &StrandCx) {
        A::reset(state, cx)
    }

    fn exit(state: Self::StrandState, cx: &StrandCx) {
        A::exit(state, cx)
    }

    fn release_idle() {
        A::release_idle()
    }
}
