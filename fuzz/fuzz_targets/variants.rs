//! Nested variants built from arbitrary input: the value built, its export, its import
//! into another strand and a clone of that are each walked against the input tree
//! itself (not compared with one another by the library), and dropping frees everything
//! (ASan sees leaks and double frees) on every safe backend.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Config, PortableValue, Strand, Value, ValueAllocator};

#[derive(Debug, Clone, Arbitrary)]
enum Tree {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Bytes(Vec<u8>),
    Node(u32, Vec<Tree>),
}

fn build<'s, A: ValueAllocator>(s: &'s Strand<A>, t: &Tree, depth: usize) -> Value<'s, A> {
    match t {
        Tree::Int(i) => Value::Int(*i),
        Tree::Float(x) => Value::Float(*x),
        Tree::Bool(b) => Value::Bool(*b),
        Tree::Str(x) => s.str(x).into(),
        Tree::Bytes(b) => s.bytes(b).into(),
        Tree::Node(tag, kids) if depth < 8 => {
            let fields: Vec<Value<'s, A>> = kids
                .iter()
                .take(16)
                .map(|k| build(s, k, depth + 1))
                .collect();
            s.variant(*tag, fields).into()
        }
        Tree::Node(tag, _) => s.variant(*tag, []).into(),
    }
}

/// Whether `v` is the value `build` makes of `t` at `depth`: compared with the input,
/// floats by their bits.
fn same<A: ValueAllocator>(v: &Value<'_, A>, t: &Tree, depth: usize) -> bool {
    match (v, t) {
        (Value::Int(a), Tree::Int(b)) => a == b,
        (Value::Float(a), Tree::Float(b)) => a.to_bits() == b.to_bits(),
        (Value::Bool(a), Tree::Bool(b)) => a == b,
        (Value::Str(a), Tree::Str(b)) => a.as_str() == b.as_str(),
        (Value::Bytes(a), Tree::Bytes(b)) => a.as_slice() == &b[..],
        (Value::Variant(a), Tree::Node(tag, kids)) => {
            let kids = if depth < 8 {
                &kids[..kids.len().min(16)]
            } else {
                &[]
            };
            let f = a.fields();
            a.tag() == *tag
                && f.len() == kids.len()
                && f.iter().zip(kids).all(|(f, k)| same(f, k, depth + 1))
        }
        _ => false,
    }
}

/// The same for a portable value.
fn same_portable(p: &PortableValue, t: &Tree, depth: usize) -> bool {
    match (p, t) {
        (PortableValue::Int(a), Tree::Int(b)) => a == b,
        (PortableValue::Float(a), Tree::Float(b)) => a.to_bits() == b.to_bits(),
        (PortableValue::Bool(a), Tree::Bool(b)) => a == b,
        (PortableValue::Str(a), Tree::Str(b)) => **a == **b,
        (PortableValue::Bytes(a), Tree::Bytes(b)) => **a == b[..],
        (PortableValue::Variant(a), Tree::Node(tag, kids)) => {
            let kids = if depth < 8 {
                &kids[..kids.len().min(16)]
            } else {
                &[]
            };
            a.tag == *tag
                && a.fields.len() == kids.len()
                && a.fields
                    .iter()
                    .zip(kids)
                    .all(|(f, k)| same_portable(f, k, depth + 1))
        }
        _ => false,
    }
}

struct Run<'a>(&'a Tree);

impl BackendVisitor for Run<'_> {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        if !A::SAFE {
            return;
        }
        let cfg = Config::default().with_threshold(16 * 1024).unwrap();
        let a = Strand::<A>::local_with(cfg).unwrap();
        let b = Strand::<A>::local_with(cfg).unwrap();
        let t = self.0;
        let v = build(&a, t, 0);
        assert!(same(&v, t, 0), "built {v:?} from {t:?}");
        let p: PortableValue = a.export(&v);
        assert!(same_portable(&p, t, 0), "exported {p:?} from {t:?}");
        let copy = b.import(p.clone());
        assert!(same(&copy, t, 0), "imported {copy:?} from {t:?}");
        let c = copy.clone();
        assert!(same(&c, t, 0), "cloned {c:?} from {t:?}");
        // And the library's own comparison agrees (`matches` compares floats by bits).
        assert!(v.matches(&p) && c.matches(&b.export(&c)));
        drop((v, copy, c));
        assert_eq!(a.stats().hazards + b.stats().hazards, 0);
    }
}

fuzz_target!(|t: Tree| {
    backends::for_each(&mut Run(&t));
});
