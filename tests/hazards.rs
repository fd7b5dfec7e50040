//! The four hazards of the seed's thread-arena policy, each built on purpose: on the
//! seed policy (`seed-arena`, only with `checked`) every one is detected, refused and
//! counted; on the safe thread arena the very same scenario has no hazard and every
//! value reads back intact.
#![cfg(all(feature = "seed-arena", feature = "thread-arena"))]

mod common;
use common::*;
use strand_alloc::{Builder, Config, SeedArena, Strand, ThreadArena, ValueAllocator};

/// What a scenario saw: the text it read back (or the hazard's message), and the hazards
/// and resets counted by the strand that read.
#[derive(Debug)]
struct Seen {
    read: Result<String, String>,
    hazards: u64,
    resets: u64,
}

impl Seen {
    fn of(read: Result<String, strand_alloc::Hazard>, f: strand_alloc::Figures) -> Seen {
        Seen {
            read: read.map_err(|h| h.to_string()),
            hazards: f.hazards,
            resets: f.resets(),
        }
    }
}

fn on_fresh_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
}

/// A strand context on any backend, the seed policy included.
fn strand<A: ValueAllocator>(config: Config) -> Strand<A> {
    // SAFETY: these tests read values only through the checked accessors, at the moment
    // of access, and keep no borrowed `&str` across an allocation, an exit or a move.
    unsafe { Strand::local_unchecked(config) }
}

fn config(threshold: usize) -> Config {
    Config::default().with_threshold(threshold).unwrap()
}

/// Hazard 1: strands share an OS thread; one exits while another still holds a string.
fn shared_thread_reset<A: ValueAllocator>() -> Seen {
    on_fresh_thread(|| {
        let holder = strand::<A>(config(1 << 20));
        let kept = holder.str("held by a strand that is suspended");
        {
            // Another strand on the same thread runs and exits.
            let other = strand::<A>(config(1 << 20));
            assert_eq!(other.str("short-lived").as_str(), "short-lived");
        }
        let read = kept
            .try_as_str()
            .map(str::to_owned)
            .map_err(|h| h.to_string());
        let f = holder.stats();
        Seen {
            read,
            hazards: f.hazards,
            resets: f.resets(),
        }
    })
}

/// Hazard 3: the allocation that crosses the threshold returns a value in an arena the
/// same call has just reset.
fn reset_inside_allocation<A: ValueAllocator>() -> Seen {
    on_fresh_thread(|| {
        let s = strand::<A>(config(4096));
        let big = "x".repeat(8192);
        let v = s.str(&big);
        Seen::of(v.try_as_str().map(|t| t.len().to_string()), s.stats())
    })
}

/// Hazard 4: the threshold counts chunk capacity; after one allocation larger than the
/// threshold, the kept chunk is over it for good and every allocation resets the arena.
fn capacity_counting<A: ValueAllocator>() -> Seen {
    on_fresh_thread(|| {
        let s = strand::<A>(config(1 << 20));
        drop(s.str(&"B".repeat(2 << 20)));
        let before = s.stats().resets();
        let a = s.str("first small string");
        let b = s.str("second small string");
        let c = s.str("third small string");
        let read = a
            .try_as_str()
            .and_then(|a| Ok(format!("{a}|{}|{}", b.try_as_str()?, c.try_as_str()?)))
            .map_err(|h| h.to_string());
        let f = s.stats();
        Seen {
            read,
            hazards: f.hazards,
            resets: f.resets() - before,
        }
    })
}

/// Hazard 2: a strand allocates on one thread, moves to another, and reads.
fn migration<A: ValueAllocator>() -> Seen {
    setup();
    // SAFETY: the closure keeps no thread-local borrow and nothing `!Send` across a point where the strand can move.
    let h = unsafe {
        Builder::<A>::new().config(config(1 << 20)).spawn(|s| {
            let before = std::thread::current().id();
            let kept = s.str("allocated before the move");
            let mut hops = 0;
            while std::thread::current().id() == before {
                hop();
                hops += 1;
                assert!(hops < 10_000, "the strand never moved");
            }
            kept.try_as_str()
                .map(str::to_owned)
                .map_err(|h| h.to_string())
        })
    }
    .unwrap();
    let (read, report) = join_report(h);
    Seen {
        read,
        hazards: report.figures.hazards,
        resets: report.figures.resets(),
    }
}

fn assert_caught(name: &str, seen: &Seen) {
    let msg = seen.read.as_ref().expect_err(name);
    assert!(
        msg.contains("hazard on the seed-arena backend") && msg.contains("refused"),
        "{name}: {msg}"
    );
    assert!(seen.hazards >= 1, "{name}: the hazard is counted: {seen:?}");
}

fn assert_safe(name: &str, seen: &Seen, expect: &str) {
    assert_eq!(seen.read.as_deref(), Ok(expect), "{name}: {seen:?}");
    assert_eq!(seen.hazards, 0, "{name}");
}

#[test]
fn shared_thread_reset_is_caught_and_absent_from_the_safe_policy() {
    let seed = shared_thread_reset::<SeedArena>();
    assert_caught("shared-thread reset", &seed);
    let safe = shared_thread_reset::<ThreadArena>();
    assert_safe(
        "shared-thread reset",
        &safe,
        "held by a strand that is suspended",
    );
}

#[test]
#[cfg_attr(miri, ignore = "needs May, which Miri cannot run")]
fn migration_is_caught_and_absent_from_the_safe_policy() {
    let seed = migration::<SeedArena>();
    assert_caught("migration", &seed);
    let safe = migration::<ThreadArena>();
    assert_safe("migration", &safe, "allocated before the move");
}

#[test]
fn reset_inside_allocation_is_caught_and_absent_from_the_safe_policy() {
    let seed = reset_inside_allocation::<SeedArena>();
    assert_caught("reset inside allocation", &seed);
    assert!(seed.resets >= 1, "{seed:?}");
    let safe = reset_inside_allocation::<ThreadArena>();
    assert_safe("reset inside allocation", &safe, "8192");
}

#[test]
fn capacity_counting_is_caught_and_absent_from_the_safe_policy() {
    let seed = capacity_counting::<SeedArena>();
    assert_caught("capacity counting", &seed);
    // Every one of the three small allocations reset the arena.
    assert_eq!(seed.resets, 3, "{seed:?}");
    let safe = capacity_counting::<ThreadArena>();
    assert_safe(
        "capacity counting",
        &safe,
        "first small string|second small string|third small string",
    );
    // Counting used bytes: at most the one reset that reclaims the big string's bytes,
    // not one per allocation.
    assert!(safe.resets <= 1, "used bytes, not capacity: {safe:?}");
}

#[test]
fn the_plain_accessor_panics_with_the_hazard() {
    let msg = on_fresh_thread(|| {
        let s = strand::<SeedArena>(config(4096));
        let v = s.str(&"x".repeat(8192));
        let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| v.as_str().len()))
            .expect_err("reading a reset value panics");
        let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
        assert_eq!(s.stats().hazards, 1);
        msg
    });
    assert!(
        msg.contains("hazard") && msg.contains("access was refused"),
        "{msg}"
    );
}

#[test]
fn the_seeds_explicit_reset_resets_the_thread_arena_it_shares() {
    on_fresh_thread(|| {
        let other = strand::<SeedArena>(config(1 << 20));
        let kept = other.str("kept by another strand on this thread");
        let mut s = strand::<SeedArena>(config(1 << 20));
        drop(s.str("made and dropped"));
        s.reset();
        assert_eq!(s.stats().resets_explicit, 1, "the reset is counted");
        // The seed's reset empties the thread's one arena, under the other strand's
        // value: caught and counted as that strand's hazard.
        assert!(
            kept.try_as_str().is_err(),
            "the other strand's value survived"
        );
        assert_eq!(other.stats().hazards, 1);
    });
}
