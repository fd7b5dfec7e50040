//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod shared;
#[allow(unused_imports)]
pub use shared::*;

use std::sync::Once;
use strand_alloc::SchedulerConfig;

/// Configures May once per test binary: `workers` workers, no pinning (parallel test
/// processes must not pin onto the same cores).
pub fn setup_workers(workers: usize) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        SchedulerConfig::default()
            .with_workers(workers)
            .unwrap()
            .with_pin(false)
            .apply()
            .unwrap();
    });
}

/// Two workers: enough for strands to migrate.
pub fn setup() {
    setup_workers(2)
}

/// Joins a strand and re-raises its panic, so the test fails with the strand's message.
pub fn join<R>(h: strand_alloc::JoinHandle<R>) -> R {
    match h.join() {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Joins a strand, re-raising its panic, and returns its report too.
pub fn join_report<R>(h: strand_alloc::JoinHandle<R>) -> (R, strand_alloc::StrandReport) {
    let (r, report) = h.join_report();
    match r {
        Ok(r) => (r, report.expect("a strand that ran has a report")),
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Moves the calling strand to another OS thread about half of the time.
#[allow(unused_imports)]
pub use strand_alloc::hop;

/// Deterministic text for strand `s`, item `i`, of length about `len`: a head naming
/// both, then the alphabet from a letter that depends on them, repeated.
pub fn text(s: usize, i: usize, len: usize) -> String {
    const TWICE: &str = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
    let mut t = format!("s{s}-i{i}:");
    let head = t.len();
    // Whole runs of the alphabet copied at once, not a letter at a time: Miri runs this
    // for every value of the tests it interprets.
    while t.len() < len {
        let from = (s * 31 + i * 7 + t.len()) % 26;
        t.push_str(&TWICE[from..from + 26]);
    }
    t.truncate(len.max(head));
    t
}

/// The process's resident set, in bytes, read from `/proc/self/statm` (Linux), apart from
/// the library's own figures.
pub fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Runs `$f::<A>()` for every safe backend compiled in (the seed policy, which breaks the
/// allocation contract on purpose, has tests of its own).
#[macro_export]
macro_rules! for_each_backend {
    ($f:ident) => {{
        struct Visit;
        impl strand_alloc::backends::BackendVisitor for Visit {
            type Output = ();
            fn visit<A: strand_alloc::ValueAllocator>(&mut self) {
                if !A::SAFE {
                    return;
                }
                eprintln!("-- {}", A::NAME);
                $f::<A>()
            }
        }
        strand_alloc::backends::for_each(&mut Visit);
    }};
}

/// One backend compiled into this test build (thread-arena first), for the tests that need
/// a backend, any one: the library itself has no default backend type.
#[cfg(feature = "thread-arena")]
pub type AnyBackend = strand_alloc::ThreadArena;
/// One backend compiled into this test build (thread-arena first).
#[cfg(all(not(feature = "thread-arena"), feature = "global-malloc"))]
pub type AnyBackend = strand_alloc::GlobalMalloc;
/// One backend compiled into this test build (thread-arena first).
#[cfg(all(
    not(any(feature = "thread-arena", feature = "global-malloc")),
    feature = "strand-arena"
))]
pub type AnyBackend = strand_alloc::StrandArena;
