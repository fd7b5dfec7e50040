//! One-word handles, made, read, shared, released and reset through the current-strand
//! API with no `&Strand` at hand, on plain threads (Miri runs these; the coroutine cases
//! are in `examples/runtime.rs` and its test).

mod common;

use strand_alloc::ValueAllocator;
use strand_alloc::{current_figures, reset_current, Field, Handle, HandleError, HandleKind};

/// A runtime's word kept as a pointer (strict provenance), sent between threads.
#[derive(Clone, Copy)]
struct Word(*mut ());
// SAFETY: the word is an address; the handle rules say who may follow it.
unsafe impl Send for Word {}

fn used<A: ValueAllocator>() -> i64 {
    current_figures::<A>().unwrap().used
}

fn size_and_alignment<A: ValueAllocator>() {
    assert_eq!(std::mem::size_of::<Handle<A>>(), 8);
    assert_eq!(std::mem::size_of::<Option<Handle<A>>>(), 8);
    let h = Handle::<A>::new_str("x").unwrap();
    assert_eq!(
        h.to_word() % 8,
        0,
        "the low 3 bits are free for a runtime's tag"
    );
    assert_eq!(h.kind(), HandleKind::Str);
    // SAFETY: released once, by its owner.
    unsafe { h.release() }.unwrap();
}

#[test]
fn a_handle_is_one_aligned_word() {
    for_each_backend!(size_and_alignment);
}

fn made_read_released_by_the_owner<A: ValueAllocator>() {
    std::thread::spawn(|| {
        let before = used::<A>();
        let s = Handle::<A>::new_str("hello, strand").unwrap();
        let b = Handle::<A>::new_bytes(&[1, 2, 3]).unwrap();
        // SAFETY: `s` and `b` are given to the variant once, not released here.
        let v = unsafe {
            Handle::<A>::new_variant(7, &[Field::Int(1), Field::Value(s), Field::Value(b)])
        }
        .unwrap();
        assert_eq!(
            used::<A>() - before,
            13 + 3 + 3 * 16,
            "used counts the values' bytes"
        );
        // SAFETY: live values of this thread's strand.
        unsafe {
            assert_eq!(s.as_str().unwrap(), "hello, strand");
            assert_eq!(b.as_bytes().unwrap(), &[1, 2, 3]);
            let (tag, fields) = v.fields().unwrap();
            assert_eq!((tag, fields.len()), (7, 3));
            assert!(matches!(s.as_bytes(), Err(HandleError::WrongKind { .. })));
            // The variant owns its fields: releasing it releases them.
            v.release().unwrap();
        }
        assert_eq!(used::<A>(), before, "every byte came back");
    })
    .join()
    .unwrap();
}

#[test]
fn values_are_made_read_and_released_by_their_owner() {
    for_each_backend!(made_read_released_by_the_owner);
}

fn shared_outlives_its_maker<A: ValueAllocator>() {
    // Miri interprets every instruction, so it runs fewer values of the same shape: ten
    // times as many noise strings as values, enough bytes to cover the values' memory.
    let values = if cfg!(miri) { 50 } else { 200 };
    // Strand A (a thread) makes values and shares them, then ends.
    let words: Vec<Word> = std::thread::spawn(move || {
        (0..values)
            .map(|i| {
                let s = Handle::<A>::new_str(&format!("value number {i:04}")).unwrap();
                let inner = Handle::<A>::new_bytes(&[i as u8; 24]).unwrap();
                // SAFETY: `s` and `inner` are given to the variant once.
                let v =
                    unsafe { Handle::<A>::new_variant(i, &[Field::Value(s), Field::Value(inner)]) }
                        .unwrap();
                assert!(!v.is_shared(), "owned until shared");
                // SAFETY: this thread owns `v`; the share makes it readable anywhere.
                let shared = unsafe { v.share() }.unwrap();
                assert_eq!(shared, v, "the word does not change");
                assert!(v.is_shared());
                // The maker lets go of its own hold; the other stays for the reader.
                // SAFETY: one of two holders.
                unsafe { v.release() }.unwrap();
                Word(shared.to_ptr())
            })
            .collect()
    })
    .join()
    .unwrap();
    // Strand B (another thread) allocates over whatever A's memory became, then reads.
    std::thread::spawn(move || {
        let words = words;
        let noise: Vec<_> = (0..10 * values)
            .map(|_| Handle::<A>::new_str("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX").unwrap())
            .collect();
        let mut stale = 0;
        for (i, w) in words.into_iter().enumerate() {
            // SAFETY: the words came from `to_word` of shared values with a holder left.
            let h = unsafe { Handle::<A>::from_ptr(w.0) }.unwrap();
            // SAFETY: shared and not released.
            let (tag, fields) = unsafe { h.fields() }.unwrap();
            let (Field::Value(s), Field::Value(b)) = (fields[0], fields[1]) else {
                panic!("fields changed")
            };
            // SAFETY: held by the variant.
            let ok = tag == i as u32
                && unsafe { s.as_str() }.unwrap() == format!("value number {i:04}")
                && unsafe { b.as_bytes() }.unwrap() == [i as u8; 24];
            stale += usize::from(!ok);
            // SAFETY: the last holder.
            unsafe { h.release() }.unwrap();
        }
        assert_eq!(stale, 0, "stale reads of shared values");
        for n in noise {
            // SAFETY: owned by this thread, released once.
            unsafe { n.release() }.unwrap();
        }
    })
    .join()
    .unwrap();
    assert_eq!(
        strand_alloc::stats::<A>().shared.used,
        0,
        "shared bytes all freed"
    );
}

#[test]
fn a_shared_value_outlives_its_maker_and_reads_true() {
    for_each_backend!(shared_outlives_its_maker);
}

/// A shared value shared again: every share adds a holder (here a thousand, from two
/// threads), every release takes one, and the value reads true until the last.
fn shared_again<A: ValueAllocator>() {
    let h = Handle::<A>::new_str("held by many").unwrap();
    assert_eq!(h.holders(), None, "owned: no count");
    // SAFETY: owned by this thread's strand; every holder below is released once.
    unsafe {
        let first = h.share().unwrap();
        assert_eq!(first.holders(), Some(2));
        for n in 3..=500 {
            h.share().unwrap();
            assert_eq!(h.holders(), Some(n));
        }
    }
    let word = Word(h.to_ptr());
    std::thread::spawn(move || {
        let word = word;
        // SAFETY: a shared value with holders left.
        let h = unsafe { Handle::<A>::from_ptr(word.0) }.unwrap();
        for n in 501..=1000 {
            // SAFETY: shared: any thread may add a holder.
            unsafe { h.share() }.unwrap();
            assert_eq!(h.holders(), Some(n));
        }
    })
    .join()
    .unwrap();
    for n in (1..=1000).rev() {
        // SAFETY: a holder left; shared values read anywhere.
        assert_eq!(unsafe { h.as_str() }.unwrap(), "held by many");
        // SAFETY: one of `n` holders.
        unsafe { h.release() }.unwrap();
        if n > 1 {
            assert_eq!(h.holders(), Some(n - 1));
        }
    }
}

#[test]
fn every_share_adds_a_holder_and_every_release_takes_one() {
    for_each_backend!(shared_again);
}

fn released_elsewhere<A: ValueAllocator>() {
    let (to_owner, owner_rx) = std::sync::mpsc::channel::<()>();
    let (to_other, other_rx) = std::sync::mpsc::channel::<Word>();
    let owner = std::thread::spawn(move || {
        let before = used::<A>();
        let h = Handle::<A>::new_str("released by another thread").unwrap();
        to_other.send(Word(h.to_ptr())).unwrap();
        owner_rx.recv().unwrap();
        // Counted until the owner collects it, at its next allocation.
        assert_eq!(used::<A>() - before, 26);
        let next = Handle::<A>::new_str("y").unwrap();
        assert_eq!(used::<A>() - before, 1, "collected at the next allocation");
        // SAFETY: owned, released once.
        unsafe { next.release() }.unwrap();
    });
    let w = other_rx.recv().unwrap();
    // SAFETY: the word came from `to_word`; released once, not read here.
    unsafe { Handle::<A>::from_ptr(w.0).unwrap().release() }.unwrap();
    to_owner.send(()).unwrap();
    owner.join().unwrap();
}

#[test]
fn a_value_released_elsewhere_goes_back_to_its_owner() {
    for_each_backend!(released_elsewhere);
}

fn reset_frees_owned_keeps_shared<A: ValueAllocator>() {
    std::thread::spawn(|| {
        let before = used::<A>();
        let owned = Handle::<A>::new_str("owned").unwrap();
        let kept = Handle::<A>::new_str("shared").unwrap();
        // SAFETY: this thread owns both.
        let kept = unsafe { kept.share() }.unwrap();
        // SAFETY: no owned value is used after the reset (but for the checked probe).
        unsafe { reset_current::<A>() }.unwrap();
        assert_eq!(used::<A>(), before, "owned values are gone");
        // SAFETY: shared values are untouched by a reset.
        assert_eq!(unsafe { kept.as_str() }.unwrap(), "shared");
        if cfg!(feature = "checked") {
            let hazards = strand_alloc::stats::<A>().totals.hazards;
            // SAFETY: under `checked` a stale owned handle is refused before any read.
            let e = unsafe { owned.as_str() }.unwrap_err();
            assert!(
                matches!(e, HandleError::Stale | HandleError::Released),
                "{e:?}"
            );
            assert!(
                strand_alloc::stats::<A>().totals.hazards > hazards,
                "counted"
            );
        }
        // SAFETY: two holders, released twice.
        unsafe {
            kept.release().unwrap();
            kept.release().unwrap();
        }
        for _ in 0..100 {
            let h = Handle::<A>::new_str("after").unwrap();
            // SAFETY: owned, released once.
            unsafe { h.release() }.unwrap();
        }
    })
    .join()
    .unwrap();
}

#[test]
fn a_reset_frees_owned_values_and_keeps_shared_ones() {
    for_each_backend!(reset_frees_owned_keeps_shared);
}

#[cfg(feature = "checked")]
fn foreign_refused<A: ValueAllocator>() {
    let w = std::thread::spawn(|| {
        let h = Handle::<A>::new_str("mine").unwrap();
        let w = Word(h.to_ptr());
        std::thread::spawn(move || {
            let w = w; // the whole word, not its pointer field alone
                       // SAFETY: the word came from `to_word`; under `checked` the foreign read is
                       // refused before anything is read.
            let h = unsafe { Handle::<A>::from_ptr(w.0) }.unwrap();
            // SAFETY: under `checked` the foreign use is refused before anything is read.
            assert!(matches!(unsafe { h.as_str() }, Err(HandleError::Foreign)));
            assert!(matches!(unsafe { h.share() }, Err(HandleError::Foreign)));
        })
        .join()
        .unwrap();
        // SAFETY: owned, released once.
        unsafe { h.release() }.unwrap();
        // Released: refused while the slot is free.
        // SAFETY: under `checked` a released handle is refused before anything is read.
        assert!(matches!(unsafe { h.as_str() }, Err(HandleError::Released)));
        assert!(matches!(unsafe { h.release() }, Err(HandleError::Released)));
        w
    })
    .join()
    .unwrap();
    // A forged word is not a handle.
    // SAFETY: checked builds verify that a word names a slot.
    assert!(unsafe { Handle::<A>::from_ptr(w.0.wrapping_byte_add(8)) }.is_none());
    assert!(unsafe { Handle::<A>::from_ptr(w.0.wrapping_byte_add(1 << 40)) }.is_none());
}

#[test]
#[cfg(feature = "checked")]
fn checked_refuses_foreign_released_and_forged_handles() {
    for_each_backend!(foreign_refused);
}

fn deep_in_constant_stack<A: ValueAllocator>() {
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            let depth = if cfg!(miri) { 200 } else { 100_000 };
            let mut v = Handle::<A>::new_str("leaf").unwrap();
            for i in 0..depth {
                // SAFETY: the previous link is given to the next, once.
                v = unsafe {
                    Handle::<A>::new_variant(i, &[Field::Value(v), Field::Int(i as i64)])
                }
                .unwrap();
            }
            // SAFETY: owned by this thread.
            let shared = unsafe { v.share() }.unwrap();
            let reader = std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let mut h = shared;
                    let mut n = 0;
                    // SAFETY: shared, with a holder until released below.
                    while let Ok((_, f)) = unsafe { h.fields() } {
                        let Field::Value(next) = f[0] else { panic!() };
                        h = next;
                        n += 1;
                    }
                    // SAFETY: the leaf is held by the shared chain.
                    assert_eq!(unsafe { h.as_str() }.unwrap(), "leaf");
                    // SAFETY: one holder of two.
                    unsafe { shared.release() }.unwrap();
                    n
                })
                .unwrap();
            assert_eq!(reader.join().unwrap(), depth);
            // SAFETY: the last holder: frees the whole chain.
            unsafe { v.release() }.unwrap();
            assert_eq!(strand_alloc::stats::<A>().shared.used, 0);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn deep_variants_share_and_release_in_constant_stack() {
    for_each_backend!(deep_in_constant_stack);
}

fn variant_fields_refused<A: ValueAllocator>() {
    std::thread::spawn(|| {
        let before = used::<A>();
        let hazards = strand_alloc::stats::<A>().totals.hazards;
        // A released field: refused, and the variant does not take its slot.
        let x = Handle::<A>::new_str("x").unwrap();
        // SAFETY: owned, released once.
        unsafe { x.release() }.unwrap();
        // SAFETY: the call is refused before anything is taken (what is tested here).
        let e = unsafe { Handle::<A>::new_variant(7, &[Field::Value(x)]) }.unwrap_err();
        assert!(matches!(e, HandleError::Released), "{e:?}");
        // The same owned value twice: refused, and both stay the caller's.
        let y = Handle::<A>::new_str("y").unwrap();
        // SAFETY: the call is refused before anything is taken.
        let e = unsafe {
            Handle::<A>::new_variant(1, &[Field::Value(y), Field::Int(3), Field::Value(y)])
        }
        .unwrap_err();
        assert!(
            matches!(e, HandleError::RepeatedField { index: 2 }),
            "{e:?}"
        );
        // SAFETY: still owned by this thread, unchanged.
        assert_eq!(unsafe { y.as_str() }.unwrap(), "y");
        // Given once, it is taken; a released value's later slot holder is not.
        let z = Handle::<A>::new_str("z").unwrap();
        // SAFETY: `y` is given once.
        let v = unsafe { Handle::<A>::new_variant(2, &[Field::Value(y)]) }.unwrap();
        assert_ne!(v, x, "a variant never holds itself");
        // SAFETY: the variant and `z` are released once each; `z` was never given away.
        unsafe {
            v.release().unwrap();
            assert_eq!(z.as_str().unwrap(), "z");
            z.release().unwrap();
        }
        assert_eq!(used::<A>(), before, "{}", A::NAME);
        // A foreign owned field is refused and counted (its owner alive meanwhile).
        let (word_tx, word_rx) = std::sync::mpsc::channel::<Word>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let owner = std::thread::spawn(move || {
            let h = Handle::<A>::new_str("theirs").unwrap();
            word_tx.send(Word(h.to_ptr())).unwrap();
            done_rx.recv().unwrap();
            // SAFETY: owned, released once, by its owner.
            unsafe { h.release() }.unwrap();
        });
        let w = word_rx.recv().unwrap();
        // SAFETY: the word came from `to_ptr`, and its owner lives.
        let theirs = unsafe { Handle::<A>::from_ptr(w.0) }.unwrap();
        // SAFETY: the call is refused before anything is taken.
        let e = unsafe { Handle::<A>::new_variant(0, &[Field::Value(theirs)]) }.unwrap_err();
        assert!(matches!(e, HandleError::ForeignField { index: 0 }), "{e:?}");
        done_tx.send(()).unwrap();
        owner.join().unwrap();
        assert!(
            strand_alloc::stats::<A>().totals.hazards >= hazards + 2,
            "{}",
            A::NAME
        );
    })
    .join()
    .unwrap();
}

#[test]
fn a_variant_refuses_released_repeated_and_foreign_fields() {
    for_each_backend!(variant_fields_refused);
}

#[cfg(feature = "checked")]
fn stale_after_reset_with_reuse<A: ValueAllocator>() {
    std::thread::spawn(|| {
        // Free slots of this strand's own first (a block taken from an ended strand may
        // hold few), so that there are others to hand out before the reset's.
        let warm: Vec<_> = (0..100)
            .map(|_| Handle::<A>::new_str("warm").unwrap())
            .collect();
        for h in warm {
            // SAFETY: owned, released once.
            unsafe { h.release() }.unwrap();
        }
        let s = Handle::<A>::new_str("before the reset").unwrap();
        // SAFETY: `s` is used afterwards only as the probe that checked refuses.
        unsafe { strand_alloc::reset_current::<A>() }.unwrap();
        // New values after the reset: a freed slot is reused as late as possible.
        let t: Vec<_> = (0..8)
            .map(|_| Handle::<A>::new_str("after").unwrap())
            .collect();
        assert!(
            !t.contains(&s),
            "{}: a reset's slot was reused at once",
            A::NAME
        );
        // SAFETY: checked refuses before reading.
        let e = unsafe { s.as_str() }.unwrap_err();
        assert!(
            matches!(e, HandleError::Released | HandleError::Stale),
            "{e:?}"
        );
        for h in t {
            // SAFETY: owned, released once.
            unsafe { h.release() }.unwrap();
        }
    })
    .join()
    .unwrap();
}

#[test]
#[cfg(feature = "checked")]
fn checked_refuses_a_handle_from_before_a_reset_while_values_are_made() {
    for_each_backend!(stale_after_reset_with_reuse);
}

#[test]
#[cfg(all(
    feature = "checked",
    feature = "thread-arena",
    feature = "global-malloc"
))]
fn checked_refuses_a_word_of_another_backend() {
    use strand_alloc::{GlobalMalloc, ThreadArena};
    let h = Handle::<GlobalMalloc>::new_str("gm").unwrap();
    // SAFETY: checked builds verify the backend of the slot a pointer names.
    assert!(unsafe { Handle::<ThreadArena>::from_ptr(h.to_ptr()) }.is_none());
    assert!(unsafe { Handle::<GlobalMalloc>::from_ptr(h.to_ptr()) }.is_some());
    // SAFETY: owned, released once.
    unsafe { h.release() }.unwrap();
}
