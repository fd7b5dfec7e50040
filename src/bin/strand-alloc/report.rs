//! Summaries of repeated measurements, and their output as a table, JSON and CSV.

use crate::measure::Measurement;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use strand_alloc::workload::Workload;

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

/// A figure computed from one measurement.
pub struct Metric {
    pub name: &'static str,
    pub get: fn(&Measurement) -> f64,
}

/// Every figure reported, in report order.
pub const METRICS: &[Metric] = &[
    Metric {
        name: "wall_ms",
        get: |m| m.wall_ns as f64 / 1e6,
    },
    Metric {
        name: "allocs_per_sec",
        get: |m| m.figures.allocs as f64 / (m.wall_ns.max(1) as f64 / 1e9),
    },
    Metric {
        name: "ns_per_alloc",
        get: |m| m.wall_ns as f64 / m.figures.allocs.max(1) as f64,
    },
    Metric {
        name: "allocs",
        get: |m| m.figures.allocs as f64,
    },
    Metric {
        name: "bytes_allocated",
        get: |m| m.figures.bytes_allocated as f64,
    },
    Metric {
        name: "peak_rss_bytes",
        get: |m| m.peak_rss as f64,
    },
    Metric {
        name: "peak_used_bytes",
        get: |m| m.peak_used as f64,
    },
    Metric {
        name: "peak_reserved_bytes",
        get: |m| m.peak_reserved as f64,
    },
    Metric {
        name: "resets_exit",
        get: |m| m.figures.resets.strand_exit as f64,
    },
    Metric {
        name: "resets_threshold",
        get: |m| m.figures.resets.threshold as f64,
    },
    Metric {
        name: "resets_explicit",
        get: |m| m.figures.resets.explicit as f64,
    },
    Metric {
        name: "rotations",
        get: |m| m.figures.rotations as f64,
    },
    Metric {
        name: "migrations",
        get: |m| m.figures.migrations as f64,
    },
    Metric {
        name: "stranded_bytes",
        get: |m| m.figures.stranded_bytes as f64,
    },
    Metric {
        name: "copies",
        get: |m| m.figures.copies as f64,
    },
    Metric {
        name: "copied_bytes",
        get: |m| m.figures.copied_bytes as f64,
    },
    Metric {
        name: "hazards",
        get: |m| m.figures.hazards as f64,
    },
    Metric {
        name: "refused",
        get: |m| m.refused as f64,
    },
    Metric {
        name: "checked",
        get: |m| m.checked as f64,
    },
    Metric {
        name: "user_ms",
        get: |m| m.user_ns as f64 / 1e6,
    },
    Metric {
        name: "sys_ms",
        get: |m| m.sys_ns as f64 / 1e6,
    },
    Metric {
        name: "minor_faults",
        get: |m| m.minor_faults as f64,
    },
];

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

    pub fn median(&self, name: &str) -> f64 {
        self.figures[name].median
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
        .filter(|r| r.backend == "global-malloc")
        .map(|r| {
            (
                r.workload,
                r.threshold,
                r.median("wall_ms"),
                r.median("peak_rss_bytes"),
            )
        })
        .collect();
    for r in rows.iter_mut() {
        if let Some(&(_, _, wall, rss)) = base
            .iter()
            .find(|(w, t, _, _)| *w == r.workload && *t == r.threshold)
        {
            r.wall_vs_global_malloc = Some(r.median("wall_ms") / wall);
            r.rss_vs_global_malloc = Some(r.median("peak_rss_bytes") / rss);
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
            let wall = r.figures["wall_ms"];
            t.add_row(vec![
                r.backend.clone(),
                format!("{:.1} ({:.1}–{:.1})", wall.median, wall.min, wall.max),
                ratio(r.wall_vs_global_malloc),
                count(r.median("allocs_per_sec")),
                format!("{:.1}", r.median("ns_per_alloc")),
                format!("{:.0}", r.median("user_ms")),
                format!("{:.0}", r.median("sys_ms")),
                count(r.median("minor_faults")),
                bytes(r.median("peak_rss_bytes")),
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
                count(r.median("allocs")),
                bytes(r.median("peak_used_bytes")),
                bytes(r.median("peak_reserved_bytes")),
                format!(
                    "{}/{}/{}",
                    count(r.median("resets_exit")),
                    count(r.median("resets_threshold")),
                    count(r.median("resets_explicit"))
                ),
                count(r.median("rotations")),
                count(r.median("migrations")),
                bytes(r.median("stranded_bytes")),
                count(r.median("copies")),
                bytes(r.median("copied_bytes")),
                count(r.median("hazards")),
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
