//! The memory of a [`crate::Scope`]: its arena, which its values point at, and the warm
//! arenas a strand keeps between scopes. Knows nothing of strands or values: the value
//! constructors count what it hands out, and the scope's end counts what it gives back.

use bumpalo::Bump;
use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::ptr::NonNull;

/// The most warm scope arenas a strand keeps for its next scopes (one per level of
/// nesting in use); more are freed when their scope ends.
pub const SCOPE_SPARES_MAX: usize = 4;

/// The largest warm scope arena a strand keeps: 256 KiB, as a thread keeps at most that
/// on thread-arena. A scope whose arena grew past it (a burst) gives it back whole when
/// it ends, so a long-lived strand never keeps a burst's memory.
pub const SCOPE_SPARE_BYTES_MAX: usize = 256 * 1024;

/// A scope's arena and counts. Values of the scope point at it (their origin), so that
/// their drop can take their bytes off its live count. An empty scope touches no arena:
/// the arena is taken at the scope's first value.
pub(crate) struct ScopeArena {
    /// Whether the scope has an arena at all (false on a backend without scope arenas,
    /// where the scope's values come from the backend).
    enabled: bool,
    /// The arena, once the scope's first value took it.
    bump: UnsafeCell<Option<Bump>>,
    /// A lower bound of the room left in the arena's current chunk (0 until the arena is
    /// taken): an allocation within it neither fails nor adds a chunk, so the reserved
    /// bytes stay as measured. The fast path's one test.
    room: Cell<usize>,
    /// `allocated_bytes()` of the arena when last measured.
    reserved: Cell<usize>,
    /// Bytes of the scope's live values in the arena (sizes asked for).
    live: Cell<usize>,
    /// Bytes handed out from the arena since the scope began (sizes asked for).
    handed: Cell<usize>,
}

/// What a scope's arena leaves when the scope ends.
pub(crate) struct Ended {
    /// Bytes of values never dropped (leaked), still counted as used.
    pub leaked: usize,
    /// Bytes handed out from the arena in the scope.
    pub handed: usize,
    /// The arena (reset, its memory kept warm as one chunk), if the scope took one, and
    /// the bytes it reserved before the reset.
    pub arena: Option<(Bump, usize)>,
}

impl ScopeArena {
    /// A scope's arena, `enabled` or not; nothing is taken yet.
    #[inline]
    pub(crate) fn new(enabled: bool) -> Self {
        ScopeArena {
            enabled,
            bump: UnsafeCell::new(None),
            room: Cell::new(0),
            reserved: Cell::new(0),
            live: Cell::new(0),
            handed: Cell::new(0),
        }
    }

    /// Whether the scope has an arena.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// `size` bytes (not zero; the length of a slice, so at most `isize::MAX`) of the
    /// arena, counted as live and handed out, with the change of its reserved bytes;
    /// `None` when the arena's limit refuses them. `take` gives the arena at the scope's
    /// first value.
    #[inline]
    pub(crate) fn alloc(
        &self,
        size: usize,
        take: impl FnOnce() -> Bump,
    ) -> Option<(NonNull<u8>, i64)> {
        let room = self.room.get();
        if size > room {
            return self.alloc_slow(size, take);
        }
        // SAFETY: the room is not zero, so the arena was taken; a `&mut` to it is formed
        // only by `end`, which takes the arena by `&mut self`, and no `&Bump` outlives this
        // call.
        let bump = unsafe { (*self.bump.get()).as_ref().unwrap_unchecked() };
        // Within the room bumpalo neither fails nor adds a chunk (alignment 1: no padding).
        let ptr = bump.try_alloc_layout(byte_layout(size)).ok()?;
        self.room.set(room - size);
        self.count(size);
        Some((ptr, 0))
    }

    /// The allocation past the room: the arena taken at the scope's first value, a
    /// chunk added, the arena measured again.
    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, size: usize, take: impl FnOnce() -> Bump) -> Option<(NonNull<u8>, i64)> {
        // SAFETY: as in `alloc`; the `&mut` ends before the shared borrow below.
        let slot = unsafe { &mut *self.bump.get() };
        if slot.is_none() {
            // A warm arena's bytes are counted as the strand's already (a new one has
            // none).
            let bump = take();
            self.reserved.set(bump.allocated_bytes());
            *slot = Some(bump);
        }
        // SAFETY: as in `alloc`.
        let bump = unsafe { (*self.bump.get()).as_ref().unwrap_unchecked() };
        let ptr = bump.try_alloc_layout(byte_layout(size));
        let reserved = bump.allocated_bytes();
        let grown = reserved as i64 - self.reserved.get() as i64;
        self.reserved.set(reserved);
        self.room.set(bump.chunk_capacity());
        let ptr = ptr.ok()?;
        self.count(size);
        Some((ptr, grown))
    }

    #[inline(always)]
    fn count(&self, size: usize) {
        self.live.set(self.live.get() + size);
        self.handed.set(self.handed.get() + size);
    }

    /// Takes `size` bytes off the live count: a value of the scope was dropped.
    #[inline]
    pub(crate) fn release(&self, size: usize) {
        self.live.set(self.live.get() - size);
    }

    /// Whether the scope took an arena or counted a value: an empty scope has nothing to
    /// give back.
    #[inline]
    pub(crate) fn touched(&self) -> bool {
        // SAFETY: a shared read of the slot; no `&mut` to it is alive outside `alloc_slow`
        // and `end`, neither of which is running.
        self.handed.get() != 0 || unsafe { (*self.bump.get()).is_some() }
    }

    /// Ends the scope's use of the arena: nothing in it is live any more (its values,
    /// which borrowed the scope, are gone or leaked), so it is reset and kept warm.
    pub(crate) fn end(&mut self) -> Ended {
        // Nothing may take the fast path into an arena that is gone.
        self.room.set(0);
        let arena = self.bump.get_mut().take().map(|mut bump| {
            if self.handed.get() > 0 {
                crate::generation::reset_warm(&mut bump);
            }
            (bump, self.reserved.get())
        });
        Ended {
            leaked: self.live.get(),
            handed: self.handed.get(),
            arena,
        }
    }
}

/// The layout of a scope value's bytes (every scope value is a string or byte string).
#[inline(always)]
fn byte_layout(size: usize) -> Layout {
    // SAFETY: alignment 1 is a power of two, and a byte size that reached an allocation
    // (a copy of an existing slice) is at most `isize::MAX`.
    unsafe { Layout::from_size_align_unchecked(size, 1) }
}

/// Warm scope arenas a strand keeps between scopes.
#[derive(Default)]
pub(crate) struct ScopeSpares(UnsafeCell<Vec<Bump>>);

impl ScopeSpares {
    /// A warm arena, if one is kept.
    pub(crate) fn take(&self) -> Option<Bump> {
        // SAFETY: the list is reached only through these methods, which call no code that
        // could reach it again.
        unsafe { (*self.0.get()).pop() }
    }

    /// Keeps `bump` for a next scope; gives it back instead when enough are kept or it
    /// is larger than [`SCOPE_SPARE_BYTES_MAX`].
    pub(crate) fn keep(&self, bump: Bump) -> Option<Bump> {
        // SAFETY: as in `take`.
        let spares = unsafe { &mut *self.0.get() };
        if spares.len() < SCOPE_SPARES_MAX && bump.allocated_bytes() <= SCOPE_SPARE_BYTES_MAX {
            spares.push(bump);
            None
        } else {
            Some(bump)
        }
    }

    /// Frees every spare; returns the bytes they had.
    pub(crate) fn free(&self) -> usize {
        // SAFETY: as in `take`.
        let spares = std::mem::take(unsafe { &mut *self.0.get() });
        spares.iter().map(Bump::allocated_bytes).sum()
    }
}
