//! The [`ValueAllocator`] trait that every backend implements, and the per-strand context
//! ([`StrandCx`]) the library keeps for each strand whatever the backend.

use crate::checked::Stamp;
use crate::config::Config;
use crate::error::AllocError;
use crate::stats::{Counter, Figures, Registry, StrandSlot};
use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::ptr::NonNull;

/// Bytes by OS thread. Its keys are the library's own thread numbers, so the hasher needs
/// no random keys: made without reading the thread-local seed `HashMap::new` reads, once
/// per strand.
type ByThread = HashMap<u32, u64, BuildHasherDefault<DefaultHasher>>;

/// Tells a backend which of its holds an allocation belongs to, so that releasing the
/// allocation can find it again. Backends that need no such bookkeeping use
/// [`Ticket::NONE`]. With the `checked` feature it also carries the allocation's
/// [`Stamp`], which every access to the value validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    id: u32,
    stamp: Stamp,
}

impl Ticket {
    /// No bookkeeping attached.
    pub const NONE: Ticket = Ticket::new(0);
    /// An allocation made through the `allocator-api2` handle, which cannot carry a
    /// ticket: it keeps what it came from alive until the strand exits or resets.
    pub const PINNED: Ticket = Ticket::new(u32::MAX);

    /// A ticket with this backend-defined number and no stamp.
    pub const fn new(id: u32) -> Ticket {
        Ticket {
            id,
            stamp: Stamp::NONE,
        }
    }

    /// This ticket, stamped with the arena generation the allocation came from.
    #[inline]
    pub fn with_stamp(self, stamp: Stamp) -> Ticket {
        Ticket { stamp, ..self }
    }

    /// The backend-defined number.
    #[inline]
    pub fn id(self) -> u32 {
        self.id
    }

    /// The arena generation the allocation came from.
    #[inline]
    pub fn stamp(self) -> Stamp {
        self.stamp
    }
}

/// A source of memory for the values of strands.
///
/// A backend is a type with no instances: its per-strand state is
/// [`ValueAllocator::StrandState`], created when a strand begins and consumed when it
/// exits, and any per-thread state it keeps is its own business. The library calls the
/// methods in this order for each strand: `begin`, then any number of `try_alloc` and
/// `dealloc` (and `reset` through `&mut`), then `exit` exactly once (on normal return,
/// on panic and on cancel).
///
/// # Safety
///
/// An implementation promises, for every strand state `s`:
/// 1. A pointer returned by `try_alloc(s, ..)` is valid for reads and writes of
///    `layout.size()` bytes, aligned to `layout.align()`, and not handed out again,
///    until the first of: `dealloc` of that pointer, `reset(s)`, or `exit(s)`. In
///    particular nothing that any *other* strand does (its exit, its allocations, a
///    threshold being crossed) may invalidate it, whatever OS thread either strand runs
///    on.
/// 2. The memory stays valid when the strand moves between OS threads: the state may be
///    used from any thread, one thread at a time.
/// 3. `dealloc` accepts exactly the pointers, layouts and tickets that `try_alloc`
///    returned, each once.
/// 4. No method yields to the scheduler, calls user code, or panics while holding a
///    borrow of thread-local data.
/// 5. [`ValueAllocator::registry`] returns a registry no other type returns (a `static`
///    of the backend's own), so that strands, handles and current strands of two types
///    are never taken for each other. [`crate::FullFigures`]`<A>`, which returns `A`'s
///    and sets [`ValueAllocator::FULL_FIGURES`], is told apart by that constant; a
///    wrapper of your own cannot be, so it needs a registry of its own. Breaking this is
///    undefined behaviour: one type's strand may be used as the other's. The library
///    catches it where that costs nothing per value, with a panic that names both types:
///    when a strand of the second type begins (a strand of a `FULL_FIGURES` another type
///    of the registry began strands with first), or when a context's current strand of
///    one is looked up as the other's; not on a call that finds the other type's current
///    strand in its cache.
pub unsafe trait ValueAllocator: Sized + 'static {
    /// The backend's name, as the cargo feature spells it (`thread-arena`, ...).
    const NAME: &'static str;

    /// Whether the bytes a strand allocates stay with an OS thread when the strand moves
    /// (then moving leaves them *stranded* on the old thread). A thread-bound backend
    /// allocates in the arena of the calling thread and tells where an allocation sits
    /// with [`ValueAllocator::home`].
    const THREAD_BOUND: bool;

    /// Whether the backend keeps promise 1 of the contract. Only the seed policy
    /// (`seed-arena`, which exists only with the `checked` feature) sets this to `false`:
    /// it invalidates memory on purpose so that the hazards can be shown, and `checked`
    /// refuses every access to such memory. Tests and comparisons that expect zero hazards
    /// skip backends that are not safe.
    const SAFE: bool = true;

    /// Whether the library gives values larger than the strand's large-value size
    /// ([`Config::large_value_size`]) a heap allocation of their own, freed when they
    /// drop, instead of asking the backend (which then never sees them). True by default:
    /// it keeps one big value from inflating an arena's chunks or pinning a generation.
    const LARGE_APART: bool = true;

    /// Whether a [`crate::Scope`] bumps in an arena of its own, reset when the scope ends
    /// (true by default). A backend whose values are freed as they drop (global-malloc)
    /// sets it to false: a scope's values then come from the backend like any other, and
    /// the scope only counts.
    const SCOPE_ARENA: bool = true;

    /// Whether the strands of this backend keep the full level of figures (migrations
    /// and stranded bytes too, every count written where other threads read it at once)
    /// whatever the build's features. False by default: the level is then the build's
    /// ([`crate::FULL_FIGURES`]). [`crate::FullFigures`] sets it, so that one program can
    /// run strands of the same backend at both levels.
    const FULL_FIGURES: bool = false;

    /// What the backend keeps for each strand.
    type StrandState;

    /// The backend's statistics. The library keeps each strand's figures there; the
    /// backend adds what belongs to no strand ([`Registry::reserve_shared`]).
    fn registry() -> &'static Registry;

    /// Prepares a strand's state.
    fn begin(cx: &StrandCx) -> Self::StrandState;

    /// Allocates `layout` (whose size is not zero) for the strand.
    ///
    /// `pinned` allocations come with [`Ticket::PINNED`] on release and may keep their
    /// memory alive until the strand exits or resets.
    fn try_alloc(
        state: &Self::StrandState,
        cx: &StrandCx,
        layout: Layout,
        pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError>;

    /// Releases an allocation.
    ///
    /// # Safety
    ///
    /// `ptr`, `layout` and `ticket` come from one earlier `try_alloc` on this state, which
    /// has not been released, reset or exited since, and nothing uses the memory after
    /// this call.
    unsafe fn dealloc(
        state: &Self::StrandState,
        cx: &StrandCx,
        ptr: NonNull<u8>,
        layout: Layout,
        ticket: Ticket,
    );

    /// For a thread-bound backend: the OS thread (a [`crate::thread::thread_index`]) in whose
    /// arena the live allocation with this ticket sits, called just before the
    /// allocation's release. The library counts every allocation of a thread-bound backend
    /// as sitting in the arena of the thread that made it, so this must name that thread;
    /// `None` (the default) means "not known", and the release is then counted as one on
    /// the thread the strand runs on. A wrong answer makes the stranded figures wrong, and
    /// nothing else: they are never negative and never above `used`.
    fn home(state: &Self::StrandState, ticket: Ticket) -> Option<u32> {
        let _ = (state, ticket);
        None
    }

    /// The OS thread (a [`crate::thread::thread_index`]) the strand runs on, as the backend
    /// learned it while making the allocation [`ValueAllocator::try_alloc`] just returned,
    /// so that the full level of figures ([`full_level`]) need not read it again.
    /// Called only at that level, right after a successful `try_alloc`. `None` (the
    /// default) means "not known": the library reads the thread itself. A wrong answer
    /// makes the migration and stranded figures wrong, and nothing else.
    #[inline(always)]
    fn thread_of_last_alloc(state: &Self::StrandState) -> Option<u32> {
        let _ = state;
        None
    }

    /// Releases everything the strand allocated. The `&mut` proves that no value of the
    /// strand is reachable any more.
    fn reset(state: &mut Self::StrandState, cx: &StrandCx);

    /// Ends the strand. Runs once, on the thread where the strand ends.
    fn exit(state: Self::StrandState, cx: &StrandCx);

    /// Gives back memory the backend keeps warm for reuse but nobody uses now (the
    /// calling thread's idle arena, a pool of arenas). Never touches memory in use.
    fn release_idle() {}
}

/// Whether the strands of backend `A` keep the full level of figures: the build's level
/// ([`crate::FULL_FIGURES`]) or the backend's own ([`ValueAllocator::FULL_FIGURES`]).
/// Known at compile time, so the production level's per-value path has no test of it.
#[inline(always)]
pub const fn full_level<A: ValueAllocator>() -> bool {
    crate::FULL_FIGURES || A::FULL_FIGURES
}

/// Backend `A` as its registry tells types apart (promise 5 of [`ValueAllocator`]).
pub(crate) fn backend_type<A: ValueAllocator>() -> crate::stats::BackendType {
    crate::stats::BackendType {
        keeps_full: A::FULL_FIGURES,
        id: std::any::TypeId::of::<A>(),
        name: std::any::type_name::<A>(),
    }
}

/// What the library keeps for every strand whatever the backend: identity, settings,
/// figures, and where the strand last ran.
///
/// The library counts every allocation, release, move and copy here itself; a backend
/// reports only what it alone knows: [`StrandCx::reserve`] for memory it reserves for
/// this strand, [`StrandCx::count_reset`] and [`StrandCx::count_rotation`].
pub struct StrandCx {
    pub(crate) id: u64,
    pub(crate) name: Option<String>,
    pub(crate) config: Config,
    /// The strand's figures, in its backend's registry.
    pub(crate) slot: &'static StrandSlot,
    pub(crate) first_thread: u32,
    /// The OS thread of the strand's latest allocation: where it runs, as far as the
    /// figures know.
    pub(crate) last_thread: Cell<u32>,
    /// Whether the strand keeps the full level of figures ([`full_level`]).
    full: bool,
    /// Allocations larger than this go to the heap (see [`ValueAllocator::LARGE_APART`]).
    pub(crate) large: usize,
    /// The strand limit in bytes ([`Config::strand_limit`]), `usize::MAX` for none.
    pub(crate) limit: usize,
    /// The sizes the allocation path takes without a second look: those `s` with
    /// `s - 1 < usual` (wrapping, so never zero). `large` without a strand limit, zero
    /// with one: a limited strand's every allocation goes the out-of-line way, which
    /// tests the limit, and the usual path tests nothing but this.
    pub(crate) usual: usize,
    /// Where the strand's live values sit, for a thread-bound backend: bytes in the
    /// arena of `last_thread`, and bytes in the arenas of other threads (stranded), by
    /// thread. Only moves and releases of stranded values touch the map.
    here_bytes: Cell<u64>,
    /// The per-value figures at the production level: kept here with plain arithmetic
    /// and written to the slot only by [`StrandCx::publish`]. Unused at the full level,
    /// where every allocation and release writes the slot itself.
    local: LocalFigures,
    away: RefCell<ByThread>,
    stranded: Cell<u64>,
}

impl std::fmt::Debug for StrandCx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrandCx")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("used", &self.used())
            .finish_non_exhaustive()
    }
}

impl StrandCx {
    pub(crate) fn new<A: ValueAllocator>(
        id: u64,
        name: Option<String>,
        config: Config,
        slot: &'static StrandSlot,
    ) -> Self {
        let t = crate::thread::thread_index();
        let large = if A::LARGE_APART {
            config.large_value_size()
        } else {
            usize::MAX
        };
        let limit = config.strand_limit().unwrap_or(usize::MAX);
        StrandCx {
            full: full_level::<A>(),
            large,
            limit,
            usual: if limit == usize::MAX { large } else { 0 },
            id,
            name,
            config,
            slot,
            first_thread: t,
            last_thread: Cell::new(t),
            here_bytes: Cell::new(0),
            local: LocalFigures::default(),
            away: RefCell::new(ByThread::default()),
            stranded: Cell::new(0),
        }
    }

    /// The strand's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The strand's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Counts an allocation of `size` bytes. At the full level of figures
    /// ([`full_level`]) it also takes the calling thread (`thread`, where the
    /// backend told it, or read here): a migration when that is not the thread of the
    /// strand's previous allocation. `placed` says the bytes sit
    /// in this thread's arena (on a thread-bound backend); pinned allocations (through the
    /// `allocator-api2` handle, which carry no ticket, so where they sit cannot be told at
    /// release) and large values on the heap are not, and are never counted as stranded.
    #[inline(always)]
    pub(crate) fn allocated<A: ValueAllocator>(
        &self,
        size: usize,
        placed: bool,
        thread: impl FnOnce() -> Option<u32>,
    ) {
        if full_level::<A>() {
            let thread = thread().unwrap_or_else(crate::thread::thread_index);
            if thread != self.last_thread.get() {
                self.moved::<A>(thread);
            }
            if A::THREAD_BOUND && placed {
                self.here_bytes.set(self.here_bytes.get() + size as u64);
            }
        }
        if full_level::<A>() {
            // One read of the slot's address: the stores below are atomic, and the
            // compiler would read it again after each.
            let slot = self.slot;
            slot.add(Counter::Allocs, 1);
            slot.add(Counter::BytesAllocated, size as u64);
            slot.use_bytes(size as i64);
        } else {
            let l = &self.local;
            l.allocs.set(l.allocs.get() + 1);
            let used = l.used.get() + size as i64;
            l.used.set(used);
            if used > l.peak.get() {
                l.peak.set(used);
            }
        }
    }

    /// Counts the release of `size` bytes of a value that sat in the arena of thread
    /// `home` (see [`ValueAllocator::home`]); `placed` as it was given to `allocated`. A
    /// release does not look at the thread it runs on (that would cost a thread-local
    /// read per value): the strand is taken to be where it last allocated.
    #[inline(always)]
    pub(crate) fn released<A: ValueAllocator>(&self, size: usize, home: Option<u32>, placed: bool) {
        // Only what `allocated` counted as sitting in a thread's arena comes off.
        if full_level::<A>() && A::THREAD_BOUND && placed {
            match home {
                Some(h) if h != self.last_thread.get() => self.unstrand(h, size as u64),
                _ => self
                    .here_bytes
                    .set(self.here_bytes.get().saturating_sub(size as u64)),
            }
        }
        if full_level::<A>() {
            // Stranded bytes went down first: they never exceed the used ones.
            self.slot.unuse_bytes(size as i64);
        } else {
            let l = &self.local;
            l.used.set(l.used.get() - size as i64);
            l.released.set(l.released.get() + size as u64);
        }
    }

    /// Writes the figures the strand keeps itself (the production level's per-value
    /// ones) to its slot, where the rest of the process reads them. Called where it is
    /// cheap: on the arenas' allocation slow paths (strand-arena's reserve of a new
    /// chunk, thread-arena's slow path), when the backend reports reserved memory or a
    /// reset or rotation, at a reset and at the exit, and when the strand reads its own
    /// figures. Nothing to do at the full level, which writes through.
    #[inline]
    pub(crate) fn publish(&self) {
        if !self.full {
            let l = &self.local;
            let bytes = l.released.get().wrapping_add(l.used.get() as u64);
            self.slot
                .publish(l.allocs.get(), bytes, l.used.get(), l.peak.get());
        }
    }

    /// The strand now runs on `thread`: a migration, and for a thread-bound backend its
    /// values on the thread it left become stranded, and those on `thread` stop being.
    #[cold]
    #[inline(never)]
    fn moved<A: ValueAllocator>(&self, thread: u32) {
        let left = self.last_thread.replace(thread);
        self.slot.add(Counter::Migrations, 1);
        if A::THREAD_BOUND {
            let mut away = self.away.borrow_mut();
            let here = self.here_bytes.get();
            if here > 0 {
                *away.entry(left).or_insert(0) += here;
            }
            let back = away.remove(&thread).unwrap_or(0);
            self.here_bytes.set(back);
            // `stranded` is the sum of `away`; saturating, so that a backend whose `home`
            // answers wrongly can only make the figure wrong, never wrap or panic.
            let stranded = self
                .stranded
                .get()
                .saturating_add(here)
                .saturating_sub(back);
            self.stranded.set(stranded);
            self.slot.set_stranded(stranded.min(i64::MAX as u64) as i64);
        }
    }

    /// A stranded value of `size` bytes on thread `home` was released.
    #[cold]
    #[inline(never)]
    fn unstrand(&self, home: u32, size: u64) {
        let mut away = self.away.borrow_mut();
        // Only what was counted on that thread comes off (a wrong `home` finds nothing).
        let taken = match away.get_mut(&home) {
            Some(b) => {
                let taken = size.min(*b);
                *b -= taken;
                if *b == 0 {
                    away.remove(&home);
                }
                taken
            }
            None => 0,
        };
        let stranded = self.stranded.get().saturating_sub(taken);
        self.stranded.set(stranded);
        self.slot.set_stranded(stranded.min(i64::MAX as u64) as i64);
    }

    /// No value of the strand is live any more (after a reset, at exit): values that were
    /// never dropped (forgotten) stop counting as used, or as stranded.
    pub(crate) fn clear_used(&self) {
        self.here_bytes.set(0);
        self.away.borrow_mut().clear();
        self.stranded.set(0);
        self.slot.set_stranded(0);
        self.publish();
        self.slot.end_phase();
        // What was still used was allocated all the same: it counts as released now.
        let l = &self.local;
        l.released
            .set(l.released.get().wrapping_add(l.used.replace(0) as u64));
        l.peak.set(0);
    }

    /// Counts `n` events of kind `c`.
    #[inline]
    pub(crate) fn count(&self, c: Counter, n: u64) {
        self.slot.add(c, n);
    }

    /// Reports memory the backend reserves for this strand alone (positive) or gives
    /// back (negative): an arena the strand owns. Nothing to report for a backend whose
    /// registry is [`Registry::reserving_used`] (its reserved bytes are its values, which
    /// the library counts): there this does nothing.
    #[inline]
    pub fn reserve(&self, delta: i64) {
        self.slot.reserve(delta);
        self.publish();
    }

    /// Bytes of live values the strand holds now.
    #[inline]
    pub fn used(&self) -> usize {
        let used = if self.full {
            self.slot.used()
        } else {
            self.local.used.get()
        };
        used.max(0) as usize
    }

    /// The strand's figures now, its own per-value ones published first.
    pub(crate) fn figures(&self) -> Figures {
        self.publish();
        self.slot.figures()
    }

    /// Reports arena memory of this strand that rotated out while live values still held
    /// it (positive), or that was freed or reused (negative): see
    /// [`crate::Figures::retired`]. Include it in [`StrandCx::reserve`] too.
    #[inline]
    pub fn retire(&self, delta: i64) {
        self.slot.retire(delta);
    }

    /// Reports bytes that this strand's retired generations still hold (live values and
    /// pinned memory): positive when a generation retires with them, negative as they
    /// are released or the generation is freed. See [`crate::Figures::retired_live`].
    #[inline]
    pub fn retire_live(&self, delta: i64) {
        self.slot.retire_live(delta);
    }

    /// Reports a reset the strand caused, by cause.
    pub fn count_reset(&self, cause: ResetCause) {
        self.slot.add(cause.counter(), 1);
        self.publish();
    }

    /// Reports that the strand's allocation moved an arena on to a fresh generation
    /// because the old one still held live values.
    pub fn count_rotation(&self) {
        self.slot.add(Counter::Rotations, 1);
        self.publish();
    }
}

/// The per-value figures a strand keeps itself at the production level of figures (see
/// [`StrandCx::publish`]). The bytes allocated are `used` plus the bytes released (and
/// cleared at a reset or exit): kept as the bytes released, so that an allocation adds to
/// two counts and a release to two, never to two side by side, which the compiler would
/// add with vector instructions that take three times the instructions of two adds.
#[derive(Debug, Default)]
#[repr(C)]
struct LocalFigures {
    used: Cell<i64>,
    /// The current phase's peak of `used`.
    peak: Cell<i64>,
    allocs: Cell<u64>,
    released: Cell<u64>,
}

/// Why an arena was reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetCause {
    /// The last strand that held values in it exited.
    StrandExit,
    /// The threshold was crossed.
    Threshold,
    /// A strand called [`crate::Strand::reset`].
    Explicit,
    /// The strand released the last live value of a generation that had handed out
    /// enough for a reset to pay (the next values reuse warm memory).
    Emptied,
}

impl ResetCause {
    pub(crate) fn counter(self) -> Counter {
        match self {
            ResetCause::StrandExit => Counter::ResetsExit,
            ResetCause::Threshold => Counter::ResetsThreshold,
            ResetCause::Explicit => Counter::ResetsExplicit,
            ResetCause::Emptied => Counter::ResetsEmptied,
        }
    }
}
