//! Shared by the Callgrind benchmarks: run this very binary as a child under
//! `valgrind --tool=callgrind` and read the instructions it executed, and the cost per
//! iteration from the difference of two runs of different lengths (so set-up cancels).

#![allow(dead_code)]

use std::process::Command;

/// The environment variable that marks a child run.
pub const CHILD: &str = "STRAND_ALLOC_BENCH_CHILD";

/// What a run counts: only inside the function named `measured_loop` (on whichever
/// thread runs it), or the whole process (for work that spans threads, such as a
/// coroutine's spawn and join).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collect {
    /// `--toggle-collect=measured_loop`.
    MeasuredLoop,
    /// Every instruction of the process.
    Everything,
}

/// Instructions one Callgrind run of this binary with `args` (after `child`) executed.
pub fn counted(args: &[String], collect: Collect) -> f64 {
    let exe = std::env::current_exe().unwrap();
    let out = std::env::temp_dir().join(format!(
        "strand-alloc-callgrind-{}-{}.out",
        std::process::id(),
        args.join("-").replace('/', "_")
    ));
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind");
    if collect == Collect::MeasuredLoop {
        cmd.arg("--toggle-collect=measured_loop");
    }
    let run = cmd
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(&exe)
        .arg("child")
        .args(args)
        .env(CHILD, "1")
        .output()
        .expect("valgrind (scripts/bench.sh installs it)");
    assert!(
        run.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals: ")
                .or_else(|| l.strip_prefix("summary: "))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("a callgrind total")
}

/// Instructions per iteration: `args_for(n)` run with `short` and `long` iterations, the
/// difference divided by the difference in length.
pub fn per_iteration(
    args_for: impl Fn(usize) -> Vec<String>,
    (short, long): (usize, usize),
    collect: Collect,
) -> f64 {
    (counted(&args_for(long), collect) - counted(&args_for(short), collect)) / (long - short) as f64
}

/// Makes and drops `s` as a `Box<str>` would on mimalloc, `n` times: mimalloc's own
/// allocation, the copy, and its free (the global allocator of the benchmark stays the
/// system's).
#[inline(always)]
pub fn box_on_mimalloc(s: &str, n: usize) {
    use std::alloc::{GlobalAlloc, Layout};
    let m = mimalloc::MiMalloc;
    let layout = Layout::from_size_align(s.len(), 1).unwrap();
    for _ in 0..n {
        // SAFETY: a non-zero layout (the benchmarks' strings are never empty), freed with
        // the same allocator and layout.
        unsafe {
            let q = m.alloc(layout);
            std::ptr::copy_nonoverlapping(s.as_ptr(), q, s.len());
            std::hint::black_box(q);
            m.dealloc(q, layout);
        }
    }
}

/// One May worker, unpinned: the measured strands then run where the counts are taken.
pub fn one_worker() {
    strand_alloc::SchedulerConfig::default()
        .with_workers(1)
        .unwrap()
        .with_pin(false)
        .apply()
        .unwrap();
}
