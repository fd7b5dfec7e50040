//! The SVG chart: memory over time for each backend on one workload, and throughput side
//! by side on every workload.

use crate::report::Row;
use crate::workload::Kind;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

const MIB: f64 = 1024.0 * 1024.0;

/// Draws the chart for `rows` into `path`. `memory_of` picks the workload whose memory
/// over time is drawn; the first threshold of the sweep is used.
pub fn draw(rows: &[Row], memory_of: Kind, path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    let root = SVGBackend::new(path, (1400, 560)).into_drawing_area();
    let fail = |e: &dyn std::fmt::Display| format!("cannot draw {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let (left, right) = root.split_horizontally(700);
    memory(rows, memory_of, &left).map_err(|e| fail(&e))?;
    throughput(rows, &right).map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))
}

fn color(backends: &[&str], b: &str) -> RGBColor {
    let i = backends.iter().position(|x| *x == b).unwrap_or(0);
    let c = Palette99::pick(i).to_rgba();
    RGBColor(c.0, c.1, c.2)
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

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn memory(
    rows: &[Row],
    kind: Kind,
    area: &Area<'_>,
) -> Result<(), Box<dyn std::error::Error + 'static>> {
    let backends = backends_of(rows);
    let threshold = rows
        .iter()
        .find(|r| r.workload.kind == kind)
        .map(|r| r.threshold);
    let here: Vec<&Row> = rows
        .iter()
        .filter(|r| r.workload.kind == kind && Some(r.threshold) == threshold)
        .collect();
    let max_ms = here
        .iter()
        .flat_map(|r| r.median_run().samples.iter().map(|s| s.ms))
        .fold(1.0, f64::max);
    let max_mib = here
        .iter()
        .flat_map(|r| {
            r.median_run()
                .samples
                .iter()
                .map(|s| (s.rss as f64).max(s.reserved as f64) / MIB)
        })
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("memory over time: {kind} (solid RSS, thin arena reserved)"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..max_ms * 1.02, 0.0..max_mib * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("ms since start")
        .y_desc("MiB")
        .draw()?;
    for r in here {
        let c = color(&backends, &r.backend);
        let run = r.median_run();
        chart
            .draw_series(LineSeries::new(
                run.samples.iter().map(|s| (s.ms, s.rss as f64 / MIB)),
                c.stroke_width(2),
            ))?
            .label(r.backend.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], c.stroke_width(2)));
        chart.draw_series(LineSeries::new(
            run.samples
                .iter()
                .map(|s| (s.ms, s.reserved.max(0) as f64 / MIB)),
            c.stroke_width(1),
        ))?;
    }
    legend(&mut chart)
}

fn throughput(rows: &[Row], area: &Area<'_>) -> Result<(), Box<dyn std::error::Error + 'static>> {
    let backends = backends_of(rows);
    let threshold = rows.first().map(|r| r.threshold);
    let mut kinds: Vec<Kind> = Vec::new();
    for r in rows {
        if !kinds.contains(&r.workload.kind) {
            kinds.push(r.workload.kind);
        }
    }
    let here: Vec<&Row> = rows
        .iter()
        .filter(|r| Some(r.threshold) == threshold)
        .collect();
    let max = here
        .iter()
        .map(|r| r.figures[crate::report::ALLOCS_PER_SEC.name].max / 1e6)
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(
            "throughput: million allocations per second (median, bar; min–max, whisker)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..kinds.len() as f64, 0.0..max * 1.1)?;
    let names = kinds.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(kinds.len() * 2 + 1)
        .x_label_formatter(&move |x| {
            let i = x.floor() as usize;
            if (x - i as f64 - 0.5).abs() < 1e-6 && i < names.len() {
                names[i].to_string()
            } else {
                String::new()
            }
        })
        .y_desc("M allocs/s")
        .draw()?;
    let width = 0.8 / backends.len().max(1) as f64;
    for (bi, b) in backends.iter().enumerate() {
        let c = color(&backends, b);
        let mut bars = Vec::new();
        let mut whiskers = Vec::new();
        for (ki, k) in kinds.iter().enumerate() {
            if let Some(r) = here
                .iter()
                .find(|r| r.workload.kind == *k && r.backend == *b)
            {
                let s = r.figures[crate::report::ALLOCS_PER_SEC.name];
                let x0 = ki as f64 + 0.1 + bi as f64 * width;
                bars.push(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.9, s.median / 1e6)],
                    c.filled(),
                ));
                let xm = x0 + width * 0.45;
                whiskers.push(PathElement::new(
                    [(xm, s.min / 1e6), (xm, s.max / 1e6)],
                    BLACK.stroke_width(1),
                ));
            }
        }
        chart
            .draw_series(bars)?
            .label(b.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        chart.draw_series(whiskers)?;
    }
    legend(&mut chart)
}

fn legend<'a, Y: Ranged>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
) -> Result<(), Box<dyn std::error::Error + 'static>> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}
