//! The stress run: the `migrate` workload at scale on every backend, in this one process
//! under one May scheduler, in waves of at most `--live` strands at once.
//!
//! Every strand allocates a value, keeps it in a window of 32, and hops
//! ([`strand_alloc::hop`]) after each allocation; every value is read back and checked
//! when it leaves the window or when the strand ends. The run fails unless each safe
//! backend saw at least the required migrations, every strand began and exited, every
//! value was checked, and no hazard was detected or read refused.

use crate::cli::StressArgs;
use crate::report::{self, bytes, count, Column};
use crate::workload::{self, Kind, Workload};
use std::process::ExitCode;
use std::time::Instant;
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Config, Figures, FullFigures, SchedulerConfig, ValueAllocator};

/// Runs the stress test for every selected backend; exit code 0 only if every check held.
pub fn run(args: &StressArgs) -> ExitCode {
    match stress(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn stress(args: &StressArgs) -> Result<bool, String> {
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().max(2)));
    SchedulerConfig::default()
        .with_workers(workers)
        .and_then(|s| s.apply())
        .map_err(|e| e.to_string())?;
    let config = match args.threshold {
        Some(t) => Config::default().with_threshold(t),
        None => Config::from_env(),
    }
    .map_err(|e| e.to_string())?;
    let backends: Vec<&str> = if args.backend.is_empty() {
        backends::ENABLED.to_vec()
    } else {
        args.backend.clone()
    };
    let wave = args.live.min(args.strands);
    let workload = Workload::new(Kind::Migrate)
        .with_strands(wave)
        .with_allocs(args.hops);
    workload.validate().map_err(|e| e.to_string())?;
    println!(
        "stress: {} strands × {} hops per backend, at most {} live, {workers} workers, \
         threshold {}",
        count(args.strands as f64),
        args.hops,
        count(wave as f64),
        bytes(config.threshold() as f64)
    );
    let mut all_held = true;
    let mut rows = Vec::new();
    for name in backends {
        let mut one = OneBackend {
            args,
            workload,
            config,
        };
        let (held, row) = backends::visit(name, &mut one)
            .ok_or_else(|| format!("backend {name:?} is not compiled in"))??;
        all_held &= held;
        rows.push(row);
    }
    let titles = [
        "backend",
        "seconds",
        "hops",
        "migrations",
        "strands begun",
        "strands exited",
        "values checked",
        "hazards",
        "refused",
        "peak stranded (sum of strands')",
    ];
    let columns: Vec<Column> = titles
        .iter()
        .enumerate()
        .map(|(i, t)| Column::new(t, rows.iter().map(|r: &Vec<String>| r[i].clone()).collect()))
        .collect();
    let width = comfy_table::Table::new().width().unwrap_or(120);
    print!("{}", report::tables(&columns, width));
    println!(
        "{}",
        if all_held {
            "stress: every check held"
        } else {
            "stress: FAILED"
        }
    );
    Ok(all_held)
}

struct OneBackend<'a> {
    args: &'a StressArgs,
    workload: Workload,
    config: Config,
}

impl BackendVisitor for OneBackend<'_> {
    /// Whether every check held, and the backend's row of the table.
    type Output = Result<(bool, Vec<String>), String>;

    fn visit<A: ValueAllocator>(&mut self) -> Self::Output {
        // Migrations are the run's subject: counted at the full level.
        self.run::<FullFigures<A>>()
    }
}

impl OneBackend<'_> {
    fn run<A: ValueAllocator>(&mut self) -> Result<(bool, Vec<String>), String> {
        let started = Instant::now();
        let (mut f, mut checked, mut refused) = (Figures::default(), 0, 0);
        let mut left = self.args.strands;
        let mut seed = 1;
        while left > 0 {
            // Each wave gets its own seed, so the sizes differ from wave to wave.
            let w = self
                .workload
                .with_strands(left.min(self.workload.strands))
                .with_seed(seed);
            let outcome =
                workload::run::<A>(&w, self.config).map_err(|e| format!("{}: {e}", A::NAME))?;
            f.accumulate(&outcome.figures);
            checked += outcome.checked;
            refused += outcome.refused;
            left -= w.strands;
            seed += 1;
        }
        let strands = self.args.strands as u64;
        let values = strands * self.args.hops as u64;
        let seconds = started.elapsed().as_secs_f64();
        println!("{}: done in {seconds:.1} s", A::NAME);
        let row = vec![
            A::NAME.to_string(),
            format!("{seconds:.1}"),
            count(values as f64),
            count(f.migrations as f64),
            count(f.strands_begun as f64),
            count(f.strands_exited as f64),
            count(checked as f64),
            count(f.hazards as f64),
            count(refused as f64),
            bytes(f.peak_stranded as f64),
        ];
        let mut failures = Vec::new();
        if f.strands_begun != strands || f.strands_exited != strands {
            failures.push(format!(
                "{} strands began and {} exited, of {strands}",
                f.strands_begun, f.strands_exited
            ));
        }
        // A policy that breaks the contract on purpose (the seed's) refuses the reads it
        // caught; every other value must have been read back and checked.
        if checked + refused != values {
            failures.push(format!(
                "{checked} values checked and {refused} refused, of {values}"
            ));
        }
        if A::SAFE {
            if f.migrations < self.args.min_migrations {
                failures.push(format!(
                    "{} migrations, fewer than the {} required",
                    f.migrations, self.args.min_migrations
                ));
            }
            if f.hazards != 0 || refused != 0 {
                failures.push(format!(
                    "{} hazards and {} refused reads on a safe backend",
                    f.hazards, refused
                ));
            }
        }
        for failure in &failures {
            println!("  {}: {failure}", A::NAME);
        }
        Ok((failures.is_empty(), row))
    }
}
