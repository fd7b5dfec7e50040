//! `Config::install` publishes one configuration at a time: a reader running while one
//! thread installs two configurations in turn sees one or the other, never the threshold
//! of one with the strand limit of the other. Its own binary: installing is process-wide.

use strand_alloc::Config;

#[test]
fn a_reader_never_sees_a_mix_of_two_installed_configurations() {
    let a = Config::default()
        .with_threshold(64 * 1024)
        .unwrap()
        .with_strand_limit(Some(1024))
        .unwrap()
        .with_pool_capacity(3);
    let b = Config::default()
        .with_threshold(10 << 20)
        .unwrap()
        .with_strand_limit(None)
        .unwrap()
        .with_pool_capacity(7);
    a.install();
    // Natively, half a second of installs; under Miri, a few hundred.
    let until = std::time::Instant::now() + std::time::Duration::from_millis(500);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while if cfg!(miri) {
                i < 300
            } else {
                std::time::Instant::now() < until
            } {
                if i % 2 == 0 { b } else { a }.install();
                i += 1;
            }
            stop.store(true, std::sync::atomic::Ordering::Release);
        })
    };
    let mut reads = 0u64;
    let mut seen_a = false;
    let mut seen_b = false;
    while !stop.load(std::sync::atomic::Ordering::Acquire) || reads < 100 {
        let c = Config::current().unwrap();
        assert!(c == a || c == b, "a mix of two configurations: {c:?}");
        seen_a |= c == a;
        seen_b |= c == b;
        reads += 1;
    }
    writer.join().unwrap();
    assert!(seen_a || seen_b);
    assert!(reads >= 100);
}
