//! The bytes retired generations still hold (`Figures::retired_live`) and their waste
//! (`StatsSnapshot::retired_waste`), checked exactly: when a generation retires with
//! live values and pinned memory in it, as its values are released one by one, when it
//! is freed, and after a reset. thread-arena does not count them and says so (`None`);
//! global-malloc has no generations (no waste).
//!
//! One test function per binary, so no other strand changes the totals meanwhile.
#![cfg(all(
    not(miri),
    feature = "thread-arena",
    feature = "global-malloc",
    feature = "strand-arena"
))]

mod common;
use allocator_api2::vec::Vec as AVec;
use strand_alloc::backends::{GlobalMalloc, StrandArena, ThreadArena};
use strand_alloc::{stats, Config, Strand};

const T: usize = 64 * 1024;

fn waste() -> i64 {
    stats::<StrandArena>()
        .retired_waste
        .expect("strand-arena counts it")
}

fn strand_arena() {
    let cfg = Config::default().with_threshold(T).unwrap();
    let mut s = Strand::<StrandArena>::local_with(cfg).unwrap();
    let start = stats::<StrandArena>().totals;
    assert_eq!((start.retired, start.retired_live), (0, 0));
    assert_eq!(waste(), 0);

    // 10 values of 100 B and 4,000 B of a pinned vector in the first generation, then
    // churn until it retires.
    let mut kept: Vec<_> = (0..10).map(|i| s.str(&common::text(1, i, 100))).collect();
    let mut pinned: AVec<u8, _> = AVec::with_capacity_in(4000, s.allocator());
    pinned.extend_from_slice(&[7u8; 4000]);
    let mut round = 0;
    while s.stats().rotations == 0 {
        drop(s.str(&common::text(2, round, 1000)));
        round += 1;
    }
    let f = s.stats();
    assert_eq!(f.rotations, 1);
    assert_eq!(f.retired_live, 10 * 100 + 4000, "{f:?}");
    assert!(
        f.retired >= T as i64,
        "the retired chunks hold the threshold: {f:?}"
    );
    let snap = stats::<StrandArena>();
    assert_eq!(snap.totals.retired_live, f.retired_live);
    assert_eq!(snap.totals.retired, f.retired);
    assert_eq!(snap.retired_waste, Some(f.retired - 5000), "{snap}");

    // Each release lowers what the generation holds and raises its waste by as much.
    for (n, v) in kept.drain(..4).enumerate() {
        drop(v);
        let f = s.stats();
        assert_eq!(f.retired_live, 5000 - 100 * (n as i64 + 1));
        assert_eq!(waste(), f.retired - f.retired_live);
    }
    // The pinned memory, and a value given up without its release, keep the generation
    // when every other value is gone.
    std::mem::forget(kept.pop());
    drop(kept);
    let f = s.stats();
    assert_eq!(f.retired_live, 4000 + 100, "{f:?}");
    assert!(f.retired > 0);
    assert_eq!(waste(), f.retired - 4100);
    drop(pinned);
    assert_eq!(
        s.stats().retired_live,
        4100,
        "pinned memory counts until a reset"
    );

    // A reset frees the retired generation (the forgotten value with it): nothing
    // retired, nothing held, no waste.
    s.reset();
    let f = s.stats();
    assert_eq!((f.retired, f.retired_live), (0, 0), "{f:?}");
    assert_eq!(waste(), 0);

    // A generation retired with values in it and freed when its last one goes.
    let kept = s.str(&common::text(3, 0, 300));
    let rotations = s.stats().rotations;
    let mut round = 0;
    while s.stats().rotations == rotations {
        drop(s.str(&common::text(4, round, 1000)));
        round += 1;
    }
    let f0 = s.stats();
    assert_eq!(f0.retired_live, 300);
    assert_eq!(waste(), f0.retired - 300);
    drop(kept);
    let f = s.stats();
    assert_eq!(
        (f.retired, f.retired_live),
        (0, 0),
        "freed with its last value: {f:?}"
    );
    assert_eq!(
        f0.reserved - f.reserved,
        f0.retired,
        "its chunks are no longer reserved"
    );
    assert_eq!(waste(), 0);

    // A generation retired whose values are all released but that pinned memory still
    // uses is kept, and the pinned block stays whole, until a reset.
    let v = s.str(&common::text(7, 0, 100));
    let mut pinned: AVec<u8, _> = AVec::with_capacity_in(4000, s.allocator());
    pinned.extend_from_slice(&[9u8; 4000]);
    let rotations = s.stats().rotations;
    let mut round = 0;
    while s.stats().rotations == rotations {
        drop(s.str(&common::text(8, round, 1000)));
        round += 1;
    }
    drop(v);
    let f = s.stats();
    assert_eq!(f.retired_live, 4000, "only the pinned block: {f:?}");
    assert!(f.retired > 0, "the generation is kept for it: {f:?}");
    // Churn on, so freed memory would be handed out again.
    for i in 0..200 {
        drop(s.str(&common::text(9, i, 1000)));
    }
    assert!(pinned.iter().all(|b| *b == 9), "the pinned block is whole");
    drop(pinned);
    s.reset();
    assert_eq!((s.stats().retired, s.stats().retired_live), (0, 0));
    drop(s);
    let end = stats::<StrandArena>().totals;
    assert_eq!((end.retired, end.retired_live), (0, 0));
}

fn thread_arena_says_it_does_not_count() {
    let cfg = Config::default().with_threshold(T).unwrap();
    let a = Strand::<ThreadArena>::local_with(cfg).unwrap();
    let b = Strand::<ThreadArena>::local_with(cfg).unwrap();
    let held = b.str(&common::text(5, 0, 100));
    let mut round = 0;
    while a.stats().rotations == 0 {
        drop(a.str(&common::text(6, round, 1000)));
        round += 1;
    }
    let snap = stats::<ThreadArena>();
    assert!(snap.totals.retired > 0, "{snap}");
    assert_eq!(snap.totals.retired_live, 0);
    assert_eq!(snap.retired_waste, None, "{snap}");
    assert!(snap.to_string().contains("uncounted"), "{snap}");
    drop(held);
}

fn global_malloc_has_no_generations() {
    let s = Strand::<GlobalMalloc>::local().unwrap();
    let v: Vec<_> = (0..100).map(|i| s.str(&common::text(7, i, 1000))).collect();
    let snap = stats::<GlobalMalloc>();
    assert_eq!(snap.retired_waste, Some(0), "{snap}");
    assert_eq!(snap.totals.retired, 0);
    drop(v);
    // Memory a strand still has allocated when it ends becomes the backend's, reserved
    // by no strand.
    std::mem::forget(s.str(&common::text(8, 0, 1000)));
    let before = stats::<GlobalMalloc>().shared.reserved;
    drop(s);
    assert_eq!(stats::<GlobalMalloc>().shared.reserved - before, 1000);
}

#[test]
fn retired_generations_report_what_they_hold_and_waste() {
    std::thread::spawn(|| {
        strand_arena();
        thread_arena_says_it_does_not_count();
        global_malloc_has_no_generations();
    })
    .join()
    .unwrap();
}
