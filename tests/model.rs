//! Model-based tests: random programs of strand operations run against every backend and
//! are checked, after every step, against a plain model of what each live value must
//! contain, and at each strand's end against exact statistics.
//!
//! `PROPTEST_CASES` raises the number of cases (256 per backend by default); failures are
//! kept in `proptest-regressions/` and replayed first.
//!
//! Every program runs on May strands, which Miri cannot run.
#![cfg(not(miri))]

mod common;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, FileFailurePersistence};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use strand_alloc::{channel, Builder, Config, PortableValue, Strand, Value, ValueAllocator};
use strand_alloc::{ValueReceiver, ValueSender};

/// What the sender of a channel sent, in order: the receiver checks each message against
/// it (channels are first in, first out, and each has one sender).
type Sent = Arc<Mutex<VecDeque<Expect>>>;

/// Whether a received message has exactly the content the model describes (compared
/// field by field here, never through the library's own equality).
fn portable_is(p: &PortableValue, e: &Expect) -> bool {
    let str_is = |p: &PortableValue, t: &str| matches!(p, PortableValue::Str(x) if &**x == t);
    match (p, e) {
        (PortableValue::Str(x), Expect::Str(t)) => &**x == t.as_str(),
        (PortableValue::Variant(v), Expect::Variant(tag, fields)) => {
            v.tag == *tag
                && v.fields.len() == fields.len()
                && v.fields.iter().zip(fields).all(|(f, t)| str_is(f, t))
        }
        (PortableValue::Variant(v), Expect::Wide(tag, n)) => {
            v.tag == *tag
                && v.fields.len() == *n
                && v.fields
                    .iter()
                    .enumerate()
                    .all(|(i, f)| matches!(f, PortableValue::Int(x) if *x == i as i64))
        }
        (_, Expect::List(serial, depth, width)) => {
            let strings = cell_strings(*serial, *width);
            let mut cell = p;
            for level in 0..*depth {
                let PortableValue::Variant(c) = cell else {
                    return false;
                };
                let f = &c.fields;
                if c.tag != LIST_TAG
                    || f.len() != width + 3
                    || !matches!(f[0], PortableValue::Int(x) if x == *serial as i64)
                    || !matches!(f[1], PortableValue::Int(x) if x == level as i64)
                    || !f[2..2 + width]
                        .iter()
                        .zip(&strings)
                        .all(|(x, t)| str_is(x, t))
                {
                    return false;
                }
                cell = &f[width + 2];
            }
            matches!(cell, PortableValue::Int(-1))
        }
        _ => false,
    }
}

/// One step of a strand's program.
#[derive(Debug, Clone)]
enum Op {
    /// Allocate a string of this length.
    Str(usize),
    /// Allocate a variant of strings of these lengths.
    Variant(Vec<usize>),
    /// Clone the live value at this index (modulo the count).
    Clone(usize),
    /// Drop the live value at this index.
    Drop(usize),
    /// Send a copy of the live value at this index to the next strand.
    Send(usize),
    /// Take a message if one is waiting, check it, keep it.
    Recv,
    /// Yield to the scheduler.
    Yield,
    /// Force a move to another OS thread.
    Migrate,
    /// Drop every live value and reset the strand's memory.
    Reset,
    /// Build a list this many cells deep, each cell with this many strings.
    List(usize, usize),
    /// Build a variant with this many integer fields.
    Wide(usize),
    /// Run these steps in a scope.
    Scope(Vec<ScopeOp>),
}

/// One step inside a scope.
#[derive(Debug, Clone)]
enum ScopeOp {
    /// Make a string of this length in the scope.
    Make(usize),
    /// Drop the scope's value at this index (modulo the count).
    Drop(usize),
    /// Leak it (`mem::forget`).
    Leak(usize),
    /// Copy it to the strand ([`strand_alloc::Scope::escape`]), where it stays live.
    Escape(usize),
    /// Copy it onto the heap ([`strand_alloc::Scope::to_heap`]), where it stays live.
    Heap(usize),
    /// Force a move to another OS thread.
    Migrate,
}

fn scope_op() -> impl Strategy<Value = ScopeOp> {
    prop_oneof![
        6 => len().prop_map(ScopeOp::Make),
        2 => any::<usize>().prop_map(ScopeOp::Drop),
        1 => any::<usize>().prop_map(ScopeOp::Leak),
        2 => any::<usize>().prop_map(ScopeOp::Escape),
        2 => any::<usize>().prop_map(ScopeOp::Heap),
        1 => Just(ScopeOp::Migrate),
    ]
}

/// The tag of every list cell; a cell is `[Int(serial), Int(level), strings.., rest]`.
const LIST_TAG: u32 = 0x7157;

fn len() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0usize..64,
        4 => 64usize..4096,
        1 => 4096usize..(256 << 10),
        1 => (1usize << 20)..(3 << 20),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => len().prop_map(Op::Str),
        2 => prop::collection::vec(0usize..200, 0..5).prop_map(Op::Variant),
        2 => any::<usize>().prop_map(Op::Clone),
        3 => any::<usize>().prop_map(Op::Drop),
        2 => any::<usize>().prop_map(Op::Send),
        2 => Just(Op::Recv),
        1 => Just(Op::Yield),
        1 => Just(Op::Migrate),
        1 => Just(Op::Reset),
        1 => (prop_oneof![1usize..64, 1_000usize..20_000], 0usize..3)
            .prop_map(|(d, w)| Op::List(d, w)),
        1 => (1usize..20_000).prop_map(Op::Wide),
        2 => prop::collection::vec(scope_op(), 0..12).prop_map(Op::Scope),
    ]
}

/// A strand's program and its threshold.
#[derive(Debug, Clone)]
struct Program {
    threshold: usize,
    ops: Vec<Op>,
}

fn program() -> impl Strategy<Value = Program> {
    (
        prop_oneof![
            Just(16usize << 10),
            Just(64 << 10),
            Just(1 << 20),
            Just(10 << 20)
        ],
        prop::collection::vec(op(), 0..40),
    )
        .prop_map(|(threshold, ops)| Program { threshold, ops })
}

/// What a live value must contain.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Str(String),
    Variant(u32, Vec<String>),
    /// A list: serial, depth, strings per cell.
    List(u64, usize, usize),
    /// A variant of `Int(0)..Int(n)` with this tag.
    Wide(u32, usize),
}

/// The strings of every cell of list `serial` with `width` strings per cell.
fn cell_strings(serial: u64, width: usize) -> Vec<String> {
    (0..width).map(|j| content(serial, 4 + j)).collect()
}

/// Checks a list value against its description, iteratively.
fn check_list<A: ValueAllocator>(
    v: &Value<'_, A>,
    serial: u64,
    depth: usize,
    width: usize,
) -> Result<bool, String> {
    let strings = cell_strings(serial, width);
    let mut cell = v;
    for level in 0..depth {
        let Value::Variant(var) = cell else {
            return Ok(false);
        };
        let f = var.try_fields().map_err(|h| h.to_string())?;
        if var.tag() != LIST_TAG
            || f.len() != width + 3
            || !matches!(f[0], Value::Int(x) if x == serial as i64)
            || !matches!(f[1], Value::Int(x) if x == level as i64)
            || !f[2..2 + width]
                .iter()
                .zip(&strings)
                .all(|(x, t)| x.as_str() == Some(t.as_str()))
        {
            return Ok(false);
        }
        cell = &f[width + 2];
    }
    Ok(matches!(cell, Value::Int(-1)))
}

/// The text of a value: its length and a letter chosen by its serial number.
fn content(serial: u64, len: usize) -> String {
    let c = (b'a' + (serial % 26) as u8) as char;
    let mut s = format!("#{serial}:");
    while s.len() < len {
        s.push(c);
    }
    s.truncate(len);
    s
}

/// The exact allocation figures the model predicts for a strand.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Predicted {
    allocs: u64,
    bytes: u64,
    copies: u64,
    copied_bytes: u64,
    scopes: u64,
    escapes: u64,
    escaped_bytes: u64,
}

struct Runner<'s, A: ValueAllocator> {
    s: &'s Strand<A>,
    live: Vec<(Value<'s, A>, Expect)>,
    serial: u64,
    p: Predicted,
    field_bytes: usize,
}

impl<'s, A: ValueAllocator> Runner<'s, A> {
    fn count_str(&mut self, len: usize) {
        if len > 0 {
            self.p.allocs += 1;
            self.p.bytes += len as u64;
        }
    }

    fn count_array(&mut self, n: usize) {
        if n > 0 {
            self.p.allocs += 1;
            self.p.bytes += (n * self.field_bytes) as u64;
        }
    }

    fn make(&mut self, e: &Expect) -> Value<'s, A> {
        match e {
            Expect::Str(t) => {
                self.count_str(t.len());
                self.s.str(t).into()
            }
            Expect::Variant(tag, fields) => {
                let vals: Vec<Value<'s, A>> = fields
                    .iter()
                    .map(|f| {
                        self.count_str(f.len());
                        self.s.str(f).into()
                    })
                    .collect();
                self.count_array(vals.len());
                self.s.variant(*tag, vals).into()
            }
            Expect::List(serial, depth, width) => {
                let strings = cell_strings(*serial, *width);
                let mut list = Value::Int(-1);
                for level in (0..*depth).rev() {
                    let mut fields = vec![Value::Int(*serial as i64), Value::Int(level as i64)];
                    for t in &strings {
                        self.count_str(t.len());
                        fields.push(self.s.str(t).into());
                    }
                    fields.push(list);
                    self.count_array(fields.len());
                    list = self.s.variant(LIST_TAG, fields).into();
                }
                list
            }
            Expect::Wide(tag, n) => {
                self.count_array(*n);
                self.s
                    .variant(*tag, (0..*n).map(|i| Value::Int(i as i64)))
                    .into()
            }
        }
    }

    /// Counts what a deep copy of a value described by `e` allocates.
    fn count_copy(&mut self, e: &Expect) {
        match e {
            Expect::Str(t) => self.count_str(t.len()),
            Expect::Variant(_, f) => {
                f.iter().for_each(|t| self.count_str(t.len()));
                self.count_array(f.len());
            }
            Expect::List(serial, depth, width) => {
                for t in cell_strings(*serial, *width) {
                    for _ in 0..*depth {
                        self.count_str(t.len());
                    }
                }
                for _ in 0..*depth {
                    self.count_array(width + 3);
                }
            }
            Expect::Wide(_, n) => self.count_array(*n),
        }
    }

    fn check_all(&self) -> Result<(), String> {
        for (i, (v, e)) in self.live.iter().enumerate() {
            let ok = match (v, e) {
                (Value::Str(s), Expect::Str(t)) => s.try_as_str().map_err(|h| h.to_string())? == t,
                (Value::Variant(var), Expect::Variant(tag, fields)) => {
                    var.tag() == *tag
                        && var.try_fields().map_err(|h| h.to_string())?.len() == fields.len()
                        && var
                            .fields()
                            .iter()
                            .zip(fields)
                            .all(|(f, t)| f.as_str() == Some(t.as_str()))
                }
                (v, Expect::List(serial, depth, width)) => check_list(v, *serial, *depth, *width)?,
                (Value::Variant(var), Expect::Wide(tag, n)) => {
                    let f = var.try_fields().map_err(|h| h.to_string())?;
                    var.tag() == *tag
                        && f.len() == *n
                        && f.iter()
                            .enumerate()
                            .all(|(i, x)| matches!(x, Value::Int(v) if *v == i as i64))
                }
                _ => false,
            };
            if !ok {
                return Err(format!("live value {i} is {v:?}, expected {e:?}"));
            }
        }
        Ok(())
    }

    fn step(
        &mut self,
        op: &Op,
        (tx, sent): (&ValueSender, &Sent),
        (rx, expected): (&ValueReceiver, &Sent),
    ) -> Result<(), String> {
        let n = self.live.len();
        match op {
            Op::Str(len) => {
                self.serial += 1;
                let e = Expect::Str(content(self.serial, *len));
                let v = self.make(&e);
                self.live.push((v, e));
            }
            Op::Variant(lens) => {
                self.serial += 1;
                let fields = lens.iter().map(|l| content(self.serial, *l)).collect();
                let e = Expect::Variant(self.serial as u32, fields);
                let v = self.make(&e);
                self.live.push((v, e));
            }
            Op::Clone(i) if n > 0 => {
                let (v, e) = &self.live[i % n];
                let c = v.clone();
                let e = e.clone();
                self.count_copy(&e);
                self.live.push((c, e));
            }
            Op::Drop(i) if n > 0 => {
                self.live.swap_remove(i % n);
            }
            Op::Send(i) if n > 0 => {
                let (v, e) = &self.live[i % n];
                let bytes = match e {
                    Expect::Str(t) => t.len(),
                    Expect::Variant(_, f) => f.iter().map(String::len).sum(),
                    Expect::List(serial, depth, width) => {
                        depth
                            * cell_strings(*serial, *width)
                                .iter()
                                .map(String::len)
                                .sum::<usize>()
                    }
                    Expect::Wide(..) => 0,
                };
                // Recorded before sending, so the receiver finds it when the message
                // arrives; taken back if the receiver has already ended.
                sent.lock().unwrap().push_back(e.clone());
                // The copy is made (and counted) even when the receiver has already ended.
                if tx.send(self.s, v).is_err() {
                    sent.lock().unwrap().pop_back();
                }
                self.p.copies += 1;
                self.p.copied_bytes += bytes as u64;
            }
            Op::Recv => {
                if let Some(p) = rx.try_recv() {
                    // Exactly what the sender sent, in order.
                    let sent = expected.lock().unwrap().pop_front();
                    let Some(sent) = sent else {
                        return Err(format!("a message nobody sent: {p:?}"));
                    };
                    if !portable_is(&p, &sent) {
                        return Err(format!("received {p:?}, the sender sent {sent:?}"));
                    }
                    // And the message describes itself the same way.
                    let e = match &p {
                        PortableValue::Str(t) => Expect::Str(t.to_string()),
                        PortableValue::Variant(v) if v.tag == LIST_TAG => {
                            let PortableValue::Int(serial) = v.fields[0] else {
                                return Err(format!("a list cell without its serial: {v:?}"));
                            };
                            let width = v.fields.len() - 3;
                            let mut depth = 0;
                            let mut cell = &p;
                            while let PortableValue::Variant(c) = cell {
                                depth += 1;
                                cell = &c.fields[width + 2];
                            }
                            Expect::List(serial as u64, depth, width)
                        }
                        PortableValue::Variant(v)
                            if v.fields.iter().all(|f| f.as_str().is_none())
                                && !v.fields.is_empty() =>
                        {
                            Expect::Wide(v.tag, v.fields.len())
                        }
                        PortableValue::Variant(v) => Expect::Variant(
                            v.tag,
                            v.fields
                                .iter()
                                .map(|f| f.as_str().unwrap().to_string())
                                .collect(),
                        ),
                        other => return Err(format!("unexpected message {other:?}")),
                    };
                    if e != sent {
                        return Err(format!("message {p:?} reads as {e:?}, sent as {sent:?}"));
                    }
                    // Importing allocates the field arrays; strings keep their heap bytes.
                    match &e {
                        Expect::Variant(_, f) => self.count_array(f.len()),
                        Expect::List(_, depth, width) => {
                            for _ in 0..*depth {
                                self.count_array(width + 3);
                            }
                        }
                        Expect::Wide(_, n) => self.count_array(*n),
                        Expect::Str(_) => {}
                    }
                    let v = self.s.import(p);
                    self.live.push((v, e));
                }
            }
            Op::Yield => may::coroutine::yield_now(),
            // Through May's timer thread and global queue: the strand leaves its worker,
            // and lands on either worker.
            Op::Migrate => hop(),
            Op::List(depth, width) => {
                self.serial += 1;
                let e = Expect::List(self.serial, *depth, *width);
                let v = self.make(&e);
                self.live.push((v, e));
            }
            Op::Wide(n) => {
                self.serial += 1;
                let e = Expect::Wide(self.serial as u32, *n);
                let v = self.make(&e);
                self.live.push((v, e));
            }
            Op::Scope(ops) => self.scope(ops)?,
            Op::Reset | Op::Clone(_) | Op::Drop(_) | Op::Send(_) => {}
        }
        self.check_all()
    }

    /// Runs `ops` in a scope, checking the scope's values after every step; what escaped
    /// joins the strand's live values. Afterwards the strand uses exactly what it used
    /// before, plus what escaped, plus what leaked from outside the scope's arena.
    fn scope(&mut self, ops: &[ScopeOp]) -> Result<(), String> {
        let s = self.s;
        let used = s.stats().used;
        let mut escaped: Vec<(Value<'s, A>, Expect)> = Vec::new();
        let mut kept = 0i64;
        self.p.scopes += 1;
        // Bytes the scope's arena surely takes: well under its limit (the strand's
        // generation limit), whatever chunks bumpalo adds to hold them. Past that, a
        // value may come from the strand's backend instead, as documented.
        let surely = s.config().generation_limit() / 4;
        let large = s.config().large_value_size();
        let mut handed = 0;
        s.scope(|sc| -> Result<(), String> {
            let mut inner: Vec<(strand_alloc::Str<'_, A>, String)> = Vec::new();
            for op in ops {
                let n = inner.len();
                match op {
                    ScopeOp::Make(len) => {
                        self.serial += 1;
                        let t = content(self.serial, *len);
                        self.count_str(t.len());
                        let v = sc.str(&t);
                        let small = A::SCOPE_ARENA && (1..=large).contains(len);
                        if small {
                            handed += len;
                        }
                        let must = small && handed <= surely;
                        if must && !v.is_scoped() || !small && v.is_scoped() {
                            return Err(format!("a value of {len} B, scoped: {}", v.is_scoped()));
                        }
                        inner.push((v, t));
                    }
                    ScopeOp::Drop(i) if n > 0 => drop(inner.swap_remove(i % n)),
                    ScopeOp::Leak(i) if n > 0 => {
                        let (v, t) = inner.swap_remove(i % n);
                        // Outside the scope's arena a leaked value stays counted as used.
                        if !v.is_scoped() {
                            kept += t.len() as i64;
                        }
                        std::mem::forget(v);
                    }
                    ScopeOp::Escape(i) | ScopeOp::Heap(i) if n > 0 => {
                        let (v, t) = &inner[i % n];
                        let copy = if matches!(op, ScopeOp::Escape(_)) {
                            sc.escape(v)
                        } else {
                            let c = sc.to_heap(v);
                            if !t.is_empty() && !c.is_heap() {
                                return Err("a heap copy is not on the heap".into());
                            }
                            c
                        };
                        self.count_str(t.len());
                        self.p.escapes += 1;
                        self.p.escaped_bytes += t.len() as u64;
                        kept += t.len() as i64;
                        escaped.push((copy.into(), Expect::Str(t.clone())));
                    }
                    ScopeOp::Migrate => hop(),
                    ScopeOp::Drop(_) | ScopeOp::Leak(_) | ScopeOp::Escape(_) | ScopeOp::Heap(_) => {
                    }
                }
                for (v, t) in &inner {
                    if v.try_as_str().map_err(|h| h.to_string())? != t {
                        return Err(format!("a scope value reads {v:?}, expected {t:?}"));
                    }
                }
            }
            Ok(())
        })?;
        let after = s.stats().used;
        if after != used + kept {
            return Err(format!(
                "after the scope {after} B used, before {used} B, {kept} B escaped or kept"
            ));
        }
        self.live.extend(escaped);
        Ok(())
    }
}

/// Runs one strand's program; returns the model's prediction and an error if a value
/// ever read back wrong.
fn run_program<A: ValueAllocator>(
    s: &mut Strand<A>,
    prog: &Program,
    (tx, sent): (ValueSender, Sent),
    (rx, expected): (ValueReceiver, Sent),
) -> Result<Predicted, String> {
    let mut predicted = Predicted::default();
    let mut serial = s.id() << 32;
    let mut ops = prog.ops.iter().peekable();
    while ops.peek().is_some() {
        let mut r = Runner {
            s,
            live: Vec::new(),
            serial,
            p: predicted,
            field_bytes: std::mem::size_of::<Value<'static, A>>(),
        };
        for op in ops.by_ref() {
            if matches!(op, Op::Reset) {
                break;
            }
            r.step(op, (&tx, &sent), (&rx, &expected))?;
        }
        predicted = r.p;
        serial = r.serial;
        drop(r);
        s.reset();
        // The model's figures after the reset: nothing used, nothing stranded, and the
        // allocations so far exactly as predicted.
        let f = s.stats();
        if (f.used, f.stranded) != (0, 0) || f.allocs != predicted.allocs {
            return Err(format!("after a reset: {f:?}, predicted {predicted:?}"));
        }
    }
    Ok(predicted)
}

fn run_case<A: ValueAllocator>(programs: &[Program]) -> Result<(), TestCaseError> {
    setup();
    let k = programs.len();
    let chans: Vec<_> = (0..k).map(|_| channel()).collect();
    let sent: Vec<Sent> = (0..k).map(|_| Sent::default()).collect();
    let (txs, mut rxs): (Vec<_>, Vec<_>) = chans.into_iter().unzip();
    let handles: Vec<_> = programs
        .iter()
        .enumerate()
        .map(|(i, prog)| {
            let prog = prog.clone();
            let tx = (txs[(i + 1) % k].clone(), sent[(i + 1) % k].clone());
            let rx = (std::mem::replace(&mut rxs[i], channel().1), sent[i].clone());
            // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
            unsafe {
                Builder::<A>::new()
                    .config(Config::default().with_threshold(prog.threshold).unwrap())
                    .stack_size(256 << 10)
                    .spawn(move |s| run_program(s, &prog, tx, rx))
            }
            .unwrap()
        })
        .collect();
    drop(txs);
    for h in handles {
        let (predicted, report) = join_report(h);
        let predicted = predicted.map_err(TestCaseError::fail)?;
        let f = report.figures;
        prop_assert_eq!(f.hazards, 0);
        prop_assert_eq!(f.allocs, predicted.allocs, "allocations");
        prop_assert_eq!(f.bytes_allocated, predicted.bytes, "bytes allocated");
        prop_assert_eq!(f.copies, predicted.copies, "copies");
        prop_assert_eq!(f.copied_bytes, predicted.copied_bytes, "bytes copied");
        prop_assert_eq!(f.scopes, predicted.scopes, "scopes");
        prop_assert_eq!(
            (f.escapes, f.escaped_bytes),
            (predicted.escapes, predicted.escaped_bytes),
            "escapes"
        );
        prop_assert_eq!((f.strands_begun, f.strands_exited), (1, 1));
        prop_assert_eq!(f.used, 0, "nothing is held after exit");
        if A::NAME == "global-malloc" {
            prop_assert_eq!(f.resets() + f.rotations, 0);
        }
        if A::NAME == "strand-arena" {
            prop_assert_eq!(f.peak_stranded, 0);
        }
    }
    Ok(())
}

fn runner_config() -> RunnerConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    RunnerConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/model.txt",
        ))),
        ..RunnerConfig::default()
    }
}

macro_rules! model_test {
    ($feature:literal, $name:ident, $backend:ident) => {
        #[cfg(feature = $feature)]
        proptest! {
            #![proptest_config(runner_config())]
            #[test]
            fn $name(programs in prop::collection::vec(program(), 1..4)) {
                run_case::<strand_alloc::$backend>(&programs)?;
            }
        }
    };
}

model_test!("thread-arena", model_thread_arena, ThreadArena);
model_test!("global-malloc", model_global_malloc, GlobalMalloc);
model_test!("strand-arena", model_strand_arena, StrandArena);
