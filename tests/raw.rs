//! Raw handles: a value given up as plain data and taken back, on every backend; every
//! refusal (another strand, a moved strand, a reset strand, and with `checked` a reset
//! arena) counted as a hazard and nothing read or released. Runs under Miri (no May).

mod common;
use strand_alloc::{Config, RawError, RawKind, RawValue, Strand, Value, ValueAllocator, Variant};

fn strand<A: ValueAllocator>() -> Strand<A> {
    Strand::<A>::local_with(Config::default()).unwrap()
}

/// A nested value: a variant holding a string, bytes, an integer and another variant.
fn nested<A: ValueAllocator>(s: &Strand<A>) -> Value<'_, A> {
    let inner = s.variant(2, [s.str("inner").into(), Value::Float(1.5)]);
    s.variant(
        1,
        [
            s.str("name").into(),
            s.bytes(&[0, 1, 2]).into(),
            Value::Int(-7),
            inner.into(),
        ],
    )
    .into()
}

fn round_trip<A: ValueAllocator>() {
    let s = strand::<A>();
    let expected = nested(&s);
    let used_before = s.stats().used;
    let v = nested(&s);
    let one = s.stats().used - used_before;
    assert!(one > 0);
    let raws: Vec<RawValue<A>> = vec![
        v.into_raw().unwrap(),
        Value::from(s.str("plain")).into_raw().unwrap(),
        Value::from(s.bytes(b"")).into_raw().unwrap(),
        RawValue::from(3),
        RawValue::from(true),
        RawValue::from(2.5),
    ];
    // Given up, not released: still counted as used.
    assert_eq!(s.stats().used - used_before, one + 5);
    let kinds: Vec<RawKind> = raws.iter().map(RawValue::kind).collect();
    use RawKind::*;
    assert_eq!(kinds, [Variant, Str, Bytes, Int, Bool, Float]);
    assert_eq!(raws[0].strand_id(), Some(s.id()));
    assert_eq!(raws[3].strand_id(), None);
    assert_eq!(
        (raws[3].as_int(), raws[4].as_bool(), raws[5].as_float()),
        (Some(3), Some(true), Some(2.5))
    );
    assert_eq!(raws[1].as_int(), None);
    for r in &raws {
        r.check(&s).unwrap();
    }
    // SAFETY: every handle was made from a live value of `s` just above; views are read
    // before anything is taken back.
    unsafe {
        {
            let view = raws[0].view(&s).unwrap();
            assert_eq!(*view, expected, "the view reads the whole nested value");
            assert_ne!(*view, Value::Int(-7));
            assert_eq!(raws[1].view(&s).unwrap().as_str(), Some("plain"));
            assert_eq!(format!("{:?}", raws[1].view(&s).unwrap()), "Str(\"plain\")");
            assert_eq!(format!("{:?}", raws[3]), "RawValue::Int(3)");
        }
        // A view releases nothing.
        assert_eq!(s.stats().used - used_before, one + 5);
        // Taken back once each, then dropped: everything released.
        for r in raws {
            drop(r.into_value(&s).unwrap());
        }
    }
    assert_eq!(s.stats().used, used_before);
    assert_eq!(s.stats().hazards, 0);
}

#[test]
fn a_value_given_up_and_taken_back_is_intact_and_released_once() {
    for_each_backend!(round_trip);
}

fn other_strand<A: ValueAllocator>() {
    let owner = strand::<A>();
    let other = strand::<A>();
    let raw = Value::from(owner.str("mine")).into_raw().unwrap();
    let used = owner.stats().used;
    let e = raw.check(&other).unwrap_err();
    assert_eq!(
        e,
        RawError::WrongStrand {
            owner: owner.id(),
            given: other.id()
        }
    );
    // SAFETY: the value is live; the handle is refused before anything is read.
    let refused = unsafe { raw.into_value(&other) };
    assert!(refused.is_err());
    assert_eq!(other.stats().hazards, 2, "both refusals counted");
    assert_eq!(owner.stats().hazards, 0);
    assert_eq!(owner.stats().used, used, "nothing released");
    // Scalars belong to no strand.
    RawValue::<A>::from(1).check(&other).unwrap();
    // SAFETY: the value is live and taken back once.
    drop(unsafe { raw.into_value(&owner) }.unwrap());
    assert_eq!(owner.stats().used, 0);
}

#[test]
fn a_handle_presented_to_another_strand_is_refused() {
    for_each_backend!(other_strand);
}

fn moved_strand<A: ValueAllocator>() {
    let s = strand::<A>();
    // An empty string: it owns no memory (a refused handle's value can never be released
    // again, and on global-malloc it would stay allocated), but it belongs to its strand.
    let raw = Value::from(s.str("")).into_raw().unwrap();
    // The strand moves in memory: values inside variants name its old address.
    let moved = Box::new(s);
    assert!(matches!(
        raw.check(&moved),
        Err(RawError::WrongStrand { .. })
    ));
    assert_eq!(moved.stats().hazards, 1);
}

#[test]
fn a_handle_of_a_strand_that_moved_is_refused() {
    for_each_backend!(moved_strand);
}

fn reset_strand<A: ValueAllocator>() {
    let mut s = strand::<A>();
    // The arenas give a value's memory back at the reset; global-malloc cannot (the
    // value was given up), so a refused handle's value would stay allocated there.
    let text = if A::NAME == "global-malloc" {
        ""
    } else {
        "before the reset"
    };
    let raw = Value::from(s.str(text)).into_raw().unwrap();
    let fresh_before = Value::from(s.bytes(text.as_bytes())).into_raw().unwrap();
    s.reset();
    let e = raw.check(&s).unwrap_err();
    assert_eq!(
        e,
        RawError::StrandReset {
            strand: s.id(),
            made_at: 0,
            now: 1
        }
    );
    // SAFETY: refused before anything is read.
    assert!(unsafe { fresh_before.view(&s) }.is_err());
    assert_eq!(s.stats().hazards, 2);
    // A handle made after the reset is good.
    let after = Value::from(s.str("after")).into_raw().unwrap();
    // SAFETY: live, taken back once.
    let v = unsafe { after.into_value(&s) }.unwrap();
    assert_eq!(v.as_str(), Some("after"));
}

#[test]
fn a_handle_made_before_a_reset_is_refused() {
    for_each_backend!(reset_strand);
}

/// A variant holding (at any depth) another strand's value cannot be given up: its handle
/// would be checked against one strand while the other could end.
fn foreign_fields<A: ValueAllocator>() {
    let a = strand::<A>();
    let raw = {
        let b = strand::<A>();
        let direct = Value::from(a.variant(0, [b.str("of b").into()]));
        let direct = direct.into_raw().expect_err("a field of b");
        let deep = a.variant(1, [a.variant(2, [b.bytes(b"of b").into()]).into()]);
        let deep = Value::from(deep)
            .into_raw()
            .expect_err("a field of b, two levels down");
        // A copy keeps its fields' strands: still mixed.
        assert!(deep.clone().into_raw().is_err());
        // Copied into `a` alone, it can be given up.
        let own = a.import(a.export(&deep));
        drop((direct, deep));
        own.into_raw().unwrap()
    };
    // `b` has ended; the handle names only `a`'s memory.
    // SAFETY: live, taken back once.
    let v = unsafe { raw.into_value(&a) }.unwrap();
    let inner = v.as_variant().unwrap().fields()[0].as_variant().unwrap();
    assert_eq!(inner.fields()[0], Value::Bytes(a.bytes(b"of b")));
    // A variant of `a`'s own values, nested, can.
    let own = a.variant(3, [a.variant(4, [a.str("own").into()]).into()]);
    let raw = Value::from(own).into_raw().unwrap();
    // SAFETY: live, taken back once.
    drop(unsafe { raw.into_value(&a) }.unwrap());
}

#[test]
fn a_value_holding_another_strands_value_is_not_given_up() {
    for_each_backend!(foreign_fields);
}

#[test]
fn handles_are_plain_data() {
    fn plain<T: Copy + Send + Sync + 'static>() {}
    plain::<RawValue<strand_alloc::DefaultBackend>>();
    let s = strand::<strand_alloc::DefaultBackend>();
    let v: Variant<'_, _> = s.variant(9, [Value::Int(1)]);
    let raw = Value::from(v).into_raw().unwrap();
    // A copy travels to another thread and back as data; only the owner reads it.
    let back = std::thread::spawn(move || raw).join().unwrap();
    // SAFETY: live, taken back once.
    let v = unsafe { back.into_value(&s) }.unwrap();
    assert_eq!(v.as_variant().map(|v| v.tag()), Some(9));
}

/// With `checked`, a handle whose arena generation the seed policy reset is a counted,
/// refused hazard: another strand on the same thread exits, and the seed resets the
/// thread's arena under the live value.
#[cfg(feature = "seed-arena")]
#[test]
fn a_handle_into_an_arena_the_seed_reset_is_a_counted_hazard() {
    use strand_alloc::SeedArena;
    std::thread::spawn(|| {
        let config = Config::default().with_threshold(1 << 20).unwrap();
        // SAFETY: nothing borrowed from a value is kept; the handle is only checked.
        let holder = unsafe { Strand::<SeedArena>::local_unchecked(config) };
        let raw = Value::from(holder.str("held across another's exit"))
            .into_raw()
            .unwrap();
        raw.check(&holder).unwrap();
        {
            // SAFETY: as above.
            let other = unsafe { Strand::<SeedArena>::local_unchecked(config) };
            drop(other.str("short-lived"));
        }
        let e = raw.check(&holder).unwrap_err();
        assert!(matches!(e, RawError::Hazard(_)), "{e:?}");
        // SAFETY: refused before anything is read; nothing is released.
        assert!(unsafe { raw.view(&holder) }.is_err());
        assert_eq!(holder.stats().hazards, 2);
    })
    .join()
    .unwrap();
}
