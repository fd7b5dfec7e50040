//! Nested variants built from arbitrary input: exporting one and importing it into
//! another strand gives an equal value, cloning gives an equal value, and dropping frees
//! everything (ASan sees leaks and double frees) on every safe backend.
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
        let v = build(&a, self.0, 0);
        let p: PortableValue = a.export(&v);
        assert!(v.matches(&p));
        let copy = b.import(p.clone());
        assert!(copy.matches(&p));
        let c = copy.clone();
        assert!(c.matches(&p));
        // (PortableValue equality treats NaN as unequal; `matches` compares bits.)
        assert!(c.matches(&b.export(&c)));
        drop((v, copy, c));
        assert_eq!(a.stats().hazards + b.stats().hazards, 0);
    }
}

fuzz_target!(|t: Tree| {
    backends::for_each(&mut Run(&t));
});
