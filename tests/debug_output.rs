//! What a user reads when debugging: every public type's `Debug` (and the figures'
//! `Display`) names the type and what tells one value of it from another. A blank or
//! truncated output is a regression a test must see, like any other behaviour.
#![cfg(not(miri))]

mod common;
use common::*;
use strand_alloc::{
    channel, Builder, Handle, PortableValue, PortableVariant, Strand, Value, ValueAllocator,
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

    // Each accessor answers for its own kind and for no other.
    let values: Vec<Value<'_, A>> = vec![
        s.str("text").into(),
        s.bytes(&[1, 2]).into(),
        Value::Int(-3),
        Value::Float(0.5),
        Value::Bool(true),
        s.variant(4, [Value::Int(1)]).into(),
    ];
    for (i, v) in values.iter().enumerate() {
        assert_eq!(v.as_str(), (i == 0).then_some("text"), "{v:?}");
        assert_eq!(v.as_bytes(), (i == 1).then_some(&[1u8, 2][..]), "{v:?}");
        assert_eq!(v.as_int(), (i == 2).then_some(-3), "{v:?}");
        assert_eq!(v.as_float(), (i == 3).then_some(0.5), "{v:?}");
        assert_eq!(v.as_bool(), (i == 4).then_some(true), "{v:?}");
        assert_eq!(
            v.as_variant().map(|x| x.tag()),
            (i == 5).then_some(4),
            "{v:?}"
        );
    }
    drop(values);
    // The process's resident set in the snapshot, against the kernel's own account in
    // another file (VmRSS, in KiB): the same within a quarter (read moments apart).
    #[cfg(target_os = "linux")]
    {
        let rss = strand_alloc::stats::<A>().rss.expect("read on Linux") as f64;
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .expect("VmRSS")
            * 1024.0;
        assert!(
            (rss / vm_rss - 1.0).abs() < 0.25,
            "snapshot rss {rss}, VmRSS {vm_rss}"
        );
    }
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

/// A printed snapshot shows the migration and stranded figures as numbers only where they
/// are counted (the full level), and says "uncounted" where they are not, rather than a
/// zero that looks measured.
fn level_shown<A: ValueAllocator>() {
    setup();
    let s = Strand::<A>::local().unwrap();
    let _v = s.str("x");
    let out = strand_alloc::stats::<A>().to_string();
    let migrations = out
        .lines()
        .find(|l| l.trim_start().starts_with("migrations"))
        .unwrap_or_else(|| panic!("{out}"));
    if strand_alloc::FULL_FIGURES {
        assert!(!out.contains("uncounted ("), "{out}");
        assert!(out.contains(" B stranded)"), "{out}");
        assert!(migrations.trim_end().ends_with(char::is_numeric), "{out}");
    } else {
        assert!(out.contains("(uncounted stranded)"), "{out}");
        assert!(migrations.contains("uncounted (production level)"), "{out}");
    }
}

#[test]
fn a_printed_snapshot_says_which_figures_it_counts() {
    for_each_backend!(level_shown);
}
