//! A share that runs out of memory halfway changes nothing: the first share of a variant
//! copies it and every owned value inside it to the heap, all copies before anything
//! changes; when the global allocator refuses one, the copies made are freed and every
//! value stays owned, readable and releasable. Checked on the real heap: a global
//! allocator that refuses one block size on demand and counts the bytes outstanding.
//!
//! One test function per binary, so nothing else allocates while it counts.
#![cfg(not(miri))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::SeqCst};
use strand_alloc::{Field, Handle, HandleError, ValueAllocator};

struct Refusing;

/// Bytes allocated and not yet freed.
static OUTSTANDING: AtomicIsize = AtomicIsize::new(0);
/// Whether a block of [`REFUSED`] bytes is refused.
static REFUSE: AtomicBool = AtomicBool::new(false);
/// The size refused: the third value's copy.
const REFUSED: usize = 777;

// SAFETY: forwards to the system allocator unchanged, or returns null (a refusal, which
// the contract allows); only counts.
unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() == REFUSED && REFUSE.load(SeqCst) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            OUTSTANDING.fetch_add(l.size() as isize, SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        OUTSTANDING.fetch_sub(l.size() as isize, SeqCst);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Refusing = Refusing;

fn refused_share<A: ValueAllocator>() {
    let long = "l".repeat(700);
    let refused = vec![7u8; REFUSED];
    let s = Handle::<A>::new_str(&long).unwrap();
    let b = Handle::<A>::new_bytes(&refused).unwrap();
    let e = Handle::<A>::new_bytes(&[]).unwrap();
    // SAFETY: each field handle is given to the variant once.
    let v = unsafe {
        Handle::<A>::new_variant(
            3,
            &[
                Field::Value(s),
                Field::Value(e),
                Field::Value(b),
                Field::Int(9),
            ],
        )
    }
    .unwrap();
    // A share made and released first, so that anything made once (on first use) is
    // not counted against the refused one.
    let warm = Handle::<A>::new_str("warm").unwrap();
    // SAFETY: owned by this strand; shared, then both holders released.
    unsafe {
        let w = warm.share().unwrap();
        w.release().unwrap();
        warm.release().unwrap();
    }
    let before = OUTSTANDING.load(SeqCst);
    REFUSE.store(true, SeqCst);
    // SAFETY: `v` is live and owned by this thread's strand.
    let result = unsafe { v.share() };
    REFUSE.store(false, SeqCst);
    assert!(
        matches!(result, Err(HandleError::Alloc(_))),
        "{}: {result:?}",
        A::NAME
    );
    drop(result); // the error's own box
    assert_eq!(
        OUTSTANDING.load(SeqCst),
        before,
        "{}: the copies made before the refusal are freed",
        A::NAME
    );
    assert!(!v.is_shared() && !s.is_shared() && !b.is_shared());
    // SAFETY: still owned by this strand, and live.
    unsafe {
        assert_eq!(s.as_str().unwrap(), long);
        assert_eq!(b.as_bytes().unwrap(), &refused[..]);
        assert_eq!(e.as_bytes().unwrap(), &[] as &[u8]);
        // The same share, with memory to spare, succeeds, and the value is shared.
        let shared = v.share().unwrap();
        assert!(v.is_shared());
        shared.release().unwrap();
        v.release().unwrap();
    }
}

#[test]
fn a_share_refused_halfway_changes_nothing() {
    #[cfg(feature = "thread-arena")]
    refused_share::<strand_alloc::ThreadArena>();
    #[cfg(feature = "global-malloc")]
    refused_share::<strand_alloc::GlobalMalloc>();
    #[cfg(feature = "strand-arena")]
    refused_share::<strand_alloc::StrandArena>();
}
