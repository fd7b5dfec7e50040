//! Strand lifecycle: values cross strands only as copies (channels, join), panics and
//! cancellation run the exit path, figures match what the strand did.
#![cfg(not(miri))]

mod common;
use common::*;
use strand_alloc::{
    channel, AllocError, Builder, Config, PortableValue, PortableVariant, Strand, Value,
    ValueAllocator,
};

/// A variant holding arena strings, one of them nested in another variant.
fn message<'s, A: ValueAllocator>(s: &'s Strand<A>, n: usize) -> Value<'s, A> {
    let inner = s.variant(2, [s.str(&text(n, 1, 64)).into(), Value::Int(n as i64)]);
    s.variant(
        1,
        [
            s.str(&text(n, 0, 32)).into(),
            inner.into(),
            s.bytes(&[1, 2, 3]).into(),
        ],
    )
    .into()
}

fn expected(n: usize) -> PortableValue {
    PortableVariant::new(
        1,
        vec![
            text(n, 0, 32).as_str().into(),
            PortableVariant::new(
                2,
                vec![text(n, 1, 64).as_str().into(), PortableValue::Int(n as i64)],
            )
            .into(),
            PortableValue::Bytes(Box::new([1, 2, 3])),
        ],
    )
    .into()
}

fn send_after_sender_exit<A: ValueAllocator>() {
    setup();
    let (tx, rx) = channel();
    let senders: Vec<_> = (0..20)
        .map(|n| {
            let tx = tx.clone();
            // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
            unsafe {
                Builder::<A>::new().spawn(move |s| {
                    let m = message(s, n);
                    tx.send(s, &m).unwrap();
                    s.stats()
                })
            }
            .unwrap()
        })
        .collect();
    for (n, h) in senders.into_iter().enumerate() {
        let (f, report) = join_report(h);
        assert_eq!(f.copies, 1);
        assert_eq!(f.copied_bytes, (text(n, 0, 32).len() + 64 + 3) as u64);
        assert_eq!(report.figures.copies, 1);
        assert_eq!(
            report.figures.used, 0,
            "the sender let go of its arena memory"
        );
    }
    // Overwrite whatever arena memory the senders used, on every worker.
    let churn: Vec<_> = (0..8)
        .map(|k| {
            // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
            unsafe {
                Builder::<A>::new().spawn(move |s| {
                    for i in 0..200 {
                        let junk = s.str(&"#".repeat(64 + (i + k) % 64));
                        assert!(junk.starts_with('#'));
                        hop();
                    }
                })
            }
            .unwrap()
        })
        .collect();
    churn.into_iter().for_each(join);
    let got: Vec<PortableValue> = (0..20).map(|_| rx.recv().unwrap()).collect();
    for n in 0..20 {
        assert!(got.contains(&expected(n)), "message {n} missing or damaged");
    }
    // The receiver can also take it straight into a strand.
    let (tx2, rx2) = channel();
    tx2.send_portable(expected(5)).unwrap();
    let ok = join(
        // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
        unsafe {
            Builder::<A>::new().spawn(move |s| {
                let v = rx2.recv_in(s).unwrap();
                v.matches(&expected(5))
            })
        }
        .unwrap(),
    );
    assert!(ok);
}

#[test]
fn channel_values_survive_the_senders_exit() {
    for_each_backend!(send_after_sender_exit);
}

fn join_returns_a_copy<A: ValueAllocator>() {
    setup();
    // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
    let h = unsafe {
        Builder::<A>::new().spawn(|s| {
            let m = message(s, 3);
            s.export(&m)
        })
    }
    .unwrap();
    let (p, report) = join_report(h);
    assert_eq!(p, expected(3));
    assert_eq!(report.figures.copies, 1);
}

#[test]
fn join_results_are_portable_copies() {
    for_each_backend!(join_returns_a_copy);
}

fn panicking<A: ValueAllocator>() {
    setup();
    // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
    let h = unsafe {
        Builder::<A>::new().name("doomed").spawn::<_, ()>(|s| {
            assert_eq!(s.name(), Some("doomed"));
            let _held: Vec<_> = (0..100).map(|i| s.str(&text(0, i, 100))).collect();
            hop();
            panic!("deliberate");
        })
    }
    .unwrap();
    let (result, report) = h.join_report();
    let payload = result.expect_err("the strand panicked");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"deliberate"));
    let report = report.unwrap();
    assert!(report.panicked);
    assert_eq!(report.name.as_deref(), Some("doomed"));
    assert_eq!(report.backend, A::NAME);
    assert_eq!(report.figures.allocs, 100);
    assert_eq!(report.figures.strands_exited, 1);
    // Everything the strand held was given back on its way out.
    assert_eq!(report.figures.used, 0, "{report:?}");
}

#[test]
fn a_panicking_strand_gives_its_memory_back() {
    for_each_backend!(panicking);
}

fn cancelled<A: ValueAllocator>() {
    setup();
    let (_tx, rx) = may::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = may::sync::mpsc::channel::<()>();
    // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
    let h = unsafe {
        Builder::<A>::new().spawn(move |s| {
            let _held = s.str(&text(1, 1, 500));
            ready_tx.send(()).unwrap();
            let _ = rx.recv(); // parked until cancelled
        })
    }
    .unwrap();
    ready_rx.recv().unwrap();
    // SAFETY: the strand holds nothing that must not be dropped at its park point.
    unsafe { h.cancel() };
    let (result, report) = h.join_report();
    assert!(result.is_err());
    let report = report.unwrap();
    assert!(report.panicked);
    assert_eq!(report.figures.used, 0);
}

#[test]
fn a_cancelled_strand_runs_its_exit_path() {
    for_each_backend!(cancelled);
}

fn exact_figures<A: ValueAllocator>() {
    let s = Strand::<A>::local_with(Config::default()).unwrap();
    assert_eq!((s.name(), s.backend()), (None, A::NAME));
    let a = s.str("alpha");
    let b = s.bytes(b"bytes!");
    let empty = s.str("");
    let v = s.variant(
        4,
        [s.str("x").into(), s.str("yy").into(), Value::Bool(true)],
    );
    let f = s.stats();
    assert_eq!(
        f.allocs, 5,
        "3 strings + 1 byte string + 1 field array: {f:?}"
    );
    let value_size = std::mem::size_of::<Value<'_, A>>() as u64;
    assert_eq!(f.bytes_allocated, 5 + 6 + 1 + 2 + 3 * value_size);
    let p = s.export(&v.into());
    assert_eq!(p.byte_len(), 3);
    let f = s.stats();
    assert_eq!((f.copies, f.copied_bytes), (1, 3));
    assert_eq!(f.migrations, 0);
    assert_eq!((f.stranded, f.peak_stranded), (0, 0));
    assert_eq!(a.as_str(), "alpha");
    assert_eq!(&*b, b"bytes!");
    assert_eq!(empty.as_str(), "");
    let back = s.import(p);
    assert_eq!(back.as_variant().unwrap().fields()[1].as_str(), Some("yy"));
    // Imported strings are adopted from the heap, not copied: one more field array only.
    assert_eq!(s.stats().allocs, 6);
}

#[test]
fn figures_match_what_the_strand_did() {
    for_each_backend!(exact_figures);
}

fn limited<A: ValueAllocator>() {
    let cfg = Config::default().with_strand_limit(Some(1000)).unwrap();
    let s = Strand::<A>::local_with(cfg).unwrap();
    let kept = s.try_str(&"a".repeat(600)).unwrap();
    match s.try_str(&"b".repeat(600)) {
        Err(AllocError::LimitExceeded {
            requested, limit, ..
        }) => assert_eq!((requested, limit), (600, 1000)),
        other => panic!("expected a limit error, got {other:?}"),
    }
    assert_eq!(kept.len(), 600);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.str(&"c".repeat(600))))
        .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("limit is 1000 bytes"), "{msg}");
}

#[test]
fn a_strand_limit_is_a_clear_error() {
    for_each_backend!(limited);
}

fn huge() {
    type A = common::AnyBackend;
    let s = Strand::<A>::local_with(Config::default()).unwrap();
    // An array of fields too large for any layout fails cleanly.
    let many = std::iter::repeat_with(|| Value::Int(0)).take(0);
    assert!(s.try_variant(0, many).is_ok());
    let layout_err = strand_alloc::Variant::<A>::try_new_in(
        0,
        ExactLie(usize::MAX / 8, std::marker::PhantomData),
        &s,
    );
    assert!(
        matches!(layout_err, Err(AllocError::InvalidLayout { .. })),
        "{:?}",
        layout_err.err()
    );
}

/// An iterator that claims a huge length and yields nothing.
struct ExactLie<'s>(usize, std::marker::PhantomData<&'s ()>);
impl<'s> Iterator for ExactLie<'s> {
    type Item = Value<'s, common::AnyBackend>;
    fn next(&mut self) -> Option<Self::Item> {
        None
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.0, Some(self.0))
    }
}
impl ExactSizeIterator for ExactLie<'_> {}

#[test]
fn impossible_allocations_are_errors() {
    huge();
}

#[test]
fn bad_scheduler_settings_are_errors() {
    let e = strand_alloc::SchedulerConfig::default()
        .with_workers(0)
        .unwrap_err();
    assert!(e.to_string().contains("worker count"), "{e}");
    setup();
    let other = strand_alloc::SchedulerConfig::default()
        .with_workers(7)
        .unwrap()
        .apply()
        .unwrap_err();
    assert!(other.to_string().contains("already running"), "{other}");
    // The refusal names both configurations, the running one first.
    let strand_alloc::ConfigError::SchedulerStarted { running, requested } = &other else {
        panic!("not a scheduler refusal: {other:?}");
    };
    assert!(
        running.starts_with("2 workers, ") && running.ends_with("pinning off"),
        "{running}"
    );
    assert!(
        requested.starts_with("7 workers, ") && requested.contains(" byte stacks"),
        "{requested}"
    );
    assert!(other.to_string().contains(running.as_str()), "{other}");
    // The settings it runs with, applied again, are accepted.
    strand_alloc::SchedulerConfig::default()
        .with_workers(2)
        .unwrap()
        .with_pin(false)
        .apply()
        .expect("the running settings again");
}

fn builder_config<A: ValueAllocator>() {
    setup();
    let cfg = Config::default().with_threshold(12_345).unwrap();
    // SAFETY: the closure keeps no thread-local borrow and nothing `!Send`.
    let h = unsafe {
        Builder::<A>::new()
            .config(cfg)
            .spawn(|s| s.config().threshold())
    }
    .unwrap();
    assert_eq!(
        join(h),
        12_345,
        "{}: the builder's settings, not the default",
        A::NAME
    );
}

#[test]
fn a_builder_spawns_with_its_own_settings() {
    for_each_backend!(builder_config);
}
