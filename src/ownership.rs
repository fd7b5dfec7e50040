//! Ownership of handle values: how an owned value is freed by its owner, made shared
//! (moved to the heap with a count of holders), let go of by its last holder, handed back
//! by a release made elsewhere, and swept when its strand resets or ends. Every deep
//! operation runs in constant stack: the slots it works on are its own at that moment, so
//! their links make the worklist.
//!
//! [`crate::handle`] is the public face of these operations; [`crate::current`] ends a
//! strand's home through [`end_home`].

use crate::allocator::ValueAllocator;
use crate::error::AllocError;
use crate::home::{Home, RETURNED};
use crate::slot::{is_shared, Slot, SlotKind, FREE, MOVING, OWNED};
use crate::strand::Strand;
use std::alloc::Layout;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{fence, Ordering};

/// A value as one machine word. See [`crate::handle`].
pub struct Handle<A: ValueAllocator> {
    slot: NonNull<Slot>,
    _backend: PhantomData<fn() -> A>,
}

impl<A: ValueAllocator> Clone for Handle<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: ValueAllocator> Copy for Handle<A> {}

impl<A: ValueAllocator> PartialEq for Handle<A> {
    fn eq(&self, other: &Self) -> bool {
        self.slot == other.slot
    }
}

impl<A: ValueAllocator> Eq for Handle<A> {}

// SAFETY: a handle is an address. Following it to the bytes is `unsafe` and its contract
// says where that is allowed (an owned value only in its owner's context); the slot it
// names is type-stable and read through atomics, so any thread may look at it.
unsafe impl<A: ValueAllocator> Send for Handle<A> {}
// SAFETY: as for `Send`: `&Handle` gives only copies of the word.
unsafe impl<A: ValueAllocator> Sync for Handle<A> {}

impl<A: ValueAllocator> Handle<A> {
    #[inline]
    pub(crate) fn slot(&self) -> &'static Slot {
        // SAFETY: a handle is made only from a slot (by this module, or by `from_word`,
        // whose contract says the word came from `to_word`); slots are never freed.
        unsafe { &*self.slot.as_ptr() }
    }

    #[inline]
    pub(crate) fn of(slot: &'static Slot) -> Self {
        Handle {
            slot: NonNull::from(slot),
            _backend: PhantomData,
        }
    }
}

/// One field of a variant made of handles: a scalar, or a value's handle. Compared and
/// printed whatever the backend type (a float field compares as `f64` does).
pub enum Field<A: ValueAllocator> {
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string, byte string or variant.
    Value(Handle<A>),
}

impl<A: ValueAllocator> Clone for Field<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: ValueAllocator> Copy for Field<A> {}

impl<A: ValueAllocator> PartialEq for Field<A> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Field::Int(a), Field::Int(b)) => a == b,
            (Field::Float(a), Field::Float(b)) => a == b,
            (Field::Bool(a), Field::Bool(b)) => a == b,
            (Field::Value(a), Field::Value(b)) => a == b,
            _ => false,
        }
    }
}

impl<A: ValueAllocator> std::fmt::Debug for Field<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Int(i) => f.debug_tuple("Int").field(i).finish(),
            Field::Float(x) => f.debug_tuple("Float").field(x).finish(),
            Field::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            Field::Value(h) => f.debug_tuple("Value").field(h).finish(),
        }
    }
}

/// Counts a refused handle on the backend's figures.
#[cold]
#[inline(never)]
pub(crate) fn refused<A: ValueAllocator>() {
    A::registry().count_refused();
}

/// Whether an owned slot belongs to `home` and is live there (made at one of its open
/// levels: see [`Home::live`]).
#[inline]
pub(crate) fn owned_here(s: &Slot, home: &Home) -> bool {
    std::ptr::eq(s.owner.load(Ordering::Relaxed) as *const Home, home)
        && home.live(s.epoch.load(Ordering::Relaxed))
}

/// A variant slot's fields.
///
/// # Safety
///
/// The slot holds a variant whose fields are live for `'a` (see [`Slot::ptr`]).
pub(crate) unsafe fn fields_of<'a, A: ValueAllocator>(s: &Slot) -> &'a [Field<A>] {
    let (_, len) = s.shape();
    let p = s.ptr.load(Ordering::Relaxed) as *const Field<A>;
    // SAFETY: a variant's bytes are `len` fields, aligned for them (allocated with
    // `Layout::array::<Field<A>>(len)`), live by this function's contract.
    unsafe { std::slice::from_raw_parts(p, len) }
}

/// The layout of an owned slot's bytes.
fn layout_of<A: ValueAllocator>(kind: SlotKind, len: usize) -> Layout {
    match kind {
        SlotKind::Variant => Layout::array::<Field<A>>(len),
        _ => Layout::from_size_align(len, 1),
    }
    .expect("strand-alloc: a slot's layout was valid when it was made")
}

/// Frees an owned value of `home` and every owned value it holds (shared ones lose a
/// holder). A string or byte string is freed at once; a variant by [`free_owned_deep`].
#[inline]
pub(crate) fn free_owned<A: ValueAllocator>(
    home: &'static Home,
    strand: &Strand<A>,
    s: &'static Slot,
) {
    let (kind, len) = s.shape();
    if kind == SlotKind::Variant {
        return free_owned_deep::<A>(home, strand, s);
    }
    // SAFETY: the slot is owned by this strand: its ticket is ours to read.
    let ticket = unsafe { *s.ticket.get() };
    if let Some(p) = NonNull::new(s.ptr.load(Ordering::Relaxed)) {
        // SAFETY: `p`, this layout (bytes, alignment 1) and `ticket` came from one
        // `alloc_raw` on this strand, released only here, once: the slot becomes free.
        unsafe { strand.dealloc_raw(p, Layout::from_size_align_unchecked(len, 1), ticket) };
    }
    // SAFETY: this code runs as the home's strand, whose slot this is.
    unsafe { home.push_free(s) };
}

/// Frees an owned variant of `home` and every owned value it holds (shared ones lose a
/// holder), in constant stack: the slots being freed are this strand's alone, so their
/// links make the worklist.
#[cold]
#[inline(never)]
fn free_owned_deep<A: ValueAllocator>(
    home: &'static Home,
    strand: &Strand<A>,
    first: &'static Slot,
) {
    first.link.store(ptr::null_mut(), Ordering::Relaxed);
    let mut work: *const Slot = first;
    while !work.is_null() {
        // SAFETY: slots are never freed; the worklist holds slots of this strand.
        let s = unsafe { &*work };
        work = s.link.load(Ordering::Relaxed);
        let (kind, len) = s.shape();
        let ptr = s.ptr.load(Ordering::Relaxed);
        if kind == SlotKind::Variant {
            // SAFETY: an owned variant, live until released here.
            let fields = unsafe { fields_of::<A>(s) };
            for f in fields {
                if let Field::Value(h) = f {
                    let c = h.slot();
                    let st = c.state.load(Ordering::Acquire);
                    if st == OWNED {
                        if owned_here(c, home) {
                            // Listed once, even if a field repeats it.
                            c.state.store(MOVING, Ordering::Relaxed);
                            c.link.store(work as *mut Slot, Ordering::Relaxed);
                            work = c;
                        }
                    } else if is_shared(st) {
                        release_shared::<A>(c);
                    }
                }
            }
        }
        // SAFETY: the slot is owned by this strand: its ticket is ours to read.
        let ticket = unsafe { *s.ticket.get() };
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: `p`, this layout and `ticket` came from one `alloc_raw` on this
            // strand (in `make` or `new_variant`), released only here, once: the slot
            // leaves the owned state just below.
            unsafe { strand.dealloc_raw(p, layout_of::<A>(kind, len), ticket) };
        }
        // SAFETY: this code runs as the home's strand, whose slot this is.
        unsafe { home.push_free(s) };
    }
}

/// Lets go of one holder of a shared value; the last holder frees it, and lets go of the
/// values it holds, in constant stack (a slot whose count reached zero is the releaser's
/// alone, so its link makes the worklist).
#[inline]
pub(crate) fn release_shared<A: ValueAllocator>(first: &'static Slot) {
    if first.state.fetch_sub(1, Ordering::Release) == 1 {
        free_shared::<A>(first);
    }
}

/// The last holder of a shared value let go: frees it and lets go of what it holds.
#[cold]
#[inline(never)]
fn free_shared<A: ValueAllocator>(first: &'static Slot) {
    fence(Ordering::Acquire);
    first.link.store(ptr::null_mut(), Ordering::Relaxed);
    let mut work: *const Slot = first;
    while !work.is_null() {
        // SAFETY: slots are never freed; the worklist holds slots whose count reached zero.
        let s = unsafe { &*work };
        work = s.link.load(Ordering::Relaxed);
        let (kind, len) = s.shape();
        let ptr = s.ptr.load(Ordering::Relaxed);
        let layout = layout_of::<A>(kind, len);
        if kind == SlotKind::Variant {
            // SAFETY: a shared variant, live until freed below.
            let fields = unsafe { fields_of::<A>(s) };
            for f in fields {
                if let Field::Value(h) = f {
                    let c = h.slot();
                    // Every value a shared variant holds is shared (see `promote`).
                    if c.state.fetch_sub(1, Ordering::Release) == 1 {
                        fence(Ordering::Acquire);
                        c.link.store(work as *mut Slot, Ordering::Relaxed);
                        work = c;
                    }
                }
            }
        }
        if layout.size() != 0 {
            // SAFETY: a shared value's bytes are a heap allocation of this layout made by
            // `promote`, freed only here by the last holder.
            unsafe { std::alloc::dealloc(ptr, layout) };
        }
        A::registry().use_shared(-(layout.size() as i64));
        give_back(s);
    }
}

/// A slot whose shared value was freed goes back to the home that managed its block when
/// it was shared, while that home is the same incarnation; otherwise (the home ended and
/// gave its blocks up) it is left free for the sweep of the block's next home.
fn give_back(s: &'static Slot) {
    s.state.store(RETURNED, Ordering::Release);
    // A shared slot names the home that managed its block when it was shared.
    let home = s.owner.load(Ordering::Relaxed) as *const Home;
    let incarnation = s.epoch.load(Ordering::Relaxed);
    // SAFETY: homes are never freed.
    if let Some(home) = unsafe { home.as_ref() } {
        if home.push_remote(s, |h| h.incarnation.load(Ordering::SeqCst) == incarnation) {
            return;
        }
    }
    s.state.store(FREE, Ordering::Release);
}

/// Makes an owned value of `home` shared with two holders (the word it had, and the one
/// `share` returns), moving it and every owned value it holds to the global heap. All
/// copies are made before anything changes, so a refused allocation leaves the value as
/// it was.
pub(crate) fn promote<A: ValueAllocator>(
    home: &'static Home,
    strand: &Strand<A>,
    root: &'static Slot,
) -> Result<(), AllocError> {
    // The owned values reachable from `root`, breadth first, each marked `MOVING` once
    // listed so that a value listed twice (a word copied into two fields without share)
    // is moved once.
    let mut order: Vec<&'static Slot> = vec![root];
    root.state.store(MOVING, Ordering::Relaxed);
    let mut i = 0;
    while let Some(&s) = order.get(i) {
        i += 1;
        if s.shape().0 != SlotKind::Variant {
            continue;
        }
        // SAFETY: an owned variant of this strand, live.
        let fields = unsafe { fields_of::<A>(s) };
        for f in fields {
            if let Field::Value(h) = f {
                let c = h.slot();
                if c.state.load(Ordering::Acquire) == OWNED && owned_here(c, home) {
                    c.state.store(MOVING, Ordering::Relaxed);
                    order.push(c);
                }
            }
        }
    }
    // Every copy first.
    let mut copies: Vec<*mut u8> = Vec::with_capacity(order.len());
    for s in &order {
        let (kind, len) = s.shape();
        let layout = layout_of::<A>(kind, len);
        let src = s.ptr.load(Ordering::Relaxed);
        if layout.size() == 0 {
            copies.push(src);
            continue;
        }
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { std::alloc::alloc(layout) };
        if p.is_null() {
            // Undo: free the copies made, and every value is owned again.
            for (s, &c) in order.iter().zip(&copies) {
                let (kind, len) = s.shape();
                let l = layout_of::<A>(kind, len);
                if l.size() != 0 {
                    // SAFETY: `c` was allocated just above with this layout.
                    unsafe { std::alloc::dealloc(c, l) };
                }
            }
            for s in &order {
                s.state.store(OWNED, Ordering::Relaxed);
            }
            return Err(AllocError::oom(A::NAME, layout));
        }
        // SAFETY: `src` holds `layout.size()` live bytes of this strand's value, `p` is a
        // fresh allocation of that size.
        unsafe { ptr::copy_nonoverlapping(src, p, layout.size()) };
        copies.push(p);
    }
    // Then the move: the arena copies are released, the slots name the heap copies.
    for (n, (s, copy)) in order.iter().zip(copies).enumerate() {
        let (kind, len) = s.shape();
        let layout = layout_of::<A>(kind, len);
        let old = s.ptr.load(Ordering::Relaxed);
        // SAFETY: the slot was owned by this strand until just now: its ticket is ours.
        let ticket = unsafe { *s.ticket.get() };
        if let Some(p) = NonNull::new(old) {
            // SAFETY: `p`, this layout and `ticket` came from one `alloc_raw` on this
            // strand and are released here once (the slot is shared from now on).
            unsafe { strand.dealloc_raw(p, layout, ticket) };
        }
        s.ptr.store(copy, Ordering::Relaxed);
        s.set_shape(kind, len);
        // From now on `epoch` is the incarnation of the home whose block this slot is in
        // (the owner's), for `give_back`.
        s.epoch
            .store(home.incarnation.load(Ordering::Relaxed), Ordering::Relaxed);
        A::registry().use_shared(layout.size() as i64);
        // The root has two holders; every value below it, its one parent.
        let holders = if n == 0 { 2 } else { 1 };
        s.state.store(holders, Ordering::Release);
    }
    Ok(())
}

/// The strand of `home` ends: its owned values are freed, its slots and blocks go back.
pub(crate) fn end_home<A: ValueAllocator>(home: &'static Home, strand: &mut Strand<A>) {
    sweep::<A>(home, strand, true);
    // SAFETY: the strand's own code (its end); nothing uses the home afterwards.
    unsafe { home.retire() };
}

/// Frees every live owned value of `home` (of every open level) and starts a new epoch,
/// closing every open handle scope; on a reset, rebuilds the free list from the home's
/// blocks. Runs as the home's strand.
pub(crate) fn sweep<A: ValueAllocator>(home: &'static Home, strand: &Strand<A>, ending: bool) {
    // SAFETY: the strand's own code (a reset or its end).
    let live = unsafe { home.next_epoch(ending) };
    let list = if ending {
        home.close_remote()
    } else {
        home.take_remote()
    };
    let mut p = list;
    while !p.is_null() {
        // SAFETY: slots are never freed; the list was taken whole.
        let s = unsafe { &*p };
        p = s.link.load(Ordering::Relaxed);
        if s.state.load(Ordering::Acquire) == RETURNED {
            s.state.store(FREE, Ordering::Release);
        }
        // Owned values on the list are freed by the scan below, with the rest.
    }
    // SAFETY: the strand's own code; the block list is not changed during the scan.
    let blocks: Vec<crate::slot::Block> = unsafe { home.blocks() }.to_vec();
    for block in &blocks {
        for i in 0..crate::slot::SLOTS_PER_BLOCK {
            let s = block.slot(i);
            if s.state.load(Ordering::Acquire) != OWNED
                || !std::ptr::eq(s.owner.load(Ordering::Relaxed) as *const Home, home)
                || !live.contains(s.epoch.load(Ordering::Relaxed))
            {
                continue;
            }
            let (kind, len) = s.shape();
            let ptr = s.ptr.load(Ordering::Relaxed);
            if kind == SlotKind::Variant {
                // SAFETY: an owned variant of this strand, live.
                let fields = unsafe { fields_of::<A>(s) };
                for f in fields {
                    if let Field::Value(h) = f {
                        let c = h.slot();
                        let st = c.state.load(Ordering::Acquire);
                        // Owned fields are this strand's, freed by this scan in turn.
                        if is_shared(st) {
                            release_shared::<A>(c);
                        }
                    }
                }
            }
            // SAFETY: the slot is owned by this strand at a level just closed.
            let ticket = unsafe { *s.ticket.get() };
            if let Some(p) = NonNull::new(ptr) {
                // SAFETY: `p`, this layout and `ticket` came from one `alloc_raw` on this
                // strand, not released (the slot was still owned).
                unsafe { strand.dealloc_raw(p, layout_of::<A>(kind, len), ticket) };
            }
            // Marked until the free list is rebuilt below, where the slots this sweep
            // freed go last.
            s.state
                .store(if ending { FREE } else { MOVING }, Ordering::Release);
        }
    }
    if ending {
        return;
    }
    // The free list anew: the slots free before the sweep first, then the ones it freed.
    // Taken from the head (the warm ones first) in plain builds, they come first there;
    // given back at the tail with `checked`, they are reused last, so a handle from before
    // the reset finds its slot free for as long as possible.
    // SAFETY: the strand's own code.
    unsafe { home.clear_free() };
    for wanted in [FREE, MOVING] {
        for block in &blocks {
            for i in (0..crate::slot::SLOTS_PER_BLOCK).rev() {
                let s = block.slot(i);
                if s.state.load(Ordering::Acquire) == wanted {
                    // SAFETY: the strand's own code; the slot is of its blocks and free.
                    unsafe { home.push_free(s) };
                }
            }
        }
    }
}

/// Collects what was released elsewhere: owned values are freed, returned slots reused.
#[cold]
#[inline(never)]
pub(crate) fn collect<A: ValueAllocator>(home: &'static Home, strand: &Strand<A>) {
    settle::<A>(home, strand, home.take_remote());
}

fn settle<A: ValueAllocator>(home: &'static Home, strand: &Strand<A>, list: *const Slot) {
    let mut p = list;
    while !p.is_null() {
        // SAFETY: slots are never freed; the list was taken whole by the owner.
        let s = unsafe { &*p };
        p = s.link.load(Ordering::Relaxed);
        match s.state.load(Ordering::Acquire) {
            RETURNED => {
                // SAFETY: the owner's code: the slot is of its blocks, unused.
                unsafe { home.push_free(s) }
            }
            OWNED if owned_here(s, home) => free_owned::<A>(home, strand, s),
            _ => {}
        }
    }
}
