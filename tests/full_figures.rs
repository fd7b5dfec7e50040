//! `FullFigures<A>`: backend `A` with its strands at the full level of figures in any
//! build, beside strands of `A` at the build's level in the same program. The two share
//! `A`'s memory and registry, and keep their own strands, current strands and handles.
//! (The migration and stranded figures of both levels are checked in
//! `tests/migration.rs`.)
//!
//! One test that begins strands per binary: it reads process-wide figures.

mod common;
use strand_alloc::allocator::full_level;
use strand_alloc::{
    current_figures, stats, FullFigures, Handle, Strand, ValueAllocator, FULL_FIGURES,
};

fn both_levels<A: ValueAllocator>() {
    type F<A> = FullFigures<A>;
    assert!(full_level::<F<A>>());
    assert_eq!(full_level::<A>(), FULL_FIGURES);
    assert_eq!(F::<A>::NAME, A::NAME);
    std::thread::spawn(|| {
        // Only full-level strands so far on this backend (this binary's one test):
        // the snapshot says every figure is counted, and prints them.
        let full = Strand::<F<A>>::local().unwrap();
        let a = full.str("at the full level");
        let snap = stats::<A>();
        assert!(snap.full_level, "{}", A::NAME);
        assert!(snap.to_string().contains("  migrations        0"), "{snap}");
        // The full level writes through: the process-wide figures see the value at once.
        let before = stats::<F<A>>().totals;
        let kept: Vec<_> = (0..10).map(|_| full.str("0123456789")).collect();
        let after = stats::<F<A>>().totals;
        assert_eq!(after.allocs - before.allocs, 10, "{}", A::NAME);
        assert_eq!(after.used - before.used, 100, "{}", A::NAME);

        // A strand of `A` on the same thread: the same registry (each type's snapshot
        // reads both), the level now mixed unless the build keeps the full level.
        let plain = Strand::<A>::local().unwrap();
        let b = plain.str("at the build's level");
        let mixed = stats::<F<A>>();
        assert_eq!(mixed.full_level, FULL_FIGURES, "{}", A::NAME);
        assert_eq!(mixed.live_strands, stats::<A>().live_strands);
        assert!(mixed.live_strands >= 2);
        assert_eq!(
            mixed.to_string().contains("uncounted (production level)"),
            !FULL_FIGURES,
            "{mixed}"
        );
        // Each strand's own figures are its own, at either level.
        assert_eq!(full.stats().used, 117, "{}", A::NAME);
        assert_eq!(plain.stats().used, 20, "{}", A::NAME);
        assert_eq!(a.as_str(), "at the full level");
        assert_eq!(b.as_str(), "at the build's level");
        drop((a, kept, b));
        assert_eq!((full.stats().used, plain.stats().used), (0, 0));

        // Current strands and handles: one per level in the same context.
        let hf = Handle::<F<A>>::new_str("full handle").unwrap();
        let hp = Handle::<A>::new_str("plain handle").unwrap();
        assert_ne!(hf.to_word(), hp.to_word());
        assert_eq!(current_figures::<F<A>>().unwrap().used, 11, "{}", A::NAME);
        assert_eq!(current_figures::<A>().unwrap().used, 12, "{}", A::NAME);
        #[cfg(feature = "checked")]
        {
            // A checked build refuses one level's word as the other's (words kept as
            // pointers, as a runtime under strict provenance keeps them).
            // SAFETY: checked builds verify that a word names a slot of this backend.
            assert!(unsafe { Handle::<A>::from_ptr(hf.to_ptr()) }.is_none());
            assert!(unsafe { Handle::<F<A>>::from_ptr(hp.to_ptr()) }.is_none());
            // SAFETY: the same word as the same level's is a handle.
            assert!(unsafe { Handle::<F<A>>::from_ptr(hf.to_ptr()) }.is_some());
        }
        // SAFETY: each handle is owned and released once, by its own level.
        unsafe {
            assert_eq!(hf.as_str().unwrap(), "full handle");
            assert_eq!(hp.as_str().unwrap(), "plain handle");
            hf.release().unwrap();
            hp.release().unwrap();
        }
        assert_eq!(current_figures::<F<A>>().unwrap().used, 0);
        assert_eq!(current_figures::<A>().unwrap().used, 0);
    })
    .join()
    .unwrap();
}

#[test]
fn one_backend_at_both_levels_in_one_program() {
    for_each_backend!(both_levels);
}

/// A snapshot or a report written before the level was recorded still reads back, as
/// one that does not claim the full level.
#[cfg(feature = "serde")]
#[test]
fn figures_written_without_a_level_read_back() {
    use strand_alloc::{StatsSnapshot, StrandReport};
    let mut snap = serde_json::to_value(stats::<common::AnyBackend>()).unwrap();
    let mut report = serde_json::to_value(StrandReport::default()).unwrap();
    for v in [&mut snap, &mut report] {
        assert!(v.as_object_mut().unwrap().remove("full_level").is_some());
    }
    let snap: StatsSnapshot = serde_json::from_value(snap).unwrap();
    let report: StrandReport = serde_json::from_value(report).unwrap();
    assert!(!snap.full_level && !report.full_level);
}
