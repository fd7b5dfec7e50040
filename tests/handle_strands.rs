//! One-word handles inside May coroutines: a strand per coroutine found without a
//! closure, values shared across coroutines that migrate and end, a strand cancelled while
//! its values are shared, a generator resumed on another thread, and the one-user-at-a-
//! time rule against a `with_current` call.
#![cfg(not(miri))]

mod common;
use common::*;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use strand_alloc::{
    current_strand_id, live_strands, CurrentError, Field, Handle, Strand, ValueAllocator,
};

/// The tests read process-wide figures: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn wait_for_exits(base: usize) {
    let start = Instant::now();
    while live_strands() > base {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "strands still alive"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Spawns a coroutine with May directly (not through this crate).
fn go<F, R>(f: F) -> may::coroutine::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    // SAFETY: every closure of these tests keeps no thread-local borrow and nothing
    // `!Send` across a point where the coroutine can move.
    unsafe { may::coroutine::spawn(f) }
}

/// A word as it travels between coroutines.
#[derive(Clone, Copy)]
struct Word(usize);

fn h<A: ValueAllocator>(w: Word) -> Handle<A> {
    // SAFETY: the tests make words only with `to_word`.
    unsafe { Handle::from_word(w.0) }.unwrap()
}

fn per_coroutine<A: ValueAllocator>() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    let base = live_strands();
    let ids: Vec<u64> = (0..8)
        .map(|_| {
            go(|| {
                let id = current_strand_id::<A>().unwrap();
                let v = Handle::<A>::new_str("mine").unwrap();
                hop();
                // The same strand after a move, and the value still its own.
                assert_eq!(current_strand_id::<A>().unwrap(), id);
                // SAFETY: owned by this coroutine, read and released once.
                assert_eq!(unsafe { v.as_str() }.unwrap(), "mine");
                unsafe { v.release() }.unwrap();
                id
            })
        })
        .map(|h| h.join().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "{}: one strand per coroutine",
        A::NAME
    );
    assert!(
        !ids.contains(&current_strand_id::<A>().unwrap()),
        "the thread's is its own"
    );
    wait_for_exits(base + 1);
}

#[test]
fn each_coroutine_has_its_own_strand_through_moves() {
    for_each_backend!(per_coroutine);
}

fn shared_across_migrations<A: ValueAllocator>() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    let (tx, rx) = may::sync::mpsc::channel::<Word>();
    // Makers share and end; readers, spawned later, read after other strands allocated.
    let makers: Vec<_> = (0..16)
        .map(|i| {
            let tx = tx.clone();
            {
                go(move || {
                    let s = Handle::<A>::new_str(&format!("value {i:02}")).unwrap();
                    // SAFETY: `s` is given once; the variant is this coroutine's.
                    let v = unsafe { Handle::<A>::new_variant(i, &[Field::Value(s)]) }.unwrap();
                    hop();
                    // SAFETY: owned here; shared for the message.
                    let shared = unsafe { v.share() }.unwrap();
                    tx.send(Word(shared.to_word())).unwrap();
                    // SAFETY: one of two holders.
                    unsafe { v.release() }.unwrap();
                })
            }
        })
        .collect();
    drop(tx);
    for m in makers {
        m.join().unwrap();
    }
    let noise: Vec<_> = (0..8)
        .map(|_| {
            go(|| {
                for _ in 0..500 {
                    let n = Handle::<A>::new_str("noise noise noise noise").unwrap();
                    // SAFETY: owned, released once.
                    unsafe { n.release() }.unwrap();
                }
            })
        })
        .collect();
    noise.into_iter().for_each(|n| n.join().unwrap());
    let reader = {
        go(move || {
            let mut seen = 0;
            while let Ok(w) = rx.recv() {
                hop();
                // SAFETY: shared words, each with a holder left.
                let (tag, f) = unsafe { h::<A>(w).fields() }.unwrap();
                let Field::Value(s) = f[0] else {
                    panic!("a value field")
                };
                // SAFETY: held by the shared variant, which has a holder left.
                assert_eq!(unsafe { s.as_str() }.unwrap(), format!("value {tag:02}"));
                // SAFETY: the last holder.
                unsafe { h::<A>(w).release() }.unwrap();
                seen += 1;
            }
            seen
        })
    };
    assert_eq!(reader.join().unwrap(), 16);
    assert_eq!(strand_alloc::stats::<A>().shared.used, 0, "{}", A::NAME);
}

#[test]
fn shared_values_outlive_their_makers_across_migrations() {
    for_each_backend!(shared_across_migrations);
}

fn cancelled_while_shared<A: ValueAllocator>() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    let (tx, rx) = std::sync::mpsc::channel::<Word>();
    let h_co = {
        go(move || {
            for i in 0..50 {
                let v = Handle::<A>::new_str(&format!("kept {i}")).unwrap();
                // SAFETY: owned here; the coroutine keeps its own hold.
                let c = unsafe { v.share() }.unwrap();
                tx.send(Word(c.to_word())).unwrap();
            }
            // Owned values too, freed with the strand.
            let _owned: Vec<_> = (0..50)
                .map(|_| Handle::<A>::new_str("owned").unwrap())
                .collect();
            may::coroutine::sleep(Duration::from_secs(60));
        })
    };
    let words: Vec<Word> = (0..50).map(|_| rx.recv().unwrap()).collect();
    // SAFETY: May's cancel contract: the coroutine holds no lock and no resource that a
    // cancel would leave half-done.
    unsafe { h_co.coroutine().cancel() };
    assert!(h_co.join().is_err(), "cancelled");
    for (i, w) in words.iter().enumerate() {
        // SAFETY: shared, with the reader's hold.
        assert_eq!(unsafe { h::<A>(*w).as_str() }.unwrap(), format!("kept {i}"));
        // The coroutine's own holds were lost with its stack (a handle has no `Drop`):
        // this is the reader's hold.
        // SAFETY: the reader's hold, released once.
        unsafe { h::<A>(*w).release() }.unwrap();
        assert_eq!(
            h::<A>(*w).holders(),
            Some(1),
            "the cancelled coroutine's hold remains"
        );
        // Let go of the lost hold too, as a runtime that tracks its words would.
        // SAFETY: the cancelled coroutine's hold, released once on its behalf.
        unsafe { h::<A>(*w).release() }.unwrap();
    }
    assert_eq!(strand_alloc::stats::<A>().shared.used, 0, "{}", A::NAME);
}

#[test]
fn a_cancelled_strands_shared_values_stay_readable() {
    for_each_backend!(cancelled_while_shared);
}

fn with_current_holds_the_strand<A: ValueAllocator>() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    let r = {
        go(|| {
            let outside = Handle::<A>::new_str("made outside").unwrap();
            let inside = Strand::<A>::with_current(|_| {
                // One user at a time: the handle calls are refused while the closure
                // holds the strand.
                let made = Handle::<A>::new_str("x").map(|_| ()).unwrap_err();
                // SAFETY: refused before anything is freed.
                let released = unsafe { outside.release() }.unwrap_err();
                (
                    made.as_current()
                        .is_some_and(|e| matches!(e, CurrentError::InUse { .. })),
                    released
                        .as_current()
                        .is_some_and(|e| matches!(e, CurrentError::InUse { .. })),
                )
            })
            .unwrap();
            // SAFETY: owned, released once (the refused release freed nothing).
            unsafe { outside.release() }.unwrap();
            inside
        })
    };
    assert_eq!(r.join().unwrap(), (true, true), "{}", A::NAME);
}

#[test]
fn a_with_current_call_holds_the_strand_against_handle_calls() {
    for_each_backend!(with_current_holds_the_strand);
}

fn generator_resumed_elsewhere<A: ValueAllocator>() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    // A generator made and first resumed inside a coroutine sees that coroutine's strand;
    // resumed later on a plain thread, that thread's.
    let r = {
        go(|| {
            let mut g = generator::Gn::<()>::new_scoped(move |mut y| {
                let first = current_strand_id::<A>().unwrap();
                let v = Handle::<A>::new_str("from the generator").unwrap();
                // SAFETY: owned by the coroutine's strand; shared to travel.
                let shared = unsafe { v.share() }.unwrap();
                // SAFETY: one of two holders.
                unsafe { v.release() }.unwrap();
                y.yield_((first, 0, Word(shared.to_word())));
                let second = current_strand_id::<A>().unwrap();
                (first, second, Word(shared.to_word()))
            });
            let (co_strand, _, w) = g.resume().unwrap();
            assert_eq!(co_strand, current_strand_id::<A>().unwrap());
            (g, w)
        })
    };
    let (mut g, w) = r.join().unwrap();
    let (first, second, _) = std::thread::spawn(move || {
        let (a, b, w2) = g
            .resume()
            .unwrap_or_else(|| panic!("the generator returns"));
        let _ = w2;
        (a, b, Word(0))
    })
    .join()
    .unwrap();
    assert_ne!(
        first,
        second,
        "{}: the generator saw the thread's strand there",
        A::NAME
    );
    // SAFETY: shared, with one holder left: readable and released here.
    assert_eq!(unsafe { h::<A>(w).as_str() }.unwrap(), "from the generator");
    unsafe { h::<A>(w).release() }.unwrap();
}

#[test]
fn a_generator_resumed_on_another_thread_uses_that_threads_strand() {
    for_each_backend!(generator_resumed_elsewhere);
}
