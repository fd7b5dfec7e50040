//! A model of one-word handles with handle scopes, checked against the library on every
//! backend: random runs of makes, variants, shares, releases, scope enters and leaves (in
//! order, and out of order or twice, which must be refused) and resets. After every
//! step the strand's `used` is the model's bytes of owned live values, and every value
//! the model holds live reads back as made.

mod common;

use proptest::prelude::*;
use strand_alloc::handle::{enter_scope, leave_scope, MAX_HANDLE_SCOPES};
use strand_alloc::{
    current_figures, reset_current, Field, Handle, HandleError, ScopeMark, ValueAllocator,
};

#[derive(Debug, Clone)]
enum Op {
    Str(usize),
    /// A variant of up to three of the live owned values nobody holds yet.
    Variant(Vec<usize>),
    Share(usize),
    Release(usize),
    Read(usize),
    Enter,
    Leave,
    /// A leave of a mark that is open but not innermost, or already closed.
    LeaveWrong(usize),
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..300).prop_map(Op::Str),
        2 => proptest::collection::vec(any::<usize>(), 0..4).prop_map(Op::Variant),
        2 => any::<usize>().prop_map(Op::Share),
        3 => any::<usize>().prop_map(Op::Release),
        2 => any::<usize>().prop_map(Op::Read),
        3 => Just(Op::Enter),
        3 => Just(Op::Leave),
        1 => any::<usize>().prop_map(Op::LeaveWrong),
        1 => Just(Op::Reset),
    ]
}

/// What the model knows of one value.
struct Value<A: ValueAllocator> {
    h: Handle<A>,
    /// The string's text, or a variant's fields (indices into the model's values).
    text: Option<String>,
    fields: Vec<usize>,
    /// The scope it was made in (0: the strand's own level).
    scope: u64,
    /// 0 while owned; a shared value's holders.
    holders: u64,
    /// Holds of the caller (the model) on it: 0 once given to a variant or dead.
    held: u64,
    alive: bool,
}

impl<A: ValueAllocator> Value<A> {
    fn bytes(&self) -> i64 {
        match &self.text {
            Some(t) => t.len() as i64,
            None => (self.fields.len() * std::mem::size_of::<Field<A>>()) as i64,
        }
    }
}

struct Model<A: ValueAllocator> {
    values: Vec<Value<A>>,
    /// Open scopes, innermost last: their marks and the model's ids.
    open: Vec<(ScopeMark, u64)>,
    closed: Vec<ScopeMark>,
    next_scope: u64,
}

impl<A: ValueAllocator> Model<A> {
    /// Ends `i` and, if it was owned, the owned values it holds; a shared value it holds
    /// loses a holder.
    fn kill(&mut self, i: usize) {
        let mut work = vec![i];
        while let Some(i) = work.pop() {
            let v = &mut self.values[i];
            if !v.alive {
                continue;
            }
            if v.holders > 0 {
                v.holders -= 1;
                if v.holders > 0 {
                    continue;
                }
            }
            v.alive = false;
            work.extend(v.fields.iter().copied());
        }
    }

    fn owned_bytes(&self) -> i64 {
        self.values
            .iter()
            .filter(|v| v.alive && v.holders == 0)
            .map(Value::bytes)
            .sum()
    }

    /// The live values the model holds (may read, share or release).
    fn held(&self) -> Vec<usize> {
        (0..self.values.len())
            .filter(|&i| self.values[i].alive && self.values[i].held > 0)
            .collect()
    }

    fn scope(&self) -> u64 {
        self.open.last().map_or(0, |o| o.1)
    }

    fn step(&mut self, op: &Op) {
        let held = self.held();
        let pick = |k: usize| (!held.is_empty()).then(|| held[k % held.len()]);
        match op {
            Op::Str(len) => {
                let text: String = (0..*len)
                    .map(|i| (b'a' + ((i + self.values.len()) % 26) as u8) as char)
                    .collect();
                let h = Handle::<A>::new_str(&text).unwrap();
                self.push(h, Some(text), Vec::new());
            }
            Op::Variant(picks) => {
                let owned: Vec<usize> = held
                    .iter()
                    .copied()
                    .filter(|&i| self.values[i].holders == 0)
                    .collect();
                let mut fields = Vec::new();
                for k in picks {
                    if owned.is_empty() {
                        break;
                    }
                    let i = owned[k % owned.len()];
                    if !fields.contains(&i) {
                        fields.push(i);
                    }
                }
                let given: Vec<Field<A>> = fields
                    .iter()
                    .map(|&i| Field::Value(self.values[i].h))
                    .collect();
                // SAFETY: each field is a live owned value of this strand, given once.
                let h = unsafe { Handle::<A>::new_variant(9, &given) }.unwrap();
                for &i in &fields {
                    self.values[i].held = 0;
                }
                self.push(h, None, fields);
            }
            Op::Share(k) => {
                let Some(i) = pick(*k) else { return };
                // SAFETY: live, held by the caller, this strand's.
                let h = unsafe { self.values[i].h.share() }.unwrap();
                assert_eq!(h, self.values[i].h, "the word does not change");
                if self.values[i].holders == 0 {
                    // Every owned value it holds becomes shared, held by it.
                    let mut work = vec![i];
                    while let Some(j) = work.pop() {
                        let v = &mut self.values[j];
                        if v.holders == 0 {
                            v.holders = 1;
                            work.extend(v.fields.iter().copied());
                        }
                    }
                }
                self.values[i].holders += 1;
                self.values[i].held += 1;
            }
            Op::Release(k) => {
                let Some(i) = pick(*k) else { return };
                // SAFETY: live, one of the caller's holds, released once.
                unsafe { self.values[i].h.release() }.unwrap();
                self.values[i].held -= 1;
                self.kill(i);
            }
            Op::Read(k) => {
                let Some(i) = pick(*k) else { return };
                self.read(i);
            }
            Op::Enter => {
                let r = enter_scope::<A>();
                if self.open.len() == MAX_HANDLE_SCOPES {
                    assert!(matches!(r, Err(HandleError::ScopeDepth)), "{r:?}");
                    return;
                }
                self.next_scope += 1;
                self.open.push((r.unwrap(), self.next_scope));
            }
            Op::Leave => {
                let Some((mark, id)) = self.open.pop() else {
                    return;
                };
                // SAFETY: the model uses no value of the scope that it does not hold
                // shared afterwards.
                unsafe { leave_scope::<A>(mark) }.unwrap();
                self.closed.push(mark);
                for i in 0..self.values.len() {
                    let v = &self.values[i];
                    if v.alive && v.holders == 0 && v.scope == id && v.held > 0 {
                        self.values[i].held = 0;
                        self.kill(i);
                    }
                }
                // An owned value given to a variant of the scope died with it; one of
                // the scope given to an enclosing level's variant is impossible (a
                // variant takes its fields when it is made).
            }
            Op::LeaveWrong(k) => {
                let wrong: Vec<ScopeMark> = self.open[..self.open.len().saturating_sub(1)]
                    .iter()
                    .map(|o| o.0)
                    .chain(self.closed.iter().copied())
                    .collect();
                if wrong.is_empty() {
                    return;
                }
                // SAFETY: refused: nothing is freed.
                let r = unsafe { leave_scope::<A>(wrong[k % wrong.len()]) };
                assert!(matches!(r, Err(HandleError::ScopeOrder)), "{r:?}");
            }
            Op::Reset => {
                // SAFETY: the model uses no owned value afterwards.
                unsafe { reset_current::<A>() }.unwrap();
                self.closed.extend(self.open.drain(..).map(|o| o.0));
                for i in 0..self.values.len() {
                    let v = &self.values[i];
                    if v.alive && v.holders == 0 {
                        self.values[i].held = 0;
                        self.values[i].alive = false;
                        let fields = self.values[i].fields.clone();
                        for f in fields {
                            // Shared values an owned variant holds lose that holder.
                            if self.values[f].holders > 0 {
                                self.kill(f);
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(
            current_figures::<A>().unwrap().used,
            self.owned_bytes(),
            "after {op:?}"
        );
    }

    fn push(&mut self, h: Handle<A>, text: Option<String>, fields: Vec<usize>) {
        let scope = self.scope();
        self.values.push(Value {
            h,
            text,
            fields,
            scope,
            holders: 0,
            held: 1,
            alive: true,
        });
    }

    /// Reads `i` and what it holds, in constant stack.
    fn read(&self, i: usize) {
        let mut work = vec![i];
        while let Some(i) = work.pop() {
            let v = &self.values[i];
            assert!(v.alive);
            match &v.text {
                // SAFETY: live, readable by this strand (owned here, or shared).
                Some(t) => assert_eq!(unsafe { v.h.as_str() }.unwrap(), t),
                None => {
                    // SAFETY: as above.
                    let (tag, fields) = unsafe { v.h.fields() }.unwrap();
                    assert_eq!((tag, fields.len()), (9, v.fields.len()));
                    for (f, &j) in fields.iter().zip(&v.fields) {
                        assert_eq!(*f, Field::Value(self.values[j].h));
                        work.push(j);
                    }
                }
            }
        }
    }

    /// Lets go of everything the model holds; the strand's figures and the backend's
    /// shared bytes come back to where they began.
    fn finish(mut self, shared_before: i64) {
        for i in 0..self.values.len() {
            while self.values[i].alive && self.values[i].held > 0 {
                self.read(i);
                // SAFETY: one of the caller's holds, released once.
                unsafe { self.values[i].h.release() }.unwrap();
                self.values[i].held -= 1;
                self.kill(i);
            }
        }
        assert!(self.values.iter().all(|v| !v.alive), "everything let go");
        assert_eq!(current_figures::<A>().unwrap().used, 0);
        assert_eq!(strand_alloc::stats::<A>().shared.used, shared_before);
        while let Some((mark, _)) = self.open.pop() {
            // SAFETY: nothing is left to use.
            unsafe { leave_scope::<A>(mark) }.unwrap();
        }
    }
}

/// The tests read the backend's shared bytes: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run<A: ValueAllocator>(ops: &[Op]) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ops = ops.to_vec();
    std::thread::spawn(move || {
        let shared_before = strand_alloc::stats::<A>().shared.used;
        let mut m = Model::<A> {
            values: Vec::new(),
            open: Vec::new(),
            closed: Vec::new(),
            next_scope: 0,
        };
        for op in &ops {
            m.step(op);
        }
        m.finish(shared_before);
    })
    .join()
    .unwrap();
}

macro_rules! model_test {
    ($name:ident, $backend:ty, $feature:literal) => {
        #[cfg(feature = $feature)]
        proptest! {
            #![proptest_config(ProptestConfig {
                cases: if cfg!(miri) { 3 } else { 256 },
                // Miri's isolation has no working directory to keep failures in.
                failure_persistence: if cfg!(miri) {
                    None
                } else {
                    ProptestConfig::default().failure_persistence
                },
                ..ProptestConfig::default()
            })]
            #[test]
            fn $name(ops in proptest::collection::vec(op(), 1..if cfg!(miri) { 40 } else { 120 })) {
                run::<$backend>(&ops);
            }
        }
    };
}

model_test!(
    thread_arena_handles_match_the_model,
    strand_alloc::ThreadArena,
    "thread-arena"
);
model_test!(
    global_malloc_handles_match_the_model,
    strand_alloc::GlobalMalloc,
    "global-malloc"
);
model_test!(
    strand_arena_handles_match_the_model,
    strand_alloc::StrandArena,
    "strand-arena"
);
