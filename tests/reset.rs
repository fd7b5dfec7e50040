//! `Strand::reset` on every backend, measured on the real heap (a counting global
//! allocator): values leaked with `mem::forget` are given back by a reset on the arena
//! backends (and stay allocated on global-malloc, as any leaked heap value does); `used`
//! is zero afterwards, the reset is counted as explicit on the arenas, and round after
//! round of allocate, forget and reset the heap does not grow.
//!
//! One test function per binary, so nothing else allocates while it measures.
#![cfg(not(miri))]

mod common;
use strand_alloc::{Config, Strand, ValueAllocator};

#[path = "support/counting.rs"]
mod counting;
use counting::{outstanding, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

const VALUES: usize = 4_000;
const SIZE: usize = 200;
const ROUNDS: usize = 20;
/// What a reset may leave: one warm chunk (thread-arena keeps up to 256 KiB of it as its
/// thread's spare) and bookkeeping. A round leaks 800 KB, far more.
const SLACK: isize = 288 * 1024;

/// Allocates `VALUES` strings and forgets them; returns the heap's growth meanwhile.
fn leak_round<A: ValueAllocator>(s: &Strand<A>, text: &str) -> isize {
    let before = outstanding();
    for _ in 0..VALUES {
        std::mem::forget(s.str(text));
    }
    outstanding() - before
}

fn resets<A: ValueAllocator>() {
    let arena = A::NAME != "global-malloc";
    let cfg = Config::default().with_threshold(1 << 20).unwrap();
    let mut s = Strand::<A>::local_with(cfg).unwrap();
    let text = "r".repeat(SIZE);
    drop(s.str("warm"));
    // Nothing held and nothing to give back: a reset is not counted.
    let mut idle = Strand::<A>::local_with(cfg).unwrap();
    idle.reset();
    assert_eq!(idle.stats().resets(), 0, "{}: {:?}", A::NAME, idle.stats());
    drop(idle);
    let base = outstanding();
    let grew = leak_round(&s, &text);
    let f = s.stats();
    assert_eq!(f.used, (VALUES * SIZE) as i64, "{}: {f:?}", A::NAME);
    // Reserved by the strand or (thread-arena) by its thread, for no strand in particular.
    let reserved = strand_alloc::stats::<A>().totals.reserved;
    assert!(
        reserved >= f.used || !arena,
        "{}: {reserved} reserved",
        A::NAME
    );
    assert!(
        grew >= (VALUES * SIZE) as isize,
        "{}: the values are on the heap",
        A::NAME
    );
    s.reset();
    let g = s.stats();
    assert_eq!(
        g.used,
        0,
        "{}: nothing counts as used after a reset",
        A::NAME
    );
    assert_eq!(
        g.resets_explicit - f.resets_explicit,
        u64::from(arena),
        "{}: an explicit reset on the arenas, nothing to reset on the heap",
        A::NAME
    );
    assert_eq!(g.resets_threshold, f.resets_threshold);
    let after = outstanding() - base;
    if arena {
        assert!(
            after <= SLACK,
            "{}: {after} bytes still on the heap after the reset",
            A::NAME
        );
    } else {
        assert!(
            after >= (VALUES * SIZE) as isize,
            "global-malloc keeps leaked values: {after}"
        );
    }
    // Round after round: the arenas reuse what the reset kept, the heap does not grow.
    let mut peaks = Vec::new();
    for _ in 0..ROUNDS {
        let start = outstanding();
        leak_round(&s, &text);
        peaks.push(outstanding() - base);
        s.reset();
        if arena {
            assert!(outstanding() <= start + SLACK, "{}", A::NAME);
        }
    }
    if arena {
        let (first, last) = (peaks[0], *peaks.last().unwrap());
        assert!(
            last <= first + SLACK,
            "{}: the heap grew from {first} to {last} over {ROUNDS} resets",
            A::NAME
        );
        assert_eq!(s.stats().resets_explicit, 1 + ROUNDS as u64, "{}", A::NAME);
    }
    eprintln!(
        "{}: {} KiB leaked per round; after a reset {} KiB left; peaks {} .. {} KiB",
        A::NAME,
        grew >> 10,
        after >> 10,
        peaks[0] >> 10,
        peaks[ROUNDS - 1] >> 10
    );
}

#[test]
fn a_reset_gives_the_memory_back_and_the_next_round_reuses_it() {
    for_each_backend!(resets);
}
