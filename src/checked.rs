//! Checked handles: arena identity and generation carried by every arena-backed value.
//!
//! With the `checked` feature, every arena generation that a backend creates registers an
//! [`ArenaTag`]: a slot in a global table holding the generation's *epoch*, advanced each
//! time the memory is reset or freed. Each allocation's [`Stamp`] records the tag and the
//! epoch it was made in; every access to a value compares the stamp with the table first,
//! and a mismatch is a *hazard*: counted in the strand's figures and refused (a panic from
//! the plain accessors, an [`crate::error::Hazard`] error from the `try_` ones), so stale
//! memory is never read. A tag may also name the one OS thread whose arena it is
//! (the seed policy's thread arenas): an access from any other thread is then refused,
//! because that thread may reset the arena at any moment.
//!
//! Without the feature, `Stamp` and `ArenaTag` are zero-sized and every check is a
//! constant `Ok`, so unchecked builds pay nothing.
//!
//! The table is a fixed array of lazily allocated segments, so a tag's entry never
//! moves; tags are recycled through a free list, and since the epoch keeps counting, a
//! stamp of a recycled tag's earlier user never matches again (until the 32-bit epoch
//! wraps, after four billion resets of one slot).

use crate::error::Hazard;

#[cfg(feature = "checked")]
mod imp {
    use super::Hazard;
    use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
    use std::sync::Mutex;

    const SEGMENT: usize = 4096;
    const SEGMENTS: usize = 1024;

    struct Entry {
        epoch: AtomicU32,
        /// Thread index of the only thread allowed to read, or 0 for any.
        owner: AtomicU32,
    }

    static TABLE: [AtomicPtr<Entry>; SEGMENTS] =
        [const { AtomicPtr::new(std::ptr::null_mut()) }; SEGMENTS];
    static FREE: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    static NEXT: AtomicU32 = AtomicU32::new(1);

    /// The entry of `tag`, whose segment is installed (every stamped tag's is).
    #[inline]
    fn entry(tag: u32) -> &'static Entry {
        let (seg, i) = (tag as usize / SEGMENT, tag as usize % SEGMENT);
        let p = TABLE[seg].load(Ordering::Acquire);
        if p.is_null() {
            return install(seg, i);
        }
        // SAFETY: a published segment is never freed and holds `SEGMENT` entries; `i` is
        // below that.
        unsafe { &*p.add(i) }
    }

    /// Installs segment `seg` (or finds the one another thread installed first) and
    /// returns entry `i` of it.
    #[cold]
    #[inline(never)]
    fn install(seg: usize, i: usize) -> &'static Entry {
        let mut p = TABLE[seg].load(Ordering::Acquire);
        if p.is_null() {
            let fresh: Box<[Entry]> = (0..SEGMENT)
                .map(|_| Entry {
                    epoch: AtomicU32::new(0),
                    owner: AtomicU32::new(0),
                })
                .collect();
            let fresh = Box::into_raw(fresh) as *mut Entry;
            match TABLE[seg].compare_exchange(
                std::ptr::null_mut(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => p = fresh,
                Err(other) => {
                    // SAFETY: `fresh` came from `Box::into_raw` just above and was never
                    // published; another thread installed its own segment first.
                    drop(unsafe {
                        Box::from_raw(std::ptr::slice_from_raw_parts_mut(fresh, SEGMENT))
                    });
                    p = other;
                }
            }
        }
        // SAFETY: a published segment is never freed and holds `SEGMENT` entries; `i` is
        // below that.
        unsafe { &*p.add(i) }
    }

    /// The identity of one arena generation in the epoch table (its number, and its
    /// entry, looked up once so that stamping an allocation is a single load).
    pub struct ArenaTag {
        tag: u32,
        entry: &'static Entry,
    }

    impl std::fmt::Debug for ArenaTag {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_tuple("ArenaTag").field(&self.tag).finish()
        }
    }

    impl ArenaTag {
        /// Registers a generation; `owner` limits reads to one thread (by its
        /// [`crate::stats::thread_index`]).
        pub fn new(owner: Option<u32>) -> ArenaTag {
            let reused = FREE.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let tag = reused.unwrap_or_else(|| NEXT.fetch_add(1, Ordering::Relaxed));
            assert!(
                (tag as usize) < SEGMENT * SEGMENTS,
                "strand-alloc (checked): more than {} arena generations alive at once",
                SEGMENT * SEGMENTS - 1
            );
            let entry = entry(tag);
            entry.owner.store(owner.unwrap_or(0), Ordering::Relaxed);
            ArenaTag { tag, entry }
        }

        /// The stamp of an allocation made now.
        #[inline]
        pub fn stamp(&self) -> Stamp {
            Stamp::new(self.tag, self.entry.epoch.load(Ordering::Relaxed))
        }

        /// Marks every allocation stamped so far as invalid (the memory is being reset).
        pub fn invalidate(&self) {
            self.entry.epoch.fetch_add(1, Ordering::Release);
        }
    }

    impl Drop for ArenaTag {
        fn drop(&mut self) {
            self.invalidate();
            FREE.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.tag);
        }
    }

    /// Where and when an allocation was made: the tag in the high half, the epoch in
    /// the low half. One word rather than two fields, so that it is written with one
    /// store: read back as a whole after two narrower stores, it stalls the load (a
    /// failed store-to-load forward) on every allocation.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Stamp(u64);

    impl Stamp {
        /// Not arena memory: always valid.
        pub const NONE: Stamp = Stamp(0);

        #[inline]
        fn new(tag: u32, epoch: u32) -> Stamp {
            Stamp((u64::from(tag) << 32) | u64::from(epoch))
        }

        #[inline]
        fn tag(self) -> u32 {
            (self.0 >> 32) as u32
        }

        #[inline]
        fn epoch(self) -> u32 {
            self.0 as u32
        }

        /// Whether the memory is still what it was when stamped, and readable here.
        #[inline]
        pub fn check(self, backend: &'static str) -> Result<(), Hazard> {
            if self.tag() == 0 {
                return Ok(());
            }
            let e = entry(self.tag());
            let now = e.epoch.load(Ordering::Acquire);
            let owner = e.owner.load(Ordering::Relaxed);
            let here = if owner == 0 {
                0
            } else {
                crate::stats::thread_index()
            };
            if now == self.epoch() && owner == here {
                Ok(())
            } else {
                Err(self.hazard(backend, now, owner))
            }
        }

        #[cold]
        #[inline(never)]
        fn hazard(self, backend: &'static str, now: u32, owner: u32) -> Hazard {
            Hazard {
                backend,
                arena: self.tag(),
                stamped: self.epoch(),
                now,
                owner_thread: owner,
                reading_thread: crate::stats::thread_index(),
            }
        }
    }
}

#[cfg(not(feature = "checked"))]
mod imp {
    use super::Hazard;

    /// The identity of one arena generation (zero-sized without `checked`).
    #[derive(Debug)]
    pub struct ArenaTag;

    impl ArenaTag {
        /// Registers a generation (nothing without `checked`).
        #[inline(always)]
        pub fn new(_owner: Option<u32>) -> ArenaTag {
            ArenaTag
        }
        /// The stamp of an allocation made now.
        #[inline(always)]
        pub fn stamp(&self) -> Stamp {
            Stamp
        }
        /// Marks allocations stamped so far as invalid (nothing without `checked`).
        #[inline(always)]
        pub fn invalidate(&self) {}
    }

    /// Where and when an allocation was made (zero-sized without `checked`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Stamp;

    impl Stamp {
        /// Not arena memory: always valid.
        pub const NONE: Stamp = Stamp;

        /// Always valid without `checked`.
        #[inline(always)]
        pub fn check(self, _backend: &'static str) -> Result<(), Hazard> {
            Ok(())
        }
    }
}

pub use imp::{ArenaTag, Stamp};
