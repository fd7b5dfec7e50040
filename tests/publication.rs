//! When the process-wide figures see a running strand's per-value figures (allocations,
//! their bytes, `used` and its peak): at the full level at once, at the production level
//! when the strand publishes them (its own figures read, a new chunk or generation, a
//! reset, its exit). The strand's own figures are exact at every level.
//!
//! One test function per binary: it reads process-wide figures.

mod common;
use strand_alloc::{stats, Strand, ValueAllocator, FULL_FIGURES};

fn seen<A: ValueAllocator>() {
    std::thread::spawn(|| {
        let s = Strand::<A>::local().unwrap();
        // The first value takes the arenas' slow path (a chunk, a hold); reading the
        // strand's figures publishes them, so `before` is exact.
        drop(s.str("warm"));
        let own_before = s.stats();
        let before = stats::<A>().totals;
        let kept: Vec<_> = (0..10).map(|_| s.str("0123456789")).collect();
        let meanwhile = stats::<A>().totals;
        if FULL_FIGURES {
            assert_eq!(meanwhile.allocs - before.allocs, 10, "{}", A::NAME);
            assert_eq!(meanwhile.used - before.used, 100, "{}", A::NAME);
        } else {
            // Ten values in a warm chunk: no publication, so nothing seen yet.
            assert_eq!(meanwhile.allocs, before.allocs, "{}", A::NAME);
            assert_eq!(meanwhile.bytes_allocated, before.bytes_allocated);
            assert_eq!(meanwhile.used, before.used, "{}", A::NAME);
        }
        // The strand's own figures are exact, and reading them publishes them.
        let own = s.stats();
        assert_eq!(own.allocs - own_before.allocs, 10, "{}", A::NAME);
        assert_eq!(own.bytes_allocated - own_before.bytes_allocated, 100);
        assert_eq!(own.used - own_before.used, 100, "{}", A::NAME);
        assert!(own.peak_used >= own.used);
        let published = stats::<A>().totals;
        assert_eq!(published.allocs - before.allocs, 10, "{}", A::NAME);
        assert_eq!(published.bytes_allocated - before.bytes_allocated, 100);
        assert_eq!(published.used - before.used, 100, "{}", A::NAME);
        // Released values: the strand's own `used` at once; the process-wide one at its
        // exit at the latest (which ends its figures: what it still held counts no more).
        drop(kept);
        assert_eq!(s.stats().used, own_before.used, "{}", A::NAME);
        if A::LARGE_APART {
            // A large value's memory and its bytes are published together, both ways:
            // the snapshot never sees its bytes used with its memory gone.
            let size = s.config().large_value_size() + 1;
            let at = stats::<A>().totals;
            let big = s.bytes(&vec![7; size]);
            let with = stats::<A>().totals;
            assert_eq!(with.used - at.used, size as i64, "{}", A::NAME);
            assert_eq!(with.reserved - at.reserved, size as i64, "{}", A::NAME);
            drop(big);
            let without = stats::<A>().totals;
            assert_eq!((without.used, without.reserved), (at.used, at.reserved));
            // An arena's allocation slow path publishes too: 2 MB of values take new
            // chunks, so the snapshot sees most of them without the strand's own read.
            // (Not under Miri, which would spend minutes on the same path; the values
            // above take it too.)
            if !cfg!(miri) {
                let held: Vec<_> = (0..20_000).map(|_| s.bytes(&[1; 100])).collect();
                let seen = stats::<A>().totals;
                assert!(
                    seen.allocs - without.allocs >= 10_000,
                    "{}: {} of 20,000 seen",
                    A::NAME,
                    seen.allocs - without.allocs
                );
                drop(held);
            }
        }
        let last = s.stats();
        drop(s);
        let ended = stats::<A>().totals;
        assert_eq!(
            ended.allocs - before.allocs,
            last.allocs - own_before.allocs
        );
        assert_eq!(ended.used, before.used - own_before.used, "{}", A::NAME);
    })
    .join()
    .unwrap();
}

#[test]
fn running_strands_figures_are_seen_when_published() {
    for_each_backend!(seen);
}
