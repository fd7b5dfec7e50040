//! Spawning and joining an empty strand, for every backend, against a plain May spawn
//! and join, measured side by side in one run; prints the ratios.
//!
//! The scheduler has one worker, and the spawning and joining happen inside a coroutine,
//! as in a runtime: with more workers, each spawn wakes an idle worker's OS thread, and
//! those wake-ups (tens of microseconds, varying twofold from run to run) would drown
//! what is measured here, the cost of creating, running and ending a strand.
//!
//! ```text
//! cargo bench --features all-backends --bench spawn
//! ```

use criterion::{BenchmarkGroup, Criterion};
use std::time::{Duration, Instant};
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Builder, SchedulerConfig, ValueAllocator};

#[path = "support/ratios.rs"]
mod ratios;
use ratios::{Ratio, Target};

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Runs `iters` rounds of `round` inside a May coroutine and returns the time they took:
/// spawning and joining from inside a coroutine is what a runtime does, and keeps the
/// benchmark's own OS thread (whose wake-ups cost tens of microseconds) out of it.
fn in_a_coroutine(iters: u64, round: fn()) -> Duration {
    // SAFETY: the coroutine reads no thread-local storage across a yield.
    unsafe {
        may::coroutine::spawn(move || {
            let start = Instant::now();
            for _ in 0..iters {
                round();
            }
            start.elapsed()
        })
    }
    .join()
    .expect("the timing coroutine ends")
}

/// Spawns an empty strand and joins it, from inside a coroutine.
struct SpawnJoin<'g, 'a> {
    group: &'g mut Group<'a>,
}

impl BackendVisitor for SpawnJoin<'_, '_> {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        self.group.bench_function(A::NAME, |b| {
            b.iter_custom(|iters| {
                in_a_coroutine(iters, || {
                    // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
                    unsafe { Builder::<A>::new().spawn(|_| ()) }
                        .expect("the strand starts")
                        .join()
                        .expect("the strand ends")
                })
            })
        });
    }
}

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn-join");
    g.bench_function("may", |b| {
        b.iter_custom(|iters| {
            in_a_coroutine(iters, || {
                // SAFETY: the coroutine reads no thread-local storage.
                unsafe { may::coroutine::spawn(|| ()) }
                    .join()
                    .expect("the coroutine ends")
            })
        })
    });
    backends::for_each(&mut SpawnJoin { group: &mut g });
    g.finish();
}

fn main() {
    SchedulerConfig::default()
        .with_workers(1)
        .and_then(|c| c.apply())
        .expect("the scheduler starts with one worker");
    let started = std::time::SystemTime::now();
    let mut c = ratios::criterion().configure_from_args();
    spawn_join(&mut c);
    c.final_summary();
    let targets: Vec<Target> = backends::ENABLED
        .iter()
        .map(|b| Target::at_most(Ratio::new("spawn-join", b, "may"), 1.10))
        .collect();
    ratios::print(&targets, started);
}
