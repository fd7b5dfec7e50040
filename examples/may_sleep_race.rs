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
//! Each mode runs 1,000,000 strands that each sleep for zero time, yield, and end; a
//! second argument gives how many rounds of 500 (2,000 by default). The suite runs `hop`
//! under AddressSanitizer (`scripts/asan.sh`): a guard that stops holding the handle is
//! reported there.

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
    let rounds: u64 = match std::env::args().nth(2).map(|r| r.parse()) {
        None => 2000,
        Some(Ok(r)) if r > 0 => r,
        Some(_) => {
            eprintln!("the rounds must be a positive whole number");
            std::process::exit(2);
        }
    };
    let mut moved = 0u64;
    for _ in 0..rounds {
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
    println!(
        "{} strands, {moved} ended on another thread than they started on",
        rounds * 500
    );
}
