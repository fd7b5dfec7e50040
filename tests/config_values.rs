//! Sizes as users write them, at every unit and at the edges (nine decimal places and
//! ten, twelve and thirteen, the largest size and one more), the large-value size each threshold implies, and
//! the process-wide configuration: an unreadable `STRAND_ALLOC_THRESHOLD` is an error
//! until a configuration is installed, and then the installed one is current. Runs
//! under Miri (no May).
//!
//! One test function for the process-wide part: it sets the environment and installs.

use strand_alloc::config::parse_size;
use strand_alloc::Config;

#[test]
fn sizes_at_every_unit_and_edge() {
    let ok = |t: &str| parse_size("size", t).unwrap_or_else(|e| panic!("{t}: {e}"));
    let units: [(&str, usize); 14] = [
        ("", 1),
        ("b", 1),
        ("k", 1_000),
        ("kb", 1_000),
        ("KiB", 1 << 10),
        ("m", 1_000_000),
        ("MB", 1_000_000),
        ("MiB", 1 << 20),
        ("g", 1_000_000_000),
        ("GB", 1_000_000_000),
        ("GiB", 1 << 30),
        ("t", 1_000_000_000_000),
        ("TB", 1_000_000_000_000),
        ("TiB", 1 << 40),
    ];
    for (unit, mult) in units {
        assert_eq!(ok(&format!("3{unit}")), 3 * mult, "3{unit}");
        assert_eq!(ok(&format!(" 2_0 {unit} ")), 20 * mult, "20{unit}");
    }
    assert_eq!(ok("1.5KiB"), 1536);
    assert_eq!(ok(".5k"), 500);
    assert_eq!(ok("0.123456789GB"), 123_456_789, "nine decimal places");
    assert!(
        parse_size("size", "0.1234567891GB").is_err(),
        "ten are refused"
    );
    // Twelve decimal places are the most a size takes (a byte of a terabyte); thirteen
    // are refused as such, even where they name a whole number of bytes.
    assert_eq!(ok("0.000000000001TB"), 1, "twelve decimal places");
    let e = parse_size("size", "0.0000000000010TB").unwrap_err();
    assert!(e.to_string().contains("too many decimal places"), "{e}");
    let max = isize::MAX as usize;
    assert_eq!(ok(&max.to_string()), max, "the largest size");
    assert!(parse_size("size", &(max as u128 + 1).to_string()).is_err());
    for bad in ["", "MiB", "1.2.3k", "12 parsecs", "1e6", "-1"] {
        assert!(parse_size("size", bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn the_large_value_size_follows_the_threshold() {
    let at = |t: usize| {
        Config::default()
            .with_threshold(t)
            .unwrap()
            .large_value_size()
    };
    assert_eq!(at(80 * 1024), 10 * 1024, "an eighth");
    assert_eq!(at(10 << 20), (10 << 20) / 8);
    assert_eq!(at(16 * 1024), 4096, "at least 4 KiB");
    assert_eq!(at(1024), 1024, "at most the threshold");
}

#[test]
fn an_unreadable_environment_is_an_error_until_a_configuration_is_installed() {
    // This binary's other tests read no environment variable.
    std::env::set_var("STRAND_ALLOC_THRESHOLD", "a lot");
    let e = Config::current().unwrap_err();
    assert!(e.to_string().contains("STRAND_ALLOC_THRESHOLD"), "{e}");
    let mine = Config::default().with_threshold(123_456).unwrap();
    mine.install();
    assert_eq!(Config::current().unwrap(), mine);
    assert_ne!(Config::current().unwrap(), Config::default());
}
