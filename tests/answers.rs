//! Every public yes/no or "which one" answer, asserted both ways: the case where it must
//! say yes and the case where it must say no, so that an answer fixed to either (a
//! mutant, or a regression) fails here. The mutation samples kept finding answers that a
//! test checked one way only.
#![cfg(not(miri))]

mod common;
use common::*;
use strand_alloc::{
    channel, AllocError, Builder, Config, CurrentError, HandleError, PortableValue,
    PortableVariant, Strand, ValueAllocator,
};

/// `HandleError::as_alloc` and `as_current` each answer for their own kind only.
fn error_kinds<A: ValueAllocator>() {
    let cfg = Config::default().with_strand_limit(Some(64)).unwrap();
    let s = Strand::<A>::local_with(cfg).unwrap();
    let refused: AllocError = s.try_str(&"x".repeat(1_000)).map(|_| ()).unwrap_err();
    let text = refused.to_string();
    let alloc = HandleError::from(refused);
    assert_eq!(alloc.as_alloc().map(|e| e.to_string()), Some(text));
    assert!(alloc.as_current().is_none());

    let current = HandleError::from(CurrentError::NotInCoroutine);
    assert!(matches!(
        current.as_current(),
        Some(CurrentError::NotInCoroutine)
    ));
    assert!(current.as_alloc().is_none());
    // Neither, for a refusal of its own.
    assert!(HandleError::Released.as_alloc().is_none());
    assert!(HandleError::Released.as_current().is_none());
}

#[test]
fn a_handle_errors_kind_is_answered_both_ways() {
    for_each_backend!(error_kinds);
}

/// `JoinHandle::is_done`: not while the strand waits, yes once it has returned.
fn done<A: ValueAllocator>() {
    setup();
    let (tx, rx) = may::sync::mpsc::channel::<()>();
    // SAFETY: the closure uses no thread-locals; the receiver is `Send`.
    let h = unsafe {
        Builder::<A>::new().spawn(move |s| {
            rx.recv().unwrap();
            s.str("done").len()
        })
    }
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(!h.is_done(), "{}: waiting on its channel", A::NAME);
    tx.send(()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !h.is_done() {
        assert!(
            std::time::Instant::now() < deadline,
            "{}: never done",
            A::NAME
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(join(h), 4);
}

#[test]
fn a_strand_is_done_only_once_it_has_returned() {
    for_each_backend!(done);
}

/// A variant's tag, length and emptiness, on an empty and a full one.
fn variant_shape<A: ValueAllocator>() {
    let s = Strand::<A>::local().unwrap();
    let empty = s.variant(3, Vec::<strand_alloc::Value<A>>::new());
    assert!(empty.is_empty());
    assert_eq!((empty.tag(), empty.len()), (3, 0));
    let full = s.variant(4, [1i64.into(), s.str("two").into()]);
    assert!(!full.is_empty());
    assert_eq!((full.tag(), full.len()), (4, 2));
}

#[test]
fn a_variants_shape_is_answered_both_ways() {
    for_each_backend!(variant_shape);
}

/// `try_recv`: nothing when the channel is empty, the value once one was sent.
#[test]
fn try_recv_answers_both_ways() {
    let (tx, rx) = channel();
    assert!(rx.try_recv().is_none());
    tx.send_portable(PortableValue::Int(5)).unwrap();
    assert_eq!(rx.try_recv(), Some(PortableValue::Int(5)));
    assert!(rx.try_recv().is_none());
}

/// A portable value's accessors: each answers for its own kind, and `None` for others.
#[test]
fn portable_accessors_answer_both_ways() {
    let text = PortableValue::Str("héllo".into());
    let var = PortableValue::Variant(PortableVariant::new(
        9,
        vec![text.clone(), PortableValue::Bytes(vec![1, 2, 3].into())],
    ));
    assert_eq!(text.as_str(), Some("héllo"));
    assert!(text.as_variant().is_none());
    assert!(var.as_str().is_none());
    assert_eq!(var.as_variant().map(|v| v.tag), Some(9));
    assert!(PortableValue::Int(1).as_str().is_none());
    // The bytes a value carries, however deep: 6 of text, then 6 + 3.
    assert_eq!(text.byte_len(), 6);
    assert_eq!(var.byte_len(), 9);
    assert_eq!(PortableValue::Int(1).byte_len(), 0);
}

/// A strand limit is a number of bytes a strand may hold: exactly that many are served,
/// one more is refused, with the figures in the refusal.
fn exactly_the_limit<A: ValueAllocator>() {
    let cfg = Config::default().with_strand_limit(Some(100)).unwrap();
    let s = Strand::<A>::local_with(cfg).unwrap();
    let first = s.str(&"a".repeat(60));
    let second = s
        .try_str(&"b".repeat(40))
        .expect("exactly the limit is served");
    assert_eq!(s.stats().used, 100, "{}", A::NAME);
    let refused = s.try_str("c").map(|_| ()).unwrap_err();
    assert!(
        matches!(
            refused,
            AllocError::LimitExceeded {
                requested: 1,
                used: 100,
                limit: 100
            }
        ),
        "{}: {refused}",
        A::NAME
    );
    drop(second);
    assert_eq!(s.try_str(&"d".repeat(40)).unwrap().len(), 40);
    drop(first);
}

#[test]
fn a_strand_limit_serves_exactly_its_bytes() {
    for_each_backend!(exactly_the_limit);
}
