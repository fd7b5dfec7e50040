//! A string held while the arena moves on from many generations stays intact, and memory
//! stays bounded: the current generation within `Config::generation_limit`, plus the one
//! generation the held values keep, plus a large value on the heap while it lives.

mod common;
use common::*;
use strand_alloc::{Config, Strand, ValueAllocator};

const THRESHOLD: usize = 64 * 1024;
const BIG: usize = 100 * 1024;

fn churn<A: ValueAllocator>() {
    // A fresh OS thread: its statistics slot is this test's alone.
    std::thread::spawn(churn_on_this_thread::<A>)
        .join()
        .unwrap();
}

fn churn_on_this_thread<A: ValueAllocator>() {
    let cfg = Config::default().with_threshold(THRESHOLD).unwrap();
    let s = Strand::<A>::local_with(cfg).unwrap();
    let keep = s.str(&text(7, 7, 300));
    let keep_variant = s.variant(1, [s.str(&text(7, 8, 50)).into()]);
    // Miri interprets every instruction, so it runs fewer rounds of the same shape.
    let rounds = if cfg!(miri) { 6 } else { 200 };
    for round in 0..rounds {
        let batch: Vec<_> = (0..64).map(|i| s.str(&text(round, i, 256))).collect();
        if round % 10 == 3 {
            let big = s.str(&"B".repeat(BIG));
            assert_eq!(big.len(), BIG);
        }
        for (i, b) in batch.iter().enumerate() {
            assert_eq!(b.as_str(), text(round, i, 256));
        }
        drop(batch);
        assert_eq!(keep.as_str(), text(7, 7, 300), "round {round}");
        assert_eq!(keep_variant.fields()[0].as_str().unwrap(), text(7, 8, 50));
    }
    let f = s.stats();
    let snap = strand_alloc::stats::<A>();
    // Every value larger than the large-value size went to the heap, not the arena.
    // One a round for the rounds 3, 13, 23, ...
    let large = if A::LARGE_APART {
        (rounds as u64 + 6) / 10
    } else {
        0
    };
    assert_eq!(f.large_values, large);
    let limit = cfg.generation_limit() as i64;
    if A::NAME != "global-malloc" {
        // 64 strings of 256 bytes a round is 16 KiB against a 64 KiB threshold: the
        // first generation, which the held values keep, is rotated out; later ones are
        // reset whenever a batch is dropped, so the arena reuses warm memory.
        assert!(
            f.rotations >= 1,
            "the held string's generation must be rotated out: {f:?}"
        );
    }
    match A::NAME {
        "thread-arena" => {
            // The current generation and the one the held values keep.
            let bound = 2 * limit;
            // Thread-arena's generations are memory of the thread, no strand's: the
            // backend's shared figures (only this thread uses the backend here).
            let peak = snap.shared.peak_reserved;
            assert!(peak <= bound, "peak reserved {peak} over {bound}");
        }
        "strand-arena" => {
            // The held values keep their generation aside; the strand goes on in fresh
            // generations, each reset once its values are gone; a large value is on the
            // heap, reserved for the strand while it lives.
            let bound = 2 * limit + BIG as i64;
            assert!(
                f.peak_reserved <= bound,
                "peak reserved {} over {bound}",
                f.peak_reserved
            );
            drop(keep);
            drop(keep_variant);
            let after = s.stats();
            assert!(
                after.reserved < f.reserved,
                "dropping the held values frees their generation: {} then {}",
                f.reserved,
                after.reserved
            );
        }
        _ => assert_eq!(f.resets() + f.rotations, 0),
    }
    assert_eq!(snap.totals.hazards, 0);
}

#[test]
fn held_string_survives_many_threshold_crossings() {
    for_each_backend!(churn);
}
