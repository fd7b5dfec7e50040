//! Giving freed memory back to the operating system.
//!
//! Arena chunks and large values go back to the global allocator when they are freed. The
//! system allocator of glibc keeps much of what it is given back for reuse, so a process
//! whose strands once allocated a lot could keep that memory resident long after. To
//! avoid that, the library counts the bytes of arena chunks and large values it frees,
//! and after every [`step`] of them (32 MiB by default) asks glibc to return free memory
//! to the operating system (`malloc_trim(0)`), on the thread that freed the last of them.
//! That call takes a few milliseconds on a large heap, which is why it runs only after a
//! step of frees, and only where memory is released (a value's release, a strand's
//! exit or reset), never on an allocation's path: memory an allocation frees (a
//! generation reset at the threshold) is counted towards the next trim.
//!
//! global-malloc frees every value on drop and counts none of this unless asked
//! ([`set_count_global_malloc`]): counting costs an atomic addition per value.
//!
//! On other platforms, or with another global allocator (which returns memory by its
//! own rules), the count is kept and trimming does nothing.
//!
//! ```
//! // Trim after every 8 MiB freed instead of 32, or never:
//! strand_alloc::trim::set_step(Some(8 << 20));
//! strand_alloc::trim::set_step(None);
//! # strand_alloc::trim::set_step(Some(strand_alloc::trim::DEFAULT_STEP));
//! ```

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// Bytes freed between two trims unless [`set_step`] says otherwise: 32 MiB.
pub const DEFAULT_STEP: usize = 32 << 20;

/// The step; 0 when trimming is off.
static STEP: AtomicUsize = AtomicUsize::new(DEFAULT_STEP);
/// Bytes freed since the last trim.
static FREED: AtomicUsize = AtomicUsize::new(0);
/// Trims done.
static TRIMS: AtomicUsize = AtomicUsize::new(0);
static GLOBAL_MALLOC: AtomicBool = AtomicBool::new(false);

/// Sets how many freed bytes lead to a trim (`None` turns trimming off).
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
