//! Over-aligned requests through the `allocator-api2` handle succeed wherever the global
//! allocator would: an 8-byte block aligned to 1 MiB at a 64 KiB threshold, or to 16 MiB
//! at the default 10 MiB, on every backend (they take the heap path a large value takes).
//! A zero-sized block of any alignment is a dangling pointer, given back as one.

mod common;
use allocator_api2::alloc::Allocator;
use std::alloc::Layout;
use strand_alloc::{Config, Strand, ValueAllocator};

fn over_aligned<A: ValueAllocator>() {
    for (threshold, align) in [(64 << 10, 1usize << 20), (10 << 20, 1 << 24), (4096, 128)] {
        let s =
            Strand::<A>::local_with(Config::default().with_threshold(threshold).unwrap()).unwrap();
        let layout = Layout::from_size_align(8, align).unwrap();
        let a = s.allocator();
        let block = a
            .allocate(layout)
            .unwrap_or_else(|_| panic!("{}: align {align} refused", A::NAME));
        let p = block.as_ptr() as *mut u8;
        assert_eq!(p as usize % align, 0, "{}: misaligned", A::NAME);
        // SAFETY: the block is 8 writable bytes from this allocator.
        unsafe { p.write_bytes(7, 8) };
        assert!(s.stats().used >= 8);
        // SAFETY: allocated just above with this layout, released once.
        unsafe { a.deallocate(block.cast(), layout) };
        // A vector of over-aligned elements grows and is freed.
        #[repr(align(128))]
        #[derive(Clone, Copy)]
        struct Line([u8; 128]);
        let mut v = allocator_api2::vec::Vec::new_in(s.allocator());
        for i in 0..100u8 {
            v.push(Line([i; 128]));
        }
        assert!(v.iter().enumerate().all(|(i, l)| l.0[0] == i as u8));
        assert_eq!(v.as_ptr() as usize % 128, 0);
    }
}

#[test]
fn over_aligned_blocks_are_served_on_every_backend() {
    for_each_backend!(over_aligned);
}

/// Zero-sized blocks at alignments above the arena's: made and given back without the
/// heap (which was once handed the dangling pointer to free, and crashed), directly and
/// as a `Box` of a zero-sized over-aligned type.
fn zero_sized_over_aligned<A: ValueAllocator>() {
    let s = Strand::<A>::local().unwrap();
    let a = s.allocator();
    let before = s.stats();
    for align in [1usize, 64, 128, 4096, 1 << 20] {
        let layout = Layout::from_size_align(0, align).unwrap();
        let block = a.allocate(layout).unwrap();
        assert_eq!(block.len(), 0);
        assert_eq!(block.as_ptr() as *mut u8 as usize % align, 0, "{}", A::NAME);
        // SAFETY: allocated just above with this layout, released once.
        unsafe { a.deallocate(block.cast(), layout) };
    }
    #[repr(align(128))]
    struct Z;
    #[repr(align(4096))]
    struct Page;
    drop(allocator_api2::boxed::Box::new_in(Z, s.allocator()));
    drop(allocator_api2::boxed::Box::new_in(Page, s.allocator()));
    let after = s.stats();
    assert_eq!(
        (after.allocs, after.used, after.reserved),
        (before.allocs, before.used, before.reserved),
        "{}: zero-sized blocks touch no figure",
        A::NAME
    );
}

#[test]
fn zero_sized_blocks_of_any_alignment_are_given_back() {
    for_each_backend!(zero_sized_over_aligned);
}

/// The arena serves alignments up to `MAX_ARENA_ALIGN` itself, and the heap those past it
/// (counted as large values): exactly at the boundary, and one step past it.
fn boundary<A: ValueAllocator>() {
    let s = Strand::<A>::local().unwrap();
    let a = s.allocator();
    for (align, heap) in [
        (strand_alloc::strand::MAX_ARENA_ALIGN, false),
        (strand_alloc::strand::MAX_ARENA_ALIGN * 2, true),
    ] {
        let before = s.stats().large_values;
        let layout = Layout::from_size_align(8, align).unwrap();
        let block = a.allocate(layout).unwrap();
        assert_eq!(block.as_ptr() as *mut u8 as usize % align, 0);
        assert_eq!(
            s.stats().large_values - before,
            u64::from(heap),
            "{}: align {align}",
            A::NAME
        );
        // SAFETY: allocated just above with this layout, released once.
        unsafe { a.deallocate(block.cast(), layout) };
    }
}

#[test]
fn the_arena_serves_alignments_up_to_its_own_and_the_heap_past_it() {
    for_each_backend!(boundary);
}
