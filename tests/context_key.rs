//! A coroutine that ends while a generator paused inside `with_current` still holds its
//! strand lets go of its context key at once: May reuses coroutines, so a later one runs
//! under the same key, on the same worker (one worker here, so always the same), and must
//! get a strand of its own, not the one the paused call holds. One worker for the
//! binary, so that every coroutine runs where the first one's lookup was remembered, and
//! a pool of one coroutine, so that the next coroutine is the ended one, reused.
#![cfg(not(miri))]

mod common;
use common::*;
use strand_alloc::{current_strand_id, live_strands, Strand, ValueAllocator};

fn key_let_go<A: ValueAllocator>() {
    static POOL: std::sync::Once = std::sync::Once::new();
    // Before the first spawn, which makes May's pool.
    POOL.call_once(|| {
        may::config().set_pool_capacity(1);
    });
    setup_workers(1);
    // SAFETY: the closure uses no thread-locals; the generator is `Send`.
    let (mut g, first) = unsafe {
        may::coroutine::spawn(|| {
            // A handle-API lookup: the worker remembers this context's strand.
            let first = current_strand_id::<A>().unwrap();
            let mut g = generator::Gn::<()>::new_scoped(move |mut sc| {
                Strand::<A>::with_current(|s| {
                    assert_eq!(s.id(), first);
                    sc.yield_(0);
                    s.str("after").len()
                })
                .unwrap()
            });
            assert_eq!(g.resume(), Some(0));
            (g, first)
        })
    }
    .join()
    .unwrap();
    // The ended coroutine goes back to the pool just after its join is signalled.
    std::thread::sleep(std::time::Duration::from_millis(20));
    for i in 0..50 {
        // SAFETY: the closure uses no thread-locals.
        let id = unsafe { may::coroutine::spawn(current_strand_id::<A>) }
            .join()
            .unwrap();
        assert!(
            id.as_ref().is_ok_and(|&id| id != first),
            "{}: coroutine {i}: {id:?}",
            A::NAME
        );
    }
    assert_eq!(g.resume(), Some(5));
    let start = std::time::Instant::now();
    while live_strands() != 0 {
        assert!(start.elapsed().as_secs() < 10, "strands left");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn an_ended_context_lets_its_key_go_while_a_paused_call_holds_its_strand() {
    for_each_backend!(key_let_go);
}
