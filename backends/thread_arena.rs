//! **thread-arena**: a bumpalo arena per OS thread, shared by the strands running there,
//! freed when no strand holds values in it, bounded by the threshold.
//!
//! This is the design of the Seq runtime's thread-local arena with its hazards removed:
//!
//! - An arena *generation* ([`Gen`]) is reference-counted, and only strands count: a
//!   strand takes a *hold* (an `Arc`) on a generation the first time it allocates there,
//!   and counts its live allocations in that hold. When the count drops to zero (and the
//!   generation is no longer the one the strand is allocating from) or the strand exits,
//!   the hold is released, on whatever thread the strand is then running. The thread
//!   itself keeps only a `Weak` to its current generation, so the generation is freed
//!   wherever its last hold is let go: an idle worker thread, which runs no code, keeps
//!   no arena memory alive.
//! - Only the owning thread allocates from a generation, and only while it is that
//!   thread's current one. A generation is reset in place only by its own thread, and
//!   only when nobody holds it (its only strong reference is the thread's temporary
//!   one). So a strand's exit never resets memory another strand still uses, and
//!   neither does a strand that migrated away (it keeps its hold on the old thread's
//!   generation).
//! - The threshold is checked *before* an allocation, against bytes *used* (requested
//!   bytes plus worst-case alignment padding), never chunk capacity. An allocation that
//!   would cross it resets the generation in place if it has no holders, or else
//!   *rotates*: the thread starts a fresh generation and the old one lives on until its
//!   last holder lets go. The value being allocated is never touched by either.
//! - A generation starts with no chunk and grows by bumpalo's doubling chunks, with
//!   bumpalo's allocation limit at [`Config::generation_limit`](crate::Config::generation_limit) (the threshold plus an eighth),
//!   so its chunks never total more. Values larger than the large-value size never reach
//!   it (the library gives them a heap allocation of their own).
//! - When a thread's current generation is freed on that thread and its last chunk is
//!   small ([`THREAD_SPARE_MAX`]), the chunk is kept as the thread's spare for its next
//!   generation, so short strands reuse warm memory; a thread has a current generation or
//!   a spare, never both.
//! - The fast path recognises the thread's current generation by a unique 64-bit id (kept
//!   in a constant-initialised thread-local), never by address: a freed generation's
//!   address may be reused, its id never is. Its one other test is the generation's
//!   budget, a lower bound of the chunk's room and of the bytes left under its limit (a
//!   strand whose threshold is below that limit keeps the fast path closed there).
//! - A strand finds its hold on a generation by the generation's address (a hash map),
//!   and a release finds it by index (the ticket): both O(1), however many generations
//!   the strand keeps alive. The active hold's count is kept in the strand's state, so
//!   the fast paths touch no list.
//! - Thread-local state is reached only through `#[inline(never)]` functions, and no
//!   borrow of it outlives the call.

use crate::allocator::{ResetCause, StrandCx, Ticket, ValueAllocator};
use crate::checked::ArenaTag;
use crate::error::AllocError;
use crate::stats::Registry;
use bumpalo::Bump;
use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ptr::{self, NonNull};
use std::sync::atomic::{
    fence, AtomicBool, AtomicU64, AtomicUsize, Ordering::Acquire, Ordering::Relaxed,
};
use std::sync::{Arc, Weak};

/// The thread-arena backend. See the [module documentation](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadArena;

// Not `counting_retired_live`: a generation is shared by the strands of its thread, and
// each counts its own values in its hold, so the bytes a retired generation still holds
// are not summed anywhere (that would take a read-modify-write on every release).
static REGISTRY: Registry = Registry::new("thread-arena");

/// The most a thread keeps as its spare chunk: 256 KiB. A generation freed on its own
/// thread with a larger last chunk goes back to the global allocator whole.
pub const THREAD_SPARE_MAX: usize = 256 * 1024;

/// Generation ids: unique for the life of the process (a 64-bit count never wraps).
static NEXT_GEN: AtomicU64 = AtomicU64::new(1);

/// One generation of a thread's arena.
pub struct Gen {
    /// Unique for the life of the process; never 0.
    id: u64,
    bump: UnsafeCell<Bump>,
    /// Bytes charged so far; written only by the owning thread while current.
    used: AtomicUsize,
    /// What the next allocations may take, alignment padding at its worst included,
    /// without a new chunk and without passing `limit`: a lower bound of the room left in
    /// the current chunk and of `limit - used` (owner only). The fast path's one test.
    budget: AtomicUsize,
    /// The threshold of the strand whose allocation created it: the most it hands out.
    limit: usize,
    /// `allocated_bytes()` when last measured (owner only, while current).
    reserved: AtomicUsize,
    /// Set once the owning thread has moved on from this generation while strands still
    /// held it.
    retired: AtomicBool,
    /// Identity and reset count, validated by every access under `checked`.
    tag: ArenaTag,
    /// The thread that made it, in whose arena its values sit.
    thread: u32,
}

// SAFETY: the `Bump` is used for allocation and reset only by the thread that made the
// generation, while it is that thread's current generation (the fast path checks the
// thread-local current id, which no other thread's generation can have; the slow path
// runs in `with_thread`), or, for a generation made after its thread's state was
// destroyed (`detached_alloc`), by the one strand that holds it, for one allocation.
// Reset needs the only strong reference, on the owning thread. Other threads only drop
// their `Arc` (the last one frees the chunks, with nobody left to use them) and read
// bytes of finished allocations, which nobody writes again. All other fields are atomics
// or immutable.
unsafe impl Sync for Gen {}

impl Gen {
    /// A generation for `threshold`, on the calling thread's spare chunk when there is
    /// one. Fails (changing nothing) only when no arena tag is left.
    fn new(config: &crate::Config) -> Result<Self, AllocError> {
        let tag = ArenaTag::try_new(None).ok_or(crate::checked::no_tag(ThreadArena::NAME))?;
        let bump = match take_spare() {
            Some(b) if b.allocated_bytes() <= config.generation_limit() => {
                b.set_allocation_limit(Some(config.generation_limit()));
                b
            }
            // A spare larger than this strand's limit (kept for a larger threshold) is
            // freed rather than reused.
            Some(b) => {
                drop(Spare(Some(b)));
                crate::generation::fresh(config)
            }
            None => crate::generation::fresh(config),
        };
        // A spare's chunk is already counted as reserved.
        let reserved = bump.allocated_bytes();
        Ok(Gen {
            id: NEXT_GEN.fetch_add(1, Relaxed),
            budget: AtomicUsize::new(bump.chunk_capacity().min(config.threshold())),
            bump: UnsafeCell::new(bump),
            used: AtomicUsize::new(0),
            limit: config.threshold(),
            reserved: AtomicUsize::new(reserved),
            retired: AtomicBool::new(false),
            tag,
            thread: crate::thread::thread_index(),
        })
    }

    /// The arena.
    ///
    /// # Safety
    ///
    /// Only on the owning thread while the generation is its current one (or the
    /// detached generation's one allocation), and no `&mut Bump` is alive.
    #[inline]
    unsafe fn bump(&self) -> &Bump {
        // SAFETY: forwarded from this function's contract.
        unsafe { &*self.bump.get() }
    }

    #[inline]
    fn used(&self) -> usize {
        self.used.load(Relaxed)
    }

    fn reserved(&self) -> usize {
        self.reserved.load(Relaxed)
    }

    /// Re-measures the chunks after an allocation that may have added one, reporting
    /// the change as reserved bytes, and sets the fast path's budget (so `used` is
    /// up to date first). Owner only, as [`Gen::bump`].
    fn measure(&self) {
        // SAFETY: called by the owner of the current generation (slow path), or for the
        // detached generation by its one holder.
        let bump = unsafe { self.bump() };
        let now = bump.allocated_bytes();
        let before = self.reserved.swap(now, Relaxed);
        if now != before {
            REGISTRY.reserve_shared(now as i64 - before as i64);
        }
        let under_limit = self.limit.saturating_sub(self.used());
        self.budget
            .store(bump.chunk_capacity().min(under_limit), Relaxed);
    }

    /// Resets the generation in place: its stamps are invalidated and it keeps its
    /// memory warm as one chunk, or with `restart` gives it all back and starts again
    /// with no chunk (for a value whose chunk does not fit under the limit beside the
    /// warm one).
    ///
    /// # Safety
    ///
    /// The caller has the only strong reference, on the owning thread (so nobody can
    /// take a new one, and nothing in the generation is live).
    unsafe fn reset_exclusive(&self, restart: bool) {
        self.tag.invalidate();
        // SAFETY: by this function's contract nobody else can reach the `Bump`.
        let bump = unsafe { &mut *self.bump.get() };
        let freed = if restart {
            crate::generation::restart(bump)
        } else {
            crate::generation::reset_warm(bump)
        };
        crate::trim::noted(freed);
        self.used.store(0, Relaxed);
        self.measure();
    }

    /// Marks the generation as moved on from while strands still hold it.
    fn retire(&self) {
        self.retired.store(true, Relaxed);
        REGISTRY.reserve_retired(self.reserved() as i64);
    }
}

/// A generation's chunks are memory the backend reserves for no strand in particular:
/// they count from their allocation to the generation's drop, whichever thread drops it
/// last.
impl Drop for Gen {
    fn drop(&mut self) {
        let reserved = self.reserved() as i64;
        REGISTRY.reserve_shared(-reserved);
        if self.retired.load(Relaxed) {
            REGISTRY.reserve_retired(-reserved);
        }
        // Possibly on an allocation's path: counted, trimmed at the next release.
        crate::trim::noted(reserved as usize);
    }
}

/// A generation whose last hold was just let go: its chunks are freed, or, when it was
/// the calling thread's current generation and its last chunk is small, kept as the
/// thread's spare. Returns whether anything had been allocated in it.
fn let_go(mut gen: Gen) -> bool {
    let used = *gen.used.get_mut() > 0;
    let mine = !*gen.retired.get_mut()
        && gen.thread == crate::thread::thread_index()
        && current_id() == gen.id;
    if mine {
        // The chunks move from the generation to the spare: same reserved bytes.
        let before = std::mem::take(gen.reserved.get_mut());
        let mut bump = std::mem::take(gen.bump.get_mut());
        drop(gen);
        bump.reset();
        let after = bump.allocated_bytes();
        REGISTRY.reserve_shared(after as i64 - before as i64);
        crate::trim::noted(before.saturating_sub(after));
        let spare = Spare(Some(bump));
        if after <= THREAD_SPARE_MAX {
            keep_spare(spare);
        }
    }
    used
}

/// A thread's spare chunk (reset, counted as reserved until it is used or freed).
struct Spare(Option<Bump>);

impl Drop for Spare {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            REGISTRY.reserve_shared(-(b.allocated_bytes() as i64));
            crate::trim::noted(b.allocated_bytes());
        }
    }
}

/// What each OS thread keeps: which generation is current. Strands' holds keep it
/// alive, not the thread.
struct ThreadState {
    current: Weak<Gen>,
}

impl ThreadState {
    /// The current generation, or a new one when it was freed (or there was none).
    fn current(&mut self, config: &crate::Config) -> Result<Arc<Gen>, AllocError> {
        match self.current.upgrade() {
            Some(g) => Ok(g),
            None => {
                let g = Arc::new(Gen::new(config)?);
                self.make_current(&g);
                Ok(g)
            }
        }
    }

    fn make_current(&mut self, g: &Arc<Gen>) {
        self.current = Arc::downgrade(g);
        CURRENT_ID.set(g.id);
    }
}

impl Drop for ThreadState {
    fn drop(&mut self) {
        // Nothing may take the fast path into a generation this thread no longer owns.
        let _ = CURRENT_ID.try_with(|c| c.set(0));
        if let Some(g) = self.current.upgrade() {
            g.retire();
        }
    }
}

thread_local! {
    static THREAD: UnsafeCell<Option<ThreadState>> = const { UnsafeCell::new(None) };
    /// The id of this thread's current generation, for the allocation fast path: set
    /// whenever the current generation changes, cleared when the thread's state is
    /// destroyed. Constant-initialised and without a destructor, so reading it is a
    /// single thread-local load.
    static CURRENT_ID: Cell<u64> = const { Cell::new(0) };
    /// The thread's spare chunk.
    static SPARE: Cell<Option<Spare>> = const { Cell::new(None) };
}

/// The id of the calling thread's current generation (0 when none). Out of line for the
/// same reason as [`with_thread`].
#[inline(never)]
fn current_id() -> u64 {
    CURRENT_ID.with(Cell::get)
}

/// Takes the calling thread's spare chunk, if it has one (and its locals still exist).
#[inline(never)]
fn take_spare() -> Option<Bump> {
    SPARE
        .try_with(Cell::take)
        .ok()
        .flatten()
        .and_then(|mut s| s.0.take())
}

/// Keeps `spare` as the calling thread's spare chunk (freed instead once the thread's
/// locals are being destroyed).
#[inline(never)]
fn keep_spare(spare: Spare) {
    let mut spare = Some(spare);
    let _ = SPARE.try_with(|c| c.set(spare.take()));
}

/// Runs `f` with this OS thread's arena state. Out of line on purpose: a strand can move
/// between threads at any call that yields, so the thread-local address must be computed
/// afresh on every call and never cached by the caller. Returns `None` when the thread's
/// locals are already being destroyed.
#[inline(never)]
fn with_thread<R>(f: impl FnOnce(&mut ThreadState) -> R) -> Option<R> {
    THREAD
        .try_with(|cell| {
            // SAFETY: the cell is only reached through this function, which is never
            // re-entered: `f` is backend code that calls no user code and does not yield,
            // so this is the only reference to the state while `f` runs.
            let state = unsafe { &mut *cell.get() };
            let st = state.get_or_insert_with(|| ThreadState {
                current: Weak::new(),
            });
            f(st)
        })
        .ok()
}

/// A strand's hold on one generation.
struct Hold {
    /// Live allocations of the strand in this generation, plus one for each
    /// `allocator-api2` allocation made here (which carries no ticket and is never
    /// released one by one, so it keeps the hold until a reset or the strand's exit).
    /// Stale while the hold is the active one: [`Holds::active_live`] counts then.
    live: usize,
    gen: Option<Arc<Gen>>,
}

/// Hashes a generation's address for the hold index (addresses are unique among the
/// generations a strand holds, since its holds keep them alive).
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        let x = ((n as u64) >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The most holds one strand can have at once: a hold's index is a ticket, and
/// `u32::MAX` is [`Ticket::PINNED`]. The unit tests use a handful, to reach the limit.
#[cfg(not(test))]
const MAX_HOLDS: usize = u32::MAX as usize - 1;
#[cfg(test)]
const MAX_HOLDS: usize = 8;

impl std::fmt::Debug for Gen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gen")
            .field("id", &self.id)
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

/// The strand's holds, and which one it allocates into now.
pub struct Holds {
    list: UnsafeCell<Vec<Hold>>,
    free: UnsafeCell<Vec<u32>>,
    /// The index of the strand's hold on each generation it holds, by the generation's
    /// address: finding a hold is one lookup, however many the strand has.
    index: UnsafeCell<HashMap<usize, u32, BuildHasherDefault<AddrHasher>>>,
    /// The generation of the active hold (null when none).
    active: Cell<*const Gen>,
    /// The active generation's id while the fast path may allocate in it, else
    /// [`NO_FAST_PATH`] (no active hold, or a strand threshold below the generation's
    /// limit, which the fast path does not test).
    active_id: Cell<u64>,
    /// The active hold's index ([`NO_HOLD`] when none): a release whose ticket names it
    /// is counted in `active_live`, with no look-up.
    active_idx: Cell<u32>,
    /// The active hold's count, kept here while it is active (its entry in `list` is
    /// written when another hold becomes the active one).
    active_live: Cell<usize>,
}

/// [`Holds::active_id`] when the fast path is closed: no generation has this id (ids
/// count up from 1 and never reach it), and no thread's current id is it.
const NO_FAST_PATH: u64 = u64::MAX;

/// [`Holds::active_idx`] when no hold is active: never a hold's index (there are at most
/// [`MAX_HOLDS`]), and not [`Ticket::PINNED`]'s either.
const NO_HOLD: u32 = u32::MAX - 1;

impl std::fmt::Debug for Holds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Holds").finish_non_exhaustive()
    }
}

impl Holds {
    /// # Safety
    ///
    /// No other reference into the list may be alive (holds are used by one strand, and
    /// no method here calls out to code that could reach them again).
    #[allow(clippy::mut_from_ref)]
    #[inline]
    unsafe fn list(&self) -> &mut Vec<Hold> {
        // SAFETY: forwarded from this function's contract.
        unsafe { &mut *self.list.get() }
    }

    /// No hold is active any more; the caller has stored or dropped the active count.
    fn clear_active(&self) {
        self.active.set(ptr::null());
        self.active_id.set(NO_FAST_PATH);
        self.active_idx.set(NO_HOLD);
        self.active_live.set(0);
    }

    /// Lets go of hold `idx`: its `Arc` is dropped, which frees the generation (or keeps
    /// its chunk as the thread's spare) when it was the last. Returns whether that
    /// happened to a generation something had been allocated in.
    fn release(&self, idx: u32) -> bool {
        // SAFETY: no reference into the list, free list or index is alive in any caller.
        let (list, free, index) =
            unsafe { (self.list(), &mut *self.free.get(), &mut *self.index.get()) };
        let hold = &mut list[idx as usize];
        let gen = hold.gen.take();
        if let Some(g) = &gen {
            index.remove(&(Arc::as_ptr(g) as usize));
        }
        *hold = Hold { gen: None, live: 0 };
        free.push(idx);
        if self.active_idx.get() == idx {
            self.clear_active();
        }
        gen.and_then(Arc::into_inner).is_some_and(let_go)
    }

    /// Whether the strand has an active hold with no live allocation in it.
    fn active_is_idle(&self) -> bool {
        !self.active.get().is_null() && self.active_live.get() == 0
    }

    /// Releases the active hold if the strand has no live allocation in it.
    fn drop_idle_active(&self) {
        if self.active_is_idle() {
            self.release(self.active_idx.get());
        }
    }

    /// The active hold stops being the active one: its count goes back to its entry.
    fn park_active(&self) {
        if !self.active.get().is_null() {
            // SAFETY: no reference into the list is alive; the active index is a live
            // hold's.
            unsafe { self.list()[self.active_idx.get() as usize].live = self.active_live.get() };
            self.clear_active();
        }
    }

    /// Whether the strand holds `gen`.
    fn holds(&self, gen: &Arc<Gen>) -> bool {
        // SAFETY: no reference into the index is alive.
        unsafe { (*self.index.get()).contains_key(&(Arc::as_ptr(gen) as usize)) }
    }

    /// Whether a new hold can be taken (counting the idle active hold, which taking a
    /// new one releases first).
    fn has_room(&self) -> bool {
        // SAFETY: no reference into the list or free list is alive.
        let (list, free) = unsafe { (self.list(), &*self.free.get()) };
        if list.len() < MAX_HOLDS || !free.is_empty() {
            return true;
        }
        self.active_is_idle()
    }

    /// Makes the hold on `gen` the active one, taking a new hold if the strand has none,
    /// with the fast path open when the strand's `threshold` is at least the
    /// generation's limit.
    fn activate(&self, gen: &Arc<Gen>, threshold: usize) -> Result<u32, AllocError> {
        let ptr = Arc::as_ptr(gen);
        let fast = if threshold >= gen.limit {
            gen.id
        } else {
            NO_FAST_PATH
        };
        if self.active.get() == ptr {
            self.active_id.set(fast);
            return Ok(self.active_idx.get());
        }
        self.drop_idle_active();
        // SAFETY: no reference into the list, free list or index is alive.
        let (list, index) = unsafe { (self.list(), &mut *self.index.get()) };
        let idx = match index.get(&(ptr as usize)) {
            Some(&i) => i,
            None => {
                // SAFETY: as above.
                if list.len() >= MAX_HOLDS && unsafe { (*self.free.get()).is_empty() } {
                    return Err(AllocError::Exhausted {
                        backend: ThreadArena::NAME,
                        what: "holds of the strand",
                        limit: MAX_HOLDS,
                    });
                }
                let hold = Hold {
                    gen: Some(gen.clone()),
                    live: 0,
                };
                // SAFETY: no reference into the free list is alive.
                let i = match unsafe { (*self.free.get()).pop() } {
                    Some(i) => {
                        list[i as usize] = hold;
                        i
                    }
                    None => {
                        list.push(hold);
                        (list.len() - 1) as u32
                    }
                };
                index.insert(ptr as usize, i);
                i
            }
        };
        self.park_active();
        self.active.set(ptr);
        self.active_id.set(fast);
        self.active_idx.set(idx);
        // SAFETY: no reference into the list is alive; `idx` is a live hold's.
        self.active_live
            .set(unsafe { self.list()[idx as usize].live });
        Ok(idx)
    }

    /// Lets go of every hold; returns whether that freed a generation something had been
    /// allocated in.
    fn release_all(&self) -> bool {
        // SAFETY: no reference into the list is alive.
        let n = unsafe { self.list().len() };
        let mut freed = false;
        for idx in 0..n as u32 {
            // SAFETY: as above; the reference ends before `release`.
            if unsafe { self.list()[idx as usize].gen.is_some() } {
                freed |= self.release(idx);
            }
        }
        self.clear_active();
        freed
    }
}

/// Bytes an allocation may consume in a downward bump chunk: its size plus the worst-case
/// padding to its alignment.
#[inline]
fn charge(layout: Layout) -> usize {
    layout.size() + (layout.align() - 1)
}

/// The allocation fast path: the strand allocates again in the generation it allocated
/// from last (its *active* hold), that generation is still this thread's current one,
/// the allocation fits under its limit and in its current chunk. Then nothing about the
/// thread, the hold or the chunks changes, and the allocation is a bump plus counting.
/// Anything else (first allocation here, a move to another thread, a rotation, the
/// threshold, a new chunk) returns `None` for the full path.
///
/// No migration can be missed: the active generation belongs to the thread the strand
/// last allocated on, and only that thread's current id can equal its id.
#[inline(always)]
fn fast_alloc(holds: &Holds, layout: Layout) -> Option<(NonNull<u8>, Ticket)> {
    // One comparison: with no active hold (or its fast path closed) the strand's id is
    // one no thread has current.
    if holds.active_id.get() != current_id() {
        return None;
    }
    // SAFETY: the strand's active hold keeps an `Arc` on the generation, so it is alive;
    // its id is this thread's current one, so this is the owning thread and the
    // generation is current: only this thread allocates from its `Bump`, and no `&mut`
    // to it exists (`reset_exclusive` needs the only strong reference, and the hold is
    // another).
    let gen = unsafe { &*holds.active.get() };
    let charge = charge(layout);
    let budget = gen.budget.load(Relaxed);
    if charge > budget {
        return None;
    }
    // SAFETY: as above. The budget is a lower bound of the current chunk's room, so this
    // never adds a chunk (and never changes the reserved bytes), and of the bytes left
    // under the generation's limit, which is at most the strand's threshold.
    let ptr = unsafe { gen.bump() }.try_alloc_layout(layout).ok()?;
    gen.budget.store(budget - charge, Relaxed);
    gen.used.store(gen.used() + charge, Relaxed);
    Some((ptr, count(holds, &gen.tag)))
}

/// Counts an allocation in the active hold (one more live value, or for a pinned one a
/// count never taken back) and returns its ticket, stamped with the generation's `tag`.
#[inline(always)]
fn count(holds: &Holds, tag: &ArenaTag) -> Ticket {
    holds.active_live.set(holds.active_live.get() + 1);
    Ticket::new(holds.active_idx.get()).with_stamp(tag.stamp())
}

/// The full allocation path: through the thread's state, taking a hold on its current
/// generation if the strand has none there yet, and making room when the threshold
/// would be crossed or the generation's chunks are full. Out of line so that the fast
/// path stays small enough to inline.
#[inline(never)]
fn slow_alloc(
    holds: &Holds,
    cx: &StrandCx,
    layout: Layout,
) -> Result<(NonNull<u8>, Ticket), AllocError> {
    // The strand's figures reach the process-wide ones at the slow path (a new chunk or
    // generation, the first allocation on a thread): the thread's chunks are not the
    // strand's, so no reserve of the strand's publishes them here.
    cx.publish();
    with_thread(|st| {
        let charge = charge(layout);
        let threshold = cx.config.threshold();
        let mut gen = st.current(&cx.config)?;
        // A new hold is needed unless the strand holds the current generation and the
        // allocation fits in it; when none can be taken, fail before anything changes.
        let fits = gen.used() + charge <= gen.limit.min(threshold);
        if !(holds.has_room() || fits && holds.holds(&gen)) {
            return Err(AllocError::Exhausted {
                backend: ThreadArena::NAME,
                what: "holds of the strand",
                limit: MAX_HOLDS,
            });
        }
        // More rounds when the chunks reached bumpalo's limit before the threshold
        // (bytes lost at chunk ends): make room as at the threshold (a warm reset when
        // nobody holds the generation) and try again; then, the generation being empty
        // and its warm chunk in the way, start it again with no chunk.
        for round in 0..3 {
            if round > 0 || gen.used() + charge > gen.limit.min(threshold) {
                make_room(st, holds, cx, &mut gen, charge, round == 2)?;
            }
            holds.activate(&gen, threshold)?;
            // SAFETY: `gen` is this thread's current generation and this is its owner.
            if let Ok(ptr) = unsafe { gen.bump() }.try_alloc_layout(layout) {
                gen.used.store(gen.used() + charge, Relaxed);
                gen.measure();
                return Ok((ptr, count(holds, &gen.tag)));
            }
        }
        Err(AllocError::oom(ThreadArena::NAME, layout))
    })
    .unwrap_or_else(|| detached_alloc(holds, cx, layout))
}

/// Allocation after this thread's arena state was destroyed (a value made in a
/// thread-local's destructor at thread exit): a generation of its own for this one
/// allocation, owned by no thread and held by this strand alone, freed when the value is
/// released. Rare, so it need not be cheap.
#[cold]
#[inline(never)]
fn detached_alloc(
    holds: &Holds,
    cx: &StrandCx,
    layout: Layout,
) -> Result<(NonNull<u8>, Ticket), AllocError> {
    if !holds.has_room() {
        return Err(AllocError::Exhausted {
            backend: ThreadArena::NAME,
            what: "holds of the strand",
            limit: MAX_HOLDS,
        });
    }
    let gen = Arc::new(Gen::new(&cx.config)?);
    holds.activate(&gen, cx.config.threshold())?;
    // Only this strand holds the generation, and the strand runs on one thread at a time;
    // no thread's current id is this generation's, so no fast path allocates from it.
    // SAFETY: as above: this is the generation's one allocation.
    let ptr = unsafe { gen.bump() }
        .try_alloc_layout(layout)
        .map_err(|_| AllocError::oom(ThreadArena::NAME, layout))?;
    gen.used.store(charge(layout), Relaxed);
    gen.measure();
    Ok((ptr, count(holds, &gen.tag)))
}

/// The strand released its last value in its active generation, which had handed out at
/// least [`crate::generation::RESET_WHEN_EMPTY`]: the generation is reset in place when
/// nobody else holds it ([`reset_empty`]); otherwise the strand lets go of it, since an
/// idle hold would keep it from ever being reset in place, and the last strand to go idle
/// resets it. (Many long-lived strands that each allocate in bursts, connections of a
/// server, otherwise fill every generation to the threshold.)
#[cold]
#[inline(never)]
fn emptied_active(holds: &Holds, cx: &StrandCx) {
    if reset_empty(holds) {
        cx.count_reset(ResetCause::Emptied);
    } else {
        holds.release(holds.active_idx.get());
    }
    crate::trim::settle();
}

/// The release of a value in a hold that is not the active one: counted in the hold's
/// entry, and the hold let go when that was its last.
#[cold]
#[inline(never)]
fn release_elsewhere(holds: &Holds, idx: u32) {
    // SAFETY: no other reference into the list is alive; the ticket is the index
    // `try_alloc` returned for a hold that still counts this allocation (and is not the
    // active one, whose count is kept apart).
    let hold = unsafe { &mut holds.list()[idx as usize] };
    hold.live -= 1;
    if hold.live == 0 {
        holds.release(idx);
        crate::trim::settle();
    }
}

/// The strand released its last value in its active generation, which had handed out at
/// least [`crate::generation::RESET_WHEN_EMPTY`]: when no other strand holds that
/// generation and it is this thread's current one, it is reset in place at once, so the
/// next allocations reuse memory that is still warm.
#[cold]
#[inline(never)]
fn reset_empty(holds: &Holds) -> bool {
    // SAFETY: no other reference into the list is alive; the active hold is live.
    let Some(gen) = (unsafe { &holds.list()[holds.active_idx.get() as usize] })
        .gen
        .as_ref()
    else {
        return false;
    };
    if Arc::strong_count(gen) != 1 || gen.id != current_id() || gen.used() == 0 {
        return false;
    }
    // Pairs with the release decrement of every other reference that was dropped.
    fence(Acquire);
    // SAFETY: the strand's hold is the only strong reference, and this is the owning
    // thread with the generation current: new references are taken only by this thread
    // (from its `Weak`, in `with_thread`, which is not running), and nothing in the
    // generation is live.
    unsafe { gen.reset_exclusive(false) };
    true
}

/// Makes room for `charge` bytes: resets `gen` (the current generation) in place if
/// nobody holds it, or rotates to a fresh one, which becomes `gen`. `cold` (the value did
/// not fit even after room was made) starts a generation nobody holds again with no
/// chunk, instead of keeping one warm.
#[cold]
#[inline(never)]
fn make_room(
    st: &mut ThreadState,
    holds: &Holds,
    cx: &StrandCx,
    gen: &mut Arc<Gen>,
    charge: usize,
    cold: bool,
) -> Result<(), AllocError> {
    holds.drop_idle_active();
    let threshold = cx.config.threshold();
    if Arc::strong_count(gen) == 1 {
        // Pairs with the release decrement of every other reference that was dropped:
        // their last reads of the generation happen before the reset.
        fence(Acquire);
        if charge <= gen.limit.min(threshold) {
            // With `cold`, the value did not fit even after room was made: the chunk kept
            // warm leaves too little of the limit for the one it needs. Only a generation
            // with something in it counts as a reset; an empty one is only restarted.
            if gen.used() > 0 {
                // SAFETY: `gen` is the only strong reference, held on the owning thread
                // (new ones are taken only here, from the thread's `Weak`).
                unsafe { gen.reset_exclusive(cold) };
                cx.count_reset(ResetCause::Threshold);
            } else if cold {
                // SAFETY: as above.
                unsafe { gen.reset_exclusive(true) };
            }
            return Ok(());
        }
    }
    // Obtained before anything about the thread changes.
    let fresh = Arc::new(Gen::new(&cx.config)?);
    if Arc::strong_count(gen) > 1 {
        gen.retire();
        cx.count_rotation();
    }
    st.make_current(&fresh);
    *gen = fresh;
    Ok(())
}

// SAFETY: (1) memory comes from a generation the strand holds an `Arc` on, counted in
// that hold; the hold is released only when its count is zero (every allocation in it
// released) or by `reset`/`exit`, and a generation is reset only through its only strong
// reference, i.e. when no hold exists, so no other strand's action can invalidate it.
// (2) Holds are `Arc`s, valid from any thread. (3) tickets are hold indices, stable
// while the hold lives. (4) thread-local state is reached only through out-of-line
// functions that run no user code.
unsafe impl ValueAllocator for ThreadArena {
    const NAME: &'static str = "thread-arena";
    const THREAD_BOUND: bool = true;
    type StrandState = Holds;

    fn registry() -> &'static Registry {
        &REGISTRY
    }

    fn begin(_cx: &StrandCx) -> Holds {
        Holds {
            list: UnsafeCell::new(Vec::new()),
            free: UnsafeCell::new(Vec::new()),
            index: UnsafeCell::new(HashMap::default()),
            active: Cell::new(ptr::null()),
            active_id: Cell::new(NO_FAST_PATH),
            active_idx: Cell::new(NO_HOLD),
            active_live: Cell::new(0),
        }
    }

    #[inline(always)]
    fn try_alloc(
        holds: &Holds,
        cx: &StrandCx,
        layout: Layout,
        _pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        // A pinned allocation is counted as a live one whose release never comes.
        match fast_alloc(holds, layout) {
            Some(done) => Ok(done),
            None => slow_alloc(holds, cx, layout),
        }
    }

    #[inline]
    fn home(holds: &Holds, t: Ticket) -> Option<u32> {
        if t == Ticket::PINNED {
            return None;
        }
        // SAFETY: no other reference into the list is alive; a ticket of a live
        // allocation names a live hold.
        let hold = unsafe { &holds.list()[t.id() as usize] };
        hold.gen.as_ref().map(|g| g.thread)
    }

    /// The thread of the generation the allocation was just made in: the active one, a
    /// current generation of the calling thread (or the detached generation made on it).
    #[inline(always)]
    fn thread_of_last_alloc(holds: &Holds) -> Option<u32> {
        let active = holds.active.get();
        // SAFETY: a non-null active generation is kept alive by the strand's hold on it.
        (!active.is_null()).then(|| unsafe { &*active }.thread)
    }

    #[inline(always)]
    unsafe fn dealloc(holds: &Holds, cx: &StrandCx, _ptr: NonNull<u8>, _layout: Layout, t: Ticket) {
        // A pinned allocation's ticket names no hold (nor `NO_HOLD`): it stays counted.
        if t.id() == holds.active_idx.get() {
            let live = holds.active_live.get() - 1;
            holds.active_live.set(live);
            // SAFETY: the active hold keeps its generation alive.
            if live == 0
                && unsafe { &*holds.active.get() }.used() >= crate::generation::RESET_WHEN_EMPTY
            {
                emptied_active(holds, cx);
            }
        } else if t != Ticket::PINNED {
            release_elsewhere(holds, t.id());
        }
    }

    fn reset(holds: &mut Holds, cx: &StrandCx) {
        if holds.release_all() {
            cx.count_reset(ResetCause::Explicit);
        }
        crate::trim::settle();
    }

    /// Frees the calling thread's spare chunk.
    fn release_idle() {
        let _ = SPARE.try_with(|c| drop(c.take()));
    }

    fn exit(holds: Holds, cx: &StrandCx) {
        if holds.release_all() {
            cx.count_reset(ResetCause::StrandExit);
        }
        crate::trim::settle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AllocError, Config, Strand};

    fn text(i: usize) -> String {
        format!("{i:040}")
    }

    #[test]
    fn an_idle_active_hold_makes_room_when_every_hold_is_taken() {
        std::thread::spawn(|| {
            let cfg = Config::default().with_threshold(64).unwrap();
            let s = Strand::<ThreadArena>::local_with(cfg).unwrap();
            let mut held: Vec<_> = (0..MAX_HOLDS).map(|i| s.str(&text(i))).collect();
            // The last value's hold is the active one; released, it is idle but kept.
            drop(held.pop());
            // SAFETY: no other reference into the list is alive.
            assert_eq!(unsafe { s.state.list() }.len(), MAX_HOLDS);
            // Every hold is taken, yet the idle active one can make way for a new one.
            let v = s
                .try_str(&text(99))
                .expect("the idle active hold makes room");
            assert_eq!(v.as_str(), text(99));
            for (i, h) in held.iter().enumerate() {
                assert_eq!(h.as_str(), text(i));
            }
        })
        .join()
        .unwrap();
    }

    /// With every hold taken, an allocation that fits in the current generation, which
    /// the strand holds, takes no new hold and is served (on the full path too, as when
    /// the chunk is full below the limit).
    #[test]
    fn every_hold_taken_an_allocation_that_fits_where_the_strand_holds_is_served() {
        std::thread::spawn(|| {
            let cfg = Config::default().with_threshold(64).unwrap();
            let s = Strand::<ThreadArena>::local_with(cfg).unwrap();
            let held: Vec<_> = (0..MAX_HOLDS).map(|i| s.str(&text(i))).collect();
            // SAFETY: no other reference into the list is alive.
            assert_eq!(unsafe { s.state.list() }.len(), MAX_HOLDS);
            let layout = Layout::from_size_align(8, 1).unwrap();
            let (ptr, ticket) = slow_alloc(&s.state, &s.cx, layout)
                .expect("served in the generation the strand holds");
            // SAFETY: 8 bytes just allocated, released once below.
            unsafe {
                ptr.as_ptr().write_bytes(7, 8);
                ThreadArena::dealloc(&s.state, &s.cx, ptr, layout, ticket);
            }
            // SAFETY: as above.
            assert_eq!(unsafe { s.state.list() }.len(), MAX_HOLDS, "no new hold");
            for (i, h) in held.iter().enumerate() {
                assert_eq!(h.as_str(), text(i));
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn running_out_of_holds_is_an_error_and_hold_indices_are_reused() {
        std::thread::spawn(|| {
            let cfg = Config::default().with_threshold(64).unwrap();
            let s = Strand::<ThreadArena>::local_with(cfg).unwrap();
            // Each value pins its own generation, and the strand holds each of them.
            let mut held: Vec<_> = (0..MAX_HOLDS).map(|i| s.str(&text(i))).collect();
            let figures = s.stats();
            let err = s.try_str(&text(99)).unwrap_err();
            assert!(
                matches!(
                    err,
                    AllocError::Exhausted {
                        limit: MAX_HOLDS,
                        ..
                    }
                ),
                "{err}"
            );
            assert_eq!(s.stats(), figures);
            for (i, v) in held.iter().enumerate() {
                assert_eq!(v.as_str(), text(i));
            }
            // Churn through thousands of generations with a window of values: freed
            // holds are reused, never more than the limit, and every value reads back.
            let mut expected: Vec<String> = (0..MAX_HOLDS).map(text).collect();
            for i in 0..if cfg!(miri) { 200 } else { 5_000 } {
                held.remove(0);
                expected.remove(0);
                held.push(s.str(&text(1_000 + i)));
                expected.push(text(1_000 + i));
                // SAFETY: no other reference into the list is alive.
                assert!(unsafe { s.state.list() }.len() <= MAX_HOLDS);
                for (v, e) in held.iter().zip(&expected) {
                    assert_eq!(v.as_str(), e);
                }
            }
        })
        .join()
        .unwrap();
    }
}
