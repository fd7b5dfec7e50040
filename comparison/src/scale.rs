//! The scale run: many strands live at once, each holding a fixed amount of strings, and
//! what each backend spends per strand beyond the bytes the strings use.
//!
//! Every backend runs in a child process of its own (this executable, `scale --backend
//! NAME`), so that its resident memory is its own. Each strand allocates its strings,
//! checks them, and waits until every strand is live; then the parent of the strands
//! reads the backend's statistics and the process's resident memory, releases them all,
//! and checks every string again as the strands end.

use crate::cli::ScaleArgs;
use crate::measure::rss_now;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Builder, Config, FullFigures, SchedulerConfig, ValueAllocator};

/// Runs the scale test for each selected backend (each in a child process), or for the
/// one backend named, in this process.
pub fn run(args: &ScaleArgs) -> ExitCode {
    let result = if args.backend.len() == 1 {
        one(args, args.backend[0])
    } else {
        each_in_a_child(args)
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn each_in_a_child(args: &ScaleArgs) -> Result<bool, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let names: Vec<&str> = if args.backend.is_empty() {
        backends::ENABLED.to_vec()
    } else {
        args.backend.clone()
    };
    println!(
        "scale: {} live strands, each holding {} bytes in {}-byte strings",
        args.strands, args.bytes, args.string
    );
    println!("{}", header());
    let mut all_held = true;
    for name in names {
        let out = Command::new(&exe)
            .args(["scale", "--backend", name])
            .args(["--strands", &args.strands.to_string()])
            .args(["--bytes", &args.bytes.to_string()])
            .args(["--string", &args.string.to_string()])
            .args(["--max-overhead", &args.max_overhead.to_string()])
            .arg("--row-only")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if out.status.code() == Some(2) {
            return Err(format!("{name}: the scale run could not start"));
        }
        all_held &= out.status.success();
    }
    Ok(all_held)
}

fn header() -> String {
    format!(
        "{:<14} {:>8} {:>9} {:>9} {:>12} {:>7} {:>13} {:>10} {:>8}",
        "backend",
        "strands",
        "bytes/s",
        "reserved/s",
        "arena over/s",
        "state",
        "overhead/s",
        "RSS/s",
        "time"
    )
}

fn one(args: &ScaleArgs, name: &str) -> Result<bool, String> {
    SchedulerConfig::default()
        .with_workers(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .and_then(|s| s.apply())
        .map_err(|e| e.to_string())?;
    if !args.row_only {
        println!("{}", header());
    }
    backends::visit(name, &mut OneBackend { args })
        .ok_or_else(|| format!("backend {name:?} is not compiled in"))?
}

struct OneBackend<'a> {
    args: &'a ScaleArgs,
}

impl BackendVisitor for OneBackend<'_> {
    type Output = Result<bool, String>;

    fn visit<A: ValueAllocator>(&mut self) -> Self::Output {
        // The figures are read while the strands hold their values: at the full level,
        // where every count is written as it happens.
        self.run::<FullFigures<A>>()
    }
}

impl OneBackend<'_> {
    fn run<A: ValueAllocator>(&mut self) -> Result<bool, String> {
        let args = self.args;
        let n = args.strands;
        let per_strand = args.bytes.div_ceil(args.string);
        let config = Config::from_env().map_err(|e| e.to_string())?;
        // Start the scheduler before the baseline is read.
        // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
        unsafe { Builder::<A>::new().spawn(|_| ()) }
            .map_err(|e| e.to_string())?
            .join()
            .map_err(|_| "the warm-up strand panicked".to_string())?;
        let rss_before = rss_now();
        let started = Instant::now();
        let ready = Arc::new(AtomicUsize::new(0));
        let go = Arc::new(may::sync::SyncFlag::new());
        let mut handles = Vec::with_capacity(n);
        for s in 0..n {
            let (their_ready, their_go) = (ready.clone(), go.clone());
            let string = args.string;
            // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
            let spawned = unsafe {
                Builder::<A>::new().config(config).spawn(move |strand| {
                    let held: Vec<_> = (0..per_strand)
                        .map(|i| strand.str(&text(s, i, string)))
                        .collect();
                    let mut bad = 0usize;
                    for (i, v) in held.iter().enumerate() {
                        bad += usize::from(v.as_str() != text(s, i, string));
                    }
                    their_ready.fetch_add(1, Ordering::Release);
                    their_go.wait();
                    for (i, v) in held.iter().enumerate() {
                        bad += usize::from(v.as_str() != text(s, i, string));
                    }
                    bad
                })
            };
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    // Let the strands already running finish before reporting.
                    go.fire();
                    handles.into_iter().for_each(|h| drop(h.join()));
                    return Err(format!("{}: after {s} strands: {e}", A::NAME));
                }
            }
        }
        while ready.load(Ordering::Acquire) < n {
            std::thread::sleep(Duration::from_millis(5));
        }
        let snap = strand_alloc::stats::<A>();
        let rss = rss_now().saturating_sub(rss_before);
        go.fire();
        let mut bad = 0;
        for h in handles {
            bad += h
                .join()
                .map_err(|_| format!("{}: a strand panicked", A::NAME))?;
        }
        let elapsed = started.elapsed();
        let t = snap.totals;
        let per = |x: i64| x as f64 / n as f64;
        let state = std::mem::size_of::<A::StrandState>() as f64;
        // The bytes the strings take, exactly; the backends' own `used` figure may lag
        // (strand-arena publishes it to the statistics only when a chunk fills).
        let bytes = (per_strand * args.string) as f64;
        let arena_over = per(t.reserved) - bytes;
        let overhead = arena_over + state;
        println!(
            "{:<14} {:>8} {:>9.0} {:>10.0} {:>12.0} {:>7.0} {:>13.0} {:>10.0} {:>7.1}s",
            A::NAME,
            snap.live_strands,
            bytes,
            per(t.reserved),
            arena_over,
            state,
            overhead,
            rss as f64 / n as f64,
            elapsed.as_secs_f64()
        );
        let mut held = true;
        if snap.live_strands != n as i64 {
            println!("  {}: {} strands live, not {n}", A::NAME, snap.live_strands);
            held = false;
        }
        if bad != 0 {
            println!("  {}: {bad} strings read back wrong", A::NAME);
            held = false;
        }
        if overhead > args.max_overhead as f64 {
            println!(
                "  {}: {overhead:.0} bytes of overhead per strand, over the {} allowed",
                A::NAME,
                args.max_overhead
            );
            held = false;
        }
        Ok(held)
    }
}

/// String `i` of strand `s`, `len` bytes long.
fn text(s: usize, i: usize, len: usize) -> String {
    let mut t = format!("{s}:{i}:");
    let fill = (b'a' + (s + i) as u8 % 26) as char;
    while t.len() < len {
        t.push(fill);
    }
    t.truncate(len);
    t
}
