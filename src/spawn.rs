//! Spawning strands: [`Builder`], [`spawn`] and the [`JoinHandle`] that
//! waits for a strand and brings back its result and its report.
//!
//! A spawned strand is a May coroutine that creates a [`Strand`] for its backend, passes
//! it to the closure, and ends it when the closure returns, panics or is cancelled. The
//! strand's end runs inside the coroutine (May has no exit hook), so it runs on whatever
//! OS thread the strand finishes on.

use crate::allocator::ValueAllocator;
use crate::config::Config;
use crate::error::SpawnError;
use crate::scheduler;
use crate::stats::StrandReport;
use crate::strand::Strand;
use std::any::Any;
use std::marker::PhantomData;

/// Configures and spawns a strand on backend `A`.
///
/// ```
/// # #[cfg(feature = "thread-arena")] {
/// use strand_alloc::{Builder, ThreadArena};
/// let b = Builder::<ThreadArena>::new().name("worker");
/// // SAFETY: the closure uses no thread-locals and nothing that is not `Send`.
/// let h = unsafe { b.spawn(|s| s.str("from a strand").len()) }.unwrap();
/// assert_eq!(h.join().unwrap(), 13);
/// # }
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

impl<A: ValueAllocator> std::fmt::Debug for Builder<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("backend", &A::NAME)
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .field("config", &self.config)
            .finish()
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
    /// fn go<A: strand_alloc::ValueAllocator>() {
    ///     let h = strand_alloc::Builder::<A>::new().spawn(|s| s.str("x").len());
    /// }
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
        crate::trim::prepare()?;
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
            // Boxed: May moves the result several times on its way back, and a report of
            // some 300 bytes costs more to copy each time than one allocation does.
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

/// Spawns a strand on backend `A`, which the program names: a backend's choice never
/// depends on which cargo features some other crate of the build enabled.
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
/// # #[cfg(feature = "thread-arena")] {
/// use strand_alloc::ThreadArena;
/// // SAFETY: the closure uses no thread-locals and nothing that is not `Send`.
/// let h = unsafe { strand_alloc::spawn::<ThreadArena, _, _>(|s| s.str("hi").to_uppercase()) };
/// assert_eq!(h.join().unwrap(), "HI");
/// # }
/// ```
///
/// ```compile_fail
/// // Spawning outside `unsafe` does not compile.
/// fn go<A: strand_alloc::ValueAllocator>() {
///     let h = strand_alloc::spawn::<A, _, _>(|s| s.str("x").len());
/// }
/// ```
pub unsafe fn spawn<A, F, R>(f: F) -> JoinHandle<R>
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
    inner: may::coroutine::JoinHandle<(std::thread::Result<R>, Box<StrandReport>)>,
}

impl<R> std::fmt::Debug for JoinHandle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle").finish_non_exhaustive()
    }
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
            Ok((result, report)) => (result, Some(*report)),
            // Only a strand cancelled before its body began ends here.
            Err(payload) => (Err(payload), None),
        }
    }

    /// Whether the strand has finished.
    pub fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// Cancels the strand: it unwinds at its next scheduling point, and its exit path
    /// runs as for a panic. May can lose a cancel sent to a strand that has
    /// [`hop`](crate::hop)ped (see there): the strand then stays parked.
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

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn a_panic_payload_gives_its_text() {
        assert_eq!(panic_message(&"a static message"), "a static message");
        assert_eq!(
            panic_message(&String::from("a formatted one")),
            "a formatted one"
        );
        assert_eq!(panic_message(&42_u32), "a panic without a message");
    }
}
