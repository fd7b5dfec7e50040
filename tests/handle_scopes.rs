//! Handle scopes: a runtime without closures opens a scope around each message with
//! `enter_scope` and closes it with `leave_scope`, and the values made in it are freed
//! there, however many it forgot to release. On plain threads (Miri runs these), and in
//! May coroutines that move between OS threads.

mod common;

use strand_alloc::handle::{enter_scope, leave_scope, MAX_HANDLE_SCOPES};
use strand_alloc::{current_figures, reset_current, Field, Handle, HandleError, ValueAllocator};

fn used<A: ValueAllocator>() -> i64 {
    current_figures::<A>().unwrap().used
}

fn scopes<A: ValueAllocator>() -> u64 {
    current_figures::<A>().unwrap().scopes
}

/// One test at a time: some read the process-wide figures.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on a thread of its own, so that its strand is fresh and ends with it.
fn on_thread(f: impl FnOnce() + Send + 'static) {
    let _serial = serial();
    std::thread::spawn(f).join().unwrap();
}

fn freed_at_leave<A: ValueAllocator>() {
    on_thread(|| {
        let state = Handle::<A>::new_str("kept across messages").unwrap();
        let base = used::<A>();
        let scopes_before = scopes::<A>();
        let mark = enter_scope::<A>().unwrap();
        let a = Handle::<A>::new_str("a message's text").unwrap();
        let b = Handle::<A>::new_bytes(&[7; 100]).unwrap();
        // SAFETY: `a` and `b` are given once and not released here.
        let v =
            unsafe { Handle::<A>::new_variant(3, &[Field::Value(a), Field::Value(b)]) }.unwrap();
        let loose = Handle::<A>::new_str("never released").unwrap();
        assert!(used::<A>() > base + 116, "the scope's values are counted");
        // SAFETY: live values of this strand: the scope's and the enclosing level's.
        unsafe {
            assert_eq!(v.fields().unwrap().1.len(), 2);
            assert_eq!(loose.as_str().unwrap(), "never released");
            assert_eq!(state.as_str().unwrap(), "kept across messages");
        }
        // SAFETY: no value of the scope is used afterwards.
        unsafe { leave_scope::<A>(mark) }.unwrap();
        assert_eq!(used::<A>(), base, "every value of the scope is freed");
        assert_eq!(scopes::<A>(), scopes_before + 1, "the scope is counted");
        // SAFETY: made before the scope, still live.
        unsafe {
            assert_eq!(state.as_str().unwrap(), "kept across messages");
            state.release().unwrap();
        }
        assert!(
            used::<A>() < base,
            "the enclosing level's value is freed by its release"
        );
    });
}

#[test]
fn a_scope_frees_its_values_at_its_leave_and_keeps_the_enclosing_ones() {
    for_each_backend!(freed_at_leave);
}

fn shared_outlive<A: ValueAllocator>() {
    on_thread(|| {
        let base = used::<A>();
        let mark = enter_scope::<A>().unwrap();
        let kept = Handle::<A>::new_str("the new state").unwrap();
        // SAFETY: the owner shares its live value: the escape of a handle scope.
        let kept = unsafe { kept.share() }.unwrap();
        let gone = Handle::<A>::new_str("dies with the message").unwrap();
        let _ = gone;
        // SAFETY: only the shared value is used afterwards.
        unsafe { leave_scope::<A>(mark) }.unwrap();
        assert_eq!(
            used::<A>(),
            base,
            "a shared value is on the heap, not the strand"
        );
        // SAFETY: shared, two holders, each released once.
        unsafe {
            assert_eq!(kept.as_str().unwrap(), "the new state");
            assert_eq!(kept.holders(), Some(2));
            kept.release().unwrap();
            kept.release().unwrap();
        }
    });
}

#[test]
fn a_shared_value_outlives_its_scope() {
    for_each_backend!(shared_outlive);
}

fn released_inside<A: ValueAllocator>() {
    on_thread(|| {
        let outer = Handle::<A>::new_str("made before the scope").unwrap();
        let given = Handle::<A>::new_str("given to a variant of the scope").unwrap();
        let base = used::<A>();
        let mark = enter_scope::<A>().unwrap();
        // SAFETY: the enclosing level's value, live and this strand's, released once.
        unsafe { outer.release() }.unwrap();
        assert!(used::<A>() < base, "freed at once, as outside a scope");
        let after_release = used::<A>();
        // SAFETY: `given` is given once, not released here.
        let v = unsafe { Handle::<A>::new_variant(0, &[Field::Value(given)]) }.unwrap();
        let x = Handle::<A>::new_str("released in the scope").unwrap();
        // SAFETY: live, released once.
        unsafe { x.release() }.unwrap();
        let _ = v;
        // SAFETY: nothing of the scope is used afterwards (`given` went with the variant).
        unsafe { leave_scope::<A>(mark) }.unwrap();
        assert!(
            used::<A>() < after_release,
            "the variant frees what it was given at the leave"
        );
        assert_eq!(used::<A>(), 0, "nothing of the strand's is left");
    });
}

#[test]
fn values_of_the_enclosing_level_are_released_in_a_scope() {
    for_each_backend!(released_inside);
}

fn order<A: ValueAllocator>() {
    on_thread(|| {
        let outer = enter_scope::<A>().unwrap();
        let a = Handle::<A>::new_str("outer scope").unwrap();
        let inner = enter_scope::<A>().unwrap();
        let b = Handle::<A>::new_str("inner scope").unwrap();
        let in_both = used::<A>();
        // SAFETY: refused: nothing is freed, so both values stay usable.
        let r = unsafe { leave_scope::<A>(outer) };
        assert!(matches!(r, Err(HandleError::ScopeOrder)), "{r:?}");
        assert_eq!(used::<A>(), in_both, "a refused leave frees nothing");
        // SAFETY: both live, this strand's.
        unsafe {
            assert_eq!(a.as_str().unwrap(), "outer scope");
            assert_eq!(b.as_str().unwrap(), "inner scope");
        }
        // SAFETY: `b` is not used afterwards.
        unsafe { leave_scope::<A>(inner) }.unwrap();
        let in_outer = used::<A>();
        assert!(in_outer < in_both, "the inner scope's value is freed");
        // SAFETY: refused, twice over.
        let again = unsafe { leave_scope::<A>(inner) };
        assert!(matches!(again, Err(HandleError::ScopeOrder)), "{again:?}");
        assert_eq!(used::<A>(), in_outer);
        // SAFETY: the outer scope's value is still live.
        assert_eq!(unsafe { a.as_str() }.unwrap(), "outer scope");
        // SAFETY: `a` is not used afterwards.
        unsafe { leave_scope::<A>(outer) }.unwrap();
        assert_eq!(used::<A>(), 0);
        // SAFETY: refused: no scope is open.
        let none = unsafe { leave_scope::<A>(outer) };
        assert!(matches!(none, Err(HandleError::ScopeOrder)), "{none:?}");
    });
}

#[test]
fn a_leave_out_of_order_or_twice_is_refused_and_frees_nothing() {
    for_each_backend!(order);
}

fn foreign_and_forged<A: ValueAllocator>() {
    // Both threads' strands begin and end under the one guard.
    let _serial = serial();
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let mark = enter_scope::<A>().unwrap();
        let h = Handle::<A>::new_str("the other thread's").unwrap();
        tx.send(mark.to_words()).unwrap();
        done_rx.recv().unwrap();
        // SAFETY: this thread's live value.
        assert_eq!(unsafe { h.as_str() }.unwrap(), "the other thread's");
        // SAFETY: `h` is not used afterwards.
        unsafe { leave_scope::<A>(mark) }.unwrap();
    });
    std::thread::spawn(move || {
        let theirs = strand_alloc::ScopeMark::from_words(rx.recv().unwrap());
        let mine = enter_scope::<A>().unwrap();
        let v = Handle::<A>::new_str("mine").unwrap();
        // SAFETY: refused: another strand's mark (its epoch may well equal this one's).
        let r = unsafe { leave_scope::<A>(theirs) };
        assert!(matches!(r, Err(HandleError::ScopeOrder)), "{r:?}");
        let [home, epoch] = mine.to_words();
        for forged in [
            [home, epoch + 1],
            [home, epoch - 1],
            [home + 64, epoch],
            [0, 0],
        ] {
            // SAFETY: refused: no open scope has these words.
            let r = unsafe { leave_scope::<A>(strand_alloc::ScopeMark::from_words(forged)) };
            assert!(
                matches!(r, Err(HandleError::ScopeOrder)),
                "{forged:?}: {r:?}"
            );
        }
        // SAFETY: still live after the refusals.
        assert_eq!(unsafe { v.as_str() }.unwrap(), "mine");
        // SAFETY: the words of this scope's own mark; `v` is not used afterwards.
        unsafe { leave_scope::<A>(strand_alloc::ScopeMark::from_words([home, epoch])) }.unwrap();
        assert_eq!(used::<A>(), 0);
        done_tx.send(()).unwrap();
    })
    .join()
    .unwrap();
    other.join().unwrap();
}

#[test]
fn another_strands_mark_and_forged_marks_are_refused() {
    for_each_backend!(foreign_and_forged);
}

fn reset_closes<A: ValueAllocator>() {
    on_thread(|| {
        let outer = enter_scope::<A>().unwrap();
        let _a = Handle::<A>::new_str("in the outer scope").unwrap();
        let inner = enter_scope::<A>().unwrap();
        let _b = Handle::<A>::new_str("in the inner scope").unwrap();
        // SAFETY: nothing of the strand is used afterwards.
        unsafe { reset_current::<A>() }.unwrap();
        assert_eq!(
            used::<A>(),
            0,
            "the reset frees the values of every open scope"
        );
        for h in [_a, _b] {
            // Safe with any handle: the slot says what it holds now.
            assert!(format!("{h:?}").ends_with("free)"), "{h:?}");
        }
        for mark in [inner, outer] {
            // SAFETY: refused: the reset closed both.
            let r = unsafe { leave_scope::<A>(mark) };
            assert!(matches!(r, Err(HandleError::ScopeOrder)), "{r:?}");
        }
        // Scopes work as before afterwards.
        let again = enter_scope::<A>().unwrap();
        let _c = Handle::<A>::new_str("after the reset").unwrap();
        // SAFETY: `_c` is not used afterwards.
        unsafe { leave_scope::<A>(again) }.unwrap();
        assert_eq!(used::<A>(), 0);
    });
}

#[test]
fn a_reset_frees_and_closes_every_open_scope() {
    for_each_backend!(reset_closes);
}

fn depth<A: ValueAllocator>() {
    on_thread(|| {
        let mut marks = Vec::new();
        for i in 0..MAX_HANDLE_SCOPES {
            marks.push(enter_scope::<A>().unwrap());
            Handle::<A>::new_str(&format!("level {i}")).unwrap();
        }
        let deeper = enter_scope::<A>();
        assert!(matches!(deeper, Err(HandleError::ScopeDepth)), "{deeper:?}");
        let full = used::<A>();
        while let Some(mark) = marks.pop() {
            // SAFETY: no value of the scopes is used afterwards.
            unsafe { leave_scope::<A>(mark) }.unwrap();
            assert!(used::<A>() < full);
        }
        assert_eq!(used::<A>(), 0);
        let one_more = enter_scope::<A>().unwrap();
        // SAFETY: an empty scope.
        unsafe { leave_scope::<A>(one_more) }.unwrap();
    });
}

#[test]
fn scopes_nest_to_their_limit_and_one_more_is_refused() {
    for_each_backend!(depth);
}

/// A word as it travels between threads.
#[derive(Clone, Copy)]
struct Word(*mut ());
// SAFETY: the word is an address; the handle rules say who may follow it.
unsafe impl Send for Word {}

fn released_elsewhere<A: ValueAllocator>() {
    on_thread(|| {
        let mark = enter_scope::<A>().unwrap();
        let h = Handle::<A>::new_str("released by another thread").unwrap();
        let kept = Handle::<A>::new_str("released by the leave").unwrap();
        let w = Word(h.to_ptr());
        std::thread::spawn(move || {
            let w = w;
            // SAFETY: the word came from `to_ptr`; released once, here, before the leave.
            unsafe { Handle::<A>::from_ptr(w.0).unwrap().release() }.unwrap();
        })
        .join()
        .unwrap();
        let _ = kept;
        // SAFETY: nothing of the scope is used afterwards.
        unsafe { leave_scope::<A>(mark) }.unwrap();
        assert_eq!(
            used::<A>(),
            0,
            "both freed, the one released elsewhere once"
        );
        // The free list is sound: values made afterwards are distinct and live.
        let made: Vec<_> = (0..64)
            .map(|i| Handle::<A>::new_str(&format!("v{i}")).unwrap())
            .collect();
        for (i, v) in made.iter().enumerate() {
            // SAFETY: live values of this strand, each released once.
            unsafe {
                assert_eq!(v.as_str().unwrap(), format!("v{i}"));
                v.release().unwrap();
            }
        }
    });
}

#[test]
fn a_value_released_elsewhere_before_the_leave_is_freed_once() {
    for_each_backend!(released_elsewhere);
}

fn ended_mid_scope<A: ValueAllocator>() {
    let _serial = serial();
    let base = strand_alloc::stats::<A>().totals.used;
    let left = std::thread::spawn(move || {
        let _mark = enter_scope::<A>().unwrap();
        let _inner = enter_scope::<A>().unwrap();
        let left: Vec<_> = (0..100)
            .map(|i| Handle::<A>::new_str(&format!("left in an open scope {i}")).unwrap())
            .collect();
        // The strand's own figures, which also publishes them to the process-wide ones.
        assert!(strand_alloc::current_figures::<A>().unwrap().used > 0);
        assert!(strand_alloc::stats::<A>().totals.used > base);
        left
    })
    .join()
    .unwrap();
    assert!(
        strand_alloc::stats::<A>().totals.used <= base,
        "a strand that ends inside scopes frees their values"
    );
    for h in left {
        // Safe with any handle: the slot says what it holds now (no other test runs).
        assert!(format!("{h:?}").ends_with("free)"), "{h:?}");
    }
}

#[test]
fn a_strand_ending_inside_scopes_frees_their_values() {
    for_each_backend!(ended_mid_scope);
}

fn racing_releases<A: ValueAllocator>() {
    on_thread(|| {
        // Values of the strand's own level, released by another thread (as the contract
        // allows: the owner lives, the level is open) while the owner enters and leaves
        // scopes as fast as it can: no release may be refused.
        let rounds = if cfg!(miri) { 2 } else { 20 };
        let values = if cfg!(miri) { 8 } else { 20_000 };
        let mut refused = 0;
        for _ in 0..rounds {
            let words: Vec<Word> = (0..values)
                .map(|_| Word(Handle::<A>::new_str("outer").unwrap().to_ptr()))
                .collect();
            let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let finished = done.clone();
            let releaser = std::thread::spawn(move || {
                let mut refused = 0;
                for w in words {
                    // SAFETY: each word came from `to_ptr`, is live, released once here.
                    if unsafe { Handle::<A>::from_ptr(w.0).unwrap().release() }.is_err() {
                        refused += 1;
                    }
                }
                finished.store(true, std::sync::atomic::Ordering::Release);
                refused
            });
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let mark = enter_scope::<A>().unwrap();
                // SAFETY: an empty scope.
                unsafe { leave_scope::<A>(mark) }.unwrap();
            }
            refused += releaser.join().unwrap();
        }
        assert_eq!(refused, 0, "releases of live values refused");
        // The owner collects what was handed back at its next allocation.
        let h = Handle::<A>::new_str("x").unwrap();
        // SAFETY: live, released once.
        unsafe { h.release() }.unwrap();
        assert_eq!(used::<A>(), 0, "every value handed back was freed");
    });
}

#[test]
fn a_release_from_elsewhere_is_never_refused_while_scopes_come_and_go() {
    for_each_backend!(racing_releases);
}

#[cfg(feature = "checked")]
fn refused_after_leave<A: ValueAllocator>() {
    on_thread(|| {
        let mark = enter_scope::<A>().unwrap();
        let h = Handle::<A>::new_str("dies with the scope").unwrap();
        // SAFETY: the contract is broken on purpose below; `checked` refuses it.
        unsafe { leave_scope::<A>(mark) }.unwrap();
        let hazards = strand_alloc::stats::<A>().totals.hazards;
        // SAFETY: not upheld (the value died with its scope): `checked` must refuse.
        let r = unsafe { h.as_str() };
        assert!(matches!(r, Err(HandleError::Released)), "{r:?}");
        // SAFETY: as above.
        let r = unsafe { h.release() };
        assert!(matches!(r, Err(HandleError::Released)), "{r:?}");
        assert!(
            strand_alloc::stats::<A>().totals.hazards >= hazards + 2,
            "each refusal is counted"
        );
    });
}

#[cfg(feature = "checked")]
#[test]
fn checked_refuses_and_counts_a_handle_of_an_ended_scope() {
    for_each_backend!(refused_after_leave);
}

#[cfg(feature = "checked")]
fn released_elsewhere_after_leave<A: ValueAllocator>() {
    on_thread(|| {
        let mark = enter_scope::<A>().unwrap();
        let h = Handle::<A>::new_str("released too late").unwrap();
        // A value of the enclosing level takes the slot the leave frees, if any is
        // reused first: the late release must not free it.
        // SAFETY: the contract is broken on purpose below; `checked` refuses it.
        unsafe { leave_scope::<A>(mark) }.unwrap();
        let w = Word(h.to_ptr());
        let r = std::thread::spawn(move || {
            let w = w;
            // SAFETY: not upheld (released after the leave): `checked` must refuse.
            unsafe { Handle::<A>::from_ptr(w.0).unwrap().release() }
        })
        .join()
        .unwrap();
        assert!(
            matches!(r, Err(HandleError::Released | HandleError::Stale)),
            "{r:?}"
        );
    });
}

#[cfg(feature = "checked")]
#[test]
fn checked_refuses_a_release_from_elsewhere_after_the_leave() {
    for_each_backend!(released_elsewhere_after_leave);
}

/// The closed level's value is refused as stale while its slot is neither free nor
/// reused: a remote release that raced the leave and lost finds it so.
#[cfg(feature = "checked")]
fn stale_level<A: ValueAllocator>() {
    on_thread(|| {
        let outer = enter_scope::<A>().unwrap();
        let inner = enter_scope::<A>().unwrap();
        let h = Handle::<A>::new_str("of the inner scope").unwrap();
        // SAFETY: refused, nothing changes.
        assert!(unsafe { leave_scope::<A>(outer) }.is_err());
        // SAFETY: live.
        assert_eq!(unsafe { h.as_str() }.unwrap(), "of the inner scope");
        // SAFETY: `h` is not used afterwards but to be refused.
        unsafe { leave_scope::<A>(inner) }.unwrap();
        // SAFETY: refused (`checked`).
        assert!(unsafe { h.as_str() }.is_err());
        // SAFETY: nothing of the scope is used afterwards.
        unsafe { leave_scope::<A>(outer) }.unwrap();
    });
}

#[cfg(feature = "checked")]
#[test]
fn checked_refuses_a_value_of_a_closed_inner_scope_inside_the_outer_one() {
    for_each_backend!(stale_level);
}

#[cfg(not(miri))]
mod coroutines {
    use super::*;
    use common::*;

    /// Spawns a coroutine with May directly (not through this crate), as a runtime does.
    fn go<F, R>(f: F) -> may::coroutine::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        // SAFETY: the closures of these tests keep no thread-local borrow and nothing
        // `!Send` across a point where the coroutine can move.
        unsafe { may::coroutine::spawn(f) }
    }

    /// A message loop as a runtime writes it: each coroutine reaches its strand only
    /// through the current-strand API, opens a scope per message, keeps its state
    /// shared across messages, and moves between OS threads while its scope is open.
    fn actor_loop<A: ValueAllocator>() {
        let _serial = serial();
        setup();
        let base = strand_alloc::live_strands();
        let workers: Vec<_> = (0..8)
            .map(|w| {
                go(move || {
                    let mut state = Handle::<A>::new_str("").unwrap();
                    // SAFETY: the owner shares its own live value.
                    state = unsafe { state.share() }.unwrap();
                    // SAFETY: one of the two holders lets go.
                    unsafe { state.release() }.unwrap();
                    for m in 0..200 {
                        let mark = enter_scope::<A>().unwrap();
                        let msg = Handle::<A>::new_str(&text(w, m, 40)).unwrap();
                        hop();
                        // SAFETY: live values of this coroutine's strand (the state
                        // is shared).
                        let next = unsafe {
                            format!(
                                "{}|{}",
                                state.as_str().unwrap().len(),
                                msg.as_str().unwrap()
                            )
                        };
                        let fresh = Handle::<A>::new_str(&next).unwrap();
                        // SAFETY: the owner shares its own live value.
                        let fresh = unsafe { fresh.share() }.unwrap();
                        // SAFETY: one of its two holders lets go.
                        unsafe { fresh.release() }.unwrap();
                        // SAFETY: the old state's one holder lets go.
                        unsafe { state.release() }.unwrap();
                        state = fresh;
                        hop();
                        // SAFETY: only the shared state is used afterwards.
                        unsafe { leave_scope::<A>(mark) }.unwrap();
                        assert_eq!(used::<A>(), 0, "every message's values are freed");
                    }
                    // SAFETY: shared, live.
                    let last = unsafe { state.as_str() }.unwrap().to_string();
                    // SAFETY: the last holder lets go.
                    unsafe { state.release() }.unwrap();
                    last
                })
            })
            .collect();
        for (w, j) in workers.into_iter().enumerate() {
            let last = j.join().unwrap();
            assert!(last.ends_with(&text(w, 199, 40)), "{last}");
        }
        let start = std::time::Instant::now();
        while strand_alloc::live_strands() > base {
            assert!(start.elapsed().as_secs() < 10, "strands still alive");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn a_message_loop_keeps_scopes_across_migrations() {
        for_each_backend!(actor_loop);
    }
}
