//! Wall-clock benchmarks of every backend compiled in, against raw bumpalo, `Box<str>`
//! and global-malloc, measured side by side in one run (spawn and join are in
//! `benches/spawn.rs`, which needs a scheduler of its own). After criterion's own report the
//! run prints the ratios the performance targets are judged by (medians of this run).
//!
//! ```text
//! cargo bench --features all-backends --bench alloc
//! ```
//!
//! `STRAND_ALLOC_BENCH_QUICK=1` shortens the measurement (for a smoke run).

use criterion::{BenchmarkGroup, Criterion};
use std::hint::black_box;
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Config, PortableValue, SchedulerConfig, Strand, Value, ValueAllocator};

#[path = "support/ratios.rs"]
mod ratios;
use ratios::{Ratio, Target};

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// String sizes of the allocation benchmarks.
const SIZES: [usize; 3] = [16, 64, 256];
/// Values in the bulk benchmark.
const BULK: usize = 10_000;
/// The arena threshold of the string benchmarks, for the raw arena and the backends
/// alike: small enough that the memory being bumped through stays in the caches, so that
/// what is compared is the work of the allocation path rather than how fast this
/// machine's memory streams (with the 10 MiB default, the raw arena's time alone moved
/// between 3 and 8 ns from run to run).
const THRESHOLD: usize = 256 << 10;

/// Allocates and drops one string of `text`: what a strand does for every string value.
struct OneString<'g, 'a> {
    group: &'g mut Group<'a>,
    text: &'g str,
}

impl BackendVisitor for OneString<'_, '_> {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        // The seed policy is shown by the hazard tests, not benchmarked.
        if !A::SAFE {
            return;
        }
        let text = self.text;
        let cfg = Config::default()
            .with_threshold(THRESHOLD)
            .expect("a valid threshold");
        let s = Strand::<A>::local_with(cfg).expect("a safe backend");
        self.group.bench_function(A::NAME, |b| {
            b.iter(|| {
                let v = s.str(black_box(text));
                black_box(&v);
            })
        });
    }
}

fn strings(c: &mut Criterion) {
    for size in SIZES {
        let text = "s".repeat(size);
        let mut g = c.benchmark_group(format!("str-{size}"));
        g.bench_function("bumpalo", |b| {
            let mut bump = bumpalo::Bump::new();
            let mut held = 0;
            b.iter(|| {
                black_box(bump.alloc_str(black_box(&text)));
                held += size;
                if held >= THRESHOLD {
                    bump.reset();
                    held = 0;
                }
            })
        });
        g.bench_function("box-str", |b| {
            b.iter(|| black_box(Box::<str>::from(black_box(text.as_str()))))
        });
        backends::for_each(&mut OneString {
            group: &mut g,
            text: &text,
        });
        g.finish();
    }
}

/// Allocates `BULK` strings, then drops them all and resets the strand.
struct Bulk<'g, 'a> {
    group: &'g mut Group<'a>,
}

impl BackendVisitor for Bulk<'_, '_> {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        // The seed policy is shown by the hazard tests, not benchmarked.
        if !A::SAFE {
            return;
        }
        let mut s = Strand::<A>::local_with(Config::default()).expect("a safe backend");
        let text = "b".repeat(32);
        self.group.bench_function(A::NAME, |b| {
            b.iter(|| {
                {
                    let held: Vec<_> = (0..BULK).map(|_| s.str(black_box(&text))).collect();
                    black_box(&held);
                }
                s.reset();
            })
        });
    }
}

fn bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("bulk-10k");
    backends::for_each(&mut Bulk { group: &mut g });
    g.finish();
}

/// A reset of a strand that allocated 1 MiB in 64-byte strings (and, on the arenas,
/// the rotations the allocations cross under a 64 KiB threshold).
struct Reset<'g, 'a> {
    group: &'g mut Group<'a>,
}

impl BackendVisitor for Reset<'_, '_> {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        // The seed policy is shown by the hazard tests, not benchmarked.
        if !A::SAFE {
            return;
        }
        let cfg = Config::default()
            .with_threshold(64 << 10)
            .expect("a valid threshold");
        let mut s = Strand::<A>::local_with(cfg).expect("a safe backend");
        let text = "r".repeat(64);
        self.group.bench_function(A::NAME, |b| {
            b.iter(|| {
                for _ in 0..(1 << 20) / 64 {
                    black_box(s.str(&text));
                }
                s.reset();
            })
        });
    }
}

fn reset(c: &mut Criterion) {
    let mut g = c.benchmark_group("fill-1MiB-and-reset");
    backends::for_each(&mut Reset { group: &mut g });
    g.finish();
}

/// Copies a small variant out of one strand and into another, as a send does.
struct CopyOnSend<'g, 'a> {
    group: &'g mut Group<'a>,
}

impl BackendVisitor for CopyOnSend<'_, '_> {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        // The seed policy is shown by the hazard tests, not benchmarked.
        if !A::SAFE {
            return;
        }
        let from = Strand::<A>::local_with(Config::default()).expect("a safe backend");
        let to = Strand::<A>::local_with(Config::default()).expect("a safe backend");
        let v: Value<'_, A> = from
            .variant(7, [Value::Int(42), from.str("a small payload").into()])
            .into();
        self.group.bench_function(A::NAME, |b| {
            b.iter(|| {
                let p: PortableValue = from.export(black_box(&v));
                black_box(to.import(p));
            })
        });
    }
}

fn copy_on_send(c: &mut Criterion) {
    let mut g = c.benchmark_group("copy-small-variant");
    backends::for_each(&mut CopyOnSend { group: &mut g });
    g.finish();
}

/// The ratios the issue's targets are judged by.
fn targets() -> Vec<Target> {
    let mut t = Vec::new();
    for size in SIZES {
        let group = format!("str-{size}");
        for backend in backends::ENABLED {
            let vs_bump = Ratio::new(&group, backend, "bumpalo");
            t.push(match *backend {
                "thread-arena" => Target::at_most(vs_bump, 1.25),
                "strand-arena" => Target::at_most(vs_bump, 1.5),
                _ => Target::report(vs_bump),
            });
            t.push(Target::report(Ratio::new(&group, backend, "box-str")));
        }
    }
    for backend in ["thread-arena", "strand-arena"] {
        // How many times faster the arena is: global-malloc's time over the arena's.
        t.push(Target::at_least(
            Ratio::new("bulk-10k", "global-malloc", backend),
            3.0,
        ));
    }
    for backend in backends::ENABLED {
        t.push(Target::at_most(
            Ratio::new("spawn-join", backend, "may"),
            1.10,
        ));
    }
    for group in ["fill-1MiB-and-reset", "copy-small-variant"] {
        for backend in ["thread-arena", "strand-arena"] {
            t.push(Target::report(Ratio::new(group, backend, "global-malloc")));
        }
    }
    t
}

fn main() {
    println!("{}", ratios::system_thresholds());
    SchedulerConfig::default()
        .with_workers(2)
        .and_then(|c| c.apply())
        .expect("the scheduler starts with two workers");
    let started = std::time::SystemTime::now();
    let mut c = ratios::criterion().configure_from_args();
    strings(&mut c);
    bulk(&mut c);
    reset(&mut c);
    copy_on_send(&mut c);
    c.final_summary();
    ratios::print(&targets(), started);
}
