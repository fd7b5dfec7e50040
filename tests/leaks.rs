//! A counting global allocator shows no bytes outstanding once strands are done and idle
//! arenas are released: every value, including heap strings adopted into arena variants,
//! is freed exactly once.
//!
//! One test function per binary, so no other test allocates while it measures.

mod common;
use common::*;
#[cfg(not(miri))]
use strand_alloc::Builder;
use strand_alloc::{Config, PortableVariant, Strand, ValueAllocator};

#[path = "support/counting.rs"]
mod counting;
use counting::{outstanding, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Work touching every kind of allocation a strand can make.
fn workload<A: ValueAllocator>(s: &Strand<A>, n: usize) {
    let mut keep = Vec::new();
    for i in 0..50 {
        keep.push(s.str(&text(n, i, 10 + i * 5)));
    }
    let adopted = s.import(
        PortableVariant::new(
            5,
            vec!["heap string inside an arena variant".into(), 3.into()],
        )
        .into(),
    );
    let nested = s.variant(1, [s.str("a").into(), adopted, s.bytes(&[9; 100]).into()]);
    let copy = s.export(&nested.clone().into());
    let mut v = allocator_api2::vec::Vec::new_in(s.allocator());
    v.extend(0..if cfg!(miri) { 100 } else { 1000u64 });
    drop(copy);
    drop(nested);
    drop(keep);
}

fn plain_threads<A: ValueAllocator>() {
    let run = || {
        // All three threads' strands hold a statistics slot at once in every run, so the
        // first run creates as many slots as any later run needs (slots are kept for
        // reuse).
        let together = std::sync::Arc::new(std::sync::Barrier::new(3));
        let threads: Vec<_> = (0..3)
            .map(|t| {
                let together = together.clone();
                std::thread::spawn(move || {
                    let cfg = Config::default().with_threshold(4096).unwrap();
                    let s = Strand::<A>::local_with(cfg).unwrap();
                    workload(&s, t * 10);
                    together.wait();
                    for n in 1..if cfg!(miri) { 2 } else { 5 } {
                        workload(&s, t * 10 + n);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        A::release_idle();
    };
    // Warm-up: statistics slots are created once and then reused; two runs reach the
    // most any run needs.
    run();
    run();
    let before = outstanding();
    run();
    let after = outstanding();
    assert_eq!(
        after - before,
        0,
        "{}: bytes outstanding after plain threads",
        A::NAME
    );
}

/// Runs measured: enough that leaking one small allocation per strand per run (64 × RUNS
/// × 10 bytes at least, 15,360) stands well clear of May's own run-to-run noise.
#[cfg(not(miri))]
const RUNS: usize = 24;

#[cfg(not(miri))]
fn may_strands<A: ValueAllocator>() {
    setup();
    let release_everywhere = || {
        A::release_idle();
        for _ in 0..8 {
            let hs: Vec<_> = (0..4)
                // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
                .map(|_| unsafe { Builder::<A>::new().spawn(|_| A::release_idle()) }.unwrap())
                .collect();
            hs.into_iter().for_each(join);
            if strand_alloc::stats::<A>().totals.reserved == 0 {
                break;
            }
        }
    };
    let run = || {
        let hs: Vec<_> = (0..64)
            .map(|n| {
                // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
                unsafe {
                    Builder::<A>::new()
                        .config(Config::default().with_threshold(8192).unwrap())
                        .spawn(move |s| {
                            workload(s, n);
                            hop();
                            workload(s, n + 1);
                        })
                }
                .unwrap()
            })
            .collect();
        hs.into_iter().for_each(join);
        release_everywhere();
    };
    run();
    run();
    // Every strand's figures live in a slot of the registry, kept for reuse: as many
    // slots as strands were ever alive at once. Make more exist than any run has alive
    // at once, so a run whose strands happen to overlap more than the warm-up runs' did
    // is not counted as a leak.
    let go = std::sync::Arc::new(may::sync::SyncFlag::new());
    let waiting: Vec<_> = (0..80)
        .map(|_| {
            let go = go.clone();
            // SAFETY: the closure uses no thread-locals and nothing `!Send`.
            unsafe { Builder::<A>::new().spawn(move |_| go.wait()) }.unwrap()
        })
        .collect();
    go.fire();
    waiting.into_iter().for_each(join);
    let before = outstanding();
    for _ in 0..RUNS {
        run();
    }
    let after = outstanding();
    let totals = strand_alloc::stats::<A>().totals;
    assert_eq!(
        (totals.used, totals.reserved),
        (0, 0),
        "{}: arena bytes left",
        A::NAME
    );
    // May's own bookkeeping (timers, queues, its coroutine pool) moves the heap by a few
    // KiB from run to run, without growing (2,088 and 3,120 bytes seen). Leaking one small
    // allocation per strand per run would add at least 64 * RUNS * 10 = 15,360.
    assert!(
        after - before < 8192,
        "{}: {} bytes more outstanding after {RUNS} runs",
        A::NAME,
        after - before
    );
}

fn both<A: ValueAllocator>() {
    plain_threads::<A>();
    #[cfg(not(miri))]
    may_strands::<A>();
}

#[test]
fn nothing_is_left_outstanding() {
    for_each_backend!(both);
}
