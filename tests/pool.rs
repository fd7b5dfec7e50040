//! strand-arena's pool of warm arenas: an ended strand's arena is kept only when it
//! allocated something, is at most `POOLED_ARENA_MAX`, and the pool is under its
//! capacity; the next strand takes it; the pooled bytes are counted as reserved for no
//! strand in particular, and `release_idle` frees them. Runs under Miri (no May).
//!
//! One test function per binary: the pool is process-wide.
#![cfg(feature = "strand-arena")]

use strand_alloc::backends::strand_arena::{pooled_arenas, POOLED_ARENA_MAX};
use strand_alloc::{stats, Config, Strand, StrandArena, ValueAllocator};

fn shared() -> i64 {
    stats::<StrandArena>().shared.reserved
}

#[test]
fn the_pool_keeps_small_used_arenas_up_to_its_capacity() {
    let cfg = Config::default().with_pool_capacity(2);
    // A strand that holds `n` 4,000-byte strings until it ends.
    let text = "p".repeat(4000);
    let holding = |n: usize| {
        let s = Strand::<StrandArena>::local_with(cfg).unwrap();
        let held: Vec<_> = (0..n).map(|_| s.str(&text)).collect();
        drop(held);
    };
    StrandArena::release_idle();
    assert_eq!((pooled_arenas(), shared()), (0, 0));
    // A strand that allocated nothing: nothing worth keeping.
    drop(Strand::<StrandArena>::local_with(cfg).unwrap());
    assert_eq!(pooled_arenas(), 0, "an unused arena is not pooled");
    // Three small arenas ended, capacity two: two kept.
    let (a, b, c) = (
        Strand::<StrandArena>::local_with(cfg).unwrap(),
        Strand::<StrandArena>::local_with(cfg).unwrap(),
        Strand::<StrandArena>::local_with(cfg).unwrap(),
    );
    for s in [&a, &b, &c] {
        drop(s.str("keep me warm"));
    }
    drop((a, b, c));
    assert_eq!(pooled_arenas(), 2, "the pool holds its capacity, no more");
    let pooled_bytes = shared();
    assert!(
        pooled_bytes > 0 && pooled_bytes <= 2 * POOLED_ARENA_MAX as i64,
        "{pooled_bytes}"
    );
    // The next strand takes one; its end puts it back.
    let taker = Strand::<StrandArena>::local_with(cfg).unwrap();
    assert_eq!(
        pooled_arenas(),
        1,
        "a beginning strand takes a pooled arena"
    );
    assert!(shared() < pooled_bytes, "and its bytes become the strand's");
    drop(taker.str("x"));
    drop(taker);
    assert_eq!(pooled_arenas(), 2);
    // Freed on request: nothing pooled, nothing reserved for no strand.
    StrandArena::release_idle();
    assert_eq!((pooled_arenas(), shared()), (0, 0));
    // An arena that grew past the pool's size goes back to the allocator.
    holding(2 * POOLED_ARENA_MAX / 4000);
    assert_eq!(
        pooled_arenas(),
        0,
        "an arena over {POOLED_ARENA_MAX} bytes is not pooled"
    );
    holding(2);
    assert_eq!(pooled_arenas(), 1, "a small one is");
    // A pooled arena larger than a beginning strand's generation limit (pooled by a
    // strand with a larger threshold) is freed, not reused.
    StrandArena::release_idle();
    holding(12);
    assert_eq!(pooled_arenas(), 1);
    let pooled = shared() as usize;
    let tight = cfg.with_threshold(16 * 1024).unwrap();
    assert!(pooled > tight.generation_limit(), "{pooled}");
    let s = Strand::<StrandArena>::local_with(tight).unwrap();
    assert_eq!(pooled_arenas(), 0, "taken from the pool");
    assert!(
        (s.stats().reserved as usize) < pooled,
        "and freed: the strand did not inherit {pooled} bytes: {:?}",
        s.stats()
    );
    drop(s);
    // Capacity zero: nothing pooled at all.
    StrandArena::release_idle();
    let none = Config::default().with_pool_capacity(0);
    let s = Strand::<StrandArena>::local_with(none).unwrap();
    drop(s.str("x"));
    drop(s);
    assert_eq!(pooled_arenas(), 0);
}
