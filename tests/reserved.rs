//! What a backend reports as reserved always covers the values it holds: a hundred
//! thousand one-byte strings kept alive (the allocation fast path, which must notice
//! when its chunk runs out) are all inside reported chunks, and so is every one of
//! twenty thousand variants' field arrays (aligned: the room an allocation takes
//! includes its padding), checked after each.
//!
//! One test in its own binary: it reads process-wide figures.
#![cfg(not(miri))]

mod common;
use strand_alloc::{stats, Strand, Value, ValueAllocator};

fn covered<A: ValueAllocator>() {
    std::thread::spawn(|| {
        let s = Strand::<A>::local().unwrap();
        let before = stats::<A>().totals;
        let kept: Vec<_> = (0..100_000)
            .map(|i| s.str(["a", "b", "c"][i % 3]))
            .collect();
        // The strand's own figures first: reading them publishes them.
        s.stats();
        let now = stats::<A>().totals;
        let (used, reserved) = (now.used - before.used, now.reserved - before.reserved);
        assert_eq!(used, 100_000, "{}", A::NAME);
        assert!(
            reserved >= used,
            "{}: {reserved} reserved for {used} used",
            A::NAME
        );
        drop(kept);
        // One string byte between variants, so every field array needs padding.
        let mut held = Vec::with_capacity(40_000);
        for i in 0..20_000 {
            held.push(Value::from(s.str("p")));
            held.push(s.variant(1, [Value::Int(i)]).into());
            s.stats();
            let now = stats::<A>().totals;
            let (used, reserved) = (now.used, now.reserved);
            assert!(
                reserved >= used,
                "{}: {reserved} reserved for {used} used after {i} variants",
                A::NAME
            );
        }
    })
    .join()
    .unwrap();
}

#[test]
fn reserved_bytes_cover_the_values_held() {
    for_each_backend!(covered);
}
