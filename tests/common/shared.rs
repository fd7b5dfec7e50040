//! Checks every backend must pass, written once and generic over the backend: run on the
//! library's backends by `tests/backends.rs` and on a test-only backend by
//! `tests/extra_backend.rs`.

use super::*;
#[cfg(not(miri))]
use strand_alloc::{channel, Builder};
use strand_alloc::{Config, Strand, Value, ValueAllocator};

/// Values read back, and the library's own figures are exact: the backend reports
/// nothing of a value's allocation or release, the library counts them.
pub fn values_and_exact_figures<A: ValueAllocator>() {
    std::thread::spawn(|| {
        let cfg = Config::default().with_threshold(4096).unwrap();
        let s = Strand::<A>::local_with(cfg).unwrap();
        let before = s.stats();
        let a = s.str("alpha");
        let b = s.bytes(&[1, 2, 3]);
        let v = s.variant(7, [Value::Int(1), s.str("beta").into()]);
        let field_bytes = 2 * size_of::<Value<'static, A>>() as u64;
        let f = s.stats();
        assert_eq!(f.allocs - before.allocs, 4);
        assert_eq!(
            f.bytes_allocated - before.bytes_allocated,
            5 + 3 + 4 + field_bytes
        );
        assert_eq!(f.used, (5 + 3 + 4 + field_bytes) as i64);
        assert_eq!((a.as_str(), b.as_slice()), ("alpha", &[1u8, 2, 3][..]));
        assert_eq!(v.fields()[1].as_str(), Some("beta"));
        assert!(v != s.variant(7, [Value::Int(2), s.str("beta").into()]));
        drop((a, b, v));
        assert_eq!(s.stats().used, 0, "every release is counted");
        // Churn through many threshold crossings with a value held throughout.
        let held = s.str(&text(1, 1, 100));
        // Miri interprets every instruction, so it runs fewer rounds of the same shape.
        for round in 0..if cfg!(miri) { 12 } else { 200 } {
            let batch: Vec<_> = (0..16).map(|i| s.str(&text(round, i, 200))).collect();
            for (i, x) in batch.iter().enumerate() {
                assert_eq!(x.as_str(), text(round, i, 200));
            }
        }
        assert_eq!(held.as_str(), text(1, 1, 100));
        drop(held);
        assert_eq!(s.stats().used, 0);
        assert_eq!(s.stats().hazards, 0);
    })
    .join()
    .unwrap();
}

/// Strands migrate, send copies to each other and report exact figures; every strand's
/// exit runs.
#[cfg(not(miri))]
pub fn strands_move_and_report<A: ValueAllocator>() {
    setup();
    let (tx, rx) = channel();
    let senders: Vec<_> = (0..8)
        .map(|n| {
            let tx = tx.clone();
            // SAFETY: the closure uses no thread-locals and nothing `!Send`.
            unsafe {
                Builder::<A>::new().spawn(move |s| {
                    let held: Vec<_> = (0..20).map(|i| s.str(&text(n, i, 48))).collect();
                    for _ in 0..4 {
                        hop();
                    }
                    for (i, v) in held.iter().enumerate() {
                        assert_eq!(v.as_str(), text(n, i, 48));
                    }
                    let msg = s.variant(n as u32, [s.str(&text(n, 99, 32)).into()]);
                    tx.send(s, &msg.into()).unwrap();
                })
            }
            .unwrap()
        })
        .collect();
    drop(tx);
    for h in senders {
        let ((), report) = join_report(h);
        let f = report.figures;
        assert_eq!((f.allocs, f.copies, f.copied_bytes), (22, 1, 32));
        assert_eq!((f.strands_begun, f.strands_exited, f.used), (1, 1, 0));
        assert_eq!(f.hazards, 0);
    }
    // SAFETY: as above.
    let receiver = unsafe {
        Builder::<A>::new().spawn(move |s| {
            let mut got = 0;
            while let Ok(v) = rx.recv_in(s) {
                let var = v.as_variant().unwrap();
                assert_eq!(
                    var.fields()[0].as_str().unwrap(),
                    text(var.tag() as usize, 99, 32)
                );
                got += 1;
            }
            got
        })
    }
    .unwrap();
    assert_eq!(join(receiver), 8);
}

/// A deep list through every operation on May's default stack.
#[cfg(not(miri))]
pub fn deep_values<A: ValueAllocator>() {
    setup();
    // SAFETY: the closure uses no thread-locals and nothing `!Send`.
    let h = unsafe {
        Builder::<A>::new().spawn(|s| {
            let mut list = Value::Int(-1);
            for i in 0..100_000 {
                list = s.variant(1, [Value::Int(i), list]).into();
            }
            let copy = list.clone();
            let p = s.export(&copy);
            let back = s.import(p.clone());
            (copy == list) && back.matches(&p) && format!("{back:?}").contains("(..)")
        })
    }
    .unwrap();
    assert!(join(h));
}
