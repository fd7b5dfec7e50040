//! A generation that reaches the threshold with nothing live in it is reset in place: the
//! next values reuse its warm chunk, and the global allocator is not asked for another.
//! Counted on the real heap (a global allocator that counts the calls for chunk-sized
//! blocks), on both arenas, one value live at a time, at thresholds below 32 KiB (where
//! the threshold resets, and where the chunks fill before it because of the bytes lost
//! at chunk ends) and above (where a release that empties the generation resets it).
//! Both ways: generations that cannot be reset (a value of each kept live) make the
//! backend ask for new chunks.
//!
//! One test function per binary, so nothing else allocates while it counts.
#![cfg(all(not(miri), any(feature = "thread-arena", feature = "strand-arena")))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use strand_alloc::{Config, Strand, ValueAllocator};

/// Counts the allocations of at least 512 bytes: arena chunks (bumpalo's smallest is
/// about that), not the test's own small ones.
struct ChunkCounting;

static CHUNKS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for ChunkCounting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() >= 512 {
            CHUNKS.fetch_add(1, SeqCst);
        }
        // SAFETY: forwarded contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: ChunkCounting = ChunkCounting;

const THRESHOLD: usize = 64 << 10;

/// Chunk allocations made while the strand makes `rounds` times the threshold `t` in
/// 1 KiB values, at most `live` of them live at a time.
fn chunks_for<A: ValueAllocator>(t: usize, live: usize, rounds: usize) -> (usize, u64) {
    let cfg = Config::default()
        .with_threshold(t)
        .unwrap()
        .with_pool_capacity(0);
    let s = Strand::<A>::local_with(cfg).unwrap();
    let text = "r".repeat(1024);
    let mut window = std::collections::VecDeque::with_capacity(live + 1);
    // Warm up: the first generation grows its chunks and is reset once.
    for _ in 0..2 * t / 1024 {
        if window.len() == live {
            window.pop_front();
        }
        window.push_back(s.str(&text));
    }
    let before = CHUNKS.load(SeqCst);
    for _ in 0..rounds * t / 1024 {
        // Room is made for the next value with `live - 1` values live.
        if window.len() == live {
            window.pop_front();
        }
        window.push_back(s.str(&text));
    }
    let asked = CHUNKS.load(SeqCst) - before;
    window.clear();
    let resets = s.stats().resets();
    (asked, resets)
}

/// Below 32 KiB (the generation emptied by a release is reset at once only past that),
/// the threshold is what resets; above it, the release.
fn resets_in_place<A: ValueAllocator>() {
    for t in [8 << 10, 16 << 10, 30 << 10, THRESHOLD] {
        {
            let live = 1;
            // A thread of its own: thread-arena's generation belongs to the thread.
            let (asked, resets) = std::thread::spawn(move || chunks_for::<A>(t, live, 50))
                .join()
                .unwrap();
            eprintln!(
                "{}: threshold {t}, at most {live} live: {asked} chunk allocations, {resets} \
                 resets",
                A::NAME
            );
            assert!(
                resets >= 50,
                "{}: {t}, {live} live: {resets} resets",
                A::NAME
            );
            assert!(
                asked <= 2,
                "{}: threshold {t}, {live} live: {asked} chunk allocations over 50 \
                 thresholds: the generation is not reset in place",
                A::NAME
            );
        }
    }
}

/// The other way: a value kept live pins its generation, and the next ones need chunks
/// of their own.
fn pinned_generations_need_chunks<A: ValueAllocator>() {
    let cfg = Config::default()
        .with_threshold(THRESHOLD)
        .unwrap()
        .with_pool_capacity(0);
    let s = Strand::<A>::local_with(cfg).unwrap();
    let text = "k".repeat(1024);
    let before = CHUNKS.load(SeqCst);
    let mut kept = Vec::new();
    for i in 0..10 * THRESHOLD / 1024 {
        let v = s.str(&text);
        if i % (THRESHOLD / 1024) == 0 {
            kept.push(v);
        }
    }
    let asked = CHUNKS.load(SeqCst) - before;
    eprintln!("{}: kept values: {asked} chunk allocations", A::NAME);
    assert!(
        asked >= 10,
        "{}: generations held by live values were reused: {asked} chunks",
        A::NAME
    );
}

#[test]
fn a_generation_with_nothing_live_is_reset_in_place() {
    #[cfg(feature = "thread-arena")]
    {
        resets_in_place::<strand_alloc::ThreadArena>();
        pinned_generations_need_chunks::<strand_alloc::ThreadArena>();
    }
    #[cfg(feature = "strand-arena")]
    {
        resets_in_place::<strand_alloc::StrandArena>();
        pinned_generations_need_chunks::<strand_alloc::StrandArena>();
    }
}
