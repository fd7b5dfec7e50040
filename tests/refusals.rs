//! A refused allocation changes no figure: past the strand's byte limit, an error on both
//! arenas, with no reset, rotation or allocation counted. An alignment no arena
//! generation could give (1 MiB, at a 64 KiB threshold) is not refused: it takes the heap
//! path of a large value, and touches no generation either. And the seed policy's thread
//! arena gives its memory back when its thread ends.
#![cfg(not(miri))]

#[cfg(any(feature = "thread-arena", feature = "strand-arena"))]
fn overaligned<A: strand_alloc::ValueAllocator>() {
    use allocator_api2::alloc::Allocator;
    use std::alloc::Layout;
    use strand_alloc::{Config, Strand};
    std::thread::spawn(|| {
        let cfg = Config::default()
            .with_threshold(64 << 10)
            .unwrap()
            .with_strand_limit(Some(32 << 10))
            .unwrap();
        let s = Strand::<A>::local_with(cfg).unwrap();
        // Past the strand's limit: refused, and nothing counted.
        let before = s.stats();
        let big = Layout::from_size_align(40 << 10, 8).unwrap();
        assert!(s.allocator().allocate(big).is_err(), "{}", A::NAME);
        let after = s.stats();
        assert_eq!(after.resets(), before.resets(), "{}: {after:?}", A::NAME);
        assert_eq!(after.rotations, before.rotations, "{}", A::NAME);
        assert_eq!(after.allocs, before.allocs, "{}", A::NAME);
        // Over-aligned: served from the heap, as a large value, with no reset or rotation.
        let layout = Layout::from_size_align(16, 1 << 20).unwrap();
        let block = s
            .allocator()
            .allocate(layout)
            .expect("served from the heap");
        let after = s.stats();
        assert_eq!(after.resets(), before.resets(), "{}: {after:?}", A::NAME);
        assert_eq!(after.rotations, before.rotations, "{}", A::NAME);
        assert_eq!(after.large_values, before.large_values + 1, "{}", A::NAME);
        // SAFETY: allocated just above with this layout, released once.
        unsafe { s.allocator().deallocate(block.cast(), layout) };
        // The strand still works.
        assert_eq!(s.str("after").as_str(), "after");
    })
    .join()
    .unwrap();
}

#[cfg(any(feature = "thread-arena", feature = "strand-arena"))]
#[test]
fn an_impossible_alignment_is_refused_without_side_effects() {
    #[cfg(feature = "thread-arena")]
    overaligned::<strand_alloc::ThreadArena>();
    #[cfg(feature = "strand-arena")]
    overaligned::<strand_alloc::StrandArena>();
}

#[cfg(feature = "seed-arena")]
#[test]
fn the_seed_policy_gives_its_thread_arena_back_at_thread_exit() {
    use strand_alloc::backends::SeedArena;
    use strand_alloc::{Config, Strand};
    let before = strand_alloc::stats::<SeedArena>().shared.reserved;
    std::thread::spawn(move || {
        // SAFETY: no borrow of a value is kept across anything that can reset the arena.
        let s = unsafe { Strand::<SeedArena>::local_unchecked(Config::default()) };
        let v = s.str(&"x".repeat(1000));
        assert_eq!(v.as_str().len(), 1000);
        assert!(strand_alloc::stats::<SeedArena>().shared.reserved > before);
    })
    .join()
    .unwrap();
    assert_eq!(strand_alloc::stats::<SeedArena>().shared.reserved, before);
}
