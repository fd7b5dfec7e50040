//! Memory goes back to the operating system when the program opts in
//! (`strand_alloc::trim::enable`, one call before its first strand): after strands that
//! allocated 1 GiB between them have exited, the process's resident set is back within
//! 1.25x of what it was before the spike within one second. (Left alone, glibc keeps
//! such memory: `tests/system_threshold.rs` shows both ways on one pattern.) Run on both
//! arena backends, each in this process of its own (the test binary), one after the
//! other, with values of 4 KiB and of 100 bytes. The small values matter: the handles of
//! 10 million of them take 320 MiB of the program's own heap on the worker threads,
//! which glibc keeps on those threads' heaps unless its thresholds are fixed
//! (`strand_alloc::trim::set_system_threshold`, `tests/system_threshold.rs`).
#![cfg(all(
    not(miri),
    target_os = "linux",
    any(feature = "thread-arena", feature = "strand-arena")
))]

mod common;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strand_alloc::{Builder, Str, ValueAllocator};

const STRANDS: usize = 64;
/// Bytes each strand allocates and holds: 64 × 16 MiB = 1 GiB.
const EACH: usize = 16 << 20;

/// Runs `STRANDS` strands that each allocate `bytes` in values of `value` bytes and hold
/// them until every strand has allocated, then exit.
fn wave<A: ValueAllocator>(bytes: usize, value: usize) {
    let text: Arc<str> = "v".repeat(value).into();
    let ready = Arc::new(AtomicUsize::new(0));
    let all = Arc::new(may::sync::SyncFlag::new());
    let handles: Vec<_> = (0..STRANDS)
        .map(|_| {
            let (text, ready, all) = (text.clone(), ready.clone(), all.clone());
            // SAFETY: the closure uses no thread-locals and holds nothing `!Send` across
            // a yield.
            unsafe {
                Builder::<A>::new().spawn(move |s| {
                    let held: Vec<Str<'_, A>> = (0..bytes / value).map(|_| s.str(&text)).collect();
                    // The last to be ready lets everyone go (waiting parks the strand, so
                    // the others get to run).
                    if ready.fetch_add(1, SeqCst) + 1 == STRANDS {
                        all.fire();
                    }
                    all.wait();
                    assert!(held.iter().all(|v| v.len() == value));
                })
            }
            .unwrap()
        })
        .collect();
    handles.into_iter().for_each(join);
    // Strands end just after their join is signalled; wait for every exit.
    let t = Instant::now();
    while strand_alloc::stats::<A>().live_strands > 0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn returns<A: ValueAllocator>(value: usize) {
    setup();
    // The same strands, allocating little: stacks, statistics slots and warm memory as
    // the spike will have them.
    wave::<A>(64 * value, value);
    wave::<A>(64 * value, value);
    std::thread::sleep(Duration::from_millis(100));
    let before = rss();
    let peak_before = strand_alloc::stats::<A>().totals.peak_used as u64;
    wave::<A>(EACH, value);
    let peak = strand_alloc::stats::<A>().totals.peak_used as u64;
    assert!(
        peak >= (STRANDS * EACH) as u64 / 2 && peak > peak_before,
        "{}: peak used {peak}",
        A::NAME
    );
    let t = Instant::now();
    let mut now = rss();
    while now as f64 > 1.25 * before as f64 && t.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(20));
        now = rss();
    }
    eprintln!(
        "{} ({value} B values): RSS {} MiB before, {} MiB {} ms after the strands of 1 GiB \
         ended ({} trims)",
        A::NAME,
        before >> 20,
        now >> 20,
        t.elapsed().as_millis(),
        strand_alloc::trim::trims()
    );
    assert!(
        now as f64 <= 1.25 * before as f64,
        "{} ({value} B values): RSS {now} one second after the spike, against {before} \
         before it",
        A::NAME
    );
}

#[test]
fn memory_goes_back_to_the_os_after_a_spike() {
    strand_alloc::trim::enable().unwrap();
    for value in [4096, 100] {
        #[cfg(feature = "thread-arena")]
        returns::<strand_alloc::ThreadArena>(value);
        #[cfg(feature = "strand-arena")]
        returns::<strand_alloc::StrandArena>(value);
    }
}
