//! The size parser and every configuration setter: any input gives a value or a clear
//! error, never a panic, a size that parses means what it says, and every setter accepts
//! exactly its documented range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strand_alloc::config::{parse_size, MAX_THRESHOLD};
use strand_alloc::scheduler::{MAX_STACK_SIZE, MAX_WORKERS, MIN_STACK_SIZE};
use strand_alloc::{Config, SchedulerConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_size("the threshold", text) {
        Ok(n) => {
            // A plain number parses to itself, and with its unit spelled out too.
            assert_eq!(parse_size("the threshold", &n.to_string()).unwrap(), n);
            assert_eq!(parse_size("the threshold", &format!("{n}B")).unwrap(), n);
            match Config::default().with_threshold_str(text) {
                Ok(c) => assert_eq!(c.threshold(), n),
                Err(e) => {
                    assert!(n == 0 || n > MAX_THRESHOLD, "{n}: {e}");
                    assert!(e.to_string().contains("threshold"), "{e}");
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("threshold"), "{msg}");
            assert!(Config::default().with_threshold_str(text).is_err());
        }
    }
    if let Ok(n) = text.trim().parse::<usize>() {
        let workers = SchedulerConfig::default().with_workers(n);
        assert_eq!(workers.is_ok(), (1..=MAX_WORKERS).contains(&n));
        let stack = SchedulerConfig::default().with_stack_size(n);
        assert_eq!(
            stack.is_ok(),
            (MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&n)
        );
        assert_eq!(
            Config::default().with_threshold(n).is_ok(),
            (1..=MAX_THRESHOLD).contains(&n)
        );
        assert_eq!(Config::default().with_strand_limit(Some(n)).is_ok(), n > 0);
    }
});
