//! Summaries of repeated measurements, and their output as tables, JSON and CSV.
//!
//! Every figure the comparison reports is defined once, in the `metrics!` list below: its
//! key in JSON and CSV, its column title, its definition (which the output and `--help`
//! print) and how it is computed from one measurement, the same way for every backend.

use crate::measure::Measurement;
use crate::verdict::Verdict;
use crate::workload::Workload;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
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

/// How a figure is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    Ns,
    Bytes,
    ByteSeconds,
    Count,
    Share,
}

/// A figure computed from one measurement.
pub struct Metric {
    /// Its key in JSON and CSV.
    pub name: &'static str,
    /// Its column title.
    pub title: &'static str,
    /// What it means (printed under the tables and by `--help`).
    pub definition: &'static str,
    pub unit: Unit,
    pub get: fn(&Measurement) -> f64,
}

impl Metric {
    /// The figure in its unit's short form.
    pub fn show(&self, x: f64) -> String {
        match self.unit {
            Unit::Ms => ms(x),
            Unit::Ns => format!("{x:.1}"),
            Unit::Bytes => bytes(x),
            Unit::ByteSeconds => format!("{:.3}", x / MIB),
            Unit::Count => count(x),
            Unit::Share => format!("{:.1}%", x * 100.0),
        }
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// Defines each reported figure once: a constant to look it up by (so a misspelt figure
/// does not compile) and its place in [`METRICS`].
macro_rules! metrics {
    ($($id:ident = $name:literal, $title:literal, $unit:ident, $get:expr, $def:literal;)*) => {
        $(pub const $id: Metric = Metric {
            name: $name,
            title: $title,
            definition: $def,
            unit: Unit::$unit,
            get: $get,
        };)*
        /// Every figure reported, in report order.
        pub const METRICS: &[Metric] = &[$($id),*];
    };
}

metrics! {
    WALL_MS = "wall_ms", "wall time ms", Ms, |m| m.wall_ns as f64 / 1e6,
        "Milliseconds from the first strand's spawn to the last strand's join.";
    CPU_MS = "cpu_ms", "CPU ms", Ms, |m| (m.user_ns + m.sys_ns) as f64 / 1e6,
        "User plus system CPU time of the measuring process during the workload, all threads.";
    OWN_NS = "allocator_ns_per_value", "allocator alone ns/value", Ns, |m| m.own_ns,
        "The allocator's own cost: nanoseconds to allocate, fill and drop one string of the \
         workload's sizes in a steady churn loop (64 values held at a time, 200,000 values), \
         inside one strand of the same backend and threshold, timed after the workload in the \
         same process. Method: the allocation loop alone, timed apart, so the workload's own \
         timing is not disturbed; inside the workload, where memory is reused in other \
         patterns, the cost per value can differ.";
    OWN_FULL_NS = "allocator_full_ns_per_value", "allocator alone, full level ns/value", Ns,
        |m| m.own_full_ns,
        "The same loop at the full level of figures (FullFigures: migrations and stranded \
         bytes counted, every count written where other threads read it), timed in the \
         repetition's full-level process: beside the column before it, what the figures the \
         memory columns come from cost per value.";
    OWN_SHARE = "allocator_share", "allocator share of CPU", Share,
        |m| m.own_ns * m.figures.allocs as f64 / (m.user_ns + m.sys_ns).max(1) as f64,
        "Allocations times the allocator's own cost, divided by the CPU time: the estimated \
         part of the workload's CPU time spent allocating and releasing values. The rest is the \
         workload's other work (spawning, hops, channel waits, reading values back).";
    MINOR_FAULTS = "minor_faults", "minor page faults", Count, |m| m.minor_faults as f64,
        "Minor page faults of the process during the workload (memory touched for the first time).";
    PEAK_RSS_BYTES = "peak_rss_bytes", "peak RSS", Bytes, |m| m.peak_rss as f64,
        "The process's peak resident set size (getrusage), including the scheduler, the strands' \
         stacks and the harness: what the operating system had to provide.";
    PEAK_USED_BYTES = "peak_used_bytes", "peak used", Bytes, |m| m.peak_used as f64,
        "Highest sampled bytes of live values: the sizes asked for (no padding, no unused \
         room), every strand. Sampled every 2 ms (less often on long runs), like every peak \
         below.";
    PEAK_RESERVED_BYTES = "peak_reserved_bytes", "peak reserved", Bytes, |m| m.peak_reserved as f64,
        "Highest sampled bytes the backend had obtained from the global allocator and not given \
         back: arena chunks (touched or not) on the arena backends, the values' own \
         allocations on global-malloc.";
    PEAK_STRANDED_BYTES = "peak_stranded_bytes", "peak stranded", Bytes, |m| m.peak_stranded as f64,
        "Highest sampled bytes of live values left in the arena of an OS thread their strand no \
         longer runs on (its latest allocation was on another thread). Part of 'used', from \
         the same samples, so never above peak used. Only thread-bound backends strand \
         anything.";
    STRANDED_MIB_S = "stranded_byte_seconds", "stranded MiB·s", ByteSeconds, |m| m.stranded_byte_seconds,
        "The sampled stranded bytes integrated over the run: how much memory stayed pinned on \
         threads its strands had left, and for how long (MiB·s in the tables, byte-seconds in \
         JSON and CSV).";
    PEAK_RETIRED_BYTES = "peak_retired_bytes", "peak kept from reset", Bytes, |m| m.peak_retired as f64,
        "Highest sampled bytes of arena generations set aside because live values still held \
         them when their owner (a thread, or a strand) moved on to a fresh one: arena memory \
         those values keep from being reset. Part of 'reserved'.";
    RESETS_EXIT = "resets_exit", "resets at exit", Count, |m| m.figures.resets_exit as f64,
        "Arena resets because the last strand holding values in the arena exited.";
    RESETS_THRESHOLD = "resets_threshold", "resets at threshold", Count, |m| m.figures.resets_threshold as f64,
        "Arena resets because an allocation would cross the threshold and nothing in the arena \
         was live.";
    RESETS_EXPLICIT = "resets_explicit", "explicit resets", Count, |m| m.figures.resets_explicit as f64,
        "Arena resets a strand asked for.";
    RESETS_EMPTIED = "resets_emptied", "resets when emptied", Count, |m| m.figures.resets_emptied as f64,
        "Arena resets because a strand released the last live value of a generation that had \
         handed out at least 32 KiB, so that the next values reuse warm memory.";
    ROTATIONS = "rotations", "rotations", Count, |m| m.figures.rotations as f64,
        "Times the threshold was crossed while live values held the arena, so a fresh \
         generation was started and the old one set aside until its values are released.";
    MIGRATIONS = "migrations", "migrations", Count, |m| m.figures.migrations as f64,
        "Allocations a strand made on a different OS thread than its previous allocation.";
    HAZARDS = "hazards", "hazards", Count, |m| m.figures.hazards as f64,
        "Accesses to memory that was no longer valid, detected and refused (only the seed \
         policy, run on purpose, has any).";
    REFUSED = "refused", "refused", Count, |m| m.refused as f64,
        "Values the workload could not read back because their memory was found invalid.";
    CHECKED = "checked", "checked", Count, |m| m.checked as f64,
        "Values the workload read back and checked byte by byte.";
    ALLOCS = "allocs", "allocations", Count, |m| m.figures.allocs as f64,
        "Allocations made (the same on every backend by design: shown in the workload's header).";
    BYTES_ALLOCATED = "bytes_allocated", "bytes allocated", Bytes, |m| m.figures.bytes_allocated as f64,
        "Bytes requested by those allocations (the same on every backend).";
    COPIES = "copies", "copies", Count, |m| m.figures.copies as f64,
        "Deep copies made to move a value across a strand boundary (the same on every backend).";
    COPIED_BYTES = "copied_bytes", "copied bytes", Bytes, |m| m.figures.copied_bytes as f64,
        "Bytes copied by those copies.";
    SCOPES = "scopes", "scopes", Count, |m| m.figures.scopes as f64,
        "Scopes begun: units of work (a message) whose values end with them (the scoped \
         workloads only).";
    SCOPE_BYTES_RETURNED = "scope_bytes_returned", "bytes given back by scopes", Bytes,
        |m| m.figures.scope_bytes_returned as f64,
        "Bytes of values (the sizes asked for) made in scopes' arenas, given back when each \
         scope ended so that the next one reuses the memory at once. Zero on global-malloc, \
         whose values are freed as they drop, scoped or not.";
    ESCAPES = "escapes", "escapes", Count, |m| m.figures.escapes as f64,
        "Values copied out of a scope to outlive it: into the enclosing scope or the strand, \
         or onto a heap allocation of their own.";
    ESCAPED_BYTES = "escaped_bytes", "escaped bytes", Bytes, |m| m.figures.escaped_bytes as f64,
        "Bytes copied by those escapes.";
}

/// Terms used by the relative columns and the verdict.
pub const TERMS: &[(&str, &str)] = &[
    (
        "vs heap",
        "The median divided by global-malloc's median on the same workload and threshold.",
    ),
    (
        "levels",
        "Each repetition runs twice, each time in a process of its own: at the production \
         level of figures (the backend as a runtime ships it), which gives the wall and CPU \
         times, the allocator alone, its share and the page faults; and at the full level \
         (FullFigures), which gives peak RSS and every memory and event figure, migrations \
         and stranded bytes included. A build with full-figures runs both at the full \
         level.",
    ),
    (
        "median (min–max)",
        "Every figure is the median over the repetitions; a range follows where there \
         were several.",
    ),
    (
        "tie",
        "The verdict names a tie when a two-sided Mann–Whitney rank test of the \
         repetitions cannot tell the two backends apart at the 5% level (p ≥ 0.05). \
         With fewer than 4 repetitions of each it never can.",
    ),
];

/// Every definition, as printed under the tables and by `--help`, wrapped to `width`.
pub fn definitions(width: usize) -> String {
    let mut out = wrap(
        "What the figures mean (each is defined the same for every backend):",
        width,
        "",
        "  ",
    );
    let all = METRICS
        .iter()
        .map(|m| (m.title, m.definition))
        .chain(TERMS.iter().copied());
    for (title, def) in all {
        out.push_str(&wrap(&format!("{title}: {def}"), width, "  ", "      "));
    }
    out
}

/// `text` broken into lines of at most `width` columns at spaces, the first line
/// starting with `first` and the rest with `rest`; each line ends with a newline.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
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

    /// Every repetition's value of `m`.
    pub fn values(&self, m: &Metric) -> Vec<f64> {
        self.runs.iter().map(m.get).collect()
    }

    /// The median of `m`, with its range when there were several repetitions.
    pub fn shown(&self, m: &Metric) -> String {
        let s = self.figures[m.name];
        if self.runs.len() == 1 || s.min == s.max {
            m.show(s.median)
        } else {
            format!("{} ({}–{})", m.show(s.median), m.show(s.min), m.show(s.max))
        }
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
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
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

/// Milliseconds, with as many decimals as a short run needs.
pub fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
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

/// A table that arranges its content to fit `width` columns.
pub fn table(header: &[&str], width: u16) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width);
    t.set_header(header.iter().map(Cell::new));
    for i in 1..header.len() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// One column of a table: its title and a cell per backend.
pub struct Column {
    pub title: String,
    pub cells: Vec<String>,
}

impl Column {
    pub fn new(title: &str, cells: Vec<String>) -> Column {
        Column {
            title: title.to_string(),
            cells,
        }
    }

    /// The narrowest this column can be without breaking a cell or a word of its title,
    /// with its padding and border.
    fn min_width(&self) -> usize {
        let cells = self.cells.iter().map(|c| c.chars().count());
        let words = self.title.split_whitespace().map(|w| w.chars().count());
        cells.chain(words).max().unwrap_or(0) + 3
    }
}

/// `columns` as one table when they fit in `width`, or else as several, each repeating
/// the first column (the backend): a value or a word is never broken.
pub fn tables(columns: &[Column], width: u16) -> String {
    let mut out = String::new();
    let Some((key, rest)) = columns.split_first() else {
        return out;
    };
    let budget = usize::from(width).saturating_sub(1 + key.min_width());
    let mut parts: Vec<Vec<&Column>> = vec![Vec::new()];
    let mut used = 0;
    for c in rest {
        let w = c.min_width();
        let part = parts.last_mut().expect("one part at least");
        if !part.is_empty() && used + w > budget {
            parts.push(vec![c]);
            used = w;
        } else {
            part.push(c);
            used += w;
        }
    }
    for part in parts {
        let mut head = vec![key.title.as_str()];
        head.extend(part.iter().map(|c| c.title.as_str()));
        let mut t = table(&head, width);
        for (i, c) in std::iter::once(key).chain(part.iter().copied()).enumerate() {
            if let Some(col) = t.column_mut(i) {
                // Constraint widths include the two spaces of padding.
                let w = c.min_width().saturating_sub(1) as u16;
                col.set_constraint(comfy_table::ColumnConstraint::LowerBoundary(
                    comfy_table::Width::Fixed(w),
                ));
            }
        }
        for r in 0..key.cells.len() {
            let mut row = vec![key.cells[r].clone()];
            row.extend(
                part.iter()
                    .map(|c| c.cells.get(r).cloned().unwrap_or_default()),
            );
            t.add_row(row);
        }
        let _ = writeln!(out, "{t}");
    }
    out
}

/// Each (workload, threshold) in the order the rows came, with its rows.
pub fn groups(rows: &[Row]) -> Vec<(Workload, usize, Vec<&Row>)> {
    let mut out: Vec<(Workload, usize, Vec<&Row>)> = Vec::new();
    for r in rows {
        match out
            .iter_mut()
            .find(|(w, t, _)| *w == r.workload && *t == r.threshold)
        {
            Some((_, _, v)) => v.push(r),
            None => out.push((r.workload, r.threshold, vec![r])),
        }
    }
    out
}

/// The lines naming a workload, with the figures that are the same on every backend.
pub fn header(w: &Workload, threshold: usize, here: &[&Row], width: usize) -> String {
    let n = here[0].runs.len();
    let safe: Vec<&&Row> = here.iter().filter(|r| r.backend != "seed-arena").collect();
    let same = |m: &Metric| {
        let v = safe.first().map_or(0.0, |r| r.median(m));
        if safe.iter().all(|r| r.median(m) == v) {
            m.show(v)
        } else {
            format!("{} (differs by backend!)", m.show(v))
        }
    };
    let line = format!(
        "{} — {} strands × {} allocations each, {} sizes, seed {}, threshold {}, {}. \
         The same on every backend: {} allocations of {} in all, {} copies of {}.",
        w.kind,
        count(w.strands as f64),
        count(w.allocs as f64),
        w.sizes,
        w.seed,
        bytes(threshold as f64),
        plural(n, "repetition"),
        same(&ALLOCS),
        same(&BYTES_ALLOCATED),
        same(&COPIES),
        same(&COPIED_BYTES),
    );
    wrap(&line, width, "", "  ")
}

/// `n` followed by `word`, plural when `n` is not 1.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The terminal report: the verdicts first, then for each workload and threshold its
/// tables, a grid for a threshold sweep, and what each figure means.
pub fn render(rows: &[Row], verdicts: &[Verdict], width: u16) -> String {
    let mut out = String::new();
    let w = usize::from(width);
    out.push('\n');
    out.push_str(&wrap(
        "VERDICT: per workload, the fastest backend and the one with the smallest peak RSS",
        w,
        "",
        "  ",
    ));
    for v in verdicts {
        out.push_str(&v.render(w));
    }
    out.push_str(&crate::verdict::render_scope_effects(
        &crate::verdict::scope_effects(rows),
        w,
    ));
    let thresholds = {
        let mut t: Vec<usize> = rows.iter().map(|r| r.threshold).collect();
        t.sort_unstable();
        t.dedup();
        t
    };
    if thresholds.len() > 1 {
        out.push_str(&sweep_grid(rows, &thresholds, width));
    }
    for (wl, threshold, here) in groups(rows) {
        let _ = write!(out, "\n{}", header(&wl, threshold, &here, w));
        let col = |title: &str, f: &dyn Fn(&Row) -> String| {
            Column::new(title, here.iter().map(|r| f(r)).collect())
        };
        let backend = col("backend", &|r| r.backend.clone());
        let time = [
            col(WALL_MS.title, &|r| r.shown(&WALL_MS)),
            col("vs heap", &|r| ratio(r.wall_vs_global_malloc)),
            col(OWN_NS.title, &|r| r.shown(&OWN_NS)),
            col(OWN_FULL_NS.title, &|r| r.shown(&OWN_FULL_NS)),
            col(OWN_SHARE.title, &|r| OWN_SHARE.show(r.median(&OWN_SHARE))),
            col(CPU_MS.title, &|r| CPU_MS.show(r.median(&CPU_MS))),
            col(MINOR_FAULTS.title, &|r| count(r.median(&MINOR_FAULTS))),
        ];
        let memory = [
            col(PEAK_RSS_BYTES.title, &|r| bytes(r.median(&PEAK_RSS_BYTES))),
            col("RSS vs heap", &|r| ratio(r.rss_vs_global_malloc)),
            col(PEAK_USED_BYTES.title, &|r| {
                bytes(r.median(&PEAK_USED_BYTES))
            }),
            col(PEAK_RESERVED_BYTES.title, &|r| {
                bytes(r.median(&PEAK_RESERVED_BYTES))
            }),
            col(PEAK_STRANDED_BYTES.title, &|r| {
                bytes(r.median(&PEAK_STRANDED_BYTES))
            }),
            col(STRANDED_MIB_S.title, &|r| {
                STRANDED_MIB_S.show(r.median(&STRANDED_MIB_S))
            }),
            col(PEAK_RETIRED_BYTES.title, &|r| {
                bytes(r.median(&PEAK_RETIRED_BYTES))
            }),
        ];
        let events: Vec<Column> = [
            &RESETS_EXIT,
            &RESETS_THRESHOLD,
            &RESETS_EXPLICIT,
            &RESETS_EMPTIED,
            &ROTATIONS,
            &MIGRATIONS,
            &HAZARDS,
        ]
        .iter()
        .map(|m| col(m.title, &|r| count(r.median(m))))
        .collect();
        for group in [&time[..], &memory[..], &events[..]] {
            let mut all = vec![Column::new(&backend.title, backend.cells.clone())];
            all.extend(group.iter().map(|c| Column::new(&c.title, c.cells.clone())));
            out.push_str(&tables(&all, width));
        }
    }
    let _ = write!(out, "\n{}", definitions(w));
    out
}

/// For a threshold sweep: per workload, a backend × threshold grid of median wall time
/// and peak RSS.
fn sweep_grid(rows: &[Row], thresholds: &[usize], width: u16) -> String {
    let mut out = String::from("\n");
    out.push_str(&wrap(
        "THRESHOLD SWEEP: median wall time ms / peak RSS, by backend and threshold",
        usize::from(width),
        "",
        "  ",
    ));
    let mut kinds = Vec::new();
    for r in rows {
        if !kinds.contains(&r.workload) {
            kinds.push(r.workload);
        }
    }
    for w in kinds {
        let mut backends: Vec<&str> = Vec::new();
        for r in rows.iter().filter(|r| r.workload == w) {
            if !backends.contains(&r.backend.as_str()) {
                backends.push(&r.backend);
            }
        }
        let mut cols = vec![Column::new(
            "backend",
            backends.iter().map(|b| b.to_string()).collect(),
        )];
        for th in thresholds {
            let cells = backends
                .iter()
                .map(|b| {
                    rows.iter()
                        .find(|r| r.workload == w && r.backend == *b && r.threshold == *th)
                        .map_or("-".into(), |r| {
                            format!(
                                "{} ms / {}",
                                ms(r.median(&WALL_MS)),
                                bytes(r.median(&PEAK_RSS_BYTES))
                            )
                        })
                })
                .collect();
            cols.push(Column::new(&bytes(*th as f64), cells));
        }
        let t = tables(&cols, width);
        let _ = write!(out, "{}\n{t}", w.kind);
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
