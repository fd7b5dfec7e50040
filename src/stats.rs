//! Statistics: each strand's figures, and each backend's [`Registry`] of them.
//!
//! Every strand gets a [`StrandSlot`] from its backend's registry when it begins. Only the
//! strand writes its slot, with relaxed loads and stores (no read-modify-write), so
//! counting costs what a plain write costs; anyone may read it at any time, which is how
//! a snapshot (and the comparison's sampler) sees figures of strands that are still
//! running: at once at the full level of figures, and at the production level as of the
//! strand's last publication of the per-value counts it keeps itself (see
//! [`crate::stats()`]). At the strand's end its counts are added to the registry's totals of exited
//! strands and the slot is kept for the next strand. Slots are never freed, so a reader
//! never finds one gone.
//!
//! The library counts every allocation, release, move and copy itself (in
//! [`crate::StrandCx`]); a backend reports only what the library cannot see: resets and
//! rotations, memory it reserves for one strand ([`crate::StrandCx::reserve`]) and
//! memory it reserves for no strand in particular, such as a thread's arena
//! ([`Registry::reserve_shared`]).
//!
//! Each counted event is defined once, in the `counters!` list below, which gives its
//! name, its documentation, its field in [`Figures`] and its place in [`Figures::named`].

use std::any::TypeId;
use std::fmt;
use std::ptr;
use std::sync::atomic::{AtomicI64, AtomicPtr, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

/// Whether this build keeps the full level of figures (the `full-figures` feature).
///
/// Every build counts what a runtime needs: allocations and their bytes, `used` and its
/// peak (the strand limit reads them), `reserved`, resets, rotations, large values,
/// copies, strands and hazards, each exact. Without the feature (the production level) a
/// strand keeps its per-value counts (allocations, bytes, `used` and its peak) with plain
/// arithmetic and publishes them where it is cheap (see [`crate::stats()`]); with it, every
/// count is written where any thread reads it at once. The full level adds where a strand runs:
/// [`Figures::migrations`], [`Figures::stranded`] and [`Figures::peak_stranded`]. Telling
/// a move costs a thread-local read on every allocation, so without the feature those
/// three stay zero. The feature only adds figures: it changes no API, and a crate that
/// enables it anywhere in a build gets the migration figures for every strand of that
/// build, at that cost (measured in docs/PERFORMANCE.md). To keep the full level for
/// some strands only, whatever the features, run them on [`crate::FullFigures`]`<A>`
/// (the comparison command times its workloads on `A` and counts their figures on
/// `FullFigures<A>`).
pub const FULL_FIGURES: bool = cfg!(feature = "full-figures");

/// Defines the counted events once: the `Counter` index, the fields of [`Figures`], and
/// their names.
macro_rules! counters {
    ($($(#[doc = $doc:literal])* $variant:ident => $field:ident,)*) => {
        /// Counted events, as indices into a slot's counts.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(usize)]
        pub(crate) enum Counter {
            $($variant,)*
        }

        /// The number of counted events.
        pub(crate) const COUNTERS: usize = [$(Counter::$variant),*].len();

        /// Figures for one strand, or a whole backend.
        ///
        /// `used` and `reserved` are gauges (bytes now), `peak_used` and `peak_reserved`
        /// their high-water marks; the rest are counts since the start.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        // Figures written before a field existed read it as zero.
        #[cfg_attr(feature = "serde", serde(default))]
        #[non_exhaustive]
        pub struct Figures {
            $($(#[doc = $doc])* pub $field: u64,)*
            /// Bytes of live values now: the sizes asked for, on every backend (alignment
            /// padding and unused arena room are not counted). Only what the strand
            /// allocated counts: buffers it adopted without copying (`Str::from_heap`,
            /// `Bytes::from_heap`, the string bytes of an imported
            /// [`PortableValue`](crate::PortableValue)) stay on the global heap, are not
            /// counted here, and do not count against the strand limit.
            pub used: i64,
            /// Bytes reserved now: arena chunks, and on global-malloc the live
            /// allocations themselves.
            pub reserved: i64,
            /// Highest `used` seen (for a backend: the sum of its strands' peaks, an upper
            /// bound of the peak of the whole).
            pub peak_used: i64,
            /// Highest `reserved` seen (summed the same way).
            pub peak_reserved: i64,
            /// Bytes of live values *stranded* now: sitting in the arena of an OS thread
            /// other than the one the strand last allocated on (only thread-bound
            /// backends strand anything). Always at most `used`. Counted for strands at the
            /// full level of figures only ([`FULL_FIGURES`], [`crate::FullFigures`]); zero
            /// for the others.
            pub stranded: i64,
            /// Highest `stranded` seen (summed like `peak_used`; full level only).
            pub peak_stranded: i64,
            /// Bytes of arena generations set aside because live values still held them
            /// when their owner moved on to a fresh one (a rotation): memory those values
            /// keep from being reset. Part of `reserved`.
            pub retired: i64,
            /// Bytes those generations still hold for their owner: live values (at the
            /// sizes asked for) and `allocator-api2` memory, which is kept until a reset.
            /// Counted by the backends whose generations are each owned by one strand
            /// (strand-arena); a thread-arena generation is shared by the strands of its
            /// thread, each counting its own values, so it reports none here and
            /// [`StatsSnapshot::retired_waste`] is `None` for it.
            pub retired_live: i64,
        }

        impl Figures {
            fn from_counts(c: &[u64; COUNTERS]) -> Figures {
                Figures {
                    $($field: c[Counter::$variant as usize],)*
                    ..Figures::default()
                }
            }

            /// Every count, by its field name, in definition order.
            pub fn named(&self) -> [(&'static str, u64); COUNTERS] {
                [$((stringify!($field), self.$field)),*]
            }

            /// Adds the counts and gauges of `other` to these (peaks are added too, which
            /// gives an upper bound of the combined peak). Saturating: figures read from
            /// outside (deserialised) may be anything, and a sum past the largest number
            /// stays at it rather than wrapping or panicking.
            pub fn accumulate(&mut self, o: &Figures) {
                $(self.$field = self.$field.saturating_add(o.$field);)*
                self.used = self.used.saturating_add(o.used);
                self.reserved = self.reserved.saturating_add(o.reserved);
                self.peak_used = self.peak_used.saturating_add(o.peak_used);
                self.peak_reserved = self.peak_reserved.saturating_add(o.peak_reserved);
                self.stranded = self.stranded.saturating_add(o.stranded);
                self.peak_stranded = self.peak_stranded.saturating_add(o.peak_stranded);
                self.retired = self.retired.saturating_add(o.retired);
                self.retired_live = self.retired_live.saturating_add(o.retired_live);
            }
        }
    };
}

counters! {
    /// Allocations made.
    Allocs => allocs,
    /// Bytes requested by those allocations.
    BytesAllocated => bytes_allocated,
    /// Arena resets because the last strand holding values in the arena exited.
    ResetsExit => resets_exit,
    /// Arena resets because the threshold was crossed and nothing in the arena was live.
    ResetsThreshold => resets_threshold,
    /// Arena resets a strand asked for ([`crate::Strand::reset`]).
    ResetsExplicit => resets_explicit,
    /// Arena resets because a strand released the last live value of a generation that
    /// had handed out at least 32 KiB, so that the next values reuse warm memory.
    ResetsEmptied => resets_emptied,
    /// Times an arena generation with live values was set aside for a fresh one.
    Rotations => rotations,
    /// Allocations made on a different OS thread than the strand's previous allocation.
    /// Counted for strands at the full level of figures only ([`FULL_FIGURES`],
    /// [`crate::FullFigures`]); zero for the others.
    Migrations => migrations,
    /// Allocations given a heap allocation of their own instead of backend memory:
    /// larger than the large-value size, or aligned beyond
    /// [`MAX_ARENA_ALIGN`](crate::strand::MAX_ARENA_ALIGN) (an `allocator-api2` block, on
    /// every backend).
    LargeValues => large_values,
    /// Deep copies made to move a value across a strand boundary (send, join, export).
    Copies => copies,
    /// Bytes copied by those copies.
    CopiedBytes => copied_bytes,
    /// Strands begun.
    StrandsBegun => strands_begun,
    /// Strands that finished (normally, by panic or by cancel).
    StrandsExited => strands_exited,
    /// Accesses to memory that was no longer valid, detected and refused.
    Hazards => hazards,
    /// Scopes begun ([`crate::Strand::scope`], [`crate::Scope::scope`], and handle scopes
    /// entered with [`crate::handle::enter_scope`]).
    Scopes => scopes,
    /// Bytes handed out by scopes' arenas (the sizes asked for), counted when each scope
    /// ends and its arena is reset for the next: memory given back at scope end. Zero on
    /// global-malloc, whose scope values are freed as they drop, like every value there.
    ScopeBytesReturned => scope_bytes_returned,
    /// Values copied out of a scope ([`crate::Scope::escape`], [`crate::Scope::to_heap`]).
    Escapes => escapes,
    /// Bytes copied by those escapes.
    EscapedBytes => escaped_bytes,
}

impl Figures {
    /// Arena resets of every cause (saturating, as [`Figures::accumulate`]).
    pub fn resets(&self) -> u64 {
        self.resets_exit
            .saturating_add(self.resets_threshold)
            .saturating_add(self.resets_explicit)
            .saturating_add(self.resets_emptied)
    }
}

/// One strand's figures, written by that strand alone (relaxed loads and stores), read by
/// anyone.
///
/// The strand's life is split into *phases* at each point where its values stop counting
/// as used (a reset, the exit): `peak_used` is the highest `used` of the current phase and
/// `peak_used_before` that of the phases before, so that a backend whose reserved bytes
/// are its live values (global-malloc) need not count them twice: its `reserved` is
/// `used` plus what earlier phases left allocated (values leaked), and the peak of that
/// sum is exact from the same two peaks.
pub struct StrandSlot {
    /// The next slot of the registry's list (written once, before the slot is published).
    next: *const StrandSlot,
    /// Whether `reserved` follows `used` (see [`Registry::reserving_used`]): then the
    /// `reserved` field holds only the bytes earlier phases left allocated.
    follows: bool,
    counts: [AtomicU64; COUNTERS],
    used: AtomicI64,
    reserved: AtomicI64,
    /// The highest `used` of the current phase.
    peak_used: AtomicI64,
    /// The highest `used` of the phases before.
    peak_used_before: AtomicI64,
    peak_reserved: AtomicI64,
    stranded: AtomicI64,
    peak_stranded: AtomicI64,
    retired: AtomicI64,
    retired_live: AtomicI64,
}

// SAFETY: `next` is written once before the slot is published (a release
// compare-and-swap) and never changed; every other field is atomic. Slots are leaked, so
// `&'static` is valid.
unsafe impl Sync for StrandSlot {}
// SAFETY: as above; a slot holds no thread-bound data.
unsafe impl Send for StrandSlot {}

impl fmt::Debug for StrandSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StrandSlot")
            .field("figures", &self.figures())
            .finish_non_exhaustive()
    }
}

impl StrandSlot {
    fn new(follows: bool) -> StrandSlot {
        StrandSlot {
            next: ptr::null(),
            follows,
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            used: AtomicI64::new(0),
            reserved: AtomicI64::new(0),
            peak_used: AtomicI64::new(0),
            peak_used_before: AtomicI64::new(0),
            peak_reserved: AtomicI64::new(0),
            stranded: AtomicI64::new(0),
            peak_stranded: AtomicI64::new(0),
            retired: AtomicI64::new(0),
            retired_live: AtomicI64::new(0),
        }
    }

    /// Writes the per-value figures a strand keeps itself at the production level (see
    /// [`crate::StrandCx`]): its allocations, their bytes, `used` and the current phase's
    /// peak of it.
    #[cold]
    #[inline(never)]
    pub(crate) fn publish(&self, allocs: u64, bytes: u64, used: i64, peak_used: i64) {
        self.counts[Counter::Allocs as usize].store(allocs, Relaxed);
        self.counts[Counter::BytesAllocated as usize].store(bytes, Relaxed);
        self.used.store(used, Relaxed);
        self.peak_used.store(peak_used, Relaxed);
    }

    /// Adds `n` to a count. Only the owning strand writes, so a load and a store do.
    #[inline]
    pub(crate) fn add(&self, c: Counter, n: u64) {
        let cell = &self.counts[c as usize];
        cell.store(cell.load(Relaxed) + n, Relaxed);
    }

    /// Moves the `used` gauge and its peak (the current phase's).
    #[inline]
    pub(crate) fn use_bytes(&self, delta: i64) {
        let u = self.used.load(Relaxed) + delta;
        self.used.store(u, Relaxed);
        if u > self.peak_used.load(Relaxed) {
            self.peak_used.store(u, Relaxed);
        }
    }

    /// Lowers the `used` gauge (its peak cannot move).
    #[inline]
    pub(crate) fn unuse_bytes(&self, bytes: i64) {
        self.used.store(self.used.load(Relaxed) - bytes, Relaxed);
    }

    /// Ends a phase: nothing counts as used any more (a reset, the exit). Where
    /// `reserved` follows `used`, what was still used (values leaked) stays reserved.
    pub(crate) fn end_phase(&self) {
        let used = self.used.load(Relaxed);
        let phase = self.peak_used.load(Relaxed);
        if phase > self.peak_used_before.load(Relaxed) {
            self.peak_used_before.store(phase, Relaxed);
        }
        if self.follows {
            let left = self.reserved.load(Relaxed);
            if left + phase > self.peak_reserved.load(Relaxed) {
                self.peak_reserved.store(left + phase, Relaxed);
            }
            self.reserved.store(left + used, Relaxed);
        }
        self.used.store(0, Relaxed);
        self.peak_used.store(0, Relaxed);
    }

    /// Moves the `reserved` gauge and its peak. Nothing to do where `reserved` follows
    /// `used`: the bytes are counted there.
    #[inline]
    pub(crate) fn reserve(&self, delta: i64) {
        if self.follows {
            return;
        }
        let r = self.reserved.load(Relaxed) + delta;
        self.reserved.store(r, Relaxed);
        if r > self.peak_reserved.load(Relaxed) {
            self.peak_reserved.store(r, Relaxed);
        }
    }

    /// Sets the `stranded` gauge and moves its peak. The strand lowers it before it
    /// lowers `used` (and raises `used` before it), so it never exceeds `used`.
    #[inline]
    pub(crate) fn set_stranded(&self, bytes: i64) {
        self.stranded.store(bytes, Relaxed);
        if bytes > self.peak_stranded.load(Relaxed) {
            self.peak_stranded.store(bytes, Relaxed);
        }
    }

    /// Moves the `retired` gauge.
    #[inline]
    pub(crate) fn retire(&self, delta: i64) {
        self.retired
            .store(self.retired.load(Relaxed) + delta, Relaxed);
    }

    /// Moves the `retired_live` gauge.
    #[inline]
    pub(crate) fn retire_live(&self, delta: i64) {
        self.retired_live
            .store(self.retired_live.load(Relaxed) + delta, Relaxed);
    }

    /// Bytes of live values now.
    #[inline]
    pub(crate) fn used(&self) -> i64 {
        self.used.load(Relaxed)
    }

    /// The figures in the slot now.
    pub(crate) fn figures(&self) -> Figures {
        let c = std::array::from_fn(|i| self.counts[i].load(Relaxed));
        let used = self.used.load(Relaxed);
        let phase = self.peak_used.load(Relaxed);
        let (mut reserved, mut peak_reserved) = (
            self.reserved.load(Relaxed),
            self.peak_reserved.load(Relaxed),
        );
        if self.follows {
            // What earlier phases left, plus this phase's values.
            peak_reserved = peak_reserved.max(reserved + phase);
            reserved += used;
        }
        let counts = Figures::from_counts(&c);
        // A reader on another thread may see the figures from different moments; each
        // keeps to its definition: the peak and the bytes allocated are never below the
        // used bytes, the stranded bytes part of them.
        Figures {
            used,
            reserved,
            peak_used: phase.max(self.peak_used_before.load(Relaxed)).max(used),
            peak_reserved,
            stranded: self.stranded.load(Relaxed).min(used),
            peak_stranded: self.peak_stranded.load(Relaxed),
            retired: self.retired.load(Relaxed),
            retired_live: self.retired_live.load(Relaxed),
            bytes_allocated: counts.bytes_allocated.max(used.max(0) as u64),
            ..counts
        }
    }

    /// Empties the slot for its next strand.
    fn clear(&self) {
        for c in &self.counts {
            c.store(0, Relaxed);
        }
        for g in [
            &self.used,
            &self.reserved,
            &self.peak_used,
            &self.peak_used_before,
            &self.peak_reserved,
            &self.stranded,
            &self.peak_stranded,
            &self.retired,
            &self.retired_live,
        ] {
            g.store(0, Relaxed);
        }
    }
}

/// The statistics of one backend: its strands' slots, the totals of strands that have
/// exited, and memory that belongs to no strand.
///
/// A backend keeps its own in a `static` and returns it from
/// [`crate::ValueAllocator::registry`]; no other type may return it (promise 5 of that
/// trait), except [`crate::FullFigures`] of the backend.
pub struct Registry {
    backend: &'static str,
    /// Every slot ever made (a list that only grows).
    slots: AtomicPtr<StrandSlot>,
    /// Slots of exited strands, ready for the next.
    free: Mutex<Vec<&'static StrandSlot>>,
    /// Counts of exited strands.
    exited: [AtomicU64; COUNTERS],
    exited_peak_used: AtomicI64,
    exited_peak_reserved: AtomicI64,
    exited_peak_stranded: AtomicI64,
    live: AtomicI64,
    /// Memory reserved for no strand in particular (a thread's arena generations, memory
    /// a strand left allocated when it ended), and its peak.
    shared_reserved: AtomicI64,
    shared_peak_reserved: AtomicI64,
    /// The part of `shared_reserved` in thread-arena generations that were rotated out
    /// and are kept alive by strands that still hold values in them.
    retired_reserved: AtomicI64,
    /// Whether the backend counts [`Figures::retired_live`].
    counts_retired_live: bool,
    /// Whether a strand's reserved bytes are its used ones (see
    /// [`Registry::reserving_used`]).
    reserved_follows_used: bool,
    /// Bytes of shared values ([`crate::Handle::share`]): heap copies held by no strand.
    shared_used: AtomicI64,
    /// Handles refused by `checked` outside any strand's own figures.
    refused: AtomicU64,
    /// The backend types whose strands this registry counts: one that does not keep the
    /// full level itself ([`crate::ValueAllocator::FULL_FIGURES`]) and one that does, each
    /// set by its first strand (see [`Registry::begin`]). Also what tells whether
    /// strands of each level began here ([`StatsSnapshot::full_level`]).
    owners: [OnceLock<TypeId>; 2],
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry for the named backend.
    pub const fn new(backend: &'static str) -> Self {
        Registry {
            backend,
            slots: AtomicPtr::new(ptr::null_mut()),
            free: Mutex::new(Vec::new()),
            exited: [const { AtomicU64::new(0) }; COUNTERS],
            exited_peak_used: AtomicI64::new(0),
            exited_peak_reserved: AtomicI64::new(0),
            exited_peak_stranded: AtomicI64::new(0),
            live: AtomicI64::new(0),
            shared_reserved: AtomicI64::new(0),
            shared_peak_reserved: AtomicI64::new(0),
            retired_reserved: AtomicI64::new(0),
            counts_retired_live: false,
            reserved_follows_used: false,
            shared_used: AtomicI64::new(0),
            refused: AtomicU64::new(0),
            owners: [const { OnceLock::new() }; 2],
        }
    }

    /// The same registry for a backend that reports, through
    /// [`crate::StrandCx::retire_live`], every byte its retired generations still hold
    /// ([`Figures::retired_live`]), or that never retires anything: its snapshots then
    /// report [`StatsSnapshot::retired_waste`]. Without it they report `None`.
    pub const fn counting_retired_live(mut self) -> Self {
        self.counts_retired_live = true;
        self
    }

    /// The same registry for a backend whose memory for a strand is exactly the strand's
    /// values, each an allocation of its own (global-malloc): a strand's `reserved` is then
    /// its `used` (plus values it leaked, which stay allocated), counted once, and
    /// [`crate::StrandCx::reserve`] does nothing for its strands.
    pub const fn reserving_used(mut self) -> Self {
        self.reserved_follows_used = true;
        self
    }

    fn free(&self) -> std::sync::MutexGuard<'_, Vec<&'static StrandSlot>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a strand of `backend` that begins, at the full level of figures or
    /// not: an exited strand's, or a new one.
    ///
    /// # Panics
    ///
    /// When another backend type, with the same [`crate::ValueAllocator::FULL_FIGURES`],
    /// began strands here first: a backend's registry is its own (promise 5 of
    /// [`crate::ValueAllocator`]). Strands, handles and current strands tell backends
    /// apart by their registry, so a second type would be taken for the first.
    pub(crate) fn begin(&'static self, backend: BackendType) -> &'static StrandSlot {
        let owner = self.owners[backend.keeps_full as usize].get_or_init(|| backend.id);
        if *owner != backend.id {
            shared_registry(backend.name, self.backend);
        }
        self.live.fetch_add(1, Relaxed);
        if let Some(slot) = self.free().pop() {
            return slot;
        }
        let slot: &'static mut StrandSlot =
            Box::leak(Box::new(StrandSlot::new(self.reserved_follows_used)));
        let mut head = self.slots.load(Relaxed);
        loop {
            slot.next = head;
            match self.slots.compare_exchange_weak(
                head,
                slot as *mut StrandSlot,
                std::sync::atomic::Ordering::Release,
                Relaxed,
            ) {
                Ok(_) => return slot,
                Err(h) => head = h,
            }
        }
    }

    /// Ends a strand: its counts go to the totals of exited strands, memory it still
    /// counts as reserved becomes shared (nobody's), and the slot is kept for the next.
    ///
    /// `f` is the slot's figures now (the strand has just read them for its report).
    pub(crate) fn end(&'static self, slot: &'static StrandSlot, f: &Figures) {
        for (total, (_, n)) in self.exited.iter().zip(f.named()) {
            if n != 0 {
                total.fetch_add(n, Relaxed);
            }
        }
        self.exited_peak_used.fetch_add(f.peak_used, Relaxed);
        self.exited_peak_reserved
            .fetch_add(f.peak_reserved, Relaxed);
        self.exited_peak_stranded
            .fetch_add(f.peak_stranded, Relaxed);
        if f.reserved != 0 {
            self.reserve_shared(f.reserved);
        }
        slot.clear();
        self.live.fetch_sub(1, Relaxed);
        self.free().push(slot);
    }

    /// Moves the bytes reserved for no strand in particular (a thread's arena).
    pub fn reserve_shared(&self, delta: i64) {
        let r = self.shared_reserved.fetch_add(delta, Relaxed) + delta;
        self.shared_peak_reserved.fetch_max(r, Relaxed);
    }

    /// Moves the bytes of shared values (heap copies made by [`crate::Handle::share`]),
    /// counted as used and reserved by no strand.
    pub(crate) fn use_shared(&self, delta: i64) {
        self.shared_used.fetch_add(delta, Relaxed);
        self.reserve_shared(delta);
    }

    /// Counts a handle refused by `checked` ([`crate::handle`]) as a hazard of the
    /// backend.
    pub(crate) fn count_refused(&self) {
        self.refused.fetch_add(1, Relaxed);
    }

    /// Moves the part of the shared reserved bytes held by retired generations (counted
    /// in [`Figures::retired`] too).
    pub fn reserve_retired(&self, delta: i64) {
        self.retired_reserved.fetch_add(delta, Relaxed);
    }

    /// Every figure of the backend now (each number is read atomically; the set is not
    /// one instant while strands run).
    pub fn snapshot(&'static self) -> StatsSnapshot {
        let mut live = Figures::default();
        let mut p = self.slots.load(std::sync::atomic::Ordering::Acquire);
        while !p.is_null() {
            // SAFETY: slots are leaked and never freed; `p` came from the list.
            let slot = unsafe { &*p };
            live.accumulate(&slot.figures());
            p = slot.next as *mut StrandSlot;
        }
        let c = std::array::from_fn(|i| self.exited[i].load(Relaxed));
        let mut totals = Figures {
            peak_used: self.exited_peak_used.load(Relaxed),
            peak_reserved: self.exited_peak_reserved.load(Relaxed),
            peak_stranded: self.exited_peak_stranded.load(Relaxed),
            ..Figures::from_counts(&c)
        };
        totals.accumulate(&live);
        let shared = SharedFigures {
            reserved: self.shared_reserved.load(Relaxed),
            peak_reserved: self.shared_peak_reserved.load(Relaxed),
            retired_reserved: self.retired_reserved.load(Relaxed),
            used: self.shared_used.load(Relaxed),
        };
        totals.used += shared.used;
        totals.hazards += self.refused.load(Relaxed);
        totals.reserved += shared.reserved;
        totals.peak_reserved += shared.peak_reserved;
        totals.retired += shared.retired_reserved;
        StatsSnapshot {
            backend: self.backend.to_string(),
            retired_waste: self
                .counts_retired_live
                .then_some((totals.retired - totals.retired_live).max(0)),
            live_strands: self.live.load(Relaxed),
            // Without the feature, a type's strands keep the full level exactly when the
            // type keeps it itself: the owner of the second kind.
            full_level: FULL_FIGURES
                || (self.owners[1].get().is_some() && self.owners[0].get().is_none()),
            rss: resident_bytes(),
            shared,
            totals,
        }
    }
}

/// A backend type as a registry tells them apart ([`Registry::begin`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BackendType {
    /// Whether the type keeps the full level of figures itself (its
    /// `ValueAllocator::FULL_FIGURES`).
    pub(crate) keeps_full: bool,
    pub(crate) id: TypeId,
    /// Its name, for the panic.
    pub(crate) name: &'static str,
}

/// Backend type `name` began a strand in a registry that is another's, or found another
/// type's strand under its identity.
#[cold]
#[inline(never)]
pub(crate) fn shared_registry(name: &str, registry: &str) -> ! {
    panic!(
        "strand-alloc: backend type {name} returns the registry of backend {registry:?}, \
         which another type used first; a backend's registry must be its own (the safety \
         contract of ValueAllocator, promise 5)"
    )
}

/// The process's resident set size, from `/proc/self/statm`.
fn resident_bytes() -> Option<u64> {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * 4096)
    }
    #[cfg(not(all(target_os = "linux", not(miri))))]
    {
        None
    }
}

/// What a strand did, reported when it ends (see [`crate::JoinHandle::join_report`]).
/// A test helper builds one from `StrandReport::default()` and sets its fields.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct StrandReport {
    /// The strand's id, unique in the process.
    pub id: u64,
    /// The strand's name, if it was given one.
    pub name: Option<String>,
    /// The backend that served it.
    pub backend: std::borrow::Cow<'static, str>,
    /// Its figures at exit: the counts and peaks of its whole life; `used` is zero (values
    /// it never released stop counting as used when it ends) and `reserved` is what it
    /// left reserved (on global-malloc, the values it leaked).
    pub figures: Figures,
    /// The OS thread it began on and the one it ended on.
    pub first_thread: u32,
    /// See `first_thread`.
    pub last_thread: u32,
    /// Whether it ended by panicking (or being cancelled).
    pub panicked: bool,
    /// Whether it kept the full level of figures ([`crate::allocator::full_level`]): its
    /// [`Figures::migrations`] and stranded bytes are counted, not left at zero.
    #[cfg_attr(feature = "serde", serde(default))]
    pub full_level: bool,
}

/// Memory a backend reserved for no strand in particular.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct SharedFigures {
    /// Bytes reserved now: thread arenas' generations (thread-arena, seed-arena), memory
    /// strands left allocated when they ended, pooled arenas (strand-arena), the blocks
    /// of one-word handle slots ([`crate::slot::pool_bytes`]) and shared values.
    pub reserved: i64,
    /// Highest `reserved` seen.
    pub peak_reserved: i64,
    /// The part of `reserved` in thread-arena generations rotated out and kept alive by
    /// strands still holding values in them.
    pub retired_reserved: i64,
    /// Bytes of shared values now ([`crate::Handle::share`]): heap copies that belong to
    /// no strand, freed by whoever releases them last (included in `reserved`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub used: i64,
}

/// Every figure of one backend at one moment. `Display` prints it; with the `serde`
/// feature it serialises. A test helper builds one from `StatsSnapshot::default()` and
/// sets its fields.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// The backend's name.
    pub backend: String,
    /// Strands begun and not yet exited.
    pub live_strands: i64,
    /// Whether every strand counted here kept the full level of figures, so that
    /// [`Figures::migrations`], [`Figures::stranded`] and [`Figures::peak_stranded`] are
    /// counted for all of them: the build has `full-figures` ([`FULL_FIGURES`]), or only
    /// strands of [`crate::FullFigures`] have begun on this backend. `false` before any
    /// strand began (in a build without the feature).
    #[cfg_attr(feature = "serde", serde(default))]
    pub full_level: bool,
    /// The whole process's resident set size when the snapshot was taken, in bytes
    /// (Linux; `None` elsewhere): to read next to `totals.reserved`, since memory a
    /// backend has given back may still be kept by the system allocator (see
    /// [`crate::trim`]).
    pub rss: Option<u64>,
    /// Memory reserved for no strand in particular (included in `totals`).
    pub shared: SharedFigures,
    /// The waste of the generations live values keep from being reset: their chunks'
    /// bytes ([`Figures::retired`]) minus the bytes they still hold
    /// ([`Figures::retired_live`]): room never handed out, alignment padding, and the
    /// bytes of values already released (`allocator-api2` memory counts as held until a
    /// reset, even once the collection freed it). Never below zero: the figures of
    /// running strands are read one at a time. `None` on a backend that does not count
    /// `retired_live` (thread-arena: see [`Figures::retired_live`]).
    pub retired_waste: Option<i64>,
    /// Every strand's figures (exited and running) plus the shared memory.
    pub totals: Figures,
}

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.totals;
        writeln!(
            f,
            "backend {}: {} live strands; {} B used ({} stranded), {} B reserved ({} B by no strand, {} B in retired generations, of which {} waste); process RSS {}",
            self.backend,
            self.live_strands,
            t.used,
            if self.full_level {
                format!("{} B", t.stranded)
            } else {
                "uncounted".to_string()
            },
            t.reserved,
            self.shared.reserved,
            t.retired,
            self.retired_waste
                .map_or("uncounted".to_string(), |w| format!("{w} B")),
            self.rss.map_or("unknown".to_string(), |r| format!("{r} B"))
        )?;
        for (name, n) in t.named() {
            if name == "migrations" && !self.full_level {
                writeln!(f, "  {name:<17} uncounted (production level)")?;
            } else {
                writeln!(f, "  {name:<17} {n}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::StrandSlot;

    /// A reader on another thread can see the gauges and counts of a slot from different
    /// moments (a publication between its loads); what it gets keeps every figure to its
    /// definition. Written here as the torn state itself.
    #[test]
    fn figures_read_mid_change_keep_to_their_definitions() {
        let slot = StrandSlot::new(false);
        slot.publish(3, 40, 100, 50);
        let f = slot.figures();
        assert_eq!(f.used, 100);
        assert_eq!(f.peak_used, 100, "a peak is never below the gauge");
        assert_eq!(
            f.bytes_allocated, 100,
            "never fewer bytes allocated than used"
        );
        assert_eq!(f.allocs, 3);
        // A consistent state is read as it is.
        slot.publish(3, 140, 100, 120);
        let f = slot.figures();
        assert_eq!((f.bytes_allocated, f.peak_used), (140, 120));
    }
}
