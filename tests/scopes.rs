//! Scopes on every backend: values read back, nesting, the typed escapes, the figures
//! (scopes, bytes given back, escapes), leaked values, large values, the strand limit,
//! a panic inside a scope, and a scope spanning a migration. The compile-time half (a
//! value cannot leave its scope without a copy) is the `scope` module's compile-fail
//! examples; the real heap is checked in `tests/scope_memory.rs`.

mod common;
use strand_alloc::{AllocError, Config, Strand, Value, ValueAllocator};

/// Whether the backend gives scopes an arena of their own.
fn arena<A: ValueAllocator>() -> bool {
    A::SCOPE_ARENA
}

fn values_and_figures<A: ValueAllocator>() {
    let s = Strand::<A>::local().unwrap();
    let outside = s.str("made on the strand");
    let before = s.stats();
    let sizes = s.scope(|sc| {
        let a = sc.str("alpha");
        let b = sc.bytes(&[1, 2, 3, 4]);
        assert_eq!(a.as_str(), "alpha");
        assert_eq!(b.as_slice(), &[1, 2, 3, 4]);
        assert_eq!(a.is_scoped(), arena::<A>(), "{}", A::NAME);
        assert_eq!(b.is_scoped(), arena::<A>(), "{}", A::NAME);
        let during = s.stats();
        assert_eq!(during.used - before.used, 9, "{}: counted as used", A::NAME);
        assert_eq!(during.allocs - before.allocs, 2, "{}", A::NAME);
        // A copy of a scope value stays in the scope.
        let c = a.clone();
        assert_eq!((c.as_str(), c.is_scoped()), ("alpha", arena::<A>()));
        drop(b);
        assert_eq!(
            s.stats().used - before.used,
            10,
            "{}: a drop uncounts",
            A::NAME
        );
        a.len() + c.len() + 4
    });
    let after = s.stats();
    assert_eq!(
        after.used,
        before.used,
        "{}: nothing of the scope is used",
        A::NAME
    );
    assert_eq!(after.scopes - before.scopes, 1);
    let returned = if arena::<A>() { sizes as u64 } else { 0 };
    assert_eq!(
        after.scope_bytes_returned - before.scope_bytes_returned,
        returned,
        "{}: the bytes handed out, given back at the end (none on the heap backend)",
        A::NAME
    );
    assert_eq!((after.escapes, after.escaped_bytes), (0, 0));
    assert_eq!(outside.as_str(), "made on the strand");
}

#[test]
fn values_of_a_scope_read_back_and_are_counted_until_it_ends() {
    for_each_backend!(values_and_figures);
}

fn escapes<A: ValueAllocator>() {
    let s = Strand::<A>::local().unwrap();
    let (kept, state) = s.scope(|outer| {
        let (from_inner, text) = outer.scope(|inner| {
            let v = inner.str("to the outer scope");
            let up = inner.escape(&v);
            // The escaped copy lives in the outer scope's arena.
            assert_eq!(up.is_scoped(), arena::<A>(), "{}", A::NAME);
            (up, v.as_str().to_owned())
        });
        assert_eq!(from_inner.as_str(), text);
        let kept = outer.escape(&from_inner);
        assert!(!kept.is_scoped(), "{}: on the strand", A::NAME);
        let state = outer.to_heap(&outer.str("state"));
        assert!(state.is_heap() && !state.is_scoped(), "{}", A::NAME);
        (kept, state)
    });
    assert_eq!(
        (kept.as_str(), state.as_str()),
        ("to the outer scope", "state")
    );
    let f = s.stats();
    assert_eq!(f.scopes, 2);
    assert_eq!(f.escapes, 3, "{}", A::NAME);
    assert_eq!(f.escaped_bytes, 18 + 18 + 5, "{}", A::NAME);
    assert_eq!(f.used, 18 + 5, "{}: what escaped to the strand", A::NAME);
    drop(state);
    assert_eq!(
        s.stats().used,
        18,
        "{}: the heap copy uncounts at its drop",
        A::NAME
    );
}

#[test]
fn values_escape_one_level_at_a_time_and_onto_the_heap() {
    for_each_backend!(escapes);
}

fn leaked_and_large<A: ValueAllocator>() {
    let cfg = Config::default()
        .with_threshold(64 * 1024)
        .unwrap()
        .with_large_value_size(Some(1024))
        .unwrap();
    let s = Strand::<A>::local_with(cfg).unwrap();
    // On global-malloc a leaked value stays allocated, as any leaked value does: Miri
    // would report that leak, so it runs the rest there.
    let leak = A::SCOPE_ARENA || !cfg!(miri);
    s.scope(|sc| {
        if leak {
            std::mem::forget(sc.str("leaked"));
        }
        let large = sc.str(&"L".repeat(2000));
        assert!(
            !large.is_scoped(),
            "{}: a large value is the strand's",
            A::NAME
        );
        assert_eq!(
            s.stats().large_values,
            u64::from(A::LARGE_APART),
            "{}",
            A::NAME
        );
    });
    let f = s.stats();
    // On global-malloc the leaked value stays used, too.
    let leaked = if arena::<A>() || !leak { 0 } else { 6 };
    assert_eq!(f.used, leaked, "{}: the leaked scope value: {f:?}", A::NAME);
}

#[test]
fn a_leaked_value_ends_with_its_scope_and_a_large_value_is_the_strands() {
    for_each_backend!(leaked_and_large);
}

fn limit<A: ValueAllocator>() {
    let cfg = Config::default().with_strand_limit(Some(100)).unwrap();
    let s = Strand::<A>::local_with(cfg).unwrap();
    s.scope(|sc| {
        let a = sc.str(&"a".repeat(60));
        let err = sc.try_str(&"b".repeat(41)).unwrap_err();
        assert!(matches!(err, AllocError::LimitExceeded { .. }), "{err}");
        let err = sc.try_to_heap(&a).unwrap_err();
        assert!(matches!(err, AllocError::LimitExceeded { .. }), "{err}");
        let b = sc.str(&"b".repeat(40));
        assert_eq!(a.len() + b.len(), 100);
    });
    assert_eq!(s.stats().used, 0);
}

#[test]
fn the_strand_limit_counts_a_scopes_values() {
    for_each_backend!(limit);
}

fn panics<A: ValueAllocator>() {
    let s = Strand::<A>::local().unwrap();
    // A first scope warms the arena, so the panicking ones reserve nothing new.
    s.scope(|sc| drop(sc.str("warm")));
    let before = s.stats();
    for _ in 0..100 {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s.scope(|sc| {
                let _v: Vec<_> = (0..16).map(|i| sc.str(&format!("value {i}"))).collect();
                panic!("inside the scope");
            })
        }));
        assert!(r.is_err());
    }
    let after = s.stats();
    assert_eq!(after.used, before.used, "{}", A::NAME);
    assert_eq!(after.reserved, before.reserved, "{}: {after:?}", A::NAME);
    assert_eq!(after.scopes - before.scopes, 100);
    let v = s.scope(|sc| sc.escape(&sc.str("after the panics")));
    assert_eq!(v.as_str(), "after the panics");
}

#[test]
fn a_panic_inside_a_scope_leaves_no_memory_or_figures_behind() {
    for_each_backend!(panics);
}

fn nested_deeply<A: ValueAllocator>() {
    let s = Strand::<A>::local().unwrap();
    fn level<A: ValueAllocator>(sc: &strand_alloc::Scope<'_, A>, depth: usize) -> usize {
        let here = sc.str(&format!("depth {depth}"));
        let below = if depth == 0 {
            0
        } else {
            sc.scope(|inner| level(inner, depth - 1))
        };
        assert_eq!(here.as_str(), format!("depth {depth}"));
        below + 1
    }
    assert_eq!(s.scope(|sc| level(sc, 10)), 11);
    let f = s.stats();
    assert_eq!((f.scopes, f.used), (11, 0), "{}", A::NAME);
    // More levels than the strand keeps warm arenas for: the extra ones are freed.
    let reserved = f.reserved;
    assert_eq!(s.scope(|sc| level(sc, 10)), 11);
    assert_eq!(s.stats().reserved, reserved, "{}", A::NAME);
}

#[test]
fn scopes_nest() {
    for_each_backend!(nested_deeply);
}

/// A scope's values stay intact while the strand moves between OS threads, and its end
/// on another thread gives its memory back all the same.
#[cfg(not(miri))]
fn across_migrations<A: ValueAllocator>() {
    use strand_alloc::{hop, Builder};
    let handles: Vec<_> = (0..8)
        .map(|n| {
            // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across
            // a point where the strand can move.
            unsafe {
                Builder::<A>::new()
                    .spawn(move |s| {
                        let mut threads = std::collections::BTreeSet::new();
                        let mut state = s.str("");
                        for m in 0..50 {
                            state = s.scope(|sc| {
                                let parts: Vec<_> =
                                    (0..8).map(|i| sc.str(&format!("{n}/{m}/{i}"))).collect();
                                threads.insert(strand_alloc::thread::thread_index());
                                hop();
                                threads.insert(strand_alloc::thread::thread_index());
                                for (i, p) in parts.iter().enumerate() {
                                    assert_eq!(p.as_str(), format!("{n}/{m}/{i}"));
                                }
                                sc.to_heap(&sc.str(&format!("{}{}", state.len(), parts.len())))
                            });
                        }
                        let f = s.stats();
                        assert_eq!(f.scopes, 50);
                        assert_eq!(f.used, state.len() as i64);
                        threads.len()
                    })
                    .expect("spawned")
            }
        })
        .collect();
    let threads: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(threads > 8, "{}: the strands moved ({threads})", A::NAME);
}

#[cfg(not(miri))]
#[test]
fn a_scope_spans_migrations() {
    for_each_backend!(across_migrations);
}

/// A list `depth` cells deep, each cell `[Str, Bytes, Int, rest]`, made in the scope.
fn list<'v, A: ValueAllocator>(
    s: &'v Strand<A>,
    sc: &'v strand_alloc::Scope<'_, A>,
    depth: usize,
) -> Value<'v, A> {
    let mut list = Value::Int(-1);
    for i in 0..depth {
        let fields = [
            sc.str(&format!("cell {i}")).into(),
            sc.bytes(&[i as u8; 3]).into(),
            Value::Int(i as i64),
            list,
        ];
        list = s.variant(7, fields).into();
    }
    list
}

/// Checks a list made by [`list`], iteratively; returns the bytes of its strings and
/// whether every string was in a scope's arena.
fn check_list<A: ValueAllocator>(v: &Value<'_, A>, depth: usize) -> (usize, bool) {
    let (mut bytes, mut scoped, mut cell) = (0, true, v);
    for i in (0..depth).rev() {
        let var = cell.as_variant().expect("a cell");
        let [Value::Str(s), Value::Bytes(b), Value::Int(n), rest] = var.fields() else {
            panic!("cell {i}: {:?}", var.fields().len());
        };
        assert_eq!(
            (s.as_str(), b.as_slice(), *n),
            (&*format!("cell {i}"), &[i as u8; 3][..], i as i64)
        );
        bytes += s.len() + b.len();
        scoped &= s.is_scoped() && b.is_scoped();
        cell = rest;
    }
    assert_eq!(cell.as_int(), Some(-1));
    (bytes, scoped)
}

fn deep_escape<A: ValueAllocator>(depth: usize) {
    let s = Strand::<A>::local().unwrap();
    let kept = s.scope(|outer| {
        // Into the enclosing scope: its strings are the outer scope's.
        let up = outer.scope(|inner| inner.escape_value(&list(&s, inner, depth)));
        let (bytes, scoped) = check_list(&up, depth);
        assert_eq!(scoped, A::SCOPE_ARENA, "{}", A::NAME);
        assert_eq!(s.stats().escaped_bytes, bytes as u64);
        // And on to the strand.
        outer.escape_value(&up)
    });
    let (bytes, scoped) = check_list(&kept, depth);
    assert!(!scoped, "{}: the strand's", A::NAME);
    let f = s.stats();
    assert_eq!(
        (f.escapes, f.escaped_bytes),
        (2, 2 * bytes as u64),
        "{}",
        A::NAME
    );
    drop(kept);
    assert_eq!(s.stats().used, 0, "{}", A::NAME);
}

#[test]
fn a_deep_value_escapes_one_level_at_a_time() {
    fn each<A: ValueAllocator>() {
        deep_escape::<A>(if cfg!(miri) { 20 } else { 1_000 });
    }
    for_each_backend!(each);
}

/// A list 100,000 cells deep escapes inside a spawned strand, on its default stack.
#[cfg(not(miri))]
#[test]
fn a_deep_value_escapes_on_a_strands_default_stack() {
    fn each<A: ValueAllocator>() {
        // SAFETY: the closure keeps no thread-local borrow and nothing `!Send`.
        let h = unsafe { strand_alloc::Builder::<A>::new().spawn(|_| deep_escape::<A>(100_000)) };
        h.expect("spawned").join().unwrap();
    }
    for_each_backend!(each);
}

/// Whether every string, byte string and field array of a list made by [`list`] is a
/// heap allocation of its own.
fn all_on_heap<A: ValueAllocator>(v: &Value<'_, A>) -> bool {
    let mut cell = v;
    let mut heap = true;
    while let Some(var) = cell.as_variant() {
        let [Value::Str(s), Value::Bytes(b), _, rest] = var.fields() else {
            panic!("a cell of four fields");
        };
        heap &= var.is_heap() && s.is_heap() && b.is_heap();
        cell = rest;
    }
    heap
}

fn deep_to_heap<A: ValueAllocator>(depth: usize) {
    let s = Strand::<A>::local().unwrap();
    let value_size = std::mem::size_of::<Value<'_, A>>();
    let kept = s.scope(|sc| {
        let original = list(&s, sc, depth);
        assert!(!all_on_heap(&original), "{}: made in the scope", A::NAME);
        sc.to_heap_value(&original)
    });
    let (bytes, scoped) = check_list(&kept, depth);
    assert!(!scoped && all_on_heap(&kept), "{}", A::NAME);
    let f = s.stats();
    assert_eq!(
        (f.escapes, f.escaped_bytes),
        (1, bytes as u64),
        "{}: one escape, of every string's bytes",
        A::NAME
    );
    let copy = bytes + depth * 4 * value_size;
    assert_eq!(f.used, copy as i64, "{}: the heap copy is used", A::NAME);
    // A clone of it is on the heap too.
    let clone = kept.as_variant().unwrap().try_clone().unwrap();
    assert!(clone.is_heap(), "{}", A::NAME);
    drop(clone);
    assert_eq!(s.stats().used, copy as i64, "{}", A::NAME);
    let reserved = s.stats().reserved;
    drop(kept);
    let f = s.stats();
    assert_eq!(f.used, 0, "{}", A::NAME);
    assert_eq!(
        reserved - f.reserved,
        copy as i64,
        "{}: the heap copy is given back as it drops",
        A::NAME
    );
}

#[test]
fn a_deep_value_goes_onto_the_heap() {
    fn each<A: ValueAllocator>() {
        deep_to_heap::<A>(if cfg!(miri) { 20 } else { 1_000 });
    }
    for_each_backend!(each);
}

/// A list 100,000 cells deep goes onto the heap inside a spawned strand, on its default
/// stack.
#[cfg(not(miri))]
#[test]
fn a_deep_value_goes_onto_the_heap_on_a_strands_default_stack() {
    fn each<A: ValueAllocator>() {
        // SAFETY: the closure keeps no thread-local borrow and nothing `!Send`.
        let h = unsafe { strand_alloc::Builder::<A>::new().spawn(|_| deep_to_heap::<A>(100_000)) };
        h.expect("spawned").join().unwrap();
    }
    for_each_backend!(each);
}
