//! Operation sequences against every safe backend, with strands simulated on one plain
//! thread (several strand contexts interleaved, as May multiplexes them; May's own stack
//! switching confuses AddressSanitizer). Every live value is checked after every step,
//! and `checked` must never see a hazard.
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
}

#[derive(Debug, Arbitrary)]
struct Input {
    threshold_kib: u16,
    ops: Vec<Op>,
}

fn text(serial: usize, len: usize) -> String {
    let c = (b'a' + (serial % 26) as u8) as char;
    std::iter::repeat_n(c, len).collect()
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
        let strands: Vec<Strand<A>> = (0..3).map(|_| Strand::local_with(cfg).unwrap()).collect();
        let mut live: Vec<(Value<'_, A>, Vec<String>)> = Vec::new();
        for (serial, op) in self.0.ops.iter().take(64).enumerate() {
            match op {
                Op::Str { strand, len, big } => {
                    let len = *len as usize * if *big { 16 } else { 1 };
                    let t = text(serial, len);
                    let s = &strands[*strand as usize % 3];
                    live.push((s.str(&t).into(), vec![t]));
                }
                Op::Variant { strand, lens } => {
                    let s = &strands[*strand as usize % 3];
                    let texts: Vec<String> = lens
                        .iter()
                        .take(8)
                        .map(|l| text(serial, *l as usize))
                        .collect();
                    let fields: Vec<Value<'_, A>> = texts.iter().map(|t| s.str(t).into()).collect();
                    live.push((s.variant(serial as u32, fields).into(), texts));
                }
                Op::Clone { at } if !live.is_empty() => {
                    let (v, t) = &live[*at as usize % live.len()];
                    let c = (v.clone(), t.clone());
                    live.push(c);
                }
                Op::Drop { at } if !live.is_empty() => {
                    let n = live.len();
                    live.swap_remove(*at as usize % n);
                }
                Op::Move { at, to } if !live.is_empty() => {
                    let (v, t) = &live[*at as usize % live.len()];
                    let p = strands[0].export(v);
                    let moved = strands[*to as usize % 3].import(p);
                    let t = t.clone();
                    live.push((moved, t));
                }
                _ => {}
            }
            for (v, t) in &live {
                match v {
                    Value::Str(s) => assert_eq!(s.try_as_str().unwrap(), t[0]),
                    Value::Variant(var) => {
                        let f = var.try_fields().unwrap();
                        assert_eq!(f.len(), t.len());
                        for (f, t) in f.iter().zip(t) {
                            assert_eq!(f.as_str(), Some(t.as_str()));
                        }
                    }
                    other => panic!("unexpected value {other:?}"),
                }
            }
        }
        drop(live);
        for s in &strands {
            assert_eq!(s.stats().hazards, 0, "{}", A::NAME);
        }
    }
}

fuzz_target!(|input: Input| {
    backends::for_each(&mut Run(&input));
});
