//! One May scheduler configuration for every backend in the process.
//!
//! May reads its settings once, when the scheduler first starts, and ignores later
//! changes. [`SchedulerConfig::apply`] checks the values, applies them before the first
//! strand is spawned, and reports an error (instead of silently doing nothing) when the
//! scheduler is already running with other settings.

use crate::error::{ConfigError, SpawnError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Worker threads, default stack size and pinning for the May scheduler.
///
/// ```
/// use strand_alloc::SchedulerConfig;
/// assert!(SchedulerConfig::default().with_workers(0).is_err());
/// assert!(SchedulerConfig::default().with_stack_size(4096).is_err());
/// let cfg = SchedulerConfig::default().with_workers(2).unwrap().with_pin(false);
/// assert_eq!(cfg.workers(), 2);
/// ```
///
/// With the `serde` feature it (de)serialises; deserialising checks every setting as the
/// setters do, reads the stack size as a number of bytes or a string in any form
/// [`crate::config::parse_size`] accepts, and refuses a field it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SchedulerConfig {
    workers: usize,
    stack_size: usize,
    pin: bool,
}

/// May's default coroutine stack: 0x1000 words (32 KiB on 64-bit targets).
pub const DEFAULT_STACK_SIZE: usize = 0x1000 * std::mem::size_of::<usize>();

/// The smallest stack a strand may have: 32 KiB, May's default. Measured: at 16 KiB a
/// strand whose body panics overflows its stack while the panic is reported (more so
/// with `RUST_BACKTRACE` set, or in a debug build), and May then never completes its
/// join; a stack that small is not safe to offer.
pub const MIN_STACK_SIZE: usize = 32 << 10;

/// The largest stack a strand may have: 256 MiB. May maps each stack whole when the
/// strand is spawned; a larger mapping is refused by the system on ordinary machines,
/// and May panics when that happens.
pub const MAX_STACK_SIZE: usize = 256 << 20;

/// The most worker threads the scheduler may have: 1024. Each worker also opens two
/// file descriptors (an epoll instance and an eventfd), which must fit the process's
/// open-file limit as well; [`SchedulerConfig::apply`] checks that too.
pub const MAX_WORKERS: usize = 1024;

/// File descriptors each May worker opens.
const FDS_PER_WORKER: u64 = 2;

/// File descriptors left for everything else in the process.
const FDS_RESERVED: u64 = 64;

/// Checks a stack size against [`MIN_STACK_SIZE`] and [`MAX_STACK_SIZE`].
pub(crate) fn check_stack_size(bytes: usize) -> Result<(), ConfigError> {
    if bytes < MIN_STACK_SIZE {
        return Err(ConfigError::OutOfRange {
            what: "the stack size",
            input: format!("{bytes} bytes"),
            reason: format!(
                "the smallest strand stack is {MIN_STACK_SIZE} bytes (32 KiB, \
                 strand_alloc::scheduler::MIN_STACK_SIZE)"
            ),
        });
    }
    if bytes > MAX_STACK_SIZE {
        return Err(ConfigError::OutOfRange {
            what: "the stack size",
            input: format!("{bytes} bytes"),
            reason: format!(
                "the largest strand stack is {MAX_STACK_SIZE} bytes (256 MiB, \
                 strand_alloc::scheduler::MAX_STACK_SIZE)"
            ),
        });
    }
    Ok(())
}

/// The soft limit on open files, where the system says (`/proc/self/limits`).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Default for SchedulerConfig {
    /// As many workers as the machine has cores, May's default stack, no pinning (so
    /// several processes on one machine, such as parallel test binaries, do not pin onto
    /// the same cores).
    fn default() -> Self {
        SchedulerConfig {
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(MAX_WORKERS),
            stack_size: DEFAULT_STACK_SIZE,
            pin: false,
        }
    }
}

impl SchedulerConfig {
    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }
    /// Default stack size of a strand, in bytes.
    pub fn stack_size(&self) -> usize {
        self.stack_size
    }
    /// Whether workers are pinned to cores.
    pub fn pin(&self) -> bool {
        self.pin
    }

    /// Sets the number of worker threads: at least one, at most [`MAX_WORKERS`].
    pub fn with_workers(mut self, workers: usize) -> Result<Self, ConfigError> {
        if workers == 0 {
            return Err(ConfigError::Zero {
                what: "the worker count",
                input: "0".into(),
            });
        }
        if workers > MAX_WORKERS {
            return Err(ConfigError::OutOfRange {
                what: "the worker count",
                input: workers.to_string(),
                reason: format!(
                    "the scheduler takes at most {MAX_WORKERS} workers \
                     (strand_alloc::scheduler::MAX_WORKERS)"
                ),
            });
        }
        self.workers = workers;
        Ok(self)
    }

    /// Sets the default stack size in bytes: at least [`MIN_STACK_SIZE`] (32 KiB), at
    /// most [`MAX_STACK_SIZE`] (256 MiB).
    pub fn with_stack_size(mut self, bytes: usize) -> Result<Self, ConfigError> {
        check_stack_size(bytes)?;
        self.stack_size = bytes;
        Ok(self)
    }

    /// Sets whether workers are pinned to cores.
    pub fn with_pin(mut self, pin: bool) -> Self {
        self.pin = pin;
        self
    }

    /// Applies these settings to May. Succeeds if the scheduler has not started yet (it
    /// starts with these), or if it already runs with exactly these settings. Fails,
    /// before May sees anything, when the workers' file descriptors would not fit the
    /// process's open-file limit: May reads its settings once, so a scheduler that
    /// failed to start could not be retried with others.
    pub fn apply(self) -> Result<(), ConfigError> {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        match *state {
            Some(running) if running == self => Ok(()),
            Some(running) => Err(ConfigError::SchedulerStarted {
                running: running.describe(),
                requested: self.describe(),
            }),
            None => {
                self.check_file_limit()?;
                self.install(&mut state);
                Ok(())
            }
        }
    }

    fn check_file_limit(&self) -> Result<(), ConfigError> {
        let Some(limit) = open_file_limit() else {
            return Ok(());
        };
        let needed = self.workers as u64 * FDS_PER_WORKER + FDS_RESERVED;
        if needed > limit {
            return Err(ConfigError::OutOfRange {
                what: "the worker count",
                input: self.workers.to_string(),
                reason: format!(
                    "{} workers need about {needed} open files and the process may open \
                     {limit} (raise it with `ulimit -n`, or use fewer workers)",
                    self.workers
                ),
            });
        }
        Ok(())
    }

    fn install(self, state: &mut Option<SchedulerConfig>) {
        let c = may::config();
        c.set_workers(self.workers)
            .set_stack_size(self.stack_size.div_ceil(std::mem::size_of::<usize>()));
        c.set_worker_pin(self.pin);
        *state = Some(self);
    }

    /// The settings the scheduler runs with, if it has been started through this crate.
    pub fn running() -> Option<SchedulerConfig> {
        *STATE.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn describe(&self) -> String {
        format!(
            "{} workers, {} byte stacks, pinning {}",
            self.workers,
            self.stack_size,
            if self.pin { "on" } else { "off" }
        )
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for SchedulerConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            workers: usize,
            stack_size: crate::config::Size,
            pin: bool,
        }
        let r = Raw::deserialize(d)?;
        SchedulerConfig::default()
            .with_workers(r.workers)
            .and_then(|c| c.with_stack_size(r.stack_size.0))
            .map(|c| c.with_pin(r.pin))
            .map_err(serde::de::Error::custom)
    }
}

static STATE: Mutex<Option<SchedulerConfig>> = Mutex::new(None);

/// Makes sure the scheduler is configured before a strand is spawned: applies the default
/// settings when nothing was applied yet.
#[inline]
pub(crate) fn ensure_configured() {
    STARTED.get_or_init(|| {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        if state.is_none() {
            SchedulerConfig::default().install(&mut state);
        }
    });
}

static STARTED: OnceLock<()> = OnceLock::new();

/// Gives the scheduler a chance to move the calling strand to another worker thread.
///
/// The strand leaves its worker through May's timer thread (a zero-length sleep, which
/// May resumes on the timer thread) and then yields from there, which puts it on May's
/// global queue: whichever worker takes it next runs it, so about half of the hops on two
/// workers land on another thread. This is the migration the tests, the stress run and
/// the `migrate` workload force. Outside a strand it only yields the OS thread.
///
/// # A guard around May's sleep
///
/// May's zero-length sleep hands the strand to the timer thread and only then records the
/// strand's cancel data, on the worker it left. If the strand ends and its
/// [`JoinHandle`](crate::JoinHandle) is dropped in between, that write lands in freed
/// memory. `hop` keeps a handle to the strand on the worker it leaves until that worker
/// makes its next hop; by then the worker has finished recording, since it runs one
/// strand at a time. Each worker holds at most one such handle.
///
/// # A cancel after a hop can be lost
///
/// That same late record can land after the strand, already running on another worker,
/// has parked again (on a channel, say) and registered that park for cancellation: the
/// late record replaces it, and a cancel then wakes nothing, so the strand stays parked
/// and its join never returns. It takes the leaving worker to be preempted at that
/// instant: it was seen in `tests/current.rs` with three test processes on two cores, in
/// about a quarter of the runs, and never without the hop. This is May's, and `hop`
/// cannot repair it; do not rely on cancelling a strand that has hopped.
///
/// ```
/// # #[cfg(feature = "thread-arena")] {
/// use strand_alloc::{hop, spawn, ThreadArena};
/// // SAFETY: the closure uses no thread-locals and nothing `!Send`.
/// let h = unsafe {
///     spawn::<ThreadArena, _, _>(|s| {
///         let v = s.str("still here");
///         hop();
///         v.as_str().to_owned()
///     })
/// };
/// assert_eq!(h.join().unwrap(), "still here");
/// # }
/// ```
pub fn hop() {
    if !may::coroutine::is_coroutine() {
        std::thread::yield_now();
        return;
    }
    keep_until_next_hop(may::coroutine::current());
    may::coroutine::sleep(std::time::Duration::ZERO);
    may::coroutine::yield_now();
}

/// Keeps `me` on this worker in place of the handle kept at this worker's previous hop,
/// which is dropped: that hop's sleep has long been recorded, because this worker is
/// running strand code again. Out of line, like every thread-local access in this crate:
/// inlined into a caller's loop, the thread-local's address could be computed once and
/// kept across the sleep, after which the strand runs on another thread.
#[inline(never)]
fn keep_until_next_hop(me: may::coroutine::Coroutine) {
    let previous = DEPARTED.with(|d| d.replace(Some(me)));
    drop(previous);
}

thread_local! {
    /// The last strand that left this worker through [`hop`], kept alive until May has
    /// finished recording its sleep here.
    static DEPARTED: std::cell::RefCell<Option<may::coroutine::Coroutine>> =
        const { std::cell::RefCell::new(None) };
}

/// Memory maps each live strand's stack takes: May maps the stack and turns its lowest
/// page into a guard page, which splits it in two.
const MAPS_PER_STRAND: usize = 2;

/// Memory maps left for everything else in the process: the heap's large allocations,
/// arena chunks, libraries, thread stacks.
const MAPS_RESERVED: usize = 8192;

/// Strands alive now: spawned through this crate, or current strands of coroutines
/// spawned elsewhere ([`crate::Strand::with_current`]).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The system's `vm.max_map_count`, read once; `None` where it cannot be read (then no
/// limit is applied).
fn max_map_count() -> Option<usize> {
    static MAX: OnceLock<Option<usize>> = OnceLock::new();
    *MAX.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()?
            .trim()
            .parse()
            .ok()
    })
}

/// A live strand's place in the process's strand budget; given back on drop.
pub(crate) struct Admitted(());

impl Drop for Admitted {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Admits one more live strand, or refuses it with [`SpawnError::TooManyStrands`] when
/// its stack would take the process past the system's memory-map limit. Past that limit
/// May cannot map the stack and panics inside the spawn, and the panic itself then finds
/// no memory to report with; refusing here keeps the failure a clear error.
pub(crate) fn admit() -> Result<Admitted, SpawnError> {
    let live = LIVE.fetch_add(1, Ordering::AcqRel);
    let admitted = Admitted(());
    if let Some(max_map_count) = max_map_count() {
        let limit = strand_limit(max_map_count);
        if live >= limit {
            return Err(SpawnError::TooManyStrands {
                live,
                limit,
                max_map_count,
                suggested: suggested_max_map_count(live),
            });
        }
    }
    Ok(admitted)
}

/// Counts a current strand as live. It maps no stack of its own (its coroutine already
/// runs), so the memory-map limit does not apply.
pub(crate) fn admit_current() -> Admitted {
    LIVE.fetch_add(1, Ordering::AcqRel);
    Admitted(())
}

/// The most strands that may live at once under a `vm.max_map_count` of `max`.
fn strand_limit(max: usize) -> usize {
    max.saturating_sub(MAPS_RESERVED) / MAPS_PER_STRAND
}

/// The `vm.max_map_count` suggested when a strand is refused with `live` strands alive:
/// room for twice as many.
fn suggested_max_map_count(live: usize) -> usize {
    MAPS_RESERVED + 2 * MAPS_PER_STRAND * live.max(1)
}

/// Strands that have not ended yet: spawned through this crate and not finished, and
/// current strands ([`crate::Strand::with_current`]) whose coroutine's exit has not run.
/// A strand stops counting only after its backend's exit has run, so waiting for this
/// count to fall is how to wait for every exit.
pub fn live_strands() -> usize {
    LIVE.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strand_limit_leaves_room_for_the_rest_of_the_process() {
        // Linux's default limit.
        assert_eq!(strand_limit(65_530), 28_669);
        assert_eq!(strand_limit(1_000), 0);
        let e = SpawnError::TooManyStrands {
            live: 28_669,
            limit: 28_669,
            max_map_count: 65_530,
            suggested: 122_868,
        }
        .to_string();
        assert!(e.contains("vm.max_map_count is 65530"), "{e}");
        assert!(e.contains("sysctl -w vm.max_map_count=122868"), "{e}");
    }

    #[test]
    fn the_suggested_limit_admits_twice_the_live_strands() {
        assert_eq!(suggested_max_map_count(28_669), 122_868);
        assert_eq!(strand_limit(suggested_max_map_count(0)), 2);
        for live in [1, 7, 28_669, 100_000] {
            assert_eq!(strand_limit(suggested_max_map_count(live)), 2 * live);
        }
    }
}
