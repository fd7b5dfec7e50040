//! One measured run: one backend, one workload, one threshold, in a process of its own.
//!
//! The parent starts this same executable with the hidden `measure` subcommand and a
//! [`Spec`]; the child runs the workload, samples its memory while it runs, and prints
//! one [`Measurement`] as JSON on standard output. Running each measurement in its own
//! process makes peak RSS, CPU time and page faults belong to that backend alone.
//!
//! Each repetition is two such processes: one at the production level of figures (the
//! backend's own type, as a runtime ships it), whose times are the ones reported, and one
//! at the full level (`FullFigures<A>`), whose memory, migration and stranded figures are
//! ([`Measurement::merge`]).

use crate::workload::{self, Workload};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Config, Figures, FullFigures, SchedulerConfig, ValueAllocator};

/// The level of figures a measurement process runs its backend at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// The backend's own type: what a runtime ships. Its times are reported.
    Production,
    /// `FullFigures<A>`: every figure counted as it happens, migrations and stranded
    /// bytes included. Its memory and figures are reported.
    Full,
}

/// What one child process runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    /// Backend name (one of `backends::ENABLED`).
    pub backend: String,
    /// The workload and its parameters.
    pub workload: Workload,
    /// Arena threshold in bytes.
    pub threshold: usize,
    /// May worker threads.
    pub workers: usize,
    /// Take a memory sample this often.
    pub sample_every: Duration,
    /// The level of figures the backend runs at.
    pub level: Level,
}

/// One memory sample.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Sample {
    /// Milliseconds since the workload started.
    pub ms: f64,
    /// Resident set size, bytes.
    pub rss: u64,
    /// Arena (or heap) bytes in use, over all threads.
    pub used: i64,
    /// Arena (or heap) bytes reserved, over all threads.
    pub reserved: i64,
    /// Bytes of live values stranded on threads their strands no longer run on.
    pub stranded: i64,
    /// Bytes of arena generations set aside and kept alive by live values.
    pub retired: i64,
}

/// What one child process measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    /// The run's spec.
    pub spec: Spec,
    /// Wall time of the workload, nanoseconds.
    pub wall_ns: u64,
    /// Figures of every strand of the workload, added up.
    pub figures: Figures,
    /// Values read back and checked.
    pub checked: u64,
    /// Strings the workload made, counted by the workload itself.
    pub made: u64,
    /// Their bytes.
    pub made_bytes: u64,
    /// Values refused because their memory was found invalid.
    pub refused: u64,
    /// Highest sampled `used` over all threads.
    pub peak_used: i64,
    /// Highest sampled `reserved` over all threads.
    pub peak_reserved: i64,
    /// Highest sampled `stranded`.
    pub peak_stranded: i64,
    /// The sampled `stranded` integrated over the run (trapezoids), byte-seconds.
    pub stranded_byte_seconds: f64,
    /// Highest sampled `retired`.
    pub peak_retired: i64,
    /// The allocator's own cost per value at the production level, ns (see
    /// `workload::own_cost`).
    pub own_ns: f64,
    /// The same at the full level of figures, measured in the full-level process.
    pub own_full_ns: f64,
    /// Peak resident set size of the process, bytes.
    pub peak_rss: u64,
    /// User CPU time during the workload, nanoseconds.
    pub user_ns: u64,
    /// System CPU time during the workload, nanoseconds.
    pub sys_ns: u64,
    /// Minor page faults during the workload.
    pub minor_faults: u64,
    /// Memory over time.
    pub samples: Vec<Sample>,
}

/// The process's resource usage now.
struct Usage {
    user_ns: u64,
    sys_ns: u64,
    minor_faults: u64,
    max_rss: u64,
}

fn usage() -> Usage {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `ru` points to writable memory the size of `rusage`; getrusage with
    // RUSAGE_SELF only writes that struct and cannot fail with a valid pointer.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
        ru.assume_init()
    };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    Usage {
        user_ns: ns(ru.ru_utime),
        sys_ns: ns(ru.ru_stime),
        minor_faults: ru.ru_minflt as u64,
        max_rss: ru.ru_maxrss as u64 * 1024,
    }
}

/// Resident set size now, from `/proc/self/statm` (0 where it cannot be read).
pub fn rss_now() -> u64 {
    let page = 4096u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}

struct Child<'a> {
    spec: &'a Spec,
}

impl Measurement {
    /// One repetition from its two processes: the times from the production level's
    /// (`timed`: wall and CPU time, the allocator alone, page faults), everything else
    /// from the full level's (`counted`: peak RSS, memory samples, figures), and the
    /// allocator alone at both.
    pub fn merge(timed: Measurement, counted: Measurement) -> Measurement {
        Measurement {
            spec: Spec {
                level: Level::Production,
                ..counted.spec
            },
            wall_ns: timed.wall_ns,
            user_ns: timed.user_ns,
            sys_ns: timed.sys_ns,
            own_ns: timed.own_ns,
            own_full_ns: counted.own_ns,
            minor_faults: timed.minor_faults,
            ..counted
        }
    }
}

impl BackendVisitor for Child<'_> {
    type Output = Result<Measurement, String>;

    fn visit<A: ValueAllocator>(&mut self) -> Self::Output {
        match self.spec.level {
            Level::Production => self.measure::<A>(),
            Level::Full => self.measure::<FullFigures<A>>(),
        }
    }
}

impl Child<'_> {
    fn measure<A: ValueAllocator>(&mut self) -> Result<Measurement, String> {
        let spec = self.spec.clone();
        let config = Config::default()
            .with_threshold(spec.threshold)
            .map_err(|e| e.to_string())?;
        // Start the scheduler before the clock does.
        // SAFETY: the closure does nothing.
        unsafe {
            strand_alloc::Builder::<A>::new()
                .config(config)
                .spawn(|_| ())
        }
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "the warm-up strand panicked".to_string())?;

        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let sampler = {
            let stop = stop.clone();
            let every = spec.sample_every;
            std::thread::spawn(move || {
                let mut samples = Vec::new();
                let mut every = every;
                loop {
                    let t = strand_alloc::stats::<A>().totals;
                    samples.push(Sample {
                        ms: start.elapsed().as_secs_f64() * 1e3,
                        rss: rss_now(),
                        used: t.used,
                        reserved: t.reserved,
                        stranded: t.stranded,
                        retired: t.retired,
                    });
                    if stop.load(Ordering::Relaxed) {
                        return samples;
                    }
                    // Keep the series short: halve it and sample half as often.
                    if samples.len() >= 2048 {
                        samples = samples.into_iter().step_by(2).collect();
                        every *= 2;
                    }
                    std::thread::sleep(every);
                }
            })
        };
        let before = usage();
        let outcome = workload::run::<A>(&spec.workload, config);
        let after = usage();
        stop.store(true, Ordering::Relaxed);
        let samples = sampler
            .join()
            .map_err(|_| "the memory sampler panicked".to_string())?;
        let outcome = outcome.map_err(|e| e.to_string())?;
        // After the workload and its peak RSS: the allocator alone, same backend and
        // threshold, same process.
        let own_ns = workload::own_cost::<A>(&spec.workload, config).map_err(|e| e.to_string())?;
        let peak = |f: fn(&Sample) -> i64| samples.iter().map(f).max().unwrap_or(0);
        let stranded_byte_seconds = samples
            .windows(2)
            .map(|w| (w[1].ms - w[0].ms) / 1e3 * (w[0].stranded + w[1].stranded) as f64 / 2.0)
            .sum();
        Ok(Measurement {
            wall_ns: outcome.wall.as_nanos() as u64,
            figures: outcome.figures,
            checked: outcome.checked,
            made: outcome.made,
            made_bytes: outcome.made_bytes,
            refused: outcome.refused,
            peak_used: peak(|s| s.used),
            peak_reserved: peak(|s| s.reserved),
            peak_stranded: peak(|s| s.stranded),
            stranded_byte_seconds,
            peak_retired: peak(|s| s.retired),
            own_ns,
            own_full_ns: 0.0, // set by `merge`
            peak_rss: after.max_rss,
            user_ns: after.user_ns - before.user_ns,
            sys_ns: after.sys_ns - before.sys_ns,
            minor_faults: after.minor_faults - before.minor_faults,
            samples,
            spec,
        })
    }
}

/// Runs `spec` in this process and returns its measurement, or why it could not run.
pub fn run(spec: &Spec) -> Result<Measurement, String> {
    SchedulerConfig::default()
        .with_workers(spec.workers)
        .and_then(|s| s.apply())
        .map_err(|e| e.to_string())?;
    #[allow(unused_mut)]
    let mut backend = spec.backend.as_str();
    #[cfg(feature = "mimalloc")]
    if backend == crate::mimalloc_baseline::NAME {
        if !crate::mimalloc_baseline::on() {
            return Err(format!(
                "the {backend} baseline needs {} set in its process",
                crate::mimalloc_baseline::ENV
            ));
        }
        backend = strand_alloc::GlobalMalloc::NAME;
    }
    backends::visit(backend, &mut Child { spec }).unwrap_or_else(|| {
        Err(format!(
            "backend {:?} is not compiled in; compiled in: {}",
            spec.backend,
            backends::ENABLED.join(", ")
        ))
    })
}
