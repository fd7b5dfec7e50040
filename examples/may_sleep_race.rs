//! Demonstrates the race in May's zero-length sleep that [`strand_alloc::hop`] guards
//! against, and that the guard closes it.
//!
//! May hands a sleeping strand to its timer thread and only then records the strand's
//! cancel data on the worker it left. A strand that is resumed, finishes and whose join
//! handle is dropped in that window leaves May writing into freed memory. The race is
//! silent in a normal build; AddressSanitizer reports it as a heap-use-after-free in
//! `Sleep::subscribe`:
//!
//! ```text
//! RUSTFLAGS=-Zsanitizer=address cargo +nightly run --release \
//!     --target x86_64-unknown-linux-gnu --example may_sleep_race -- raw    # reported
//! RUSTFLAGS=-Zsanitizer=address cargo +nightly run --release \
//!     --target x86_64-unknown-linux-gnu --example may_sleep_race -- hop    # clean
//! ```
//!
//! Each mode runs 1,000,000 strands that each sleep for zero time, yield, and end.

use std::time::Duration;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let guarded = match mode.as_str() {
        "raw" => false,
        "hop" => true,
        other => {
            eprintln!("unknown mode {other:?}: expected `raw` (May's sleep) or `hop` (guarded)");
            std::process::exit(2);
        }
    };
    strand_alloc::SchedulerConfig::default()
        .with_workers(2)
        .and_then(|c| c.apply())
        .expect("two workers");
    let mut moved = 0u64;
    for _ in 0..2000 {
        let strands: Vec<_> = (0..500)
            .map(|_| {
                // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
                unsafe {
                    strand_alloc::spawn::<strand_alloc::ThreadArena, _, _>(move |_| {
                        let before = std::thread::current().id();
                        if guarded {
                            strand_alloc::hop();
                        } else {
                            may::coroutine::sleep(Duration::ZERO);
                            may::coroutine::yield_now();
                        }
                        u64::from(std::thread::current().id() != before)
                    })
                }
            })
            .collect();
        for s in strands {
            moved += s.join().expect("the strand ran");
        }
    }
    println!("1000000 strands, {moved} ended on another thread than they started on");
}
