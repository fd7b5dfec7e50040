//! The pattern of a server's connections: many long-lived strands on one OS thread, each
//! allocating a burst of values, dropping them all, and going idle until its next burst.
//! On the real heap (a counting global allocator), at the default 10 MiB threshold, an
//! arena backend must reset its memory in place as the bursts end, not fill generation
//! after generation up to the threshold: the heap stays within 2 MiB while over 150 MiB are
//! allocated, with no rotation. (thread-arena once kept every idle strand's hold on the
//! thread's generation, so it was never free to reset: 20 MiB and more, rotating.)
//!
//! One test function per binary, so nothing else allocates while it measures.
// The arenas' memory: nothing to run with global-malloc alone.
#![cfg(all(not(miri), any(feature = "thread-arena", feature = "strand-arena")))]

mod common;
use strand_alloc::{Config, Strand, ValueAllocator};

#[path = "support/counting.rs"]
mod counting;
use counting::{outstanding, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

const STRANDS: usize = 16;
const BURSTS: usize = 20_000;
const BOUND: isize = 2 << 20;

fn bursts<A: ValueAllocator>() {
    let cfg = Config::default();
    assert_eq!(
        cfg.threshold(),
        10 << 20,
        "measured at the default threshold"
    );
    let strands: Vec<Strand<A>> = (0..STRANDS)
        .map(|_| Strand::<A>::local_with(cfg).unwrap())
        .collect();
    for s in &strands {
        drop(s.str("warm"));
    }
    let base = outstanding();
    let mut peak = 0;
    let mut bytes = 0;
    for b in 0..BURSTS {
        let s = &strands[b % STRANDS];
        let burst: Vec<_> = (0..32).map(|i| s.str(&common::text(b, i, 250))).collect();
        bytes += burst.iter().map(|v| v.len()).sum::<usize>();
        drop(burst);
        peak = peak.max(outstanding() - base);
    }
    let f = strand_alloc::stats::<A>().totals;
    eprintln!(
        "{}: {} MiB allocated in bursts, heap peak +{} KiB, {} resets when emptied, {} rotations",
        A::NAME,
        bytes >> 20,
        peak >> 10,
        f.resets_emptied,
        f.rotations
    );
    assert!(bytes > 150 << 20);
    assert!(
        peak <= BOUND,
        "{}: the heap grew by {peak} bytes, over {BOUND}",
        A::NAME
    );
    assert!(f.resets_emptied > 0, "{}: {f:?}", A::NAME);
    assert_eq!(f.rotations, 0, "{}: {f:?}", A::NAME);
}

#[test]
fn strands_allocating_in_bursts_keep_the_arena_small() {
    #[cfg(feature = "thread-arena")]
    bursts::<strand_alloc::ThreadArena>();
    #[cfg(feature = "strand-arena")]
    bursts::<strand_alloc::StrandArena>();
}
