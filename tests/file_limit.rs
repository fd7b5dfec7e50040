//! The scheduler's settings: workers must fit the process's open-file limit (checked
//! in a child process run with `ulimit -n 100`, exactly at the limit and past it), and
//! every setting reads back as set.
#![cfg(all(target_os = "linux", not(miri)))]

use strand_alloc::SchedulerConfig;

const CHILD: &str = "STRAND_ALLOC_FILE_LIMIT_CHILD";

#[test]
fn workers_must_fit_the_open_file_limit() {
    if std::env::var_os(CHILD).is_some() {
        // Here the soft limit is 100 open files. 50 workers need 2 × 50 + 64 = 164.
        let e = SchedulerConfig::default()
            .with_workers(50)
            .unwrap()
            .apply()
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("164 open files") && msg.contains("may open 100"),
            "{msg}"
        );
        // 18 workers need 2 × 18 + 64 = 100: exactly the limit, accepted.
        SchedulerConfig::default()
            .with_workers(18)
            .unwrap()
            .apply()
            .unwrap();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -n 100 && exec \"$0\" \"$@\""])
        .arg(&exe)
        .args([
            "--exact",
            "workers_must_fit_the_open_file_limit",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn scheduler_settings_read_back_as_set() {
    let d = SchedulerConfig::default();
    assert!(!d.pin());
    assert!(d.with_pin(true).pin());
    assert!(!d.with_pin(true).with_pin(false).pin());
    assert_eq!(d.with_workers(3).unwrap().workers(), 3);
    assert_eq!(d.with_stack_size(64 << 10).unwrap().stack_size(), 64 << 10);
}
