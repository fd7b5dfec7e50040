//! global-malloc counts the values it frees towards the trim step only when asked
//! (`trim::set_count_global_malloc`): both ways, by the trims that follow. One test in
//! its own binary, as the step and the count are process-wide.
#![cfg(all(not(miri), feature = "global-malloc"))]

use strand_alloc::{trim, GlobalMalloc, Strand};

/// Trims that follow freeing `n` values of 64 KiB on global-malloc, a step of 1 MiB.
fn trims_after_frees(n: usize) -> usize {
    let s = Strand::<GlobalMalloc>::local().unwrap();
    let text = "g".repeat(64 << 10);
    let before = trim::trims();
    for _ in 0..n {
        drop(s.str(&text));
    }
    trim::trims() - before
}

#[test]
fn global_malloc_counts_frees_only_when_asked() {
    trim::set_step(Some(1 << 20));
    assert_eq!(
        trims_after_frees(64),
        0,
        "4 MiB freed on global-malloc, not counted by default, trimmed"
    );
    trim::set_count_global_malloc(true);
    let counted = trims_after_frees(64);
    assert!(
        (3..=5).contains(&counted),
        "4 MiB freed and counted at a step of 1 MiB: {counted} trims"
    );
    trim::set_count_global_malloc(false);
    assert_eq!(trims_after_frees(64), 0, "counting turned off again");
    trim::set_step(None);
}
