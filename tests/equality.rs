//! Equality both ways: values that must be equal are, and values that differ in one
//! place (the tag, the number of fields, a field's kind or content, a float, a nested
//! field) are not, under `==` on values, variants, strings and byte strings, under
//! `Value::matches` against a portable copy, and under `==` on portable values. Runs
//! under Miri (no May).

mod common;
use strand_alloc::{Config, PortableValue, Strand, Value, ValueAllocator};

/// The base value, with one place changed by `change` (0: none).
fn value<A: ValueAllocator>(s: &Strand<A>, change: usize) -> Value<'_, A> {
    let nested_tag = if change == 10 { 3 } else { 2 };
    let nested = match change {
        11 => s.variant(nested_tag, [s.str("y").into()]),
        12 => s.variant(nested_tag, [s.str("x").into(), Value::Int(0)]),
        _ => s.variant(nested_tag, [s.str("x").into()]),
    };
    let mut fields: Vec<Value<'_, A>> = vec![
        if change == 3 {
            s.str("b").into()
        } else if change == 4 {
            s.bytes(b"a").into()
        } else {
            s.str("a").into()
        },
        s.bytes(if change == 5 { &[1, 3] } else { &[1, 2] }).into(),
        Value::Int(if change == 6 { 4 } else { 3 }),
        Value::Float(if change == 7 { 2.5 } else { 1.5 }),
        Value::Bool(change != 8),
        nested.into(),
    ];
    if change == 2 {
        fields.pop();
    }
    if change == 9 {
        fields.swap(0, 1);
    }
    s.variant(if change == 1 { 7 } else { 1 }, fields).into()
}

const CHANGES: [&str; 13] = [
    "none",
    "the tag",
    "the number of fields",
    "a string's content",
    "a string turned into bytes",
    "a byte string's content",
    "an integer",
    "a float",
    "a boolean",
    "the order of two fields",
    "a nested variant's tag",
    "a nested string",
    "a nested variant's number of fields",
];

fn both_ways<A: ValueAllocator>() {
    let s = Strand::<A>::local_with(Config::default()).unwrap();
    let base = value(&s, 0);
    let base_p: PortableValue = s.export(&base);
    assert!(base == value(&s, 0), "equal to its twin");
    assert!(base.matches(&base_p) && base_p == s.export(&value(&s, 0)));
    for (change, what) in CHANGES.iter().enumerate().skip(1) {
        let other = value(&s, change);
        let other_p = s.export(&other);
        // Both ways round: the comparison is symmetric.
        assert!(base.ne(&other) & other.ne(&base), "{what}: values equal");
        let (bv, ov) = (base.as_variant().unwrap(), other.as_variant().unwrap());
        assert!(bv.ne(ov) & ov.ne(bv), "{what}: variants equal");
        assert!(
            !base.matches(&other_p) && !other.matches(&base_p),
            "{what}: matches"
        );
        assert!(
            other.matches(&other_p),
            "{what}: a copy matches its original"
        );
        assert!(base_p != other_p, "{what}: portable values equal");
    }
    // Leaves of different kinds never compare equal.
    let leaves: Vec<Value<'_, A>> = vec![
        Value::Int(1),
        Value::Float(1.0),
        Value::Bool(true),
        s.str("1").into(),
        s.bytes(b"1").into(),
        s.variant(1, []).into(),
    ];
    for (i, a) in leaves.iter().enumerate() {
        for (j, b) in leaves.iter().enumerate() {
            assert_eq!(a == b, i == j, "{a:?} == {b:?}");
            assert_eq!(a.matches(&s.export(b)), i == j, "{a:?} matches {b:?}");
        }
    }
    // Floats: `==` compares numbers (NaN differs from itself, 0.0 equals -0.0);
    // `matches` compares bits (a NaN matches its own copy, 0.0 does not match -0.0).
    let nan = Value::<A>::Float(f64::NAN);
    assert!(nan != Value::Float(f64::NAN));
    assert!(nan.matches(&PortableValue::Float(f64::NAN)));
    assert!(Value::<A>::Float(0.0) == Value::Float(-0.0));
    assert!(!Value::<A>::Float(0.0).matches(&PortableValue::Float(-0.0)));
    // Strings and byte strings against their plain forms.
    let a = s.str("abc");
    assert!(a == "abc" && a == *"abc" && a != "abd" && a != *"ab");
    assert!(a == s.str("abc") && a != s.str("abd"));
    let b = s.bytes(b"abc");
    assert!(b == *b"abc".as_slice() && b != *b"abd".as_slice());
    assert!(b == s.bytes(b"abc") && b != s.bytes(b"ab"));
}

#[test]
fn values_that_differ_anywhere_are_unequal() {
    for_each_backend!(both_ways);
}

fn debug_text<A: ValueAllocator>() {
    let s = Strand::<A>::local().unwrap();
    let inner = s.variant(2, [s.str("x").into()]);
    let v = s.variant(
        7,
        [
            Value::Int(1),
            s.bytes(b"ab").into(),
            inner.into(),
            Value::Bool(true),
        ],
    );
    let want = "Variant#7(Int(1), Bytes([97, 98]), Variant#2(Str(\"x\")), Bool(true))";
    // The same text for the variant itself and for it as a value.
    assert_eq!(format!("{v:?}"), want, "{}", A::NAME);
    assert_eq!(format!("{:?}", Value::from(v)), want, "{}", A::NAME);
    assert_eq!(format!("{:?}", s.variant(0, [])), "Variant#0()");
}

#[test]
fn debug_text_lists_every_field_once_with_separators() {
    for_each_backend!(debug_text);
}
