//! The runtime-facing path, counted: a loop inside a May coroutine (and on a plain thread)
//! calling `extern "C"` functions that each make or drop one 16 B or 64 B string through
//! the current-strand API ([`strand_alloc::Handle`], no `&Strand` passed in), against the
//! seed's path (a thread-local `RefCell<Bump>` whose capacity is read and stored, a
//! process-wide stats slot updated, reset past the threshold; rebuilt here from its
//! description), raw bumpalo (reset at the same threshold) and `Box<str>` on glibc and on
//! mimalloc; a shared clone and release against an `Arc` clone and drop; and the lookup
//! of the current strand alone. Threshold: the default 10 MiB.
//!
//! Callgrind's instruction counts judge; each count per value is the difference of two
//! runs of different lengths (so set-up cancels), counted only inside the measured loop
//! (`--toggle-collect`). Wall time, from one native run, is printed beside them and
//! never judged. The targets (issue "A real runtime runs on it"): the lookup at most 40
//! instructions; make + drop on thread-arena and strand-arena at most 1.25x the seed's
//! path; a shared clone and release at most 2x an `Arc` clone and drop.
//!
//! ```text
//! cargo bench --features all-backends --bench runtime_path
//! ```
//!
//! `STRAND_ALLOC_BENCH_QUICK=1` counts shorter loops (the suite's smoke run). Needs
//! valgrind (`scripts/bench.sh` installs it).

#[path = "support/callgrind.rs"]
mod callgrind;

use bumpalo::Bump;
use callgrind::Collect;
use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use strand_alloc::{GlobalMalloc, Handle, StrandArena, ThreadArena, ValueAllocator};

const THRESHOLD: usize = 10 << 20;

// ---- the seed's path, rebuilt from its description ------------------------------------

/// The seed's process-wide statistics slot, updated on every allocation.
static SEED_BYTES: AtomicU64 = AtomicU64::new(0);
static SEED_PEAK: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static SEED: RefCell<Bump> = RefCell::new(Bump::new());
    static SEED_CAPACITY: Cell<usize> = const { Cell::new(0) };
}

/// Makes a string in the thread's arena: the capacity read and stored, the stats slot
/// updated, a reset once the threshold is passed. An arena string is never freed alone.
/// A string as the seed's path gives it.
#[repr(C)]
#[derive(Clone, Copy)]
struct SeedStr {
    p: *const u8,
    n: usize,
}

#[inline(never)]
extern "C" fn seed_make(p: *const u8, n: usize) -> SeedStr {
    // SAFETY: the caller passes a string's bytes.
    let s = unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(p, n)) };
    SEED.with(|a| {
        let mut a = a.borrow_mut();
        let out = a.alloc_str(s);
        let cap = a.allocated_bytes();
        SEED_CAPACITY.with(|c| c.set(cap));
        let b = SEED_BYTES.load(Ordering::Relaxed);
        SEED_BYTES.store(cap as u64, Ordering::Relaxed);
        if b > SEED_PEAK.load(Ordering::Relaxed) {
            SEED_PEAK.store(b, Ordering::Relaxed);
        }
        let r = SeedStr {
            p: out.as_ptr(),
            n: out.len(),
        };
        if cap > THRESHOLD {
            a.reset();
        }
        r
    })
}

#[inline(never)]
extern "C" fn seed_drop(_p: *const u8, _n: usize) {}

// ---- the library's runtime-facing path ------------------------------------------------

#[inline(never)]
extern "C" fn lib_make<A: ValueAllocator>(p: *const u8, n: usize) -> usize {
    // SAFETY: the caller passes a string's bytes.
    let s = unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(p, n)) };
    Handle::<A>::new_str(s).expect("make").to_word()
}

#[inline(never)]
extern "C" fn lib_drop<A: ValueAllocator>(w: usize) {
    // SAFETY: a word from `lib_make`, dropped once by the strand that made it.
    unsafe { Handle::<A>::from_word(w).expect("a word").release() }.expect("release");
}

/// The call a lookup is made in, alone: its cost is taken off the lookup's.
#[inline(never)]
extern "C" fn empty_call() -> u64 {
    black_box(7)
}

#[inline(never)]
extern "C" fn lib_lookup<A: ValueAllocator>() -> u64 {
    strand_alloc::handle::current_strand_id::<A>().expect("a strand")
}

// ---- the measured loops ---------------------------------------------------------------

/// What one measured loop does, `n` times.
#[derive(Clone, Copy, Debug)]
enum Work {
    Seed,
    RawBump,
    BoxGlibc,
    BoxMimalloc,
    Lib(&'static str),
    Lookup(&'static str),
    EmptyCall,
    SharedClone,
    ArcClone,
}

fn text(len: usize) -> &'static str {
    Box::leak("s".repeat(len).into_boxed_str())
}

#[inline(never)]
#[no_mangle]
fn measured_loop(work: Work, s: &str, n: usize) {
    let (p, len) = (s.as_ptr(), s.len());
    match work {
        Work::Seed => {
            for _ in 0..n {
                let v = seed_make(black_box(p), black_box(len));
                seed_drop(black_box(v.p), v.n);
            }
        }
        Work::RawBump => {
            let mut b = Bump::new();
            for _ in 0..n {
                black_box(b.alloc_str(black_box(s)));
                if b.allocated_bytes() > THRESHOLD {
                    b.reset();
                }
            }
        }
        Work::BoxGlibc => {
            for _ in 0..n {
                black_box(Box::<str>::from(black_box(s)));
            }
        }
        Work::BoxMimalloc => callgrind::box_on_mimalloc(s, n),
        Work::Lib(name) => lib_loop(name, p, len, n),
        Work::Lookup(name) => {
            for _ in 0..n {
                black_box(match name {
                    "thread-arena" => lib_lookup::<ThreadArena>(),
                    "strand-arena" => lib_lookup::<StrandArena>(),
                    _ => lib_lookup::<GlobalMalloc>(),
                });
            }
        }
        Work::EmptyCall => {
            for _ in 0..n {
                black_box(empty_call());
            }
        }
        Work::SharedClone => {
            let h = Handle::<ThreadArena>::new_str(s).unwrap();
            // SAFETY: owned by this strand; shared once, released below.
            let h = unsafe { h.share() }.unwrap();
            for _ in 0..n {
                // SAFETY: a shared value with a holder kept throughout.
                let c = unsafe { black_box(h).share() }.unwrap();
                unsafe { black_box(c).release() }.unwrap();
            }
            // SAFETY: the two holders made by the first share.
            unsafe {
                h.release().unwrap();
                h.release().unwrap();
            }
        }
        Work::ArcClone => {
            let a: Arc<str> = Arc::from(s);
            for _ in 0..n {
                drop(black_box(Arc::clone(black_box(&a))));
            }
        }
    }
}

fn lib_loop(name: &str, p: *const u8, len: usize, n: usize) {
    fn go<A: ValueAllocator>(p: *const u8, len: usize, n: usize) {
        for _ in 0..n {
            let w = lib_make::<A>(black_box(p), black_box(len));
            lib_drop::<A>(black_box(w));
        }
    }
    match name {
        "thread-arena" => go::<ThreadArena>(p, len, n),
        "strand-arena" => go::<StrandArena>(p, len, n),
        _ => go::<GlobalMalloc>(p, len, n),
    }
}

/// Runs `work` in a May coroutine (or on this plain thread), after one warm-up pass that
/// makes the strand and the arena's first chunk.
fn run(work: Work, len: usize, n: usize, in_coroutine: bool) -> f64 {
    let s = text(len);
    let body = move || {
        measured_warmup(work, s);
        let t = Instant::now();
        measured_loop(work, s, n);
        t.elapsed().as_nanos() as f64 / n as f64
    };
    if in_coroutine {
        // SAFETY: the closure keeps no thread-local borrow across a yield (it never yields).
        unsafe { may::coroutine::spawn(body) }.join().unwrap()
    } else {
        body()
    }
}

#[inline(never)]
fn measured_warmup(work: Work, s: &str) {
    // Not counted: only `measured_loop` is collected.
    let w = match work {
        Work::Lookup(name) => Work::Lib(name),
        w => w,
    };
    measured_loop_uncounted(w, s);
}

#[inline(never)]
fn measured_loop_uncounted(work: Work, s: &str) {
    // A copy of the loop's first iterations under another name, so Callgrind does not
    // collect it: the strand, its slot block and the arena's first chunk are made here.
    match work {
        Work::Lib(name) => lib_loop(name, s.as_ptr(), s.len(), 100),
        Work::Seed => {
            let _ = seed_make(s.as_ptr(), s.len());
        }
        _ => {}
    }
}

fn parse(work: &str) -> Work {
    let (kind, arg) = work.split_once(':').unwrap_or((work, ""));
    let name: &'static str = Box::leak(arg.to_string().into_boxed_str());
    match kind {
        "seed" => Work::Seed,
        "bump" => Work::RawBump,
        "box-glibc" => Work::BoxGlibc,
        "box-mimalloc" => Work::BoxMimalloc,
        "lib" => Work::Lib(name),
        "lookup" => Work::Lookup(name),
        "shared" => Work::SharedClone,
        "empty" => Work::EmptyCall,
        "arc" => Work::ArcClone,
        other => panic!("unknown work {other}"),
    }
}

fn per_value(work: &str, len: usize, coroutine: bool, quick: bool) -> f64 {
    let lengths = if quick { (200, 2_200) } else { (1_000, 21_000) };
    let args = |n: usize| {
        vec![
            work.to_string(),
            len.to_string(),
            n.to_string(),
            if coroutine { "co" } else { "thread" }.to_string(),
        ]
    };
    callgrind::per_iteration(args, lengths, Collect::MeasuredLoop)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    callgrind::one_worker();
    if args.get(1).map(String::as_str) == Some("child") {
        let work = parse(&args[2]);
        let len: usize = args[3].parse().unwrap();
        let n: usize = args[4].parse().unwrap();
        run(work, len, n, args[5] == "co");
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let quick = std::env::var_os("STRAND_ALLOC_BENCH_QUICK").is_some();
    let time_n = if quick { 20_000 } else { 2_000_000 };
    let row = |label: &str, work: &str, len: usize, co: bool| -> (f64, f64) {
        let ir = per_value(work, len, co, quick);
        let ns = run(parse(work), len, time_n, co);
        println!("{label:<44} {len:>4} B {ir:>9.1} instr {ns:>8.2} ns");
        (ir, ns)
    };
    println!(
        "runtime-facing path, per value (Callgrind instructions; wall time from one native run)"
    );
    println!(
        "{:<44} {:>6} {:>15} {:>11}",
        "path", "size", "instructions", "time"
    );
    let mut targets: Vec<(String, f64, f64, f64, f64)> = Vec::new();
    for len in [16, 64] {
        let seed = row(
            "seed's path (thread-local RefCell<Bump>)",
            "seed",
            len,
            true,
        );
        row("raw bumpalo (reset at the threshold)", "bump", len, true);
        row("Box<str> on glibc", "box-glibc", len, true);
        row("Box<str> on mimalloc", "box-mimalloc", len, true);
        for name in ["thread-arena", "strand-arena", "global-malloc"] {
            let r = row(
                &format!("{name} handle make + drop, coroutine"),
                &format!("lib:{name}"),
                len,
                true,
            );
            if name != "global-malloc" {
                targets.push((
                    format!("{name} {len} B make + drop / seed's path"),
                    r.0,
                    seed.0,
                    r.1,
                    seed.1,
                ));
            }
        }
        row(
            "thread-arena handle make + drop, plain thread",
            "lib:thread-arena",
            len,
            false,
        );
    }
    let call = row(
        "an empty extern \"C\" call (taken off the lookups)",
        "empty",
        16,
        true,
    );
    let co = row(
        "current strand lookup, coroutine",
        "lookup:thread-arena",
        16,
        true,
    );
    let th = row(
        "current strand lookup, plain thread",
        "lookup:thread-arena",
        16,
        false,
    );
    let (co, th) = (
        (co.0 - call.0, co.1 - call.1),
        (th.0 - call.0, th.1 - call.1),
    );
    println!(
        "  lookup alone: {:.1} instructions in a coroutine, {:.1} on a plain thread",
        co.0, th.0
    );
    let shared = row("shared handle share + release", "shared", 16, true);
    let arc = row("Arc<str> clone + drop", "arc", 16, true);
    println!();
    println!("targets (instructions judge; time shown beside, never judged)");
    // A target against a fixed count has no time to compare with: none is printed.
    let line = |what: &str, ratio: f64, max: f64, time_ratio: Option<f64>| {
        let verdict = if ratio <= max { "met" } else { "MISSED" };
        let time = time_ratio.map_or(String::new(), |t| format!(" time {t:.2}x"));
        println!("  {what:<52} {ratio:>6.2}x (at most {max}x) {verdict:<6}{time}");
    };
    for (what, ir, base, ns, base_ns) in &targets {
        line(what, ir / base, 1.25, Some(ns / base_ns));
    }
    line(
        "lookup in a coroutine / 40 instructions",
        co.0 / 40.0,
        1.0,
        None,
    );
    line(
        "lookup on a plain thread / 40 instructions",
        th.0 / 40.0,
        1.0,
        None,
    );
    line(
        "shared share + release / Arc clone + drop",
        shared.0 / arc.0,
        2.0,
        Some(shared.1 / arc.1),
    );
}
