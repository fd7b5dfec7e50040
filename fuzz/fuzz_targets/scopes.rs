//! Scopes against every safe backend: values made in nested scopes (at most
//! `MAX_DEPTH` deep), dropped, copied out one level (`escape`) or onto the heap
//! (`to_heap`), or wrapped in variants and copied onto the heap whole (`to_heap_value`),
//! with a strand's own values beside them. Every live value is compared with
//! the text it was made from (a plain model kept here) after every step; when the input
//! ends, the strand holds exactly its own values' bytes, and `checked` never sees a
//! hazard.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::slice::Iter;
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Config, Scope, Str, Strand, Value, ValueAllocator};

#[derive(Debug, Arbitrary)]
enum Op {
    /// Make a string in the innermost scope (on the strand when no scope is open);
    /// `big` makes it past the large-value size.
    Make { len: u16, big: bool },
    /// Drop a value of the innermost level.
    Drop { at: u16 },
    /// Copy a value of the innermost scope to the level that encloses it.
    Escape { at: u16 },
    /// Copy a value of the innermost scope onto the heap, into the enclosing level.
    Heap { at: u16 },
    /// Wrap a value of the innermost scope in `depth` variants and copy the whole onto
    /// the heap, the string inside it into the enclosing level.
    HeapDeep { at: u16, depth: u8 },
    /// Open a scope (ignored at `MAX_DEPTH`).
    Enter,
    /// Close the innermost scope.
    Leave,
}

#[derive(Debug, Arbitrary)]
struct Input {
    threshold_kib: u16,
    ops: Vec<Op>,
}

/// Scopes nest at most this deep (a bound of the interpreter's recursion, whatever the
/// input says).
const MAX_DEPTH: usize = 4;

fn text(serial: usize, len: usize) -> String {
    let c = [b'a' + (serial % 26) as u8];
    std::str::from_utf8(&c).unwrap().repeat(len)
}

type Values<'v, A> = Vec<(Str<'v, A>, String)>;

fn check<A: ValueAllocator>(values: &Values<'_, A>) {
    for (v, t) in values {
        assert_eq!(v.try_as_str().unwrap(), t);
    }
}

fn pick<T>(values: &[T], at: u16) -> Option<usize> {
    (!values.is_empty()).then(|| at as usize % values.len())
}

/// Runs ops in scope `sc` until a `Leave` or the end; escapes go to `up`.
fn level<'p, A: ValueAllocator>(
    sc: &Scope<'p, A>,
    depth: usize,
    ops: &mut Iter<'_, Op>,
    up: &mut Values<'p, A>,
    serial: &mut usize,
) {
    let mut here: Values<'_, A> = Vec::new();
    while let Some(op) = ops.next() {
        *serial += 1;
        match op {
            Op::Make { len, big } => {
                let len = *len as usize % 2049 * if *big { 16 } else { 1 };
                let t = text(*serial, len);
                here.push((sc.str(&t), t));
            }
            Op::Drop { at } => {
                if let Some(i) = pick(&here, *at) {
                    here.swap_remove(i);
                }
            }
            Op::Escape { at } | Op::Heap { at } => {
                if let Some(i) = pick(&here, *at) {
                    let (v, t) = &here[i];
                    let copy = if matches!(op, Op::Escape { .. }) {
                        sc.escape(v)
                    } else {
                        sc.to_heap(v)
                    };
                    up.push((copy, t.clone()));
                }
            }
            Op::HeapDeep { at, depth: wraps } => {
                if let Some(i) = pick(&here, *at) {
                    let (v, t) = &here[i];
                    let s = v.strand();
                    let mut value: Value<'_, A> = v.clone().into();
                    for k in 0..*wraps % 16 {
                        value = s.variant(u32::from(k), [value, Value::Int(i64::from(k))]).into();
                    }
                    let copy = sc.to_heap_value(&value);
                    let mut cell = &copy;
                    while let Some(var) = cell.as_variant() {
                        assert!(var.is_heap(), "a variant copied onto the heap");
                        cell = &var.fields()[0];
                    }
                    let Value::Str(inside) = cell else {
                        panic!("the string at the bottom: {cell:?}")
                    };
                    assert!(t.is_empty() || inside.is_heap(), "a string copied onto the heap");
                    up.push((inside.clone(), t.clone()));
                }
            }
            Op::Enter if depth < MAX_DEPTH => {
                sc.scope(|inner| level(inner, depth + 1, ops, &mut here, serial));
            }
            Op::Enter => {}
            Op::Leave => return,
        }
        check(&here);
        check(up);
    }
}

struct Run<'a>(&'a Input);

impl BackendVisitor for Run<'_> {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        if !A::SAFE {
            return;
        }
        let threshold = (self.0.threshold_kib as usize % 256 + 1) * 1024;
        let cfg = Config::default().with_threshold(threshold).unwrap();
        let s = Strand::<A>::local_with(cfg).unwrap();
        let mut own: Values<'_, A> = Vec::new();
        let mut ops = self.0.ops.iter();
        let mut serial = 0;
        // Ops outside any scope make values on the strand; an `Enter` opens an
        // outermost scope, whose escapes come here.
        let mut steps = 0;
        while let Some(op) = ops.next() {
            steps += 1;
            if steps > 256 {
                break;
            }
            serial += 1;
            match op {
                Op::Make { len, big } => {
                    let len = *len as usize % 2049 * if *big { 16 } else { 1 };
                    let t = text(serial, len);
                    own.push((s.str(&t), t));
                }
                Op::Drop { at } => {
                    if let Some(i) = pick(&own, *at) {
                        own.swap_remove(i);
                    }
                }
                Op::Enter => s.scope(|sc| level(sc, 1, &mut ops, &mut own, &mut serial)),
                _ => {}
            }
            check(&own);
        }
        let held: usize = own.iter().map(|(_, t)| t.len()).sum();
        let f = s.stats();
        assert_eq!(f.used, held as i64, "{}: {f:?}", A::NAME);
        assert_eq!(f.hazards, 0, "{}", A::NAME);
        drop(own);
        assert_eq!(s.stats().used, 0, "{}", A::NAME);
        drop(s);
        A::release_idle();
    }
}

fuzz_target!(|input: Input| {
    backends::for_each(&mut Run(&input));
});
