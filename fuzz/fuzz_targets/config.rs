//! The size parser and every configuration setter: any input gives a value or a clear
//! error, never a panic, and a size that parses means what it says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strand_alloc::config::parse_size;
use strand_alloc::workload::{Kind, Sizes};
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
                Err(e) => assert!(n == 0 && e.to_string().contains("threshold")),
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("threshold"), "{msg}");
            assert!(Config::default().with_threshold_str(text).is_err());
        }
    }
    if let Ok(n) = text.trim().parse::<usize>() {
        assert_eq!(SchedulerConfig::default().with_workers(n).is_ok(), n > 0);
        let _ = SchedulerConfig::default().with_stack_size(n);
        let _ = Config::default().with_strand_limit(Some(n));
    }
    match text.parse::<Kind>() {
        Ok(k) => assert_eq!(k.name(), text),
        Err(e) => assert!(e.to_string().contains("requests")),
    }
    if let Ok(s) = text.parse::<Sizes>() {
        assert_eq!(s.name(), text);
    }
});
