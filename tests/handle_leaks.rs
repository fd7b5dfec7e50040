//! Nothing lost through one-word handles, on the real heap: after every handle is
//! released (by its owner, by another thread, or by the last holder of a shared value)
//! and every strand has ended, `used` is 0, the backend's `reserved` is its slot blocks
//! (the one stated pool), and a counting global allocator is back where it was, but for
//! the blocks that pool gained.
//!
//! One test function per binary, so no other test allocates while it measures.

mod common;

use strand_alloc::{Field, Handle, ValueAllocator};

#[path = "support/counting.rs"]
mod counting;
use counting::{outstanding, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A word that travels between threads as a pointer (strict provenance under Miri).
struct Word(*mut ());
// SAFETY: an address; the handle rules say who may follow it.
unsafe impl Send for Word {}

fn round<A: ValueAllocator>(n: usize) {
    // Bounded, so the values in flight (and the slots they take) are too.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Word>(8);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let maker = std::thread::spawn(move || {
        for i in 0..n {
            let s = Handle::<A>::new_str(&"x".repeat(i % 300)).unwrap();
            let b = Handle::<A>::new_bytes(&[i as u8; 40]).unwrap();
            // SAFETY: `s` and `b` are given to the variant once, not released here.
            let v = unsafe {
                Handle::<A>::new_variant(1, &[Field::Value(s), Field::Int(2), Field::Value(b)])
            }
            .unwrap();
            match i % 3 {
                // Shared, and both holders let go on the other thread.
                0 => {
                    // SAFETY: owned by this thread; released once per holder.
                    let c = unsafe { v.share() }.unwrap();
                    tx.send(Word(v.to_ptr())).unwrap();
                    tx.send(Word(c.to_ptr())).unwrap();
                }
                // Owned, released by another thread (handed back to this one).
                1 => tx.send(Word(v.to_ptr())).unwrap(),
                // Owned, released here.
                // SAFETY: owned by this thread, released once.
                _ => unsafe { v.release() }.unwrap(),
            }
            // Keep allocating, so what comes back is collected.
            let t = Handle::<A>::new_str("collect").unwrap();
            // SAFETY: owned, released once.
            unsafe { t.release() }.unwrap();
        }
        drop(tx);
        // An owned value released elsewhere must be released before its owner ends: wait
        // for the releaser, then collect what it handed back (the end collects too).
        done_rx.recv().unwrap();
        let t = Handle::<A>::new_str("collect").unwrap();
        // SAFETY: owned, released once.
        unsafe { t.release() }.unwrap();
    });
    let releaser = std::thread::spawn(move || {
        while let Ok(w) = rx.recv() {
            // SAFETY: each word sent is released once, here, before its owner ends.
            unsafe { Handle::<A>::from_ptr(w.0).unwrap().release() }.unwrap();
        }
        done_tx.send(()).unwrap();
    });
    maker.join().unwrap();
    releaser.join().unwrap();
    A::release_idle();
}

fn nothing_lost<A: ValueAllocator>() {
    let n = if cfg!(miri) { 30 } else { 3_000 };
    // Warm-up: the statistics slots and the slot pool reach what a round needs.
    round::<A>(n);
    round::<A>(n);
    let stats = strand_alloc::stats::<A>();
    let pool_before = strand_alloc::slot::pool_bytes() as isize;
    let before = outstanding();
    round::<A>(n);
    let after = outstanding();
    let pool_after = strand_alloc::slot::pool_bytes() as isize;
    let stats_after = strand_alloc::stats::<A>();
    assert_eq!(stats_after.totals.used, 0, "{}: bytes still used", A::NAME);
    assert_eq!(stats_after.shared.used, 0, "{}: shared bytes left", A::NAME);
    assert_eq!(
        stats_after.totals.reserved,
        stats.totals.reserved + (pool_after - pool_before) as i64,
        "{}: reserved moved by more than the slot pool's growth",
        A::NAME
    );
    assert_eq!(
        after - before,
        pool_after - pool_before,
        "{}: the heap moved by more than the slot pool's growth",
        A::NAME
    );
}

#[test]
fn nothing_is_lost_on_the_real_heap() {
    for_each_backend!(nothing_lost);
}
