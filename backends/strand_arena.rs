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
//! until its last allocation is released, then freed) while a fresh generation becomes
//! current. Each allocation's ticket names its generation. At exit everything is dropped
//! at once and the current generation is kept warm in a pool for the next strand when
//! it is small ([`POOLED_ARENA_MAX`]) and the pool has room; [`crate::Strand::reset`]
//! drops everything too.
//!
//! Memory: a generation starts with no chunk and grows by bumpalo's doubling chunks, with
//! bumpalo's allocation limit set to [`Config::generation_limit`](crate::Config::generation_limit) (the threshold plus an eighth
//! of it), so the chunks of one generation never total more. Values larger than the
//! strand's large-value size never reach the arena (the library gives them a heap
//! allocation of their own). So the memory a strand's arena reserves for its current
//! generation is at most that limit. The threshold is compared with the bytes asked
//! for (`used`): alignment padding takes chunk room without counting, so a generation of
//! much-padded values reaches its limit first and moves on as at the threshold (an
//! empty one whose warm chunk is in the way starts again with no chunk). Retired
//! generations are only those that still hold live values (reported as `retired`, the
//! bytes they still hold as `retired_live`), and are freed as soon as their last value
//! is released. Each
//! generation counts its live *bytes*: that count says both when it can be freed and
//! how much of it is still in use.
//!
//! Memory from [`crate::Strand::allocator`] is *pinned*: it keeps its generation alive
//! until the strand exits or resets, since its release carries no ticket.

use crate::allocator::{ResetCause, StrandCx, Ticket, ValueAllocator};
use crate::checked::ArenaTag;
use crate::error::AllocError;
use crate::stats::Registry;
use bumpalo::Bump;
use std::alloc::Layout;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// The strand-arena backend. See the [module documentation](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct StrandArena;

static REGISTRY: Registry = Registry::new("strand-arena").counting_retired_live();

/// Warm arenas, reset and ready for the next strand. Touched once at strand begin and
/// once at exit, never on the allocation path.
static POOL: Mutex<Vec<Bump>> = Mutex::new(Vec::new());
static POOLED: AtomicUsize = AtomicUsize::new(0);

fn pool() -> std::sync::MutexGuard<'static, Vec<Bump>> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The most an arena kept warm in the pool may reserve: 64 KiB. Larger ones are freed at
/// strand exit, so the pool holds at most `pool_capacity` × 64 KiB.
pub const POOLED_ARENA_MAX: usize = 64 * 1024;

/// A retired generation: older memory of the strand that still has live allocations.
struct Retired {
    bump: Bump,
    /// Dropped (which invalidates its stamps) when the generation is reset.
    _tag: ArenaTag,
    /// Bytes of its values still live, and of its pinned memory (kept until the strand
    /// resets or exits).
    live: usize,
    used: usize,
    reserved: usize,
}

/// The most generation slots one strand can use at once: a slot number is a ticket, and
/// `u32::MAX` is [`Ticket::PINNED`]. The unit tests use a handful, to reach the limit.
#[cfg(not(test))]
const MAX_SLOTS: usize = u32::MAX as usize - 1;
#[cfg(test)]
const MAX_SLOTS: usize = 8;

/// The arena a strand owns: its current generation inline (the hot path), retired ones
/// aside.
///
/// Every generation has a *slot*: a small number that is the ticket of its allocations.
/// Retired generations sit in `slots` at their number, so releasing an allocation finds
/// its generation by index. A slot is given to a new generation only after the
/// generation that had it was freed, which happens only once every allocation carrying
/// its number has been released: no ticket can ever name the wrong generation, and no
/// counter can wrap into reuse.
// `live` is kept away from the other counters: next to `used`, the compiler updates both
// with one 16-byte load and store, and the 8-byte store of `live` by the release before
// it makes that load wait (a failed store-to-load forward) on every allocation.
#[repr(C)]
pub struct OwnArena {
    /// Bytes of live allocations in the current generation (values not yet dropped, at
    /// the sizes asked for, and pinned memory, which is never released before a reset;
    /// never zero while one is live, since zero-sized allocations never reach a backend).
    live: Cell<usize>,
    bump: UnsafeCell<Bump>,
    /// The current generation's identity, validated by every access under `checked`
    /// (unset until the first allocation, which obtains it).
    tag: UnsafeCell<ArenaTag>,
    /// The current generation's slot, the ticket of its allocations. Either a free
    /// entry of `slots` or `slots.len()`.
    slot: Cell<u32>,
    /// Bytes handed out by the current generation since it began.
    used: Cell<usize>,
    /// The current generation's `allocated_bytes()` when last measured.
    reserved: Cell<usize>,
    /// What the next allocations may take, alignment padding at its worst included,
    /// without a new chunk and without crossing the threshold: a lower bound of the room
    /// left in the current chunk and of the bytes left under the threshold (zero while
    /// the generation has no tag yet). The allocation fast path's one test.
    budget: Cell<usize>,
    /// Retired generations with live allocations, by slot (`None`: free, or current).
    slots: RefCell<Vec<Option<Retired>>>,
    /// Free entries of `slots`; its capacity is kept at least `slots.len()`, so that
    /// freeing a slot never allocates.
    free: RefCell<Vec<u32>>,
    /// Bytes used and reserved by retired generations.
    aside_used: Cell<usize>,
    aside_reserved: Cell<usize>,
}

impl std::fmt::Debug for OwnArena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnArena")
            .field("live", &self.live.get())
            .field("used", &self.used.get())
            .field("reserved", &self.reserved.get())
            .finish_non_exhaustive()
    }
}

impl OwnArena {
    fn new(bump: Bump) -> Self {
        OwnArena {
            bump: UnsafeCell::new(bump),
            tag: UnsafeCell::new(ArenaTag::UNSET),
            slot: Cell::new(0),
            live: Cell::new(0),
            used: Cell::new(0),
            reserved: Cell::new(0),
            budget: Cell::new(0),
            slots: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            aside_used: Cell::new(0),
            aside_reserved: Cell::new(0),
        }
    }

    fn bump(&self) -> &Bump {
        // SAFETY: the arena is reached only through its strand, one thread at a time;
        // `&mut Bump` is formed only in `replace_bump` and `reset_all` while no `&Bump` is alive (none
        // is kept beyond a single backend call).
        unsafe { &*self.bump.get() }
    }

    fn tag(&self) -> &ArenaTag {
        // SAFETY: as for `bump`: `&mut ArenaTag` is formed only in `replace_tag`,
        // while no `&ArenaTag` is alive.
        unsafe { &*self.tag.get() }
    }

    /// Re-measures the current generation's capacity after it grew or changed, reports
    /// the change as the strand's reserved bytes, and sets the fast path's budget.
    fn measure(&self, cx: &StrandCx) {
        let bump = self.bump();
        let reserved = bump.allocated_bytes();
        let delta = reserved as i64 - self.reserved.get() as i64;
        self.reserved.set(reserved);
        let under_threshold = cx.config.threshold().saturating_sub(self.used.get());
        self.budget.set(if self.tag().is_unset() {
            0
        } else {
            bump.chunk_capacity().min(under_threshold)
        });
        cx.reserve(delta);
    }

    /// The ticket of an allocation made now in the current generation.
    #[inline(always)]
    fn ticket(&self, pinned: bool) -> Ticket {
        if pinned {
            Ticket::PINNED
        } else {
            Ticket::new(self.slot.get()).with_stamp(self.tag().stamp())
        }
    }

    /// The allocation path when the budget does not cover `layout`: a rotation when the
    /// threshold would be crossed, the generation's tag on its first allocation, a new
    /// chunk, then the counts and a new budget.
    #[cold]
    #[inline(never)]
    fn alloc_slow(
        &self,
        cx: &StrandCx,
        layout: Layout,
        pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        if self.used.get() + layout.size() > cx.config.threshold() && self.used.get() > 0 {
            self.rotate(cx)?;
        }
        if self.tag().is_unset() {
            self.acquire_tag()?;
        }
        let ptr = match self.bump().try_alloc_layout(layout) {
            Ok(p) => p,
            Err(_) => self.alloc_past_limit(cx, layout)?,
        };
        self.live.set(self.live.get() + layout.size());
        self.used.set(self.used.get() + layout.size());
        self.measure(cx);
        Ok((ptr, self.ticket(pinned)))
    }

    /// Replaces the current generation's arena and returns the old one.
    ///
    /// # Safety
    ///
    /// No `&Bump` of the current generation is alive.
    unsafe fn replace_bump(&self, bump: Bump) -> Bump {
        // SAFETY: by this function's contract nobody borrows the current `Bump`; moving
        // it does not move the chunks its allocations live in.
        unsafe { std::mem::replace(&mut *self.bump.get(), bump) }
    }

    /// Replaces the current generation's tag and returns the old one.
    ///
    /// # Safety
    ///
    /// No `&ArenaTag` of the current generation is alive.
    unsafe fn replace_tag(&self, tag: ArenaTag) -> ArenaTag {
        // SAFETY: by this function's contract nobody borrows the current tag.
        unsafe { std::mem::replace(&mut *self.tag.get(), tag) }
    }

    /// Gives the current generation its tag: the first allocation of a strand (and the
    /// first after a failed rotation) obtains it here, so that `begin` cannot fail.
    #[cold]
    #[inline(never)]
    // Without `checked` the tag is zero-sized and its drop does nothing; with it, the drop
    // of the old tag unregisters it, here and not later.
    #[allow(clippy::drop_non_drop)]
    fn acquire_tag(&self) -> Result<(), AllocError> {
        let tag = ArenaTag::try_new(None).ok_or(crate::checked::no_tag(StrandArena::NAME))?;
        // SAFETY: no `&ArenaTag` is alive (this runs before the allocation stamps).
        drop(unsafe { self.replace_tag(tag) });
        Ok(())
    }

    /// Makes sure the current generation's slot can be filled with a retired generation
    /// and a new slot handed out without allocating or overflowing; returns the new
    /// generation's slot.
    fn reserve_slot(&self) -> Result<u32, AllocError> {
        let mut slots = self.slots.borrow_mut();
        let mut free = self.free.borrow_mut();
        let exhausted = AllocError::Exhausted {
            backend: StrandArena::NAME,
            what: "generation slots of the strand",
            limit: MAX_SLOTS,
        };
        let needed = if self.slot.get() as usize == slots.len() {
            slots.len() + 1
        } else {
            slots.len()
        };
        let next = match free.last() {
            Some(&s) => s as usize,
            None => needed,
        };
        if next >= MAX_SLOTS {
            return Err(exhausted);
        }
        let oom = |_| AllocError::OutOfMemory {
            backend: StrandArena::NAME,
            requested: needed * size_of::<Option<Retired>>(),
        };
        let grow = needed - slots.len();
        slots.try_reserve(grow).map_err(oom)?;
        let spare_room = (needed + 1).saturating_sub(free.len());
        free.try_reserve(spare_room).map_err(oom)?;
        Ok(next as u32)
    }

    /// The current generation is full: reset it in place when nothing in it is live,
    /// otherwise retire it and start a fresh one. Everything that can fail (the new
    /// generation's tag and slot) is obtained before anything changes.
    #[cold]
    #[inline(never)]
    fn rotate(&self, cx: &StrandCx) -> Result<(), AllocError> {
        let retire = self.live.get() > 0;
        let next = if retire {
            let tag = ArenaTag::try_new(None).ok_or(crate::checked::no_tag(StrandArena::NAME))?;
            Some((self.reserve_slot()?, tag))
        } else {
            None
        };
        // Nothing below fails (a fresh generation allocates no chunk until it is used).
        let used = self.used.replace(0);
        let reserved = self.reserved.replace(0);
        match next {
            None => {
                // Nothing in the generation is live: its stamps are invalidated and it is
                // reset in place (bumpalo keeps its last, largest chunk warm).
                self.tag().invalidate();
                // SAFETY: no `&Bump` is alive here (this runs before the allocation
                // borrows it), and nothing in the generation is live.
                let freed = crate::generation::reset_warm(unsafe { &mut *self.bump.get() });
                crate::trim::noted(freed);
                self.reserved.set(reserved);
                cx.count_reset(ResetCause::Threshold);
            }
            Some((slot, tag)) => {
                // SAFETY: no `&Bump` or `&ArenaTag` is alive here (this runs before the
                // allocation borrows them).
                let (old, old_tag) = unsafe {
                    (
                        self.replace_bump(crate::generation::fresh(&cx.config)),
                        self.replace_tag(tag),
                    )
                };
                self.aside_used.set(self.aside_used.get() + used);
                self.aside_reserved
                    .set(self.aside_reserved.get() + reserved);
                cx.retire(reserved as i64);
                cx.retire_live(self.live.get() as i64);
                let retired = Retired {
                    bump: old,
                    _tag: old_tag,
                    live: self.live.get(),
                    used,
                    reserved,
                };
                let mut slots = self.slots.borrow_mut();
                let here = self.slot.get() as usize;
                // Room for both was reserved by `reserve_slot`: no allocation here.
                if here == slots.len() {
                    slots.push(Some(retired));
                } else {
                    slots[here] = Some(retired);
                }
                if self.free.borrow().last() == Some(&slot) {
                    self.free.borrow_mut().pop();
                }
                self.slot.set(slot);
                cx.count_rotation();
            }
        }
        self.live.set(0);
        self.measure(cx);
        Ok(())
    }

    /// The strand released the last value of its current generation, which had handed out
    /// at least [`crate::generation::RESET_WHEN_EMPTY`]: the generation is reset in place
    /// at once, so the next allocations reuse memory that is still warm instead of
    /// walking on through the chunk until the threshold.
    #[cold]
    #[inline(never)]
    fn reset_empty(&self, cx: &StrandCx) {
        self.tag().invalidate();
        // SAFETY: nothing in the generation is live (every allocation released, none
        // pinned), and no `&Bump` is alive (none is kept beyond a single backend call).
        let freed = crate::generation::reset_warm(unsafe { &mut *self.bump.get() });
        crate::trim::freed(freed);
        self.used.set(0);
        self.measure(cx);
        cx.count_reset(ResetCause::Emptied);
    }

    /// The generation's chunks reached its allocation limit before its used bytes reached
    /// the threshold (bytes lost at chunk ends): move on as at the threshold, then try
    /// once more; an empty generation whose warm chunk is in the way starts again with no
    /// chunk. An empty generation with no chunk that still cannot allocate is out of
    /// memory.
    #[cold]
    #[inline(never)]
    fn alloc_past_limit(&self, cx: &StrandCx, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        if self.used.get() > 0 {
            self.rotate(cx)?;
            if let Ok(p) = self.bump().try_alloc_layout(layout) {
                return Ok(p);
            }
        }
        // The generation is empty (fresh or reset), yet the chunk it kept warm leaves too
        // little of the limit for the chunk this value needs: start it again with none.
        if self.live.get() == 0 {
            self.tag().invalidate();
            // SAFETY: nothing in the generation is live (no allocation unreleased, none
            // pinned), and no `&Bump` is alive (this runs before the allocation borrows it).
            let freed = crate::generation::restart(unsafe { &mut *self.bump.get() });
            crate::trim::noted(freed);
            self.measure(cx);
        }
        self.bump()
            .try_alloc_layout(layout)
            .map_err(|_| AllocError::oom(StrandArena::NAME, layout))
    }

    /// Releases an allocation that is not in the current generation: pinned memory (kept
    /// until a reset), or a value of a retired generation.
    #[cold]
    #[inline(never)]
    fn release_elsewhere(&self, ticket: Ticket, size: usize, cx: &StrandCx) {
        if ticket != Ticket::PINNED {
            self.release_retired(ticket.id(), size, cx);
        }
    }

    /// Releases one allocation of `size` bytes of the retired generation in `slot`; frees
    /// the generation when it was the last.
    // The tag's drop (which invalidates the generation's stamps under `checked`) comes
    // before the chunks are freed; without `checked` it does nothing.
    #[allow(clippy::drop_non_drop)]
    fn release_retired(&self, slot: u32, size: usize, cx: &StrandCx) {
        let mut slots = self.slots.borrow_mut();
        let Some(Some(g)) = slots.get_mut(slot as usize) else {
            // Unreachable by promise 3 (a ticket is released once, from a live generation).
            debug_assert!(false, "strand-arena: release of a free slot {slot}");
            return;
        };
        g.live -= size;
        cx.retire_live(-(size as i64));
        if g.live > 0 {
            return;
        }
        let Some(Retired {
            bump,
            _tag: tag,
            used,
            reserved,
            ..
        }) = slots[slot as usize].take()
        else {
            return;
        };
        drop(slots);
        // `reserve_slot` keeps the capacity for this: no allocation.
        self.free.borrow_mut().push(slot);
        drop(tag);
        self.aside_used.set(self.aside_used.get() - used);
        self.aside_reserved
            .set(self.aside_reserved.get() - reserved);
        cx.reserve(-(reserved as i64));
        cx.retire(-(reserved as i64));
        // Every allocation of the generation has been released: nothing points into it,
        // and its chunks go back to the global allocator.
        drop(bump);
        crate::trim::freed(reserved);
    }

    /// Drops every retired generation and the spare, and resets the current one.
    ///
    /// # Safety
    ///
    /// No allocation from the arena may still be in use.
    unsafe fn reset_all(&self, cx: &StrandCx) {
        let (retired, kept) = retired_totals(&self.slots.borrow());
        cx.retire(-(retired as i64));
        cx.retire_live(-(kept as i64));
        self.slots.borrow_mut().clear();
        crate::trim::freed(retired);
        self.free.borrow_mut().clear();
        self.slot.set(0);
        self.aside_used.set(0);
        cx.reserve(-(self.aside_reserved.replace(0) as i64));
        self.tag().invalidate();
        // bumpalo keeps the last (largest) chunk on reset; an arena grown past the
        // pool's size starts over empty instead, so a burst does not stay reserved for
        // the rest of the strand.
        let before = self.bump().allocated_bytes();
        if before > POOLED_ARENA_MAX {
            // SAFETY: no `&Bump` is alive (none is kept beyond a single backend call).
            drop(unsafe { self.replace_bump(crate::generation::fresh(&cx.config)) });
        } else {
            // SAFETY: by this function's contract nothing points into the arena, and no
            // `&Bump` is alive.
            unsafe { (*self.bump.get()).reset() };
        }
        crate::trim::freed(before - self.bump().allocated_bytes());
        self.used.set(0);
        self.live.set(0);
        self.measure(cx);
    }
}

/// The reserved bytes of the retired generations in `slots`, and the bytes still kept
/// in them (live values and pinned memory).
fn retired_totals(slots: &[Option<Retired>]) -> (usize, usize) {
    slots
        .iter()
        .flatten()
        .fold((0, 0), |(r, k), g| (r + g.reserved, k + g.live))
}

// SAFETY: (1) memory comes from the strand's own arena, which only that strand resets:
// a generation when none of its allocations is live (their bytes counted per generation by
// ticket, a slot number that is reused only once its generation is freed; pinned memory
// never counts down), everything through `&mut` or at exit. The count reaches zero only
// when every allocation was released, because each release takes off exactly the size it
// was allocated with (the trait's dealloc contract: the layout of that allocation) and no
// allocation is zero-sized. No other strand can reach it. (2) `Bump` is `Send` and the
// arena moves with the strand. (3) `dealloc` only counts down the generation's live
// bytes, by slot. (4) it reads no thread-local at all and
// runs no user code.
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
            // A pooled arena larger than this strand's limit (pooled by a strand with a
            // larger threshold) is freed rather than reused.
            Some(b) if b.allocated_bytes() <= cx.config.generation_limit() => {
                POOLED.fetch_sub(1, Relaxed);
                // It becomes this strand's (counted by `measure` below).
                REGISTRY.reserve_shared(-(b.allocated_bytes() as i64));
                b.set_allocation_limit(Some(cx.config.generation_limit()));
                b
            }
            Some(b) => {
                POOLED.fetch_sub(1, Relaxed);
                REGISTRY.reserve_shared(-(b.allocated_bytes() as i64));
                crate::trim::freed(b.allocated_bytes());
                drop(b);
                crate::generation::fresh(&cx.config)
            }
            None => crate::generation::fresh(&cx.config),
        };
        let arena = OwnArena::new(bump);
        arena.measure(cx);
        arena
    }

    #[inline(always)]
    fn try_alloc(
        a: &OwnArena,
        cx: &StrandCx,
        layout: Layout,
        pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        let charge = layout.size() + (layout.align() - 1);
        let budget = a.budget.get();
        if charge <= budget {
            // The budget is a lower bound of the chunk's room: bumpalo bumps in the
            // current chunk (it cannot add one), and the threshold is not crossed.
            if let Ok(ptr) = a.bump().try_alloc_layout(layout) {
                a.budget.set(budget - charge);
                a.live.set(a.live.get() + layout.size());
                a.used.set(a.used.get() + layout.size());
                return Ok((ptr, a.ticket(pinned)));
            }
        }
        a.alloc_slow(cx, layout, pinned)
    }

    #[inline(always)]
    unsafe fn dealloc(a: &OwnArena, cx: &StrandCx, _: NonNull<u8>, layout: Layout, ticket: Ticket) {
        // A pinned allocation's ticket names no slot: its bytes stay in `live`.
        if ticket.id() == a.slot.get() {
            let live = a.live.get() - layout.size();
            a.live.set(live);
            if live == 0 && a.used.get() >= crate::generation::RESET_WHEN_EMPTY {
                a.reset_empty(cx);
            }
        } else {
            a.release_elsewhere(ticket, layout.size(), cx);
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
        // Everything the strand reserved goes back with it (to the pool, or freed).
        cx.reserve(-reserved);
        let slots = a.slots.into_inner();
        let (retired, kept) = retired_totals(&slots);
        cx.retire(-(retired as i64));
        cx.retire_live(-(kept as i64));
        drop(slots);
        let mut bump = a.bump.into_inner();
        // An arena that never allocated has nothing worth keeping warm (and pooling it
        // would cost two locks for every strand that allocates nothing); one that grew
        // past the pool's size goes back to the global allocator.
        let before = bump.allocated_bytes();
        bump.reset();
        let reserved = bump.allocated_bytes();
        crate::trim::freed(retired + (before - reserved));
        if reserved > 0 && reserved <= POOLED_ARENA_MAX {
            let mut pool = pool();
            if pool.len() < cx.config.pool_capacity() {
                pool.push(bump);
                POOLED.fetch_add(1, Relaxed);
                // Pooled memory is reserved for no strand in particular.
                REGISTRY.reserve_shared(reserved as i64);
                return;
            }
        }
        drop(bump);
        crate::trim::freed(reserved);
    }

    /// Frees the pool of warm arenas.
    fn release_idle() {
        let drained = std::mem::take(&mut *pool());
        POOLED.fetch_sub(drained.len(), Relaxed);
        let bytes: usize = drained.iter().map(Bump::allocated_bytes).sum();
        drop(drained);
        REGISTRY.reserve_shared(-(bytes as i64));
        crate::trim::freed(bytes);
    }
}

/// Warm arenas kept for reuse right now.
pub fn pooled_arenas() -> usize {
    POOLED.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AllocError, Config, Str, Strand};

    fn strand(threshold: usize) -> Strand<StrandArena> {
        Strand::local_with(Config::default().with_threshold(threshold).unwrap()).unwrap()
    }

    /// 40-byte strings under a 64-byte threshold: every allocation after the first in a
    /// generation starts a new one.
    fn text(i: usize) -> String {
        format!("{i:040}")
    }

    #[test]
    fn a_reused_slot_never_names_an_older_generation() {
        let s = strand(64);
        // Pins the first generation for the whole run.
        let first = s.str(&text(usize::MAX));
        let mut window: Vec<Str<'_, StrandArena>> = Vec::new();
        let rounds = if cfg!(miri) { 200 } else { 10_000 };
        for i in 0..rounds {
            window.push(s.str(&text(i)));
            if window.len() > 4 {
                window.remove(0);
            }
            // Generations are retired and freed all the time, so their slots (eight in
            // this build) are reused thousands of times.
            assert!(s.state.slots.borrow().len() <= MAX_SLOTS);
        }
        let before = s.state.aside_used.get();
        drop(first);
        // Releasing the oldest value freed exactly its own generation ...
        assert_eq!(s.state.aside_used.get(), before - 40);
        // ... and no other: every value in the newer generations still reads back, and
        // keeps doing so while allocation goes on.
        for (k, v) in window.iter().enumerate() {
            assert_eq!(v.as_str(), text(rounds - 4 + k));
        }
        for i in 0..100 {
            let v = s.str(&text(i));
            assert_eq!(v.as_str(), text(i));
            for (k, w) in window.iter().enumerate() {
                assert_eq!(w.as_str(), text(rounds - 4 + k));
            }
        }
        assert_eq!(s.stats().hazards, 0);
    }

    #[test]
    fn running_out_of_slots_is_an_error_that_changes_nothing() {
        let s = strand(64);
        // Each value pins its own generation: the current one plus MAX_SLOTS retired
        // ones is as many as the strand can track.
        let held: Vec<_> = (0..MAX_SLOTS).map(|i| s.str(&text(i))).collect();
        let figures = s.stats();
        let (slot, slots) = (s.state.slot.get(), s.state.slots.borrow().len());
        let err = s.try_str(&text(99)).unwrap_err();
        assert!(
            matches!(
                err,
                AllocError::Exhausted {
                    limit: MAX_SLOTS,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("generation slots"), "{err}");
        // Nothing moved: same figures, same current generation, every value intact.
        assert_eq!(s.stats(), figures);
        assert_eq!(
            (s.state.slot.get(), s.state.slots.borrow().len()),
            (slot, slots)
        );
        for (i, v) in held.iter().enumerate() {
            assert_eq!(v.as_str(), text(i));
        }
        // Releasing one pinned generation makes room again.
        let mut held = held;
        held.remove(0);
        let v = s.str(&text(99));
        assert_eq!(v.as_str(), text(99));
        for (i, v) in held.iter().enumerate() {
            assert_eq!(v.as_str(), text(i + 1));
        }
    }
}
