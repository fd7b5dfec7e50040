//! **strand-arena**: one bumpalo arena per strand, owned by the strand.
//!
//! The arena lives in the strand's own state, so it moves with the strand when May
//! resumes it on another OS thread: nothing is left behind (no stranded bytes), and no
//! other strand's exit can touch it. The hot path is a bump in an arena the strand already
//! holds; nothing is looked up through May's coroutine-local map.
//!
//! Lifetime: the arena is split into *generations*. Allocations go to the current
//! generation; when the next one would take it over the threshold, the current
//! generation is reset in place if nothing in it is live, and otherwise retired (kept
//! until its last allocation is released, then reset and kept as the spare for the next
//! rotation) while a fresh generation becomes current. Each allocation's ticket names
//! its generation. So a long-lived strand that keeps a window of values while it churns
//! stays bounded by about the threshold plus what it really holds. At exit everything is
//! dropped at once and the current generation is kept warm in a pool for the next strand
//! (unless its capacity is over the threshold or the pool is full); [`crate::Strand::reset`]
//! drops everything too.
//!
//! Memory from [`crate::Strand::allocator`] is *pinned*: it keeps its generation alive
//! until the strand exits or resets, since its release carries no ticket.

use crate::allocator::{ResetCause, StrandCx, Ticket, ValueAllocator};
use crate::checked::ArenaTag;
use crate::error::AllocError;
use crate::stats::{thread_index, Registry};
use bumpalo::Bump;
use std::alloc::Layout;
use std::cell::{Cell, RefCell, UnsafeCell};
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

/// A retired generation: older memory of the strand that still has live allocations.
struct Retired {
    bump: Bump,
    /// Dropped (which invalidates its stamps) when the generation is reset.
    _tag: ArenaTag,
    id: u32,
    live: usize,
    used: usize,
    reserved: usize,
    pinned: bool,
}

/// The arena a strand owns: its current generation inline (the hot path), retired ones
/// aside.
// `live` is kept away from the other counters: next to `used`, the compiler updates both
// with one 16-byte load and store, and the 8-byte store of `live` by the release before
// it makes that load wait (a failed store-to-load forward) on every allocation.
#[repr(C)]
pub struct OwnArena {
    /// Live allocations in the current generation (values not yet dropped).
    live: Cell<usize>,
    bump: UnsafeCell<Bump>,
    /// The current generation's identity, validated by every access under `checked`.
    tag: UnsafeCell<ArenaTag>,
    /// The current generation's id, the ticket of its allocations (never 0 or `u32::MAX`).
    id: Cell<u32>,
    /// Whether the current generation holds pinned (`allocator-api2`) memory.
    pinned: Cell<bool>,
    /// Bytes handed out by the current generation since it began.
    used: Cell<usize>,
    /// The current generation's `allocated_bytes()` when last measured.
    reserved: Cell<usize>,
    /// A lower bound of the room left in the current chunk.
    room: Cell<usize>,
    /// Older generations with live allocations.
    retired: RefCell<Vec<Retired>>,
    /// An emptied generation kept for the next rotation.
    spare: RefCell<Option<Bump>>,
    /// Bytes used and reserved by retired generations and the spare.
    aside_used: Cell<usize>,
    aside_reserved: Cell<usize>,
    /// The part of the strand's used and reserved bytes already added to a thread's
    /// figures (published on the slow path only, to keep thread-local access off the
    /// bump path).
    published: Cell<(usize, usize)>,
}

impl OwnArena {
    fn new(bump: Bump) -> Self {
        OwnArena {
            bump: UnsafeCell::new(bump),
            tag: UnsafeCell::new(ArenaTag::new(None)),
            id: Cell::new(1),
            live: Cell::new(0),
            pinned: Cell::new(false),
            used: Cell::new(0),
            reserved: Cell::new(0),
            room: Cell::new(0),
            retired: RefCell::new(Vec::new()),
            spare: RefCell::new(None),
            aside_used: Cell::new(0),
            aside_reserved: Cell::new(0),
            published: Cell::new((0, 0)),
        }
    }

    fn bump(&self) -> &Bump {
        // SAFETY: the arena is reached only through its strand, one thread at a time;
        // `&mut Bump` is formed only in `take_current` while no `&Bump` is alive (none is
        // kept beyond a single backend call).
        unsafe { &*self.bump.get() }
    }

    fn tag(&self) -> &ArenaTag {
        // SAFETY: as for `bump`: `&mut ArenaTag` is formed only in `take_current`, while
        // no `&ArenaTag` is alive.
        unsafe { &*self.tag.get() }
    }

    /// Re-measures the current generation's capacity after it grew or changed, and
    /// publishes the strand's used and reserved bytes to this thread's figures.
    fn measure(&self, cx: &StrandCx) {
        let bump = self.bump();
        let reserved = bump.allocated_bytes();
        let delta = reserved as i64 - self.reserved.get() as i64;
        self.reserved.set(reserved);
        self.room.set(bump.chunk_capacity());
        cx.count_gauge(0, delta);
        self.publish();
    }

    fn publish(&self) {
        let used = self.used.get() + self.aside_used.get();
        let reserved = self.reserved.get() + self.aside_reserved.get();
        let (pu, pr) = self.published.replace((used, reserved));
        if (pu, pr) != (used, reserved) {
            REGISTRY.with_slot(|s| s.gauge(used as i64 - pu as i64, reserved as i64 - pr as i64));
        }
    }

    /// Replaces the current generation with `next` (under a fresh tag) and returns the
    /// old one with its tag.
    ///
    /// # Safety
    ///
    /// No `&Bump` or `&ArenaTag` of the current generation is alive.
    unsafe fn take_current(&self, next: Bump) -> (Bump, ArenaTag) {
        // SAFETY: by this function's contract nobody borrows the current `Bump` or tag;
        // moving the `Bump` does not move the chunks its allocations live in.
        unsafe {
            (
                std::mem::replace(&mut *self.bump.get(), next),
                std::mem::replace(&mut *self.tag.get(), ArenaTag::new(None)),
            )
        }
    }

    fn next_id(&self) -> u32 {
        let id = self.id.get().wrapping_add(1);
        if id == 0 || id == u32::MAX {
            1
        } else {
            id
        }
    }

    /// The current generation is full: reset it in place when nothing in it is live,
    /// otherwise retire it and start a fresh one.
    #[cold]
    #[inline(never)]
    fn rotate(&self, cx: &StrandCx) {
        let threshold = cx.config.threshold();
        let fresh = self
            .spare
            .borrow_mut()
            .take()
            .inspect(|b| {
                // It becomes the current generation; `measure` counts it again there.
                let r = b.allocated_bytes();
                self.aside_reserved.set(self.aside_reserved.get() - r);
                cx.count_gauge(0, -(r as i64));
            })
            .unwrap_or_else(|| Bump::try_with_capacity(threshold).unwrap_or_else(|_| Bump::new()));
        let used = self.used.replace(0);
        let reserved = self.reserved.replace(0);
        // SAFETY: no `&Bump` is alive here (this runs before the allocation borrows it).
        let (mut old, tag) = unsafe { self.take_current(fresh) };
        if self.live.get() == 0 && !self.pinned.get() {
            // Nothing in the old generation is live: reset it and keep it as the spare.
            cx.count_gauge(-(used as i64), -(reserved as i64));
            drop(tag);
            old.reset();
            self.keep_spare(old, threshold, cx);
            cx.count_reset(ResetCause::Threshold);
        } else {
            self.aside_used.set(self.aside_used.get() + used);
            self.aside_reserved.set(self.aside_reserved.get() + reserved);
            self.retired.borrow_mut().push(Retired {
                bump: old,
                _tag: tag,
                id: self.id.get(),
                live: self.live.get(),
                used,
                reserved,
                pinned: self.pinned.get(),
            });
            cx.count_rotation();
        }
        self.id.set(self.next_id());
        self.live.set(0);
        self.pinned.set(false);
        self.measure(cx);
    }

    /// Keeps an emptied (already reset) generation as the spare, or drops it.
    fn keep_spare(&self, bump: Bump, threshold: usize, cx: &StrandCx) {
        let r = bump.allocated_bytes();
        let mut spare = self.spare.borrow_mut();
        if spare.is_none() && r <= threshold.saturating_mul(2) {
            *spare = Some(bump);
            self.aside_reserved.set(self.aside_reserved.get() + r);
            cx.count_gauge(0, r as i64);
        }
    }

    /// Releases one allocation of a retired generation; frees the generation when it was
    /// the last.
    #[cold]
    #[inline(never)]
    fn release_retired(&self, id: u32, cx: &StrandCx) {
        let mut retired = self.retired.borrow_mut();
        let Some(i) = retired.iter().position(|g| g.id == id) else {
            return;
        };
        let g = &mut retired[i];
        g.live -= 1;
        if g.live > 0 || g.pinned {
            return;
        }
        let Retired {
            mut bump,
            _tag: tag,
            used,
            reserved,
            ..
        } = retired.swap_remove(i);
        drop(retired);
        drop(tag);
        self.aside_used.set(self.aside_used.get() - used);
        self.aside_reserved.set(self.aside_reserved.get() - reserved);
        cx.count_gauge(-(used as i64), -(reserved as i64));
        // Every allocation of the generation has been released: nothing points into it.
        bump.reset();
        self.keep_spare(bump, cx.config.threshold(), cx);
        cx.count_reset(ResetCause::Threshold);
        self.publish();
    }

    /// Drops every retired generation and the spare, and resets the current one.
    ///
    /// # Safety
    ///
    /// No allocation from the arena may still be in use.
    unsafe fn reset_all(&self, cx: &StrandCx) {
        let threshold = cx.config.threshold();
        self.retired.borrow_mut().clear();
        self.spare.borrow_mut().take();
        cx.count_gauge(
            -(self.aside_used.replace(0) as i64),
            -(self.aside_reserved.replace(0) as i64),
        );
        // bumpalo keeps the largest chunk on reset; when that chunk is larger than the
        // threshold the arena starts over with a single threshold-sized chunk instead, so
        // a spike does not stay reserved for the rest of the strand.
        let fresh = if self.bump().allocated_bytes() > threshold {
            Bump::try_with_capacity(threshold).unwrap_or_else(|_| Bump::new())
        } else {
            Bump::new()
        };
        // SAFETY: no `&Bump` is alive (none is kept beyond a single backend call).
        let (mut old, tag) = unsafe { self.take_current(fresh) };
        drop(tag);
        if old.allocated_bytes() <= threshold {
            // By this function's contract nothing points into it.
            old.reset();
            // SAFETY: as above, nobody borrows the current `Bump` or tag.
            drop(unsafe { self.take_current(old) });
        }
        cx.count_gauge(-(self.used.replace(0) as i64), 0);
        self.live.set(0);
        self.pinned.set(false);
        self.measure(cx);
    }
}

// SAFETY: (1) memory comes from the strand's own arena, which only that strand resets:
// a generation when none of its allocations is live (counted per generation by ticket,
// pinned memory never counting down), everything through `&mut` or at exit. No other
// strand can reach it. (2) `Bump` is `Send` and the arena moves with the strand. (3) `dealloc`
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
        let arena = OwnArena::new(bump);
        arena.measure(cx);
        arena
    }

    #[inline]
    fn try_alloc(
        a: &OwnArena,
        cx: &StrandCx,
        layout: Layout,
        pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        cx.observe_thread(thread_index(), false);
        if a.used.get() + layout.size() > cx.config.threshold() && a.used.get() > 0 {
            a.rotate(cx);
        }
        let ptr = a
            .bump()
            .try_alloc_layout(layout)
            .map_err(|_| AllocError::oom(Self::NAME, layout))?;
        let charge = layout.size() + (layout.align() - 1);
        if pinned {
            a.pinned.set(true);
        } else {
            a.live.set(a.live.get() + 1);
        }
        a.used.set(a.used.get() + layout.size());
        cx.count_alloc(layout.size(), layout.size() as i64, 0);
        if charge > a.room.get() {
            a.measure(cx);
        } else {
            a.room.set(a.room.get() - charge);
        }
        Ok((
            ptr,
            if pinned {
                Ticket::PINNED
            } else {
                Ticket::new(a.id.get()).with_stamp(a.tag().stamp())
            },
        ))
    }

    #[inline]
    unsafe fn dealloc(a: &OwnArena, cx: &StrandCx, _: NonNull<u8>, _: Layout, ticket: Ticket) {
        if ticket.id() == a.id.get() {
            a.live.set(a.live.get() - 1);
        } else if ticket != Ticket::PINNED {
            a.release_retired(ticket.id(), cx);
        }
    }

    fn reset(a: &mut OwnArena, cx: &StrandCx) {
        if a.used.get() + a.aside_used.get() > 0 {
            // SAFETY: `&mut` proves no value of the strand is reachable.
            unsafe { a.reset_all(cx) };
            cx.count_reset(ResetCause::Explicit);
        }
    }

    fn exit(a: OwnArena, cx: &StrandCx) {
        let used = (a.used.get() + a.aside_used.get()) as i64;
        let reserved = (a.reserved.get() + a.aside_reserved.get()) as i64;
        if used > 0 {
            cx.count_reset(ResetCause::StrandExit);
        }
        cx.count_gauge(-used, -reserved);
        let (pu, pr) = a.published.get();
        if (pu, pr) != (0, 0) {
            REGISTRY.with_slot(|s| s.gauge(-(pu as i64), -(pr as i64)));
        }
        drop(a.retired);
        let mut bump = a.spare.into_inner().unwrap_or_else(|| a.bump.into_inner());
        // An arena that never allocated has nothing worth keeping warm (and pooling it
        // would cost two locks for every strand that allocates nothing).
        let reserved = bump.allocated_bytes();
        if reserved > 0 && reserved <= cx.config.threshold() {
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
        a.reserved.get() + a.aside_reserved.get()
    }
}

/// Warm arenas kept for reuse right now.
pub fn pooled_arenas() -> usize {
    POOLED.load(Relaxed)
}
