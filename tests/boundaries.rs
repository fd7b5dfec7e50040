//! Allocations exactly at a limit and one byte over: a generation filled to exactly the
//! threshold is neither reset nor rotated, one byte more rotates it (its values are held);
//! a value of exactly the large-value size stays in the arena, one byte more gets an
//! allocation of its own. Runs under Miri (no May).

mod common;
use strand_alloc::{Config, Strand, ValueAllocator};

const T: usize = 64 * 1024;

fn at_the_threshold<A: ValueAllocator>() {
    let arena = A::NAME != "global-malloc";
    let cfg = Config::default().with_threshold(T).unwrap();
    let s = Strand::<A>::local_with(cfg).unwrap();
    // Small pieces, so that little room is lost at the ends of the arena's chunks (a
    // generation may hold at most the threshold plus an eighth in chunks).
    let piece = "t".repeat(64);
    let held: Vec<_> = (0..T / piece.len()).map(|_| s.str(&piece)).collect();
    let f = s.stats();
    assert_eq!(f.used, T as i64);
    assert_eq!(
        (f.rotations, f.resets_threshold, f.large_values),
        (0, 0, 0),
        "{}: exactly the threshold fits: {f:?}",
        A::NAME
    );
    let one = s.str("1");
    let g = s.stats();
    assert_eq!(
        g.rotations,
        u64::from(arena),
        "{}: one byte over rotates the held generation: {g:?}",
        A::NAME
    );
    assert_eq!(
        g.resets_threshold,
        0,
        "{}: values are held, so no reset",
        A::NAME
    );
    drop((held, one));
}

#[test]
fn a_generation_holds_exactly_the_threshold() {
    for_each_backend!(at_the_threshold);
}

/// On thread-arena, strands share their thread's generation: a second strand's first
/// allocation (which takes the slow path, having no hold yet) that brings it to exactly
/// the threshold fits, and one byte more rotates it (the first strand's values hold it).
/// On the other backends each strand's arena is its own: nothing rotates.
fn at_the_threshold_from_a_second_strand<A: ValueAllocator>() {
    let cfg = Config::default().with_threshold(T).unwrap();
    let a = Strand::<A>::local_with(cfg).unwrap();
    let piece = "t".repeat(64);
    let held: Vec<_> = (0..T / piece.len() - 1).map(|_| a.str(&piece)).collect();
    let b = Strand::<A>::local_with(cfg).unwrap();
    let last = b.str(&piece);
    let counts = |s: &Strand<A>| {
        let f = s.stats();
        (f.rotations, f.resets_threshold)
    };
    assert_eq!((counts(&a), counts(&b)), ((0, 0), (0, 0)), "{}", A::NAME);
    let one = b.str("1");
    let rotated = u64::from(A::THREAD_BOUND);
    assert_eq!(
        (counts(&a), counts(&b)),
        ((0, 0), (rotated, 0)),
        "{}: one byte over",
        A::NAME
    );
    drop((held, last, one));
}

#[test]
fn a_second_strand_fills_a_shared_generation_to_exactly_the_threshold() {
    for_each_backend!(at_the_threshold_from_a_second_strand);
}

fn at_the_large_value_size<A: ValueAllocator>() {
    let cfg = Config::default().with_threshold(T).unwrap();
    let large = cfg.large_value_size();
    let s = Strand::<A>::local_with(cfg).unwrap();
    let at = s.str(&"l".repeat(large));
    assert_eq!(
        s.stats().large_values,
        0,
        "{}: exactly the size stays in",
        A::NAME
    );
    let over = s.str(&"l".repeat(large + 1));
    assert_eq!(
        s.stats().large_values,
        u64::from(A::LARGE_APART),
        "{}: one byte more is allocated apart",
        A::NAME
    );
    assert_eq!(s.stats().used, (2 * large + 1) as i64);
    drop((at, over));
    assert_eq!(s.stats().used, 0);
}

#[test]
fn a_value_of_exactly_the_large_value_size_stays_in_the_arena() {
    for_each_backend!(at_the_large_value_size);
}

/// A value of exactly the large-value size fits in a generation that was reset in place
/// (its warm chunk is given back when it is in the way), at thresholds near the smallest
/// large-value size and with the large-value size set to the threshold.
fn large_after_a_warm_reset<A: ValueAllocator>() {
    let thresholds: &[usize] = if cfg!(miri) {
        &[4096, 16384]
    } else {
        &[4096, 4500, 5000, 6000, 8192, 10000, 16384, 100_000]
    };
    for &t in thresholds {
        for large in [None, Some(t)] {
            for (prefix, piece) in [(1, 1), (t / 2, 100)] {
                let cfg = Config::default()
                    .with_threshold(t)
                    .unwrap()
                    .with_large_value_size(large)
                    .unwrap();
                let s = Strand::<A>::local_with(cfg).unwrap();
                let kept: Vec<_> = (0..prefix / piece)
                    .map(|_| s.str(&"p".repeat(piece)))
                    .collect();
                drop(kept);
                let big = "x".repeat(cfg.large_value_size());
                let v = s.try_str(&big).unwrap_or_else(|e| {
                    panic!(
                        "{}: threshold {t}, large {large:?}, after {prefix} bytes: {e}",
                        A::NAME
                    )
                });
                assert_eq!(v.as_str(), big);
                assert_eq!(s.stats().large_values, 0, "{}: in the arena", A::NAME);
                // Room made for it in rounds (a warm reset, then a cold start if the
                // warm chunk is in the way) is one reset: only a generation with
                // something in it is counted.
                assert!(
                    s.stats().resets_threshold <= 1,
                    "{}: threshold {t}, large {large:?}, after {prefix} bytes: {} resets",
                    A::NAME,
                    s.stats().resets_threshold
                );
            }
        }
    }
}

#[test]
fn a_value_of_the_large_value_size_fits_after_a_warm_reset() {
    for_each_backend!(large_after_a_warm_reset);
}

/// A block whose worst-case padding takes it past the threshold (1 KiB aligned to 8 at a
/// 1 KiB threshold, where the large-value size is the threshold) gets a generation of its
/// own when nobody else holds the current one: no rotation is counted and nothing is
/// set aside as retired, since nothing live was left behind. Checked on a strand alone
/// on its thread, both ways: a value kept in the generation makes the same block a
/// rotation.
fn padded_past_the_threshold<A: ValueAllocator>() {
    use allocator_api2::alloc::Allocator;
    for keep in [false, true] {
        std::thread::spawn(move || {
            let cfg = Config::default().with_threshold(1024).unwrap();
            let s = Strand::<A>::local_with(cfg).unwrap();
            let kept = keep.then(|| s.str("kept"));
            let before = s.stats();
            let layout = std::alloc::Layout::from_size_align(1024, 8).unwrap();
            let a = s.allocator();
            let block = a.allocate(layout).unwrap();
            let after = s.stats();
            let rotated = after.rotations - before.rotations;
            if A::NAME == "global-malloc" {
                assert_eq!(rotated, 0);
            } else {
                assert_eq!(rotated, u64::from(keep), "{} keep={keep}", A::NAME);
            }
            if !keep {
                assert_eq!(after.retired, before.retired, "{}", A::NAME);
            }
            // SAFETY: allocated just above with this layout, released once.
            unsafe { a.deallocate(block.cast(), layout) };
            assert!(kept.is_none_or(|k| k.as_str() == "kept"));
        })
        .join()
        .unwrap();
    }
}

#[test]
fn a_block_padded_past_the_threshold_rotates_only_what_is_held() {
    for_each_backend!(padded_past_the_threshold);
}

/// On thread-arena, a strand whose threshold is below the limit of the generation it
/// shares (made by a strand with a larger one) keeps to its own threshold: the
/// generation's bytes reach exactly that threshold without a rotation, and one byte
/// more rotates it, on the allocation fast path as on the full one. Elsewhere nothing
/// rotates.
fn a_smaller_threshold_in_a_shared_generation<A: ValueAllocator>() {
    let large = Strand::<A>::local_with(Config::default().with_threshold(2 * T).unwrap()).unwrap();
    let piece = "t".repeat(64);
    let first = large.str(&piece);
    let small = Strand::<A>::local_with(Config::default().with_threshold(T).unwrap()).unwrap();
    let held: Vec<_> = (0..T / piece.len() - 1)
        .map(|_| small.str(&piece))
        .collect();
    let rotations = |s: &Strand<A>| s.stats().rotations;
    assert_eq!(
        (rotations(&large), rotations(&small)),
        (0, 0),
        "{}",
        A::NAME
    );
    let one = small.str("1");
    let shared = u64::from(A::THREAD_BOUND);
    assert_eq!(
        (rotations(&large), rotations(&small)),
        (0, shared),
        "{}: one byte over the smaller threshold",
        A::NAME
    );
    drop((first, held, one));
}

#[test]
fn a_smaller_threshold_holds_in_a_generation_made_for_a_larger_one() {
    for_each_backend!(a_smaller_threshold_in_a_shared_generation);
}
