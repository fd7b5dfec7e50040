//! Memory given back on release, not on allocation: an allocation that lets go of a
//! generation never runs a trim (a trim can take milliseconds), the next release does;
//! and a generation emptied of its values is reset (counted) so the next values reuse it.
//! One test function per binary: the trim step is process-wide.
#![cfg(not(miri))]

use strand_alloc::trim;

#[cfg(any(feature = "thread-arena", feature = "strand-arena"))]
fn emptied_is_reset<A: strand_alloc::ValueAllocator>() {
    use strand_alloc::Strand;
    std::thread::spawn(|| {
        let s = Strand::<A>::local().unwrap();
        let values: Vec<_> = (0..64).map(|_| s.str(&"v".repeat(1000))).collect();
        drop(values);
        let f = s.stats();
        assert_eq!(f.resets_emptied, 1, "{}: {f:?}", A::NAME);
        assert_eq!(f.resets(), 1);
        // Too little handed out to be worth a reset.
        let few: Vec<_> = (0..4).map(|_| s.str("small")).collect();
        drop(few);
        assert_eq!(s.stats().resets_emptied, 1, "{}", A::NAME);
    })
    .join()
    .unwrap();
}

#[test]
fn trims_run_on_release_and_emptied_generations_are_reset() {
    // The step reads back as set, and off is off.
    assert_eq!(trim::step(), None, "no trims unless the program asks");
    trim::set_step(Some(8 << 20));
    assert_eq!(trim::step(), Some(8 << 20));
    trim::set_step(None);
    assert_eq!(trim::step(), None);
    #[cfg(feature = "thread-arena")]
    std::thread::spawn(|| {
        use strand_alloc::{Config, Strand, ThreadArena};
        let cfg = Config::default().with_threshold(64).unwrap();
        let s = Strand::<ThreadArena>::local_with(cfg).unwrap();
        let s2 = Strand::<ThreadArena>::local_with(cfg).unwrap();
        let v = s.str(&"a".repeat(40));
        drop(v); // `s` keeps an idle hold on the first generation
        let w = s2.str(&"b".repeat(40)); // which is rotated out
        trim::set_step(Some(1));
        let before = trim::trims();
        let x = s.str("cccccccccc"); // lets go of it: freed, but no trim here
        assert_eq!(trim::trims(), before, "a trim ran inside an allocation");
        drop(w);
        drop(s2); // a strand's exit releases: the trim that was due runs now
        assert!(trim::trims() > before, "the release trims");
        trim::set_step(None);
        drop(x);
    })
    .join()
    .unwrap();
    #[cfg(feature = "thread-arena")]
    emptied_is_reset::<strand_alloc::ThreadArena>();
    #[cfg(feature = "strand-arena")]
    emptied_is_reset::<strand_alloc::StrandArena>();
}
