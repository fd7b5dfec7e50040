//! **strand-arena**: one bumpalo arena per strand, owned by the strand.
//!
//! The arena lives in the strand's own state, so it moves with the strand when May
//! resumes it on another OS thread: nothing is left behind (no stranded bytes), and no
//! other strand's exit can touch it. The hot path is a bump in an arena the strand already
//! holds; nothing is looked up through May's coroutine-local map.
//!
//! Lifetime: the arena is reset when the strand exits (and kept warm in a pool for the
//! next strand, unless its capacity is over the threshold or the pool is full), when the
//! strand calls [`crate::Strand::reset`], and automatically when the strand's last live
//! allocation is released after it has used more than the threshold. That last rule is
//! what bounds a long-lived strand that keeps allocating and dropping values.

use crate::allocator::{ResetCause, StrandCx, Ticket, ValueAllocator};
use crate::error::AllocError;
use crate::stats::{thread_index, Registry};
use bumpalo::Bump;
use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// The strand-arena backend. See the [module documentation](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct StrandArena;

static REGISTRY: Registry = Registry::new("strand-arena");

/// Warm arenas, reset and ready for the next strand. Touched once at strand begin and
/// once at exit, never on the allocation path.
static POOL: Mutex<Vec<Bump>> = Mutex::new(Vec::new());
static POOLED: AtomicUsize = AtomicUsize::new(0);

fn pool() -> std::sync::MutexGuard<'static, Vec<Bump>> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The arena a strand owns.
pub struct OwnArena {
    bump: UnsafeCell<Bump>,
    /// Live allocations (values not yet dropped, `allocator-api2` blocks not yet freed).
    live: Cell<usize>,
    /// Bytes handed out since the last reset.
    used: Cell<usize>,
    /// `bump.allocated_bytes()` when last measured.
    reserved: Cell<usize>,
    /// A lower bound of the room left in the current chunk.
    room: Cell<usize>,
    /// The part of `used` already added to a thread's figures (published on the slow
    /// path only, to keep thread-local access off the bump path).
    published: Cell<usize>,
}

impl OwnArena {
    fn bump(&self) -> &Bump {
        // SAFETY: the arena is reached only through its strand, one thread at a time;
        // `&mut Bump` is formed only in `reset_now` while no `&Bump` is alive.
        unsafe { &*self.bump.get() }
    }

    /// Re-measures capacity after the arena grew or was reset, and publishes the used
    /// and reserved bytes to this thread's figures.
    fn measure(&self, cx: &StrandCx) {
        let bump = self.bump();
        let reserved = bump.allocated_bytes();
        let delta = reserved as i64 - self.reserved.get() as i64;
        self.reserved.set(reserved);
        self.room.set(bump.chunk_capacity());
        cx.count_gauge(0, delta);
        let used = self.used.get();
        let used_delta = used as i64 - self.published.replace(used) as i64;
        REGISTRY.with_slot(|s| s.gauge(used_delta, delta));
    }

    /// Resets the arena. bumpalo keeps the largest chunk on reset; when that chunk is
    /// larger than the threshold the arena starts over with a single threshold-sized
    /// chunk instead, so a spike does not stay reserved for the rest of the strand.
    ///
    /// # Safety
    ///
    /// No allocation from it may still be in use.
    unsafe fn reset_now(&self, cx: &StrandCx) {
        // SAFETY: by this function's contract nothing points into the arena, and no
        // `&Bump` is alive (none is kept beyond a single backend call).
        let bump = unsafe { &mut *self.bump.get() };
        let threshold = cx.config.threshold();
        if bump.allocated_bytes() > threshold {
            *bump = Bump::try_with_capacity(threshold).unwrap_or_else(|_| Bump::new());
        } else {
            bump.reset();
        }
        let used = self.used.replace(0) as i64;
        self.live.set(0);
        cx.count_gauge(-used, 0);
        self.measure(cx);
    }
}

// SAFETY: (1) memory comes from the strand's own arena, which only that strand resets
// (when it has no live allocation, or through `&mut`) or drops (at exit): no other strand
// can reach it. (2) `Bump` is `Send` and the arena moves with the strand. (3) `dealloc`
// only counts. (4) the thread-local accesses (`thread_index`, `Registry::with_slot`) are
// out of line and run no user code.
unsafe impl ValueAllocator for StrandArena {
    const NAME: &'static str = "strand-arena";
    const THREAD_BOUND: bool = false;
    type StrandState = OwnArena;

    fn registry() -> &'static Registry {
        &REGISTRY
    }

    fn begin(cx: &StrandCx) -> OwnArena {
        let pooled = if POOLED.load(Relaxed) > 0 {
            pool().pop()
        } else {
            None
        };
        let bump = match pooled {
            Some(b) => {
                POOLED.fetch_sub(1, Relaxed);
                b
            }
            None => Bump::new(),
        };
        let arena = OwnArena {
            bump: UnsafeCell::new(bump),
            live: Cell::new(0),
            used: Cell::new(0),
            reserved: Cell::new(0),
            room: Cell::new(0),
            published: Cell::new(0),
        };
        arena.measure(cx);
        arena
    }

    #[inline]
    fn try_alloc(
        a: &OwnArena,
        cx: &StrandCx,
        layout: Layout,
        _pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        cx.observe_thread(thread_index(), false);
        let ptr = a
            .bump()
            .try_alloc_layout(layout)
            .map_err(|_| AllocError::oom(Self::NAME, layout))?;
        let charge = layout.size() + (layout.align() - 1);
        a.live.set(a.live.get() + 1);
        a.used.set(a.used.get() + layout.size());
        cx.count_alloc(layout.size(), layout.size() as i64, 0);
        if charge > a.room.get() {
            a.measure(cx);
        } else {
            a.room.set(a.room.get() - charge);
        }
        Ok((ptr, Ticket::NONE))
    }

    #[inline]
    unsafe fn dealloc(a: &OwnArena, cx: &StrandCx, _: NonNull<u8>, _: Layout, _: Ticket) {
        let live = a.live.get() - 1;
        a.live.set(live);
        if live == 0 && a.used.get() > cx.config.threshold() {
            // SAFETY: every allocation from the arena has been released (the count covers
            // values and `allocator-api2` blocks alike), so nothing points into it.
            unsafe { a.reset_now(cx) };
            cx.count_reset(ResetCause::Threshold);
        }
    }

    fn reset(a: &mut OwnArena, cx: &StrandCx) {
        if a.used.get() > 0 {
            // SAFETY: `&mut` proves no value of the strand is reachable.
            unsafe { a.reset_now(cx) };
            cx.count_reset(ResetCause::Explicit);
        }
    }

    fn exit(a: OwnArena, cx: &StrandCx) {
        let used = a.used.get() as i64;
        let reserved = a.reserved.get() as i64;
        if used > 0 {
            cx.count_reset(ResetCause::StrandExit);
        }
        cx.count_gauge(-used, -reserved);
        let published = a.published.get() as i64;
        REGISTRY.with_slot(|s| s.gauge(-published, -reserved));
        let mut bump = a.bump.into_inner();
        if bump.allocated_bytes() <= cx.config.threshold() {
            bump.reset();
            let mut pool = pool();
            if pool.len() < cx.config.pool_capacity() {
                pool.push(bump);
                POOLED.fetch_add(1, Relaxed);
            }
        }
    }

    /// Frees the pool of warm arenas.
    fn release_idle() {
        let mut pool = pool();
        POOLED.fetch_sub(pool.len(), Relaxed);
        *pool = Vec::new();
    }

    fn strand_reserved(a: &OwnArena) -> usize {
        a.reserved.get()
    }
}

/// Warm arenas kept for reuse right now.
pub fn pooled_arenas() -> usize {
    POOLED.load(Relaxed)
}
