//! The library acts on the whole process only when asked: it never calls glibc's
//! `mallopt` or `malloc_trim` unless the program opts in (`strand_alloc::trim`). The
//! evidence is not the library's own figures: this test binary defines both symbols
//! itself, so every call the library makes lands here and is counted.
//!
//! It runs in a child process with the environment variables that could opt in (or
//! choose glibc's thresholds) removed, so that the outcome depends on code alone.
#![cfg(all(not(miri), target_os = "linux", target_env = "gnu"))]

mod common;
use std::ffi::c_int;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use strand_alloc::{trim, Builder, Config, ValueAllocator};

static MALLOPT: AtomicUsize = AtomicUsize::new(0);
static MALLOC_TRIM: AtomicUsize = AtomicUsize::new(0);

/// Stands in for glibc's `mallopt` for the whole test binary: counts, changes nothing.
#[no_mangle]
pub extern "C" fn mallopt(_param: c_int, _value: c_int) -> c_int {
    MALLOPT.fetch_add(1, SeqCst);
    1
}

/// Stands in for glibc's `malloc_trim`: counts, gives nothing back.
#[no_mangle]
pub extern "C" fn malloc_trim(_pad: usize) -> c_int {
    MALLOC_TRIM.fetch_add(1, SeqCst);
    1
}

const CHILD: &str = "STRAND_ALLOC_PROCESS_EFFECTS_CHILD";

/// Frees well over a trim step (32 MiB) through every path that counts freed memory:
/// strands that fill arena chunks and exit, generations rotated at a small threshold,
/// large values, resets.
fn churn<A: ValueAllocator>() {
    let config = Config::default()
        .with_threshold(1 << 20)
        .unwrap()
        .with_pool_capacity(0);
    let chunk = "v".repeat(4096);
    let large = "L".repeat(2 << 20);
    for round in 0..4 {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let chunk = chunk.clone();
                let large = large.clone();
                // SAFETY: the closure owns everything it uses and runs to its end; the
                // strand is joined below.
                unsafe {
                    Builder::<A>::new().config(config).spawn(move |s| {
                        for i in 0..1024 {
                            let v = s.str(&chunk);
                            if i % 256 == 0 {
                                drop(s.str(&large));
                            }
                            std::hint::black_box(&v);
                        }
                        s.reset();
                    })
                }
                .unwrap()
            })
            .collect();
        for h in handles {
            common::join(h);
        }
        let _ = round;
    }
}

fn child() {
    common::setup();
    // global-malloc counts what it frees too (that alone asks for nothing: without a
    // step, no trim is due).
    trim::set_count_global_malloc(true);
    for_each_backend!(churn);
    println!(
        "before mallopt={} malloc_trim={}",
        MALLOPT.load(SeqCst),
        MALLOC_TRIM.load(SeqCst)
    );
    trim::enable().unwrap();
    for_each_backend!(churn);
    println!(
        "after mallopt={} malloc_trim={}",
        MALLOPT.load(SeqCst),
        MALLOC_TRIM.load(SeqCst)
    );
}

/// The two counts on the line that starts with `label`.
fn counts(stdout: &str, label: &str) -> (usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line in {stdout}"));
    let field = |name: &str| -> usize {
        line.split(' ')
            .find_map(|w| w.strip_prefix(name))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    (field("mallopt="), field("malloc_trim="))
}

#[test]
fn no_mallopt_or_malloc_trim_unless_the_program_asks() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "no_mallopt_or_malloc_trim_unless_the_program_asks",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env_remove(trim::SYSTEM_THRESHOLD_ENV)
        .env_remove("MALLOC_TRIM_THRESHOLD_")
        .env_remove("MALLOC_MMAP_THRESHOLD_")
        .env_remove("GLIBC_TUNABLES")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = counts(&stdout, "before");
    let after = counts(&stdout, "after");
    eprintln!("{before:?} {after:?}");
    assert_eq!(before, (0, 0), "calls made without the program asking");
    // Both ways: once asked, the thresholds are set (trim and mapping: two calls) and
    // the churn's frees lead to trims.
    assert_eq!(after.0, 2, "enable sets glibc's two thresholds");
    assert!(after.1 > 0, "no trim after enable and {} frees", "64 MiB");
}
