//! A strand-arena strand's exit counts towards the trim step exactly the bytes it gives
//! back: a step one byte above them runs no trim, and one byte more freed runs it.
//! One test function per binary: the trim step and its count are process-wide.
#![cfg(all(not(miri), feature = "strand-arena"))]

use strand_alloc::{trim, Config, Strand, StrandArena};

/// A strand with no pool, whose values (forgotten, so no reset empties the arena
/// first) fill several chunks; returns the bytes it reserves.
fn filled(s: &Strand<StrandArena>) -> i64 {
    let values: Vec<_> = (0..300).map(|_| s.str(&"e".repeat(1000))).collect();
    std::mem::forget(values);
    let f = s.stats();
    assert_eq!(f.retired, 0);
    f.reserved
}

#[test]
fn an_exit_counts_what_it_frees_towards_the_trim_step() {
    let cfg = Config::default().with_pool_capacity(0);
    // Start from an empty count: a step of one byte trims at the first release.
    trim::set_step(Some(1));
    let s = Strand::<StrandArena>::local_with(cfg).unwrap();
    filled(&s);
    let before = trim::trims();
    drop(s);
    assert!(trim::trims() > before, "the first exit trims");
    // Now the count is zero: an exit that frees `reserved` bytes stays under a step of
    // `reserved + 1`...
    let s = Strand::<StrandArena>::local_with(cfg).unwrap();
    let reserved = filled(&s) as usize;
    assert!(reserved > 64 << 10, "several chunks: {reserved}");
    trim::set_step(Some(reserved + 1));
    let before = trim::trims();
    drop(s);
    assert_eq!(
        trim::trims(),
        before,
        "{reserved} bytes freed: under the step"
    );
    // ...and the next byte freed reaches it.
    let s = Strand::<StrandArena>::local_with(cfg).unwrap();
    drop(s.str("x"));
    drop(s);
    assert_eq!(
        trim::trims(),
        before + 1,
        "one more exit: the step is reached"
    );
    trim::set_step(None);
}
