//! A runtime written the way compiled language runtimes are: values are tagged words on
//! the runtime's own stack, every operation is an `extern "C"` function that takes no
//! strand, `dup` is how a value becomes shared, spawning clones the parent's words into
//! the child, strands talk through the runtime's own May channel of words, a coroutine
//! that is about to block for good resets its memory first, the main thread makes
//! values before the scheduler runs, and a long-lived actor handles each message inside a
//! handle scope that it opens and closes by calls, keeping its state `dup`'d.
//!
//! It runs the same program on every backend compiled in and checks, on each:
//! - a shared string read after its maker ended and other strands allocated: 0 stale reads;
//! - with `checked`, a deliberate misuse (an owned word sent without `dup` and read by
//!   another strand after its owner reset) is refused and counted, and so is a word of a
//!   message's scope read after the scope was left;
//! - the actor owns nothing between messages, though it never drops its temporaries;
//! - the real heap (a counting global allocator) does not grow from one round to the
//!   next, and the library's figures agree: nothing used once every strand has ended.
//!
//! ```sh
//! cargo run --example runtime --features all-backends            # plain
//! cargo run --example runtime --features all-backends,checked    # checked
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use strand_alloc::backends::{for_each, BackendVisitor};
use strand_alloc::{Handle, HandleError, SchedulerConfig, ScopeMark, ValueAllocator};

// ---- the real heap, counted ---------------------------------------------------------

struct Counting;
static HEAP: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        HEAP.fetch_add(l.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        HEAP.fetch_sub(l.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---- the runtime's words --------------------------------------------------------------

/// A value on the runtime's stack: an integer (`n << 3 | 1`) or a handle (low bits 0).
type Word = usize;

fn int(n: i64) -> Word {
    ((n << 3) | 1) as Word
}

fn is_int(w: Word) -> bool {
    w & 7 == 1
}

fn handle<A: ValueAllocator>(w: Word) -> Handle<A> {
    assert!(!is_int(w), "not a handle");
    // SAFETY: the runtime makes handle words only with `to_word`.
    unsafe { Handle::from_word(w) }.expect("a handle word")
}

/// Stale reads seen, and refusals seen by the misuse probe.
static STALE: AtomicUsize = AtomicUsize::new(0);
static REFUSED: AtomicUsize = AtomicUsize::new(0);

// ---- the operations generated code calls ----------------------------------------------

extern "C" fn rt_string<A: ValueAllocator>(p: *const u8, n: usize) -> Word {
    // SAFETY: generated code passes a string constant's bytes.
    let s = unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(p, n)) };
    Handle::<A>::new_str(s).expect("make a string").to_word()
}

extern "C" fn rt_concat<A: ValueAllocator>(a: Word, b: Word) -> Word {
    // SAFETY: the runtime's words are live values the calling strand may read.
    let joined = unsafe {
        format!(
            "{}{}",
            handle::<A>(a).as_str().unwrap(),
            handle::<A>(b).as_str().unwrap()
        )
    };
    rt_drop::<A>(a);
    rt_drop::<A>(b);
    Handle::<A>::new_str(&joined).unwrap().to_word()
}

extern "C" fn rt_len<A: ValueAllocator>(w: Word) -> Word {
    // SAFETY: as above.
    int(unsafe { handle::<A>(w).as_str() }.unwrap().len() as i64)
}

/// A checked read: the string, or `None` when the library refused the handle.
extern "C" fn rt_try_len<A: ValueAllocator>(w: Word) -> i64 {
    // SAFETY: the misuse probe relies on `checked` refusing before any read.
    match unsafe { handle::<A>(w).as_str() } {
        Ok(s) => s.len() as i64,
        Err(HandleError::Foreign | HandleError::Stale | HandleError::Released) => -1,
        Err(e) => panic!("{e}"),
    }
}

extern "C" fn rt_dup<A: ValueAllocator>(w: Word) -> Word {
    if is_int(w) {
        return w;
    }
    // SAFETY: a live value, dup'd by a strand that may read it.
    unsafe { handle::<A>(w).share() }.unwrap().to_word()
}

extern "C" fn rt_drop<A: ValueAllocator>(w: Word) {
    if !is_int(w) {
        // SAFETY: each word the runtime holds is dropped once.
        unsafe { handle::<A>(w).release() }.unwrap();
    }
}

extern "C" fn rt_reset<A: ValueAllocator>() {
    // SAFETY: called just before the coroutine blocks for good: none of its owned words
    // is used afterwards.
    unsafe { strand_alloc::reset_current::<A>() }.unwrap();
}

/// Opens a scope around one message; its mark goes into two words of the runtime's frame.
extern "C" fn rt_enter<A: ValueAllocator>(mark: *mut [u64; 2]) {
    let m = strand_alloc::enter_scope::<A>().expect("enter a scope");
    // SAFETY: generated code passes two words of its own frame.
    unsafe { *mark = m.to_words() };
}

/// Closes the message's scope: every word made in it and not `dup`'d dies here.
extern "C" fn rt_leave<A: ValueAllocator>(mark: *const [u64; 2]) {
    // SAFETY: the frame's two words, written by `rt_enter`.
    let m = ScopeMark::from_words(unsafe { *mark });
    // SAFETY: the runtime's rule: a word made during a message and not `dup`'d is not
    // used after the message.
    unsafe { strand_alloc::leave_scope::<A>(m) }.expect("leave the innermost scope");
}

/// The runtime's channel of words.
type Chan = (
    may::sync::mpsc::Sender<Word>,
    may::sync::mpsc::Receiver<Word>,
);

/// Spawns a strand running `body` on a copy of `words`: each word is dup'd into the child.
fn rt_spawn<A: ValueAllocator>(
    words: &[Word],
    body: fn(Vec<Word>, may::sync::mpsc::Sender<Word>),
    out: may::sync::mpsc::Sender<Word>,
) -> may::coroutine::JoinHandle<()> {
    let stack: Vec<Word> = words.iter().map(|&w| rt_dup::<A>(w)).collect();
    // SAFETY: the body uses no thread-locals and nothing `!Send` across a yield.
    unsafe { may::coroutine::spawn(move || body(stack, out)) }
}

// ---- the program ----------------------------------------------------------------------

const ROUNDS: usize = 3;
const WORKERS_PER_ROUND: usize = 50;

fn worker<A: ValueAllocator>(mut stack: Vec<Word>, out: may::sync::mpsc::Sender<Word>) {
    // stack[0]: the greeting made on the main thread (shared).
    let name = rt_string::<A>(b"strand".as_ptr(), 6);
    let hello = rt_dup::<A>(stack[0]);
    let msg = rt_concat::<A>(hello, name);
    // A few temporaries, dropped at once.
    for _ in 0..20 {
        let t = rt_string::<A>(b"temporary value".as_ptr(), 15);
        let n = rt_len::<A>(t);
        assert!(is_int(n));
        rt_drop::<A>(t);
    }
    // Passed to the collector by reference: dup first.
    let shared = rt_dup::<A>(msg);
    out.send(shared).unwrap();
    rt_drop::<A>(msg);
    while let Some(w) = stack.pop() {
        rt_drop::<A>(w);
    }
}

fn run_round<A: ValueAllocator>(greeting: Word) {
    let (tx, rx): Chan = may::sync::mpsc::channel();
    let handles: Vec<_> = (0..WORKERS_PER_ROUND)
        .map(|_| rt_spawn::<A>(&[greeting], worker::<A>, tx.clone()))
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    drop(tx);
    // The makers have ended; other strands allocate over their memory, then a strand
    // reads what they shared.
    let noise: Vec<_> = (0..20)
        .map(|_| {
            // SAFETY: as in `rt_spawn`.
            unsafe {
                may::coroutine::spawn(|| {
                    let mut words = Vec::new();
                    for _ in 0..200 {
                        words.push(rt_string::<A>(b"XXXXXXXXXXXXXXXXXXXX".as_ptr(), 20));
                    }
                    for w in words {
                        rt_drop::<A>(w);
                    }
                })
            }
        })
        .collect();
    for n in noise {
        n.join().unwrap();
    }
    let read = move || {
        let mut n = 0;
        while let Ok(w) = rx.recv() {
            // SAFETY: a shared word received through the channel.
            let s = unsafe { handle::<A>(w).as_str() }.unwrap();
            if s != "hello, strand" {
                STALE.fetch_add(1, Ordering::Relaxed);
            }
            rt_drop::<A>(w);
            n += 1;
        }
        n
    };
    // SAFETY: as in `rt_spawn`.
    let reader = unsafe { may::coroutine::spawn(read) };
    assert_eq!(reader.join().unwrap(), WORKERS_PER_ROUND);
}

const MESSAGES: usize = 500;

/// A long-lived strand: one scope per message, temporaries never dropped, the state
/// `dup`'d out of each scope (a shared value lives on the heap, never in a scope).
fn actor<A: ValueAllocator>(
    inbox: may::sync::mpsc::Receiver<Word>,
    out: may::sync::mpsc::Sender<Word>,
) {
    let empty = rt_string::<A>(b"".as_ptr(), 0);
    let mut state = rt_dup::<A>(empty);
    rt_drop::<A>(empty);
    while let Ok(msg) = inbox.recv() {
        let mut mark = [0u64; 2];
        rt_enter::<A>(&mut mark);
        for _ in 0..8 {
            // Made and forgotten: the leave frees them.
            let _t = rt_string::<A>(b"a temporary of the message".as_ptr(), 26);
        }
        let joined = rt_concat::<A>(state, msg); // drops the old state and the message
        state = rt_dup::<A>(joined); // shared: outlives the scope
        rt_drop::<A>(joined); // one of its two holders
        may::coroutine::yield_now(); // the actor may move to another thread
        rt_leave::<A>(&mark);
        let owned = strand_alloc::current_figures::<A>().unwrap().used;
        assert_eq!(
            owned,
            0,
            "{}: the actor owns {owned} B after a message",
            A::NAME
        );
    }
    out.send(state).unwrap();
}

fn run_actor<A: ValueAllocator>() {
    let (to_actor, inbox): Chan = may::sync::mpsc::channel();
    let (out, result): Chan = may::sync::mpsc::channel();
    // SAFETY: as in `rt_spawn`.
    let h = unsafe { may::coroutine::spawn(move || actor::<A>(inbox, out)) };
    for _ in 0..MESSAGES {
        let m = rt_string::<A>(b"x".as_ptr(), 1);
        to_actor.send(rt_dup::<A>(m)).unwrap(); // shared: sent to another strand
        rt_drop::<A>(m);
    }
    drop(to_actor);
    let state = result.recv().unwrap();
    h.join().unwrap();
    assert_eq!(
        rt_len::<A>(state),
        int(MESSAGES as i64),
        "{}: the actor's state",
        A::NAME
    );
    rt_drop::<A>(state);
}

/// A word of a message's scope read after the scope was left.
fn scope_misuse_probe<A: ValueAllocator>() {
    // SAFETY: as in `rt_spawn`.
    let owner = unsafe {
        may::coroutine::spawn(move || {
            let mut mark = [0u64; 2];
            rt_enter::<A>(&mut mark);
            let w = rt_string::<A>(b"dies with the message".as_ptr(), 21);
            rt_leave::<A>(&mark);
            rt_try_len::<A>(w) // the runtime bug: the word was not `dup`'d
        })
    };
    if owner.join().unwrap() < 0 {
        REFUSED.fetch_add(1, Ordering::Relaxed);
    }
}

/// An owned word sent without `dup`, read by another strand after its owner reset.
fn misuse_probe<A: ValueAllocator>() {
    let (tx, rx): Chan = may::sync::mpsc::channel();
    let (go_tx, go_rx): Chan = may::sync::mpsc::channel();
    // SAFETY: as in `rt_spawn`.
    let owner = unsafe {
        may::coroutine::spawn(move || {
            let w = rt_string::<A>(b"owned, not shared".as_ptr(), 17);
            tx.send(w).unwrap(); // the runtime bug: no dup
                                 // About to block for good: reset first.
            rt_reset::<A>();
            go_tx.send(0).unwrap();
        })
    };
    let w = rx.recv().unwrap();
    go_rx.recv().unwrap();
    owner.join().unwrap();
    // SAFETY: as in `rt_spawn`.
    let reader = unsafe { may::coroutine::spawn(move || rt_try_len::<A>(w)) };
    if reader.join().unwrap() < 0 {
        REFUSED.fetch_add(1, Ordering::Relaxed);
    }
}

/// A coroutine that blocks for good (until shutdown) after resetting its memory.
fn blocker<A: ValueAllocator>() -> (
    may::sync::mpsc::Sender<Word>,
    may::coroutine::JoinHandle<()>,
) {
    let (tx, rx): Chan = may::sync::mpsc::channel();
    // SAFETY: as in `rt_spawn`.
    let h = unsafe {
        may::coroutine::spawn(move || {
            for _ in 0..100 {
                let _abandoned = rt_string::<A>(b"abandoned".as_ptr(), 9);
            }
            rt_reset::<A>();
            let _ = rx.recv();
        })
    };
    (tx, h)
}

/// Waits until the strands live are the `base` ones (the main thread's own).
fn wait_for_strands_to_end(base: usize) {
    for _ in 0..10_000 {
        if strand_alloc::live_strands() == base {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("strands still live: {}", strand_alloc::live_strands());
}

struct Run;

impl BackendVisitor for Run {
    type Output = ();
    fn visit<A: ValueAllocator>(&mut self) {
        if !A::SAFE {
            return;
        }
        STALE.store(0, Ordering::Relaxed);
        REFUSED.store(0, Ordering::Relaxed);
        let mut heap = Vec::new();
        for round in 0..ROUNDS {
            // The main thread, before the strands run: a value every strand gets.
            let greeting = rt_string::<A>(b"hello, ".as_ptr(), 7);
            let greeting = rt_dup::<A>(greeting); // two holders: main's and the spawns'
            let base = strand_alloc::live_strands();
            let (stop, blocked) = blocker::<A>();
            run_round::<A>(greeting);
            run_actor::<A>();
            // A plain build does not look: there the misuses would read freed memory.
            if cfg!(feature = "checked") {
                misuse_probe::<A>();
                scope_misuse_probe::<A>();
            }
            drop(stop);
            blocked.join().unwrap();
            rt_drop::<A>(greeting);
            rt_drop::<A>(greeting);
            wait_for_strands_to_end(base);
            let stats = strand_alloc::stats::<A>();
            assert_eq!(stats.shared.used, 0, "{}: shared bytes left", A::NAME);
            // Every word released and every strand but the main thread's ended: the
            // figures say nothing is used, as the heap does.
            assert_eq!(stats.totals.used, 0, "{}: bytes still used", A::NAME);
            heap.push(HEAP.load(Ordering::Relaxed) - strand_alloc::slot::pool_bytes() as i64);
            let _ = round;
        }
        let growth = heap[ROUNDS - 1] - heap[1];
        let stale = STALE.load(Ordering::Relaxed);
        let refused = REFUSED.load(Ordering::Relaxed);
        let probed = if cfg!(feature = "checked") {
            format!("misuses refused {refused} of {}", 2 * ROUNDS)
        } else {
            "misuses not probed (checked only)".to_string()
        };
        println!(
            "{:<14} stale reads {stale}, {probed}, heap growth after warm-up {growth} B, hazards {}",
            A::NAME,
            strand_alloc::stats::<A>().totals.hazards,
        );
        assert_eq!(stale, 0, "{}: stale reads of shared values", A::NAME);
        if cfg!(feature = "checked") {
            assert_eq!(refused, 2 * ROUNDS, "{}: a misuse was not refused", A::NAME);
            assert!(strand_alloc::stats::<A>().totals.hazards >= 2 * ROUNDS as u64);
        }
        assert!(
            growth.abs() < 256 * 1024,
            "{}: the heap grew by {growth} B from one round to the next",
            A::NAME
        );
    }
}

fn main() {
    SchedulerConfig::default()
        .with_workers(2)
        .unwrap()
        .with_pin(false)
        .apply()
        .unwrap();
    for_each(&mut Run);
    println!("runtime example: every check held");
}
