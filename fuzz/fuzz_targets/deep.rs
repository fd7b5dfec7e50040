//! Deep values from arbitrary input: a spine of variant cells up to 48 deep, each cell's
//! tag and side fields taken from the input in turn. On one long-lived thread with a
//! strand's 32 KiB stack, every safe backend builds the value, clones, compares, exports,
//! imports and drops it (formatting and the JSON round trip once per input, since they
//! walk the portable value the same way), and each result is walked and compared with
//! the input itself, not with another result of the library.
//!
//! Depth is kept small so that the target runs over a thousand inputs a second; that no
//! walk recurses per level is shown at a million levels by `tests/deep.rs`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Mutex, OnceLock};
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Config, PortableValue, Strand, Value, ValueAllocator};

#[derive(Debug, Clone, Arbitrary)]
enum Leaf {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone, Arbitrary)]
struct Cell {
    tag: u32,
    before: Vec<Leaf>,
    after: Vec<Leaf>,
}

#[derive(Debug, Clone, Arbitrary)]
struct Input {
    depth: u16,
    cells: Vec<Cell>,
    tail: Leaf,
    threshold_kib: u8,
}

impl Input {
    fn depth(&self) -> usize {
        if self.cells.is_empty() {
            0
        } else {
            self.depth as usize % 49
        }
    }

    /// The cell at `level` (0 is the outermost), its side fields capped at 3 each.
    fn cell(&self, level: usize) -> (u32, &[Leaf], &[Leaf]) {
        let c = &self.cells[level % self.cells.len()];
        (
            c.tag,
            &c.before[..c.before.len().min(3)],
            &c.after[..c.after.len().min(3)],
        )
    }

    /// Whether a NaN is in the value (only the cells and side fields it uses).
    fn has_nan(&self) -> bool {
        let nan = |l: &Leaf| matches!(l, Leaf::Float(x) if x.is_nan());
        let used = self.depth().min(self.cells.len());
        nan(&self.tail)
            || (0..used).any(|level| {
                let (_, before, after) = self.cell(level);
                before.iter().chain(after).any(nan)
            })
    }
}

fn leaf<'s, A: ValueAllocator>(s: &'s Strand<A>, l: &Leaf) -> Value<'s, A> {
    match l {
        Leaf::Int(i) => Value::Int(*i),
        Leaf::Float(x) => Value::Float(*x),
        Leaf::Bool(b) => Value::Bool(*b),
        Leaf::Str(t) => s.str(t).into(),
        Leaf::Bytes(b) => s.bytes(b).into(),
    }
}

fn build<'s, A: ValueAllocator>(s: &'s Strand<A>, input: &Input) -> Value<'s, A> {
    let mut v = leaf(s, &input.tail);
    for level in (0..input.depth()).rev() {
        let (tag, before, after) = input.cell(level);
        let mut fields: Vec<Value<'s, A>> = before.iter().map(|l| leaf(s, l)).collect();
        fields.push(v);
        fields.extend(after.iter().map(|l| leaf(s, l)));
        v = s.variant(tag, fields).into();
    }
    v
}

fn value_is<A: ValueAllocator>(v: &Value<'_, A>, l: &Leaf) -> bool {
    match (v, l) {
        (Value::Int(a), Leaf::Int(b)) => a == b,
        (Value::Float(a), Leaf::Float(b)) => a.to_bits() == b.to_bits(),
        (Value::Bool(a), Leaf::Bool(b)) => a == b,
        (Value::Str(a), Leaf::Str(b)) => a.as_str().as_bytes() == b.as_bytes(),
        (Value::Bytes(a), Leaf::Bytes(b)) => a.as_slice() == &b[..],
        _ => false,
    }
}

fn portable_is(v: &PortableValue, l: &Leaf) -> bool {
    match (v, l) {
        (PortableValue::Int(a), Leaf::Int(b)) => a == b,
        (PortableValue::Float(a), Leaf::Float(b)) => a.to_bits() == b.to_bits(),
        (PortableValue::Bool(a), Leaf::Bool(b)) => a == b,
        (PortableValue::Str(a), Leaf::Str(b)) => **a == **b,
        (PortableValue::Bytes(a), Leaf::Bytes(b)) => **a == b[..],
        _ => false,
    }
}

/// Walks a strand value down its spine and checks every cell against the input.
fn check_value<A: ValueAllocator>(mut v: &Value<'_, A>, input: &Input) {
    for level in 0..input.depth() {
        let (tag, before, after) = input.cell(level);
        let Value::Variant(var) = v else {
            panic!("level {level} is not a variant")
        };
        let f = var.fields();
        assert_eq!((var.tag(), f.len()), (tag, before.len() + 1 + after.len()));
        for (x, l) in f.iter().zip(before) {
            assert!(value_is(x, l), "level {level}: {x:?} is not {l:?}");
        }
        for (x, l) in f[before.len() + 1..].iter().zip(after) {
            assert!(value_is(x, l), "level {level}: {x:?} is not {l:?}");
        }
        v = &f[before.len()];
    }
    assert!(
        value_is(v, &input.tail),
        "the tail {v:?} is not {:?}",
        input.tail
    );
}

/// The same walk over a portable value.
fn check_portable(mut v: &PortableValue, input: &Input) {
    for level in 0..input.depth() {
        let (tag, before, after) = input.cell(level);
        let PortableValue::Variant(var) = v else {
            panic!("level {level} is not a variant")
        };
        let f = &var.fields;
        assert_eq!((var.tag, f.len()), (tag, before.len() + 1 + after.len()));
        assert!(f.iter().zip(before).all(|(x, l)| portable_is(x, l)));
        assert!(f[before.len() + 1..]
            .iter()
            .zip(after)
            .all(|(x, l)| portable_is(x, l)));
        v = &f[before.len()];
    }
    assert!(portable_is(v, &input.tail));
}

/// The input, and whether its JSON round trip was checked yet (the portable value is the
/// same whatever the backend, so once per input is enough).
struct Run<'a>(&'a Input, bool);

impl BackendVisitor for Run<'_> {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        if !A::SAFE {
            return;
        }
        let input = self.0;
        let threshold = (usize::from(input.threshold_kib) + 1) << 10;
        let cfg = Config::default().with_threshold(threshold).unwrap();
        let a = Strand::<A>::local_with(cfg).unwrap();
        let b = Strand::<A>::local_with(cfg).unwrap();
        let v = build(&a, input);
        check_value(&v, input);
        let copy = v.clone();
        check_value(&copy, input);
        assert_eq!(copy == v, !input.has_nan());
        if !self.1 {
            // `Debug` walks the value the same way on every backend: once per input.
            let text = format!("{v:?}");
            assert!(text.len() < 1 << 20);
        }
        let p = a.export(&v);
        check_portable(&p, input);
        assert_eq!(p.clone() == p, !input.has_nan());
        drop((v, copy));
        if !self.1 {
            self.1 = true;
            let json = serde_json::to_string(&p).unwrap();
            if !input.has_nan() && !json.contains("null") {
                let back: PortableValue = serde_json::from_str(&json).unwrap();
                check_portable(&back, input);
            }
        }
        let imported = b.import(p);
        check_value(&imported, input);
        assert_eq!(b.stats().hazards + a.stats().hazards, 0);
    }
}

/// One long-lived thread with a strand's stack size (32 KiB) runs every input: recursion
/// per level would overflow it, and no thread is made per input.
fn worker() -> &'static Mutex<(Sender<Input>, Receiver<()>)> {
    static WORKER: OnceLock<Mutex<(Sender<Input>, Receiver<()>)>> = OnceLock::new();
    WORKER.get_or_init(|| {
        let (inputs, on_worker) = channel::<Input>();
        let (done, finished) = channel();
        std::thread::Builder::new()
            .stack_size(32 << 10)
            .spawn(move || {
                for input in on_worker {
                    // A failed check panics here, and libFuzzer's panic hook reports it.
                    backends::for_each(&mut Run(&input, false));
                    done.send(()).unwrap();
                }
            })
            .unwrap();
        Mutex::new((inputs, finished))
    })
}

fuzz_target!(|input: Input| {
    let w = worker().lock().unwrap();
    w.0.send(input).unwrap();
    w.1.recv().unwrap();
});
