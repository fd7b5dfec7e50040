//! A strand context or a value kept in a `thread_local!` (the natural home of a
//! thread's own context) is dropped while the thread's locals are destroyed. No drop
//! path may touch thread-local state that is already gone: the process must not abort,
//! and the figures must come out exact.

mod common;

use std::any::Any;
use std::cell::RefCell;
use strand_alloc::{stats, Strand, ValueAllocator};

thread_local! {
    static KEPT: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Allocates (and checks) a value in its destructor, which runs while the thread's
/// locals, the backend's among them, are being destroyed.
struct AllocatesWhenDropped<A: ValueAllocator>(&'static Strand<A>);

impl<A: ValueAllocator> Drop for AllocatesWhenDropped<A> {
    fn drop(&mut self) {
        let v = self
            .0
            .try_str("made during thread exit")
            .expect("allocation works");
        assert_eq!(v.as_str(), "made during thread exit");
        drop(v);
        // The strand never ends: reading its own figures is what publishes them (at the
        // production level) to the process-wide figures this test reads.
        assert_eq!(self.0.stats().allocs, 2);
    }
}

fn kept_until_thread_exit<A: ValueAllocator>() {
    let before = stats::<A>().totals;
    std::thread::spawn(|| {
        // Touched first, so its destructor is registered first and runs last, after
        // the library's own thread-locals are gone.
        KEPT.with(|k| k.borrow_mut().clear());
        let context = Strand::<A>::local().unwrap();
        drop(context.str("warms every thread-local the backend uses"));
        // A context of its own, dropped at thread exit ...
        let owned = Strand::<A>::local().unwrap();
        drop(owned.str("allocated before"));
        // ... and a value whose strand is leaked, dropped at thread exit.
        let leaked: &'static Strand<A> = Box::leak(Box::new(Strand::<A>::local().unwrap()));
        let value = leaked.str(&"x".repeat(100));
        KEPT.with(|k| {
            let mut k = k.borrow_mut();
            k.push(Box::new(owned));
            k.push(Box::new(value));
            k.push(Box::new(AllocatesWhenDropped(leaked)));
        });
        drop(context);
    })
    .join()
    .expect("the thread exits cleanly");
    let after = stats::<A>().totals;
    // Four allocations (one made during thread exit), counted whether or not their
    // strand ended (the leaked one never does), and two strand contexts ended ...
    assert_eq!(after.allocs - before.allocs, 4);
    assert_eq!(after.strands_exited - before.strands_exited, 2);
    // ... and the value dropped at thread exit was released: on the heap, nothing of the
    // two ended contexts or of the dropped value is still counted as used.
    if A::NAME == "global-malloc" {
        assert_eq!(after.used, before.used, "{after:?}");
    }
}

#[test]
fn strands_and_values_in_thread_locals_drop_cleanly_at_thread_exit() {
    for_each_backend!(kept_until_thread_exit);
}
