//! On global-malloc a strand's reserved bytes are its values, each an allocation of its
//! own: the figure follows `used`, keeps values a strand leaked (they stay on the heap),
//! and its peak is exact across resets. Checked against the real heap with a counting
//! allocator, and against an arena backend, whose reserved bytes are its chunks and do
//! not follow `used`.
//!
//! One test in its own binary: it counts the process's heap. Built with global-malloc.
#![cfg(all(not(miri), feature = "global-malloc"))]

mod common;
#[path = "support/counting.rs"]
mod counting;
use counting::{outstanding, Counting};
use strand_alloc::Strand;

#[global_allocator]
static GLOBAL: Counting = Counting;

fn global_malloc() {
    use strand_alloc::GlobalMalloc;
    let mut s = Strand::<GlobalMalloc>::local().unwrap();
    let heap = outstanding();
    // A phase: 1,300 bytes at most, 300 of them leaked.
    let kept = s.str(&"a".repeat(1000));
    std::mem::forget(s.str(&"b".repeat(300)));
    let f = s.stats();
    assert_eq!((f.used, f.reserved), (1300, 1300));
    assert_eq!(outstanding() - heap, 1300, "the figure is the heap's");
    drop(kept);
    assert_eq!((s.stats().used, s.stats().reserved), (300, 300));
    s.reset();
    let f = s.stats();
    // The leaked value stays allocated, and reserved; nothing counts as used.
    assert_eq!((f.used, f.reserved), (0, 300));
    assert_eq!((f.peak_used, f.peak_reserved), (1300, 1300));
    assert_eq!(outstanding() - heap, 300);
    // The next phase reaches higher: its peak is the leaked bytes plus its own values.
    let big = s.str(&"c".repeat(2000));
    let f = s.stats();
    assert_eq!((f.used, f.reserved), (2000, 2300));
    assert_eq!((f.peak_used, f.peak_reserved), (2000, 2300));
    assert_eq!(outstanding() - heap, 2300);
    drop(big);
    // A third phase below both peaks leaves them alone.
    s.reset();
    let small = s.str("d");
    let f = s.stats();
    assert_eq!((f.used, f.reserved), (1, 301));
    assert_eq!((f.peak_used, f.peak_reserved), (2000, 2300));
    drop(small);
    // An over-aligned block (a heap allocation of its own on every backend) counts once.
    let layout = std::alloc::Layout::from_size_align(100, 128).unwrap();
    let p = allocator_api2::alloc::Allocator::allocate(&s.allocator(), layout).unwrap();
    assert_eq!((s.stats().used, s.stats().reserved), (100, 400));
    // SAFETY: allocated just above with this layout, by this strand's allocator.
    unsafe { allocator_api2::alloc::Allocator::deallocate(&s.allocator(), p.cast(), layout) };
    assert_eq!((s.stats().used, s.stats().reserved), (0, 300));
    // At the end the leaked bytes become the backend's, reserved by no strand.
    let shared = strand_alloc::stats::<GlobalMalloc>().shared.reserved;
    drop(s);
    assert_eq!(
        strand_alloc::stats::<GlobalMalloc>().shared.reserved - shared,
        300
    );
}

/// The other way: an arena's reserved bytes are its chunks, more than its values and
/// still there after they are gone.
#[cfg(feature = "strand-arena")]
fn arena() {
    use strand_alloc::StrandArena;
    let s = Strand::<StrandArena>::local().unwrap();
    let v = s.str(&"a".repeat(1000));
    let f = s.stats();
    assert_eq!(f.used, 1000);
    assert!(f.reserved > f.used, "{f:?}");
    drop(v);
    let f = s.stats();
    assert_eq!(f.used, 0);
    assert!(f.reserved > 0, "the chunk stays reserved: {f:?}");
}

#[test]
fn heap_values_are_the_reserved_bytes_on_global_malloc_only() {
    common::setup();
    std::thread::spawn(|| {
        global_malloc();
        #[cfg(feature = "strand-arena")]
        arena();
    })
    .join()
    .unwrap();
}
