//! A plain thread's own strand for one-word handles: made on first use, ended when the
//! thread's locals are destroyed, and a clear error for a call after that.

mod common;

use std::cell::RefCell;
use strand_alloc::{CurrentError, Handle, HandleError, ValueAllocator};

/// Runs a handle operation from a thread-local's destructor, registered either before or
/// after the library's own (which is registered by the thread's first handle).
struct AtExit<A: ValueAllocator>(
    std::sync::mpsc::Sender<Result<String, String>>,
    std::marker::PhantomData<A>,
);

impl<A: ValueAllocator> Drop for AtExit<A> {
    fn drop(&mut self) {
        let r = Handle::<A>::new_str("at thread exit")
            .map(|h| {
                // SAFETY: owned by this thread's strand, released once.
                let s = unsafe { h.as_str() }.unwrap().to_string();
                unsafe { h.release() }.unwrap();
                s
            })
            .map_err(|e| e.to_string());
        let _ = self.0.send(r);
    }
}

/// The tests of this file count live strands: one at a time.
static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

thread_local! {
    static HOOK: RefCell<Vec<Box<dyn std::any::Any>>> = const { RefCell::new(Vec::new()) };
}

fn thread_exit<A: ValueAllocator>() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    // The hook first, the library's strand second: destroyed in reverse, the strand ends
    // first and the hook's call finds it gone.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        HOOK.with(|h| {
            h.borrow_mut()
                .push(Box::new(AtExit::<A>(tx, Default::default())))
        });
        let h = Handle::<A>::new_str("during").unwrap();
        // SAFETY: owned, released once.
        unsafe { h.release() }.unwrap();
    })
    .join()
    .unwrap();
    let late = rx.recv().unwrap();
    // The library's strand second: the hook runs while the strand still exists.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let h = Handle::<A>::new_str("before").unwrap();
        // SAFETY: owned, released once.
        unsafe { h.release() }.unwrap();
        HOOK.with(|h| {
            h.borrow_mut()
                .push(Box::new(AtExit::<A>(tx, Default::default())))
        });
    })
    .join()
    .unwrap();
    let early = rx.recv().unwrap();
    // Thread-locals are destroyed in the reverse order of their first use: after the
    // strand ended, the clear error; before, the strand still serves. Never a panic.
    let ending = HandleError::from(CurrentError::ThreadEnding).to_string();
    assert_eq!(late, Err(ending), "{}", A::NAME);
    assert_eq!(early, Ok("at thread exit".to_string()), "{}", A::NAME);
}

#[test]
fn a_threads_strand_ends_with_it_and_a_later_call_gets_an_error() {
    for_each_backend!(thread_exit);
}

fn strands_end<A: ValueAllocator>() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let before = strand_alloc::live_strands();
    std::thread::spawn(|| {
        let h = Handle::<A>::new_str("x").unwrap();
        assert!(strand_alloc::live_strands() >= 1);
        // SAFETY: owned, released once.
        unsafe { h.release() }.unwrap();
    })
    .join()
    .unwrap();
    // The thread's strand ended with the thread (its locals are destroyed before join
    // returns).
    assert_eq!(strand_alloc::live_strands(), before, "{}", A::NAME);
}

#[test]
fn a_threads_strand_counts_as_live_until_the_thread_ends() {
    for_each_backend!(strands_end);
}
