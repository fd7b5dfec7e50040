//! The strand core: a strand's allocation context, its raw allocation and release, and
//! the validation of its values' stamps. Everything above (values, channels, spawning)
//! builds on this module; it depends on none of them.
//!
//! A [`Strand`] is made by [`fn@crate::spawn`] inside the strand's coroutine, or by
//! [`Strand::local`] for the calling thread, and ends when it is dropped: the backend's
//! exit runs then, on whatever OS thread that is.
//!
//! Every value a strand allocates borrows the strand (`Str<'s, A>` lives at most as long
//! as `&'s Strand<A>`), and the closure must return a `Send + 'static` result, so no value
//! can outlive its strand or leave it other than as a copied [`crate::PortableValue`].

use crate::allocator::{StrandCx, Ticket, ValueAllocator};
use crate::config::Config;
use crate::error::{AllocError, ConfigError, Hazard};
use crate::scope_arena::ScopeSpares;
use crate::stats::{Counter, Figures, StrandReport};
use std::alloc::Layout;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_STRAND: AtomicU64 = AtomicU64::new(1);

/// The largest alignment a backend is asked for: a cache line. An allocation aligned
/// beyond it (through the `allocator-api2` handle, say) gets a heap allocation of its own,
/// as a large value does, so it succeeds wherever the global allocator would: an arena
/// would pad a chunk by up to the alignment, and past its threshold refuse.
pub const MAX_ARENA_ALIGN: usize = 64;

/// A strand's allocation context: where its values come from, and its figures.
///
/// A `Strand` is created for each spawned strand and handed to its closure as
/// `&mut Strand<A>`. Values borrow it, so they cannot outlive it; it is neither `Send`
/// nor `Sync`, and neither are the values, so they never reach another strand except by
/// copy ([`Strand::export`], [`crate::channel()`]).
///
/// [`Strand::local`] makes one for the calling OS thread, or for a May coroutine that was
/// not spawned by this crate (its spawner took on May's contract, see
/// [`crate::Builder::spawn`]): the home of values created outside any spawned strand.
///
/// ```
/// # #[cfg(feature = "thread-arena")] {
/// use strand_alloc::{Strand, ThreadArena};
/// let s = Strand::<ThreadArena>::local().unwrap();
/// let hello = s.str("hello");
/// let greeting = s.variant(1, [s.str("greeting").into(), hello.into()]);
/// assert_eq!(greeting.fields()[1].as_str(), Some("hello"));
/// # }
/// ```
pub struct Strand<A: ValueAllocator> {
    pub(crate) state: ManuallyDrop<A::StrandState>,
    pub(crate) cx: StrandCx,
    /// Warm arenas for the strand's next scopes.
    pub(crate) scope_spares: ScopeSpares,
    /// Whether the strand has not ended yet (`state` is still there).
    running: bool,
    _not_send: PhantomData<*const ()>,
}

impl<A: ValueAllocator> std::fmt::Debug for Strand<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strand")
            .field("id", &self.cx.id)
            .field("name", &self.cx.name)
            .field("backend", &A::NAME)
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}

impl<A: ValueAllocator> Strand<A> {
    pub(crate) fn begin(name: Option<String>, config: Config) -> Self {
        let id = NEXT_STRAND.fetch_add(1, Ordering::Relaxed);
        let cx = StrandCx::new::<A>(
            id,
            name,
            config,
            A::registry().begin(crate::allocator::backend_type::<A>()),
        );
        cx.count(Counter::StrandsBegun, 1);
        let state = A::begin(&cx);
        Strand {
            state: ManuallyDrop::new(state),
            cx,
            scope_spares: ScopeSpares::default(),
            running: true,
            _not_send: PhantomData,
        }
    }

    /// Ends the strand: the backend's exit, then its figures go to the registry's
    /// totals. Returns the figures at the end (`None` if it had already ended).
    fn end(&mut self) -> Option<Figures> {
        let mut figures = Figures::default();
        self.end_into(&mut figures).then_some(figures)
    }

    /// Ends the strand as [`Strand::end`] does, writing its figures at the end into `out`
    /// (where a report is built, so that they are not copied again); false if it had
    /// already ended.
    fn end_into(&mut self, out: &mut Figures) -> bool {
        if !std::mem::replace(&mut self.running, false) {
            return false;
        }
        // SAFETY: `state` is taken exactly once: `running` was true and is now false.
        let state = unsafe { ManuallyDrop::take(&mut self.state) };
        self.cx.count(Counter::StrandsExited, 1);
        self.free_scope_spares();
        A::exit(state, &self.cx);
        self.cx.clear_used();
        *out = self.cx.figures();
        A::registry().end(self.cx.slot, out);
        true
    }

    /// Ends a spawned strand and reports what it did, in a box (the report is some 300
    /// bytes, which May would copy several times on its way back to the joiner).
    pub(crate) fn finish(mut self, panicked: bool) -> Box<StrandReport> {
        let mut report = Box::new(StrandReport {
            id: self.cx.id,
            name: self.cx.name.take(),
            backend: A::NAME.into(),
            figures: Figures::default(),
            first_thread: self.cx.first_thread,
            last_thread: crate::thread::thread_index(),
            panicked,
            full_level: crate::allocator::full_level::<A>(),
        });
        self.end_into(&mut report.figures);
        report
    }

    /// A strand context for the calling OS thread (or the May coroutine it is called
    /// in), with the process-wide [`Config::current`]. It ends (like a strand exit) when
    /// dropped.
    ///
    /// Fails when the configuration cannot be read (`STRAND_ALLOC_THRESHOLD`, and
    /// `STRAND_ALLOC_SYSTEM_THRESHOLD`, see [`crate::trim`]), and on a backend that
    /// breaks the allocation contract on purpose ([`ValueAllocator::SAFE`] is `false`:
    /// the seed policy), whose contexts only [`Strand::local_unchecked`] makes.
    pub fn local() -> Result<Self, ConfigError> {
        Self::local_with(Config::current()?)
    }

    /// Like [`Strand::local`] with the given settings. Fails on an unreadable
    /// `STRAND_ALLOC_SYSTEM_THRESHOLD` too ([`crate::trim`]), and on the seed policy.
    pub fn local_with(config: Config) -> Result<Self, ConfigError> {
        if !A::SAFE {
            return Err(ConfigError::UnsafeBackend { backend: A::NAME });
        }
        crate::trim::prepare()?;
        Ok(Self::begin(None, config))
    }

    /// Like [`Strand::local_with`], for any backend, including one that is not
    /// [`ValueAllocator::SAFE`].
    ///
    /// # Safety
    ///
    /// On a safe backend this has no further contract. On one that is not (the seed
    /// policy, which exists only with the `checked` feature), memory can be invalidated
    /// while a value still names it: `checked` refuses every access through a stale
    /// value (a counted hazard), but a `&str`, `&[u8]` or field slice borrowed *from* a
    /// value is not checked again. The caller must not keep such a borrow across
    /// anything that can reset the arena: this strand's next allocation (the threshold
    /// test), any strand's exit on the same OS thread, or a point where the strand can
    /// move to another thread.
    pub unsafe fn local_unchecked(config: Config) -> Self {
        // Infallible by signature: an unreadable STRAND_ALLOC_SYSTEM_THRESHOLD decides
        // nothing here and is reported by the next fallible beginning.
        let _ = crate::trim::prepare();
        Self::begin(None, config)
    }

    /// The strand's id, unique in the process.
    pub fn id(&self) -> u64 {
        self.cx.id
    }

    /// The strand's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.cx.name.as_deref()
    }

    /// The strand's settings.
    pub fn config(&self) -> &Config {
        &self.cx.config
    }

    /// The backend's name.
    pub fn backend(&self) -> &'static str {
        A::NAME
    }

    /// The strand's figures so far. Exact: only this strand writes them. Reading them
    /// also publishes them to the process-wide figures ([`crate::stats()`]), which at the
    /// production level of figures see a running strand's per-value counts only so and
    /// at its slow paths.
    pub fn stats(&self) -> Figures {
        self.cx.figures()
    }

    /// Releases the strand's arena memory: everything it allocated so far on the arena
    /// backends (taking `&mut self` proves that none of its values is still reachable),
    /// and the warm arenas kept for its next scopes.
    /// On global-malloc every value was already freed when it dropped, so there is
    /// nothing to do, and memory of values that were leaked (`mem::forget`, `Box::leak`)
    /// stays allocated, as it would with any heap allocation. The same holds on every
    /// backend for a leaked *large* value, which has a heap allocation of its own
    /// ([`Config::large_value_size`]): it stays allocated, and counted as reserved.
    /// Either way no value counts as used afterwards. (Values made as one-word handles are
    /// never leaked this way: [`crate::reset_current`] frees every one the strand owns,
    /// on every backend, and shared ones belong to no strand.)
    pub fn reset(&mut self) {
        A::reset(&mut self.state, &self.cx);
        self.free_scope_spares();
        self.cx.clear_used();
    }

    /// Frees the warm arenas kept for the strand's next scopes (none is open: they are
    /// kept only between scopes).
    fn free_scope_spares(&self) {
        let spares = self.scope_spares.free();
        if spares > 0 {
            self.cx.reserve(-(spares as i64));
            crate::trim::freed(spares);
        }
    }

    /// Allocates raw memory for `layout`. Zero-sized layouts get a dangling, aligned
    /// pointer and touch no backend.
    ///
    /// Always inlined, and kept to what every value needs: one test sends the zero-sized,
    /// the large, the over-aligned and every allocation of a strand with a limit to
    /// [`Strand::alloc_unusual`], then the backend and the figures.
    #[inline(always)]
    pub(crate) fn alloc_raw(
        &self,
        layout: Layout,
        pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        if self.unusual(layout) {
            return self.alloc_unusual(layout, pinned);
        }
        self.alloc_usual(layout, pinned)
    }

    /// The backend's allocation and its figures, for a layout that is neither zero-sized
    /// nor [apart](Strand::apart), once the strand limit (if any) allowed it.
    #[inline(always)]
    pub(crate) fn alloc_usual(
        &self,
        layout: Layout,
        pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        let done = A::try_alloc(&self.state, &self.cx, layout, pinned)?;
        self.cx.allocated::<A>(layout.size(), !pinned, || {
            A::thread_of_last_alloc(&self.state)
        });
        Ok(done)
    }

    /// Whether the allocation path leaves `layout` to [`Strand::alloc_unusual`]: a zero
    /// size, a size past [`StrandCx::usual`] (the large-value size, or every size on a
    /// strand with a limit), or an alignment past [`MAX_ARENA_ALIGN`]. One comparison for
    /// the size: `size - 1` wraps for a zero size, past any bound.
    #[inline(always)]
    fn unusual(&self, layout: Layout) -> bool {
        self.unusual_size(layout.size()) || layout.align() > MAX_ARENA_ALIGN
    }

    /// The size half of [`Strand::unusual`], for byte arrays (alignment 1).
    #[inline(always)]
    pub(crate) fn unusual_size(&self, size: usize) -> bool {
        size.wrapping_sub(1) >= self.cx.usual
    }

    /// Whether memory for `layout` is not the backend's: zero-sized, larger than the
    /// large-value size, or aligned beyond [`MAX_ARENA_ALIGN`]. Where the backend takes
    /// every size ([`ValueAllocator::LARGE_APART`] is false, the large-value size
    /// `usize::MAX`), the zero test alone, which the compiler folds away wherever it
    /// knows the size is not zero.
    #[inline(always)]
    pub(crate) fn apart(&self, layout: Layout) -> bool {
        let size_apart = if A::LARGE_APART {
            layout.size().wrapping_sub(1) >= self.cx.large
        } else {
            layout.size() == 0
        };
        size_apart || layout.align() > MAX_ARENA_ALIGN
    }

    /// Whether `size` more bytes would take the strand past its limit. Without a limit
    /// (the usual case) `used` is not read. No overflow: both terms are at most
    /// `isize::MAX`.
    #[inline(always)]
    fn past_limit(&self, size: usize) -> bool {
        self.cx.limit != usize::MAX && self.cx.used() + size > self.cx.limit
    }

    /// The strand limit refuses `size` more bytes.
    #[cold]
    #[inline(never)]
    fn over_limit(&self, size: usize) -> AllocError {
        AllocError::LimitExceeded {
            requested: size,
            used: self.cx.used(),
            limit: self.cx.limit,
        }
    }

    /// The allocations [`Strand::unusual`] sends here: a zero-sized one (a dangling,
    /// aligned pointer; no backend); past the strand limit, an error; one the arenas do
    /// not serve (see [`Strand::alloc_large`]); else the backend's, as on the usual path.
    #[cold]
    #[inline(never)]
    pub(crate) fn alloc_unusual(
        &self,
        layout: Layout,
        pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        if layout.size() == 0 {
            // SAFETY: an alignment is never zero.
            // (`NonNull::dangling` for this alignment: an address with no provenance,
            // which strict-provenance checkers accept.)
            let p = unsafe {
                NonNull::new_unchecked(std::ptr::null_mut::<u8>().wrapping_add(layout.align()))
            };
            return Ok((p, Ticket::NONE));
        }
        self.limit_check(layout.size())?;
        if self.apart(layout) {
            self.alloc_large(layout)
        } else {
            self.alloc_usual(layout, pinned)
        }
    }

    /// A value larger than the large-value size, or aligned beyond [`MAX_ARENA_ALIGN`]: a
    /// heap allocation of its own, reserved for this strand until it is released (see
    /// [`ValueAllocator::LARGE_APART`]), once the strand limit allowed it. Released by
    /// [`Strand::heap_dealloc`].
    fn alloc_large(&self, layout: Layout) -> Result<(NonNull<u8>, Ticket), AllocError> {
        let ptr = self.heap_alloc(layout)?;
        self.cx.count(Counter::LargeValues, 1);
        Ok((ptr, Ticket::NONE))
    }

    /// A heap allocation of its own for `layout` (non-zero size), counted as reserved
    /// and used for this strand until [`Strand::heap_dealloc`].
    fn heap_alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        // SAFETY: `layout` has a non-zero size (by this function's contract).
        let ptr = NonNull::new(unsafe { std::alloc::alloc(layout) })
            .ok_or(AllocError::oom(A::NAME, layout))?;
        // Counted before the reserve, which publishes the figures: the snapshot then
        // sees the value with its memory.
        self.cx.allocated::<A>(layout.size(), false, || None);
        self.cx.reserve(layout.size() as i64);
        Ok(ptr)
    }

    /// Releases what [`Strand::heap_alloc`] (and so [`Strand::alloc_own`]) gave.
    ///
    /// # Safety
    ///
    /// `ptr` came from `heap_alloc` with `layout`, and is released once.
    pub(crate) unsafe fn heap_dealloc(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from this function's contract.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
        crate::trim::freed(layout.size());
        // Released before the reserve, which publishes the figures: the snapshot never
        // sees the value's bytes used with its memory gone.
        self.cx.released::<A>(layout.size(), None, false);
        self.cx.reserve(-(layout.size() as i64));
    }

    /// A heap allocation of its own for a value that leaves a scope for the heap
    /// (`layout` of non-zero size, refused past the strand limit): counted as reserved
    /// and used until [`Strand::heap_dealloc`], on every backend.
    pub(crate) fn alloc_own(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        self.limit_check(layout.size())?;
        self.heap_alloc(layout)
    }

    /// The arena for a scope's first value: a warm one the strand kept, or a new one
    /// under the strand's generation limit.
    #[cold]
    #[inline(never)]
    pub(crate) fn take_scope_arena(&self) -> bumpalo::Bump {
        self.scope_spares.take().unwrap_or_else(|| {
            let b = bumpalo::Bump::new();
            b.set_allocation_limit(Some(self.cx.config.generation_limit()));
            b
        })
    }

    /// Refuses `size` more bytes past the strand limit.
    #[inline]
    pub(crate) fn limit_check(&self, size: usize) -> Result<(), AllocError> {
        if self.past_limit(size) {
            Err(self.over_limit(size))
        } else {
            Ok(())
        }
    }

    /// Validates an allocation's stamp; a failure is counted as a hazard of this strand.
    #[inline]
    pub(crate) fn checked(&self, ticket: Ticket) -> Result<(), Hazard> {
        ticket
            .stamp()
            .check(A::NAME)
            .inspect_err(|_| self.cx.count(Counter::Hazards, 1))
    }

    /// Releases memory from [`Strand::alloc_raw`].
    ///
    /// # Safety
    ///
    /// The arguments come from one earlier `alloc_raw` on this strand that was not
    /// released yet, and nothing uses the memory afterwards.
    #[inline(always)]
    pub(crate) unsafe fn dealloc_raw(&self, ptr: NonNull<u8>, layout: Layout, ticket: Ticket) {
        if self.apart(layout) {
            // SAFETY: forwarded from this function's contract.
            return unsafe { self.dealloc_apart(ptr, layout) };
        }
        // SAFETY: forwarded from this function's contract; `layout` is not apart, so
        // `alloc_raw` took it from the backend.
        unsafe { self.dealloc_usual(ptr, layout, ticket) }
    }

    /// Releases memory the backend gave ([`Strand::alloc_usual`], directly or through
    /// [`Strand::alloc_raw`]).
    ///
    /// # Safety
    ///
    /// The arguments come from one earlier `alloc_usual` on this strand that was not
    /// released yet, and nothing uses the memory afterwards.
    #[inline(always)]
    pub(crate) unsafe fn dealloc_usual(&self, ptr: NonNull<u8>, layout: Layout, ticket: Ticket) {
        let home = if crate::allocator::full_level::<A>() && A::THREAD_BOUND {
            A::home(&self.state, ticket)
        } else {
            None
        };
        // Counted first, so that the backend's release is the last call: the compiler
        // then jumps to its slow paths instead of calling them, and saves no registers.
        self.cx
            .released::<A>(layout.size(), home, ticket != Ticket::PINNED);
        // SAFETY: forwarded from this function's contract.
        unsafe { A::dealloc(&self.state, &self.cx, ptr, layout, ticket) };
    }

    /// Releases an allocation of a layout that is [apart](Strand::apart): zero-sized
    /// (nothing to do) or from [`Strand::alloc_large`].
    ///
    /// # Safety
    ///
    /// As for [`Strand::dealloc_raw`], for an allocation of such a layout.
    #[cold]
    #[inline(never)]
    unsafe fn dealloc_apart(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() == 0 {
            // `alloc_raw` gave a dangling pointer and touched no backend, whatever the
            // alignment: nothing to give back (and nothing the heap may be handed).
            return;
        }
        // SAFETY: by this function's contract `ptr` came from `alloc_raw` with this
        // layout, which (the strand's large-value size never changing) took it from
        // `alloc_large`, i.e. from `heap_alloc` with this layout.
        unsafe { self.heap_dealloc(ptr, layout) };
    }
}

/// Refuses an access to invalidated memory (the plain accessors, under `checked`).
#[cold]
#[inline(never)]
pub(crate) fn hazard(h: Hazard) -> ! {
    panic!("{h}")
}

/// Panics with an allocation error (the infallible constructors).
#[cold]
#[inline(never)]
pub(crate) fn alloc_failed(e: AllocError) -> ! {
    panic!("strand-alloc: {e}")
}

impl<A: ValueAllocator> Drop for Strand<A> {
    fn drop(&mut self) {
        self.end();
    }
}
