//! Deep and wide values: every operation runs in constant stack, so a list a million
//! variants deep is built, cloned, compared, formatted, exported, sent, received,
//! imported and dropped inside a strand with May's default 32 KiB stack, on every
//! backend; and portable values do the same on a plain thread (also under Miri, smaller).

mod common;

// Only the May tests, compiled out under Miri, use the shared helpers.
#[cfg_attr(miri, allow(unused_imports))]
use common::*;
use strand_alloc::{PortableValue, PortableVariant, Strand, Value, ValueAllocator};

/// Nesting depth of the lists (smaller under Miri, which interprets every step, but past
/// `MAX_DEBUG_DEPTH`, 256, so that `Debug` elides the deepest levels there too).
const DEPTH: usize = if cfg!(miri) { 400 } else { 1_000_000 };

/// `cons(i, rest)` cells from `DEPTH - 1` down to 0, ending in `Int(end)`.
fn list<'s, A: ValueAllocator>(s: &'s Strand<A>, end: i64) -> Value<'s, A> {
    let mut list = Value::Int(end);
    for i in 0..DEPTH {
        list = s.variant(1, [Value::Int(i as i64), list]).into();
    }
    list
}

fn portable_list(end: i64) -> PortableValue {
    let mut list = PortableValue::Int(end);
    for i in 0..DEPTH {
        list = PortableVariant::new(1, vec![PortableValue::Int(i as i64), list]).into();
    }
    list
}

/// Checks the value's `Debug` text: the first levels in full, the rest elided.
fn check_debug(text: &str) {
    let top = format!(
        "Variant#1(Int({}), Variant#1(Int({}), ",
        DEPTH - 1,
        DEPTH - 2
    );
    assert!(text.starts_with(&top), "{}", &text[..200.min(text.len())]);
    assert!(text.contains("Variant#1(..)"), "deep levels are elided");
    assert!(text.len() < 20_000, "bounded: {} bytes", text.len());
}

#[cfg(not(miri))]
fn deep_lists_in_a_strand<A: ValueAllocator>() {
    setup();
    let (tx, rx) = strand_alloc::channel();
    // SAFETY: the closure uses no thread-locals and nothing `!Send`.
    let sender = unsafe {
        strand_alloc::Builder::<A>::new().spawn(move |s| {
            let deep = list(s, -1);
            let copy = deep.clone();
            assert!(copy == deep);
            let other = list(s, -2);
            assert!(
                other != deep,
                "lists that differ only at the bottom are unequal"
            );
            check_debug(&format!("{deep:?}"));
            // Written out at a boundary in constant stack: every leaf, depth first.
            let mut out = Vec::new();
            let n = s.write_out(&deep, &mut out).unwrap();
            let expected: String = (0..DEPTH)
                .rev()
                .map(|i| i.to_string())
                .chain(["-1".to_string()])
                .collect();
            assert_eq!((n as usize, out), (expected.len(), expected.into_bytes()));
            let p = s.export(&deep);
            assert!(deep.matches(&p) && copy.matches(&p));
            assert!(!other.matches(&p));
            let back = s.import(p.clone());
            assert!(back == deep);
            tx.send(s, &deep).unwrap();
            drop((deep, copy, other, back));
            p
        })
    }
    .unwrap();
    let expected = join(sender);
    // SAFETY: as above.
    let receiver = unsafe {
        strand_alloc::Builder::<A>::new().spawn(move |s| {
            let got = rx.recv_in(s).unwrap();
            let ok = got.matches(&expected);
            // A wide variant too: a million fields in one array.
            let wide = s.variant(2, (0..DEPTH).map(|i| Value::Int(i as i64)));
            let wide_copy = wide.clone();
            assert!(wide == wide_copy);
            (ok, s.stats().hazards)
        })
    }
    .unwrap();
    assert_eq!(join(receiver), (true, 0));
}

#[cfg(not(miri))]
#[test]
fn a_million_deep_list_on_the_default_stack() {
    for_each_backend!(deep_lists_in_a_strand);
}

#[test]
fn deep_portable_values_on_a_plain_thread() {
    let deep = portable_list(-1);
    let copy = deep.clone();
    assert_eq!(copy, deep);
    let other = portable_list(-2);
    assert_ne!(other, deep);
    assert_eq!(deep.byte_len(), 0);
    check_debug(&format!("{deep:?}"));
    drop((deep, copy, other));
}

#[cfg(feature = "serde")]
#[test]
fn deep_portable_values_through_serde() {
    let deep = portable_list(-1);
    // serde writes and reads a flat sequence of nodes, at any depth.
    let json = serde_json::to_string(&deep).unwrap();
    assert!(json.starts_with(&format!("[{{\"Variant\":[1,2]}},{{\"Int\":{}}}", DEPTH - 1)));
    let back: PortableValue = serde_json::from_str(&json).unwrap();
    assert_eq!(back, deep);
}

#[cfg(feature = "serde")]
#[test]
fn portable_serde_refuses_malformed_sequences_with_a_clear_error() {
    let short = serde_json::from_str::<PortableValue>(r#"[{"Variant":[1,2]},{"Int":1}]"#);
    let e = short.unwrap_err().to_string();
    assert!(e.contains("end before it does"), "{e}");
    let long = serde_json::from_str::<PortableValue>(r#"[{"Int":1},{"Int":2}]"#);
    let e = long.unwrap_err().to_string();
    assert!(e.contains("after the end"), "{e}");
    let v: PortableValue = serde_json::from_str(r#"[{"Variant":[3,0]}]"#).unwrap();
    assert_eq!(v, PortableVariant::new(3, vec![]).into());
}

/// A strand's deep values on a plain thread (no May), so Miri checks the iterative
/// drop, clone, comparison and import of arena memory.
fn deep_values_on_a_plain_thread<A: ValueAllocator>() {
    let s = Strand::<A>::local().unwrap();
    let deep = list(&s, -1);
    let copy = deep.clone();
    assert!(copy == deep);
    let p = s.export(&deep);
    assert!(copy.matches(&p));
    let back = s.import(p);
    assert!(back == deep);
    check_debug(&format!("{back:?}"));
}

#[test]
fn deep_strand_values_on_a_plain_thread() {
    for_each_backend!(deep_values_on_a_plain_thread);
}
