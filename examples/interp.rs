//! A small stack-machine interpreter that keeps its values as raw handles on its own
//! stack, as a compiled runtime does: strings, concatenation, lists built from variants,
//! and values sent between strands. It runs the same two programs on every backend
//! compiled in, in coroutines spawned by May directly (each finds its strand with
//! `Strand::with_current`), and checks that every backend computes the same thing and
//! ends with nothing used and no hazard.
//!
//! ```text
//! cargo run --example interp --features all-backends
//! cargo run --example interp --features all-backends,checked   # every access validated
//! ```
//!
//! Each stack slot owns its value: an instruction takes its operands back from their
//! handles (`RawValue::into_value`), drops what it consumed, and pushes its result as a
//! new handle. That ownership rule is what the raw handles' `unsafe` contract asks of a
//! runtime; `checked` makes every handle's strand and arena generation be validated too.

use std::time::{Duration, Instant};
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{
    channel, live_strands, RawValue, Strand, Value, ValueAllocator, ValueReceiver, ValueSender,
};

/// List tags: `Nil` has no fields, `Cons` has a head and a tail.
const NIL: u32 = 0;
const CONS: u32 = 1;

/// One instruction.
#[derive(Debug, Clone)]
enum Op {
    /// Pushes a string.
    Str(&'static str),
    /// Pushes an integer.
    Int(i64),
    /// Pops an integer, pushes its decimal text.
    Show,
    /// Pops `b` then `a` (strings), pushes `a ++ b`.
    Concat,
    /// Pushes the empty list.
    Nil,
    /// Pops the tail, then the head; pushes `Cons(head, tail)`.
    Cons,
    /// Swaps the two top values.
    Swap,
    /// Pushes a deep copy of the top value.
    Dup,
    /// Drops the top value.
    Drop,
    /// Pops a value and sends a copy of it to the other strand.
    Send,
    /// Pushes the next value received from the other strand.
    Recv,
    /// Pops a list, pushes its length.
    Len,
    /// Pops a separator, then a list of strings; pushes the strings joined by it.
    Join,
}

/// An interpreter error: what went wrong, at which instruction.
#[derive(Debug)]
struct Fault(String);

/// The machine: a stack of raw handles, owned by one strand.
struct Machine<'s, A: ValueAllocator> {
    strand: &'s Strand<A>,
    stack: Vec<RawValue<A>>,
    tx: Option<ValueSender>,
    rx: Option<ValueReceiver>,
}

impl<'s, A: ValueAllocator> Machine<'s, A> {
    fn push(&mut self, v: Value<'s, A>) -> Result<(), Fault> {
        // Every value here is this strand's own (received values are copied in), so
        // none is refused for holding another strand's.
        let raw = v
            .into_raw()
            .map_err(|v| Fault(format!("a value of another strand: {v:?}")))?;
        self.stack.push(raw);
        Ok(())
    }

    /// Takes the top value back from its handle: the caller owns it now.
    fn pop(&mut self) -> Result<Value<'s, A>, Fault> {
        let raw = self
            .stack
            .pop()
            .ok_or_else(|| Fault("stack underflow".into()))?;
        // SAFETY: every slot owns its value, and a popped handle is gone from the stack,
        // so each value is taken back exactly once; `check` (inside) refuses a handle of
        // another strand, a reset strand, or (with `checked`) a reset arena.
        unsafe { raw.into_value(self.strand) }.map_err(|e| Fault(e.to_string()))
    }

    fn pop_str(&mut self) -> Result<String, Fault> {
        match self.pop()? {
            Value::Str(s) => Ok(s.as_str().to_owned()),
            other => Err(Fault(format!("expected a string, found {other:?}"))),
        }
    }

    fn run(&mut self, program: &[Op]) -> Result<(), Fault> {
        let s = self.strand;
        for (at, op) in program.iter().enumerate() {
            self.step(s, op)
                .map_err(|Fault(e)| Fault(format!("instruction {at} ({op:?}): {e}")))?;
        }
        Ok(())
    }

    fn step(&mut self, s: &'s Strand<A>, op: &Op) -> Result<(), Fault> {
        match op {
            Op::Str(t) => self.push(s.str(t).into())?,
            Op::Int(i) => self.push(Value::Int(*i))?,
            Op::Show => match self.pop()? {
                Value::Int(i) => self.push(s.str(&i.to_string()).into())?,
                other => return Err(Fault(format!("expected an integer, found {other:?}"))),
            },
            Op::Concat => {
                let b = self.pop_str()?;
                let a = self.pop_str()?;
                self.push(s.str(&(a + &b)).into())?;
            }
            Op::Nil => self.push(s.variant(NIL, []).into())?,
            Op::Cons => {
                let tail = self.pop()?;
                let head = self.pop()?;
                self.push(s.variant(CONS, [head, tail]).into())?;
            }
            Op::Swap => {
                let n = self.stack.len();
                if n < 2 {
                    return Err(Fault("stack underflow".into()));
                }
                self.stack.swap(n - 1, n - 2);
            }
            Op::Dup => {
                let top = *self
                    .stack
                    .last()
                    .ok_or_else(|| Fault("stack underflow".into()))?;
                // SAFETY: the slot still owns its value; the view is read before anything
                // is released.
                let copy = unsafe { top.view(s) }
                    .map_err(|e| Fault(e.to_string()))?
                    .try_clone()
                    .map_err(|e| Fault(e.to_string()))?;
                self.push(copy)?;
            }
            Op::Drop => drop(self.pop()?),
            Op::Send => {
                let v = self.pop()?;
                let tx = self.tx.as_ref().ok_or_else(|| Fault("no peer".into()))?;
                tx.send(s, &v).map_err(|e| Fault(e.to_string()))?;
            }
            Op::Recv => {
                let rx = self.rx.as_ref().ok_or_else(|| Fault("no peer".into()))?;
                let v = rx.recv_in(s).map_err(|e| Fault(e.to_string()))?;
                self.push(v)?;
            }
            Op::Len => {
                let list = self.pop()?;
                let n = elements(&list)?.len();
                self.push(Value::Int(n as i64))?;
            }
            Op::Join => {
                let sep = self.pop_str()?;
                let list = self.pop()?;
                let parts = elements(&list)?
                    .into_iter()
                    .map(|v| {
                        v.as_str()
                            .ok_or_else(|| Fault(format!("not a string: {v:?}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let joined = parts.join(&sep);
                drop(list);
                self.push(s.str(&joined).into())?;
            }
        }
        Ok(())
    }
}

/// A list's elements, walked without recursion (lists can be long).
fn elements<'v, 's, A: ValueAllocator>(
    mut list: &'v Value<'s, A>,
) -> Result<Vec<&'v Value<'s, A>>, Fault> {
    let mut out = Vec::new();
    loop {
        let v = list
            .as_variant()
            .ok_or_else(|| Fault(format!("expected a list, found {list:?}")))?;
        match (v.tag(), v.fields()) {
            (NIL, []) => return Ok(out),
            (CONS, [head, tail]) => {
                out.push(head);
                list = tail;
            }
            _ => return Err(Fault(format!("not a list cell: {v:?}"))),
        }
    }
}

/// The producer: builds `["item-0", ..., "item-{n-1}"]` (pushed in reverse, so it
/// reads in order), sends one copy, then its length.
fn producer(n: i64) -> Vec<Op> {
    let mut p = vec![Op::Nil];
    for i in (0..n).rev() {
        p.extend([
            Op::Str("item-"),
            Op::Int(i),
            Op::Show,
            Op::Concat,
            Op::Swap,
            Op::Cons,
        ]);
    }
    p.extend([Op::Dup, Op::Send, Op::Len, Op::Send]);
    p
}

/// The consumer: receives the list and its length, and leaves "LEN: a, b, ..." on top.
fn consumer() -> Vec<Op> {
    vec![
        Op::Str("scratch"),
        Op::Drop,
        Op::Recv,
        Op::Str(", "),
        Op::Join,
        Op::Recv,
        Op::Show,
        Op::Str(": "),
        Op::Concat,
        Op::Swap,
        Op::Concat,
    ]
}

/// Runs `program` on the current coroutine's strand; returns the top of the stack as
/// text, having released every value left on the stack.
fn run_program<A: ValueAllocator>(
    program: &[Op],
    tx: Option<ValueSender>,
    rx: Option<ValueReceiver>,
) -> Result<Option<String>, String> {
    Strand::<A>::with_current(|s| {
        let mut m = Machine {
            strand: s,
            stack: Vec::new(),
            tx,
            rx,
        };
        let ran = m.run(program);
        let top = match m.stack.last() {
            // SAFETY: the slot owns its value; read before it is released below.
            Some(t) => unsafe { t.view(s) }
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned)),
            None => None,
        };
        while !m.stack.is_empty() {
            drop(m.pop().map_err(|Fault(e)| e)?);
        }
        ran.map(|()| top).map_err(|Fault(e)| e)
    })
    .map_err(|e| e.to_string())?
}

/// Runs `program` in a coroutine spawned by May directly.
fn run_in_coroutine<A: ValueAllocator>(
    program: Vec<Op>,
    tx: Option<ValueSender>,
    rx: Option<ValueReceiver>,
) -> may::coroutine::JoinHandle<Result<Option<String>, String>> {
    // SAFETY: the program keeps no thread-local borrow and nothing `!Send` across a
    // point where the coroutine can move (the channels are May's).
    unsafe { may::coroutine::spawn(move || run_program::<A>(&program, tx, rx)) }
}

/// What one backend computed, and its figures after every strand's exit.
struct Outcome {
    backend: &'static str,
    result: String,
    hazards: u64,
    used: i64,
}

struct Run {
    n: i64,
    outcomes: Vec<Outcome>,
}

impl BackendVisitor for Run {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        if !A::SAFE {
            return;
        }
        let (tx, rx) = channel();
        let p = run_in_coroutine::<A>(producer(self.n), Some(tx), None);
        let c = run_in_coroutine::<A>(consumer(), None, Some(rx));
        let produced = p.join().expect("the producer does not panic");
        let consumed = c.join().expect("the consumer does not panic");
        produced.expect("the producer runs");
        let result = consumed.expect("the consumer runs").expect("a result");
        // A current strand's exit runs just after its coroutine's join: wait for it.
        let start = Instant::now();
        while live_strands() != 0 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let totals = strand_alloc::stats::<A>().totals;
        self.outcomes.push(Outcome {
            backend: A::NAME,
            result,
            hazards: totals.hazards,
            used: totals.used,
        });
    }
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("the list length is a number"))
        .unwrap_or(1000);
    let mut run = Run {
        n,
        outcomes: Vec::new(),
    };
    backends::for_each(&mut run);
    let expected = format!(
        "{n}: {}",
        (0..n)
            .map(|i| format!("item-{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for o in &run.outcomes {
        let head: String = o.result.chars().take(40).collect();
        println!(
            "{:<14} {head}... ({} bytes), {} hazards, {} B used at the end",
            o.backend,
            o.result.len(),
            o.hazards,
            o.used
        );
        assert_eq!(o.result, expected, "{} computed something else", o.backend);
        assert_eq!(o.hazards, 0, "{}", o.backend);
        assert_eq!(o.used, 0, "{}", o.backend);
    }
    assert!(!run.outcomes.is_empty(), "no backend compiled in");
    println!("every backend agrees");
}
