//! The shared backend checks (`tests/common/shared.rs`) on every backend compiled in.

mod common;
use common::*;

#[test]
fn every_backend_values_and_exact_figures() {
    for_each_backend!(values_and_exact_figures);
}

#[cfg(not(miri))]
#[test]
fn every_backend_strands_move_and_report() {
    for_each_backend!(strands_move_and_report);
}

#[cfg(not(miri))]
#[test]
fn every_backend_deep_values() {
    for_each_backend!(deep_values);
}

/// A value says whether its bytes live on the global heap (adopted, or imported) or in
/// the strand's backend (made there, large values included).
fn where_values_live<A: strand_alloc::ValueAllocator>() {
    use strand_alloc::{Bytes, PortableValue, Str, Strand, Value};
    let s = Strand::<A>::local().unwrap();
    assert!(!s.str("made here").is_heap());
    let large = s.config().large_value_size() + 1;
    assert!(
        !s.str(&"L".repeat(large)).is_heap(),
        "a large value is the strand's"
    );
    assert!(Str::from_heap("adopted".into(), &s).is_heap());
    assert!(Bytes::from_heap(vec![1, 2, 3].into(), &s).is_heap());
    assert!(
        !Str::from_heap("".into(), &s).is_heap(),
        "no bytes, nowhere"
    );
    let sent = s.import(PortableValue::Str("sent".into()));
    assert!(matches!(&sent, Value::Str(v) if v.is_heap() && v.as_bytes().is_heap()));
}

#[test]
fn values_say_where_their_bytes_live() {
    for_each_backend!(where_values_live);
}
