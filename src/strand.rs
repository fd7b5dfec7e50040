//! Strands: May coroutines that carry an allocation context.
//!
//! [`spawn`] (or a [`Builder`]) starts a May coroutine that creates a [`Strand`] for its
//! backend, passes it to the closure, and ends it when the closure returns, panics or is
//! cancelled. The strand's end is a drop guard inside the coroutine, not a scheduler hook
//! (May has none), so it runs on whatever OS thread the strand finishes on.
//!
//! Every value a strand allocates borrows the strand (`Str<'s, A>` lives at most as long
//! as `&'s Strand<A>`), and the closure must return a `Send + 'static` result, so no value
//! can outlive its strand or leave it other than as a copied [`crate::PortableValue`].

use crate::allocator::{StrandCx, Ticket, ValueAllocator};
use crate::config::Config;
use crate::error::{AllocError, ConfigError, SpawnError};
use crate::portable::PortableValue;
use crate::scheduler;
use crate::stats::{Counter, Figures, StrandReport};
use crate::value::{Bytes, Str, Value};
use crate::variant::Variant;
use std::alloc::Layout;
use std::any::Any;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_STRAND: AtomicU64 = AtomicU64::new(1);

/// A strand's allocation context: where its values come from, and its figures.
///
/// A `Strand` is created for each spawned strand and handed to its closure as
/// `&mut Strand<A>`. Values borrow it, so they cannot outlive it; it is neither `Send`
/// nor `Sync`, and neither are the values, so they never reach another strand except by
/// copy ([`Strand::export`], [`crate::channel()`]).
///
/// [`Strand::local`] makes one for the calling OS thread, or for a May coroutine that was
/// not spawned by this crate (its spawner took on May's contract, see
/// [`Builder::spawn`]): the home of values created outside any spawned strand.
///
/// ```
/// use strand_alloc::{Strand, DefaultBackend};
/// let s = Strand::<DefaultBackend>::local().unwrap();
/// let hello = s.str("hello");
/// let greeting = s.variant(1, [s.str("greeting").into(), hello.into()]);
/// assert_eq!(greeting.fields()[1].as_str(), Some("hello"));
/// ```
pub struct Strand<A: ValueAllocator> {
    pub(crate) state: ManuallyDrop<A::StrandState>,
    pub(crate) cx: StrandCx,
    /// Whether the strand has not ended yet (`state` is still there).
    running: bool,
    _not_send: PhantomData<*const ()>,
}

impl<A: ValueAllocator> Strand<A> {
    fn begin(name: Option<String>, config: Config) -> Self {
        let id = NEXT_STRAND.fetch_add(1, Ordering::Relaxed);
        A::registry().strand_began();
        let cx = StrandCx::new(id, name, config);
        cx.count(Counter::StrandsBegun, 1);
        let state = A::begin(&cx);
        Strand {
            state: ManuallyDrop::new(state),
            cx,
            running: true,
            _not_send: PhantomData,
        }
    }

    /// Ends the strand: the backend's exit, and its counters folded into this thread's.
    fn end(&mut self) {
        if !std::mem::replace(&mut self.running, false) {
            return;
        }
        // SAFETY: `state` is taken exactly once: `running` was true and is now false.
        let state = unsafe { ManuallyDrop::take(&mut self.state) };
        self.cx.count(Counter::StrandsExited, 1);
        A::exit(state, &self.cx);
        let counts = self.cx.counters.counts();
        A::with_thread_slot(|slot| slot.add_all(&counts));
        A::registry().strand_exited();
    }

    /// Ends a spawned strand and reports what it did.
    fn finish(mut self, panicked: bool) -> StrandReport {
        self.end();
        StrandReport {
            id: self.cx.id,
            name: self.cx.name.take(),
            backend: A::NAME.into(),
            figures: self.cx.counters.figures(),
            first_thread: self.cx.first_thread,
            last_thread: crate::stats::thread_index(),
            panicked,
        }
    }

    /// A strand context for the calling OS thread (or the May coroutine it is called
    /// in), with the process-wide [`Config::current`]. It ends (like a strand exit) when
    /// dropped.
    ///
    /// Fails when the configuration cannot be read, and on a backend that breaks the
    /// allocation contract on purpose ([`ValueAllocator::SAFE`] is `false`: the seed
    /// policy), whose contexts only [`Strand::local_unchecked`] makes.
    pub fn local() -> Result<Self, ConfigError> {
        Self::local_with(Config::current()?)
    }

    /// Like [`Strand::local`] with the given settings.
    pub fn local_with(config: Config) -> Result<Self, ConfigError> {
        if !A::SAFE {
            return Err(ConfigError::UnsafeBackend { backend: A::NAME });
        }
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

    /// The strand's figures so far. Exact: only this strand writes them.
    pub fn stats(&self) -> Figures {
        let mut f = self.cx.counters.figures();
        f.reserved = f.reserved.max(A::strand_reserved(&self.state) as i64);
        f
    }

    /// Releases everything the strand allocated so far. Taking `&mut self` proves that
    /// none of its values is still reachable.
    pub fn reset(&mut self) {
        A::reset(&mut self.state, &self.cx);
    }

    /// Allocates raw memory for `layout`. Zero-sized layouts get a dangling, aligned
    /// pointer and touch no backend.
    #[inline]
    pub(crate) fn alloc_raw(
        &self,
        layout: Layout,
        pinned: bool,
    ) -> Result<(NonNull<u8>, Ticket), AllocError> {
        if layout.size() == 0 {
            // SAFETY: an alignment is never zero.
            let p = unsafe { NonNull::new_unchecked(layout.align() as *mut u8) };
            return Ok((p, Ticket::NONE));
        }
        if let Some(limit) = self.cx.config.strand_limit() {
            let used = self.cx.used();
            if used.saturating_add(layout.size()) > limit {
                return Err(AllocError::LimitExceeded {
                    requested: layout.size(),
                    used,
                    limit,
                });
            }
        }
        A::try_alloc(&self.state, &self.cx, layout, pinned)
    }

    /// Validates an allocation's stamp; a failure is counted as a hazard of this strand.
    #[inline]
    pub(crate) fn checked(&self, ticket: Ticket) -> Result<(), crate::error::Hazard> {
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
    #[inline]
    pub(crate) unsafe fn dealloc_raw(&self, ptr: NonNull<u8>, layout: Layout, ticket: Ticket) {
        if layout.size() != 0 {
            // SAFETY: forwarded from this function's contract.
            unsafe { A::dealloc(&self.state, &self.cx, ptr, layout, ticket) }
        }
    }

    /// Allocates a UTF-8 string, or says why it could not.
    #[inline(always)]
    pub fn try_str(&self, s: &str) -> Result<Str<'_, A>, AllocError> {
        Str::try_new_in(s, self)
    }

    /// Allocates a UTF-8 string.
    ///
    /// # Panics
    ///
    /// When the allocation is refused (see [`Strand::try_str`]).
    #[inline(always)]
    pub fn str(&self, s: &str) -> Str<'_, A> {
        self.try_str(s).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Allocates a byte string, or says why it could not.
    pub fn try_bytes(&self, b: &[u8]) -> Result<Bytes<'_, A>, AllocError> {
        Bytes::try_new_in(b, self)
    }

    /// Allocates a byte string.
    ///
    /// # Panics
    ///
    /// When the allocation is refused (see [`Strand::try_bytes`]).
    pub fn bytes(&self, b: &[u8]) -> Bytes<'_, A> {
        self.try_bytes(b).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Builds a variant from a tag and its fields, or says why it could not (the fields
    /// are dropped then).
    pub fn try_variant<'s, I>(&'s self, tag: u32, fields: I) -> Result<Variant<'s, A>, AllocError>
    where
        I: IntoIterator<Item = Value<'s, A>>,
        I::IntoIter: ExactSizeIterator,
    {
        Variant::try_new_in(tag, fields, self)
    }

    /// Builds a variant from a tag and its fields.
    ///
    /// # Panics
    ///
    /// When the allocation is refused (see [`Strand::try_variant`]).
    pub fn variant<'s, I>(&'s self, tag: u32, fields: I) -> Variant<'s, A>
    where
        I: IntoIterator<Item = Value<'s, A>>,
        I::IntoIter: ExactSizeIterator,
    {
        self.try_variant(tag, fields)
            .unwrap_or_else(|e| alloc_failed(e))
    }

    /// A deep copy of `value` that owns its bytes on the global heap and can cross to
    /// another strand or thread. Counted as one copy of all its bytes.
    ///
    /// # Panics
    ///
    /// As [`Bytes::as_slice`]: only on a hazard, only with `checked`.
    pub fn export(&self, value: &Value<'_, A>) -> PortableValue {
        self.try_export(value)
            .unwrap_or_else(|h| crate::value::hazard(h))
    }

    /// Like [`Strand::export`], or the [`crate::Hazard`] that refused reading the value
    /// (always `Ok` without the `checked` feature).
    pub fn try_export(&self, value: &Value<'_, A>) -> Result<PortableValue, crate::Hazard> {
        let (p, bytes) = PortableValue::copy_of(value)?;
        self.cx.count(Counter::Copies, 1);
        self.cx.count(Counter::CopiedBytes, bytes as u64);
        Ok(p)
    }

    /// Turns a portable value into a value of this strand. String bytes are adopted
    /// as they are (they stay on the global heap and are freed when the value drops);
    /// variant field arrays are allocated by this strand's backend.
    pub fn try_import(&self, value: PortableValue) -> Result<Value<'_, A>, AllocError> {
        Value::try_from_portable(value, self)
    }

    /// Like [`Strand::try_import`].
    ///
    /// # Panics
    ///
    /// When the allocation is refused.
    pub fn import(&self, value: PortableValue) -> Value<'_, A> {
        self.try_import(value).unwrap_or_else(|e| alloc_failed(e))
    }

    /// An `allocator-api2` allocator that allocates from this strand, for collections
    /// of your own. Memory from it lives at most as long as the strand; on the
    /// thread-arena backend it keeps the arena it came from alive until the strand exits
    /// or resets, even after it is freed.
    ///
    /// ```
    /// use strand_alloc::{Strand, DefaultBackend};
    /// let s = Strand::<DefaultBackend>::local().unwrap();
    /// let mut v = allocator_api2::vec::Vec::new_in(s.allocator());
    /// v.extend_from_slice(&[1u32, 2, 3]);
    /// assert_eq!(v.iter().sum::<u32>(), 6);
    /// ```
    pub fn allocator(&self) -> crate::StrandAllocator<'_, A> {
        crate::StrandAllocator::new(self)
    }
}

#[cold]
#[inline(never)]
fn alloc_failed(e: AllocError) -> ! {
    panic!("strand-alloc: {e}")
}

impl<A: ValueAllocator> Drop for Strand<A> {
    fn drop(&mut self) {
        self.end();
    }
}

/// Configures and spawns a strand on backend `A`.
///
/// ```
/// use strand_alloc::{Builder, DefaultBackend};
/// let b = Builder::<DefaultBackend>::new().name("worker");
/// // SAFETY: the closure uses no thread-locals and nothing that is not `Send`.
/// let h = unsafe { b.spawn(|s| s.str("from a strand").len()) }.unwrap();
/// assert_eq!(h.join().unwrap(), 13);
/// ```
pub struct Builder<A: ValueAllocator> {
    name: Option<String>,
    stack_size: Option<usize>,
    config: Option<Config>,
    _backend: PhantomData<fn() -> A>,
}

impl<A: ValueAllocator> Default for Builder<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: ValueAllocator> Builder<A> {
    /// A builder with no name, the scheduler's default stack and [`Config::current`].
    pub fn new() -> Self {
        Builder {
            name: None,
            stack_size: None,
            config: None,
            _backend: PhantomData,
        }
    }

    /// Names the strand (shown in panic messages and reports).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets this strand's stack size in bytes; checked against
    /// [`MIN_STACK_SIZE`](crate::scheduler::MIN_STACK_SIZE) and
    /// [`MAX_STACK_SIZE`](crate::scheduler::MAX_STACK_SIZE) when the strand is spawned.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Uses these allocation settings instead of the process-wide default.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Starts the strand. Fails on a bad configuration (for example an unreadable
    /// `STRAND_ALLOC_THRESHOLD`, or a stack size outside
    /// [`MIN_STACK_SIZE`](crate::scheduler::MIN_STACK_SIZE)..=[`MAX_STACK_SIZE`](crate::scheduler::MAX_STACK_SIZE)),
    /// when too many strands are alive ([`SpawnError::TooManyStrands`]), or when May
    /// cannot create the coroutine (its panic is caught and returned as
    /// [`SpawnError::Scheduler`]).
    ///
    /// # Safety
    ///
    /// The strand runs as a May coroutine, which the scheduler may move to another OS
    /// thread at any point where it can yield: a channel operation, [`crate::hop`], a
    /// join, May's own I/O or sleep, or any call that may reach one. The closure (and
    /// everything it calls) must not keep, across such a point:
    ///
    /// 1. a borrow of thread-local data (`thread_local!`, `LocalKey::with`), nor a
    ///    pointer or reference obtained from one: after a move it names another
    ///    thread's data, which that thread may use at the same time;
    /// 2. a value that is not `Send` reached through thread-local data or shared with
    ///    the thread it was made on (an `Rc`, a `&'static` to a `!Sync` value, a leaked
    ///    [`Strand`] of another thread): after a move, two OS threads can use it at once.
    ///
    /// This is May's own contract for `may::coroutine::spawn` and `go!`, stated in this
    /// crate's terms. The library's own code keeps it (every thread-local it reads is
    /// read in a short out-of-line function that neither yields nor calls user code),
    /// so a closure that uses no thread-locals of its own keeps it too. On a backend
    /// that is not [`ValueAllocator::SAFE`] (the seed policy), the contract of
    /// [`Strand::local_unchecked`] applies as well. What holds given this contract is
    /// set out in `docs/SAFETY.md`.
    ///
    /// ```compile_fail
    /// // Spawning outside `unsafe` does not compile.
    /// let h = strand_alloc::Builder::<strand_alloc::DefaultBackend>::new().spawn(|s| s.str("x").len());
    /// ```
    pub unsafe fn spawn<F, R>(self, f: F) -> Result<JoinHandle<R>, SpawnError>
    where
        F: FnOnce(&mut Strand<A>) -> R + Send + 'static,
        R: Send + 'static,
    {
        let config = match self.config {
            Some(c) => c,
            None => Config::current()?,
        };
        if let Some(bytes) = self.stack_size {
            scheduler::check_stack_size(bytes)?;
        }
        scheduler::ensure_configured();
        let admitted = scheduler::admit()?;
        let mut b = may::coroutine::Builder::new();
        if let Some(n) = &self.name {
            b = b.name(n.clone());
        }
        if let Some(bytes) = self.stack_size {
            b = b.stack_size(bytes.div_ceil(std::mem::size_of::<usize>()));
        }
        let name = self.name;
        let body = move || {
            // Held until the strand's body is done (or unwinds).
            let _admitted = admitted;
            let mut strand = Strand::<A>::begin(name, config);
            // The report travels back with the result, through May's own return slot,
            // even when the body panics (or is cancelled, which May does by unwinding):
            // the panic is caught here and handed to the joiner as it would have been.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut strand)));
            let report = strand.finish(result.is_err());
            (result, report)
        };
        // May panics where it cannot map a stack or start its scheduler; the panic is
        // caught here and returned as an error (the strand was not created, so nothing
        // else changed: `admitted` is given back as the closure is dropped).
        let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: May marks spawning unsafe because thread-local storage read inside
            // a coroutine can belong to another thread after the coroutine moves. This
            // crate reads thread-locals only in `#[inline(never)]` functions that do not
            // yield, and never keeps a thread-local borrow across a call that can; the
            // user's closure is bound by the same contract through this function's own.
            unsafe { b.spawn(body) }
        }));
        match spawned {
            Ok(inner) => Ok(JoinHandle { inner: inner? }),
            Err(payload) => Err(SpawnError::Scheduler(panic_message(payload.as_ref()))),
        }
    }
}

/// Spawns a strand on the [`crate::DefaultBackend`].
///
/// # Safety
///
/// As [`Builder::spawn`]: nothing that is not `Send`, and no borrow of thread-local
/// data, may be kept across a point where the strand can move to another OS thread.
///
/// # Panics
///
/// When the configuration is invalid or May cannot create the coroutine; use
/// [`Builder::spawn`] to get an error instead.
///
/// ```
/// // SAFETY: the closure uses no thread-locals and nothing that is not `Send`.
/// let h = unsafe { strand_alloc::spawn(|s| s.str("hi").to_uppercase()) };
/// assert_eq!(h.join().unwrap(), "HI");
/// ```
///
/// ```compile_fail
/// // Spawning outside `unsafe` does not compile.
/// let h = strand_alloc::spawn(|s| s.str("hi").to_uppercase());
/// ```
pub unsafe fn spawn<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce(&mut Strand<crate::DefaultBackend>) -> R + Send + 'static,
    R: Send + 'static,
{
    // SAFETY: forwarded from this function's contract.
    unsafe { spawn_on::<crate::DefaultBackend, F, R>(f) }
}

/// Spawns a strand on backend `A`.
///
/// # Safety
///
/// As [`Builder::spawn`].
///
/// # Panics
///
/// As [`spawn`].
///
/// ```compile_fail
/// // Spawning outside `unsafe` does not compile.
/// let h = strand_alloc::spawn_on::<strand_alloc::DefaultBackend, _, _>(|s| s.str("x").len());
/// ```
pub unsafe fn spawn_on<A, F, R>(f: F) -> JoinHandle<R>
where
    A: ValueAllocator,
    F: FnOnce(&mut Strand<A>) -> R + Send + 'static,
    R: Send + 'static,
{
    // SAFETY: forwarded from this function's contract.
    unsafe { Builder::<A>::new().spawn(f) }
        .unwrap_or_else(|e| panic!("strand-alloc: cannot spawn a strand: {e}"))
}

/// The text of a panic payload (a `&str` or a `String`), or a placeholder.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Owns a strand: wait for it, get its result or panic, and its report.
pub struct JoinHandle<R> {
    inner: may::coroutine::JoinHandle<(std::thread::Result<R>, StrandReport)>,
}

impl<R> JoinHandle<R> {
    /// Waits for the strand and returns its result, or the payload of its panic.
    pub fn join(self) -> Result<R, Box<dyn Any + Send + 'static>> {
        self.join_report().0
    }

    /// Waits for the strand and returns its result and its report. The report is `None`
    /// only if the strand was cancelled before it began.
    pub fn join_report(
        self,
    ) -> (
        Result<R, Box<dyn Any + Send + 'static>>,
        Option<StrandReport>,
    ) {
        match self.inner.join() {
            Ok((result, report)) => (result, Some(report)),
            // Only a strand cancelled before its body began ends here.
            Err(payload) => (Err(payload), None),
        }
    }

    /// Whether the strand has finished.
    pub fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// Cancels the strand: it unwinds at its next scheduling point, and its exit path
    /// runs as for a panic.
    ///
    /// # Safety
    ///
    /// As [`may::coroutine::Coroutine::cancel`]: cancelling drops everything the strand
    /// holds at whatever point it is suspended, which the strand's own code must be ready
    /// for.
    pub unsafe fn cancel(&self) {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.inner.coroutine().cancel() }
    }
}
