//! The comparison command, run as a user would: the quick suite across every backend must
//! give figures that agree with each other, and bad input must give clear errors.
//! It starts child processes, which Miri cannot run.
#![cfg(not(miri))]

use serde_json::Value as Json;
use std::process::{Command, Output};

const SAFE: [&str; 3] = ["thread-arena", "global-malloc", "strand-arena"];
const WORKLOADS: [&str; 8] = [
    "requests",
    "long-lived",
    "migrate",
    "pipeline",
    "phases",
    "handoff",
    "actor",
    "actor-scoped",
];

fn run(args: &[&str]) -> Output {
    run_in(args, None)
}

/// Runs the comparison, in `dir` when given (so that files it writes by default land
/// there).
fn run_in(args: &[&str], dir: Option<&std::path::Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strand-alloc"));
    cmd.args(args);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    cmd.output().expect("the comparison binary starts")
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("strand-alloc-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn figure(run: &Json, path: &[&str]) -> u64 {
    let mut v = run;
    for p in path {
        v = &v[*p];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a count in {run}"))
}

/// Checks every verdict against the ranges and p-values it reports.
fn check_verdicts(doc: &Json) {
    let verdicts = doc["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), WORKLOADS.len(), "one verdict per workload");
    let mut told_apart = 0;
    for v in verdicts {
        let reps = v["repetitions"].as_u64().unwrap();
        for pick in ["fastest", "smallest_rss"] {
            let p = &v[pick];
            assert!(!p["reason"].as_str().unwrap().is_empty(), "{v}");
            let st = p["standings"].as_array().unwrap();
            assert_eq!(
                st.len(),
                SAFE.len(),
                "every safe backend stands, no other: {v}"
            );
            let f = |s: &Json, k: &str| s[k].as_f64().unwrap();
            let best = &st[0];
            for s in &st[1..] {
                assert!(
                    f(s, "median") >= f(best, "median"),
                    "the winner is first: {v}"
                );
                let tie = s["tie"].as_bool().unwrap();
                assert_eq!(tie, f(s, "p") >= 0.05, "a tie is p >= 0.05: {s}");
                // Ranges that do not overlap can be told apart with 4 repetitions or
                // more; a tie needs overlapping ranges.
                let apart = f(s, "min") > f(best, "max");
                if reps >= 4 && apart {
                    assert!(!tie, "separate ranges are not a tie: {v}");
                }
                if tie {
                    assert!(!apart || reps < 4, "{v}");
                } else {
                    told_apart += 1;
                }
            }
        }
    }
    // Peak RSS differs between the arenas and the heap by far more than its noise.
    assert!(
        told_apart > 0,
        "a verdict that says tie everywhere answers nothing"
    );
}

/// The `http` workload ran on every safe backend (wrk is installed by the suite; the
/// run says why when it is not), every answer was right, and the figures per request
/// are exact: 11 strand values for the request (method, path, query, 2 headers of a
/// name, a value and a pair each, the header list, the request) and 19 for the body
/// (15 fragments for the 2 headers plus 3 fields, the closing one, the body variant).
fn check_http(doc: &Json) {
    assert!(
        doc["http_skipped"].is_null(),
        "http skipped: {}",
        doc["http_skipped"]
    );
    let rows = doc["http"].as_array().expect("http results");
    let backends: Vec<&str> = rows
        .iter()
        .map(|r| r["backend"].as_str().unwrap())
        .collect();
    assert_eq!(backends, SAFE, "every safe backend served, no other");
    let load = &doc["http_load"];
    for r in rows {
        let f = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k} in {r}"));
        assert_eq!((f("bad_responses"), f("errors")), (0.0, 0.0), "{r}");
        // 50 on each server: the production level's, then the full level's.
        assert_eq!(f("checked"), 100.0, "answers checked field by field: {r}");
        assert!(
            f("requests") > 100.0 * load["seconds"].as_f64().unwrap(),
            "{r}"
        );
        assert!(f("requests_per_s") > 0.0 && f("p50_us") > 0.0 && f("p99_us") >= f("p50_us"));
        assert_eq!(f("allocs_per_request"), 30.0, "{r}");
        assert!(
            f("copied_bytes_per_request") > 100.0,
            "the body is copied out once: {r}"
        );
        assert!(f("peak_rss") > 1e6, "{r}");
        // One strand per connection coroutine that allocated, the checks' included.
        assert!(f("strands") >= load["connections"].as_f64().unwrap(), "{r}");
        if r["backend"] != "thread-arena" {
            assert_eq!(f("peak_stranded"), 0.0, "{r}");
        }
    }
}

#[test]
fn quick_comparison_figures_are_consistent() {
    // Four repetitions: the fewest with which the verdict's rank test can tell two
    // backends apart.
    let out = run(&[
        "--quick",
        "--repeat",
        "4",
        "--workers",
        "2",
        "--json",
        "-",
        "--no-progress",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "comparison failed: {stderr}");
    let doc: Json = serde_json::from_slice(&out.stdout).expect("--json - prints JSON");
    assert_eq!(doc["failures"].as_array().unwrap().len(), 0);
    assert_eq!(doc["workers"], 2);
    assert!(
        doc["figures_level"]
            .as_str()
            .unwrap()
            .starts_with("times at the production level"),
        "{}",
        doc["figures_level"]
    );
    check_verdicts(&doc);
    check_http(&doc);
    // Every figure reported is defined.
    let defined: Vec<&str> = doc["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| !d[2].as_str().unwrap().is_empty())
        .map(|d| d[0].as_str().unwrap())
        .collect();
    for key in doc["rows"][0]["figures"].as_object().unwrap().keys() {
        assert!(defined.contains(&key.as_str()), "{key} has no definition");
    }
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
            assert_eq!(runs.len(), 4);
            for m in runs {
                // Each repetition: timed at the production level, counted at the full
                // level, the allocator alone at both.
                assert_eq!(m["spec"]["level"], "production", "{w}/{backend}");
                for key in ["own_ns", "own_full_ns"] {
                    assert!(m[key].as_f64().unwrap() > 0.0, "{w}/{backend}: {key}");
                }
                // Stranded bytes are live bytes: from the same samples, never more than
                // the used ones, for every backend.
                assert!(
                    figure(m, &["peak_stranded"]) <= figure(m, &["peak_used"]),
                    "{w}/{backend}: stranded {} > used {}",
                    m["peak_stranded"],
                    m["peak_used"]
                );
                for s in m["samples"].as_array().unwrap() {
                    assert!(
                        figure(s, &["stranded"]) <= figure(s, &["used"]),
                        "{w}/{backend}: {s}"
                    );
                }
                // And likewise in every strand's own figures.
                assert!(
                    figure(&m["figures"], &["peak_stranded"])
                        <= figure(&m["figures"], &["peak_used"])
                );
            }
            let m = &runs[0];
            let f = &m["figures"];
            if backend == "seed-arena" {
                // The seed policy: hazards are expected, and every one refused a read.
                seed_hazards += figure(f, &["hazards"]);
                assert!(figure(m, &["refused"]) <= figure(f, &["hazards"]), "{w}");
                continue;
            }
            // The library's counts against the workload's own plain count: exactly the
            // strings it made on the workloads that make nothing else, at least those
            // on the others.
            for m in runs {
                let (allocs, bytes) = (
                    figure(&m["figures"], &["allocs"]),
                    figure(&m["figures"], &["bytes_allocated"]),
                );
                let (made, made_bytes) = (figure(m, &["made"]), figure(m, &["made_bytes"]));
                assert!(made > 0, "{w}/{backend}");
                if ["long-lived", "migrate", "actor", "actor-scoped"].contains(&w) {
                    assert_eq!((allocs, bytes), (made, made_bytes), "{w}/{backend}");
                } else {
                    assert!(allocs >= made && bytes >= made_bytes, "{w}/{backend}");
                }
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
            let stranded_anywhere = runs.iter().any(|m| {
                figure(&m["figures"], &["peak_stranded"]) + figure(m, &["peak_stranded"]) > 0
            });
            match backend {
                "strand-arena" => {
                    assert!(!stranded_anywhere, "{w}: strand-arena strands nothing");
                }
                "thread-arena" if w == "migrate" => {
                    // What must differ, differs: values left behind by moving strands.
                    assert!(
                        stranded_anywhere,
                        "{w}: thread-arena strands values when strands move"
                    );
                }
                "global-malloc" => {
                    assert!(!stranded_anywhere, "{w}: global-malloc strands nothing");
                    // Each value is one heap allocation of its own size: reserved and used
                    // are the same count, strand by strand.
                    for m in runs {
                        let f = &m["figures"];
                        assert_eq!(
                            figure(f, &["peak_reserved"]),
                            figure(f, &["peak_used"]),
                            "{w}: global-malloc reserves exactly what values use"
                        );
                    }
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
            // Scopes: only the scoped actors begin any; every message's state escapes to
            // the heap; the arenas give the messages' bytes back at each scope's end.
            let (scopes, escapes) = (figure(f, &["scopes"]), figure(f, &["escapes"]));
            if w == "actor-scoped" {
                let messages = 64 * 2_000;
                assert_eq!((scopes, escapes), (messages, messages), "{w}/{backend}");
                let returned = figure(f, &["scope_bytes_returned"]);
                if backend == "global-malloc" {
                    assert_eq!(returned, 0, "{w}/{backend}: freed as they drop");
                } else {
                    assert!(returned > figure(f, &["escaped_bytes"]), "{w}/{backend}");
                }
            } else {
                assert_eq!((scopes, escapes), (0, 0), "{w}/{backend}");
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
    check_scope_effects(&doc, rows);
}

/// What scopes change, both ways: on the arenas the scoped actors reserve a small part of
/// what the same work takes without scopes, on global-malloc about the same; and the
/// JSON's scope effects say so for every safe backend.
fn check_scope_effects(doc: &Json, rows: &[Json]) {
    let reserved = |kind: &str, backend: &str| {
        let r = rows
            .iter()
            .find(|r| r["workload"]["kind"] == kind && r["backend"] == backend)
            .expect("a row per workload and backend");
        r["figures"]["peak_reserved_bytes"]["median"]
            .as_f64()
            .unwrap()
    };
    for backend in SAFE {
        let (without, with) = (
            reserved("actor", backend),
            reserved("actor-scoped", backend),
        );
        if backend == "global-malloc" {
            assert!(
                with < 2.0 * without && without < 2.0 * with,
                "{with} {without}"
            );
        } else {
            assert!(
                with * 8.0 < without,
                "{backend}: {with} with scopes, {without} without"
            );
        }
    }
    let effects = doc["scope_effects"].as_array().expect("scope effects");
    assert_eq!(effects.len(), SAFE.len(), "{effects:?}");
    for e in effects {
        assert!(e["rss_with"].as_f64().unwrap() > 0.0, "{e}");
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

#[test]
fn json_on_standard_output_draws_no_chart_unless_asked() {
    let dir = scratch("nochart");
    let out = run_in(
        &[
            "--quick",
            "--repeat",
            "1",
            "-w",
            "requests",
            "--json",
            "-",
            "--no-progress",
        ],
        Some(&dir),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !dir.join("target").exists(),
        "a chart was drawn next to --json -"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_sweep_chart_names_every_threshold_and_the_tables_fit() {
    let dir = scratch("sweep");
    let svg = dir.join("sweep.svg");
    for width in ["80", "120"] {
        let out = run(&[
            "--quick",
            "--repeat",
            "1",
            "-w",
            "migrate,handoff",
            "--threshold",
            "64KiB,1MiB",
            "--chart",
            svg.to_str().unwrap(),
            "--width",
            width,
            "--no-progress",
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let w: usize = width.parse().unwrap();
        for line in stdout.lines() {
            assert!(line.chars().count() <= w, "wider than {w}: {line}");
        }
        assert!(stdout.contains("THRESHOLD SWEEP"), "{stdout}");
        // A single run shows no range, and counts are spelt right.
        assert!(stdout.contains("1 repetition") && !stdout.contains("1 repetitions"));
        // Every column title of the tables is defined under them.
        let legend = stdout
            .split("What the figures mean")
            .nth(1)
            .expect("definitions");
        for t in [
            "wall time ms",
            "peak stranded",
            "stranded MiB·s",
            "allocator alone ns/value",
        ] {
            assert!(legend.contains(t), "{t} undefined");
        }
    }
    let chart = std::fs::read_to_string(&svg).unwrap();
    for t in ["64.0 KiB", "1.0 MiB"] {
        assert!(
            chart.contains(&format!("memory over time, threshold {t}")),
            "{t}"
        );
        assert!(chart.contains(&format!("migrate: stranded bytes over time, threshold {t}")));
    }
    assert!(chart.contains("trade-off") && chart.contains("workers"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_output_path_fails_at_once() {
    let dir = scratch("badpath");
    let file = dir.join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let bad = file.join("out.json");
    for flag in ["--json", "--csv", "--chart"] {
        let start = std::time::Instant::now();
        // The full default suite: minutes, if it started measuring.
        let out = run(&[flag, bad.to_str().unwrap(), "--no-progress"]);
        let took = start.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains("cannot write") && stderr.contains("a-file"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "{flag}: nothing was measured");
        assert!(
            took < std::time::Duration::from_secs(1),
            "{flag} took {took:?}"
        );
    }
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
        &["--no-chart", "--chart", "c.svg"],
        &["'--no-chart' cannot be used with '--chart <FILE>'"],
    );
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
    refused(
        &["--repeat", "101"],
        &["repetition count must be at most 100"],
    );
    refused(
        &["-w", "requests", "--strands", "10", "--allocs", "100000000"],
        &["would hold about", "GiB of values at once"],
    );
    refused(
        &["--json", "same.out", "--csv", "same.out"],
        &["the JSON and the CSV would both be written to same.out"],
    );
    refused(
        &["--chart-workload", "handoff", "-w", "requests"],
        &["--chart-workload handoff is not among the workloads run"],
    );
    refused(&["--workers", "100000"], &["worker count", "1024"]);
}

#[cfg(unix)]
#[test]
fn output_piped_into_a_reader_that_stops_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_strand-alloc"))
        .args([
            "--quick",
            "--repeat",
            "1",
            "-w",
            "requests",
            "--no-chart",
            "--no-progress",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte of the table, then hang up, as `| head -c 1` would.
    let mut out = child.stdout.take().unwrap();
    let mut one = [0u8; 1];
    out.read_exact(&mut one).unwrap();
    drop(out);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(status.code() != Some(101), "{status:?}: {err}");
}

/// Without wrk (and without apt-get to install it), `http` says why and is skipped: the
/// command neither fails silently nor hangs, and the rest of the run stands.
/// A path that is not UTF-8 is written as given, and the JSON's record of the command
/// shows it (a byte that is not UTF-8 as U+FFFD): it once panicked after the run, losing
/// every output.
#[test]
fn an_output_path_that_is_not_utf8_is_written() {
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("notutf8");
    let csv = dir.join(std::ffi::OsStr::from_bytes(b"r\xe9sultats.csv"));
    let json = dir.join("out.json");
    let out = Command::new(env!("CARGO_BIN_EXE_strand-alloc"))
        .args([
            "--quick",
            "--workload",
            "requests",
            "--backend",
            "global-malloc",
        ])
        .args(["--repeat", "1", "--no-progress", "--no-chart", "--csv"])
        .arg(&csv)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(std::fs::read_to_string(&csv).unwrap().contains("requests"));
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let command = doc["command"].as_array().unwrap();
    assert!(
        command
            .iter()
            .any(|a| a.as_str().unwrap().contains("r\u{fffd}sultats.csv")),
        "{command:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn http_without_wrk_is_skipped_and_says_why() {
    let empty = scratch("no-wrk");
    let out = Command::new(env!("CARGO_BIN_EXE_strand-alloc"))
        .args([
            "--quick",
            "--repeat",
            "1",
            "-w",
            "http,requests",
            "--json",
            "-",
            "--no-progress",
        ])
        .env("PATH", &empty)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("http: skipped: wrk is not installed"),
        "{stderr}"
    );
    let doc: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["http_skipped"].as_str().unwrap().contains("apt-get"),
        "{doc}"
    );
    assert!(doc["http"].is_null());
    assert!(
        !doc["rows"].as_array().unwrap().is_empty(),
        "the other workloads ran"
    );
    std::fs::remove_dir_all(&empty).ok();
}

/// Outputs that name one file in different spellings are refused before anything runs,
/// as is an output that cannot be written and an unreadable system threshold.
#[cfg(unix)]
#[test]
fn outputs_that_are_one_file_or_unwritable_are_refused_at_once() {
    let dir = scratch("samefile");
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let target = dir.join("out.json");
    std::fs::write(&target, "kept").unwrap();
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let hard = dir.join("hard.json");
    std::fs::hard_link(&target, &hard).unwrap();
    let d = dir.to_str().unwrap();
    let spellings = [
        (format!("{d}/out.json"), format!("{d}/./out.json")),
        (format!("{d}/out.json"), format!("{d}/sub/../out.json")),
        (format!("{d}/out.json"), link.to_str().unwrap().to_string()),
        (format!("{d}/out.json"), hard.to_str().unwrap().to_string()),
        (format!("{d}/new.json"), format!("{d}/sub/../new.json")),
    ];
    for (a, b) in &spellings {
        let start = std::time::Instant::now();
        let out = run(&["--json", a, "--csv", b, "--no-progress"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{a} and {b}: {stderr}");
        assert!(
            stderr.contains("would both be written to"),
            "{a} and {b}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "nothing measured");
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "kept",
        "nothing written"
    );
    // Two spellings of one file in folders that do not exist yet: refused, and no folder
    // is left behind by the refusal; nor by a refusal of another output.
    let both = "would both be written to";
    for (a, b, why) in [
        (
            format!("{d}/made/x.json"),
            format!("{d}/made/./x.json"),
            both,
        ),
        (
            format!("{d}/made/x.json"),
            format!("{d}/sub/../made/x.json"),
            both,
        ),
        (
            format!("{d}/made/x.json"),
            format!("{d}/made/../made/x.json"),
            "does not exist (a path goes up with .. only through folders that exist)",
        ),
        (
            format!("{d}/made/x.json"),
            "/proc/nope/x.csv".to_string(),
            "cannot write the CSV",
        ),
    ] {
        let out = run(&["--json", &a, "--csv", &b, "--no-progress"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{a} and {b}: {stderr}");
        assert!(stderr.contains(why), "{a} and {b}: {stderr}");
        assert!(
            !dir.join("made").exists(),
            "{a} and {b}: a folder left behind"
        );
    }
    // A path that names a folder, not a file: refused before measuring.
    for (flag, path) in [
        ("--json", format!("{d}/sub/")),
        ("--json", format!("{d}/sub/.")),
        ("--csv", format!("{d}/new/.")),
        ("--chart", format!("{d}/pic/")),
        ("--csv", format!("{d}/sub/..")),
    ] {
        let start = std::time::Instant::now();
        let out = run(&[flag, &path, "--no-progress"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {path}: {stderr}");
        assert!(
            stderr.contains("names a directory, not a file") || stderr.contains("is a directory"),
            "{flag} {path}: {stderr}"
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        assert!(!dir.join("new").exists() && !dir.join("pic").exists());
    }
    // A file that cannot be written, found before measuring.
    let start = std::time::Instant::now();
    let out = run(&["--json", "/proc/version", "--no-progress"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write the JSON to /proc/version"),
        "{stderr}"
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
    // An unreadable system threshold, found before measuring too.
    let out = Command::new(env!("CARGO_BIN_EXE_strand-alloc"))
        .args(["--no-progress", "--quick"])
        .env("STRAND_ALLOC_SYSTEM_THRESHOLD", "lots")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("STRAND_ALLOC_SYSTEM_THRESHOLD") && stderr.contains("lots"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing measured");
    std::fs::remove_dir_all(&dir).ok();
}
