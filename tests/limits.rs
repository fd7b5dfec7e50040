//! Bad settings get clear errors up front, never a panic inside May or a failing
//! allocation later: stack sizes, worker counts, thresholds at and past their bounds,
//! and the seed policy refused by the safe constructors.

mod common;

use common::*;
use strand_alloc::scheduler::{MAX_STACK_SIZE, MAX_WORKERS, MIN_STACK_SIZE};
use strand_alloc::{
    config::MAX_THRESHOLD, Builder, Config, ConfigError, SchedulerConfig, SpawnError, Strand,
    ValueAllocator,
};

#[cfg(not(miri))]
#[test]
fn stack_sizes_out_of_bounds_are_spawn_errors() {
    setup();
    for bytes in [
        0,
        4096,
        MIN_STACK_SIZE - 1,
        MAX_STACK_SIZE + 1,
        1 << 40,
        usize::MAX,
    ] {
        // SAFETY: the closure does nothing.
        let r = unsafe {
            Builder::<common::AnyBackend>::new()
                .stack_size(bytes)
                .spawn(|_| ())
        };
        let e = r
            .err()
            .unwrap_or_else(|| panic!("a {bytes}-byte stack was accepted"));
        assert!(matches!(e, SpawnError::Config(_)), "{e}");
        assert!(e.to_string().contains("stack size"), "{e}");
    }
    // The bounds themselves are accepted, and a strand runs on them, on every backend,
    // even when its body panics (unwinding takes stack too).
    fn on_the_edge<A: ValueAllocator>() {
        for bytes in [MIN_STACK_SIZE, MAX_STACK_SIZE] {
            // SAFETY: the closures use no thread-locals and nothing `!Send`.
            let h = unsafe {
                Builder::<A>::new()
                    .stack_size(bytes)
                    .spawn(|s| s.str("on the edge").len())
            }
            .unwrap();
            assert_eq!(join(h), 11);
            // SAFETY: as above.
            let h = unsafe {
                Builder::<A>::new()
                    .stack_size(bytes)
                    .spawn(|s| -> usize { panic!("{}", s.str("unwinding on the edge")) })
            }
            .unwrap();
            let payload = h.join().expect_err("the body panicked");
            assert_eq!(
                payload.downcast_ref::<String>().map(String::as_str),
                Some("unwinding on the edge")
            );
        }
    }
    for_each_backend!(on_the_edge);
}

#[cfg(feature = "serde")]
#[test]
fn deserialised_settings_are_checked_like_the_setters() {
    use strand_alloc::SchedulerConfig as S;
    for bad in [
        r#"{"workers":0,"stack_size":32768,"pin":false}"#,
        r#"{"workers":2,"stack_size":0,"pin":false}"#,
        r#"{"workers":2,"stack_size":18446744073709551615,"pin":false}"#,
    ] {
        let e = serde_json::from_str::<S>(bad).unwrap_err().to_string();
        assert!(
            e.contains("worker count") || e.contains("stack size"),
            "{e}"
        );
    }
    let ok: S = serde_json::from_str(r#"{"workers":2,"stack_size":32768,"pin":true}"#).unwrap();
    assert_eq!((ok.workers(), ok.stack_size(), ok.pin()), (2, 32768, true));
    for bad in [
        r#"{"threshold":0,"strand_limit":null,"pool_capacity":4}"#,
        r#"{"threshold":18446744073709551615,"strand_limit":null,"pool_capacity":4}"#,
        r#"{"threshold":4096,"strand_limit":0,"pool_capacity":4}"#,
    ] {
        let e = serde_json::from_str::<Config>(bad).unwrap_err().to_string();
        assert!(e.contains("threshold") || e.contains("strand limit"), "{e}");
    }
    let ok: Config =
        serde_json::from_str(r#"{"threshold":4096,"strand_limit":100,"pool_capacity":4}"#).unwrap();
    assert_eq!((ok.threshold(), ok.strand_limit()), (4096, Some(100)));

    // A size may be written in any form the environment takes, and means what it says.
    let ok: Config = serde_json::from_str(
        r#"{"threshold":"10MiB","large_value":"1_024","strand_limit":"1.5KiB","pool_capacity":4}"#,
    )
    .unwrap();
    assert_eq!(
        (ok.threshold(), ok.large_value_size(), ok.strand_limit()),
        (10 << 20, 1024, Some(1536))
    );
    let ok: S = serde_json::from_str(r#"{"workers":2,"stack_size":"64KiB","pin":false}"#).unwrap();
    assert_eq!(ok.stack_size(), 64 << 10);
    // A size that does not read, quoted with the forms; a negative one; a misspelt
    // setting (once silently a default).
    for (bad, expect) in [
        (
            r#"{"threshold":"0.3KiB","strand_limit":null,"pool_capacity":4}"#,
            "\"0.3KiB\"",
        ),
        (
            r#"{"threshold":-1,"strand_limit":null,"pool_capacity":4}"#,
            "a whole number of bytes",
        ),
        (
            r#"{"threshold":4096,"strand_limt":4096,"strand_limit":null,"pool_capacity":4}"#,
            "unknown field `strand_limt`",
        ),
        (
            r#"{"threshold":4096,"large_value_size":4096,"strand_limit":null,"pool_capacity":4}"#,
            "unknown field `large_value_size`",
        ),
    ] {
        let e = serde_json::from_str::<Config>(bad).unwrap_err().to_string();
        assert!(e.contains(expect), "{bad}: {e}");
        if expect.contains("0.3KiB") {
            assert!(e.contains("a whole number of bytes"), "{e}");
        }
    }
    let e = serde_json::from_str::<S>(r#"{"workers":2,"stack_size":32768,"pinn":true,"pin":true}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `pinn`"), "{e}");
    // What a configuration serialises to reads back the same.
    let round: Config =
        serde_json::from_str(&serde_json::to_string(&ok_config()).unwrap()).unwrap();
    assert_eq!(round, ok_config());
}

/// Figures read from outside may hold any numbers: their sums stay at the largest
/// number instead of wrapping (or panicking in a debug build).
#[cfg(feature = "serde")]
#[test]
fn deserialised_figures_sum_without_wrapping() {
    let f: strand_alloc::Figures = serde_json::from_str(
        r#"{"resets_exit":18446744073709551615,"resets_threshold":1,"used":9223372036854775807}"#,
    )
    .unwrap();
    assert_eq!(f.resets(), u64::MAX);
    let mut sum = f;
    sum.accumulate(&f);
    assert_eq!((sum.resets_exit, sum.used), (u64::MAX, i64::MAX));
    let small: strand_alloc::Figures = serde_json::from_str(
        r#"{"resets_exit":1,"resets_threshold":2,"resets_explicit":4,"resets_emptied":8}"#,
    )
    .unwrap();
    assert_eq!(small.resets(), 15);
}

#[cfg(feature = "serde")]
fn ok_config() -> Config {
    Config::default()
        .with_threshold(1 << 20)
        .and_then(|c| c.with_strand_limit(Some(4096)))
        .unwrap()
}

#[test]
fn scheduler_settings_out_of_bounds_are_refused() {
    let d = SchedulerConfig::default();
    let e = d.with_workers(100_000).unwrap_err().to_string();
    assert!(e.contains("100000") && e.contains("1024"), "{e}");
    assert!(d.with_workers(MAX_WORKERS).is_ok());
    assert!(d.with_workers(MAX_WORKERS + 1).is_err());
    assert!(d.with_stack_size(1 << 40).is_err());
    assert!(d.with_stack_size(usize::MAX).is_err());
    assert!(d.with_stack_size(MAX_STACK_SIZE).is_ok());
}

/// A threshold far larger than the machine's memory (but under the maximum) still
/// allocates on every backend, without touching memory it does not use.
fn huge_threshold<A: ValueAllocator>() {
    std::thread::spawn(|| {
        let cfg = Config::default().with_threshold(64 << 30).unwrap();
        let s = Strand::<A>::local_with(cfg).unwrap();
        let held: Vec<_> = (0..1000).map(|i| s.str(&text(0, i, 64))).collect();
        for (i, v) in held.iter().enumerate() {
            assert_eq!(v.as_str(), text(0, i, 64));
        }
    })
    .join()
    .unwrap();
}

#[cfg(not(miri))]
#[test]
fn a_threshold_of_64_gib_allocates_on_every_backend() {
    for_each_backend!(huge_threshold);
}

#[test]
fn thresholds_past_the_maximum_are_refused_naming_it() {
    let e = Config::default()
        .with_threshold(MAX_THRESHOLD + 1)
        .unwrap_err();
    assert!(matches!(e, ConfigError::OutOfRange { .. }), "{e}");
    assert!(e.to_string().contains("MAX_THRESHOLD"), "{e}");
}

#[cfg(feature = "seed-arena")]
#[test]
fn the_seed_policy_has_no_safe_constructor() {
    use strand_alloc::SeedArena;
    for r in [
        Strand::<SeedArena>::local().map(drop),
        Strand::<SeedArena>::local_with(Config::default()).map(drop),
    ] {
        let e = r.unwrap_err();
        assert!(matches!(e, ConfigError::UnsafeBackend { .. }), "{e}");
        assert!(e.to_string().contains("local_unchecked"), "{e}");
    }
    // Every safe backend is served by the same constructors.
    fn safe<A: ValueAllocator>() {
        assert!(Strand::<A>::local().is_ok());
    }
    for_each_backend!(safe);
}

/// Zero-sized allocations (an empty variant, an empty collection's first push of a
/// zero-sized type) touch no backend and give pointers strict provenance accepts.
fn zero_sized<A: ValueAllocator>() {
    let s = Strand::<A>::local_with(Config::default()).unwrap();
    let empty = s.variant(3, []);
    assert_eq!((empty.tag(), empty.fields().len()), (3, 0));
    let mut units = allocator_api2::vec::Vec::new_in(s.allocator());
    units.extend([(), (), ()]);
    assert_eq!(units.len(), 3);
    assert_eq!(s.stats().allocs, 0);
}

#[test]
fn zero_sized_allocations_touch_nothing() {
    for_each_backend!(zero_sized);
}
