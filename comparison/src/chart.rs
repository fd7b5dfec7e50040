//! The SVG chart: memory over time for every threshold of a sweep, stranded bytes over
//! time on the workloads whose strands move (`migrate`, `handoff`), and a trade-off panel
//! with one point per backend and workload (time against peak RSS, both relative to the
//! global heap, on log axes).
//!
//! Colours are the Okabe–Ito palette, which readers with any common colour-vision
//! deficiency can tell apart, and every backend also has its own marker shape.

use crate::report::{bytes, Row, BASELINE};
use crate::workload::Kind;
use plotters::coord::combinators::WithKeyPoints;
use plotters::prelude::*;
use std::path::Path;

const MIB: f64 = 1024.0 * 1024.0;

/// Okabe–Ito: blue, vermillion, bluish green, reddish purple, orange, sky blue, black.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// What the chart's title names.
pub struct Title {
    pub thresholds: Vec<usize>,
    pub workers: usize,
    pub repetitions: usize,
}

impl Title {
    fn text(&self) -> String {
        let t: Vec<String> = self.thresholds.iter().map(|t| bytes(*t as f64)).collect();
        format!(
            "strand-alloc comparison — threshold {}; {} workers; {} (median run drawn)",
            t.join(", "),
            self.workers,
            crate::report::plural(self.repetitions, "repetition")
        )
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// A log axis over `range` with labelled points at `ticks` (those inside the range).
fn log_axis(range: std::ops::Range<f64>, ticks: &[f64]) -> WithKeyPoints<LogCoord<f64>> {
    let coord: LogCoord<f64> = range.clone().log_scale().into();
    let inside: Vec<f64> = ticks
        .iter()
        .copied()
        .filter(|t| range.contains(t))
        .collect();
    coord.with_key_points(inside)
}

/// A size for an axis label: whole numbers without decimals.
fn short_bytes(b: f64) -> String {
    let s = bytes(b);
    s.replace(".0 ", " ")
}

/// Ratios worth a label on a log axis.
const RATIO_TICKS: [f64; 19] = [
    0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0,
    100.0,
];

/// Sizes in MiB worth a label on a log axis: 1/64 MiB to 64 GiB, by factors of 4.
fn mib_ticks() -> Vec<f64> {
    (-3..=9).map(|e| 4f64.powi(e)).collect()
}

type Fallible = Result<(), Box<dyn std::error::Error + 'static>>;

/// One panel of the chart.
enum Panel {
    Memory { kind: Kind, threshold: usize },
    Stranded { kind: Kind, threshold: usize },
}

/// The panels drawn for `rows`, in order.
fn panels(rows: &[Row], memory_of: Kind, thresholds: &[usize]) -> Vec<Panel> {
    let mut out: Vec<Panel> = thresholds
        .iter()
        .map(|&threshold| Panel::Memory {
            kind: memory_of,
            threshold,
        })
        .collect();
    for kind in [Kind::Migrate, Kind::Handoff] {
        if rows.iter().any(|r| r.workload.kind == kind) {
            for &threshold in thresholds {
                out.push(Panel::Stranded { kind, threshold });
            }
        }
    }
    out
}

/// Draws the chart for `rows` into `path`. `memory_of` picks the workload whose memory
/// over time is drawn, once per threshold.
pub fn draw(rows: &[Row], memory_of: Kind, title: &Title, path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    // The panels over time in a grid of three columns, the trade-off below across the
    // whole width.
    let panels = panels(rows, memory_of, &title.thresholds);
    let cols = 3;
    let grid_rows = panels.len().div_ceil(cols) as u32;
    let (w, h, trade_h) = (600u32, 420u32, 560u32);
    let root =
        SVGBackend::new(path, (w * cols as u32, 50 + h * grid_rows + trade_h)).into_drawing_area();
    let fail = |e: &dyn std::fmt::Display| format!("cannot draw {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let body = root
        .titled(&title.text(), ("sans-serif", 24))
        .map_err(|e| fail(&e))?;
    let (grid, bottom) = body.split_vertically(h * grid_rows);
    let areas = grid.split_evenly((grid_rows as usize, cols));
    let backends = backends_of(rows);
    for (panel, area) in panels.iter().zip(&areas) {
        match *panel {
            Panel::Memory { kind, threshold } => memory(rows, &backends, kind, threshold, area),
            Panel::Stranded { kind, threshold } => stranded(rows, &backends, kind, threshold, area),
        }
        .map_err(|e| fail(&e))?;
    }
    trade_off(rows, &backends, &bottom).map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))
}

fn backends_of(rows: &[Row]) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for r in rows {
        if !v.contains(&r.backend.as_str()) {
            v.push(&r.backend);
        }
    }
    v
}

fn color(backends: &[&str], b: &str) -> RGBColor {
    let i = backends.iter().position(|x| *x == b).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

/// Draws backend `i`'s marker (a shape of its own) at `at`.
fn marker<DB: DrawingBackend>(
    i: usize,
    at: (i32, i32),
    c: RGBColor,
) -> DynElement<'static, DB, (i32, i32)> {
    let style = c.filled();
    match i % 4 {
        0 => Circle::new(at, 6, style).into_dyn(),
        1 => TriangleMarker::new(at, 7, style).into_dyn(),
        2 => Rectangle::new([(at.0 - 5, at.1 - 5), (at.0 + 5, at.1 + 5)], style).into_dyn(),
        _ => Cross::new(at, 6, c.stroke_width(3)).into_dyn(),
    }
}

/// A panel's frame: its caption, margins and room for axis labels.
fn frame<'a, 'b>(
    area: &'a Area<'b>,
    caption: String,
    y_labels: u32,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(area);
    b.caption(caption, ("sans-serif", 17))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(y_labels);
    b
}

/// Draws the legend of a panel at `pos`.
fn legend<'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    pos: SeriesLabelPosition,
) -> Fallible {
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The rows of one workload and threshold, and the longest of their median runs, ms.
fn here(rows: &[Row], kind: Kind, threshold: usize) -> (Vec<&Row>, f64) {
    let here: Vec<&Row> = rows
        .iter()
        .filter(|r| r.workload.kind == kind && r.threshold == threshold)
        .collect();
    let max_ms = here
        .iter()
        .flat_map(|r| r.median_run().samples.iter().map(|s| s.ms))
        .fold(1.0, f64::max);
    (here, max_ms)
}

/// Memory over time: RSS (thick) and the backend's reserved bytes (thin), log scale.
fn memory(
    rows: &[Row],
    backends: &[&str],
    kind: Kind,
    threshold: usize,
    area: &Area<'_>,
) -> Fallible {
    let (here, max_ms) = here(rows, kind, threshold);
    let samples = || here.iter().flat_map(|r| r.median_run().samples.iter());
    let max = samples()
        .map(|s| (s.rss as f64).max(s.reserved as f64) / MIB)
        .fold(1.0, f64::max);
    let floor = 1.0 / 64.0;
    let mut chart = frame(
        area,
        format!(
            "{kind}: memory over time, threshold {}",
            bytes(threshold as f64)
        ),
        80,
    )
    .build_cartesian_2d(0.0..max_ms * 1.02, log_axis(floor..max * 1.5, &mib_ticks()))?;
    chart
        .configure_mesh()
        .x_desc("ms since start")
        .y_desc("log scale: RSS thick, reserved thin")
        .y_label_formatter(&|y| short_bytes(*y * MIB))
        .draw()?;
    for r in here {
        let c = color(backends, &r.backend);
        let run = r.median_run();
        chart
            .draw_series(LineSeries::new(
                run.samples
                    .iter()
                    .map(|s| (s.ms, (s.rss as f64 / MIB).max(floor))),
                c.stroke_width(3),
            ))?
            .label(r.backend.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], c.stroke_width(3)));
        chart.draw_series(LineSeries::new(
            run.samples
                .iter()
                .map(|s| (s.ms, (s.reserved.max(0) as f64 / MIB).max(floor))),
            c.stroke_width(1),
        ))?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

/// Stranded bytes over time: live values left on threads their strands had left.
fn stranded(
    rows: &[Row],
    backends: &[&str],
    kind: Kind,
    threshold: usize,
    area: &Area<'_>,
) -> Fallible {
    let (here, max_ms) = here(rows, kind, threshold);
    let samples = || here.iter().flat_map(|r| r.median_run().samples.iter());
    let max = samples().map(|s| s.stranded as f64).fold(0.0, f64::max);
    // A unit that keeps the axis labels short.
    let (unit, scale) = if max >= MIB {
        ("MiB", MIB)
    } else {
        ("KiB", 1024.0)
    };
    let top = (max / scale).max(1.0) * 1.1;
    let mut chart = frame(
        area,
        format!(
            "{kind}: stranded bytes over time, threshold {}",
            bytes(threshold as f64)
        ),
        60,
    )
    .build_cartesian_2d(0.0..max_ms * 1.02, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("ms since start")
        .y_desc(format!("{unit} stranded on threads left"))
        .draw()?;
    for r in here {
        let c = color(backends, &r.backend);
        let i = backends.iter().position(|b| *b == r.backend).unwrap_or(0);
        let run = r.median_run();
        chart
            .draw_series(LineSeries::new(
                run.samples
                    .iter()
                    .map(|s| (s.ms, s.stranded.max(0) as f64 / scale)),
                c.stroke_width(2),
            ))?
            .label(format!(
                "{} (peak {})",
                r.backend,
                bytes(run.peak_stranded as f64)
            ))
            .legend(move |(x, y)| marker(i, (x + 6, y), c));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// One point per backend, workload and threshold: wall time against peak RSS, each
/// relative to the global heap's, log-log.
fn trade_off(rows: &[Row], backends: &[&str], area: &Area<'_>) -> Fallible {
    let points: Vec<(&Row, f64, f64)> = rows
        .iter()
        .filter_map(|r| Some((r, r.wall_vs_global_malloc?, r.rss_vs_global_malloc?)))
        .collect();
    let span = |f: fn(&(&Row, f64, f64)) -> f64| {
        let lo = points.iter().map(f).fold(1.0, f64::min);
        let hi = points.iter().map(f).fold(1.0, f64::max);
        (lo / 1.25)..(hi * 1.25)
    };
    let mut chart = frame(
        area,
        "trade-off: each backend and workload vs global-malloc (at 1x, 1x)".to_string(),
        70,
    )
    .build_cartesian_2d(
        log_axis(span(|p| p.1), &RATIO_TICKS),
        log_axis(span(|p| p.2), &RATIO_TICKS),
    )?;
    chart
        .configure_mesh()
        .x_desc("wall time vs heap (log; left is faster)")
        .y_desc("peak RSS vs heap (log; lower is smaller)")
        .x_label_formatter(&|x| format!("{x:.2}x"))
        .y_label_formatter(&|y| format!("{y:.2}x"))
        .draw()?;
    let (xr, yr) = (span(|p| p.1), span(|p| p.2));
    chart.draw_series([
        PathElement::new([(1.0, yr.start), (1.0, yr.end)], BLACK.mix(0.4)),
        PathElement::new([(xr.start, 1.0), (xr.end, 1.0)], BLACK.mix(0.4)),
    ])?;
    let thresholds = {
        let mut t: Vec<usize> = rows.iter().map(|r| r.threshold).collect();
        t.sort_unstable();
        t.dedup();
        t
    };
    let label_of = |r: &Row| {
        if thresholds.len() > 1 {
            format!("{} {}", r.workload.kind, bytes(r.threshold as f64))
        } else {
            r.workload.kind.to_string()
        }
    };
    // Each label goes at the first of a few places beside its point where it overlaps
    // no label placed before it (points that sit together would otherwise print their
    // names over each other).
    let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
    let mut offsets = Vec::with_capacity(points.len());
    for p in &points {
        if p.0.backend == BASELINE {
            offsets.push((0, 0));
            continue;
        }
        let (px, py) = chart.backend_coord(&(p.1, p.2));
        let width = 7 * label_of(p.0).chars().count() as i32;
        let candidates = [
            (9, -14),
            (9, 2),
            (9, -28),
            (9, 16),
            (-9 - width, -14),
            (-9 - width, 2),
        ];
        let rect = |(dx, dy): (i32, i32)| (px + dx, py + dy, px + dx + width, py + dy + 12);
        let free = |r: &(i32, i32, i32, i32)| {
            placed
                .iter()
                .all(|q| r.2 <= q.0 || q.2 <= r.0 || r.3 <= q.1 || q.3 <= r.1)
        };
        let at = candidates
            .iter()
            .copied()
            .find(|c| free(&rect(*c)))
            .unwrap_or(candidates[0]);
        placed.push(rect(at));
        offsets.push(at);
    }
    for (i, b) in backends.iter().enumerate() {
        if *b == BASELINE {
            continue;
        }
        let c = color(backends, b);
        let mine: Vec<_> = points
            .iter()
            .zip(offsets.iter().copied())
            .filter(|(p, _)| p.0.backend == *b)
            .collect();
        chart
            .draw_series(mine.iter().map(|&(&(r, x, y), at)| {
                EmptyElement::at((x, y))
                    + marker(i, (0, 0), c)
                    + Text::new(label_of(r), at, ("sans-serif", 12).into_font())
            }))?
            .label(b.to_string())
            .legend(move |(x, y)| marker(i, (x + 6, y), c));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}
