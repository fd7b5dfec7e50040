//! A scope's memory is reused at its end, on the real heap: 100,000 scopes in a row, each
//! making eight values of 16-512 B (the comparison's mixed sizes), stay within the chunk
//! of one scope on every backend; the strand's `reserved` says so too. The same values
//! made on the strand without scopes take arena memory up to the emptied-reset size.
//!
//! One test in its own binary: it counts the heap of its own thread (the test harness
//! allocates on its other threads at any time).
#![cfg(not(miri))]

mod common;
#[path = "support/counting.rs"]
mod counting;
use counting::{outstanding_here as outstanding, Counting};
use strand_alloc::{Strand, ValueAllocator};

#[global_allocator]
static GLOBAL: Counting = Counting;

const SCOPES: usize = 100_000;
/// Scopes run before the heap is read: message sizes go round every 497 values.
const WARM: usize = 1_000;

/// The texts of the values, 16 to 512 bytes, made before the heap is read (so that the
/// only allocation of the test's own inside the loop is each scope's `Vec`).
fn messages() -> Vec<String> {
    (0..497).map(|i| "m".repeat(16 + (i * 37) % 497)).collect()
}

fn reused<A: ValueAllocator>() {
    let s = Strand::<A>::local().unwrap();
    let texts = messages();
    let message = |i: usize| texts[i % texts.len()].as_str();
    let one = |n: usize| {
        s.scope(|sc| {
            let values: Vec<_> = (0..8).map(|i| sc.str(message(n * 8 + i))).collect();
            values.iter().map(|v| v.len()).sum::<usize>()
        })
    };
    // The first scopes grow the arena to a chunk that holds the largest of them; every
    // later one reuses it.
    let warm: usize = (0..WARM).map(one).sum();
    let heap = outstanding();
    let reserved = s.stats().reserved;
    let mut high = heap;
    let mut made = 0;
    for n in WARM..SCOPES {
        made += one(n);
        high = high.max(outstanding());
    }
    let f = s.stats();
    assert!(made > SCOPES * 8 * 200, "{made} bytes made");
    assert_eq!(f.reserved, reserved, "{}: {f:?}", A::NAME);
    // The test's own `Vec` of eight values, and nothing else, comes and goes per scope.
    let vec = 8 * std::mem::size_of::<strand_alloc::Str<'_, A>>() as isize;
    let per_value = if A::SCOPE_ARENA { 0 } else { 8 * 512 };
    assert!(
        high - heap <= vec + per_value,
        "{}: the heap grew by {} bytes over {SCOPES} scopes",
        A::NAME,
        high - heap
    );
    if A::SCOPE_ARENA {
        assert_eq!(f.scope_bytes_returned as usize, made + warm, "{}", A::NAME);
    }
    // Without scopes, the same values take arena memory until the emptied reset.
    let plain = Strand::<A>::local().unwrap();
    let before = outstanding();
    let mut plain_high = before;
    for n in 0..1000 {
        let values: Vec<_> = (0..8).map(|i| plain.str(message(n * 8 + i))).collect();
        drop(values);
        plain_high = plain_high.max(outstanding());
    }
    if A::SCOPE_ARENA {
        assert!(
            plain_high - before > 16 * 1024,
            "{}: without scopes the arena grows ({})",
            A::NAME,
            plain_high - before
        );
    }
}

#[test]
fn a_hundred_thousand_scopes_stay_within_one_scopes_memory() {
    for_each_backend!(reused);
}

/// A burst: a scope whose arena grows past [`SCOPE_SPARE_BYTES_MAX`] gives it back whole
/// when it ends, so a long-lived strand keeps no burst's memory; a small one is kept warm
/// until `Strand::reset` (or the strand's end) frees it. On the real heap of this thread.
fn burst<A: ValueAllocator>() {
    use strand_alloc::scope::SCOPE_SPARE_BYTES_MAX;
    let mut s = Strand::<A>::local().unwrap();
    let value = "b".repeat(1000);
    let heap = outstanding();
    s.scope(|sc| {
        let held: Vec<_> = (0..2_000).map(|_| sc.str(&value)).collect();
        assert!(
            outstanding() - heap > 2_000_000,
            "{}: the burst is on the heap",
            A::NAME
        );
        drop(held);
        // A nested burst too.
        sc.scope(|inner| drop((0..2_000).map(|_| inner.str(&value)).collect::<Vec<_>>()));
    });
    let after = outstanding() - heap;
    assert!(
        after < SCOPE_SPARE_BYTES_MAX as isize,
        "{}: {after} bytes kept after the burst",
        A::NAME
    );
    assert_eq!(s.stats().reserved as isize, after.max(0), "{}", A::NAME);
    // A small scope's arena is kept warm, and `reset` frees it.
    s.scope(|sc| drop(sc.str(&value)));
    let warm = outstanding() - heap;
    assert_eq!(warm > 0, A::SCOPE_ARENA, "{}: {warm}", A::NAME);
    s.reset();
    assert_eq!(
        (outstanding() - heap, s.stats().reserved),
        (0, 0),
        "{}",
        A::NAME
    );
}

#[test]
fn a_bursts_arena_is_given_back_at_its_scopes_end_and_reset_frees_the_warm_ones() {
    for_each_backend!(burst);
}
