//! The command line: what to compare and where to write it.

use crate::workload::{Kind, Sizes};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use strand_alloc::backends;

/// Compare strand-alloc's backends on the same workloads under one May scheduler.
///
/// Every backend compiled in runs every selected workload, with the same inputs, once per
/// threshold and repetition, each run in a child process of its own. The result is a
/// verdict per workload (the fastest backend and the one with the smallest peak RSS,
/// ties where a rank test cannot tell them apart), tables of medians (min–max) relative
/// to global-malloc, an SVG chart, and optionally JSON or CSV. `--help` ends with what
/// every figure means.
///
/// Every process the comparison starts opts in to the library's memory return
/// (`strand_alloc::trim::enable`: a glibc trim after every 32 MiB freed, and glibc's trim
/// and mapping thresholds at 512 KiB), as a long-running server would; the header says
/// so. STRAND_ALLOC_SYSTEM_THRESHOLD=off leaves glibc's thresholds alone.
#[derive(Debug, Parser)]
#[command(name = "strand-alloc", version, about)]
pub struct Cli {
    /// Workloads to run, comma-separated [default: all]. `http` runs a may_minihttp
    /// server per backend under wrk (installed with apt-get when missing; skipped, and
    /// said so, when it cannot be).
    #[arg(long, short, value_delimiter = ',', value_parser = parse_workload)]
    pub workload: Vec<Choice>,

    /// Backends to run, comma-separated [default: every backend compiled in].
    #[arg(long, short, value_delimiter = ',', value_parser = parse_backend)]
    pub backend: Vec<&'static str>,

    /// Arena thresholds to sweep, comma-separated sizes such as 64KiB,1MiB,10MiB
    /// [default: STRAND_ALLOC_THRESHOLD, or 10MiB].
    #[arg(long, short, value_delimiter = ',', value_parser = parse_threshold)]
    pub threshold: Vec<usize>,

    /// May worker threads [default: the number of cores].
    #[arg(long, value_parser = parse_workers)]
    pub workers: Option<usize>,

    /// Repetitions of each run; the tables show the median. The verdict needs at least 4
    /// to tell any difference from noise [default: 10, or 5 with --quick].
    #[arg(long, short, value_parser = parse_repeat)]
    pub repeat: Option<usize>,

    /// The quick suite: a tenth of the work, finishing in under a minute.
    #[arg(long, short)]
    pub quick: bool,

    /// Strands per workload, replacing each workload's own default.
    #[arg(long, value_parser = parse_positive)]
    pub strands: Option<usize>,

    /// Allocations per strand, replacing each workload's own default.
    #[arg(long, value_parser = parse_positive)]
    pub allocs: Option<usize>,

    /// String size distribution: small, mixed or large [default: mixed].
    #[arg(long, value_parser = parse_sizes)]
    pub sizes: Option<Sizes>,

    /// Seed of the size generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Also write every figure as JSON to this file ('-' for standard output, which
    /// then replaces the table); its folder is made when missing.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Also write the summary as CSV to this file ('-' for standard output, which then
    /// replaces the table); its folder is made when missing.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,

    /// Where to draw the SVG chart; its folder is made when missing [default:
    /// target/strand-alloc/comparison.svg under the current folder, or none when
    /// --json - or --csv - writes to standard output].
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,

    /// Width of the tables in columns [default: the terminal's, or 120].
    #[arg(long, value_parser = clap::value_parser!(u16).range(60..=1000))]
    pub width: Option<u16>,

    /// Draw no chart.
    #[arg(long, conflicts_with = "chart")]
    pub no_chart: bool,

    /// The workload whose memory over time the chart shows [default: long-lived, or the
    /// first selected].
    #[arg(long, value_parser = parse_kind)]
    pub chart_workload: Option<Kind>,

    /// Hide the progress bar.
    #[arg(long)]
    pub no_progress: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A workload on the command line: one of the simulated kinds, or the HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// A simulated workload, run in child processes.
    Run(Kind),
    /// The may_minihttp server under wrk.
    Http,
}

/// Where the chart goes unless told otherwise.
pub const DEFAULT_CHART: &str = "target/strand-alloc/comparison.svg";

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The stress run: every backend runs the `migrate` workload at scale, in this one
    /// process under one scheduler, with every value checked; fails unless each safe
    /// backend saw the required migrations and strands with zero hazards.
    Stress(StressArgs),
    /// The scale run: many strands live at once, each holding the same strings, and
    /// each backend's overhead per strand beyond the bytes used; fails if strand-arena's
    /// overhead exceeds `--max-overhead`.
    Scale(ScaleArgs),
    /// Serve the `http` workload's echo server on 127.0.0.1 until standard input closes
    /// (used by the comparison for its server processes).
    #[command(hide = true)]
    Serve(ServeArgs),
    /// Run one measurement in this process and print it as JSON (used by the comparison
    /// for its child processes).
    #[command(hide = true)]
    Measure {
        /// The run, as JSON.
        #[arg(long)]
        spec: String,
    },
}

/// The `http` server's parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The backend whose strands the handler allocates from.
    #[arg(long, value_parser = parse_backend)]
    pub backend: &'static str,
    /// Arena threshold.
    #[arg(long, value_parser = parse_threshold)]
    pub threshold: usize,
    /// May worker threads.
    #[arg(long, value_parser = parse_workers)]
    pub workers: usize,
    /// The port to listen on, on 127.0.0.1.
    #[arg(long)]
    pub port: u16,
    /// Serve at the full level of figures (`FullFigures` of the backend).
    #[arg(long)]
    pub full_figures: bool,
}

/// The stress run's parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct StressArgs {
    /// Strands per backend.
    #[arg(long, default_value_t = 100_000, value_parser = parse_positive)]
    pub strands: usize,

    /// Strands live at once: the strands run in waves of this many. Each live strand
    /// takes two of the process's memory maps (`vm.max_map_count`, 65530 by default on
    /// Linux, allows about 28,000).
    #[arg(long, default_value_t = 20_000, value_parser = parse_positive)]
    pub live: usize,

    /// Forced moves (hops) per strand; each allocates and keeps a value first.
    #[arg(long, default_value_t = 32, value_parser = parse_positive)]
    pub hops: usize,

    /// Migrations each backend must see (strands that were found on another OS thread
    /// after a hop).
    #[arg(long, default_value_t = 1_000_000)]
    pub min_migrations: u64,

    /// Backends to run, comma-separated [default: every backend compiled in].
    #[arg(long, short, value_delimiter = ',', value_parser = parse_backend)]
    pub backend: Vec<&'static str>,

    /// Arena threshold [default: STRAND_ALLOC_THRESHOLD, or 10MiB].
    #[arg(long, short, value_parser = parse_threshold)]
    pub threshold: Option<usize>,

    /// May worker threads [default: the number of cores, at least 2 so strands can move].
    #[arg(long, value_parser = parse_workers)]
    pub workers: Option<usize>,
}

/// The scale run's parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct ScaleArgs {
    /// Strands live at once. Each takes two memory maps for its stack: past about 28,000
    /// Linux's default `vm.max_map_count` must be raised (the error says how).
    #[arg(long, default_value_t = 100_000, value_parser = parse_positive)]
    pub strands: usize,

    /// Bytes of strings each strand holds.
    #[arg(long, default_value_t = 1024, value_parser = parse_positive)]
    pub bytes: usize,

    /// Length of each string.
    #[arg(long, default_value_t = 64, value_parser = parse_positive)]
    pub string: usize,

    /// The most a backend may spend per strand beyond the bytes used, in bytes.
    #[arg(long, default_value_t = 1024)]
    pub max_overhead: usize,

    /// Backends to run, comma-separated [default: every backend compiled in]; each runs
    /// in a child process of its own.
    #[arg(long, short, value_delimiter = ',', value_parser = parse_backend)]
    pub backend: Vec<&'static str>,

    /// Print only the result row (used for the child processes).
    #[arg(long, hide = true)]
    pub row_only: bool,
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    s.trim()
        .parse()
        .map_err(|e: crate::workload::WorkloadError| {
            // The workload error already lists the valid names.
            e.to_string()
        })
}

fn parse_workload(s: &str) -> Result<Choice, String> {
    if s.trim() == "http" {
        return Ok(Choice::Http);
    }
    s.trim().parse().map(Choice::Run).map_err(|_| {
        format!(
            "unknown workload {:?}; the workloads are: {}, http",
            s.trim(),
            Kind::valid_names()
        )
    })
}

fn parse_sizes(s: &str) -> Result<Sizes, String> {
    s.trim()
        .parse()
        .map_err(|e: crate::workload::WorkloadError| e.to_string())
}

/// The backends the comparison runs by default: every one compiled in, and with the
/// `mimalloc` feature the `global-malloc+mimalloc` baseline.
pub fn compared_backends() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut b = backends::ENABLED.to_vec();
    #[cfg(feature = "mimalloc")]
    b.push(crate::mimalloc_baseline::NAME);
    b
}

fn parse_backend(s: &str) -> Result<&'static str, String> {
    let s = s.trim();
    compared_backends()
        .into_iter()
        .find(|b| *b == s)
        .ok_or_else(|| {
            let hint = if backends::KNOWN.contains(&s) {
                format!(" (it exists but is not compiled in: build with --features {s})")
            } else if s == "global-malloc+mimalloc" {
                " (build with --features mimalloc)".to_string()
            } else {
                String::new()
            };
            format!(
                "unknown backend {s:?}{hint}; the backends compiled in are: {}",
                compared_backends().join(", ")
            )
        })
}

fn parse_threshold(s: &str) -> Result<usize, String> {
    strand_alloc::Config::default()
        .with_threshold_str(s.trim())
        .map(|c| c.threshold())
        .map_err(|e| e.to_string())
}

fn parse_workers(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of worker threads"))?;
    strand_alloc::SchedulerConfig::default()
        .with_workers(n)
        .map(|c| c.workers())
        .map_err(|e| e.to_string())
}

fn parse_positive(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

/// The most repetitions: the verdict's exact rank test counts arrangements of the
/// repetitions, which stays fast (well under a second) up to here.
pub const MAX_REPEAT: usize = 100;

fn parse_repeat(s: &str) -> Result<usize, String> {
    match parse_positive(s) {
        Ok(n) if n > MAX_REPEAT => Err(format!(
            "the repetition count must be at most {MAX_REPEAT}, not {n}"
        )),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("the repetition count {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_list_the_valid_choices() {
        let e = parse_kind("reqests").unwrap_err();
        assert!(e.contains("requests") && e.contains("handoff"), "{e}");
        let e = parse_backend("tls").unwrap_err();
        assert!(e.contains(backends::ENABLED[0]), "{e}");
        assert!(parse_threshold("ten").is_err());
        assert!(parse_threshold("0").is_err());
        assert!(parse_workers("0").unwrap_err().contains("worker"));
        assert_eq!(parse_threshold("64KiB").unwrap(), 64 * 1024);
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
