//! What a user reads when debugging: every public type's `Debug` (and the figures'
//! `Display`) names the type and what tells one value of it from another. A blank or
//! truncated output is a regression a test must see, like any other behaviour.
#![cfg(not(miri))]

mod common;
use common::*;
use strand_alloc::{
    channel, Builder, Handle, PortableValue, PortableVariant, Strand, ValueAllocator,
};

fn debug_output<A: ValueAllocator>() {
    setup();
    let s = Strand::<A>::local().unwrap();
    let out = format!("{s:?}");
    assert!(
        out.starts_with("Strand {")
            && out.contains(&format!("id: {}", s.id()))
            && out.contains(A::NAME),
        "{out}"
    );
    let out = format!("{:?}", s.allocator());
    assert!(
        out.starts_with("StrandAllocator {")
            && out.contains(&format!("strand: {}", s.id()))
            && out.contains(A::NAME),
        "{out}"
    );
    let out = format!("{:?}", Builder::<A>::new().name("worker-7"));
    assert!(
        out.starts_with("Builder {") && out.contains("worker-7") && out.contains(A::NAME),
        "{out}"
    );
    // SAFETY: the closure uses no thread-locals and nothing `!Send`.
    let h = unsafe { Builder::<A>::new().spawn(|s| s.str("x").len()) }.unwrap();
    let out = format!("{h:?}");
    assert!(out.starts_with("JoinHandle"), "{out}");
    assert_eq!(join(h), 1);
    let (tx, rx) = channel();
    assert!(format!("{tx:?}").starts_with("ValueSender"), "{tx:?}");
    assert!(format!("{rx:?}").starts_with("ValueReceiver"), "{rx:?}");

    // A handle says what it holds and who holds it: owned, then shared by two.
    let h = Handle::<A>::new_str("hello").unwrap();
    let out = format!("{h:?}");
    assert!(
        out.starts_with(&format!("Handle({:#x}: ", h.to_word()))
            && out.contains("Str of 5")
            && out.ends_with("owned)"),
        "{out}"
    );
    // SAFETY: `h` is live and owned by this thread's strand; the share makes it shared
    // by two holders (`h` and `two`, the same word), each released once below.
    unsafe {
        let two = h.share().unwrap();
        let out = format!("{h:?}");
        assert!(out.ends_with("shared by 2)"), "{out}");
        two.release().unwrap();
        let out = format!("{h:?}");
        assert!(out.ends_with("shared by 1)"), "{out}");
        h.release().unwrap();
    }

    // Fields are separated, and none is lost.
    let v = PortableVariant {
        tag: 3,
        fields: vec![
            PortableValue::Str("a".into()),
            PortableValue::Bytes(vec![1].into()),
            PortableValue::Int(-4),
            PortableValue::Float(1.5),
            PortableValue::Bool(true),
            PortableValue::Bool(false),
        ],
    };
    let want = r#"Variant#3(Str("a"), Bytes([1]), Int(-4), Float(1.5), Bool(true), Bool(false))"#;
    assert_eq!(format!("{v:?}"), want);
    assert_eq!(format!("{:?}", PortableValue::Variant(v)), want);

    // The figures as text: the backend, its strands, and every counter by name.
    drop(s.str("counted"));
    let stats = strand_alloc::stats::<A>();
    let out = stats.to_string();
    assert!(
        out.starts_with(&format!("backend {}: ", A::NAME))
            && out.contains(" live strands; ")
            && out.lines().any(|l| l.trim_start().starts_with("allocs ")),
        "{out}"
    );
}

#[test]
fn every_public_type_says_what_it_is() {
    for_each_backend!(debug_output);
}
