//! Homes: where a strand is found from a one-word handle, with no `&Strand` at hand.
//!
//! Every strand reached through the current-strand API ([`crate::current`]) has a *home*:
//! a small record that says which execution context (a May coroutine, or a plain OS
//! thread) the strand belongs to, where its [`crate::Strand`] is, and which slots
//! ([`crate::slot`]) it hands out. An owned value's slot names its owner's home, so a
//! release made anywhere finds the owner without a lookup:
//!
//! - made by the owner itself (the home's context is the caller's): released at once;
//! - made elsewhere: pushed onto the home's list of values released elsewhere (one
//!   compare-and-swap), which the owner collects at its next allocation, reset or end.
//!
//! Homes, like slots, are type-stable: never freed, reused by later strands. Each reuse,
//! each reset and each end changes the home's *epoch*, which a value's slot records when it
//! is made, so a value of an earlier epoch is recognised as stale without following any
//! pointer into memory that may have been freed.
//!
//! A runtime may open *handle scopes* ([`crate::handle::enter_scope`]): each open scope
//! is a level with an epoch of its own, newer than any the home gave before, and the
//! values made in it carry that epoch. A value is live while its epoch is one of the open
//! levels' (the strand's own level and each open scope's); leaving a scope drops its
//! level, and the slots made in it, recorded as they were made, are freed. Epochs come
//! from one count per home that only grows, so a value or a scope's mark of an earlier
//! epoch never matches a later one.
//!
//! A release made elsewhere and the owner's reset, end or scope's leave are ordered by a count of
//! *visitors*: a releaser registers, reads the epoch, pushes, and leaves; the owner changes
//! the epoch, then waits for the visitors of the old epoch to leave before it collects
//! (a wait of a few instructions: a visitor never blocks while registered). A home is
//! reused only when it has no visitors.

use crate::slot::{Block, Slot, FREE, SLOTS_PER_BLOCK};
use crate::stats::Registry;
use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The remote list of a home whose strand has ended.
const CLOSED: *mut Slot = std::ptr::dangling_mut();

/// The most handle scopes a strand may have open at once
/// ([`crate::handle::enter_scope`] refuses one more).
pub const MAX_HANDLE_SCOPES: usize = 16;

/// When the last open handle scope is left, the record of the slots made in scopes keeps
/// at most this many entries' room (a burst's room is given back).
const MADE_KEPT: usize = 1024;

/// The epochs live when a home moved on (a reset or its end): its own level's and each
/// open scope's.
pub(crate) struct LiveEpochs {
    epochs: [u64; MAX_HANDLE_SCOPES + 1],
    len: usize,
}

impl LiveEpochs {
    /// Whether `e` is one of them.
    #[inline]
    pub(crate) fn contains(&self, e: u64) -> bool {
        self.epochs[..self.len].contains(&e)
    }
}

/// `state` of a slot freed by the last release of a shared value and on its way back to
/// its block's home (on that home's remote list).
pub(crate) const RETURNED: u64 = u64::MAX - 1;

/// One strand's home. See the [module documentation](self).
pub(crate) struct Home {
    /// The context the strand belongs to (see [`crate::current::context_key`]), or 0.
    pub(crate) key: AtomicUsize,
    /// The backend, as [`crate::current::backend_id`] names it.
    pub(crate) backend: AtomicUsize,
    /// The strand (`*const Strand<A>` for that backend).
    pub(crate) strand: AtomicPtr<()>,
    /// The epoch of the innermost open level, which new values carry: changed at every
    /// attach, reset and end, and at each handle scope's enter and leave. A value whose
    /// epoch is not one of the open levels' is stale ([`Home::live`]).
    pub(crate) epoch: AtomicU64,
    /// The newest epoch ever given; every new epoch is one more.
    issued: AtomicU64,
    /// The epochs of the levels enclosing the innermost one: `outer[0]` is the strand's
    /// own level while a scope is open, `outer[i]` the level of the `i`th open scope.
    outer: [AtomicU64; MAX_HANDLE_SCOPES],
    /// Open handle scopes.
    depth: AtomicUsize,
    /// Odd while the owner changes the open levels (`epoch`, `depth`, `outer`), advanced
    /// once before and once after: a reader elsewhere ([`Home::live`]) that saw it odd,
    /// or changed, reads the levels again.
    levels: AtomicU64,
    /// For each open scope, the length of `made` when it was entered. Owner only.
    marks: UnsafeCell<[usize; MAX_HANDLE_SCOPES]>,
    /// The slots made while a scope is open, in order. Owner only.
    made: UnsafeCell<Vec<&'static Slot>>,
    /// Changed at every attach and end, from the same count as the epochs (so a shared
    /// slot's incarnation is never taken for a value's epoch): a slot returns to its
    /// block's home only while the home is the incarnation that took the block.
    pub(crate) incarnation: AtomicU64,
    /// Whether a [`crate::Strand::with_current`] call is using the strand.
    pub(crate) busy: AtomicBool,
    /// Slots released elsewhere (owned values, and slots returned to this home's blocks),
    /// linked through [`Slot::link`]; [`CLOSED`] after the end.
    remote: AtomicPtr<Slot>,
    /// Releasers between reading the epoch and pushing.
    visitors: AtomicUsize,
    /// The owner's free slots, linked through [`Slot::link`]: taken from the head, given
    /// back at the head (the warmest slot first), or with `checked` at the tail, so that
    /// a slot is reused as late as possible and a stale handle finds it free.
    free: UnsafeCell<*const Slot>,
    /// The last slot of `free` (`checked` only).
    #[cfg(feature = "checked")]
    free_tail: UnsafeCell<*const Slot>,
    /// The blocks this home manages.
    blocks: UnsafeCell<Vec<Block>>,
}

// SAFETY: every field another thread touches is atomic. `free`, `blocks`, `marks` and
// `made` are touched only by the code running as the home's strand (its allocations,
// releases, reset and end), one thread at a time by the strand's rule, and by `attach`
// before the home is published to anyone.
unsafe impl Sync for Home {}

/// Homes of ended strands, ready for reuse.
static HOMES: Mutex<Vec<&'static Home>> = Mutex::new(Vec::new());

impl Home {
    fn new() -> Home {
        Home {
            key: AtomicUsize::new(0),
            backend: AtomicUsize::new(0),
            strand: AtomicPtr::new(ptr::null_mut()),
            epoch: AtomicU64::new(0),
            issued: AtomicU64::new(0),
            outer: [const { AtomicU64::new(0) }; MAX_HANDLE_SCOPES],
            depth: AtomicUsize::new(0),
            levels: AtomicU64::new(0),
            marks: UnsafeCell::new([0; MAX_HANDLE_SCOPES]),
            made: UnsafeCell::new(Vec::new()),
            incarnation: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            remote: AtomicPtr::new(CLOSED),
            visitors: AtomicUsize::new(0),
            free: UnsafeCell::new(ptr::null()),
            #[cfg(feature = "checked")]
            free_tail: UnsafeCell::new(ptr::null()),
            blocks: UnsafeCell::new(Vec::new()),
        }
    }

    /// A home for a strand that begins in context `key`: a reused one without visitors,
    /// or a new one. Its epoch and incarnation are fresh, so nothing made under an earlier
    /// one is taken for its own.
    pub(crate) fn attach(key: usize, backend: usize, strand: *const ()) -> &'static Home {
        let reused = HOMES.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let home = match reused {
            Some(home) => {
                home.epoch.store(home.fresh_epoch(), Ordering::SeqCst);
                home.incarnation.store(home.fresh_epoch(), Ordering::SeqCst);
                if home.visitors.load(Ordering::SeqCst) == 0 {
                    home
                } else {
                    // A releaser of the last incarnation is still between its check and
                    // its push: leave this home for later (the releaser finds the epoch
                    // changed and goes away) and take a new one.
                    HOMES.lock().unwrap_or_else(|e| e.into_inner()).push(home);
                    &*Box::leak(Box::new(Home::new()))
                }
            }
            None => {
                let home: &'static Home = Box::leak(Box::new(Home::new()));
                home.epoch.store(home.fresh_epoch(), Ordering::Relaxed);
                home.incarnation
                    .store(home.fresh_epoch(), Ordering::Relaxed);
                home
            }
        };
        home.busy.store(false, Ordering::Relaxed);
        home.remote.store(ptr::null_mut(), Ordering::Release);
        home.strand.store(strand as *mut (), Ordering::Relaxed);
        home.backend.store(backend, Ordering::Relaxed);
        home.key.store(key, Ordering::Release);
        home
    }

    /// The context no longer reaches this strand (its coroutine's storage is going away),
    /// though the strand may live on until a paused call lets go of it.
    pub(crate) fn detach(&self) {
        self.key.store(0, Ordering::Release);
    }

    /// Takes a free slot. Owner only.
    ///
    /// # Safety
    ///
    /// Called by the code running as the home's strand.
    #[inline]
    pub(crate) unsafe fn pop_slot(
        &'static self,
        registry: &'static Registry,
    ) -> Option<&'static Slot> {
        // SAFETY: owner-only field (this function's contract).
        let head = unsafe { *self.free.get() };
        if head.is_null() {
            // SAFETY: forwarded.
            return unsafe { self.refill(registry) };
        }
        // SAFETY: the free list holds slots of this home's blocks (type-stable).
        let slot = unsafe { &*head };
        let next = slot.link.load(Ordering::Relaxed);
        // SAFETY: owner-only fields.
        unsafe {
            *self.free.get() = next;
            #[cfg(feature = "checked")]
            if next.is_null() {
                *self.free_tail.get() = ptr::null();
            }
        }
        Some(slot)
    }

    /// The free list is empty: a block more (a reused one with free slots, or a fresh
    /// one). `None` only when the global allocator refuses a fresh block.
    #[cold]
    #[inline(never)]
    unsafe fn refill(&'static self, registry: &'static Registry) -> Option<&'static Slot> {
        loop {
            let block = Block::take(registry, self.backend.load(Ordering::Relaxed))?;
            // SAFETY: owner-only field.
            unsafe { &mut *self.blocks.get() }.push(block);
            for i in (0..SLOTS_PER_BLOCK).rev() {
                let s = block.slot(i);
                if s.state.load(Ordering::Acquire) == FREE {
                    // SAFETY: forwarded.
                    unsafe { self.push_free(s) };
                }
            }
            // SAFETY: owner-only field.
            let head = unsafe { *self.free.get() };
            if !head.is_null() {
                // SAFETY: forwarded; the list is not empty.
                return unsafe { self.pop_slot(registry) };
            }
            // A reused block whose slots all hold shared values: the next one.
        }
    }

    /// Gives a slot back to the free list. Owner only; the slot is of this home's blocks
    /// and nobody else uses it.
    ///
    /// # Safety
    ///
    /// As above.
    #[inline]
    pub(crate) unsafe fn push_free(&self, slot: &Slot) {
        slot.state.store(FREE, Ordering::Release);
        // SAFETY: owner-only field (this function's contract).
        #[cfg(not(feature = "checked"))]
        unsafe {
            slot.link
                .store(*self.free.get() as *mut Slot, Ordering::Relaxed);
            *self.free.get() = slot;
        }
        // SAFETY: owner-only fields (this function's contract); `tail` is the last slot
        // of the list, of this home's blocks.
        #[cfg(feature = "checked")]
        unsafe {
            slot.link.store(ptr::null_mut(), Ordering::Relaxed);
            let tail = *self.free_tail.get();
            if tail.is_null() {
                *self.free.get() = slot;
            } else {
                (*tail)
                    .link
                    .store(slot as *const Slot as *mut Slot, Ordering::Relaxed);
            }
            *self.free_tail.get() = slot;
        }
    }

    /// Whether anything waits on the remote list (one load, for the allocation path).
    #[inline]
    pub(crate) fn has_remote(&self) -> bool {
        let r = self.remote.load(Ordering::Relaxed);
        !r.is_null() && r != CLOSED
    }

    /// Takes the remote list (owner only): its slots linked through [`Slot::link`].
    pub(crate) fn take_remote(&self) -> *const Slot {
        let r = self.remote.swap(ptr::null_mut(), Ordering::Acquire);
        if r == CLOSED {
            // Not reached by an attached home; keep it closed.
            self.remote.store(CLOSED, Ordering::Release);
            return ptr::null();
        }
        r
    }

    /// A release made elsewhere: pushes `slot` onto this home's remote list if `still`
    /// holds for the home (its epoch or incarnation is still the one the slot belongs
    /// to). Returns whether it was pushed; when not, the home has moved on and the slot is
    /// the caller's to settle.
    pub(crate) fn push_remote(&self, slot: &Slot, still: impl Fn(&Home) -> bool) -> bool {
        self.visitors.fetch_add(1, Ordering::SeqCst);
        let mut pushed = false;
        if still(self) {
            let mut head = self.remote.load(Ordering::Relaxed);
            while head != CLOSED {
                slot.link.store(head, Ordering::Relaxed);
                match self.remote.compare_exchange_weak(
                    head,
                    slot as *const Slot as *mut Slot,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        pushed = true;
                        break;
                    }
                    Err(h) => head = h,
                }
            }
        }
        self.visitors.fetch_sub(1, Ordering::SeqCst);
        pushed
    }

    /// A new epoch, never given before by this home.
    fn fresh_epoch(&self) -> u64 {
        self.issued.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Whether a value of epoch `e` is live: made at one of the open levels (the strand's
    /// own, or an open handle scope's). From another thread, the answer holds at one
    /// moment of the call: the levels are read again until no change of them overlapped
    /// the reading (an epoch, a depth and the enclosing epochs read across a leave would
    /// otherwise miss a level that was open throughout).
    #[inline]
    pub(crate) fn live(&self, e: u64) -> bool {
        e == self.epoch.load(Ordering::SeqCst) || self.live_slow(e)
    }

    #[cold]
    #[inline(never)]
    fn live_slow(&self, e: u64) -> bool {
        let backoff = crossbeam_utils::Backoff::new();
        loop {
            let before = self.levels.load(Ordering::SeqCst);
            if before % 2 == 0 {
                let d = self.depth.load(Ordering::SeqCst).min(MAX_HANDLE_SCOPES);
                let found = e == self.epoch.load(Ordering::SeqCst)
                    || self.outer[..d]
                        .iter()
                        .any(|o| o.load(Ordering::SeqCst) == e);
                if self.levels.load(Ordering::SeqCst) == before {
                    return found;
                }
            }
            // The owner is changing the levels: a few stores, never a wait.
            backoff.snooze();
        }
    }

    /// Advances `levels`: called once before the owner changes the open levels and once
    /// after. Owner only.
    #[inline]
    fn levels_changing(&self) {
        self.levels.fetch_add(1, Ordering::SeqCst);
    }

    /// Open handle scopes (the owner's count; a sampled one elsewhere).
    #[inline]
    pub(crate) fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Waits (a spin, then yields of the core) while a releaser that may have read the
    /// old levels finishes its push.
    fn drain_visitors(&self) {
        let backoff = crossbeam_utils::Backoff::new();
        while self.visitors.load(Ordering::SeqCst) != 0 {
            backoff.snooze();
        }
    }

    /// Starts a new epoch (a reset or the end), closing every open handle scope: after
    /// this returns, no release made elsewhere pushes a value of the old levels. Returns
    /// the epochs that were live. Owner only.
    ///
    /// # Safety
    ///
    /// Called by the code running as the home's strand.
    pub(crate) unsafe fn next_epoch(&self, ending: bool) -> LiveEpochs {
        let depth = self.depth().min(MAX_HANDLE_SCOPES);
        let mut live = LiveEpochs {
            epochs: [0; MAX_HANDLE_SCOPES + 1],
            len: depth + 1,
        };
        for (to, from) in live.epochs.iter_mut().zip(&self.outer[..depth]) {
            *to = from.load(Ordering::Relaxed);
        }
        live.epochs[depth] = self.epoch.load(Ordering::Relaxed);
        self.levels_changing();
        self.epoch.store(self.fresh_epoch(), Ordering::SeqCst);
        self.depth.store(0, Ordering::SeqCst);
        self.levels_changing();
        if ending {
            self.incarnation.store(self.fresh_epoch(), Ordering::SeqCst);
        }
        self.drain_visitors();
        // SAFETY: owner-only field (this function's contract); no record is borrowed.
        unsafe { self.forget_made_since(0) };
        live
    }

    /// Opens a handle scope: a level with a new epoch, which the values made from now on
    /// carry. Returns the epoch, or `None` when [`MAX_HANDLE_SCOPES`] are open. Owner only.
    ///
    /// # Safety
    ///
    /// Called by the code running as the home's strand.
    pub(crate) unsafe fn open_scope(&self) -> Option<u64> {
        let d = self.depth();
        if d >= MAX_HANDLE_SCOPES {
            return None;
        }
        // SAFETY: owner-only fields (this function's contract).
        unsafe { (*self.marks.get())[d] = (*self.made.get()).len() };
        let e = self.fresh_epoch();
        self.levels_changing();
        // The enclosing level stays live: recorded before the new one replaces it.
        self.outer[d].store(self.epoch.load(Ordering::Relaxed), Ordering::SeqCst);
        self.depth.store(d + 1, Ordering::SeqCst);
        self.epoch.store(e, Ordering::SeqCst);
        self.levels_changing();
        Some(e)
    }

    /// Closes the innermost handle scope, whose epoch is `epoch`: the enclosing level is
    /// the innermost again, and after this returns no release made elsewhere pushes a
    /// value of the closed one. Returns the slots made since the scope was entered (the
    /// caller frees those still owned at `epoch`, then calls [`Home::forget_made_since`]),
    /// or `None`, changing nothing, when `epoch` is not the innermost open scope's. Owner
    /// only.
    ///
    /// # Safety
    ///
    /// Called by the code running as the home's strand; the result is not kept past the
    /// next call that changes the record (an allocation, a reset, `forget_made_since`).
    pub(crate) unsafe fn close_scope(&self, epoch: u64) -> Option<(&[&'static Slot], usize)> {
        let d = self.depth();
        if d == 0 || self.epoch.load(Ordering::Relaxed) != epoch {
            return None;
        }
        let enclosing = self.outer[d - 1].load(Ordering::Relaxed);
        self.levels_changing();
        self.epoch.store(enclosing, Ordering::SeqCst);
        self.depth.store(d - 1, Ordering::SeqCst);
        self.levels_changing();
        self.drain_visitors();
        // SAFETY: owner-only fields (this function's contract).
        let (mark, made) = unsafe { ((*self.marks.get())[d - 1], &*self.made.get()) };
        Some((&made[mark..], mark))
    }

    /// Drops the record of the slots made since `mark` (a closed scope's), and when no
    /// scope is open any more, the room a burst left. Owner only.
    ///
    /// # Safety
    ///
    /// Called by the code running as the home's strand; no result of `close_scope` is
    /// alive.
    pub(crate) unsafe fn forget_made_since(&self, mark: usize) {
        // SAFETY: owner-only field (this function's contract).
        let made = unsafe { &mut *self.made.get() };
        made.truncate(mark);
        if self.depth() == 0 && made.capacity() > MADE_KEPT {
            made.shrink_to(MADE_KEPT);
        }
    }

    /// Whether `slot`'s last value was made by this home at `epoch` (it may have been
    /// released or shared since: the caller looks at its state).
    #[inline]
    pub(crate) fn made_at(&self, slot: &Slot, epoch: u64) -> bool {
        ptr::eq(slot.owner.load(Ordering::Relaxed) as *const Home, self)
            && slot.epoch.load(Ordering::Relaxed) == epoch
    }

    /// Room for one more slot made in a scope, before any is taken: `false` when the
    /// global allocator refuses it. Owner only.
    ///
    /// # Safety
    ///
    /// Called by the code running as the home's strand.
    #[cold]
    #[inline(never)]
    pub(crate) unsafe fn reserve_made(&self) -> bool {
        // SAFETY: owner-only field (this function's contract).
        unsafe { (*self.made.get()).try_reserve(1).is_ok() }
    }

    /// Records a slot taken for a value of the innermost open scope, in the room
    /// [`Home::reserve_made`] made, unless the scope recorded it already: a slot whose
    /// last value was this home's at the scope's epoch was made while the scope was
    /// innermost, so its record is still there (a nested scope's leave drops only what
    /// was recorded after its enter). So the record holds one entry per slot the scope
    /// used, however many values it made and released. Call before the slot's new value
    /// is written. Owner only.
    ///
    /// # Safety
    ///
    /// Called by the code running as the home's strand, after `reserve_made` succeeded
    /// with no record since.
    #[inline]
    pub(crate) unsafe fn record_made(&self, slot: &'static Slot) {
        if !self.made_at(slot, self.epoch.load(Ordering::Relaxed)) {
            // SAFETY: owner-only field (this function's contract); within the reserved
            // room, so the push does not allocate.
            unsafe { (*self.made.get()).push(slot) };
        }
    }

    /// Closes the remote list for good (the end) and returns what was on it.
    pub(crate) fn close_remote(&self) -> *const Slot {
        let r = self.remote.swap(CLOSED, Ordering::Acquire);
        if r == CLOSED {
            ptr::null()
        } else {
            r
        }
    }

    /// The blocks this home manages. Owner only.
    ///
    /// # Safety
    ///
    /// Called by the code running as the home's strand; the result is not kept.
    pub(crate) unsafe fn blocks(&self) -> &[Block] {
        // SAFETY: owner-only field (this function's contract).
        unsafe { &*self.blocks.get() }
    }

    /// Empties the free list, to be rebuilt by a sweep. Owner only.
    ///
    /// # Safety
    ///
    /// As for [`Home::blocks`].
    pub(crate) unsafe fn clear_free(&self) {
        // SAFETY: owner-only fields.
        unsafe {
            *self.free.get() = ptr::null();
            #[cfg(feature = "checked")]
            {
                *self.free_tail.get() = ptr::null();
            }
        }
    }

    /// The strand has ended: its blocks go back to the global list and the home to the
    /// pool. Owner only, after the last sweep.
    ///
    /// # Safety
    ///
    /// As for [`Home::blocks`]; nothing of the strand uses the home afterwards.
    pub(crate) unsafe fn retire(&'static self) {
        self.detach();
        self.strand.store(ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: owner-only fields.
        let blocks = std::mem::take(unsafe { &mut *self.blocks.get() });
        // SAFETY: as above; the strand is gone, and its record with it.
        drop(std::mem::take(unsafe { &mut *self.made.get() }));
        // SAFETY: as above.
        unsafe { self.clear_free() };
        let backend = self.backend.load(Ordering::Relaxed);
        for b in blocks {
            b.give_up(backend);
        }
        HOMES.lock().unwrap_or_else(|e| e.into_inner()).push(self);
    }
}
