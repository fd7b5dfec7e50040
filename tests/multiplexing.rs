//! Many strands multiplexed on one OS thread: 10,000 short strands begin, allocate and exit
//! on the same worker while other strands there hold live strings. No exit may invalidate
//! a string another strand still holds.
#![cfg(not(miri))]

mod common;
use common::*;
use strand_alloc::{thread::thread_index, Builder, ValueAllocator};

const HOLDERS: usize = 16;
const SHORT: usize = 10_000;

fn multiplexed<A: ValueAllocator>() {
    setup_workers(1);
    let (ready_tx, ready_rx) = may::sync::mpsc::channel::<u32>();
    let mut go = Vec::new();
    let holders: Vec<_> = (0..HOLDERS)
        .map(|h| {
            let (go_tx, go_rx) = may::sync::mpsc::channel::<()>();
            go.push(go_tx);
            let ready = ready_tx.clone();
            // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
            unsafe {
                Builder::<A>::new().spawn(move |s| {
                    let kept: Vec<_> = (0..50).map(|i| s.str(&text(h, i, 24 + i))).collect();
                    let v = s.variant(9, [s.str(&text(h, 99, 40)).into()]);
                    ready.send(thread_index()).unwrap();
                    go_rx.recv().unwrap(); // parked while the short strands run
                    for (i, k) in kept.iter().enumerate() {
                        assert_eq!(k.as_str(), text(h, i, 24 + i), "holder {h} string {i}");
                    }
                    assert_eq!(v.fields()[0].as_str().unwrap(), text(h, 99, 40));
                    thread_index()
                })
            }
            .unwrap()
        })
        .collect();
    let holder_threads: Vec<u32> = (0..HOLDERS).map(|_| ready_rx.recv().unwrap()).collect();
    let shorts: Vec<_> = (0..SHORT)
        .map(|n| {
            // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
            unsafe {
                Builder::<A>::new().spawn(move |s| {
                    let a = s.str(&text(1000 + n, 0, 16));
                    let b = s.str(&text(1000 + n, 1, 48));
                    assert_eq!(a.as_str(), text(1000 + n, 0, 16));
                    assert_eq!(b.as_str(), text(1000 + n, 1, 48));
                    thread_index()
                })
            }
            .unwrap()
        })
        .collect();
    let short_threads: std::collections::BTreeSet<u32> = shorts.into_iter().map(join).collect();
    for g in go {
        g.send(()).unwrap();
    }
    for h in holders {
        join(h);
    }
    // Everything ran on the one worker: the exits really shared the holders' thread.
    assert_eq!(short_threads.len(), 1, "{short_threads:?}");
    assert!(holder_threads.iter().all(|t| short_threads.contains(t)));
    let snap = strand_alloc::stats::<A>();
    assert_eq!(snap.totals.hazards, 0);
}

#[test]
fn short_strands_never_invalidate_held_strings() {
    for_each_backend!(multiplexed);
}
