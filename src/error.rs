//! Errors returned by the library: allocation, configuration, spawning, and a refused
//! access (a hazard). Channel errors are in [`mod@crate::channel`].
//!
//! Every error names what was asked for and why it was refused, so a caller can report it
//! without digging into the library's internals.

use std::alloc::Layout;

/// An allocation could not be satisfied.
///
/// Returned by every `try_` allocation path; the infallible paths panic with this error's
/// message instead of aborting the process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AllocError {
    /// The strand's byte limit ([`crate::Config::strand_limit`]) would be exceeded.
    #[error(
        "allocation of {requested} bytes refused: the strand already holds {used} bytes and \
         its limit is {limit} bytes"
    )]
    LimitExceeded {
        /// Bytes asked for.
        requested: usize,
        /// Bytes the strand held before the request.
        used: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The size or alignment cannot be described by a [`Layout`] (for example a length
    /// that overflows `isize`).
    #[error("allocation of {requested} bytes (align {align}) is not a valid layout")]
    InvalidLayout {
        /// Bytes asked for.
        requested: usize,
        /// Alignment asked for.
        align: usize,
    },
    /// The backend cannot keep track of one more arena generation: every tag of the
    /// `checked` epoch table, or every generation slot of a strand, is in use by
    /// generations that still hold live values. Nothing was changed; releasing values
    /// that pin old generations makes room.
    #[error(
        "the {backend} backend cannot track another arena generation: all {limit} {what} \
         are in use by generations that still hold live values"
    )]
    Exhausted {
        /// Backend that asked.
        backend: &'static str,
        /// What ran out.
        what: &'static str,
        /// How many there are.
        limit: usize,
    },
    /// The memory source (the global allocator, or an arena's new chunk) refused the
    /// request.
    #[error("out of memory: the {backend} backend could not obtain {requested} bytes")]
    OutOfMemory {
        /// Backend that asked.
        backend: &'static str,
        /// Bytes asked for.
        requested: usize,
    },
}

impl AllocError {
    pub(crate) fn invalid(size: usize, align: usize) -> Self {
        AllocError::InvalidLayout {
            requested: size,
            align,
        }
    }

    pub(crate) fn oom(backend: &'static str, layout: Layout) -> Self {
        AllocError::OutOfMemory {
            backend,
            requested: layout.size(),
        }
    }
}

/// The forms [`crate::config::parse_size`] accepts, as its errors show them.
pub const SIZE_FORMS: &str =
    "a whole number of bytes (1048576, 1_048_576) or a number with a unit \
     (B, K/KB, KiB, M/MB, MiB, G/GB, GiB, T/TB, TiB: 10MiB, 1.5MiB) that comes to a whole \
     number of bytes";

/// A configuration value was rejected. The message quotes the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A byte size could not be read (see [`crate::config::parse_size`] for the forms).
    #[error("cannot read {what} {input:?}: {reason} (expected {forms})", forms = SIZE_FORMS)]
    BadSize {
        /// Which setting was being read.
        what: &'static str,
        /// The text as given.
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A setting that must be positive was zero.
    #[error("{what} must be greater than zero (got {input:?})")]
    Zero {
        /// Which setting.
        what: &'static str,
        /// The text or number as given.
        input: String,
    },
    /// A setting is outside the bounds the library documents for it.
    #[error("{what} {input} is out of range: {reason}")]
    OutOfRange {
        /// Which setting.
        what: &'static str,
        /// The value as given.
        input: String,
        /// The bound it breaks, and why the bound exists.
        reason: String,
    },
    /// glibc's own, adjusting trim and mapping thresholds were asked for
    /// ([`crate::trim::set_system_threshold`]`(None)`) after the library had fixed them:
    /// glibc cannot turn its adjustment back on.
    #[error(
        "glibc's trim and mapping thresholds are already fixed at {bytes} bytes, and glibc \
         cannot go back to adjusting them: ask for glibc's own before anything fixes them \
         (trim::set_system_threshold(None) before trim::enable, or \
         STRAND_ALLOC_SYSTEM_THRESHOLD=off)"
    )]
    SystemThresholdFixed {
        /// The threshold they are fixed at.
        bytes: usize,
    },
    /// A strand context was asked for, through a safe constructor, on a backend that
    /// breaks the allocation contract on purpose (the seed policy).
    #[error(
        "the {backend} backend invalidates live values on purpose; its strand contexts \
         are made only by the unsafe `Strand::local_unchecked` (or an unsafe spawn)"
    )]
    UnsafeBackend {
        /// The backend.
        backend: &'static str,
    },
    /// The scheduler was already started with another configuration.
    #[error(
        "the May scheduler is already running with {running}; {requested} cannot be applied \
         (configure the scheduler before the first spawn)"
    )]
    SchedulerStarted {
        /// The configuration in force.
        running: String,
        /// The configuration that was asked for.
        requested: String,
    },
}

/// Spawning a strand failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The configuration (threshold from the environment, scheduler settings) is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// May could not create the coroutine.
    #[error("May could not create the strand: {0}")]
    Io(#[from] std::io::Error),
    /// May panicked while creating the coroutine or starting its scheduler (for example,
    /// it could not map a stack or open its workers' event descriptors). The panic was
    /// caught; a scheduler that failed to start stays failed, since May reads its
    /// configuration only once.
    #[error("May failed to create the strand: {0}")]
    Scheduler(String),
    /// Another strand would exceed the memory maps the operating system allows this
    /// process: each live strand's stack takes two (the stack and its guard page), and
    /// May aborts the process instead of failing when it runs out of them.
    #[error(
        "too many live strands: {live} are running and the system allows about {limit} \
         (vm.max_map_count is {max_map_count}, and each strand's stack takes 2 memory maps); \
         let some strands finish first, or raise the limit, for example with \
         `sysctl -w vm.max_map_count={suggested}`"
    )]
    TooManyStrands {
        /// Strands alive when the spawn was refused.
        live: usize,
        /// The most this process may hold at once.
        limit: usize,
        /// The system's `vm.max_map_count`.
        max_map_count: usize,
        /// A `vm.max_map_count` with room for twice as many strands.
        suggested: usize,
    },
}

/// [`crate::Strand::with_current`] could not give the coroutine a strand.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CurrentError {
    /// Called outside a May coroutine; a plain thread makes its strand with
    /// [`crate::Strand::local`].
    #[error(
        "not in a May coroutine: a current strand exists only inside one \
         (a plain thread makes its strand with Strand::local)"
    )]
    NotInCoroutine,
    /// The configuration (for example `STRAND_ALLOC_THRESHOLD`) is invalid, or the
    /// backend is not safe to use ([`ConfigError::UnsafeBackend`], the seed policy).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Another `with_current` call is using this coroutine's strand for this backend: a
    /// nested call (pass the outer call's `&Strand` down instead), or a call paused on a
    /// generator's stack. Nothing was allocated or changed.
    #[error(
        "this coroutine's {backend} strand is in use by another Strand::with_current call \
         (a nested call, or one paused in a generator): pass that call's &Strand down instead"
    )]
    InUse {
        /// The backend whose strand is in use.
        backend: &'static str,
    },
    /// Called on an OS thread whose thread-local storage is being destroyed, after its
    /// own strand has ended: no strand can be made for it any more.
    #[error(
        "this thread is exiting and its strand has ended: no value can be made on it any more"
    )]
    ThreadEnding,
}

/// A value's memory was found invalid when it was accessed (only with the `checked`
/// feature, and only on a backend that breaks the allocation contract on purpose, such as
/// the seed policy; or on a bug). The access is refused, so stale memory is never read.
///
/// A test of a runtime's own error mapping builds one from `Hazard::default()` (every
/// field zero, the backend empty) and sets the fields it needs.
#[derive(Debug, Default, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "strand-alloc hazard on the {backend} backend: a value's memory was invalidated before \
     it was read (arena generation {arena} was at reset count {stamped} when the value was \
     made and is at {now}; arena owned by thread {owner_thread}, read on thread \
     {reading_thread}); the access was refused"
)]
#[non_exhaustive]
pub struct Hazard {
    /// The backend the value came from.
    pub backend: &'static str,
    /// The arena generation's tag.
    pub arena: u32,
    /// The generation's reset count when the value was allocated.
    pub stamped: u64,
    /// Its reset count now.
    pub now: u64,
    /// The only thread that may read the arena (0: any).
    pub owner_thread: u32,
    /// The thread that tried to read.
    pub reading_thread: u32,
}
