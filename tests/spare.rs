//! thread-arena keeps a generation's last chunk as its thread's spare only when the
//! generation was that thread's own current one. A strand that allocated on one worker
//! and releases its values on another lets go of the first worker's generation there:
//! every chunk of it goes back (the reserved bytes fall by all of them), none becomes
//! the second worker's spare. On its own thread, it does become the spare.
//!
//! One test function per binary, so no other strand changes the reserved bytes.
#![cfg(all(not(miri), feature = "thread-arena"))]

mod common;
use common::*;
use strand_alloc::thread::thread_index;
use strand_alloc::{stats, Builder, Config, Strand, ThreadArena, ValueAllocator};

fn shared() -> i64 {
    stats::<ThreadArena>().shared.reserved
}

#[test]
fn a_generation_let_go_on_another_thread_is_freed_whole() {
    setup();
    // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a
    // point where the strand can move.
    let h = unsafe {
        Builder::<ThreadArena>::new()
            .config(Config::default())
            .spawn(|s| {
                // A generation that starts from nothing on this worker.
                ThreadArena::release_idle();
                let home = thread_index();
                let before = shared();
                let values: Vec<_> = (0..100).map(|i| s.str(&text(1, i, 1000))).collect();
                let generation = shared() - before;
                assert!(generation >= 100 * 1000, "the values' chunks: {generation}");
                assert_eq!(thread_index(), home, "no yield while allocating");
                let mut hops = 0;
                while thread_index() == home {
                    hop();
                    hops += 1;
                    assert!(hops < 1000, "never moved to the other worker");
                }
                ThreadArena::release_idle();
                let before_release = shared();
                drop(values);
                let freed = before_release - shared();
                (generation, freed)
            })
    }
    .unwrap();
    let (generation, freed) = join(h);
    assert_eq!(
        freed, generation,
        "every chunk of the other worker's generation is freed, none kept as a spare here"
    );
    // On its own thread, a generation let go keeps its last chunk as the thread's spare,
    // and the next strand there allocates in it without reserving more.
    std::thread::spawn(|| {
        ThreadArena::release_idle();
        let before = shared();
        {
            let s = Strand::<ThreadArena>::local().unwrap();
            drop(s.str(&text(2, 0, 1000)));
        }
        let kept = shared() - before;
        assert!(kept >= 1000, "the spare: {kept}");
        {
            let s = Strand::<ThreadArena>::local().unwrap();
            let v = s.str(&text(3, 0, 1000));
            assert_eq!(shared() - before, kept, "the next strand reuses the spare");
            drop(v);
        }
        ThreadArena::release_idle();
        assert_eq!(shared(), before, "given back when asked");
    })
    .join()
    .unwrap();
}
