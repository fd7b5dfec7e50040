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
//! moves and a stamp can keep its address; tags are recycled through a free list, and
//! since the 64-bit epoch keeps counting (it cannot wrap in the life of a process), a
//! stamp of a recycled tag's earlier user never matches again. At most [`MAX_TAGS`]
//! generations carry a tag at once; a backend that needs one more gets `None` from
//! [`ArenaTag::try_new`] and refuses the allocation with an [`crate::AllocError`] before it
//! changes any state.

use crate::error::Hazard;

#[cfg(feature = "checked")]
mod imp {
    use super::Hazard;
    use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
    use std::sync::Mutex;

    const SEGMENT: usize = 4096;
    const SEGMENTS: usize = 1024;

    /// How many arena generations can carry a tag at once.
    pub const MAX_TAGS: usize = SEGMENT * SEGMENTS - 1;

    struct Entry {
        /// The tag's number (for messages).
        tag: u32,
        /// Advanced every time the generation's memory is reset or freed. 64 bits: at one
        /// reset a nanosecond it would take centuries to wrap, so a stale stamp never
        /// matches again.
        epoch: AtomicU64,
        /// Thread index of the only thread allowed to read, or 0 for any.
        owner: AtomicU32,
    }

    static TABLE: [AtomicPtr<Entry>; SEGMENTS] =
        [const { AtomicPtr::new(std::ptr::null_mut()) }; SEGMENTS];
    static FREE: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    static NEXT: AtomicU32 = AtomicU32::new(1);

    /// The entry of `tag`, installing its segment on first use.
    fn entry(tag: u32) -> &'static Entry {
        let (seg, i) = (tag as usize / SEGMENT, tag as usize % SEGMENT);
        let mut p = TABLE[seg].load(Ordering::Acquire);
        if p.is_null() {
            let fresh: Box<[Entry]> = (0..SEGMENT)
                .map(|i| Entry {
                    tag: (seg * SEGMENT + i) as u32,
                    epoch: AtomicU64::new(0),
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

    /// Takes a free tag number, or `None` when every tag is in use.
    fn take_tag() -> Option<u32> {
        let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = free.pop() {
            return Some(t);
        }
        // Under the lock, so that `NEXT` never passes the table's end.
        let next = NEXT.load(Ordering::Relaxed);
        if next as usize > MAX_TAGS {
            return None;
        }
        NEXT.store(next + 1, Ordering::Relaxed);
        Some(next)
    }

    /// The identity of one arena generation in the epoch table, or no identity at all
    /// ([`ArenaTag::UNSET`], whose stamps are never checked).
    pub struct ArenaTag {
        entry: Option<&'static Entry>,
    }

    impl std::fmt::Debug for ArenaTag {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_tuple("ArenaTag")
                .field(&self.entry.map(|e| e.tag))
                .finish()
        }
    }

    impl ArenaTag {
        /// No tag: for a generation that hands out no memory before it gets a real one.
        pub const UNSET: ArenaTag = ArenaTag { entry: None };

        /// Registers a generation; `owner` limits reads to one thread (by its
        /// [`crate::thread::thread_index`]). `None` when all [`MAX_TAGS`] tags are in
        /// use at once (the caller turns that into an allocation error before changing
        /// any state).
        pub fn try_new(owner: Option<u32>) -> Option<ArenaTag> {
            let entry = entry(take_tag()?);
            entry.owner.store(owner.unwrap_or(0), Ordering::Relaxed);
            Some(ArenaTag { entry: Some(entry) })
        }

        /// Whether this is [`ArenaTag::UNSET`].
        #[inline]
        pub fn is_unset(&self) -> bool {
            self.entry.is_none()
        }

        /// The stamp of an allocation made now.
        #[inline]
        pub fn stamp(&self) -> Stamp {
            match self.entry {
                Some(e) => Stamp {
                    entry: Some(e),
                    epoch: e.epoch.load(Ordering::Relaxed),
                },
                None => Stamp::NONE,
            }
        }

        /// Marks every allocation stamped so far as invalid (the memory is being reset).
        pub fn invalidate(&self) {
            if let Some(e) = self.entry {
                e.epoch.fetch_add(1, Ordering::Release);
            }
        }
    }

    impl Drop for ArenaTag {
        fn drop(&mut self) {
            if let Some(e) = self.entry {
                self.invalidate();
                FREE.lock().unwrap_or_else(|e| e.into_inner()).push(e.tag);
            }
        }
    }

    /// Where and when an allocation was made: its generation's table entry (kept by
    /// address, so a check is one load) and the epoch then.
    #[derive(Debug, Clone, Copy)]
    pub struct Stamp {
        entry: Option<&'static Entry>,
        epoch: u64,
    }

    impl std::fmt::Debug for Entry {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "tag {}", self.tag)
        }
    }

    impl PartialEq for Stamp {
        fn eq(&self, o: &Stamp) -> bool {
            self.epoch == o.epoch
                && match (self.entry, o.entry) {
                    (Some(a), Some(b)) => std::ptr::eq(a, b),
                    (None, None) => true,
                    _ => false,
                }
        }
    }

    impl Eq for Stamp {}

    impl Stamp {
        /// Not arena memory: always valid.
        pub const NONE: Stamp = Stamp {
            entry: None,
            epoch: 0,
        };

        /// Whether the memory is still what it was when stamped, and readable here.
        #[inline]
        pub fn check(self, backend: &'static str) -> Result<(), Hazard> {
            let Some(e) = self.entry else {
                return Ok(());
            };
            let now = e.epoch.load(Ordering::Acquire);
            let owner = e.owner.load(Ordering::Relaxed);
            let here = if owner == 0 {
                0
            } else {
                crate::thread::thread_index()
            };
            if now == self.epoch && owner == here {
                Ok(())
            } else {
                Err(hazard(backend, e, self.epoch, now, owner))
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn hazard(backend: &'static str, e: &Entry, stamped: u64, now: u64, owner: u32) -> Hazard {
        Hazard {
            backend,
            arena: e.tag,
            stamped,
            now,
            owner_thread: owner,
            reading_thread: crate::thread::thread_index(),
        }
    }
}

#[cfg(not(feature = "checked"))]
#[path = "checked/unchecked.rs"]
mod imp;

pub use imp::{ArenaTag, Stamp, MAX_TAGS};

/// The error of an allocation that needs a tag when every one is in use.
// Used by the arena backends under `checked` alone.
#[cfg_attr(
    not(all(
        feature = "checked",
        any(feature = "thread-arena", feature = "strand-arena")
    )),
    allow(dead_code)
)]
pub(crate) fn no_tag(backend: &'static str) -> crate::error::AllocError {
    crate::error::AllocError::Exhausted {
        backend,
        what: "checked arena tags",
        limit: MAX_TAGS,
    }
}
