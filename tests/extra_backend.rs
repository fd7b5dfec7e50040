//! A backend added from one file, outside the library: `tests/support/rounded.rs`,
//! declared by the one `mod` line below. The shared backend checks run on it unchanged,
//! and its figures come out exact although it counts nothing but its reservations.
//! Compiled only for this test, so no feature set and no comparison sees it.

mod common;
#[path = "support/rounded.rs"]
mod rounded;

use common::*;
use rounded::{rounded, Rounded};
use std::alloc::Layout;
use strand_alloc::{Strand, Ticket, ValueAllocator};

#[test]
fn the_shared_checks_pass() {
    values_and_exact_figures::<Rounded>();
}

#[cfg(not(miri))]
#[test]
fn the_shared_strand_checks_pass() {
    strands_move_and_report::<Rounded>();
    deep_values::<Rounded>();
}

#[test]
fn reserved_bytes_are_what_the_backend_reports() {
    let s = Strand::<Rounded>::local().unwrap();
    let a = s.str("x");
    let b = s.str(&"y".repeat(100));
    let f = s.stats();
    let r = |n| rounded(Layout::array::<u8>(n).unwrap()).size() as i64;
    assert_eq!((f.used, f.reserved), (101, r(1) + r(100)));
    drop((a, b));
    assert_eq!((s.stats().used, s.stats().reserved), (0, 0));
    drop(s);
    let snap = strand_alloc::stats::<Rounded>();
    assert_eq!(snap.backend, Rounded::NAME);
    assert!(snap.totals.allocs >= 2);
}

/// A backend that does not say where its values sit gets the documented default: "not
/// known" (`None`), for every ticket, so its releases count on the releasing thread.
#[test]
fn home_defaults_to_not_known() {
    for ticket in [Ticket::NONE, Ticket::PINNED, Ticket::new(0), Ticket::new(7)] {
        assert_eq!(<Rounded as ValueAllocator>::home(&(), ticket), None);
    }
}

/// A thread-bound backend on the heap whose `home` answers wrongly, in one of four ways:
/// a thread that never existed, the releasing thread, "not known", or anything.
mod misplaced {
    use std::alloc::Layout;
    use std::ptr::NonNull;
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    use strand_alloc::stats::Registry;
    use strand_alloc::{AllocError, StrandCx, Ticket, ValueAllocator};

    pub struct Misplaced<const M: u8>;
    /// A registry per kind: each type's own (promise 5 of the contract).
    static REGISTRIES: [Registry; 4] = [const { Registry::new("misplaced") }; 4];
    static NEXT: AtomicU32 = AtomicU32::new(0);

    // SAFETY: every allocation is the global allocator's, valid until its `dealloc`; the
    // state is empty. Only `home` is wrong, which the contract allows to spoil figures.
    unsafe impl<const M: u8> ValueAllocator for Misplaced<M> {
        const NAME: &'static str = "misplaced";
        const THREAD_BOUND: bool = true;
        type StrandState = ();
        fn registry() -> &'static Registry {
            &REGISTRIES[M as usize]
        }
        fn begin(_: &StrandCx) {}
        fn try_alloc(
            _: &(),
            _: &StrandCx,
            layout: Layout,
            _: bool,
        ) -> Result<(NonNull<u8>, Ticket), AllocError> {
            // SAFETY: the library never asks for zero bytes.
            let p = unsafe { std::alloc::alloc(layout) };
            NonNull::new(p)
                .map(|p| (p, Ticket::NONE))
                .ok_or(AllocError::OutOfMemory {
                    backend: "misplaced",
                    requested: layout.size(),
                })
        }
        unsafe fn dealloc(_: &(), _: &StrandCx, p: NonNull<u8>, layout: Layout, _: Ticket) {
            // SAFETY: `p` came from `try_alloc` with this layout.
            unsafe { std::alloc::dealloc(p.as_ptr(), layout) }
        }
        fn home(_: &(), _: Ticket) -> Option<u32> {
            match M {
                0 => Some(u32::MAX),
                1 => Some(strand_alloc::thread::thread_index()),
                2 => None,
                _ => Some(NEXT.fetch_add(7, Relaxed) % 5),
            }
        }
        fn reset(_: &mut (), _: &StrandCx) {}
        fn exit(_: (), _: &StrandCx) {}
    }
}

/// A wrong `home` spoils at most the stranded figures: no panic, never negative, never
/// above `used`, zero once nothing is live.
#[cfg(not(miri))]
fn misplaced_homes<const M: u8>() {
    use misplaced::Misplaced;
    setup();
    // SAFETY: the closure uses no thread-locals and holds nothing `!Send` across a hop.
    let h = unsafe {
        strand_alloc::Builder::<Misplaced<M>>::new().spawn(|s| {
            for round in 0..50 {
                let a = s.str(&"a".repeat(100));
                for _ in 0..3 {
                    strand_alloc::hop();
                }
                let b = s.str(&"b".repeat(30));
                drop(a);
                strand_alloc::hop();
                drop(b);
                let c = s.str(&"c".repeat(1 + round));
                let f = s.stats();
                assert!((0..=f.used).contains(&f.stranded), "{f:?}");
                drop(c);
                let f = s.stats();
                assert_eq!((f.used, f.stranded), (0, 0));
            }
        })
    }
    .unwrap();
    join(h);
}

#[cfg(not(miri))]
#[test]
fn a_backend_that_misplaces_its_values_spoils_only_the_stranded_figures() {
    misplaced_homes::<0>();
    misplaced_homes::<1>();
    misplaced_homes::<2>();
    misplaced_homes::<3>();
}

/// Backends on `Rounded`'s memory: one that sees its strand's id through `StrandCx::id`
/// (the id the strand reports, different for every strand), and one that shares
/// `Rounded`'s registry against the contract.
mod probe {
    use super::rounded::Rounded;
    use std::alloc::Layout;
    use std::cell::RefCell;
    use std::ptr::NonNull;
    use strand_alloc::stats::Registry;
    use strand_alloc::{AllocError, StrandCx, Ticket, ValueAllocator};

    /// The memory of a backend that is `Rounded`'s, which upholds promises 1 to 4.
    macro_rules! rounded_memory {
        () => {
            fn try_alloc(
                s: &(),
                cx: &StrandCx,
                layout: Layout,
                pinned: bool,
            ) -> Result<(NonNull<u8>, Ticket), AllocError> {
                Rounded::try_alloc(s, cx, layout, pinned)
            }
            unsafe fn dealloc(s: &(), cx: &StrandCx, p: NonNull<u8>, layout: Layout, t: Ticket) {
                // SAFETY: forwarded: `p` came from `Rounded::try_alloc` with this layout.
                unsafe { Rounded::dealloc(s, cx, p, layout, t) }
            }
            fn reset(_: &mut (), _: &StrandCx) {}
            fn exit(_: (), _: &StrandCx) {}
        };
    }

    pub struct IdProbe;
    static REGISTRY: Registry = Registry::new("id-probe");
    thread_local! {
        /// The ids `begin` saw on this thread, in order.
        pub static SEEN: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    }

    // SAFETY: every allocation is `Rounded`'s, which upholds the contract; `begin` only
    // records the id.
    unsafe impl ValueAllocator for IdProbe {
        const NAME: &'static str = "id-probe";
        const THREAD_BOUND: bool = false;
        type StrandState = ();
        fn registry() -> &'static Registry {
            &REGISTRY
        }
        fn begin(cx: &StrandCx) {
            SEEN.with(|s| s.borrow_mut().push(cx.id()));
        }
        rounded_memory!();
    }

    /// A backend that forwards everything to `Rounded`, its registry included, against
    /// promise 5 of the contract: its first strand is refused with a panic that names
    /// both, before anything of it is made, so it is never taken for `Rounded` (nor
    /// `Rounded` for it). `FullFigures<Rounded>`, which shares the registry by design, is
    /// not refused.
    pub struct Forwarding;

    // SAFETY: promises 1 to 4 are `Rounded`'s; promise 5 is broken on purpose, which the
    // library refuses (`a_second_type_on_a_backends_registry_is_refused`).
    unsafe impl ValueAllocator for Forwarding {
        const NAME: &'static str = "forwarding";
        const THREAD_BOUND: bool = false;
        type StrandState = ();
        fn registry() -> &'static Registry {
            Rounded::registry()
        }
        fn begin(cx: &StrandCx) {
            Rounded::begin(cx)
        }
        rounded_memory!();
    }
}

#[test]
fn a_backend_sees_its_strands_id() {
    use probe::{IdProbe, SEEN};
    let a = Strand::<IdProbe>::local().unwrap();
    let b = Strand::<IdProbe>::local().unwrap();
    assert_ne!(a.id(), b.id());
    assert_eq!(SEEN.with(|s| s.borrow().clone()), [a.id(), b.id()]);
    assert_eq!(a.str("kept").as_str(), "kept");
}

#[test]
fn a_second_type_on_a_backends_registry_is_refused() {
    use probe::Forwarding;
    use strand_alloc::{FullFigures, Handle};
    // The registry's own type, and its full level, begin strands as usual (on a thread
    // of their own: a context's current strand is the one thing a second type could be
    // given without a check, see promise 5).
    std::thread::spawn(|| {
        let own = Handle::<Rounded>::new_str("own").unwrap();
        let full = Strand::<FullFigures<Rounded>>::local().unwrap();
        assert_eq!(full.str("full").as_str(), "full");
        // SAFETY: owned, read and released once.
        unsafe {
            assert_eq!(own.as_str().unwrap(), "own");
            own.release().unwrap();
        }
    })
    .join()
    .unwrap();
    std::thread::spawn(|| {
        // The wrapper's strands are refused, plain or current (for a handle).
        let refused = std::panic::catch_unwind(|| Handle::<Forwarding>::new_str("x"));
        let message = match refused {
            Err(payload) => payload,
            Ok(answer) => panic!("not refused: {answer:?}"),
        };
        let message = message
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        assert!(
            message.contains("Forwarding") && message.contains("must be its own"),
            "{message}"
        );
        assert!(std::panic::catch_unwind(Strand::<Forwarding>::local).is_err());
        // The registry's own strands carry on, unconfused.
        let again = Handle::<Rounded>::new_str("again").unwrap();
        // SAFETY: owned, read and released once, by its own type.
        unsafe {
            assert_eq!(again.as_str().unwrap(), "again");
            again.release().unwrap();
        }
    })
    .join()
    .unwrap();
}
