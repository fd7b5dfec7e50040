//! The backend comparison: every backend compiled in runs the same workloads, with the
//! same inputs, under one May scheduler in this process, and the figures are printed side
//! by side.
//!
//! `cargo run --release --features all-backends` runs the default suite. `--quick` runs a
//! smaller one.

use std::time::Instant;
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Builder, Config, Figures, SchedulerConfig, Str, ValueAllocator};

/// One workload: how many strands, how many allocations each, what they do between.
#[derive(Clone, Copy)]
struct Workload {
    name: &'static str,
    strands: usize,
    allocs: usize,
    /// Force a move to another thread between allocations.
    migrate: bool,
    /// Values kept alive at once by each strand (the rest are dropped as they go).
    window: usize,
}

const SUITE: &[Workload] = &[
    Workload {
        name: "requests",
        strands: 20_000,
        allocs: 24,
        migrate: false,
        window: 24,
    },
    Workload {
        name: "long-lived",
        strands: 4,
        allocs: 200_000,
        migrate: false,
        window: 64,
    },
    Workload {
        name: "migrate",
        strands: 64,
        allocs: 400,
        migrate: true,
        window: 32,
    },
];

/// A deterministic size for allocation `i` of strand `s`: mostly small, some larger.
fn size_of_alloc(s: usize, i: usize) -> usize {
    let h = (s as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    match h % 16 {
        0 => 256 + (h >> 8) as usize % 768,
        1..=4 => 64 + (h >> 8) as usize % 64,
        _ => 8 + (h >> 8) as usize % 24,
    }
}

struct Row {
    backend: &'static str,
    workload: &'static str,
    seconds: f64,
    figures: Figures,
}

struct Run {
    workload: Workload,
    scale: usize,
    threshold: usize,
    rows: Vec<Row>,
}

impl BackendVisitor for Run {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        let w = self.workload;
        let strands = (w.strands / self.scale).max(2);
        let allocs = (w.allocs / self.scale).max(8);
        let config = Config::default().with_threshold(self.threshold).unwrap();
        let start = Instant::now();
        let handles: Vec<_> = (0..strands)
            .map(|s| {
                Builder::<A>::new()
                    .config(config)
                    .spawn(move |strand| {
                        let text = "x".repeat(1024);
                        let mut window: std::collections::VecDeque<Str<'_, A>> =
                            std::collections::VecDeque::with_capacity(w.window);
                        let mut check = 0usize;
                        for i in 0..allocs {
                            let v = strand.str(&text[..size_of_alloc(s, i)]);
                            check = check.wrapping_add(v.len());
                            if window.len() == w.window {
                                window.pop_front();
                            }
                            window.push_back(v);
                            if w.migrate {
                                may::coroutine::sleep(std::time::Duration::ZERO);
                                may::coroutine::yield_now();
                            }
                        }
                        check
                    })
                    .expect("spawn")
            })
            .collect();
        let mut figures = Figures::default();
        for h in handles {
            let (r, report) = h.join_report();
            r.unwrap_or_else(|p| std::panic::resume_unwind(p));
            figures.accumulate(&report.expect("report").figures);
        }
        self.rows.push(Row {
            backend: A::NAME,
            workload: w.name,
            seconds: start.elapsed().as_secs_f64(),
            figures,
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    if let Some(bad) = args.iter().find(|a| *a != "--quick") {
        eprintln!("unknown argument {bad:?}; the only option so far is --quick");
        std::process::exit(2);
    }
    let sched = SchedulerConfig::default();
    if let Err(e) = sched.apply() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let threshold = match Config::current() {
        Ok(c) => c.threshold(),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "strand-alloc comparison: backends {:?}, {} workers, threshold {} bytes{}",
        backends::ENABLED,
        sched.workers(),
        threshold,
        if quick { ", quick" } else { "" }
    );
    println!(
        "{:<11} {:<14} {:>9} {:>10} {:>8} {:>12} {:>7} {:>9} {:>9} {:>11}",
        "workload",
        "backend",
        "allocs",
        "ns/alloc",
        "vs heap",
        "peak used",
        "resets",
        "rotations",
        "migrated",
        "stranded B"
    );
    for w in SUITE {
        let mut run = Run {
            workload: *w,
            scale: if quick { 10 } else { 1 },
            threshold,
            rows: Vec::new(),
        };
        backends::for_each(&mut run);
        let heap = run
            .rows
            .iter()
            .find(|r| r.backend == "global-malloc")
            .map(|r| r.seconds);
        for r in &run.rows {
            let f = &r.figures;
            let ns = r.seconds * 1e9 / f.allocs.max(1) as f64;
            let rel = heap.map_or("-".to_string(), |h| format!("{:.2}x", r.seconds / h));
            println!(
                "{:<11} {:<14} {:>9} {:>10.1} {:>8} {:>12} {:>7} {:>9} {:>9} {:>11}",
                r.workload,
                r.backend,
                f.allocs,
                ns,
                rel,
                f.peak_used,
                f.resets.total(),
                f.rotations,
                f.migrations,
                f.stranded_bytes
            );
        }
    }
    println!("\nns/alloc is wall time per allocation including spawn and join; 'vs heap' is wall time relative to global-malloc; peak used sums each strand's own peak.");
}
