//! Giving freed memory back to the operating system: opt-in, because it acts on the
//! whole process.
//!
//! Arena chunks and large values go back to the global allocator when they are freed. The
//! system allocator of glibc keeps much of what it is given back for reuse, so a process
//! whose strands once allocated a lot can keep that memory resident long after. Two
//! remedies act on the whole process, not on the library's memory alone, so the library
//! applies neither unless the program (or whoever runs it) asks:
//!
//! - **trims**: the library counts the bytes of arena chunks and large values it frees,
//!   and after every step of them (32 MiB, [`DEFAULT_STEP`]) asks glibc to return free
//!   memory to the operating system (`malloc_trim(0)`), on the thread that freed the last
//!   of them. The call takes a few milliseconds on a large heap, which is why it runs
//!   only after a step of frees, and only where memory is released (a value's release, a
//!   strand's exit or reset), never on an allocation's path: memory an allocation frees
//!   (a generation reset at the threshold) is counted towards the next trim.
//! - **glibc's thresholds**: `malloc_trim` gives back free memory inside glibc's heaps
//!   and the top of the main one, but not the top of the per-thread heaps glibc keeps for
//!   other threads (the worker threads strands run on): those shrink only when a free
//!   leaves more than glibc's *trim threshold* on top, and glibc raises that threshold by
//!   itself, to twice the largest directly mapped block freed so far (up to 64 MiB).
//!   Arena chunks are such blocks, so after a spike each worker's heap can keep tens of
//!   MiB resident, the program's own freed memory as well as the library's. Fixing glibc's
//!   trim and mapping thresholds (`mallopt`) at 512 KiB ([`DEFAULT_SYSTEM_THRESHOLD`])
//!   turns that adjustment off: a block of 512 KiB or more is mapped on its own and
//!   unmapped when freed, and a heap keeps at most 512 KiB free on top. It also replaces
//!   whatever thresholds the program set with `mallopt` before, and turns off glibc's
//!   adjusting mapping threshold for every allocation in the process.
//!
//! How a program asks:
//!
//! 1. [`enable`]: both, with the defaults (the thresholds unless the environment below
//!    says otherwise); the comparison command does this, and says so in its header;
//! 2. [`set_step`]`(Some(bytes))`: trims alone, after every `bytes` freed;
//! 3. [`set_system_threshold`]`(Some(bytes))`: the thresholds alone, now;
//! 4. `STRAND_ALLOC_SYSTEM_THRESHOLD` ([`SYSTEM_THRESHOLD_ENV`]): a size fixes the
//!    thresholds there when the first strand begins (whoever runs the program asks), and
//!    is the size [`enable`] uses; `off` (any case) keeps the first strand and [`enable`]
//!    from setting them (a program's own `set_system_threshold(Some(..))` still applies:
//!    the program asked); an unreadable value is a [`ConfigError`] from every strand's
//!    beginning (`Strand::local`, `spawn`, `with_current`) until it is fixed. [`enable`]
//!    also leaves them alone when the process chose its own through the environment glibc
//!    reads (`MALLOC_TRIM_THRESHOLD_`, `MALLOC_MMAP_THRESHOLD_`, or `GLIBC_TUNABLES`
//!    naming either), unless this variable gives a size, which wins.
//!
//! Without any of these the library never calls `mallopt` or `malloc_trim`
//! (`tests/process_effects.rs` defines both symbols itself and counts the calls).
//!
//! ```
//! // A server that wants its spikes given back (before its first strand):
//! strand_alloc::trim::enable().unwrap();
//! assert_eq!(strand_alloc::trim::step(), Some(strand_alloc::trim::DEFAULT_STEP));
//! # strand_alloc::trim::set_step(None);
//! ```
//!
//! Memory given back is memory faulted in again when it is next needed: that is the
//! price. Measured with the comparison (which opts in) on a 2-core AMD EPYC, two runs each way of
//! `cargo run --release -p strand-alloc-comparison -- --workload
//! requests,long-lived,phases,handoff --repeat 10`, glibc's own thresholds being
//! `STRAND_ALLOC_SYSTEM_THRESHOLD=off`, before trims and thresholds became opt-in (the
//! comparison then applied them as the library did by default):
//!
//! - `long-lived` (28 generations of 10 MiB rotated at the threshold) pays: thread-arena's
//!   page faults went from 32,000–48,000 to 73,000 and its time from 234–278 ms to
//!   301–345 ms; strand-arena's from 42,000–53,000 to 74,000 faults and 234–260 ms to
//!   295–355 ms. A retired generation's chunks are unmapped, and the next generation's
//!   mapped and faulted in afresh, where glibc would have handed the same warm memory
//!   back.
//! - `requests` and `phases`: thread-arena's faults went from 1,300 to 2,700 and from
//!   17,000 to 25,700; their times stayed within the runs' noise. strand-arena's and
//!   global-malloc's faults did not move.
//! - peak RSS moved on none of them beyond noise.
//! - at 128 KiB (glibc's starting value), thread-arena's `requests` took 8,900–9,100
//!   faults against 1,300–1,500 and 116–118 ms against 83–89 (15 repetitions): hence
//!   512 KiB.
//!
//! What it buys: 64 strands that held 1 GiB in 100-byte values, after others had held
//! 1 GiB in 4 KiB values, left the process at 42–52 MiB against 14 MiB before under
//! glibc's own thresholds, and back at 13–14 MiB with them fixed, at once
//! (`tests/rss_return.rs`, which calls [`enable`]; `STRAND_ALLOC_SYSTEM_THRESHOLD=off`
//! makes it fail). A process that prefers glibc's adjusting thresholds, and the speed of
//! reusing warm memory, does not opt in, or says `STRAND_ALLOC_SYSTEM_THRESHOLD=off`.
//!
//! global-malloc frees every value on drop and counts none of this unless asked
//! ([`set_count_global_malloc`]): counting costs an atomic addition per value.
//!
//! On other platforms the count is kept and trimming does nothing. With another global
//! allocator (which returns memory by its own rules) on glibc, the trims and thresholds
//! still act on glibc's heap, which then holds only what else calls `malloc`.
//!
//! ```
//! // Trim after every 8 MiB freed, and no more after that:
//! strand_alloc::trim::set_step(Some(8 << 20));
//! strand_alloc::trim::set_step(None);
//! ```

use crate::error::ConfigError;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// Bytes freed between two trims once [`enable`] opts in: 32 MiB.
pub const DEFAULT_STEP: usize = 32 << 20;

/// The step; 0 when trimming is off, as it is until the program opts in.
static STEP: AtomicUsize = AtomicUsize::new(0);
/// Bytes freed since the last trim.
static FREED: AtomicUsize = AtomicUsize::new(0);
/// Trims done.
static TRIMS: AtomicUsize = AtomicUsize::new(0);
static GLOBAL_MALLOC: AtomicBool = AtomicBool::new(false);

/// Opts in to giving memory back, with the defaults: a trim after every
/// [`DEFAULT_STEP`] bytes freed (unless a step is set already), and glibc's trim and
/// mapping thresholds fixed at [`DEFAULT_SYSTEM_THRESHOLD`] now (or at the size
/// [`SYSTEM_THRESHOLD_ENV`] gives, which wins over everything below). The thresholds are
/// left alone when that variable says `off`, when the process chose its own through the
/// environment glibc reads, when [`set_system_threshold`]`(None)` came first, or when
/// they are fixed already (at whatever size that was). The module documentation says what each
/// does to the whole process.
///
/// Fails, changing nothing, when [`SYSTEM_THRESHOLD_ENV`] cannot be read.
///
/// ```
/// strand_alloc::trim::enable().unwrap();
/// assert!(strand_alloc::trim::step().is_some());
/// # strand_alloc::trim::set_step(None);
/// ```
pub fn enable() -> Result<(), ConfigError> {
    let chosen = match from_env()? {
        Some(choice) => choice,
        None if process_chose_thresholds() => None,
        None => Some(DEFAULT_SYSTEM_THRESHOLD),
    };
    {
        let mut t = THRESHOLDS.lock().unwrap_or_else(|e| e.into_inner());
        // A fixed size stays, and `set_system_threshold(None)` said never.
        match (chosen, *t) {
            (Some(b), Thresholds::Undecided | Thresholds::LeftAlone) => {
                apply(b);
                *t = Thresholds::Fixed(b);
            }
            (_, Thresholds::Undecided) => *t = Thresholds::LeftAlone,
            _ => {}
        }
        DECIDED.store(true, Relaxed);
    }
    if step().is_none() {
        set_step(Some(DEFAULT_STEP));
    }
    Ok(())
}

/// Sets how many freed bytes lead to a trim (`None`, the default, turns trimming off).
pub fn set_step(bytes: Option<usize>) {
    STEP.store(bytes.unwrap_or(0), Relaxed);
}

/// How many freed bytes lead to a trim, if trimming is on.
pub fn step() -> Option<usize> {
    Some(STEP.load(Relaxed)).filter(|s| *s != 0)
}

/// Whether the global-malloc backend counts the values it frees towards the step (off by
/// default).
pub fn set_count_global_malloc(on: bool) {
    GLOBAL_MALLOC.store(on, Relaxed);
}

/// Whether global-malloc counts the values it frees.
#[inline]
#[allow(dead_code)] // unused when global-malloc is not compiled in
pub(crate) fn counts_global_malloc() -> bool {
    GLOBAL_MALLOC.load(Relaxed)
}

/// Trims done so far in this process.
pub fn trims() -> usize {
    TRIMS.load(Relaxed)
}

/// Counts `bytes` given back to the global allocator on an allocation's path, where no
/// trim runs: the next release or exit that frees memory trims if a step is due.
pub(crate) fn noted(bytes: usize) {
    if STEP.load(Relaxed) != 0 {
        FREED.fetch_add(bytes, Relaxed);
    }
}

/// Counts `bytes` given back to the global allocator where memory is released, and trims
/// when a step is due.
pub(crate) fn freed(bytes: usize) {
    noted(bytes);
    settle();
}

/// Trims if a step of freed bytes is due (where memory is released: a value's release,
/// a strand's exit or reset).
pub(crate) fn settle() {
    let step = STEP.load(Relaxed);
    // The thread that finds the count past the step trims, once.
    if step != 0 && FREED.load(Relaxed) >= step && FREED.swap(0, Relaxed) >= step {
        trim_now();
    }
}

/// Asks the system allocator to return its free memory to the operating system now.
/// Returns whether it could be asked (glibc on Linux).
pub fn trim_now() -> bool {
    TRIMS.fetch_add(1, Relaxed);
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: `malloc_trim` takes no pointers and only works on glibc's own free
        // lists, under its own locks; it is safe to call from any thread at any time.
        unsafe { malloc_trim(0) };
        true
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", not(miri))))]
    {
        false
    }
}

/// The trim and mapping threshold [`enable`] gives glibc unless told otherwise: 512 KiB
/// (four times glibc's starting value; the module documentation says why).
pub const DEFAULT_SYSTEM_THRESHOLD: usize = 512 << 10;

/// The largest threshold glibc accepts for its mapping threshold on 64-bit targets.
const MAX_SYSTEM_THRESHOLD: usize = 32 << 20;

/// What became of glibc's thresholds.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Thresholds {
    /// Nothing decided yet: the first strand applies the default.
    Undecided,
    /// Left as glibc (or the process) has them, for now: [`enable`] may still fix them.
    LeftAlone,
    /// Left alone for good: [`set_system_threshold`]`(None)` said so.
    Refused,
    /// Fixed at this many bytes (or, off glibc, recorded and not applicable).
    Fixed(usize),
}

/// Decided once, under a lock (only strand beginnings and the setter take it, and only
/// until it is decided: [`prepare`] reads `DECIDED` first).
static THRESHOLDS: Mutex<Thresholds> = Mutex::new(Thresholds::Undecided);
static DECIDED: AtomicBool = AtomicBool::new(false);

/// Sets glibc's trim and mapping thresholds to `bytes` now (`Some`, whatever
/// [`SYSTEM_THRESHOLD_ENV`] says: the program asks), or keeps [`enable`] and the first
/// strand from setting them (`None`; refused once they are fixed: glibc's own adjustment
/// cannot be turned back on). Only a later `Some` from the program sets them then. See the module
/// documentation for what the thresholds do and why the library sets them.
///
/// `bytes` must be between 4 KiB and 32 MiB, the largest mapping threshold glibc takes.
/// Off glibc (or under Miri) the setting is recorded and does nothing.
///
/// ```
/// // Keep glibc's own, adjusting, thresholds (before any strand begins):
/// strand_alloc::trim::set_system_threshold(None).unwrap();
/// assert_eq!(strand_alloc::trim::system_threshold(), None);
/// // A bad size is a clear error, and changes nothing.
/// assert!(strand_alloc::trim::set_system_threshold(Some(64 << 20)).is_err());
/// ```
pub fn set_system_threshold(bytes: Option<usize>) -> Result<(), ConfigError> {
    if let Some(b) = bytes {
        check(b)?;
    }
    let mut t = THRESHOLDS.lock().unwrap_or_else(|e| e.into_inner());
    *t = match (bytes, *t) {
        (Some(b), _) => {
            apply(b);
            Thresholds::Fixed(b)
        }
        (None, Thresholds::Fixed(fixed)) => {
            return Err(ConfigError::SystemThresholdFixed { bytes: fixed });
        }
        (None, _) => Thresholds::Refused,
    };
    DECIDED.store(true, Relaxed);
    Ok(())
}

/// Refuses a threshold glibc would not take, or one too small to mean anything.
fn check(bytes: usize) -> Result<(), ConfigError> {
    if (4096..=MAX_SYSTEM_THRESHOLD).contains(&bytes) {
        return Ok(());
    }
    Err(ConfigError::OutOfRange {
        what: "the system allocator threshold",
        input: bytes.to_string(),
        reason: format!(
            "it must be between 4096 and {MAX_SYSTEM_THRESHOLD} bytes (glibc takes no \
             larger mapping threshold)"
        ),
    })
}

/// The threshold the library gave glibc, if it gave one.
pub fn system_threshold() -> Option<usize> {
    match *THRESHOLDS.lock().unwrap_or_else(|e| e.into_inner()) {
        Thresholds::Fixed(b) => Some(b),
        Thresholds::Undecided | Thresholds::LeftAlone | Thresholds::Refused => None,
    }
}

/// Applies the thresholds [`SYSTEM_THRESHOLD_ENV`] asks for when the first strand begins,
/// unless something was decided already: one relaxed load once decided. Fails, deciding nothing, when
/// [`SYSTEM_THRESHOLD_ENV`] cannot be read; every strand's beginning then fails the same
/// way until it is fixed or [`set_system_threshold`] decides.
#[inline]
pub(crate) fn prepare() -> Result<(), ConfigError> {
    if DECIDED.load(Relaxed) {
        return Ok(());
    }
    prepare_slow()
}

#[cold]
fn prepare_slow() -> Result<(), ConfigError> {
    let mut t = THRESHOLDS.lock().unwrap_or_else(|e| e.into_inner());
    if *t == Thresholds::Undecided {
        // Only the environment's explicit size fixes them here; nothing by default.
        *t = match from_env()? {
            Some(Some(b)) => {
                apply(b);
                Thresholds::Fixed(b)
            }
            Some(None) => Thresholds::Refused,
            None => Thresholds::LeftAlone,
        };
    }
    DECIDED.store(true, Relaxed);
    Ok(())
}

/// Reads [`SYSTEM_THRESHOLD_ENV`] and says whether it can be used, deciding nothing: for
/// a program that checks its settings before it starts work (an unreadable value would
/// otherwise fail the first strand's beginning).
pub fn check_env() -> Result<(), ConfigError> {
    from_env().map(|_| ())
}

/// The environment variable that chooses the thresholds without code: `off` leaves
/// glibc's own, a size (`512KiB`, `1MiB`, `1048576`) fixes them there.
pub const SYSTEM_THRESHOLD_ENV: &str = "STRAND_ALLOC_SYSTEM_THRESHOLD";

/// How errors name [`SYSTEM_THRESHOLD_ENV`], with what it takes.
const ENV_WHAT: &str = "STRAND_ALLOC_SYSTEM_THRESHOLD (off, or a size)";

/// What [`SYSTEM_THRESHOLD_ENV`] asks for: `None` when it is not set, `Some(None)` for
/// `off`, `Some(Some(bytes))` for a size. An unreadable or out-of-range value is an error
/// that quotes it.
fn from_env() -> Result<Option<Option<usize>>, ConfigError> {
    let text = match std::env::var(SYSTEM_THRESHOLD_ENV) {
        Ok(text) => text,
        Err(std::env::VarError::NotPresent) => return Ok(None),
        Err(std::env::VarError::NotUnicode(raw)) => {
            return Err(ConfigError::BadSize {
                what: ENV_WHAT,
                input: raw.to_string_lossy().into_owned(),
                reason: "not valid Unicode",
            })
        }
    };
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(Some(None));
    }
    let bytes = crate::config::parse_size(ENV_WHAT, &text)?;
    check(bytes).map_err(|e| match e {
        ConfigError::OutOfRange { reason, .. } => ConfigError::OutOfRange {
            what: SYSTEM_THRESHOLD_ENV,
            input: format!("{text:?}"),
            reason,
        },
        other => other,
    })?;
    Ok(Some(Some(bytes)))
}

/// Whether the process set glibc's thresholds itself, through the environment glibc
/// reads at start-up.
fn process_chose_thresholds() -> bool {
    std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_some()
        || std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
        || std::env::var("GLIBC_TUNABLES")
            .is_ok_and(|t| t.contains("trim_threshold") || t.contains("mmap_threshold"))
}

/// Gives glibc `bytes` as its trim and mapping thresholds (a checked range).
fn apply(bytes: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    {
        extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
        const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
        let value = std::ffi::c_int::try_from(bytes).unwrap_or(std::ffi::c_int::MAX);
        // SAFETY: `mallopt` takes no pointers; it changes glibc's parameters under
        // glibc's own lock and may be called from any thread at any time. Both values
        // are in the range glibc accepts (checked by the callers).
        unsafe {
            mallopt(M_TRIM_THRESHOLD, value);
            mallopt(M_MMAP_THRESHOLD, value);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", not(miri))))]
    let _ = bytes;
}
