//! Shared by the criterion benchmarks: one criterion configuration, and the table of the
//! ratios that the performance targets are judged by, read from the medians criterion
//! wrote in this very run.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Where criterion writes its estimates (and where the ratios are read from).
pub fn output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion")
}

/// Leaves glibc's trim and mapping thresholds as glibc has them (the library's default),
/// unless `STRAND_ALLOC_BENCH_SYSTEM_THRESHOLD=fixed` asks for what a program that opts in
/// with `strand_alloc::trim::enable` gets: the raw bumpalo and `Box<str>` baselines stand
/// for a program *without* this library, and fixed thresholds map every block of 512 KiB
/// or more on its own, which slows any loop that makes and frees large blocks (raw
/// bumpalo's resets among them). Returns which side this run measures, for its header.
pub fn system_thresholds() -> &'static str {
    if std::env::var("STRAND_ALLOC_BENCH_SYSTEM_THRESHOLD").is_ok_and(|v| v == "fixed") {
        strand_alloc::trim::set_system_threshold(Some(
            strand_alloc::trim::DEFAULT_SYSTEM_THRESHOLD,
        ))
        .expect("the default threshold is accepted");
        "glibc thresholds: fixed at 512 KiB, as trim::enable fixes them"
    } else {
        "glibc thresholds: glibc's own (STRAND_ALLOC_BENCH_SYSTEM_THRESHOLD=fixed: as trim::enable fixes them)"
    }
}

/// The configuration every benchmark uses; `STRAND_ALLOC_BENCH_QUICK=1` makes it short.
pub fn criterion() -> criterion::Criterion {
    let c = criterion::Criterion::default().output_directory(&output_dir());
    if std::env::var_os("STRAND_ALLOC_BENCH_QUICK").is_some() {
        c.warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
            .sample_size(10)
    } else {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
    }
}

/// `group/numerator` over `group/denominator`, both criterion medians.
#[derive(Debug, Clone)]
pub struct Ratio {
    pub group: String,
    pub numerator: String,
    pub denominator: String,
}

impl Ratio {
    pub fn new(group: &str, numerator: &str, denominator: &str) -> Ratio {
        Ratio {
            group: group.into(),
            numerator: numerator.into(),
            denominator: denominator.into(),
        }
    }
}

/// A ratio, and the bound it must meet (if any).
#[derive(Debug, Clone)]
pub struct Target {
    pub ratio: Ratio,
    pub bound: Bound,
}

#[derive(Debug, Clone, Copy)]
pub enum Bound {
    AtMost(f64),
    AtLeast(f64),
    None,
}

impl Target {
    pub fn at_most(ratio: Ratio, max: f64) -> Target {
        Target {
            ratio,
            bound: Bound::AtMost(max),
        }
    }
    pub fn at_least(ratio: Ratio, min: f64) -> Target {
        Target {
            ratio,
            bound: Bound::AtLeast(min),
        }
    }
    pub fn report(ratio: Ratio) -> Target {
        Target {
            ratio,
            bound: Bound::None,
        }
    }
}

/// The median (in nanoseconds) criterion estimated for `group/id` under `which` (`new`
/// for this run, or a saved baseline's name), if it was written at or after `since`.
pub fn median(group: &str, id: &str, which: &str, since: Option<SystemTime>) -> Option<f64> {
    let path = output_dir()
        .join(group)
        .join(id)
        .join(which)
        .join("estimates.json");
    if let Some(since) = since {
        let written = std::fs::metadata(&path).ok()?.modified().ok()?;
        if written < since {
            return None;
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn nanos(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.2} ns")
    }
}

/// Prints every target whose two sides were both measured in this run (since
/// `started`), with its verdict.
pub fn print(targets: &[Target], started: SystemTime) {
    print_with(targets, |_, group, id| {
        median(group, id, "new", Some(started))
    });
}

/// Which side of a ratio a median is looked up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Numerator,
    Denominator,
}

/// As [`print`], with the medians looked up by `lookup(side, group, id)`.
pub fn print_with(targets: &[Target], lookup: impl Fn(Side, &str, &str) -> Option<f64>) {
    println!();
    println!(
        "{:<52} {:>11} {:>11} {:>8} {:>9}  verdict",
        "ratio (medians of this run)", "numerator", "denominator", "ratio", "target"
    );
    let (mut met, mut missed) = (0, 0);
    for t in targets {
        let r = &t.ratio;
        let (Some(n), Some(d)) = (
            lookup(Side::Numerator, &r.group, &r.numerator),
            lookup(Side::Denominator, &r.group, &r.denominator),
        ) else {
            continue;
        };
        let value = n / d;
        let (target, verdict) = match t.bound {
            Bound::AtMost(max) => (format!("<= {max:.2}x"), value <= max),
            Bound::AtLeast(min) => (format!(">= {min:.2}x"), value >= min),
            Bound::None => (String::new(), true),
        };
        let verdict = match (t.bound, verdict) {
            (Bound::None, _) => "",
            (_, true) => {
                met += 1;
                "met"
            }
            (_, false) => {
                missed += 1;
                "MISSED"
            }
        };
        println!(
            "{:<52} {:>11} {:>11} {:>7.2}x {:>9}  {verdict}",
            format!("{}: {} / {}", r.group, r.numerator, r.denominator),
            nanos(n),
            nanos(d),
            value,
            target
        );
    }
    println!("targets: {met} met, {missed} missed");
}
