//! Bookkeeping per value when every value pins a generation of its own (a threshold
//! smaller than two values): allocating and then releasing N such values, inside a
//! spawned strand, at N = 1,000 and N = 100,000. With O(1) bookkeeping the time per
//! value is about the same at both sizes; with a search over the strand's generations it
//! grows a hundredfold. Prints each time and the ratio (100,000 / 1,000).
//!
//! ```sh
//! cargo bench --features all-backends --bench bookkeeping
//! ```

use std::time::Instant;
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Builder, Config, SchedulerConfig, ValueAllocator};

/// Nanoseconds per value to allocate `n` pinning values and release them all (best of 3).
fn per_value<A: ValueAllocator>(n: usize) -> f64 {
    let config = Config::default().with_threshold(64).unwrap();
    // SAFETY: the closure uses no thread-locals and nothing `!Send`.
    let h = unsafe {
        Builder::<A>::new().config(config).spawn(move |s| {
            let mut best = f64::MAX;
            for _ in 0..3 {
                let start = Instant::now();
                let held: Vec<_> = (0..n).map(|i| s.str(&format!("{i:040}"))).collect();
                drop(held);
                best = best.min(start.elapsed().as_nanos() as f64 / n as f64);
                s.reset();
            }
            best
        })
    }
    .expect("spawn");
    h.join().expect("the strand finished")
}

struct Scale;

impl BackendVisitor for Scale {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        if !A::SAFE || !A::NAME.contains("arena") {
            return;
        }
        let small = per_value::<A>(1_000);
        let large = per_value::<A>(100_000);
        println!(
            "{:<13} pinned generations: 1,000: {small:7.1} ns/value   100,000: {large:7.1} ns/value   ratio {:.2}x",
            A::NAME,
            large / small
        );
    }
}

fn main() {
    SchedulerConfig::default()
        .with_workers(1)
        .and_then(SchedulerConfig::apply)
        .expect("one worker");
    backends::for_each(&mut Scale);
}
