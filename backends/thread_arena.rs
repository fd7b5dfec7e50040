//! **thread-arena**: a bumpalo arena per OS thread, shared by the strands running there,
//! reset when no strand holds values in it, bounded by the threshold.
//!
//! This is the design of the Seq runtime's thread-local arena with its hazards removed:
//!
//! - An arena *generation* ([`Gen`]) is reference-counted. A strand takes a *hold* (an
//!   `Arc`) on a generation the first time it allocates there, and counts its live
//!   allocations in that hold. When the count drops to zero (and the generation is no
//!   longer the one the strand is allocating from) or the strand exits, the hold is
//!   released, on whatever thread the strand is then running.
//! - A generation is reset only by its own thread, and only while it is that thread's
//!   current generation and nobody else holds it (`Arc::get_mut` succeeds). So a strand's
//!   exit never resets memory another strand still uses, and neither does a strand that
//!   migrated away (it keeps its hold on the old thread's generation).
//! - The threshold is checked *before* an allocation, against bytes *used* (requested
//!   bytes plus worst-case alignment padding), never chunk capacity. An allocation that
//!   would cross it resets the generation in place if it has no holders, or else
//!   *rotates*: the thread starts a fresh generation and the old one lives on until its
//!   last holder lets go. The value being allocated is never touched by either.
//! - Each generation is created with one chunk big enough for the threshold (or for the
//!   allocation that created it), so its reserved bytes stay within the threshold plus
//!   the largest single allocation, plus bumpalo's rounding to a page. When the system
//!   refuses a chunk that large, a smaller one is taken and the generation's limit is
//!   what it holds.
//! - A strand finds its hold on a generation by the generation's address (a hash map),
//!   and a release finds it by index (the ticket): both O(1), however many generations
//!   the strand keeps alive.
//! - Thread-local state is reached only through one `#[inline(never)]` function
//!   (`with_thread`), and no borrow of it outlives that call.

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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// The thread-arena backend. See the [module documentation](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadArena;

static REGISTRY: Registry = Registry::new("thread-arena");

/// One generation of a thread's arena.
pub struct Gen {
    bump: Bump,
    /// Bytes charged so far; written only by the owning thread while current.
    used: AtomicUsize,
    /// Bytes the generation may hand out before the threshold check moves on.
    limit: usize,
    /// `bump.allocated_bytes()` when last measured.
    reserved: AtomicUsize,
    /// Set once the owning thread has moved on from this generation.
    retired: AtomicBool,
    /// Identity and reset count, validated by every access under `checked`.
    tag: ArenaTag,
    /// The thread that made it, in whose arena its values sit.
    thread: u32,
}

// SAFETY: the `Bump` is only used for allocation and reset by the thread whose current
// generation this is (reached through that thread's `with_thread`), or, for a generation
// made after its thread's state was destroyed (`detached_alloc`), by the one strand that
// holds it, for one allocation; reset needs `Arc::get_mut`, i.e. no other holder. Other threads only drop their `Arc` (the last one
// frees the chunks, with nobody left to use them) and read bytes of finished allocations,
// which the owner never writes again. All other fields are atomics.
unsafe impl Sync for Gen {}

impl Gen {
    /// A generation with no memory and a limit of zero: the first allocation replaces it.
    fn empty() -> Self {
        Gen {
            bump: Bump::new(),
            used: AtomicUsize::new(0),
            limit: 0,
            reserved: AtomicUsize::new(0),
            retired: AtomicBool::new(false),
            tag: ArenaTag::UNSET,
            thread: crate::thread::thread_index(),
        }
    }

    /// A generation with one chunk for `capacity` bytes. When the system refuses a chunk
    /// that large (a threshold of many GiB), the chunk is halved until it is granted,
    /// down to `min` bytes; the generation's limit is then what its chunk holds, so it
    /// rotates sooner but allocation keeps working.
    fn try_new(capacity: usize, min: usize) -> Result<Self, AllocError> {
        let tag = ArenaTag::try_new(None).ok_or(crate::checked::no_tag(ThreadArena::NAME))?;
        let mut size = capacity;
        let bump = loop {
            match Bump::try_with_capacity(size) {
                Ok(b) => break b,
                Err(_) if size / 2 >= min => size /= 2,
                Err(_) => {
                    return Err(AllocError::OutOfMemory {
                        backend: ThreadArena::NAME,
                        requested: size,
                    })
                }
            }
        };
        let reserved = bump.allocated_bytes();
        REGISTRY.reserve_shared(reserved as i64);
        // With worst-case padding counted in every charge, `limit` bytes fit in the one
        // chunk, so the fast path never makes bumpalo add a chunk.
        let limit = capacity.min(bump.chunk_capacity());
        Ok(Gen {
            bump,
            used: AtomicUsize::new(0),
            limit,
            reserved: AtomicUsize::new(reserved),
            retired: AtomicBool::new(false),
            tag,
            thread: crate::thread::thread_index(),
        })
    }

    #[inline]
    fn used(&self) -> usize {
        self.used.load(Relaxed)
    }

    fn reserved(&self) -> usize {
        self.reserved.load(Relaxed)
    }
}

impl Gen {
    /// Marks the generation as moved on from while strands still hold it.
    fn retire(&self) {
        self.retired.store(true, Relaxed);
        REGISTRY.reserve_retired(self.reserved() as i64);
    }
}

/// A generation's chunk is memory the backend reserves for no strand in particular: it
/// counts from the generation's creation (`try_new`) to its drop, whichever thread drops
/// it last.
impl Drop for Gen {
    fn drop(&mut self) {
        let reserved = self.reserved() as i64;
        REGISTRY.reserve_shared(-reserved);
        if self.retired.load(Relaxed) {
            REGISTRY.reserve_retired(-reserved);
        }
    }
}

/// What each OS thread keeps.
struct ThreadState {
    current: Arc<Gen>,
}

impl ThreadState {
    fn new() -> Self {
        ThreadState {
            current: Arc::new(Gen::empty()),
        }
    }

    /// Replaces the current generation. If it still has holders it is retired and lives
    /// on until its last holder lets go.
    fn replace_current(&mut self, new: Gen) {
        let old = std::mem::replace(&mut self.current, Arc::new(new));
        if Arc::strong_count(&old) > 1 {
            old.retire();
        }
    }

    /// Resets the current generation if nobody holds it and it has been used. Returns
    /// whether it did.
    fn reset_if_free(&mut self) -> bool {
        let Some(gen) = Arc::get_mut(&mut self.current) else {
            return false;
        };
        let used = *gen.used.get_mut();
        if used == 0 {
            return false;
        }
        gen.tag.invalidate();
        gen.bump.reset();
        *gen.used.get_mut() = 0;
        true
    }
}

impl Drop for ThreadState {
    fn drop(&mut self) {
        // Nothing may take the fast path into a generation this thread no longer owns.
        let _ = CURRENT.try_with(|c| c.set(ptr::null()));
        if Arc::strong_count(&self.current) > 1 {
            self.current.retire();
        }
    }
}

thread_local! {
    static THREAD: UnsafeCell<Option<ThreadState>> = const { UnsafeCell::new(None) };
    /// This thread's current generation, for the allocation fast path: set after every
    /// [`with_thread`] call (the only place the current generation changes) and cleared
    /// when the thread's state is destroyed. Constant-initialised and without a
    /// destructor, so reading it is a single thread-local load.
    static CURRENT: Cell<*const Gen> = const { Cell::new(ptr::null()) };
}

/// The calling thread's current generation (null before the thread's arena exists and
/// after it is destroyed). Out of line for the same reason as [`with_thread`].
#[inline(never)]
fn current() -> *const Gen {
    CURRENT.with(Cell::get)
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
            let st = state.get_or_insert_with(ThreadState::new);
            let r = f(st);
            CURRENT.set(Arc::as_ptr(&st.current));
            r
        })
        .ok()
}

/// A strand's hold on one generation.
struct Hold {
    /// Live allocations of the strand in this generation.
    live: usize,
    gen: Option<Arc<Gen>>,
    /// Whether an `allocator-api2` allocation (which carries no ticket) was made here.
    pinned: bool,
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

/// The strand's holds, and which one it allocates into now.
pub struct Holds {
    list: UnsafeCell<Vec<Hold>>,
    free: UnsafeCell<Vec<u32>>,
    /// The index of the strand's hold on each generation it holds, by the generation's
    /// address: finding a hold is one lookup, however many the strand has.
    index: UnsafeCell<HashMap<usize, u32, BuildHasherDefault<AddrHasher>>>,
    /// The generation of the active hold (null when none).
    active: Cell<*const Gen>,
    active_idx: Cell<u32>,
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

    /// Lets go of hold `idx`: its `Arc` is dropped, possibly freeing a retired generation.
    fn release(&self, idx: u32) {
        // SAFETY: no reference into the list, free list or index is alive in any caller.
        let (list, free, index) =
            unsafe { (self.list(), &mut *self.free.get(), &mut *self.index.get()) };
        let hold = &mut list[idx as usize];
        let gen = hold.gen.take();
        if let Some(g) = &gen {
            index.remove(&(Arc::as_ptr(g) as usize));
        }
        *hold = Hold {
            gen: None,
            live: 0,
            pinned: false,
        };
        free.push(idx);
        if self.active_idx.get() == idx && gen.as_ref().map(Arc::as_ptr) == Some(self.active.get())
        {
            self.active.set(ptr::null());
        }
        drop(gen);
    }

    /// Releases the active hold if the strand has no live allocation in it.
    fn drop_idle_active(&self) {
        if self.active.get().is_null() {
            return;
        }
        let idx = self.active_idx.get();
        // SAFETY: no reference into the list is alive.
        let hold = unsafe { &self.list()[idx as usize] };
        if hold.live == 0 && !hold.pinned {
            self.release(idx);
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
        let active = self.active_idx.get() as usize;
        !self.active.get().is_null() && list[active].live == 0 && !list[active].pinned
    }

    /// Makes the hold on `gen` the active one, taking a new hold if the strand has none.
    fn activate(&self, gen: &Arc<Gen>) -> Result<u32, AllocError> {
        let ptr = Arc::as_ptr(gen);
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
                    pinned: false,
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
        self.active.set(ptr);
        self.active_idx.set(idx);
        Ok(idx)
    }

    fn release_all(&self) {
        // SAFETY: no reference into the list is alive.
        let n = unsafe { self.list().len() };
        for idx in 0..n as u32 {
            // SAFETY: as above; the reference ends before `release`.
            if unsafe { self.list()[idx as usize].gen.is_some() } {
                self.release(idx);
            }
        }
        self.active.set(ptr::null());
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
/// and the allocation fits under its limit. Then nothing about the thread or the hold
/// changes, and the allocation is a bump plus counting. Anything else (first allocation
/// here, a move to another thread, a rotation, the threshold) returns `None` for the
/// full path.
///
/// No migration can be missed: the active generation belongs to the thread the strand
/// last allocated on, and equals this thread's current generation only on that thread.
#[inline]
fn fast_alloc(
    holds: &Holds,
    cx: &StrandCx,
    layout: Layout,
    pinned: bool,
) -> Option<(NonNull<u8>, Ticket)> {
    let active = holds.active.get();
    let gen = current();
    if active.is_null() || active != gen {
        return None;
    }
    // SAFETY: `gen` is this thread's current generation (`CURRENT` is refreshed after
    // every change to it, and cleared before it is dropped), and the strand's active hold
    // keeps an `Arc` on it, so it is alive; only this thread allocates from its `Bump`,
    // and no `&mut` to it exists outside `with_thread`, which is not running.
    let gen = unsafe { &*gen };
    let charge = charge(layout);
    let used = gen.used() + charge;
    if used > gen.limit.min(cx.config.threshold()) {
        return None;
    }
    // The generation's one chunk has room for `limit` bytes with worst-case padding, so
    // this never allocates a new chunk (and never changes the reserved bytes).
    let ptr = gen.bump.try_alloc_layout(layout).ok()?;
    gen.used.store(used, Relaxed);
    let idx = holds.active_idx.get();
    count(holds, idx, pinned);
    Some((ptr, Ticket::new(idx).with_stamp(gen.tag.stamp())))
}

/// Counts an allocation in hold `idx`: one more live value, or pinned memory.
#[inline]
fn count(holds: &Holds, idx: u32, pinned: bool) {
    // SAFETY: no other reference into the list is alive; `idx` is a live hold's index.
    let hold = unsafe { &mut holds.list()[idx as usize] };
    if pinned {
        hold.pinned = true;
    } else {
        hold.live += 1;
    }
}

/// The full allocation path: through the thread's state, taking a hold on its current
/// generation if the strand has none there yet, and making room when the threshold
/// would be crossed. Out of line so that the fast path stays small enough to inline.
#[inline(never)]
fn slow_alloc(
    holds: &Holds,
    cx: &StrandCx,
    layout: Layout,
    pinned: bool,
) -> Result<(NonNull<u8>, Ticket), AllocError> {
    with_thread(|st| {
        let charge = charge(layout);
        let limit = st.current.limit.min(cx.config.threshold());
        let fits = st.current.used() + charge <= limit;
        // A new hold is needed unless the strand holds the current generation and the
        // allocation fits in it; when none can be taken, fail before anything changes.
        if !(holds.has_room() || fits && holds.holds(&st.current)) {
            return Err(AllocError::Exhausted {
                backend: ThreadArena::NAME,
                what: "holds of the strand",
                limit: MAX_HOLDS,
            });
        }
        if !fits {
            make_room(st, holds, cx, charge)?;
        }
        let idx = if Arc::as_ptr(&st.current) == holds.active.get() {
            holds.active_idx.get()
        } else {
            if st.reset_if_free() {
                cx.count_reset(ResetCause::StrandExit);
            }
            holds.activate(&st.current)?
        };
        let gen = &*st.current;
        let ptr = gen
            .bump
            .try_alloc_layout(layout)
            .map_err(|_| AllocError::oom(ThreadArena::NAME, layout))?;
        gen.used.store(gen.used() + charge, Relaxed);
        count(holds, idx, pinned);
        Ok((ptr, Ticket::new(idx).with_stamp(gen.tag.stamp())))
    })
    .unwrap_or_else(|| detached_alloc(holds, layout, pinned))
}

/// Allocation after this thread's arena state was destroyed (a value made in a
/// thread-local's destructor at thread exit): a generation of its own for this one
/// allocation, owned by no thread and held by this strand alone, freed when the value is
/// released. Rare, so it need not be cheap.
#[cold]
#[inline(never)]
fn detached_alloc(
    holds: &Holds,
    layout: Layout,
    pinned: bool,
) -> Result<(NonNull<u8>, Ticket), AllocError> {
    if !holds.has_room() {
        return Err(AllocError::Exhausted {
            backend: ThreadArena::NAME,
            what: "holds of the strand",
            limit: MAX_HOLDS,
        });
    }
    let charge = charge(layout);
    let gen = Arc::new(Gen::try_new(charge, charge)?);
    let idx = holds.activate(&gen)?;
    // Only this strand holds the generation, and the strand runs on one thread at a time.
    let ptr = gen
        .bump
        .try_alloc_layout(layout)
        .map_err(|_| AllocError::oom(ThreadArena::NAME, layout))?;
    gen.used.store(charge, Relaxed);
    count(holds, idx, pinned);
    Ok((ptr, Ticket::new(idx).with_stamp(gen.tag.stamp())))
}

/// Makes room for `charge` bytes in the current generation: reset it in place if nobody
/// holds it, or rotate to a fresh one.
#[cold]
#[inline(never)]
fn make_room(
    st: &mut ThreadState,
    holds: &Holds,
    cx: &StrandCx,
    charge: usize,
) -> Result<(), AllocError> {
    holds.drop_idle_active();
    if let Some(gen) = Arc::get_mut(&mut st.current) {
        if gen.limit >= charge {
            if st.reset_if_free() {
                cx.count_reset(ResetCause::Threshold);
            }
            return Ok(());
        }
    }
    let was_used = st.current.used() > 0;
    // Obtained before anything about the thread changes.
    let fresh = Gen::try_new(cx.config.threshold().max(charge), charge)?;
    let shared = Arc::strong_count(&st.current) > 1;
    st.replace_current(fresh);
    if shared {
        cx.count_rotation();
    } else if was_used {
        cx.count_reset(ResetCause::Threshold);
    }
    Ok(())
}

// SAFETY: (1) memory comes from a generation the strand holds an `Arc` on, counted in
// that hold; the hold is released only when its count is zero (every allocation in it
// released) or by `reset`/`exit`, and a generation is reset only when no hold exists
// (`Arc::get_mut`), so no other strand's action can invalidate it. (2) Holds are `Arc`s,
// valid from any thread. (3) tickets are hold indices, stable while the hold lives.
// (4) `with_thread` is the only thread-local access and runs no user code.
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
            active_idx: Cell::new(0),
        }
    }

    #[inline]
    fn try_alloc(
        holds: &Holds,
        cx: &StrandCx,
        layout: Layout,
        pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        match fast_alloc(holds, cx, layout, pinned) {
            Some(done) => Ok(done),
            None => slow_alloc(holds, cx, layout, pinned),
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

    #[inline]
    unsafe fn dealloc(
        holds: &Holds,
        _cx: &StrandCx,
        _ptr: NonNull<u8>,
        _layout: Layout,
        t: Ticket,
    ) {
        if t == Ticket::PINNED {
            return;
        }
        // SAFETY: no other reference into the list is alive; the ticket is the index
        // `try_alloc` returned for a hold that still counts this allocation.
        let hold = unsafe { &mut holds.list()[t.id() as usize] };
        hold.live -= 1;
        let is_active = holds.active_idx.get() == t.id() && !holds.active.get().is_null();
        if hold.live == 0 && !hold.pinned && !is_active {
            holds.release(t.id());
        }
    }

    fn reset(holds: &mut Holds, cx: &StrandCx) {
        holds.release_all();
        if with_thread(|st| st.reset_if_free()) == Some(true) {
            cx.count_reset(ResetCause::Explicit);
        }
    }

    /// Frees the calling thread's current generation if no strand holds it (the thread
    /// starts a new one at its next allocation).
    fn release_idle() {
        with_thread(|st| {
            if Arc::get_mut(&mut st.current).is_some() {
                st.replace_current(Gen::empty());
            }
        });
    }

    fn exit(holds: Holds, cx: &StrandCx) {
        holds.release_all();
        if with_thread(|st| st.reset_if_free()) == Some(true) {
            cx.count_reset(ResetCause::StrandExit);
        }
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
