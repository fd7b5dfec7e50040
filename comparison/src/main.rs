//! `strand-alloc`: the backend comparison.
//!
//! Every backend compiled into this binary runs every selected workload with the same
//! inputs, under one May scheduler configuration, once per threshold and repetition. Each
//! run happens in a child process of its own (this executable, hidden subcommand
//! `measure`), so peak RSS, CPU time and page faults belong to one backend alone. The
//! result is printed as tables of medians (min–max) with the figures relative to
//! global-malloc, optionally written as JSON or CSV, and drawn as an SVG chart.
//!
//! `cargo run --release -p strand-alloc-comparison` runs the default suite;
//! `--quick` a tenth of it; `--help` lists every option.

mod chart;
mod cli;
mod http;
mod measure;
#[cfg(feature = "mimalloc")]
mod mimalloc_baseline;
mod report;
mod scale;
mod stress;
mod verdict;
mod workload;

use crate::workload::{Kind, Workload};
use clap::{CommandFactory, FromArgMatches};
use cli::{Choice, Cli, Command};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use measure::{Level, Measurement, Spec};
use report::Row;
use serde::Serialize;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::Duration;
use strand_alloc::Config;

fn main() -> ExitCode {
    // Before anything allocates much: a child measuring the mimalloc baseline.
    #[cfg(feature = "mimalloc")]
    mimalloc_baseline::switch_if_asked();
    // Output piped into `head` and closed early ends the command quietly, as it does any
    // Unix tool, instead of a panic on the broken pipe.
    // SAFETY: restoring the default disposition of SIGPIPE, before any thread exists,
    // touches no memory of this program.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // `--help` ends with what every figure means, from the one list that defines them.
    let matches = Cli::command()
        .after_long_help(format!(
            "{}{}",
            report::definitions(100),
            http::definitions(100)
        ))
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // The comparison gives memory back to the operating system, as a long-running server
    // would ask the library to (trims and glibc's thresholds; `strand_alloc::trim`), in
    // every process it starts, and says so in its header.
    if let Err(e) = strand_alloc::trim::enable() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match &cli.command {
        Some(Command::Measure { spec }) => return child(spec),
        Some(Command::Serve(args)) => return http::serve(args),
        Some(Command::Stress(args)) => return stress::run(args),
        Some(Command::Scale(args)) => return scale::run(args),
        None => {}
    }
    match compare(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The child side: run one spec and print its measurement.
fn child(spec: &str) -> ExitCode {
    let result = serde_json::from_str::<Spec>(spec)
        .map_err(|e| format!("the measurement spec is not valid JSON: {e}"))
        .and_then(|s| measure::run(&s));
    match result {
        Ok(m) => {
            println!(
                "{}",
                serde_json::to_string(&m).expect("a measurement serialises")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// How the comparison's processes give memory back (the library's opt-in, `trim::enable`).
fn memory_return() -> String {
    let step = strand_alloc::trim::step().map_or("no trims".to_string(), |s| {
        format!("a trim after every {} MiB freed", s >> 20)
    });
    let thresholds = strand_alloc::trim::system_threshold()
        .map_or("glibc's thresholds left alone".to_string(), |t| {
            format!("glibc's trim and mapping thresholds at {} KiB", t >> 10)
        });
    format!("memory given back (strand_alloc::trim::enable): {step}, {thresholds}")
}

/// The levels of the library's figures the comparison measures at.
fn figures_level() -> &'static str {
    if strand_alloc::FULL_FIGURES {
        "figures and times at the full level (this build has full-figures, so every \
         backend keeps it)"
    } else {
        "times at the production level (each backend as a runtime ships it); memory and \
         figures from a second process per repetition at the full level (FullFigures: \
         migrations and stranded bytes counted)"
    }
}

/// Where the comparison ran.
#[derive(Debug, Serialize)]
struct Machine {
    cpu: String,
    cores: usize,
    kernel: String,
}

impl Machine {
    fn here() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Machine {
            cpu,
            cores: cores(),
            kernel,
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The whole result, as written by `--json`.
#[derive(Serialize)]
struct Comparison<'a> {
    version: &'static str,
    command: Vec<String>,
    /// How the processes gave memory back to the operating system (the library's opt-in).
    memory_return: String,
    /// The level of the library's figures, and what it means for the timings.
    figures_level: &'static str,
    machine: Machine,
    workers: usize,
    repetitions: usize,
    quick: bool,
    /// What each figure means.
    definitions: Vec<(&'static str, &'static str, &'static str)>,
    verdicts: &'a [verdict::Verdict],
    /// What scopes change (`actor-scoped` against `actor`), where both ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scope_effects: Vec<verdict::ScopeEffect>,
    rows: &'a [Row],
    /// The `http` workload: how it loaded each server, and each backend's result.
    #[serde(skip_serializing_if = "Option::is_none")]
    http_load: Option<http::Load>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    http: Vec<http::HttpRow>,
    /// Why the `http` workload did not run, when it was asked for and could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    http_skipped: Option<String>,
    failures: &'a [String],
}

fn workloads(cli: &Cli) -> Result<Vec<Workload>, String> {
    let kinds = if cli.workload.is_empty() {
        Kind::ALL.to_vec()
    } else {
        cli.workload
            .iter()
            .filter_map(|c| match c {
                Choice::Run(k) => Some(*k),
                Choice::Http => None,
            })
            .collect()
    };
    let mut out = Vec::new();
    for k in kinds {
        let mut w = if cli.quick {
            Workload::quick(k)
        } else {
            Workload::new(k)
        };
        if let Some(n) = cli.strands {
            w = w.with_strands(n);
        }
        if let Some(n) = cli.allocs {
            w = w.with_allocs(n);
        }
        if let Some(s) = cli.sizes {
            w = w.with_sizes(s);
        }
        w = w.with_seed(cli.seed);
        w.validate().map_err(|e| e.to_string())?;
        if !out.contains(&w) {
            out.push(w);
        }
    }
    Ok(out)
}

fn run_child(spec: &Spec) -> Result<Measurement, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let json = serde_json::to_string(spec).expect("a spec serialises");
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("measure")
        .arg("--spec")
        .arg(json)
        .stdin(Stdio::null());
    #[cfg(feature = "mimalloc")]
    if spec.backend == mimalloc_baseline::NAME {
        cmd.env(mimalloc_baseline::ENV, "1");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start a measurement process: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let err = err.trim();
        return Err(format!(
            "{} on {} (threshold {}): {}",
            spec.workload.kind,
            spec.backend,
            spec.threshold,
            if err.is_empty() {
                format!("the process ended with {}", out.status)
            } else {
                err.to_string()
            }
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{} on {}: unreadable measurement: {e}",
            spec.workload.kind, spec.backend
        )
    })
}

/// Makes sure `path` can be written, before anything is measured and without creating
/// anything on disk: it names a file (not `dir/`, `dir/.` or `..`); its directory exists
/// and a file can be made in it (a scratch file, removed at once: the output itself is
/// written the same way, then renamed over `path`), or its nearest existing ancestor is a
/// directory where one can (the missing folders are made only once every output
/// passed: see [`make_dirs`]); and an existing `path` is a regular file that can be
/// opened for writing (it is not changed).
fn check_writable(path: &Path, what: &str) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let fail = |why: String| format!("cannot write the {what} to {}: {why}", path.display());
    let last = path.as_os_str().as_bytes().rsplit(|&b| b == b'/').next();
    if matches!(last, None | Some(b"" | b"." | b"..")) {
        return Err(fail("it names a directory, not a file".into()));
    }
    if path.is_dir() {
        return Err(fail("it is a directory".into()));
    }
    if path.exists() {
        if !path.metadata().map(|m| m.is_file()).unwrap_or(false) {
            return Err(fail("it is not a regular file".into()));
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| fail(e.to_string()))?;
    }
    let dir = output_dir(path);
    let (existing, _) = split_existing(&dir);
    if !existing.exists() {
        return Err(fail(format!(
            "{} does not exist (a path goes up with .. only through folders that exist)",
            existing.display()
        )));
    }
    if !existing.is_dir() {
        return Err(fail(format!("{} is not a directory", existing.display())));
    }
    let scratch = existing.join(scratch_name(path));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&scratch)
        .map_err(|e| {
            fail(format!(
                "cannot create a file in {}: {e}",
                existing.display()
            ))
        })?;
    let _ = std::fs::remove_file(&scratch);
    Ok(())
}

/// Makes the missing folders of the outputs, once every output passed
/// [`check_writable`] and before anything is measured.
fn make_dirs(outputs: &[(&Path, &str)]) -> Result<(), String> {
    for (p, what) in outputs {
        let dir = output_dir(p);
        std::fs::create_dir_all(&dir).map_err(|e| {
            format!(
                "cannot write the {what} to {}: cannot create {}: {e}",
                p.display(),
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// `path` split into its nearest existing ancestor (`.` for a relative path none of
/// whose folders exist) and the components below it.
fn split_existing(path: &Path) -> (std::path::PathBuf, Vec<std::ffi::OsString>) {
    let mut rest = Vec::new();
    let mut p = path.to_path_buf();
    loop {
        if p.as_os_str().is_empty() {
            return (std::path::PathBuf::from("."), rest);
        }
        if p.exists() {
            return (p, rest);
        }
        match (p.file_name(), p.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                p = parent.to_path_buf();
            }
            // `..` or a root: kept whole.
            _ => return (p, rest),
        }
    }
}

/// The directory an output file goes in (`.` for a bare file name).
fn output_dir(path: &Path) -> std::path::PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// A scratch file beside `path`, written first and renamed over it.
fn scratch_path(path: &Path) -> std::path::PathBuf {
    output_dir(path).join(scratch_name(path))
}

/// The name of `path`'s scratch file.
fn scratch_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.strand-alloc-{}", std::process::id())
}

/// What names the same file as another output, in any spelling: the canonical path (so
/// `./`, `..` and a symlinked directory agree; below the nearest existing folder, the
/// missing ones are resolved as written, `..` taking one back), and for a file that
/// exists its device and inode (so a symlink or a hard link of it agrees too).
fn file_identity(path: &Path) -> (Option<std::path::PathBuf>, Option<(u64, u64)>) {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    let canonical = std::fs::canonicalize(path).ok().or_else(|| {
        let (existing, rest) = split_existing(path);
        let mut c = std::fs::canonicalize(existing).ok()?;
        for part in rest.iter().rev() {
            match part.to_str() {
                Some(".") => {}
                Some("..") => {
                    c.pop();
                }
                _ => c.push(part),
            }
        }
        Some(c)
    });
    (canonical, inode)
}

/// Whether two outputs would write the same file.
fn same_file(a: &Path, b: &Path) -> bool {
    let (ca, ia) = file_identity(a);
    let (cb, ib) = file_identity(b);
    (ca.is_some() && ca == cb) || (ia.is_some() && ia == ib) || a == b
}

fn write_out(path: &Path, text: &str) -> Result<(), String> {
    let dir = output_dir(path);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // Written beside it and renamed over it: a failure leaves the old file whole.
    let scratch = scratch_path(path);
    std::fs::write(&scratch, text)
        .and_then(|()| std::fs::rename(&scratch, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&scratch);
            format!("cannot write {}: {e}", path.display())
        })
}

fn compare(cli: &Cli) -> Result<ExitCode, String> {
    let workloads = workloads(cli)?;
    let backends: Vec<&str> = if cli.backend.is_empty() {
        cli::compared_backends()
    } else {
        let mut b = Vec::new();
        for x in &cli.backend {
            if !b.contains(x) {
                b.push(*x);
            }
        }
        b
    };
    let thresholds = if cli.threshold.is_empty() {
        vec![Config::current().map_err(|e| e.to_string())?.threshold()]
    } else {
        // The same threshold given twice (`1MiB,1048576`) is run once.
        let mut t: Vec<usize> = Vec::new();
        for x in &cli.threshold {
            if !t.contains(x) {
                t.push(*x);
            }
        }
        t
    };
    let workers = cli.workers.unwrap_or_else(cores);
    let repeat = cli.repeat.unwrap_or(if cli.quick { 5 } else { 10 });
    let to_stdout = |p: &Option<std::path::PathBuf>| p.as_deref() == Some(Path::new("-"));
    let table_on_stdout = !to_stdout(&cli.json) && !to_stdout(&cli.csv);
    // The chart is drawn unless told not to, or unless standard output carries JSON or
    // CSV and no chart was asked for.
    let chart = if cli.no_chart {
        None
    } else {
        cli.chart
            .clone()
            .or_else(|| table_on_stdout.then(|| std::path::PathBuf::from(cli::DEFAULT_CHART)))
    };
    // A typo in an output path fails now, not after the run, and before anything is
    // created on disk.
    if to_stdout(&cli.json) && to_stdout(&cli.csv) {
        return Err("--json - and --csv - cannot both write to standard output".into());
    }
    if chart.as_deref() == Some(Path::new("-")) {
        return Err("the chart cannot be written to standard output: give a file".into());
    }
    let outputs: Vec<(&Path, &str)> = [(&cli.json, "JSON"), (&cli.csv, "CSV"), (&chart, "chart")]
        .into_iter()
        .filter_map(|(p, what)| Some((p.as_deref()?, what)))
        .filter(|(p, _)| *p != Path::new("-"))
        .collect();
    for (p, what) in &outputs {
        check_writable(p, what)?;
    }
    for (i, (p, what)) in outputs.iter().enumerate() {
        if let Some((_, other)) = outputs[..i].iter().find(|(q, _)| same_file(q, p)) {
            return Err(format!(
                "the {other} and the {what} would both be written to {}: give each its own file",
                p.display()
            ));
        }
    }
    strand_alloc::trim::check_env().map_err(|e| e.to_string())?;
    if let Some(k) = cli.chart_workload {
        if !workloads.iter().any(|w| w.kind == k) {
            return Err(format!(
                "--chart-workload {k} is not among the workloads run; add it to --workload"
            ));
        }
    }
    // Every check passed: the outputs' missing folders are made now, before measuring.
    make_dirs(&outputs)?;
    // A terminal narrower than 60 columns gets 60-column output (as `--width` allows).
    let width = cli
        .width
        .or_else(|| comfy_table::Table::new().width().map(|w| w.max(60)))
        .unwrap_or(120);

    let http_load = (cli.workload.is_empty() || cli.workload.contains(&Choice::Http))
        .then(|| http::Load::new(cli.quick));
    let total = workloads.len() * thresholds.len() * repeat * backends.len()
        + http_load.map_or(0, |_| thresholds.len() * backends.len());
    let bar = if cli.no_progress {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let machine = Machine::here();
    if table_on_stdout {
        print!(
            "{}",
            report::wrap(
                &format!(
            "strand-alloc comparison: backends {}; {} workers on {} cores ({}, Linux {}); {}{}; {}; {}",
            backends.join(", "),
            workers,
            machine.cores,
            machine.cpu,
            machine.kernel,
            report::plural(repeat, "repetition"),
            if cli.quick { "; quick suite" } else { "" },
            memory_return(),
            figures_level(),
        ),
                usize::from(width),
                "",
                "  "
            )
        );
    }

    let mut rows = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for w in &workloads {
        for &threshold in &thresholds {
            let mut runs: Vec<Vec<Measurement>> = backends.iter().map(|_| Vec::new()).collect();
            // Backends take turns within each repetition, so drift on the machine falls
            // on all of them alike.
            for rep in 0..repeat {
                for (bi, b) in backends.iter().enumerate() {
                    bar.set_message(format!("{} · {} · rep {}", w.kind, b, rep + 1));
                    let spec = |level| Spec {
                        backend: b.to_string(),
                        workload: *w,
                        threshold,
                        workers,
                        sample_every: Duration::from_millis(2),
                        level,
                    };
                    // Timed as a runtime ships the backend, counted at the full level.
                    match run_child(&spec(Level::Production)).and_then(|timed| {
                        let counted = run_child(&spec(Level::Full))?;
                        Ok(Measurement::merge(timed, counted))
                    }) {
                        Ok(m) => runs[bi].push(m),
                        Err(e) => failures.push(e),
                    }
                    bar.inc(1);
                }
            }
            rows.extend(runs.into_iter().filter(|r| !r.is_empty()).map(Row::new));
        }
    }
    let mut http_rows = Vec::new();
    let mut http_skipped = None;
    if let Some(load) = http_load {
        match http::find_wrk() {
            Ok(wrk) => {
                for &threshold in &thresholds {
                    for b in &backends {
                        if !http::can_serve(b) {
                            bar.inc(1);
                            continue;
                        }
                        bar.set_message(format!("http · {b} · wrk {} s", load.seconds));
                        match http::run_one(&wrk, b, threshold, workers, load) {
                            Ok(r) if r.bad_responses + r.errors > 0 => failures.push(format!(
                                "http on {b}: {} bad answers and {} errors under wrk",
                                r.bad_responses, r.errors
                            )),
                            Ok(r) => http_rows.push(r),
                            Err(e) => failures.push(format!("http on {b}: {e}")),
                        }
                        bar.inc(1);
                    }
                }
            }
            Err(e) => {
                eprintln!("http: skipped: {e}");
                http_skipped = Some(e);
            }
        }
    }
    bar.finish_and_clear();
    report::relate(&mut rows);
    let verdicts = verdict::verdicts(&rows);

    let doc = Comparison {
        version: env!("CARGO_PKG_VERSION"),
        // As given, a byte that is not UTF-8 shown as U+FFFD (the paths themselves are
        // used as given).
        command: std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        memory_return: memory_return(),
        figures_level: figures_level(),
        machine,
        workers,
        repetitions: repeat,
        quick: cli.quick,
        definitions: report::METRICS
            .iter()
            .map(|m| (m.name, m.title, m.definition))
            .chain(report::TERMS.iter().map(|(t, d)| (*t, *t, *d)))
            .chain(http::DEFINITIONS.iter().map(|(t, d)| (*t, *t, *d)))
            .collect(),
        verdicts: &verdicts,
        scope_effects: verdict::scope_effects(&rows),
        rows: &rows,
        http_load,
        http: http_rows,
        http_skipped,
        failures: &failures,
    };
    // What goes to standard output first; then the files, so that a file that cannot be
    // written (a full disk) loses neither the tables nor the other files.
    if table_on_stdout {
        if !rows.is_empty() {
            print!("{}", report::render(&rows, &verdicts, width));
        }
        if let (Some(load), false) = (http_load, doc.http.is_empty()) {
            print!("{}", http::render(&doc.http, load, width));
        }
    }
    // Outputs that could not be written (after the run: a full disk, say).
    let mut unwritten: Vec<String> = Vec::new();
    if let Some(p) = &cli.json {
        let text = serde_json::to_string_pretty(&doc).expect("the comparison serialises");
        if to_stdout(&cli.json) {
            println!("{text}");
        } else if let Err(e) = write_out(p, &text) {
            unwritten.push(e);
        }
    }
    if let Some(p) = &cli.csv {
        let text = report::render_csv(&rows);
        if to_stdout(&cli.csv) {
            print!("{text}");
        } else if let Err(e) = write_out(p, &text) {
            unwritten.push(e);
        }
    }
    if let (Some(path), false) = (&chart, rows.is_empty()) {
        let kind = cli
            .chart_workload
            .or_else(|| {
                workloads
                    .iter()
                    .map(|w| w.kind)
                    .find(|k| *k == Kind::LongLived)
            })
            .unwrap_or(workloads[0].kind);
        let title = chart::Title {
            thresholds: thresholds.clone(),
            workers,
            repetitions: repeat,
        };
        match chart::draw(&rows, kind, &title, path) {
            Ok(()) if table_on_stdout => println!("chart: {}", path.display()),
            Ok(()) => {}
            Err(e) => unwritten.push(e),
        }
    }
    for f in failures.iter().chain(&unwritten) {
        eprintln!("failed: {f}");
    }
    Ok(if failures.is_empty() && unwritten.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
