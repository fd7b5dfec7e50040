//! Operation sequences against every safe backend, with strands simulated on one plain
//! thread (several strand contexts interleaved, as May multiplexes them; May's own stack
//! switching confuses AddressSanitizer).
//!
//! Two strands live through the whole input; a third is ended by every `Exit` (its
//! values dropped, the strand exited) and a fresh one takes its place, while the other
//! two still hold their values: on thread-arena they share its generation, the seed's
//! first hazard. Every live value is compared with the text it was made from (a plain
//! model kept here, not the library's own comparison) after every step and after every
//! exit, and `checked` must never see a hazard.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Config, Strand, Value, ValueAllocator};

#[derive(Debug, Arbitrary)]
enum Op {
    Str {
        strand: u8,
        len: u16,
        big: bool,
    },
    Variant {
        strand: u8,
        lens: Vec<u8>,
    },
    Clone {
        at: u16,
    },
    Drop {
        at: u16,
    },
    /// Copy a value into another strand, as a send would.
    Move {
        at: u16,
        to: u8,
    },
    /// End the short-lived strand (its values first) and begin a fresh one.
    Exit,
}

#[derive(Debug, Arbitrary)]
struct Input {
    threshold_kib: u16,
    ops: Vec<Op>,
}

/// The longest plain string: 2 KiB, 32 KiB when `big` (past the large-value size of
/// every threshold the target uses up to 256 KiB, so large values are made too).
const MAX_LEN: usize = 2 << 10;

fn text(serial: usize, len: usize) -> String {
    let c = [b'a' + (serial % 26) as u8];
    std::str::from_utf8(&c).unwrap().repeat(len)
}

/// Live values and the texts they were made from (one for a string, one per field for a
/// variant).
type Live<'s, A> = Vec<(Value<'s, A>, Vec<String>)>;

/// Strands 0 and 1 live through the input; strand 2 is the short-lived one.
struct Strands<'o, 'i, A: ValueAllocator> {
    outer: &'o [Strand<A>],
    inner: &'i Strand<A>,
}

impl<'o, 'i, A: ValueAllocator> Strands<'o, 'i, A> {
    /// Makes a value with `make` on strand `which` (mod 3) and keeps it with its texts.
    fn make(
        &self,
        which: u8,
        kept: &mut Live<'o, A>,
        own: &mut Live<'i, A>,
        texts: Vec<String>,
        make: impl for<'s> Fn(&'s Strand<A>, &[String]) -> Value<'s, A>,
    ) {
        match which % 3 {
            2 => own.push((make(self.inner, &texts), texts)),
            n => kept.push((make(&self.outer[n as usize], &texts), texts)),
        }
    }
}

fn one_value<'s, A: ValueAllocator>(s: &'s Strand<A>, texts: &[String]) -> Value<'s, A> {
    s.str(&texts[0]).into()
}

fn variant<'s, A: ValueAllocator>(s: &'s Strand<A>, texts: &[String]) -> Value<'s, A> {
    let fields: Vec<Value<'s, A>> = texts.iter().map(|t| s.str(t).into()).collect();
    s.variant(texts.len() as u32, fields).into()
}

/// Checks every value against its texts.
fn check<A: ValueAllocator>(live: &Live<'_, A>) {
    for (v, t) in live {
        match v {
            Value::Str(s) => assert_eq!(s.try_as_str().unwrap(), t[0]),
            Value::Variant(var) => {
                let f = var.try_fields().unwrap();
                assert_eq!((var.tag() as usize, f.len()), (t.len(), t.len()));
                for (f, t) in f.iter().zip(t) {
                    assert_eq!(f.as_str(), Some(t.as_str()));
                }
            }
            other => panic!("unexpected value {other:?}"),
        }
    }
}

fn step<'o, 'i, A: ValueAllocator>(
    s: &Strands<'o, 'i, A>,
    kept: &mut Live<'o, A>,
    own: &mut Live<'i, A>,
    serial: usize,
    op: &Op,
) {
    let n = kept.len() + own.len();
    match op {
        Op::Str { strand, len, big } => {
            let len = *len as usize % (MAX_LEN + 1) * if *big { 16 } else { 1 };
            s.make(*strand, kept, own, vec![text(serial, len)], one_value);
        }
        Op::Variant { strand, lens } => {
            let texts = lens
                .iter()
                .take(8)
                .map(|l| text(serial, *l as usize))
                .collect();
            s.make(*strand, kept, own, texts, variant);
        }
        Op::Clone { at } if n > 0 => {
            let at = *at as usize % n;
            if at < kept.len() {
                let (v, t) = &kept[at];
                let c = (v.clone(), t.clone());
                kept.push(c);
            } else {
                let (v, t) = &own[at - kept.len()];
                let c = (v.clone(), t.clone());
                own.push(c);
            }
        }
        Op::Drop { at } if n > 0 => {
            let at = *at as usize % n;
            if at < kept.len() {
                kept.swap_remove(at);
            } else {
                own.swap_remove(at - kept.len());
            }
        }
        Op::Move { at, to } if n > 0 => {
            let at = *at as usize % n;
            let (p, t) = if at < kept.len() {
                let (v, t) = &kept[at];
                (s.outer[0].export(v), t.clone())
            } else {
                let (v, t) = &own[at - kept.len()];
                (s.inner.export(v), t.clone())
            };
            match to % 3 {
                2 => own.push((s.inner.import(p), t)),
                k => kept.push((s.outer[k as usize].import(p), t)),
            }
        }
        _ => {}
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
        let outer: Vec<Strand<A>> = (0..2).map(|_| Strand::local_with(cfg).unwrap()).collect();
        let mut kept: Live<'_, A> = Vec::new();
        let mut ops = self.0.ops.iter().take(64).enumerate().peekable();
        while ops.peek().is_some() {
            let inner = Strand::<A>::local_with(cfg).unwrap();
            let s = Strands {
                outer: &outer,
                inner: &inner,
            };
            let mut own: Live<'_, A> = Vec::new();
            for (serial, op) in ops.by_ref() {
                if matches!(op, Op::Exit) {
                    break;
                }
                step(&s, &mut kept, &mut own, serial, op);
                check(&kept);
                check(&own);
            }
            drop(own);
            assert_eq!(inner.stats().hazards, 0, "{}", A::NAME);
            // The short-lived strand exits while the others still hold their values.
            drop(inner);
            check(&kept);
        }
        drop(kept);
        for s in &outer {
            assert_eq!(s.stats().hazards, 0, "{}", A::NAME);
        }
        drop(outer);
        // Memory kept warm for the next strand (a thread's spare chunk, pooled arenas) is
        // given back, so that every input frees what it allocated and the fuzzer's leak
        // check does not run after every input.
        A::release_idle();
    }
}

fuzz_target!(|input: Input| {
    backends::for_each(&mut Run(&input));
});
