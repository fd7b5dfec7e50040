//! The process-wide statistics (`strand_alloc::stats::<A>()`), checked exactly against
//! the strands' own figures: mid-run (non-zero used, allocations, live strands), during
//! a forced rotation (retired bytes, rotations), and by reset cause (threshold, explicit,
//! exit), then back to where they started once the strands end.
//!
//! One test function per binary, so no other strand changes the totals meanwhile.
#![cfg(not(miri))]

mod common;
use strand_alloc::{stats, Config, Figures, Str, Strand, ValueAllocator};

const T: usize = 64 * 1024;

fn delta(after: &Figures, before: &Figures) -> Figures {
    let mut d = *after;
    d.allocs = after.allocs - before.allocs;
    d.bytes_allocated = after.bytes_allocated - before.bytes_allocated;
    d.resets_threshold = after.resets_threshold - before.resets_threshold;
    d.resets_explicit = after.resets_explicit - before.resets_explicit;
    d.resets_exit = after.resets_exit - before.resets_exit;
    d.resets_emptied = after.resets_emptied - before.resets_emptied;
    d.rotations = after.rotations - before.rotations;
    d.strands_begun = after.strands_begun - before.strands_begun;
    d.strands_exited = after.strands_exited - before.strands_exited;
    d.used = after.used - before.used;
    d
}

fn exact<A: ValueAllocator>() {
    let arena = A::NAME != "global-malloc";
    let cfg = Config::default().with_threshold(T).unwrap();
    let b0 = stats::<A>();
    let mut a = Strand::<A>::local_with(cfg).unwrap();
    let b = Strand::<A>::local_with(cfg).unwrap();
    {
        // Both strands keep values in the same place (thread-arena: the thread's
        // generation), then `a` churns past the threshold while they are held.
        let kept_a: Vec<Str<'_, A>> = (0..10).map(|i| a.str(&common::text(1, i, 100))).collect();
        let kept_b: Vec<Str<'_, A>> = (0..20).map(|i| b.str(&common::text(2, i, 50))).collect();
        // A strand's own figures first: reading them publishes them (at the production
        // level, a running strand's figures reach the process-wide ones only so).
        let (fa, fb) = (a.stats(), b.stats());
        let mid = stats::<A>();
        let d = delta(&mid.totals, &b0.totals);
        assert_eq!(d.used, 10 * 100 + 20 * 50, "{}: {mid}", A::NAME);
        assert_eq!(d.used, fa.used + fb.used);
        assert_eq!(d.allocs, fa.allocs + fb.allocs);
        assert_eq!(d.allocs, 30);
        assert_eq!(d.bytes_allocated, 2000);
        assert_eq!(d.strands_begun, 2);
        assert_eq!(mid.live_strands - b0.live_strands, 2);
        // Peaks never below the gauges; a strand that reserves memory of its own (not
        // thread-arena, whose arena is its thread's) has a peak to show.
        for f in [&fa, &fb, &mid.totals] {
            assert!(
                f.peak_used >= f.used && f.peak_reserved >= f.reserved,
                "{f:?}"
            );
        }
        assert!(
            mid.totals.peak_reserved > 0 && mid.totals.peak_used > 0,
            "{mid}"
        );
        if A::NAME != "thread-arena" {
            assert!(fa.peak_reserved > 0 && fb.peak_reserved > 0, "{fa:?}");
        }
        assert_eq!((fa.peak_used, fb.peak_used), (1000, 1000));
        for round in 0..200 {
            drop(a.str(&common::text(3, round, 1000)));
        }
        let rotated = stats::<A>();
        let d = delta(&rotated.totals, &b0.totals);
        let (fa, fb) = (a.stats(), b.stats());
        assert_eq!(d.rotations, fa.rotations + fb.rotations, "{}", A::NAME);
        assert_eq!(
            d.resets_threshold,
            fa.resets_threshold + fb.resets_threshold
        );
        assert_eq!(d.resets_emptied, fa.resets_emptied + fb.resets_emptied);
        if arena {
            // The held values keep the first generation: rotated out, counted as retired.
            assert!(d.rotations >= 1, "{}: {rotated}", A::NAME);
            assert!(rotated.totals.retired > 0, "{}: {rotated}", A::NAME);
            assert!(rotated.totals.retired <= rotated.totals.reserved);
        } else {
            assert_eq!((d.rotations, rotated.totals.retired), (0, 0), "{rotated}");
        }
        assert_eq!(d.used, 2000, "the churn's values were all released");
        drop((kept_a, kept_b));
    }
    // A strand with nothing held crossing the threshold resets in place on the arenas.
    for round in 0..200 {
        drop(a.str(&common::text(4, round, 1000)));
    }
    a.reset();
    let before_exit = stats::<A>();
    let d = delta(&before_exit.totals, &b0.totals);
    let (fa, fb) = (a.stats(), b.stats());
    assert_eq!(
        d.resets_threshold,
        fa.resets_threshold + fb.resets_threshold,
        "{}",
        A::NAME
    );
    assert_eq!(d.resets_explicit, fa.resets_explicit + fb.resets_explicit);
    assert_eq!(d.resets_exit, 0);
    if arena {
        assert!(
            d.resets_threshold + d.resets_emptied > 0,
            "{}: {before_exit}",
            A::NAME
        );
    }
    let peaks = a.stats().peak_reserved + b.stats().peak_reserved;
    drop((a, b));
    let end = stats::<A>();
    // Exited strands' peaks stay in the totals.
    assert!(
        end.totals.peak_reserved - end.shared.peak_reserved >= peaks,
        "{}: {end}",
        A::NAME
    );
    let d = delta(&end.totals, &b0.totals);
    assert_eq!(d.strands_exited, 2, "{}", A::NAME);
    // `a` was reset before it ended, `b` was not: on strand-arena its own arena, which
    // had handed out values, is reset at exit. On thread-arena `b`'s values were in a
    // generation that was freed as they were released, before the exit; global-malloc
    // has no arena.
    let exit_resets = u64::from(A::NAME == "strand-arena");
    assert_eq!(d.resets_exit, exit_resets, "{}: {end}", A::NAME);
    assert_eq!(end.live_strands, b0.live_strands);
    assert_eq!(end.totals.used, b0.totals.used);
    assert_eq!(end.totals.retired, b0.totals.retired, "{}: {end}", A::NAME);
    assert_eq!(d.allocs, 30 + 400);

    // Under 32 KiB nothing is reset when emptied: crossing the threshold with nothing
    // held resets the generation in place, counted as such.
    let small = Config::default().with_threshold(16 * 1024).unwrap();
    let e = Strand::<A>::local_with(small).unwrap();
    for round in 0..100 {
        drop(e.str(&common::text(6, round, 1000)));
    }
    let fe = e.stats();
    assert_eq!(fe.resets_emptied, 0, "{}: {fe:?}", A::NAME);
    if arena {
        assert!(fe.resets_threshold >= 5, "{}: {fe:?}", A::NAME);
        assert_eq!(fe.rotations, 0, "{}: nothing held, so no rotation", A::NAME);
    }
    drop(e);

    // Values leaked across rotations keep generations retired until the strand ends; its
    // exit gives back everything it reserved (a pool keeps only what it counts as
    // reserved for no strand in particular).
    if arena {
        let own = |s: &strand_alloc::StatsSnapshot| s.totals.reserved - s.shared.reserved;
        let start = stats::<A>();
        let c = Strand::<A>::local_with(cfg).unwrap();
        for round in 0..50 {
            std::mem::forget(c.str(&common::text(5, round, 4000)));
        }
        let fc = c.stats();
        assert!(fc.rotations > 0, "{}: {fc:?}", A::NAME);
        assert!(
            stats::<A>().totals.retired > start.totals.retired,
            "{}",
            A::NAME
        );
        drop(c);
        let end = stats::<A>();
        assert_eq!(own(&end), own(&start), "{}: {end}", A::NAME);
        assert_eq!(
            end.totals.retired,
            start.totals.retired,
            "{}: {end}",
            A::NAME
        );
        assert_eq!(end.totals.used, start.totals.used);
    }
}

#[test]
fn process_wide_figures_match_the_strands_exactly() {
    for_each_backend!(exact);
}
