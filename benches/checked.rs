//! The cost of the `checked` feature: the same operations built without it and with it.
//!
//! Run it twice, as `scripts/bench.sh` does: first without `checked`, saving criterion's
//! baseline `unchecked`; then with `checked`, which prints each operation's median over
//! the baseline's.
//!
//! ```text
//! cargo bench --features all-backends --bench checked -- --save-baseline unchecked
//! cargo bench --features all-backends,checked --bench checked
//! ```

use criterion::{BenchmarkGroup, Criterion};
use std::hint::black_box;
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Config, Strand, ValueAllocator};

#[path = "support/ratios.rs"]
mod ratios;
use ratios::{Ratio, Side, Target};

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Allocate a 16-byte string, read it, drop it.
struct AllocRead<'g, 'a>(&'g mut Group<'a>);

impl BackendVisitor for AllocRead<'_, '_> {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        // The seed policy is shown by the hazard tests, not benchmarked.
        if !A::SAFE {
            return;
        }
        let s = Strand::<A>::local_with(Config::default()).expect("a safe backend");
        let text = "c".repeat(16);
        self.0.bench_function(A::NAME, |b| {
            b.iter(|| {
                let v = s.str(black_box(&text));
                black_box(v.as_str().len())
            })
        });
    }
}

/// Read a string and the fields of a small variant that already exist.
struct Read<'g, 'a>(&'g mut Group<'a>);

impl BackendVisitor for Read<'_, '_> {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        // The seed policy is shown by the hazard tests, not benchmarked.
        if !A::SAFE {
            return;
        }
        let s = Strand::<A>::local_with(Config::default()).expect("a safe backend");
        let v = s.str("a string to read");
        let var = s.variant(3, [s.str("field").into(), 7.into()]);
        self.0.bench_function(A::NAME, |b| {
            b.iter(|| {
                black_box(black_box(&v).as_str().len()) + black_box(black_box(&var).fields().len())
            })
        });
    }
}

const GROUPS: [&str; 2] = ["checked-alloc-read-16", "checked-read"];

fn main() {
    let started = std::time::SystemTime::now();
    let mut c: Criterion = ratios::criterion().configure_from_args();
    let mut g = c.benchmark_group(GROUPS[0]);
    backends::for_each(&mut AllocRead(&mut g));
    g.finish();
    let mut g = c.benchmark_group(GROUPS[1]);
    backends::for_each(&mut Read(&mut g));
    g.finish();
    c.final_summary();
    if !cfg!(feature = "checked") {
        println!("\nbuilt without `checked`: run again with it to compare against this run");
        return;
    }
    // Each operation with `checked` (this run) over the same operation without it (the
    // baseline `unchecked`, saved by the run before).
    let targets: Vec<Target> = GROUPS
        .iter()
        .flat_map(|g| {
            backends::ENABLED
                .iter()
                .filter(|b| **b != "seed-arena")
                .map(|b| Target::at_most(Ratio::new(g, b, b), 1.5))
        })
        .collect();
    ratios::print_with(&targets, |side, group, id| match side {
        Side::Numerator => ratios::median(group, id, "new", Some(started)),
        Side::Denominator => ratios::median(group, id, "unchecked", None),
    });
}
