//! Strands forced to move between OS threads keep every value intact, and the migration
//! figures count exactly the moves the strands made between allocations, and on a
//! thread-bound backend exactly the live bytes they left on threads they had moved from.
//! Those figures are the full level's: strands of `FullFigures<A>` count them in every
//! build, strands of `A` only with `full-figures`; otherwise they stay zero while the
//! strands move just as much. Each test runs every backend at both levels and checks
//! both ways.
#![cfg(not(miri))]

mod common;
use common::*;
use strand_alloc::allocator::full_level;
use strand_alloc::{thread::thread_index, Builder, FullFigures, Str, ValueAllocator};

const STRANDS: usize = 8;

/// What a migration figure of a strand of `A` reads: `n` at the full level of figures,
/// zero without it.
fn full<A: ValueAllocator, T: Default>(n: T) -> T {
    if full_level::<A>() {
        n
    } else {
        T::default()
    }
}
const ROUNDS: usize = 400;

fn forced_migration<A: ValueAllocator>() {
    setup();
    let handles: Vec<_> = (0..STRANDS)
        .map(|s| {
            // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
            unsafe {
                Builder::<A>::new()
                    .name(format!("hopper-{s}"))
                    .spawn(move |strand| {
                        let mut kept: Vec<Str<'_, A>> = Vec::new();
                        let mut threads = std::collections::BTreeSet::new();
                        let mut moves = 0u64;
                        let mut last = None;
                        // Bytes kept, by the thread they were allocated on, and the most
                        // of them ever away from the thread the strand was on: what a
                        // thread-bound backend must report as its peak stranded bytes.
                        let mut by_thread = std::collections::BTreeMap::<u32, u64>::new();
                        let mut total = 0u64;
                        let mut peak_away = 0u64;
                        let mut away_from =
                            |here: u32, by: &std::collections::BTreeMap<u32, u64>, total: u64| {
                                peak_away =
                                    peak_away.max(total - by.get(&here).copied().unwrap_or(0));
                            };
                        for i in 0..ROUNDS {
                            let here = thread_index();
                            threads.insert(here);
                            if last.is_some_and(|l| l != here) {
                                moves += 1;
                            }
                            last = Some(here);
                            let len = 8 + (i * 13) % 200;
                            kept.push(strand.str(&text(s, i, len)));
                            *by_thread.entry(here).or_insert(0) += len as u64;
                            total += len as u64;
                            away_from(here, &by_thread, total);
                            hop();
                            // every value so far, read back after the move
                            for (j, v) in kept.iter().enumerate() {
                                assert_eq!(v.as_str(), text(s, j, 8 + (j * 13) % 200));
                            }
                        }
                        // The values are released where the strand ends up, which the
                        // figures do not look at: they know where it last allocated.
                        drop(kept);
                        assert_eq!(strand.stats().stranded, 0, "nothing stranded once released");
                        (moves, threads, peak_away)
                    })
            }
            .unwrap()
        })
        .collect();
    let mut total = 0;
    let mut peaks = 0;
    let mut threads = std::collections::BTreeSet::new();
    for h in handles {
        let ((moves, t, peak_away), report) = join_report(h);
        assert_eq!(
            report.full_level,
            full_level::<A>(),
            "the report says its level"
        );
        peaks += report.figures.peak_stranded;
        assert_eq!(
            report.figures.migrations,
            full::<A, _>(moves),
            "migrations counted exactly"
        );
        assert_eq!(report.figures.allocs, ROUNDS as u64);
        if A::THREAD_BOUND {
            assert_eq!(
                report.figures.peak_stranded,
                full::<A, _>(peak_away as i64),
                "stranded bytes are exactly the live bytes left on other threads"
            );
            if moves > 0 {
                assert!(peak_away > 0);
            }
        } else {
            assert_eq!(report.figures.peak_stranded, 0);
        }
        total += moves;
        threads.extend(t);
    }
    eprintln!(
        "{}: {total} migrations over {} threads",
        A::NAME,
        threads.len()
    );
    // The process-wide peak sums the strands' peaks (other tests of this binary may add
    // their own).
    assert!(strand_alloc::stats::<A>().totals.peak_stranded >= peaks);
    // A hop lands on either worker, so about half of them move; how many do depends on
    // the machine's load. The exact count is checked per strand above; here it is enough
    // that moves happened, many times over.
    let hops = (STRANDS * ROUNDS) as u64;
    assert!(total >= hops / 10, "only {total} migrations in {hops} hops");
    assert!(threads.len() >= 2, "strands ran on {threads:?}");
}

/// Runs `$f` on every backend at the production level of the build and at the full
/// level (`FullFigures`).
macro_rules! at_both_levels {
    ($f:ident) => {{
        fn both<A: ValueAllocator>() {
            $f::<A>();
            eprintln!("-- {} at the full level (FullFigures)", A::NAME);
            $f::<FullFigures<A>>();
        }
        for_each_backend!(both);
    }};
}

#[test]
fn forced_migration_keeps_every_value() {
    at_both_levels!(forced_migration);
}

/// Large values (on the heap) and allocator-api2 memory sit in no thread's arena: their
/// release leaves the stranded figure of the arena values alone.
#[cfg(feature = "thread-arena")]
#[test]
fn heap_values_do_not_disturb_the_stranded_figure() {
    heap_values::<strand_alloc::ThreadArena>();
    heap_values::<FullFigures<strand_alloc::ThreadArena>>();
}

#[cfg(feature = "thread-arena")]
fn heap_values<A: ValueAllocator>() {
    setup();
    // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a hop.
    let h = unsafe {
        Builder::<A>::new().spawn(|s| {
            let kept = s.str(&"k".repeat(1000));
            let big = s.str(&"B".repeat(s.config().large_value_size() + 1));
            drop(big);
            let mut pinned =
                allocator_api2::vec::Vec::<u8, _>::with_capacity_in(900, s.allocator());
            pinned.push(1);
            drop(pinned);
            let start = thread_index();
            for _ in 0..200 {
                hop();
                if thread_index() != start {
                    break;
                }
            }
            if thread_index() == start {
                return None; // never moved: nothing to check
            }
            let v = s.str("here");
            let stranded = s.stats().stranded;
            drop((v, kept));
            Some(stranded)
        })
    }
    .unwrap();
    if let Some(stranded) = join(h) {
        assert_eq!(
            stranded,
            full::<A, _>(1000),
            "exactly the arena value left behind"
        );
    }
}

fn released_where_made<A: ValueAllocator>() {
    setup();
    // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a
    // point where the strand can move.
    let h = unsafe {
        Builder::<A>::new().spawn(|s| {
            let mut seen = std::collections::BTreeSet::new();
            for round in 0..10 {
                let here = thread_index();
                seen.insert(here);
                // Made and released on the same thread: nothing stays there.
                let v: Vec<_> = (0..10).map(|i| s.str(&text(round, i, 100))).collect();
                drop(v);
                let mut hops = 0;
                while thread_index() == here {
                    hop();
                    hops += 1;
                    assert!(hops < 1000, "never moved");
                }
                // An allocation on the new thread counts the move (kept while the figures
                // are read: stranded bytes are reported as at most the used ones).
                let x = s.str(&text(round, 99, 100));
                let f = s.stats();
                assert_eq!(
                    f.stranded,
                    0,
                    "{} round {round}: left on {here}: {f:?}",
                    A::NAME
                );
                drop(x);
            }
            seen.len()
        })
    }
    .unwrap();
    assert_eq!(join(h), 2, "both workers were used");
}

#[test]
fn values_released_where_they_were_made_leave_nothing_stranded() {
    at_both_levels!(released_where_made);
}

/// Hops until the strand runs on `thread` (or on any other thread than `thread` when
/// `away`). Two workers: the scheduler moves the strand sooner or later.
fn hop_until(thread: u32, away: bool) {
    let mut hops = 0;
    while (thread_index() == thread) == away {
        hop();
        hops += 1;
        assert!(hops < 10_000, "the strand never reached the thread");
    }
}

/// Values left on one thread, then released from another, come off the stranded figure
/// exactly, value by value, and a move back makes the first thread's values local again.
fn stranded_then_released<A: ValueAllocator>() {
    setup();
    // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a
    // point where the strand can move.
    let h = unsafe {
        Builder::<A>::new().spawn(|s| {
            let bound = |n: i64| if A::THREAD_BOUND { full::<A, _>(n) } else { 0 };
            let first = thread_index();
            let a = s.str(&"a".repeat(100));
            let b = s.str(&"b".repeat(50));
            hop_until(first, true);
            let c = s.str(&"c".repeat(1000));
            assert_eq!(s.stats().stranded, bound(150), "a and b left behind");
            drop(a);
            assert_eq!(s.stats().stranded, bound(50), "a released elsewhere");
            hop_until(first, false);
            let d = s.str("dd");
            let f = s.stats();
            assert_eq!((f.used, f.stranded), (1052, bound(1000)), "back: c left");
            drop(c);
            assert_eq!(s.stats().stranded, 0, "c released elsewhere");
            drop((b, d));
            let f = s.stats();
            assert_eq!((f.used, f.stranded), (0, 0));
        })
    }
    .unwrap();
    join(h);
}

#[test]
fn stranded_values_released_elsewhere_come_off_exactly() {
    at_both_levels!(stranded_then_released);
}
