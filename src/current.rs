//! A strand for the coroutine you are in, whoever spawned it.
//!
//! A runtime's coroutines are often spawned by its own scheduler code or by a library
//! (an HTTP server spawns one coroutine per connection with `go!`), not by
//! [`fn@crate::spawn`]. [`Strand::with_current`] gives such a coroutine a strand of its
//! own for backend `A`: made on first use, kept in the coroutine's local storage, and
//! ended through the backend's exit when the coroutine ends, on normal return, panic or
//! cancel alike.
//!
//! May drops a coroutine's local storage on the worker thread right after the coroutine
//! has finished, which is *after* its join handle has been signalled: the strand's exit
//! can run just after `join` returns. Wait for it on [`crate::live_strands`] (a current
//! strand counts there until its exit has run), never assume it.
//!
//! Each call looks the strand up in May's coroutine-local map: about 16 ns on a 2-core
//! AMD EPYC, more than allocating a 16-byte value on thread-arena costs
//! (`cargo bench --features all-backends --bench per_value` prints both). Call it once
//! per unit of work, a request say, and allocate every value of that work inside the one
//! call.

use crate::allocator::ValueAllocator;
use crate::config::Config;
use crate::error::CurrentError;
use crate::home::Home;
use crate::scheduler::{self, Admitted};
use crate::strand::Strand;
use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::ptr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A context's strand for one backend, its home, and its place in the live-strand count.
pub(crate) struct Current<A: ValueAllocator> {
    // In an `UnsafeCell`: a reset through the current-strand API takes `&mut` of it.
    strand: UnsafeCell<Strand<A>>,
    home: &'static Home,
    _admitted: Admitted,
}

impl<A: ValueAllocator> Current<A> {
    /// A strand for the calling context, with its home attached under `key`.
    fn make(key: usize) -> Result<Arc<Current<A>>, CurrentError> {
        // Everything fallible first (`local_with` refuses a backend that is not safe);
        // nothing is recorded until it all succeeded.
        let strand = Strand::<A>::local_with(Config::current()?)?;
        let made = Arc::new(Current {
            strand: UnsafeCell::new(strand),
            // Attached to no context until the strand's address is known (below).
            home: Home::attach(0, backend_id::<A>(), ptr::null()),
            _admitted: scheduler::admit_current(),
        });
        made.home
            .strand
            .store(made.strand.get() as *mut (), Ordering::Relaxed);
        made.home.key.store(key, Ordering::Release);
        Ok(made)
    }

    /// The strand, shared.
    ///
    /// # Safety
    ///
    /// No `&mut` of it is alive (a reset runs only with `busy` clear and no handle
    /// operation in progress in this context).
    unsafe fn strand(&self) -> &Strand<A> {
        // SAFETY: this function's contract.
        unsafe { &*self.strand.get() }
    }
}

impl<A: ValueAllocator> Drop for Current<A> {
    fn drop(&mut self) {
        // The strand's owned values die with it; its home is swept and pooled, then the
        // strand ends (its field is dropped after this).
        crate::ownership::end_home::<A>(self.home, self.strand.get_mut());
    }
}

/// A backend's identity for homes, slot blocks and caches: the address of its registry,
/// plus one for a backend that keeps the full level of figures itself
/// ([`ValueAllocator::FULL_FIGURES`]: a [`crate::FullFigures`] backend shares its registry
/// with the backend it wraps, but not its strands, handles or homes). The type's own
/// constant, not the build's level: with `full-figures` both types are at the full level
/// and still two backends. A registry is aligned to 8, so the low bit is free.
#[inline]
pub(crate) fn backend_id<A: ValueAllocator>() -> usize {
    A::registry() as *const crate::stats::Registry as usize | A::FULL_FIGURES as usize
}

/// Every backend's strand of this context, one entry per backend used (at most twice
/// the number of backends compiled in, one per level of figures, so the search is short
/// and bounded).
///
/// Shared through `Arc`, not `Rc`: a call running on a generator's stack keeps its clone
/// while the generator is resumed on another thread, and the coroutine can end (dropping
/// this map) meanwhile, so the count is changed from two threads. Whoever lets go last
/// runs the strand's exit.
struct Entry {
    backend: usize,
    home: &'static Home,
    current: Arc<dyn Any>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        // The context is going away: its key may be given to another coroutine or thread
        // from now on, so the home stops answering to it (the strand itself lives on
        // while a paused call holds it).
        self.home.detach();
    }
}

type Strands = RefCell<Vec<Entry>>;

may::coroutine_local!(static CURRENT: Strands = RefCell::new(Vec::new()));

thread_local! {
    /// The strands of the calling OS thread itself (outside any coroutine), ended when
    /// the thread's locals are destroyed.
    static THREAD: Strands = const { RefCell::new(Vec::new()) };
    /// The last home found on this thread, and the context it was found for.
    static CACHE: Cell<(usize, *const Home)> = const { Cell::new((0, ptr::null())) };
}

#[cfg(not(all(target_os = "linux", not(miri))))]
thread_local! {
    /// A byte whose address names the thread as a context.
    static THREAD_KEY: u8 = const { 0 };
}

#[cfg(all(target_os = "linux", not(miri)))]
thread_local! {
    /// The calling thread's own stack, `[lo, hi)`; `(0, 0)` until learned.
    static THREAD_STACK: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// The execution context the caller runs in, as a number: the address of the May
/// coroutine's local storage (which a generator resumed inside the coroutine sees too),
/// or outside any coroutine the address of a thread-local byte of the OS thread. Two
/// live contexts never share a number.
#[inline]
pub(crate) fn context_key() -> usize {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        let ((lo, hi), key) = THREAD_STACK.with(|c| (c.get(), c as *const _ as usize));
        if lo != WORKER {
            let here = stack_pointer();
            if here >= lo && here < hi {
                // On the thread's own stack: no coroutine runs here. The thread-local's
                // address names the thread.
                return key;
            }
            return context_key_elsewhere(lo, key);
        }
    }
    let co = generator_data();
    if !co.is_null() {
        return co as usize;
    }
    thread_key()
}

/// The caller's stack pointer, or near enough: an address in the caller's current stack
/// frame.
#[cfg(all(target_os = "linux", not(miri)))]
#[inline(always)]
fn stack_pointer() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let sp: usize;
        // SAFETY: reads a register; touches no memory, no stack, no flags.
        unsafe {
            std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
        };
        sp
    }
    #[cfg(target_arch = "aarch64")]
    {
        let sp: usize;
        // SAFETY: reads a register; touches no memory, no stack, no flags.
        unsafe {
            std::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
        };
        sp
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let probe = 0u8;
        std::hint::black_box(&probe) as *const u8 as usize
    }
}

/// `THREAD_STACK`'s mark of a thread where a coroutine has run.
#[cfg(all(target_os = "linux", not(miri)))]
const WORKER: usize = usize::MAX;

/// [`context_key`] off the thread's own stack (or before it is known) on a thread where
/// no coroutine was seen yet: a coroutine's key, or the thread's.
///
/// Once a coroutine has run on an OS thread (a May worker), the generator crate is asked
/// straight away. Elsewhere the caller's stack is looked at first: on the thread's own
/// stack no coroutine runs (coroutines and generators have stacks of their own), and
/// asking the generator crate there would leave a context record behind that it never
/// frees (one per OS thread).
#[cfg(all(target_os = "linux", not(miri)))]
#[cold]
#[inline(never)]
fn context_key_elsewhere(lo: usize, key: usize) -> usize {
    if lo == 0 {
        let (lo, hi) = thread_stack();
        let here = stack_pointer();
        if here >= lo && here < hi {
            return key;
        }
    }
    let data = generator_data();
    if data.is_null() {
        return key;
    }
    let _ = THREAD_STACK.try_with(|c| c.set((WORKER, WORKER)));
    data as usize
}

/// Learns the calling thread's own stack, `[lo, hi)` (an empty range when it cannot be
/// told, so that the generator crate is always asked), whichever stack the caller runs
/// on now.
#[cfg(all(target_os = "linux", not(miri)))]
#[cold]
#[inline(never)]
fn thread_stack() -> (usize, usize) {
    // SAFETY: `attr` is initialised by `pthread_getattr_np` before it is read and
    // destroyed once after; `pthread_attr_getstack` writes the two out-parameters.
    let range = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            None
        } else {
            let mut addr: *mut libc::c_void = ptr::null_mut();
            let mut size: libc::size_t = 0;
            let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
            libc::pthread_attr_destroy(&mut attr);
            (ok && !addr.is_null()).then(|| (addr as usize, addr as usize + size))
        }
    };
    let range = range.unwrap_or((1, 1));
    let _ = THREAD_STACK.try_with(|c| c.set(range));
    range
}

/// The generator crate's answer: the running May coroutine's local storage, or null.
#[inline]
fn generator_data() -> *mut u8 {
    // Miri runs no May coroutine (it cannot switch stacks), and the generator crate's
    // walk of its context list is not accepted by Stacked Borrows: under Miri every
    // context is a plain thread.
    #[cfg(not(miri))]
    {
        generator::get_local_data()
    }
    #[cfg(miri)]
    {
        ptr::null_mut()
    }
}

/// The thread's own context key: the address of one of its thread-locals.
#[inline(never)]
fn thread_key() -> usize {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        THREAD_STACK.with(|c| c as *const _ as usize)
    }
    #[cfg(not(all(target_os = "linux", not(miri))))]
    {
        THREAD_KEY.with(|k| k as *const u8 as usize)
    }
}

/// The home of the calling context's strand for backend `A`, made on first use: the
/// current-strand lookup of [`crate::handle`]. A cached answer is checked against the
/// home itself (homes are never freed), so it is never stale.
#[inline]
pub(crate) fn home<A: ValueAllocator>() -> Result<&'static Home, CurrentError> {
    let key = context_key();
    let (k, h) = CACHE.with(Cell::get);
    if k == key && !h.is_null() {
        // SAFETY: homes are leaked and never freed.
        let home = unsafe { &*h };
        if home.key.load(Ordering::Relaxed) == key
            && home.backend.load(Ordering::Relaxed) == backend_id::<A>()
        {
            return Ok(home);
        }
    }
    find_home::<A>(key)
}

#[cold]
#[inline(never)]
fn find_home<A: ValueAllocator>(key: usize) -> Result<&'static Home, CurrentError> {
    let in_coroutine = key != thread_key();
    let home = if in_coroutine {
        let found = CURRENT.with(|all| lookup::<A>(all));
        match found {
            Some(h) => h,
            None => {
                let made = Current::<A>::make(key)?;
                let home = made.home;
                CURRENT.with(|all| record::<A>(all, made, home))?;
                home
            }
        }
    } else {
        let found = THREAD
            .try_with(|all| lookup::<A>(all))
            .map_err(|_| CurrentError::ThreadEnding)?;
        match found {
            Some(h) => h,
            None => {
                let made = Current::<A>::make(key)?;
                let home = made.home;
                THREAD
                    .try_with(|all| record::<A>(all, made, home))
                    .map_err(|_| CurrentError::ThreadEnding)??;
                home
            }
        }
    };
    CACHE.with(|c| c.set((key, home)));
    Ok(home)
}

fn lookup<A: ValueAllocator>(all: &Strands) -> Option<&'static Home> {
    let all = all.try_borrow().ok()?;
    let entry = all.iter().find(|e| e.backend == backend_id::<A>())?;
    if !entry.current.is::<Current<A>>() {
        // Another type's strand under this one's identity: a registry shared against
        // the backend contract (promise 5), caught where it can be.
        crate::stats::shared_registry(std::any::type_name::<A>(), A::NAME);
    }
    Some(entry.home)
}

fn record<A: ValueAllocator>(
    all: &Strands,
    made: Arc<Current<A>>,
    home: &'static Home,
) -> Result<(), CurrentError> {
    // Refused only while the map is being dropped (the context is ending); `made` is then
    // dropped here, which ends its strand at once.
    let mut all = all
        .try_borrow_mut()
        .map_err(|_| CurrentError::ThreadEnding)?;
    all.push(Entry {
        backend: backend_id::<A>(),
        home,
        current: made,
    });
    Ok(())
}

/// The calling context's strand for `A` and its home, as `with_current` uses them.
fn current_arc<A: ValueAllocator>() -> Result<Arc<dyn Any>, CurrentError> {
    let key = context_key();
    let found = CURRENT.with(|all| {
        all.borrow()
            .iter()
            .find(|e| e.backend == backend_id::<A>())
            .map(|e| Arc::clone(&e.current))
    });
    let any = match found {
        Some(a) => a,
        None => {
            let made = Current::<A>::make(key)?;
            let home = made.home;
            let any: Arc<dyn Any> = made.clone();
            CURRENT.with(|all| record::<A>(all, made, home))?;
            any
        }
    };
    Ok(any)
}

/// The strand of a home found by [`home`], shared for one library call.
///
/// # Safety
///
/// `home` came from [`home::<A>`] in this context, and its `busy` flag was found clear
/// after that (no `with_current` call holds the strand, and no reset is running).
#[inline]
pub(crate) unsafe fn strand_of<A: ValueAllocator>(home: &Home) -> &Strand<A> {
    // SAFETY: a home of backend `A` points to the `Strand<A>` in its `Current<A>`, which
    // lives while the home is attached to this context (the context's map holds it).
    unsafe { &*(home.strand.load(Ordering::Relaxed) as *const Strand<A>) }
}

/// The strand of a home, exclusively, for a reset.
///
/// # Safety
///
/// As for [`strand_of`], and no other reference to the strand is alive (no value of it
/// borrowed through the Rust API, no handle operation in progress).
#[allow(clippy::mut_from_ref)] // the strand is behind an `UnsafeCell`, not in `home`
pub(crate) unsafe fn strand_mut_of<A: ValueAllocator>(home: &Home) -> &mut Strand<A> {
    // SAFETY: as in `strand_of`; the strand sits in an `UnsafeCell` and this function's
    // contract rules out any other reference.
    unsafe { &mut *(home.strand.load(Ordering::Relaxed) as *mut Strand<A>) }
}

/// Marks a strand free again when its [`Strand::with_current`] call ends, by return or
/// by unwinding.
struct InUse<'a>(&'a Home);

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
    }
}

impl<A: ValueAllocator> Strand<A> {
    /// Runs `f` with the current coroutine's strand for this backend, making the strand
    /// (with [`Config::current`]) on the coroutine's first call.
    ///
    /// The strand ends, through the backend's exit, when the coroutine ends (returns,
    /// panics or is cancelled), on the worker thread it ends on; it counts in
    /// [`crate::live_strands`] until then. Values cannot leave `f`: they borrow the
    /// strand for the call only. Look the strand up once per unit of work, not once per
    /// value (see the module documentation for the cost).
    ///
    /// Fails outside a May coroutine ([`CurrentError::NotInCoroutine`]: a plain thread
    /// has [`Strand::local`]), when the configuration cannot be read, on a backend that
    /// is not [`ValueAllocator::SAFE`], and while another call is using this backend's
    /// strand ([`CurrentError::InUse`]).
    ///
    /// One call at a time uses a strand. A nested call in the same coroutine for the same
    /// backend is refused with [`CurrentError::InUse`]: pass the `&Strand` you have down
    /// instead (a call for another backend gets that backend's strand). The rule is what
    /// keeps a strand on one thread at a time even on a generator's stack: a generator
    /// (the `generator` crate's `Gn`) running inside a coroutine sees that coroutine's
    /// strand, and can pause inside `f` and be resumed on another thread (where a call
    /// finds the strand of the coroutine it then runs in, if any), or after the coroutine
    /// has ended. Until that call returns, the coroutine's own calls are refused, and the
    /// strand outlives the coroutine: its exit runs when the call lets go of it, wherever
    /// that is, and it counts in [`crate::live_strands`] until then.
    ///
    /// A call that never returns never lets go: a generator paused inside `f` and then
    /// forgotten (`mem::forget`), or dropped while its owner is unwinding (a panic, or a
    /// May cancel: the `generator` crate does not unwind a generator dropped during a
    /// panic), leaks the strand, its values and its arena memory; it counts in
    /// [`crate::live_strands`] for good, and the coroutine's later calls are refused.
    ///
    /// ```
    /// # #[cfg(feature = "thread-arena")] {
    /// use strand_alloc::{ThreadArena, Strand};
    /// // Any coroutine, spawned by May directly.
    /// // SAFETY: the closure uses no thread-locals and nothing `!Send`.
    /// let h = unsafe {
    ///     may::coroutine::spawn(|| {
    ///         Strand::<ThreadArena>::with_current(|s| {
    ///             let v = s.variant(1, [s.str("GET").into(), s.str("/").into()]);
    ///             v.fields()[0].as_str().unwrap().len()
    ///         })
    ///     })
    /// };
    /// assert_eq!(h.join().unwrap().unwrap(), 3);
    /// // Not in a coroutine: an error, not a strand.
    /// assert!(Strand::<ThreadArena>::with_current(|_| ()).is_err());
    /// # }
    /// ```
    pub fn with_current<R>(f: impl FnOnce(&Strand<A>) -> R) -> Result<R, CurrentError> {
        if !may::coroutine::is_coroutine() {
            return Err(CurrentError::NotInCoroutine);
        }
        let any = current_arc::<A>()?;
        let Some(current) = any.downcast_ref::<Current<A>>() else {
            // As in `lookup`: a registry shared against the backend contract.
            crate::stats::shared_registry(std::any::type_name::<A>(), A::NAME)
        };
        // Acquire: whatever an earlier call did with the strand, perhaps on another
        // thread (a generator resumed there), happened before this call uses it.
        if current.home.busy.swap(true, Ordering::Acquire) {
            return Err(CurrentError::InUse { backend: A::NAME });
        }
        let _in_use = InUse(current.home);
        // SAFETY: `busy` is now set by this call: no reset runs and no other call uses
        // the strand until it is cleared.
        Ok(f(unsafe { current.strand() }))
    }
}

#[cfg(all(test, feature = "global-malloc"))]
mod tests {
    use super::*;
    use crate::GlobalMalloc;

    /// A context's entry let go (its coroutine's storage dropped) detaches the home from
    /// the context's key, though the strand lives on in another holder (a paused call):
    /// the key may be another coroutine's from now on.
    #[test]
    fn an_entry_let_go_detaches_its_home_from_the_key() {
        std::thread::spawn(|| {
            let key = 0x1000;
            let made = Current::<GlobalMalloc>::make(key).unwrap();
            let home = made.home;
            assert_eq!(home.key.load(Ordering::Acquire), key);
            let entry = Entry {
                backend: backend_id::<GlobalMalloc>(),
                home,
                current: made.clone(),
            };
            drop(entry);
            assert_eq!(home.key.load(Ordering::Acquire), 0, "detached");
            // The strand is still there for its other holder.
            // SAFETY: no `&mut` of the strand exists.
            assert_eq!(unsafe { made.strand() }.str("alive").as_str(), "alive");
        })
        .join()
        .unwrap();
    }
}
