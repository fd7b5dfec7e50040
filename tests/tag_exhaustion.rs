//! With `checked`, every arena generation takes a tag in a global table of
//! `checked::MAX_TAGS` entries. When every tag is in use, the allocation that needs one
//! more fails with an error before anything changes: no arena is swapped out, no live
//! generation freed, and every value made before still validates and reads back.
//!
//! One test in its own binary: it holds every tag of the process for a while.
#![cfg(all(feature = "checked", not(miri)))]

use strand_alloc::checked::{ArenaTag, MAX_TAGS};
use strand_alloc::{AllocError, Config, Strand, ValueAllocator};

fn text(i: usize) -> String {
    format!("{i:040}")
}

/// Allocates with every tag taken, then with one freed at a time.
fn exhausted<A: ValueAllocator>(all: &mut Vec<ArenaTag>) {
    // Take every tag (again: the previous backend's strand gave its tags back).
    while let Some(t) = ArenaTag::try_new(None) {
        all.push(t);
    }
    let cfg = Config::default().with_threshold(64).unwrap();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let s = Strand::<A>::local_with(cfg).unwrap();
            // The first allocation needs a tag for the strand's first generation.
            let e = s.try_str(&text(0)).unwrap_err();
            assert!(matches!(e, AllocError::Exhausted { .. }), "{e}");
            assert!(e.to_string().contains("checked arena tags"), "{e}");
            all.pop();
            let first = s.str(&text(1));
            // The next one crosses the threshold while `first` is live: its generation
            // must be retired and a new one tagged, and there is no tag left.
            let figures = s.stats();
            let e = s.try_str(&text(2)).unwrap_err();
            assert!(matches!(e, AllocError::Exhausted { .. }), "{e}");
            assert_eq!(s.stats(), figures, "a refused allocation changes nothing");
            assert_eq!(first.try_as_str(), Ok(text(1).as_str()));
            all.pop();
            let second = s.str(&text(2));
            assert_eq!(first.try_as_str(), Ok(text(1).as_str()));
            assert_eq!(second.try_as_str(), Ok(text(2).as_str()));
            assert_eq!(s.stats().hazards, 0);
        });
    });
}

#[test]
fn running_out_of_checked_tags_is_an_error_that_changes_nothing() {
    let mut all = Vec::with_capacity(MAX_TAGS);
    while let Some(t) = ArenaTag::try_new(None) {
        all.push(t);
    }
    // Nothing else in this process has taken a tag yet: every one of them, exactly
    // (tags are numbered from 1 to MAX_TAGS; 0 is no tag).
    assert_eq!(all.len(), MAX_TAGS);
    assert!(ArenaTag::try_new(None).is_none());
    #[cfg(feature = "strand-arena")]
    exhausted::<strand_alloc::StrandArena>(&mut all);
    #[cfg(feature = "thread-arena")]
    exhausted::<strand_alloc::ThreadArena>(&mut all);
}
