//! The memory an arena owner reserves, measured on the real heap (a counting global
//! allocator), on every backend whose values live in an arena:
//!
//! - while a strand churns through many generations and keeps a few values across them,
//!   the heap holds at most `Config::generation_limit` for the current generation plus
//!   the generations live values still hold, which the statistics report as `retired`;
//! - right after a value larger than the threshold, the only extra is that value (it
//!   lives on the heap, apart from the arena) and it goes when it drops;
//! - a positive control: pinning every generation grows the heap far past the limit, and
//!   `retired` accounts for all of it;
//! - when the strand ends, the heap is back where it started.
//!
//! One test function per binary, so nothing else allocates while it measures.
// The arenas' memory: nothing to run with global-malloc alone.
#![cfg(all(not(miri), any(feature = "thread-arena", feature = "strand-arena")))]

mod common;
use strand_alloc::{Config, Str, Strand, ValueAllocator};

#[path = "support/counting.rs"]
mod counting;
use counting::{outstanding, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn heap() -> isize {
    outstanding()
}

const T: usize = 256 * 1024;
/// Bookkeeping besides the chunks: the strand's hold or slot tables.
const OVERHEAD: isize = 16 * 1024;
const ROUNDS: usize = 300;

fn retired<A: ValueAllocator>() -> isize {
    strand_alloc::stats::<A>().totals.retired as isize
}

/// Churns through many generations; `pin_all` keeps one value of every round, so that
/// every generation stays held.
fn churn<A: ValueAllocator>(pin_all: bool) -> (isize, isize) {
    let cfg = Config::default().with_threshold(T).unwrap();
    let limit = cfg.generation_limit() as isize;
    let s = Strand::<A>::local_with(cfg).unwrap();
    let payload = "x".repeat(1024);
    let mut kept: Vec<Str<'_, A>> = Vec::with_capacity(ROUNDS + 1);
    let mut batch: Vec<Str<'_, A>> = Vec::with_capacity(64);
    // The first allocation sets up what every later one shares (under `checked`, the
    // first segment of the tag table).
    drop(s.str("warm"));
    let base = heap();
    let (mut max_delta, mut max_retired) = (0, 0);
    for round in 0..ROUNDS {
        for i in 0..64 {
            batch.push(s.str(&payload[..200 + (round * 7 + i * 13) % 800]));
        }
        // A window of values held across rounds, so generations are rotated out while
        // values still hold them.
        if pin_all || round % 8 == 0 {
            kept.push(batch.pop().unwrap());
        }
        if !pin_all && kept.len() > 4 {
            kept.remove(0);
        }
        batch.clear();
        let delta = heap() - base;
        let retired = retired::<A>();
        max_delta = max_delta.max(delta);
        max_retired = max_retired.max(retired);
        assert!(
            delta - retired <= limit + OVERHEAD,
            "{} round {round}: heap +{delta}, of which retired {retired}, over the limit {limit}",
            A::NAME
        );
    }
    let f = s.stats();
    assert!(
        f.rotations > 0,
        "{}: generations were rotated out: {f:?}",
        A::NAME
    );

    // One value larger than the threshold: on the heap, apart from the arena.
    let big_text = "B".repeat(3 * T);
    let before = heap();
    let big = s.str(&big_text);
    let grown = heap() - before;
    assert!(
        (3 * T as isize..3 * T as isize + OVERHEAD).contains(&grown),
        "{}: the large value took {grown} bytes",
        A::NAME
    );
    assert_eq!(s.stats().large_values, 1);
    let delta = heap() - base - big_text.len() as isize - grown;
    assert!(
        delta - retired::<A>() <= limit + OVERHEAD,
        "{}: after a large value the arena holds {delta}",
        A::NAME
    );
    assert_eq!(big.len(), 3 * T);
    drop(big);
    assert!(
        heap() - before <= OVERHEAD,
        "{}: the large value went",
        A::NAME
    );
    for (i, v) in kept.iter().enumerate() {
        assert!(
            v.len() >= 200 && v.as_str().bytes().all(|b| b == b'x'),
            "value {i}"
        );
    }
    drop(kept);
    (max_delta, max_retired)
}

fn bounded<A: ValueAllocator>() {
    // A fresh OS thread for each run: its arena, spare and statistics are this test's.
    // What the first strand sets up for all later ones (statistics slots; under
    // `checked`, the first segment of the tag table) is made before measuring.
    std::thread::spawn(|| drop(Strand::<A>::local().unwrap().str("warm")))
        .join()
        .unwrap();
    A::release_idle();
    let start = heap();
    let (delta, retired) = std::thread::spawn(|| churn::<A>(false)).join().unwrap();
    let limit = Config::default()
        .with_threshold(T)
        .unwrap()
        .generation_limit() as isize;
    eprintln!(
        "{}: window: heap up to +{delta}, retired up to {retired}",
        A::NAME
    );
    // Every byte back, but for what the pool or spare is allowed to keep warm.
    let all_back = || {
        A::release_idle();
        let end = heap() - start;
        assert!(
            end <= OVERHEAD,
            "{}: {end} bytes left after the strand",
            A::NAME
        );
    };
    all_back();

    // The positive control: with every generation pinned the heap grows far past one
    // limit, and the check above still holds because `retired` counts them.
    let (delta, retired) = std::thread::spawn(|| churn::<A>(true)).join().unwrap();
    eprintln!(
        "{}: pinned: heap up to +{delta}, retired up to {retired}",
        A::NAME
    );
    assert!(
        delta > 4 * limit,
        "{}: pinning every generation grew the heap by only {delta}",
        A::NAME
    );
    assert!(retired > 3 * limit, "{}: retired {retired}", A::NAME);
    all_back();
}

#[test]
fn arena_memory_stays_within_the_generation_limit_on_the_real_heap() {
    #[cfg(feature = "thread-arena")]
    bounded::<strand_alloc::ThreadArena>();
    #[cfg(feature = "strand-arena")]
    bounded::<strand_alloc::StrandArena>();
}
