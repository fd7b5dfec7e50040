//! glibc's trim and mapping thresholds: left alone unless the program opts in
//! (`strand_alloc::trim::enable`, `set_system_threshold`, or the environment variable),
//! fixed then so that the heaps glibc keeps for worker threads give their free tops back.
//! Each case runs in a child process of its own: the thresholds are process-wide.
//!
//! The pattern that shows the difference, on a thread other than main: one 1 MiB block
//! allocated and freed (directly mapped; glibc left to itself then raises its thresholds
//! to 1 and 2 MiB), then two 900 KiB blocks touched and freed. Left to itself, glibc
//! serves them from the thread's heap and keeps them there, resident, after a trim; with
//! the library's thresholds they are mapped on their own and unmapped when freed.
#![cfg(all(not(miri), target_os = "linux", target_env = "gnu"))]

mod common;
use std::process::Command;
use strand_alloc::trim;

const CHILD: &str = "STRAND_ALLOC_THRESHOLD_CHILD";

/// Runs the pattern on a new thread; returns how much RSS it left behind after a trim.
fn residue() -> i64 {
    std::thread::spawn(|| {
        let touch = |n: usize| {
            let mut v = vec![0u8; n];
            v.iter_mut().step_by(4096).for_each(|b| *b = 1);
            std::hint::black_box(v)
        };
        drop(touch(1 << 20));
        let before = common::rss() as i64;
        let (a, b) = (touch(900 << 10), touch(900 << 10));
        drop(b);
        drop(a);
        trim::trim_now();
        common::rss() as i64 - before
    })
    .join()
    .unwrap()
}

/// What a child process reports: the threshold the library gave glibc, and the residue.
fn child(case: &str) {
    match case {
        "default" => {}
        "enabled" => trim::enable().unwrap(),
        "left-alone" => {
            trim::set_system_threshold(None).unwrap();
            trim::enable().unwrap();
        }
        "chosen" => trim::set_system_threshold(Some(1 << 20)).unwrap(),
        "late-none" => {
            // Once fixed, glibc cannot go back: refused, and the record still says what
            // glibc has.
            trim::enable().unwrap();
            let s = strand_alloc::Strand::<common::AnyBackend>::local().unwrap();
            drop(s);
            let e = trim::set_system_threshold(None).unwrap_err();
            assert!(e.to_string().contains("already fixed"), "{e}");
        }
        "bad-env-explicit" => {
            // An explicit configuration does not skip the check.
            let config = strand_alloc::Config::default();
            let Err(e) = strand_alloc::Strand::<common::AnyBackend>::local_with(config) else {
                panic!("a strand began under an unreadable setting");
            };
            println!(
                "threshold={:?} residue=0 error={e}",
                trim::system_threshold()
            );
            return;
        }
        "bad-env" => {
            // Checked up front, deciding nothing...
            let e = trim::check_env().unwrap_err();
            assert!(e.to_string().contains(trim::SYSTEM_THRESHOLD_ENV), "{e}");
            // ...and read at the first strand, and refused with the text.
            let Err(e) = strand_alloc::Strand::<common::AnyBackend>::local() else {
                panic!("a strand began under an unreadable setting");
            };
            println!(
                "threshold={:?} residue=0 error={e}",
                trim::system_threshold()
            );
            return;
        }
        _ => unreachable!(),
    }
    // A readable setting (or none) passes the up-front check.
    trim::check_env().unwrap();
    // The first strand's beginning applies what the environment asks, nothing else.
    let s = strand_alloc::Strand::<common::AnyBackend>::local().unwrap();
    drop(s.str("x"));
    println!(
        "threshold={:?} residue={}",
        trim::system_threshold(),
        residue()
    );
}

fn run(case: &str, env: &[(&str, &str)]) -> (Option<usize>, i64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "thresholds", "--nocapture"])
        .env(CHILD, case)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{case}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("threshold="))
        .unwrap_or_else(|| panic!("{case}: no report in {stdout}"));
    if case.starts_with("bad-env") {
        assert!(
            line.contains("error=") && line.contains(trim::SYSTEM_THRESHOLD_ENV),
            "the error names the setting: {line}"
        );
    }
    let line = line.split(" error=").next().unwrap();
    let (t, r) = line.split_once(" residue=").unwrap();
    let t = match t.trim_start_matches("threshold=") {
        "None" => None,
        s => Some(
            s.trim_start_matches("Some(")
                .trim_end_matches(')')
                .parse()
                .unwrap(),
        ),
    };
    eprintln!("{case} {env:?}: {line}");
    (t, r.parse().unwrap())
}

#[test]
fn thresholds() {
    if let Ok(case) = std::env::var(CHILD) {
        return child(&case);
    }
    // Nobody asked: left alone.
    let (t, alone) = run("default", &[]);
    assert_eq!(t, None);
    let (t, fixed) = run("enabled", &[]);
    assert_eq!(t, Some(trim::DEFAULT_SYSTEM_THRESHOLD));
    let (t, _) = run("left-alone", &[]);
    assert_eq!(t, None, "set_system_threshold(None) holds against enable");
    let (t, _) = run("chosen", &[]);
    assert_eq!(t, Some(1 << 20));
    // A process that chose its own thresholds keeps them, even when it enables.
    let (t, _) = run("enabled", &[("MALLOC_TRIM_THRESHOLD_", "4194304")]);
    assert_eq!(t, None);
    let (t, _) = run(
        "enabled",
        &[("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536")],
    );
    assert_eq!(t, None);
    // Chosen without code: a size is asking; `off` holds against enable.
    let (t, _) = run("enabled", &[(trim::SYSTEM_THRESHOLD_ENV, "off")]);
    assert_eq!(t, None);
    let (t, _) = run("default", &[(trim::SYSTEM_THRESHOLD_ENV, "1MiB")]);
    assert_eq!(t, Some(1 << 20));
    let (t, _) = run("enabled", &[(trim::SYSTEM_THRESHOLD_ENV, "1MiB")]);
    assert_eq!(t, Some(1 << 20));
    let (t, _) = run("enabled", &[(trim::SYSTEM_THRESHOLD_ENV, " OFF ")]);
    assert_eq!(t, None);
    for bad in ["lots", "64MiB", "0"] {
        for case in ["bad-env", "bad-env-explicit"] {
            let (t, _) = run(case, &[(trim::SYSTEM_THRESHOLD_ENV, bad)]);
            assert_eq!(t, None, "{bad}: an unreadable setting decides nothing");
        }
    }
    let (t, _) = run("late-none", &[]);
    assert_eq!(
        t,
        Some(trim::DEFAULT_SYSTEM_THRESHOLD),
        "a late None changes nothing"
    );
    // Both ways: glibc left to itself keeps the two blocks resident; the thresholds the
    // program opted in to give them back.
    assert!(
        alone >= 1 << 20,
        "left alone, glibc keeps the blocks: {alone}"
    );
    assert!(
        fixed < 256 << 10,
        "with the library's thresholds they go back: {fixed}"
    );
}

#[test]
fn a_threshold_out_of_range_is_refused() {
    for bad in [0, 4095, (32 << 20) + 1, usize::MAX] {
        let e = trim::set_system_threshold(Some(bad)).unwrap_err();
        assert!(e.to_string().contains("between 4096 and"), "{e}");
    }
}
