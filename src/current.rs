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
use crate::scheduler::{self, Admitted};
use crate::strand::Strand;
use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A coroutine's strand for one backend, and its place in the live-strand count.
struct Current<A: ValueAllocator> {
    // Declared first, so dropped first: the exit runs before the strand stops counting
    // as live, and a caller waiting on `live_strands` sees the exit done.
    strand: Strand<A>,
    /// Whether a [`Strand::with_current`] call is using the strand, on whatever stack
    /// and thread that call now runs (see [`Strand::with_current`] on generators).
    busy: AtomicBool,
    _admitted: Admitted,
}

/// Every backend's strand of this coroutine, one entry per backend used (at most the
/// number of backends compiled in, so the search is short and bounded).
///
/// Shared through `Arc`, not `Rc`: a call running on a generator's stack keeps its clone
/// while the generator is resumed on another thread, and the coroutine can end (dropping
/// this map) meanwhile, so the count is changed from two threads. Whoever lets go last
/// runs the strand's exit.
type Strands = RefCell<Vec<(TypeId, Arc<dyn Any>)>>;

/// Marks a strand free again when its [`Strand::with_current`] call ends, by return or
/// by unwinding.
struct InUse<'a>(&'a AtomicBool);

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

may::coroutine_local!(static CURRENT: Strands = RefCell::new(Vec::new()));

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
    /// use strand_alloc::{DefaultBackend, Strand};
    /// // Any coroutine, spawned by May directly.
    /// // SAFETY: the closure uses no thread-locals and nothing `!Send`.
    /// let h = unsafe {
    ///     may::coroutine::spawn(|| {
    ///         Strand::<DefaultBackend>::with_current(|s| {
    ///             let v = s.variant(1, [s.str("GET").into(), s.str("/").into()]);
    ///             v.fields()[0].as_str().unwrap().len()
    ///         })
    ///     })
    /// };
    /// assert_eq!(h.join().unwrap().unwrap(), 3);
    /// // Not in a coroutine: an error, not a strand.
    /// assert!(Strand::<DefaultBackend>::with_current(|_| ()).is_err());
    /// ```
    pub fn with_current<R>(f: impl FnOnce(&Strand<A>) -> R) -> Result<R, CurrentError> {
        if !may::coroutine::is_coroutine() {
            return Err(CurrentError::NotInCoroutine);
        }
        let strand = match CURRENT.with(find::<A>) {
            Some(found) => found,
            None => {
                // Everything fallible first (`local_with` refuses a backend that is not
                // safe); nothing is recorded until it all succeeded.
                let strand = Strand::<A>::local_with(Config::current()?)?;
                // Neither `Send` nor `Sync` as far as the compiler knows (a strand is
                // neither); the count is atomic for the generator case above `Strands`,
                // and `busy` keeps the strand itself to one user at a time.
                let made: Arc<dyn Any> = Arc::new(Current {
                    strand,
                    busy: AtomicBool::new(false),
                    _admitted: scheduler::admit_current(),
                });
                CURRENT.with(|all| {
                    all.borrow_mut()
                        .push((TypeId::of::<A>(), Arc::clone(&made)))
                });
                made
            }
        };
        let current = strand
            .downcast_ref::<Current<A>>()
            .expect("strand-alloc: a current strand is stored under its backend's type");
        // Acquire: whatever an earlier call did with the strand, perhaps on another
        // thread (a generator resumed there), happened before this call uses it.
        if current.busy.swap(true, Ordering::Acquire) {
            return Err(CurrentError::InUse { backend: A::NAME });
        }
        let _in_use = InUse(&current.busy);
        Ok(f(&current.strand))
    }
}

/// The coroutine's strand for backend `A`, if it has one. The map's borrow ends here, so
/// a nested call (for the same or another backend) never finds it borrowed.
fn find<A: ValueAllocator>(all: &Strands) -> Option<Arc<dyn Any>> {
    let all = all.borrow();
    all.iter()
        .find(|(backend, _)| *backend == TypeId::of::<A>())
        .map(|(_, s)| Arc::clone(s))
}
