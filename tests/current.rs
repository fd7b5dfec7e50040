//! A strand for a coroutine spawned directly with May (`Strand::with_current`): made on
//! first use, the same strand on every later call, ended through the backend's exit when
//! the coroutine ends (return, panic, cancel), with exact figures.
#![cfg(not(miri))]

mod common;
use common::*;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use strand_alloc::{live_strands, stats, CurrentError, Strand, ValueAllocator};

/// The tests read process-wide figures: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Waits until no strand is alive: a current strand's exit runs when May drops the
/// coroutine's local storage, just after its join has been signalled.
fn wait_for_exits() {
    let start = Instant::now();
    while live_strands() != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} strands still alive after 10 s",
            live_strands()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// How a test coroutine ends.
#[derive(Clone, Copy, PartialEq, Debug)]
enum End {
    Return,
    Panic,
    Cancel,
}

fn ends<A: ValueAllocator>(end: End) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    wait_for_exits();
    let before = stats::<A>().totals;
    let (park_tx, park_rx) = may::sync::mpsc::channel::<()>();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a
    // point where the coroutine can move.
    let h = unsafe {
        may::coroutine::spawn(move || {
            let first = Strand::<A>::with_current(|s| {
                let kept = s.str(&text(1, 0, 100));
                // Not before a cancel: after a hop, May can lose a cancel (see
                // `strand_alloc::hop`).
                if end != End::Cancel {
                    hop();
                }
                (s.id(), kept.len())
            })
            .unwrap();
            Strand::<A>::with_current(|s| {
                // The same strand on every call of this coroutine.
                assert_eq!(s.id(), first.0);
                let held: Vec<_> = (0..10).map(|i| s.str(&text(2, i, 50))).collect();
                let f = s.stats();
                seen_tx.send((s.id(), f)).unwrap();
                // Parked, holding values, until told to go on (or cancelled).
                let _ = park_rx.recv();
                if end == End::Panic {
                    panic!("deliberate");
                }
                held.len()
            })
            .unwrap()
        })
    };
    let (id, mid) = seen_rx.recv().unwrap();
    assert_ne!(id, 0);
    assert_eq!(mid.allocs, 11, "{mid:?}");
    assert_eq!(mid.bytes_allocated, 100 + 10 * 50);
    // Ten values of 50 bytes alive at this point.
    assert_eq!(mid.used, 500, "{mid:?}");
    assert_eq!(mid.strands_begun, 1);
    assert_eq!(mid.strands_exited, 0);
    // The process-wide figures see the running strand's values.
    let running = stats::<A>();
    assert_eq!(running.totals.used - before.used, 500, "{running}");
    assert_eq!(running.totals.allocs - before.allocs, 11);
    assert_eq!(live_strands(), 1);
    if end == End::Cancel {
        // SAFETY: the coroutine holds nothing that must not be dropped at its park point.
        unsafe { h.coroutine().cancel() };
    } else {
        park_tx.send(()).unwrap();
    }
    let joined = h.join();
    assert_eq!(joined.is_ok(), end == End::Return, "{end:?}");
    wait_for_exits();
    let after = stats::<A>().totals;
    assert_eq!(after.strands_begun - before.strands_begun, 1, "{end:?}");
    assert_eq!(after.strands_exited - before.strands_exited, 1, "{end:?}");
    assert_eq!(after.allocs - before.allocs, 11);
    assert_eq!(after.used, before.used, "every value released: {end:?}");
}

fn returns<A: ValueAllocator>() {
    ends::<A>(End::Return)
}
fn panics<A: ValueAllocator>() {
    ends::<A>(End::Panic)
}
fn cancelled<A: ValueAllocator>() {
    ends::<A>(End::Cancel)
}

#[test]
fn a_current_strand_ends_when_its_coroutine_returns() {
    for_each_backend!(returns);
}

#[test]
fn a_current_strand_ends_when_its_coroutine_panics() {
    for_each_backend!(panics);
}

#[test]
fn a_current_strand_ends_when_its_coroutine_is_cancelled() {
    for_each_backend!(cancelled);
}

/// Each coroutine has its own strand; a nested call for the same backend is refused
/// (one call at a time uses a strand) and changes nothing, and the next call finds the
/// same strand; the strand of one coroutine is not another's.
fn distinct<A: ValueAllocator>() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    let spawn = || {
        // SAFETY: as above.
        unsafe {
            may::coroutine::spawn(|| {
                let outer_id = Strand::<A>::with_current(|outer| {
                    let v = outer.str("outer");
                    let before = outer.stats();
                    let inner = Strand::<A>::with_current(|inner| inner.str("inner").len());
                    assert!(
                        matches!(inner, Err(CurrentError::InUse { backend }) if backend == A::NAME),
                        "a nested call for the same backend is refused: {inner:?}"
                    );
                    assert_eq!(outer.stats(), before, "the refused call changed nothing");
                    assert_eq!(v.as_str(), "outer");
                    outer.id()
                })
                .unwrap();
                let again = Strand::<A>::with_current(|s| s.id()).unwrap();
                assert_eq!(again, outer_id, "a later call finds the same strand");
                outer_id
            })
        }
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert_ne!(a, b, "two coroutines, two strands");
    wait_for_exits();
}

#[test]
fn each_coroutine_has_its_own_strand() {
    for_each_backend!(distinct);
}

#[cfg(all(feature = "thread-arena", feature = "global-malloc"))]
#[test]
fn one_coroutine_can_hold_a_strand_per_backend() {
    use strand_alloc::{GlobalMalloc, ThreadArena};
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    // SAFETY: as above.
    let h = unsafe {
        may::coroutine::spawn(|| {
            Strand::<ThreadArena>::with_current(|t| {
                let a = t.str("arena");
                Strand::<GlobalMalloc>::with_current(|g| {
                    let b = g.str("heap");
                    assert_ne!(t.id(), g.id());
                    format!("{a}+{b}")
                })
                .unwrap()
            })
            .unwrap()
        })
    };
    assert_eq!(h.join().unwrap(), "arena+heap");
    wait_for_exits();
}

/// A generator running inside a coroutine sees the coroutine's strand. Paused inside the
/// closure and resumed on another thread, it keeps the strand to itself: the
/// coroutine's own calls are refused meanwhile (so no two threads use one strand), and
/// succeed, with the same strand, once the generator's call has returned.
fn generator_elsewhere<A: ValueAllocator>() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    wait_for_exits();
    let before = stats::<A>().totals;
    let (gen_tx, gen_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = may::sync::mpsc::channel::<u64>();
    let worker = std::thread::spawn(move || {
        let mut g: generator::Generator<'static, (), u64> = gen_rx.recv().unwrap();
        // Resumed on this plain thread, inside the closure it paused in.
        let id = g.resume().unwrap();
        assert!(g.is_done());
        done_tx.send(id).unwrap();
    });
    // SAFETY: as above; the generator is `Send` and holds nothing thread-local.
    let h = unsafe {
        may::coroutine::spawn(move || {
            let mut g = generator::Gn::<()>::new_scoped(|mut sc| {
                Strand::<A>::with_current(|s| {
                    let v = s.str("made before the pause");
                    sc.yield_(s.id());
                    // Now on the worker thread, with the coroutine's strand.
                    let w: Vec<_> = (0..100).map(|i| s.str(&text(3, i, 40))).collect();
                    assert_eq!(v.as_str(), "made before the pause");
                    assert!(w
                        .iter()
                        .enumerate()
                        .all(|(i, w)| w.as_str() == text(3, i, 40)));
                    s.id()
                })
                .unwrap()
            });
            let id = g.resume().unwrap();
            let refused = Strand::<A>::with_current(|s| s.str("coroutine").len());
            assert!(
                matches!(refused, Err(CurrentError::InUse { .. })),
                "the strand is in use by the paused generator: {refused:?}"
            );
            gen_tx.send(g).unwrap();
            let returned = done_rx.recv().unwrap();
            assert_eq!(returned, id);
            let again = Strand::<A>::with_current(|s| {
                let v = s.str("coroutine again");
                (s.id(), v.len())
            })
            .unwrap();
            assert_eq!(again, (id, 15), "the coroutine's strand is its own again");
        })
    };
    h.join().unwrap();
    worker.join().unwrap();
    wait_for_exits();
    let after = stats::<A>().totals;
    assert_eq!(after.strands_begun - before.strands_begun, 1);
    assert_eq!(after.strands_exited - before.strands_exited, 1);
    assert_eq!(
        after.allocs - before.allocs,
        1 + 100 + 1,
        "the refused call allocated nothing"
    );
    assert_eq!(after.used, before.used);
}

#[test]
fn a_generator_paused_in_the_closure_keeps_the_strand_to_itself() {
    for_each_backend!(generator_elsewhere);
}

/// A generator paused inside the closure can outlive its coroutine: the strand then
/// outlives the coroutine too, counted live, still usable by the generator (here resumed
/// on a plain thread), and its exit runs when the generator's call lets go of it.
fn generator_outlives<A: ValueAllocator>() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    wait_for_exits();
    let before = stats::<A>().totals;
    // SAFETY: as above; the generator is `Send` and holds nothing thread-local.
    let h = unsafe {
        may::coroutine::spawn(|| {
            // A handle-API lookup first: the worker thread remembers this context's
            // strand for the next lookup there.
            let first = strand_alloc::current_strand_id::<A>().unwrap();
            let mut g = generator::Gn::<()>::new_scoped(move |mut sc| {
                Strand::<A>::with_current(|s| {
                    assert_eq!(s.id(), first);
                    let v = s.str("a value of the coroutine's strand");
                    sc.yield_(0);
                    let w = s.str("made after the coroutine ended");
                    v.len() + w.len()
                })
                .unwrap()
            });
            assert_eq!(g.resume(), Some(0));
            (g, first)
        })
    };
    let (mut g, first) = h.join().unwrap();
    // The coroutine has ended (its storage may be dropped at any moment now); the
    // generator's call keeps the strand alive.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(live_strands(), 1, "the paused call keeps its strand alive");
    let mid = stats::<A>().totals;
    assert_eq!(mid.strands_exited, before.strands_exited, "no exit yet");
    // The ended context lets its key go: May reuses coroutines, so later ones soon run
    // under the same key on the same worker, and each gets a strand of its own, not the
    // one the paused call holds (which would be refused as in use, or shared by two).
    const LATER: u64 = 100;
    for _ in 0..LATER {
        // SAFETY: the closure uses no thread-locals.
        let id = unsafe { may::coroutine::spawn(strand_alloc::current_strand_id::<A>) }
            .join()
            .unwrap();
        assert!(id.as_ref().is_ok_and(|&id| id != first), "{id:?}");
    }
    let start = Instant::now();
    while live_strands() != 1 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "later strands left"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(g.resume(), Some(33 + 30));
    wait_for_exits();
    let after = stats::<A>().totals;
    assert_eq!(after.strands_exited - before.strands_exited, 1 + LATER);
    assert_eq!(after.allocs - before.allocs, 2);
    assert_eq!(after.used, before.used, "every value released");
}

#[test]
fn a_generator_can_keep_a_current_strand_past_its_coroutine() {
    for_each_backend!(generator_outlives);
}

#[test]
fn outside_a_coroutine_is_an_error() {
    let e = Strand::<common::AnyBackend>::with_current(|s| s.id()).unwrap_err();
    assert!(matches!(e, CurrentError::NotInCoroutine), "{e:?}");
    assert!(e.to_string().contains("Strand::local"), "{e}");
}

/// The seed policy breaks the allocation contract on purpose: no current strand for it.
#[cfg(feature = "seed-arena")]
#[test]
fn the_seed_policy_gets_no_current_strand() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    // SAFETY: as above.
    let h = unsafe {
        may::coroutine::spawn(|| {
            Strand::<strand_alloc::SeedArena>::with_current(|s| s.id()).map_err(|e| e.to_string())
        })
    };
    let e = h.join().unwrap().unwrap_err();
    assert!(
        e.contains("seed-arena") && e.contains("local_unchecked"),
        "{e}"
    );
    wait_for_exits();
}
