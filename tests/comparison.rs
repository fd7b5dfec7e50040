//! The comparison command, run as a user would: the quick suite across every backend must
//! give figures that agree with each other, and bad input must give clear errors.
//! It starts child processes, which Miri cannot run.
#![cfg(all(
    not(miri),
    feature = "cli",
    feature = "thread-arena",
    feature = "global-malloc",
    feature = "strand-arena"
))]

use serde_json::Value as Json;
use std::process::{Command, Output};

const SAFE: [&str; 3] = ["thread-arena", "global-malloc", "strand-arena"];
const WORKLOADS: [&str; 6] = [
    "requests",
    "long-lived",
    "migrate",
    "pipeline",
    "phases",
    "handoff",
];

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strand-alloc"))
        .args(args)
        .output()
        .expect("the comparison binary starts")
}

fn figure(run: &Json, path: &[&str]) -> u64 {
    let mut v = run;
    for p in path {
        v = &v[*p];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a count in {run}"))
}

#[test]
fn quick_comparison_figures_are_consistent() {
    let out = run(&[
        "--quick",
        "--repeat",
        "1",
        "--workers",
        "2",
        "--json",
        "-",
        "--no-chart",
        "--no-progress",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "comparison failed: {stderr}");
    let doc: Json = serde_json::from_slice(&out.stdout).expect("--json - prints JSON");
    assert_eq!(doc["failures"].as_array().unwrap().len(), 0);
    assert_eq!(doc["workers"], 2);
    let rows = doc["rows"].as_array().unwrap();
    let mut backends: Vec<&str> = rows
        .iter()
        .map(|r| r["backend"].as_str().unwrap())
        .collect();
    backends.sort();
    backends.dedup();
    let seed = backends.contains(&"seed-arena");
    assert_eq!(backends.len(), SAFE.len() + seed as usize, "{backends:?}");
    assert_eq!(
        rows.len(),
        WORKLOADS.len() * backends.len(),
        "one row per workload and backend"
    );
    let mut seed_hazards = 0;

    for w in WORKLOADS {
        let here: Vec<&Json> = rows.iter().filter(|r| r["workload"]["kind"] == w).collect();
        assert_eq!(here.len(), backends.len(), "{w}: every backend ran");
        let mut allocs = Vec::new();
        for r in &here {
            let backend = r["backend"].as_str().unwrap();
            let runs = r["runs"].as_array().unwrap();
            assert_eq!(runs.len(), 1);
            let m = &runs[0];
            let f = &m["figures"];
            if backend == "seed-arena" {
                // The seed policy: hazards are expected, and every one refused a read.
                seed_hazards += figure(f, &["hazards"]);
                assert!(figure(m, &["refused"]) <= figure(f, &["hazards"]), "{w}");
                continue;
            }
            allocs.push((
                backend,
                figure(f, &["allocs"]),
                figure(f, &["bytes_allocated"]),
            ));
            assert!(
                figure(m, &["checked"]) > 0,
                "{w}/{backend}: values were checked"
            );
            assert_eq!(figure(m, &["refused"]), 0, "{w}/{backend}");
            assert!(SAFE.contains(&backend));
            assert_eq!(
                figure(f, &["hazards"]),
                0,
                "{w}/{backend}: a safe backend has no hazards"
            );
            assert_eq!(
                figure(f, &["strands_begun"]),
                figure(f, &["strands_exited"]),
                "{w}/{backend}: every strand exited"
            );
            assert!(
                figure(m, &["peak_rss"]) > 0,
                "{w}/{backend}: peak RSS measured"
            );
            assert!(figure(m, &["wall_ns"]) > 0);
            assert!(!m["samples"].as_array().unwrap().is_empty());
            match backend {
                "strand-arena" => {
                    assert_eq!(
                        figure(f, &["stranded_bytes"]),
                        0,
                        "{w}: strand-arena strands nothing"
                    )
                }
                "global-malloc" => {
                    let total = figure(f, &["resets_exit"])
                        + figure(f, &["resets_threshold"])
                        + figure(f, &["resets_explicit"]);
                    assert_eq!(total, 0, "{w}: global-malloc never resets");
                    assert_eq!(figure(f, &["rotations"]), 0);
                }
                _ => {}
            }
            if w == "migrate" {
                assert!(
                    figure(f, &["migrations"]) > 0,
                    "{w}/{backend}: migrations were observed on 2 workers"
                );
            }
            if w == "pipeline" || w == "handoff" || w == "phases" {
                assert!(
                    figure(f, &["copies"]) > 0,
                    "{w}/{backend}: values were copied"
                );
            }
        }
        let (_, a0, b0) = allocs[0];
        for (b, a, bytes) in &allocs {
            assert_eq!(
                (*a, *bytes),
                (a0, b0),
                "{w}: {b} made the same allocations as {}",
                allocs[0].0
            );
        }
    }
    if seed {
        assert!(
            seed_hazards > 0,
            "the seed policy's hazards show in the comparison"
        );
    }
}

#[test]
fn outputs_csv_and_chart() {
    let dir = std::env::temp_dir().join(format!("strand-alloc-cmp-{}", std::process::id()));
    let csv = dir.join("out.csv");
    let svg = dir.join("chart.svg");
    let out = run(&[
        "--quick",
        "--repeat",
        "2",
        "--workload",
        "requests,migrate",
        "--threshold",
        "64KiB,1MiB",
        "--csv",
        csv.to_str().unwrap(),
        "--chart",
        svg.to_str().unwrap(),
        "--no-progress",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("requests") && stdout.contains("vs heap"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // A header, then 2 workloads × 2 thresholds × every backend.
    let backends = 3 + cfg!(feature = "seed-arena") as usize;
    assert_eq!(lines.len(), 1 + 2 * 2 * backends, "{text}");
    assert!(lines[0].starts_with("workload,") && lines[0].contains("wall_ms_median"));
    assert!(lines[1..].iter().any(|l| l.contains(",65536,")));
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.starts_with("<svg") && chart.contains("memory over time"));
    assert!(chart.contains("polyline"), "the chart has data lines");
    std::fs::remove_dir_all(&dir).ok();
}

fn refused(args: &[&str], expect: &[&str]) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} should be refused: {stderr}"
    );
    for e in expect {
        assert!(stderr.contains(e), "{args:?}: {e:?} missing from: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_input_is_a_clear_error() {
    refused(
        &["--workload", "reqests"],
        &[
            "unknown workload \"reqests\"",
            "requests, long-lived, migrate, pipeline, phases, handoff",
        ],
    );
    refused(
        &["--backend", "tls"],
        &[
            "unknown backend \"tls\"",
            "global-malloc",
            "strand-arena",
            "thread-arena",
        ],
    );
    refused(&["--threshold", "ten"], &["threshold", "ten"]);
    refused(&["--threshold", "0"], &["threshold"]);
    refused(&["--workers", "0"], &["worker count"]);
    refused(&["--repeat", "0"], &["repetition"]);
    refused(&["--sizes", "huge"], &["small, mixed, large"]);
    refused(
        &["--strands", "1", "--workload", "handoff"],
        &["handoff", "strand count must be from 2"],
    );
    refused(
        &["--strands", "1099511627776", "--workload", "phases"],
        &["phases", "strand count must be from 1 to 1000000"],
    );
    refused(
        &["--allocs", "1099511627776", "--workload", "requests"],
        &["requests", "allocation count must be from 1 to 100000000"],
    );
    refused(
        &[
            "--strands",
            "100000",
            "--allocs",
            "100000",
            "--workload",
            "requests",
        ],
        &["all strands together"],
    );
    refused(&["--threshold", "64TiB"], &["threshold", "1 TiB"]);
    refused(&["--workers", "100000"], &["worker count", "1024"]);
}
