//! Scopes, counted inside a spawned strand at the default threshold: entering and leaving
//! an empty scope (the target: at most 40 instructions), a 16 B string made and dropped in
//! a scope, and a message of the comparison's `actor-scoped` workload (a scope, eight
//! values of 16-512 B, a state of up to 1 KiB escaping to the heap) against the same
//! message without a scope, on every backend. Beside them, the handle scopes of the
//! runtime-facing API: an empty one entered and left, and a message of eight handles
//! freed by the leave against the same handles each released.
//!
//! Callgrind's instruction counts judge; each count is the difference of two runs of
//! different lengths, counted inside the measured loop (`--toggle-collect`), so set-up
//! cancels. Wall time, from one native run, is printed beside them and never judged.
//!
//! ```text
//! cargo bench --features all-backends --bench scope
//! ```
//!
//! `STRAND_ALLOC_BENCH_QUICK=1` counts shorter loops (the suite's run) and fails when the
//! empty scope misses its target. Needs valgrind (`scripts/bench.sh` installs it).

#[path = "support/callgrind.rs"]
mod callgrind;

use callgrind::Collect;
use std::hint::black_box;
use std::time::Instant;
use strand_alloc::handle::{enter_scope, leave_scope};
use strand_alloc::{
    Builder, GlobalMalloc, Handle, Str, Strand, StrandArena, ThreadArena, ValueAllocator,
};

const BACKENDS: [&str; 3] = ["strand-arena", "thread-arena", "global-malloc"];
/// Instructions an empty scope may take, entered and left.
const EMPTY_TARGET: f64 = 40.0;

/// The loop Callgrind counts: `f` runs `n` iterations.
#[inline(never)]
#[no_mangle]
fn measured_loop(f: &mut dyn FnMut(usize), n: usize) {
    f(n)
}

/// The text of a value of `len` bytes.
fn text(len: usize) -> &'static str {
    static ALL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    &ALL.get_or_init(|| "s".repeat(1024))[..len]
}

/// One message of the actor workload: eight values of 16-512 B, the state read, a new
/// state of up to 1 KiB; with `scoped`, in a scope, the state escaping to the heap.
fn message<'s, A: ValueAllocator>(
    s: &'s Strand<A>,
    state: &Str<'s, A>,
    m: usize,
    scoped: bool,
) -> Str<'s, A> {
    let len = |i: usize| 16 + (m * 8 + i) * 37 % 497;
    let next = 1 + (m * 131 + state.len()) % 1024;
    if scoped {
        s.scope(|sc| {
            let parts: Vec<_> = (0..8).map(|i| sc.str(text(len(i)))).collect();
            black_box((&parts, state.as_str()));
            sc.to_heap(&sc.str(text(next)))
        })
    } else {
        let parts: Vec<_> = (0..8).map(|i| s.str(text(len(i)))).collect();
        black_box((&parts, state.as_str()));
        s.str(text(next))
    }
}

/// Runs `work` `n` times in a strand of `A`, after a warm-up; nanoseconds per iteration.
fn in_strand<A: ValueAllocator>(work: &'static str, n: usize) -> f64 {
    let body = move |s: &mut Strand<A>| {
        let s: &Strand<A> = s;
        {
            let mut state = s.str("");
            let mut go = |n: usize| match work {
                "empty" => {
                    for _ in 0..n {
                        s.scope(|sc| {
                            black_box(sc);
                        });
                    }
                }
                "value" => s.scope(|sc| {
                    for _ in 0..n {
                        drop(black_box(sc.str(black_box(text(16)))));
                    }
                }),
                "handle-empty" => {
                    for _ in 0..n {
                        let mark = enter_scope::<A>().unwrap();
                        // SAFETY: an empty scope.
                        unsafe { leave_scope::<A>(black_box(mark)) }.unwrap();
                    }
                }
                "handle-message" | "handle-message-released" => {
                    let release = work == "handle-message-released";
                    for m in 0..n {
                        let mark = enter_scope::<A>().unwrap();
                        for i in 0..8 {
                            let len = 16 + (m * 8 + i) * 37 % 497;
                            let h = Handle::<A>::new_str(text(len)).unwrap();
                            if release {
                                // SAFETY: live, this strand's, released once.
                                unsafe { black_box(h).release() }.unwrap();
                            } else {
                                black_box(h);
                            }
                        }
                        // SAFETY: no value of the scope is used afterwards.
                        unsafe { leave_scope::<A>(mark) }.unwrap();
                    }
                }
                "message" | "message-scoped" => {
                    for m in 0..n {
                        state = message(s, &state, m, work == "message-scoped");
                    }
                }
                _ => panic!("unknown work {work}"),
            };
            go(1_000);
            let started = Instant::now();
            measured_loop(&mut go, n);
            started.elapsed().as_nanos() as f64 / n as f64
        }
    };
    // SAFETY: the closure uses no thread-locals of its own and nothing `!Send`.
    let h = unsafe { Builder::<A>::new().spawn(body) }.unwrap();
    h.join().unwrap()
}

fn run(backend: &str, work: &'static str, n: usize) -> f64 {
    match backend {
        "strand-arena" => in_strand::<StrandArena>(work, n),
        "thread-arena" => in_strand::<ThreadArena>(work, n),
        _ => in_strand::<GlobalMalloc>(work, n),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    callgrind::one_worker();
    let works: [&'static str; 7] = [
        "empty",
        "value",
        "message",
        "message-scoped",
        "handle-empty",
        "handle-message",
        "handle-message-released",
    ];
    let work_of = |name: &str| *works.iter().find(|w| **w == name).expect("a known work");
    if args.get(1).map(String::as_str) == Some("child") {
        run(&args[2], work_of(&args[3]), args[4].parse().unwrap());
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let quick = std::env::var_os("STRAND_ALLOC_BENCH_QUICK").is_some();
    let lengths = if quick { (500, 5_500) } else { (2_000, 42_000) };
    let time_n = if quick { 20_000 } else { 1_000_000 };
    println!("scopes inside a spawned strand, default threshold (Callgrind instructions; wall");
    println!("time from one native run)");
    let mut missed = Vec::new();
    for backend in BACKENDS {
        println!("{backend}");
        let row = |label: &str, work: &'static str| -> (f64, f64) {
            let args = |n: usize| vec![backend.to_string(), work.to_string(), n.to_string()];
            let ir = callgrind::per_iteration(args, lengths, Collect::MeasuredLoop);
            let ns = run(
                backend,
                work,
                time_n / if work.contains("message") { 10 } else { 1 },
            );
            println!("  {label:<44} {ir:>8.1} instr {ns:>9.2} ns");
            (ir, ns)
        };
        let empty = row("empty scope, entered and left", "empty");
        row("16 B string made and dropped in a scope", "value");
        let plain = row("actor message without a scope", "message");
        let scoped = row(
            "actor message in a scope, state to the heap",
            "message-scoped",
        );
        let handle_empty = row("handle scope, empty, entered and left", "handle-empty");
        let left = row(
            "handle message: 8 values, freed by the leave",
            "handle-message",
        );
        let released = row(
            "handle message: 8 values, each released",
            "handle-message-released",
        );
        let verdict = if empty.0 <= EMPTY_TARGET {
            "met"
        } else {
            "MISSED"
        };
        println!(
            "  empty scope / {EMPTY_TARGET} instructions: {:.2}x (at most 1x) {verdict}",
            empty.0 / EMPTY_TARGET
        );
        println!(
            "  message in a scope / without: {:.2}x instructions, {:.2}x time (shown, not judged)",
            scoped.0 / plain.0,
            scoped.1 / plain.1
        );
        println!(
            "  handle scope, empty: {:.1} instructions, two current-strand lookups among \
             them (shown, not judged)",
            handle_empty.0
        );
        println!(
            "  handle message freed by the leave / released: {:.2}x instructions (shown)",
            left.0 / released.0
        );
        if empty.0 > EMPTY_TARGET {
            missed.push(format!(
                "{backend}: an empty scope took {:.1} instructions",
                empty.0
            ));
        }
    }
    if quick && !missed.is_empty() {
        eprintln!("empty-scope target missed: {}", missed.join("; "));
        std::process::exit(1);
    }
}
