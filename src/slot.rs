//! Slots: the fixed-size record that a one-word [`crate::Handle`] points to.
//!
//! A handle is the address of a slot. The slot holds what a read, a share or a release
//! needs (where the bytes are, how many, which strand owns them and since which epoch,
//! the backend's ticket, or for a shared value its reference count), so the handle itself
//! is one aligned machine word and the value's bytes carry no header.
//!
//! Slots live in blocks of [`BLOCK_SIZE`] bytes that are never given back to the system:
//! a slot's memory stays a slot for the life of the process (it is *type-stable*). So any
//! handle ever made can be looked at (its state read) without touching memory that may
//! have been freed, which is what lets `checked` builds refuse a stale, foreign or reset
//! handle safely. Every field another thread may read is atomic; the blocks are a stated
//! pool ([`pool_bytes`]), reused by the strands that begin later.
//!
//! A block is managed by one strand's home  at a time: the home hands out
//! its free slots, and takes them back when its values are released or when it resets or
//! ends. A block whose home ended goes back to a global list of blocks and is swept for
//! free slots by the next home that takes it.

use crate::allocator::Ticket;
use crate::stats::Registry;
use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The bytes of one slot (and the alignment of every handle): 64, or 128 with `checked`
/// (whose tickets carry a generation stamp).
pub const SLOT_SIZE: usize = if cfg!(feature = "checked") { 128 } else { 64 };

/// The bytes of one block of slots.
pub const BLOCK_SIZE: usize = 4096;

/// Slots in one block.
pub const SLOTS_PER_BLOCK: usize = BLOCK_SIZE / SLOT_SIZE;

/// `state` of a free slot.
pub(crate) const FREE: u64 = 0;
/// `state` of a slot whose value is owned by one strand (not shared).
pub(crate) const OWNED: u64 = u64::MAX;
/// `state` of a slot being freed or moved to the heap by its owner (listed once in a
/// deep operation's worklist).
pub(crate) const MOVING: u64 = u64::MAX - 2;
/// The most holders a shared value may have; a share past it is refused (a count that
/// could otherwise reach [`OWNED`]).
pub(crate) const MAX_SHARED: u64 = 1 << 62;

/// Whether a `state` is a shared value's count of holders.
#[inline]
pub(crate) fn is_shared(state: u64) -> bool {
    state != FREE && state < MOVING
}

/// What a slot holds (the low bits of `len_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotKind {
    Str = 0,
    Bytes = 1,
    Variant = 2,
}

const KIND_MASK: u64 = 3;
const LEN_SHIFT: u32 = 2;

/// One value's record. See the [module documentation](self).
#[repr(C, align(64))]
#[cfg_attr(feature = "checked", repr(align(128)))]
pub(crate) struct Slot {
    /// [`FREE`], [`OWNED`], or the number of holders of a shared value.
    pub(crate) state: AtomicU64,
    /// The owner's home , for an owned value.
    pub(crate) owner: AtomicPtr<()>,
    /// The owner's epoch when the value was made (a reset or the owner's end changes the
    /// home's epoch, and the value is then stale); for a shared value, the incarnation of
    /// the home in `owner`.
    pub(crate) epoch: AtomicU64,
    /// The bytes (a variant's fields).
    pub(crate) ptr: AtomicPtr<u8>,
    /// The length (bytes, or fields of a variant) shifted left by 2, and the kind. (Where
    /// the bytes are follows from `state`: a shared value's are a heap copy.)
    pub(crate) len_kind: AtomicU64,
    /// Links the slot into one list at a time: its home's free list, its owner's list of
    /// values released elsewhere, or a worklist of a deep operation.
    pub(crate) link: AtomicPtr<Slot>,
    /// A variant's tag.
    pub(crate) tag: std::sync::atomic::AtomicU32,
    /// The backend's ticket of an owned value; written and read by its owner only.
    pub(crate) ticket: UnsafeCell<Ticket>,
}

// SAFETY: every field but `ticket` is atomic. `ticket` is written when the owner makes the
// value and read only by code running as the owner (its release, its share, its reset),
// one thread at a time by the strand's own rule; other threads never touch it.
unsafe impl Sync for Slot {}

const _: () = assert!(std::mem::size_of::<Slot>() <= SLOT_SIZE);
const _: () = assert!(std::mem::align_of::<Slot>() == SLOT_SIZE);

impl Slot {
    /// The kind and length.
    #[inline]
    pub(crate) fn shape(&self) -> (SlotKind, usize) {
        let lk = self.len_kind.load(Ordering::Relaxed);
        let kind = match lk & KIND_MASK {
            0 => SlotKind::Str,
            1 => SlotKind::Bytes,
            _ => SlotKind::Variant,
        };
        (kind, (lk >> LEN_SHIFT) as usize)
    }

    /// Sets the kind and length.
    #[inline]
    pub(crate) fn set_shape(&self, kind: SlotKind, len: usize) {
        let lk = ((len as u64) << LEN_SHIFT) | kind as u64;
        self.len_kind.store(lk, Ordering::Relaxed);
    }
}

/// A block of slots, as the raw pointer to its memory (so that every slot is reached
/// with the provenance of the whole block).
#[derive(Clone, Copy)]
pub(crate) struct Block {
    base: NonNull<u8>,
}

// SAFETY: a block is the address of memory that is never freed and whose slots are used
// through atomics (see `Slot`).
unsafe impl Send for Block {}
// SAFETY: as for `Send`.
unsafe impl Sync for Block {}

/// Every block ever made, for the `checked` test of a forged word: its address and its
/// backend ([`crate::current::backend_id`]), sorted by address.
#[cfg(feature = "checked")]
static ALL_BLOCKS: std::sync::RwLock<Vec<(usize, usize)>> = std::sync::RwLock::new(Vec::new());

/// Blocks whose home ended, by backend ([`crate::current::backend_id`]: a backend at each
/// level of figures is one): a block stays with the backend that made it, which counts it
/// as reserved. At most two entries per backend compiled in, so the search is short.
static UNMANAGED: Mutex<Vec<(usize, Vec<Block>)>> = Mutex::new(Vec::new());
static POOL_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Bytes of slot blocks in the process, every backend's: the pool behind every handle,
/// never given back to the system (see the [module documentation](self)). Slots of ended
/// strands are reused by later ones. Each backend also counts its own blocks as reserved
/// by no strand (`stats::<A>().shared.reserved`).
pub fn pool_bytes() -> usize {
    POOL_BYTES.load(Ordering::Relaxed)
}

impl Block {
    /// A fresh block of free slots, or `None` when the global allocator refuses.
    #[cfg_attr(not(feature = "checked"), allow(unused_variables))]
    fn new(backend: usize) -> Option<Block> {
        let layout = std::alloc::Layout::from_size_align(BLOCK_SIZE, BLOCK_SIZE).ok()?;
        // SAFETY: the layout has a non-zero size. Zeroed memory is valid free slots
        // (every atomic zero, state `FREE`; the ticket is never read before its owner
        // writes it).
        let base = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })?;
        POOL_BYTES.fetch_add(BLOCK_SIZE, Ordering::Relaxed);
        #[cfg(feature = "checked")]
        {
            let mut all = ALL_BLOCKS.write().unwrap_or_else(|e| e.into_inner());
            let addr = base.as_ptr() as usize;
            let at = all.partition_point(|&(b, _)| b < addr);
            all.insert(at, (addr, backend));
        }
        Some(Block { base })
    }

    /// The block's `i`th slot.
    #[inline]
    pub(crate) fn slot(self, i: usize) -> &'static Slot {
        debug_assert!(i < SLOTS_PER_BLOCK);
        // SAFETY: the block holds `SLOTS_PER_BLOCK` slots of `SLOT_SIZE` bytes, zeroed as
        // free slots when it was made and never freed; `i` is in range.
        unsafe { &*(self.base.as_ptr().add(i * SLOT_SIZE) as *const Slot) }
    }

    /// A block for a home of `backend` (a [`crate::current::backend_id`]), whose registry
    /// this is: an unmanaged one of that backend if any, otherwise a fresh one, counted
    /// as reserved by no strand.
    pub(crate) fn take(registry: &'static Registry, backend: usize) -> Option<Block> {
        let reused = UNMANAGED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter_mut()
            .find(|(b, _)| *b == backend)
            .and_then(|(_, blocks)| blocks.pop());
        if reused.is_some() {
            return reused;
        }
        let fresh = Block::new(backend)?;
        registry.reserve_shared(BLOCK_SIZE as i64);
        Some(fresh)
    }

    /// Gives the block up: its home ended. Its free slots are found by the next home of
    /// the same backend that takes it.
    pub(crate) fn give_up(self, backend: usize) {
        let mut unmanaged = UNMANAGED.lock().unwrap_or_else(|e| e.into_inner());
        match unmanaged.iter_mut().find(|(b, _)| *b == backend) {
            Some((_, blocks)) => blocks.push(self),
            None => unmanaged.push((backend, vec![self])),
        }
    }
}

/// Whether `addr` is the address of a slot in a block of `backend` (a
/// [`crate::current::backend_id`]: the `checked` test of a word that may have been forged
/// from an integer, or be another backend's, or the same backend's at the other level of
/// figures).
#[cfg(feature = "checked")]
pub(crate) fn is_slot(addr: usize, backend: usize) -> bool {
    if addr % SLOT_SIZE != 0 {
        return false;
    }
    let block = addr & !(BLOCK_SIZE - 1);
    let all = ALL_BLOCKS.read().unwrap_or_else(|e| e.into_inner());
    match all.binary_search_by_key(&block, |&(b, _)| b) {
        Ok(i) => all[i].1 == backend,
        Err(_) => false,
    }
}
