//! Instruction counts of string allocation under Callgrind (through gungraun), for every
//! backend and the raw baselines: the same work as the `str-*` groups of `alloc`, but
//! counted instead of timed, so a change in cost shows up even on a noisy machine.
//!
//! Each benchmark allocates and drops 1,000 strings of one size; the strand (or arena) is
//! made in the setup, which is not counted. Divide by 1,000 for the cost of one string.
//!
//! ```text
//! cargo install gungraun-runner --version 0.19.4   # once; must match the library
//! cargo bench --features all-backends --bench instructions
//! ```

use gungraun::{library_benchmark, library_benchmark_group, main};
use std::hint::black_box;
use strand_alloc::{Config, GlobalMalloc, Strand, StrandArena, ThreadArena, ValueAllocator};

/// Strings per benchmark.
const N: usize = 1_000;

fn text(len: usize) -> String {
    "s".repeat(len)
}

fn strand<A: ValueAllocator>(len: usize) -> (Strand<A>, String) {
    let s = Strand::<A>::local_with(Config::default()).expect("a safe backend");
    // Warm the arena up, so the count is of the steady state, not of its first chunk.
    drop(s.str(&text(len)));
    (s, text(len))
}

fn strings<A: ValueAllocator>(input: (Strand<A>, String)) -> (Strand<A>, String) {
    for _ in 0..N {
        let v = input.0.str(black_box(&input.1));
        black_box(&v);
    }
    input
}

#[library_benchmark]
#[benches::len(args = [16, 64, 256], setup = strand::<ThreadArena>)]
fn thread_arena(input: (Strand<ThreadArena>, String)) -> (Strand<ThreadArena>, String) {
    strings(input)
}

#[library_benchmark]
#[benches::len(args = [16, 64, 256], setup = strand::<StrandArena>)]
fn strand_arena(input: (Strand<StrandArena>, String)) -> (Strand<StrandArena>, String) {
    strings(input)
}

#[library_benchmark]
#[benches::len(args = [16, 64, 256], setup = strand::<GlobalMalloc>)]
fn global_malloc(input: (Strand<GlobalMalloc>, String)) -> (Strand<GlobalMalloc>, String) {
    strings(input)
}

fn bump(len: usize) -> (bumpalo::Bump, String) {
    let b = bumpalo::Bump::new();
    b.alloc_str(&text(len));
    (b, text(len))
}

#[library_benchmark]
#[benches::len(args = [16, 64, 256], setup = bump)]
fn raw_bumpalo(input: (bumpalo::Bump, String)) -> (bumpalo::Bump, String) {
    for _ in 0..N {
        black_box(input.0.alloc_str(black_box(&input.1)));
    }
    input
}

#[library_benchmark]
#[benches::len(args = [16, 64, 256], setup = text)]
fn box_str(input: String) -> String {
    for _ in 0..N {
        black_box(Box::<str>::from(black_box(input.as_str())));
    }
    input
}

library_benchmark_group!(
    name = strings_group,
    benchmarks = [
        raw_bumpalo,
        box_str,
        thread_arena,
        strand_arena,
        global_malloc
    ]
);

main!(library_benchmark_groups = strings_group);
