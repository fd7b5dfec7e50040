//! The process-wide totals include the memory that belongs to no strand: with no strand
//! alive, every gauge of the totals is the shared memory's own, and it is not zero while
//! shared values live. One test function per binary, so nothing else moves the figures.
#![cfg(not(miri))]

mod common;
use strand_alloc::{stats, Config, Handle, Strand, ValueAllocator};

struct Word(*mut ());
// SAFETY: the word is an address; the handle rules say who may follow it.
unsafe impl Send for Word {}

fn shared_in_totals<A: ValueAllocator>() {
    let before = stats::<A>();
    assert_eq!(before.live_strands, 0, "{}", A::NAME);
    // A thread makes three values, shares them, keeps one holder of each, and ends: its
    // strand is gone, the values live on as shared memory.
    let words: Vec<Word> = std::thread::spawn(|| {
        (0..3)
            .map(|i| {
                let h = Handle::<A>::new_str(&format!("{i}").repeat(1_000)).unwrap();
                // SAFETY: owned by this thread's strand; one of the two holders is let go.
                unsafe {
                    h.share().unwrap();
                    h.release().unwrap();
                }
                Word(h.to_ptr())
            })
            .collect()
    })
    .join()
    .unwrap();
    let mid = stats::<A>();
    assert_eq!(mid.live_strands, 0, "{}", A::NAME);
    let t = &mid.totals;
    let s = &mid.shared;
    assert!(s.used - before.shared.used >= 3_000, "{}: {s:?}", A::NAME);
    assert_eq!(t.used, s.used, "{}: used", A::NAME);
    assert!(s.reserved > 0, "{}: {s:?}", A::NAME);
    assert_eq!(t.reserved, s.reserved, "{}: reserved", A::NAME);
    assert_eq!(t.retired, s.retired_reserved, "{}: retired", A::NAME);
    assert!(
        s.peak_reserved > 0
            && t.peak_reserved
                >= s.peak_reserved + before.totals.peak_reserved - before.shared.peak_reserved,
        "{}: peak {t:?} {s:?}",
        A::NAME
    );
    std::thread::spawn(move || {
        for w in words {
            // SAFETY: the last holder of a shared value, released once.
            unsafe { Handle::<A>::from_ptr(w.0).unwrap().release().unwrap() };
        }
    })
    .join()
    .unwrap();
    let after = stats::<A>();
    assert_eq!(after.shared.used, before.shared.used, "{}", A::NAME);
    assert_eq!(after.totals.used, after.shared.used, "{}", A::NAME);

    // thread-arena: a generation rotated out while a strand still holds a value in it is
    // shared memory too (retired), and in the totals' retired bytes.
    if A::THREAD_BOUND {
        std::thread::spawn(|| {
            let cfg = Config::default().with_threshold(64 << 10).unwrap();
            let s = Strand::<A>::local_with(cfg).unwrap();
            let kept = s.str("kept across the rotation");
            for _ in 0..100 {
                drop(s.str(&"r".repeat(4_000)));
            }
            let now = stats::<A>();
            assert!(now.shared.retired_reserved > 0, "{:?}", now.shared);
            assert!(
                now.totals.retired >= now.shared.retired_reserved,
                "{:?} {:?}",
                now.totals,
                now.shared
            );
            assert_eq!(kept.as_str(), "kept across the rotation");
        })
        .join()
        .unwrap();
    }
}

#[test]
fn the_totals_include_the_shared_memory() {
    for_each_backend!(shared_in_totals);
}
