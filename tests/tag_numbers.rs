//! With `checked`, arena tags past the first segment of the global table (4,096 entries)
//! carry their own numbers: they show in a tag's `Debug` and in a hazard, and a freed
//! tag goes back to the free list as itself, so the next generation takes that very
//! entry and never one a live generation still uses.
//!
//! One test in its own binary: it reads tag numbers from a fresh table.
#![cfg(all(feature = "checked", not(miri)))]

use strand_alloc::checked::ArenaTag;

#[test]
fn tags_past_the_first_segment_keep_their_own_numbers() {
    let mut tags: Vec<ArenaTag> = (0..4100)
        .map(|_| ArenaTag::try_new(None).unwrap())
        .collect();
    let stamps: Vec<_> = tags.iter().map(ArenaTag::stamp).collect();
    // Numbers start at 1: the last is 4,100, in the second segment.
    let last = format!("{:?}", tags[4099]);
    assert!(last.contains("4100"), "{last}");
    assert!(!format!("{:?}", tags[3]).contains("4100"));
    // Freed, its number is taken again by the next tag, which is that very entry.
    drop(tags.pop());
    let again = ArenaTag::try_new(None).unwrap();
    assert!(format!("{again:?}").contains("4100"), "{again:?}");
    // Dropping it invalidates its own entry, not one a live tag still uses.
    drop(again);
    for (i, s) in stamps[..4099].iter().enumerate() {
        assert!(s.check("test").is_ok(), "tag {} invalidated", i + 1);
    }
    drop(tags);
}
