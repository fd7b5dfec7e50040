//! Per value, where users allocate: inside spawned strands, at the default threshold
//! (10 MiB) and at 256 KiB, allocating and dropping a string of 16, 64 and 256 bytes on
//! every backend, against the same loop on raw bumpalo (with the same threshold: reset
//! when it is reached) and on a `Box<str>` from the system allocator and from mimalloc.
//! Every contender runs in rounds that take turns, so drift on the machine falls on all
//! alike; the medians of this one run give the ratios printed at the end, in wall time.
//! They are shown, never judged: the targets are instruction counts, judged by
//! `benches/strand_path.rs` (docs/PERFORMANCE.md).
//!
//! ```text
//! cargo bench --features all-backends --bench per_value
//! ```
//!
//! It also times one `Strand::with_current` lookup (a coroutine's strand, found in May's
//! coroutine-local map) in a coroutine spawned by May directly, to set against the cost
//! of a value: the lookup belongs once per unit of work, not once per value.
//!
//! `STRAND_ALLOC_BENCH_QUICK=1` runs fewer rounds (a smoke run).
//!
//! glibc's thresholds are left as glibc has them (the library's default): fixed
//! thresholds (`trim::enable`) map every block of 512 KiB or more on its own, which makes
//! raw bumpalo's loop (a new 10 MiB arena at each reset) up to twice as slow, and the
//! baseline is what a program gets *without* this library. The backends' own times do
//! not move either way. `STRAND_ALLOC_BENCH_SYSTEM_THRESHOLD=fixed` fixes them as
//! `trim::enable` does, to see that side.

#[path = "support/ratios.rs"]
mod ratios;

use bumpalo::Bump;
use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::time::Instant;
use strand_alloc::{
    Builder, Config, GlobalMalloc, SchedulerConfig, StrandArena, ThreadArena, ValueAllocator,
};

/// Values per timed loop.
const N: usize = 200_000;
const SIZES: [usize; 3] = [16, 64, 256];
const THRESHOLDS: [(usize, &str); 2] = [(10 << 20, "10 MiB"), (256 << 10, "256 KiB")];

/// What is timed: one loop of `N` values, inside a spawned strand, in ns per value.
#[derive(Clone, Copy, PartialEq)]
enum Contender {
    Backend(&'static str),
    RawBump,
    BoxSystem,
    BoxMimalloc,
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Contender::Backend(n) => n,
            Contender::RawBump => "raw bumpalo",
            Contender::BoxSystem => "Box<str> (system)",
            Contender::BoxMimalloc => "Box<str> (mimalloc)",
        }
    }
}

const CONTENDERS: [Contender; 6] = [
    Contender::RawBump,
    Contender::Backend(ThreadArena::NAME),
    Contender::Backend(StrandArena::NAME),
    Contender::BoxSystem,
    Contender::Backend(GlobalMalloc::NAME),
    Contender::BoxMimalloc,
];

/// Times `N` allocate-and-drop rounds of `text` on backend `A`, after a warm-up.
fn on_backend<A: ValueAllocator>(text: &'static str, threshold: usize) -> f64 {
    let cfg = Config::default().with_threshold(threshold).unwrap();
    // SAFETY: the closure uses no thread-locals and holds nothing `!Send`.
    let h = unsafe {
        Builder::<A>::new().config(cfg).spawn(move |s| {
            for _ in 0..N / 10 {
                black_box(s.str(black_box(text)));
            }
            let t = Instant::now();
            for _ in 0..N {
                let v = s.str(black_box(text));
                black_box(&v);
            }
            t.elapsed().as_nanos() as f64 / N as f64
        })
    };
    h.unwrap().join().unwrap()
}

/// Times `f`, run `N` times inside a spawned strand, after a warm-up.
fn in_strand(f: impl Fn() + Send + 'static) -> f64 {
    // SAFETY: the closure uses no thread-locals and holds nothing `!Send`.
    let h = unsafe { Builder::<ThreadArena>::new().spawn(move |_| timed(f)) };
    h.unwrap().join().unwrap()
}

/// Runs `f` `N / 10` times to warm up, then times `N` runs: ns per run.
fn timed(f: impl Fn()) -> f64 {
    for _ in 0..N / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..N {
        f();
    }
    t.elapsed().as_nanos() as f64 / N as f64
}

fn time(c: Contender, text: &'static str, threshold: usize) -> f64 {
    match c {
        Contender::Backend(ThreadArena::NAME) => on_backend::<ThreadArena>(text, threshold),
        Contender::Backend(StrandArena::NAME) => on_backend::<StrandArena>(text, threshold),
        Contender::Backend(_) => on_backend::<GlobalMalloc>(text, threshold),
        Contender::RawBump => {
            // SAFETY: the closure uses no thread-locals and holds nothing `!Send`.
            let h = unsafe {
                Builder::<ThreadArena>::new().spawn(move |_| {
                    let mut bump = Bump::new();
                    let mut used = 0;
                    let mut one = |bump: &mut Bump| {
                        if used + text.len() > threshold {
                            bump.reset();
                            used = 0;
                        }
                        used += text.len();
                        black_box(bump.alloc_str(black_box(text)));
                    };
                    for _ in 0..N / 10 {
                        one(&mut bump);
                    }
                    let t = Instant::now();
                    for _ in 0..N {
                        one(&mut bump);
                    }
                    t.elapsed().as_nanos() as f64 / N as f64
                })
            };
            h.unwrap().join().unwrap()
        }
        Contender::BoxSystem => in_strand(move || {
            let v: Box<str> = Box::from(black_box(text));
            black_box(&v);
        }),
        Contender::BoxMimalloc => in_strand(move || {
            let layout = Layout::array::<u8>(text.len()).unwrap();
            let m = mimalloc::MiMalloc;
            // SAFETY: a non-zero layout; the block is written within its size and freed
            // with the same layout by the same allocator.
            unsafe {
                let p = m.alloc(layout);
                assert!(!p.is_null());
                std::ptr::copy_nonoverlapping(black_box(text).as_ptr(), p, text.len());
                black_box(p);
                m.dealloc(p, layout);
            }
        }),
    }
}

/// Times `N` `with_current` lookups in a coroutine spawned by May, in ns per lookup.
fn current_lookup() -> f64 {
    // SAFETY: the closure uses no thread-locals and holds nothing `!Send`.
    let h = unsafe {
        may::coroutine::spawn(|| {
            timed(|| {
                strand_alloc::Strand::<ThreadArena>::with_current(|s| black_box(s.id()))
                    .expect("in a coroutine");
            })
        })
    };
    h.join().unwrap()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    println!("{}", ratios::system_thresholds());
    // One worker: a strand runs its loop without being moved.
    SchedulerConfig::default()
        .with_workers(1)
        .and_then(|c| c.apply())
        .expect("the scheduler starts");
    let rounds = if std::env::var_os("STRAND_ALLOC_BENCH_QUICK").is_some() {
        3
    } else {
        11
    };
    let mut ratios: Vec<(String, f64)> = Vec::new();
    let mut lookup = Vec::new();
    let mut value = Vec::new();
    for (threshold, tname) in THRESHOLDS {
        for size in SIZES {
            let text: &'static str = Box::leak("s".repeat(size).into_boxed_str());
            let mut times: Vec<Vec<f64>> = CONTENDERS.iter().map(|_| Vec::new()).collect();
            for _ in 0..rounds {
                for (i, c) in CONTENDERS.iter().enumerate() {
                    times[i].push(time(*c, text, threshold));
                }
            }
            let med: Vec<f64> = times.into_iter().map(median).collect();
            println!(
                "\nthreshold {tname}, {size} B strings, ns per value (median of {rounds} rounds):"
            );
            for (c, m) in CONTENDERS.iter().zip(&med) {
                println!("  {:<22} {m:6.2}", c.name());
            }
            let of = |c: Contender| med[CONTENDERS.iter().position(|x| *x == c).unwrap()];
            if size == SIZES[0] && threshold == THRESHOLDS[0].0 {
                lookup = (0..rounds).map(|_| current_lookup()).collect();
                value = vec![of(Contender::Backend(ThreadArena::NAME))];
            }
            let raw = of(Contender::RawBump);
            let mi = of(Contender::BoxMimalloc);
            for arena in [ThreadArena::NAME, StrandArena::NAME] {
                let a = of(Contender::Backend(arena));
                let r = a / raw;
                ratios.push((format!("{tname} {size} B: {arena} / raw bumpalo"), r));
                ratios.push((
                    format!("{tname} {size} B: {arena} / Box<str> (mimalloc)"),
                    a / mi,
                ));
            }
            let r = of(Contender::Backend(GlobalMalloc::NAME)) / of(Contender::BoxSystem);
            ratios.push((
                format!("{tname} {size} B: global-malloc / Box<str> (system)"),
                r,
            ));
        }
    }
    let lookup = median(lookup);
    println!(
        "\nStrand::with_current lookup in a May coroutine: {lookup:.2} ns per call \
         ({:.1}x one {} B value on thread-arena at {})",
        lookup / value[0],
        SIZES[0],
        THRESHOLDS[0].1
    );
    println!(
        "\nratios of wall time (shown, not judged: benches/strand_path.rs judges the targets \
         in instructions):"
    );
    for (name, r) in &ratios {
        println!("  {name:<52} {r:5.2}x");
    }
}
