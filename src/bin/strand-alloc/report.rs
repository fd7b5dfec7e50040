//! Summaries of repeated measurements, and their output as a table, JSON and CSV.

use crate::measure::Measurement;
use crate::workload::Workload;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The median, least and greatest of one figure over the repetitions.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    fn of(mut xs: Vec<f64>) -> Stat {
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        let median = if n % 2 == 1 {
            xs[n / 2]
        } else {
            (xs[n / 2 - 1] + xs[n / 2]) / 2.0
        };
        Stat {
            median,
            min: xs[0],
            max: xs[n - 1],
        }
    }
}

/// The backend the relative figures are given against: the global heap.
pub const BASELINE: &str = "global-malloc";

/// A figure computed from one measurement.
pub struct Metric {
    pub name: &'static str,
    pub get: fn(&Measurement) -> f64,
}

/// Defines each reported figure once: a constant to look it up by (so a misspelt figure
/// does not compile) and its place in [`METRICS`].
macro_rules! metrics {
    ($($id:ident = $name:literal, $get:expr;)*) => {
        $(pub const $id: Metric = Metric { name: $name, get: $get };)*
        /// Every figure reported, in report order.
        pub const METRICS: &[Metric] = &[$($id),*];
    };
}

metrics! {
    WALL_MS = "wall_ms", |m| m.wall_ns as f64 / 1e6;
    ALLOCS_PER_SEC = "allocs_per_sec", |m| m.figures.allocs as f64 / (m.wall_ns.max(1) as f64 / 1e9);
    NS_PER_ALLOC = "ns_per_alloc", |m| m.wall_ns as f64 / m.figures.allocs.max(1) as f64;
    ALLOCS = "allocs", |m| m.figures.allocs as f64;
    BYTES_ALLOCATED = "bytes_allocated", |m| m.figures.bytes_allocated as f64;
    PEAK_RSS_BYTES = "peak_rss_bytes", |m| m.peak_rss as f64;
    PEAK_USED_BYTES = "peak_used_bytes", |m| m.peak_used as f64;
    PEAK_RESERVED_BYTES = "peak_reserved_bytes", |m| m.peak_reserved as f64;
    RESETS_EXIT = "resets_exit", |m| m.figures.resets_exit as f64;
    RESETS_THRESHOLD = "resets_threshold", |m| m.figures.resets_threshold as f64;
    RESETS_EXPLICIT = "resets_explicit", |m| m.figures.resets_explicit as f64;
    ROTATIONS = "rotations", |m| m.figures.rotations as f64;
    MIGRATIONS = "migrations", |m| m.figures.migrations as f64;
    STRANDED_BYTES = "stranded_bytes", |m| m.figures.stranded_bytes as f64;
    COPIES = "copies", |m| m.figures.copies as f64;
    COPIED_BYTES = "copied_bytes", |m| m.figures.copied_bytes as f64;
    HAZARDS = "hazards", |m| m.figures.hazards as f64;
    REFUSED = "refused", |m| m.refused as f64;
    CHECKED = "checked", |m| m.checked as f64;
    USER_MS = "user_ms", |m| m.user_ns as f64 / 1e6;
    SYS_MS = "sys_ms", |m| m.sys_ns as f64 / 1e6;
    MINOR_FAULTS = "minor_faults", |m| m.minor_faults as f64;
}

/// One workload × threshold × backend, over its repetitions.
#[derive(Debug, Serialize)]
pub struct Row {
    pub workload: Workload,
    pub threshold: usize,
    pub backend: String,
    /// Each figure's median, min and max.
    pub figures: BTreeMap<&'static str, Stat>,
    /// Median wall time relative to global-malloc's on the same workload and threshold.
    pub wall_vs_global_malloc: Option<f64>,
    /// Median peak RSS relative to global-malloc's.
    pub rss_vs_global_malloc: Option<f64>,
    /// Every repetition.
    pub runs: Vec<Measurement>,
}

impl Row {
    pub fn new(runs: Vec<Measurement>) -> Row {
        let spec = &runs[0].spec;
        let figures = METRICS
            .iter()
            .map(|m| (m.name, Stat::of(runs.iter().map(m.get).collect())))
            .collect();
        Row {
            workload: spec.workload,
            threshold: spec.threshold,
            backend: spec.backend.clone(),
            figures,
            wall_vs_global_malloc: None,
            rss_vs_global_malloc: None,
            runs,
        }
    }

    pub fn median(&self, m: &Metric) -> f64 {
        self.figures[m.name].median
    }

    /// The run whose wall time is the median (for the memory-over-time chart).
    pub fn median_run(&self) -> &Measurement {
        let mut idx: Vec<usize> = (0..self.runs.len()).collect();
        idx.sort_by_key(|&i| self.runs[i].wall_ns);
        &self.runs[idx[idx.len() / 2]]
    }
}

/// Fills in each row's figures relative to global-malloc.
pub fn relate(rows: &mut [Row]) {
    let base: Vec<(Workload, usize, f64, f64)> = rows
        .iter()
        .filter(|r| r.backend == BASELINE)
        .map(|r| {
            (
                r.workload,
                r.threshold,
                r.median(&WALL_MS),
                r.median(&PEAK_RSS_BYTES),
            )
        })
        .collect();
    for r in rows.iter_mut() {
        if let Some(&(_, _, wall, rss)) = base
            .iter()
            .find(|(w, t, _, _)| *w == r.workload && *t == r.threshold)
        {
            r.wall_vs_global_malloc = Some(r.median(&WALL_MS) / wall);
            r.rss_vs_global_malloc = Some(r.median(&PEAK_RSS_BYTES) / rss);
        }
    }
}

/// A byte count in a short human form.
pub fn bytes(b: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB"];
    let mut v = b;
    let mut u = 0;
    while v.abs() >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// A count in a short human form.
pub fn count(n: f64) -> String {
    if n.abs() >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if n.abs() >= 1e4 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

fn ratio(r: Option<f64>) -> String {
    r.map_or("-".to_string(), |x| format!("{x:.2}x"))
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().map(Cell::new));
    for i in 1..header.len() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// The terminal report: for each workload and threshold, a table of time and CPU and a
/// table of memory and events.
pub fn render_tables(rows: &[Row]) -> String {
    let mut out = String::new();
    let mut groups: Vec<(Workload, usize)> = Vec::new();
    for r in rows {
        if !groups.contains(&(r.workload, r.threshold)) {
            groups.push((r.workload, r.threshold));
        }
    }
    for (w, threshold) in groups {
        let here: Vec<&Row> = rows
            .iter()
            .filter(|r| r.workload == w && r.threshold == threshold)
            .collect();
        let n = here[0].runs.len();
        let _ = writeln!(
            out,
            "\n{} — {} strands × {} allocs, {} sizes, seed {}, threshold {}, median of {n}",
            w.kind,
            w.strands,
            w.allocs,
            w.sizes,
            w.seed,
            bytes(threshold as f64),
        );
        let mut t = table(&[
            "backend",
            "wall ms (min–max)",
            "vs heap",
            "allocs/s",
            "ns/alloc",
            "user ms",
            "sys ms",
            "minor faults",
            "peak RSS",
            "RSS vs heap",
        ]);
        for r in &here {
            let wall = r.figures[WALL_MS.name];
            t.add_row(vec![
                r.backend.clone(),
                format!("{:.1} ({:.1}–{:.1})", wall.median, wall.min, wall.max),
                ratio(r.wall_vs_global_malloc),
                count(r.median(&ALLOCS_PER_SEC)),
                format!("{:.1}", r.median(&NS_PER_ALLOC)),
                format!("{:.0}", r.median(&USER_MS)),
                format!("{:.0}", r.median(&SYS_MS)),
                count(r.median(&MINOR_FAULTS)),
                bytes(r.median(&PEAK_RSS_BYTES)),
                ratio(r.rss_vs_global_malloc),
            ]);
        }
        let _ = writeln!(out, "{t}");
        let mut t = table(&[
            "backend",
            "allocs",
            "peak used",
            "peak reserved",
            "resets exit/thr/expl",
            "rotations",
            "migrations",
            "stranded",
            "copies",
            "copied",
            "hazards",
        ]);
        for r in &here {
            t.add_row(vec![
                r.backend.clone(),
                count(r.median(&ALLOCS)),
                bytes(r.median(&PEAK_USED_BYTES)),
                bytes(r.median(&PEAK_RESERVED_BYTES)),
                format!(
                    "{}/{}/{}",
                    count(r.median(&RESETS_EXIT)),
                    count(r.median(&RESETS_THRESHOLD)),
                    count(r.median(&RESETS_EXPLICIT))
                ),
                count(r.median(&ROTATIONS)),
                count(r.median(&MIGRATIONS)),
                bytes(r.median(&STRANDED_BYTES)),
                count(r.median(&COPIES)),
                bytes(r.median(&COPIED_BYTES)),
                count(r.median(&HAZARDS)),
            ]);
        }
        let _ = writeln!(out, "{t}");
    }
    out
}

/// The summary as CSV: one line per row, each figure's median, min and max.
pub fn render_csv(rows: &[Row]) -> String {
    let mut out = String::from("workload,strands,allocs,sizes,seed,threshold,backend,repetitions,wall_vs_global_malloc,rss_vs_global_malloc");
    for m in METRICS {
        let _ = write!(out, ",{0}_median,{0}_min,{0}_max", m.name);
    }
    out.push('\n');
    for r in rows {
        let w = r.workload;
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            w.kind,
            w.strands,
            w.allocs,
            w.sizes,
            w.seed,
            r.threshold,
            r.backend,
            r.runs.len(),
            r.wall_vs_global_malloc
                .map_or(String::new(), |x| x.to_string()),
            r.rss_vs_global_malloc
                .map_or(String::new(), |x| x.to_string()),
        );
        for m in METRICS {
            let s = r.figures[m.name];
            let _ = write!(out, ",{},{},{}", s.median, s.min, s.max);
        }
        out.push('\n');
    }
    out
}
