//! A handle scope's values are freed at its leave, on the real heap: 100,000 messages in
//! a row, each making eight values of 16-512 B (the comparison's mixed sizes) through
//! handles and releasing none, stay within a bound on every backend. The same messages
//! without scopes keep every value until the strand ends. A burst of 100,000 values in
//! one scope gives its record's room back when the last scope is left.
//!
//! One test in its own binary: it counts the heap of its own thread (the test harness
//! allocates on its other threads at any time).
#![cfg(not(miri))]

mod common;
#[path = "support/counting.rs"]
mod counting;
use counting::{outstanding_here as outstanding, Counting};
use strand_alloc::handle::{enter_scope, leave_scope};
use strand_alloc::{current_figures, Handle, ValueAllocator};

#[global_allocator]
static GLOBAL: Counting = Counting;

const MESSAGES: usize = 100_000;
/// Messages before the heap is read: sizes go round every 497 values.
const WARM: usize = 1_000;
/// Messages without scopes: more than the arenas keep warm after the burst.
const UNSCOPED: usize = 20_000;
/// Values made and released in one scope.
const CHURN: usize = 1_000_000;

fn messages() -> Vec<String> {
    (0..497).map(|i| "m".repeat(16 + (i * 37) % 497)).collect()
}

fn scoped<A: ValueAllocator>() {
    std::thread::spawn(|| {
        let texts = messages();
        let one = |n: usize, scoped: bool| {
            let mark = scoped.then(|| enter_scope::<A>().unwrap());
            for i in 0..8 {
                Handle::<A>::new_str(&texts[(n * 8 + i) % texts.len()]).unwrap();
            }
            if let Some(mark) = mark {
                // SAFETY: no value of the message is used afterwards.
                unsafe { leave_scope::<A>(mark) }.unwrap();
            }
        };
        for n in 0..WARM {
            one(n, true);
        }
        let heap = outstanding();
        let mut high = heap;
        for n in WARM..MESSAGES {
            one(n, true);
            high = high.max(outstanding());
        }
        let grown = high - heap;
        eprintln!(
            "{}: heap grew {grown} B over {MESSAGES} scoped messages",
            A::NAME
        );
        assert!(
            grown < 64 * 1024,
            "{}: {grown} B more heap after {MESSAGES} scoped messages",
            A::NAME
        );
        assert_eq!(current_figures::<A>().unwrap().used, 0);

        // A burst: 100,000 values in one scope, then the record's room is given back.
        let before = outstanding();
        let (reserved_before, pool) = (reserved::<A>(), strand_alloc::slot::pool_bytes());
        let mark = enter_scope::<A>().unwrap();
        for n in 0..MESSAGES {
            Handle::<A>::new_str(&texts[n % texts.len()]).unwrap();
        }
        // SAFETY: as above.
        unsafe { leave_scope::<A>(mark) }.unwrap();
        let kept = outstanding() - before;
        let arena = reserved::<A>() - reserved_before;
        let blocks = (strand_alloc::slot::pool_bytes() - pool) as isize;
        let rest = kept - arena;
        eprintln!(
            "{}: a burst of {MESSAGES} values kept {kept} B: {arena} B reserved (the arena \
             kept warm, and {blocks} B of slot blocks), {rest} B else",
            A::NAME
        );
        // The rest is the record's room (8 KiB kept of about 1 MiB), and the lists of
        // the blocks: the home's (8 B a block) and, with `checked`, the process's (16 B),
        // each with room for up to twice its entries.
        let lists = blocks / strand_alloc::slot::BLOCK_SIZE as isize * 48;
        assert!(
            rest < 64 * 1024 + lists,
            "{}: a burst left {rest} B",
            A::NAME
        );

        // One scope in which values are made and released over and over: its record
        // keeps one entry per slot used, not one per value (a plain build reuses the
        // warmest slot; `checked` goes round every free slot of the strand's, which
        // after the burst are 100,000), so it stays within 8 B a slot, twice over for
        // its room, far below 8 B a value.
        let before = outstanding();
        let mark = enter_scope::<A>().unwrap();
        for n in 0..CHURN {
            let h = Handle::<A>::new_str(&texts[n % texts.len()]).unwrap();
            // SAFETY: live, released once.
            unsafe { h.release() }.unwrap();
            if n == CHURN / 2 {
                let grown = outstanding() - before;
                eprintln!(
                    "{}: {grown} B more heap after {n} values made and released in one scope",
                    A::NAME
                );
                let slots = strand_alloc::slot::pool_bytes() / strand_alloc::slot::SLOT_SIZE;
                assert!(
                    grown < 64 * 1024 + 16 * slots as isize && grown < (CHURN / 2 * 8) as isize,
                    "{}: {grown} B",
                    A::NAME
                );
            }
        }
        // SAFETY: no value of the scope is used afterwards.
        unsafe { leave_scope::<A>(mark) }.unwrap();

        // Without scopes, nothing is freed until the strand ends.
        let before = outstanding();
        for n in 0..UNSCOPED {
            one(n, false);
        }
        let kept = current_figures::<A>().unwrap().used;
        assert!(kept > (UNSCOPED * 8 * 16) as i64, "{}: {kept} B", A::NAME);
        assert!(
            outstanding() - before > kept as isize / 4,
            "{}: the unscoped values are on the heap",
            A::NAME
        );
    })
    .join()
    .unwrap();
}

/// Bytes the strand reserves, and the shared memory its backend keeps for any strand
/// (a thread's generations on thread-arena).
fn reserved<A: ValueAllocator>() -> isize {
    let s = strand_alloc::stats::<A>();
    (current_figures::<A>().unwrap().reserved + s.shared.reserved) as isize
}

#[test]
fn a_handle_scope_frees_its_values_at_its_leave_on_the_real_heap() {
    for_each_backend!(scoped);
}
