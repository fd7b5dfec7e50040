//! Statistics: a lock-free registry of per-thread figures for each backend, per-strand
//! figures, and a serialisable snapshot.
//!
//! Each backend owns one [`Registry`]. Every OS thread that allocates through a backend
//! claims a [`ThreadSlot`] in that registry: slots form a lock-free linked list that only
//! grows (a compare-and-swap push), so there is no cap on the number of threads. A slot
//! whose thread has exited is reused by the next new thread; its figures carry over, so
//! the totals stay exact.
//!
//! Gauges (`used`, `reserved`) are written only by the slot's own thread with a relaxed
//! load and store, which costs no more than a plain write on the allocation path. Memory
//! that belongs to strands or to the heap rather than to a thread (strand-arena,
//! global-malloc) is counted on the thread where it was allocated and subtracted on the
//! thread where it was released, so one thread's figure can be negative while the total
//! is exact.

use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// Counted events, as indices into the counter arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Counter {
    Allocs,
    BytesAllocated,
    ResetsExit,
    ResetsThreshold,
    ResetsExplicit,
    Rotations,
    Migrations,
    StrandedBytes,
    Copies,
    CopiedBytes,
    StrandsBegun,
    StrandsExited,
    Hazards,
}

pub(crate) const COUNTERS: usize = Counter::Hazards as usize + 1;

/// Figures for one thread, one strand, or the whole backend.
///
/// `used` and `reserved` are gauges (bytes now); `peak_*` are their high-water marks as
/// seen by the owner of the figure; the rest are counts since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Allocations made.
    pub allocs: u64,
    /// Bytes requested by those allocations.
    pub bytes_allocated: u64,
    /// Bytes in use now (arena bytes handed out since the last reset; live heap bytes).
    pub used: i64,
    /// Bytes reserved now (arena chunk capacity; equal to `used` for the heap).
    pub reserved: i64,
    /// Highest `used` seen.
    pub peak_used: i64,
    /// Highest `reserved` seen.
    pub peak_reserved: i64,
    /// Arena resets, by cause.
    pub resets: Resets,
    /// Times a thread arena moved on to a fresh arena because the old one still had holders.
    pub rotations: u64,
    /// Allocations made on a different OS thread than the strand's previous allocation.
    pub migrations: u64,
    /// Bytes a strand left in a thread's arena when it moved to another thread.
    pub stranded_bytes: u64,
    /// Deep copies made to move a value across a strand boundary (send, join, export).
    pub copies: u64,
    /// Bytes copied by those copies.
    pub copied_bytes: u64,
    /// Strands begun.
    pub strands_begun: u64,
    /// Strands that finished (normally, by panic or by cancel).
    pub strands_exited: u64,
    /// Accesses to memory that was no longer valid, detected and refused.
    pub hazards: u64,
}

/// Arena resets by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resets {
    /// The last strand holding values in an arena exited.
    pub strand_exit: u64,
    /// The threshold was crossed and the arena had no holders left.
    pub threshold: u64,
    /// A strand asked for it ([`crate::Strand::reset`]).
    pub explicit: u64,
}

impl Resets {
    /// All resets.
    pub fn total(&self) -> u64 {
        self.strand_exit + self.threshold + self.explicit
    }
}

impl Figures {
    fn from_parts(c: [u64; COUNTERS], used: i64, reserved: i64, pu: i64, pr: i64) -> Self {
        use Counter::*;
        Figures {
            allocs: c[Allocs as usize],
            bytes_allocated: c[BytesAllocated as usize],
            used,
            reserved,
            peak_used: pu,
            peak_reserved: pr,
            resets: Resets {
                strand_exit: c[ResetsExit as usize],
                threshold: c[ResetsThreshold as usize],
                explicit: c[ResetsExplicit as usize],
            },
            rotations: c[Rotations as usize],
            migrations: c[Migrations as usize],
            stranded_bytes: c[StrandedBytes as usize],
            copies: c[Copies as usize],
            copied_bytes: c[CopiedBytes as usize],
            strands_begun: c[StrandsBegun as usize],
            strands_exited: c[StrandsExited as usize],
            hazards: c[Hazards as usize],
        }
    }

    /// Adds the counts and gauges of `other` to these (peaks are added too, which gives
    /// an upper bound of the combined peak).
    pub fn accumulate(&mut self, o: &Figures) {
        self.allocs += o.allocs;
        self.bytes_allocated += o.bytes_allocated;
        self.used += o.used;
        self.reserved += o.reserved;
        self.peak_used += o.peak_used;
        self.peak_reserved += o.peak_reserved;
        self.resets.strand_exit += o.resets.strand_exit;
        self.resets.threshold += o.resets.threshold;
        self.resets.explicit += o.resets.explicit;
        self.rotations += o.rotations;
        self.migrations += o.migrations;
        self.stranded_bytes += o.stranded_bytes;
        self.copies += o.copies;
        self.copied_bytes += o.copied_bytes;
        self.strands_begun += o.strands_begun;
        self.strands_exited += o.strands_exited;
        self.hazards += o.hazards;
    }
}

// ---------------------------------------------------------------------------------------
// Per-thread slots
// ---------------------------------------------------------------------------------------

/// The figures of one OS thread for one backend. Written by its thread, read by anyone.
pub struct ThreadSlot {
    next: *const ThreadSlot,
    in_use: AtomicBool,
    thread: AtomicU32,
    counters: [AtomicU64; COUNTERS],
    used: AtomicI64,
    reserved: AtomicI64,
    peak_used: AtomicI64,
    peak_reserved: AtomicI64,
}

// SAFETY: `next` is written once before the slot is published by a Release CAS and never
// changed afterwards; every other field is atomic. Slots are leaked, so `&'static` is valid.
unsafe impl Sync for ThreadSlot {}
// SAFETY: as above; a slot holds no thread-bound data.
unsafe impl Send for ThreadSlot {}

impl ThreadSlot {
    /// The index ([`crate::thread::thread_index`]) of the thread that owns the slot now.
    #[cfg_attr(not(feature = "global-malloc"), allow(dead_code))]
    #[inline]
    pub(crate) fn thread(&self) -> u32 {
        self.thread.load(Ordering::Relaxed)
    }

    /// Adds to the `used` and `reserved` gauges and moves the peaks. Only the slot's
    /// own thread writes gauges, so a relaxed load and store is enough.
    #[inline]
    pub(crate) fn gauge(&self, used: i64, reserved: i64) {
        if used != 0 {
            let u = self.used.load(Ordering::Relaxed) + used;
            self.used.store(u, Ordering::Relaxed);
            if u > self.peak_used.load(Ordering::Relaxed) {
                self.peak_used.store(u, Ordering::Relaxed);
            }
        }
        if reserved != 0 {
            let r = self.reserved.load(Ordering::Relaxed) + reserved;
            self.reserved.store(r, Ordering::Relaxed);
            if r > self.peak_reserved.load(Ordering::Relaxed) {
                self.peak_reserved.store(r, Ordering::Relaxed);
            }
        }
    }

    /// Folds a strand's counters into this thread's.
    pub(crate) fn add_all(&self, c: &[u64; COUNTERS]) {
        for (slot, &v) in self.counters.iter().zip(c.iter()) {
            if v != 0 {
                slot.fetch_add(v, Ordering::Relaxed);
            }
        }
    }

    fn figures(&self) -> Figures {
        let c = std::array::from_fn(|i| self.counters[i].load(Ordering::Relaxed));
        Figures::from_parts(
            c,
            self.used.load(Ordering::Relaxed),
            self.reserved.load(Ordering::Relaxed),
            self.peak_used.load(Ordering::Relaxed),
            self.peak_reserved.load(Ordering::Relaxed),
        )
    }

    /// Gives the slot back for reuse by a later thread (its figures stay).
    pub(crate) fn release(&self) {
        self.in_use.store(false, Ordering::Release);
    }
}

/// The statistics of one backend: per-thread slots and figures that belong to no thread.
pub struct Registry {
    backend: &'static str,
    head: AtomicPtr<ThreadSlot>,
    /// Memory of thread arenas that were rotated out but still have holders.
    retired_used: AtomicI64,
    retired_reserved: AtomicI64,
    retired_peak_reserved: AtomicI64,
    live_strands: AtomicI64,
}

impl Registry {
    /// An empty registry for the named backend.
    pub const fn new(backend: &'static str) -> Self {
        Registry {
            backend,
            head: AtomicPtr::new(ptr::null_mut()),
            retired_used: AtomicI64::new(0),
            retired_reserved: AtomicI64::new(0),
            retired_peak_reserved: AtomicI64::new(0),
            live_strands: AtomicI64::new(0),
        }
    }

    /// Claims a slot for the calling thread: a released one if any, else a new one.
    pub(crate) fn acquire(&'static self) -> &'static ThreadSlot {
        let me = crate::thread::thread_index();
        let mut p = self.head.load(Ordering::Acquire);
        while !p.is_null() {
            // SAFETY: slots are leaked and never freed; `p` came from the list.
            let slot = unsafe { &*p };
            if !slot.in_use.load(Ordering::Relaxed)
                && slot
                    .in_use
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                slot.thread.store(me, Ordering::Relaxed);
                return slot;
            }
            p = slot.next as *mut ThreadSlot;
        }
        let slot: &'static mut ThreadSlot = Box::leak(Box::new(ThreadSlot {
            next: ptr::null(),
            in_use: AtomicBool::new(true),
            thread: AtomicU32::new(me),
            counters: std::array::from_fn(|_| AtomicU64::new(0)),
            used: AtomicI64::new(0),
            reserved: AtomicI64::new(0),
            peak_used: AtomicI64::new(0),
            peak_reserved: AtomicI64::new(0),
        }));
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            slot.next = head;
            match self.head.compare_exchange_weak(
                head,
                slot as *mut ThreadSlot,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return slot,
                Err(h) => head = h,
            }
        }
    }

    /// Runs `f` with the calling thread's slot in this registry, claiming one on first
    /// use and giving it back when the thread exits.
    ///
    /// While the thread's locals are being destroyed (a strand or value kept in a
    /// `thread_local!` is dropped then), the thread's slot cache may already be gone:
    /// `f` then gets a slot claimed for this one call and given back right after, so
    /// the figures stay exact and nothing touches destroyed thread-local state.
    #[inline(never)]
    pub(crate) fn with_slot<R>(&'static self, f: impl FnOnce(&'static ThreadSlot) -> R) -> R {
        let cached = SLOT_CACHE.try_with(|cache| {
            let key = self as *const Registry as usize;
            if let Some(&(_, s)) = cache.slots.borrow().iter().find(|(k, _)| *k == key) {
                return s;
            }
            let s = self.acquire();
            cache.slots.borrow_mut().push((key, s));
            s
        });
        match cached {
            Ok(slot) => f(slot),
            Err(_) => {
                let slot = self.acquire();
                let r = f(slot);
                slot.release();
                r
            }
        }
    }

    #[cfg_attr(not(feature = "thread-arena"), allow(dead_code))]
    pub(crate) fn retire(&self, used: i64, reserved: i64) {
        self.retired_used.fetch_add(used, Ordering::Relaxed);
        let r = self.retired_reserved.fetch_add(reserved, Ordering::Relaxed) + reserved;
        self.retired_peak_reserved.fetch_max(r, Ordering::Relaxed);
    }

    pub(crate) fn strand_began(&self) {
        self.live_strands.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn strand_exited(&self) {
        self.live_strands.fetch_sub(1, Ordering::Relaxed);
    }

    /// A consistent-enough view of every figure (each number is read atomically; the
    /// set is not one instant).
    pub fn snapshot(&'static self) -> StatsSnapshot {
        let mut threads = Vec::new();
        let mut totals = Figures::default();
        let mut p = self.head.load(Ordering::Acquire);
        while !p.is_null() {
            // SAFETY: slots are leaked and never freed.
            let slot = unsafe { &*p };
            let figures = slot.figures();
            totals.accumulate(&figures);
            threads.push(ThreadFigures {
                thread: slot.thread.load(Ordering::Relaxed),
                live: slot.in_use.load(Ordering::Relaxed),
                figures,
            });
            p = slot.next as *mut ThreadSlot;
        }
        threads.sort_by_key(|t| t.thread);
        let retired = RetiredFigures {
            used: self.retired_used.load(Ordering::Relaxed),
            reserved: self.retired_reserved.load(Ordering::Relaxed),
            peak_reserved: self.retired_peak_reserved.load(Ordering::Relaxed),
        };
        totals.used += retired.used;
        totals.reserved += retired.reserved;
        StatsSnapshot {
            backend: self.backend.to_string(),
            live_strands: self.live_strands.load(Ordering::Relaxed),
            threads,
            retired,
            totals,
        }
    }
}

struct SlotCache {
    slots: RefCell<Vec<(usize, &'static ThreadSlot)>>,
}

impl Drop for SlotCache {
    fn drop(&mut self) {
        for (_, s) in self.slots.borrow().iter() {
            s.release();
        }
    }
}

thread_local! {
    static SLOT_CACHE: SlotCache = const { SlotCache { slots: RefCell::new(Vec::new()) } };
}

// ---------------------------------------------------------------------------------------
// Per-strand figures
// ---------------------------------------------------------------------------------------

/// A strand's own counters. Only the strand touches them, so they are plain cells.
#[derive(Default)]
pub(crate) struct StrandCounters {
    pub(crate) c: [Cell<u64>; COUNTERS],
    pub(crate) used: Cell<i64>,
    pub(crate) reserved: Cell<i64>,
    pub(crate) peak_used: Cell<i64>,
    pub(crate) peak_reserved: Cell<i64>,
}

impl StrandCounters {
    #[inline]
    pub(crate) fn add(&self, c: Counter, n: u64) {
        let cell = &self.c[c as usize];
        cell.set(cell.get() + n);
    }

    #[inline]
    pub(crate) fn gauge(&self, used: i64, reserved: i64) {
        let u = self.used.get() + used;
        self.used.set(u);
        if u > self.peak_used.get() {
            self.peak_used.set(u);
        }
        // Most allocations come out of memory already reserved.
        if reserved != 0 {
            let r = self.reserved.get() + reserved;
            self.reserved.set(r);
            if r > self.peak_reserved.get() {
                self.peak_reserved.set(r);
            }
        }
    }

    pub(crate) fn counts(&self) -> [u64; COUNTERS] {
        std::array::from_fn(|i| self.c[i].get())
    }

    pub(crate) fn figures(&self) -> Figures {
        Figures::from_parts(
            self.counts(),
            self.used.get(),
            self.reserved.get(),
            self.peak_used.get(),
            self.peak_reserved.get(),
        )
    }
}

/// What a strand did, reported when it ends (see [`crate::JoinHandle::join_report`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrandReport {
    /// The strand's id, unique in the process.
    pub id: u64,
    /// The strand's name, if it was given one.
    pub name: Option<String>,
    /// The backend that served it.
    pub backend: std::borrow::Cow<'static, str>,
    /// Its figures at exit (gauges are what it still held just before exit).
    pub figures: Figures,
    /// The OS thread it began on and the one it ended on.
    pub first_thread: u32,
    /// See `first_thread`.
    pub last_thread: u32,
    /// Whether it ended by panicking (or being cancelled).
    pub panicked: bool,
}

// ---------------------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------------------

/// One thread's figures in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadFigures {
    /// The thread's index ([`crate::thread::thread_index`]) of the slot's latest owner.
    pub thread: u32,
    /// Whether the owning thread is still running.
    pub live: bool,
    /// The slot's figures.
    pub figures: Figures,
}

/// Thread-arena memory that was rotated out and is kept alive by its holders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredFigures {
    /// Bytes used in retired arenas.
    pub used: i64,
    /// Bytes reserved by retired arenas.
    pub reserved: i64,
    /// Highest `reserved` seen.
    pub peak_reserved: i64,
}

/// Every figure of one backend at one moment. `Display` prints a table; it serialises
/// to JSON with serde.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// The backend's name.
    pub backend: String,
    /// Strands begun and not yet exited.
    pub live_strands: i64,
    /// Per-thread figures, by thread index.
    pub threads: Vec<ThreadFigures>,
    /// Rotated-out arenas.
    pub retired: RetiredFigures,
    /// Sum over threads plus retired memory.
    pub totals: Figures,
}

impl StatsSnapshot {
    /// The snapshot as a JSON string.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a snapshot always serialises")
    }
}

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "backend {}: {} live strands, retired arenas {} B used / {} B reserved",
            self.backend, self.live_strands, self.retired.used, self.retired.reserved
        )?;
        writeln!(
            f,
            "{:>8} {:>10} {:>12} {:>12} {:>12} {:>7} {:>9} {:>9} {:>10} {:>7} {:>7}",
            "thread",
            "allocs",
            "used",
            "reserved",
            "peak rsvd",
            "resets",
            "rotations",
            "migrated",
            "stranded",
            "copies",
            "hazards"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, x: &Figures| {
            writeln!(
                f,
                "{:>8} {:>10} {:>12} {:>12} {:>12} {:>7} {:>9} {:>9} {:>10} {:>7} {:>7}",
                name,
                x.allocs,
                x.used,
                x.reserved,
                x.peak_reserved,
                x.resets.total(),
                x.rotations,
                x.migrations,
                x.stranded_bytes,
                x.copies,
                x.hazards
            )
        };
        for t in &self.threads {
            let mark = if t.live { "" } else { "*" };
            row(f, &format!("{}{}", t.thread, mark), &t.figures)?;
        }
        row(f, "total", &self.totals)
    }
}
