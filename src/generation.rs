//! The memory of an arena generation, as both arena backends manage it with bumpalo.
//!
//! A fresh generation has no chunk and grows by bumpalo's doubling chunks under bumpalo's
//! allocation limit, [`Config::generation_limit`]: nothing is reserved up front, and a
//! generation's chunks never total more than the limit (plus bumpalo's rounding of a
//! chunk to a page). A generation reset in place keeps its memory warm as one chunk: a
//! generation that grew several chunks before its first reset gets one chunk the size
//! of them all (when that chunk, rounded up by bumpalo, stays within the limit), so
//! later cycles reuse it without asking the global allocator again. An empty generation
//! whose warm chunk leaves too little of the limit for the next value's chunk starts
//! again with no chunk ([`restart`]).

// Scopes reset their arenas with `reset_warm` on every backend; the rest serves the arena
// backends alone.
#![cfg_attr(
    not(any(feature = "thread-arena", feature = "strand-arena")),
    allow(dead_code)
)]

use crate::config::Config;

/// A generation whose live values are all released is reset at once when at least this
/// much was handed out from it since its last reset: 32 KiB. Below that the memory it
/// walks through is still in the caches, and a reset per released value would cost more
/// than it saves; past it, a reset brings the next allocations back to warm memory.
pub(crate) const RESET_WHEN_EMPTY: usize = 32 << 10;
use bumpalo::Bump;

/// An empty generation: no chunk yet, and the allocation limit of `config`.
pub(crate) fn fresh(config: &Config) -> Bump {
    let b = Bump::new();
    b.set_allocation_limit(Some(config.generation_limit()));
    b
}

/// Resets `bump` in place (the caller guarantees nothing in it is live) and keeps its
/// memory as one chunk. Returns the bytes given back to the global allocator.
pub(crate) fn reset_warm(bump: &mut Bump) -> usize {
    let before = bump.allocated_bytes();
    bump.reset();
    let kept = bump.allocated_bytes();
    if kept < before {
        // It had several chunks; bumpalo kept the last. One chunk for all of them, when
        // the system grants it and it stays within the limit: bumpalo rounds a chunk up
        // to a page, and an arena past its limit is one bumpalo no longer limits at all.
        if let Ok(one) = Bump::try_with_capacity(before) {
            let limit = bump.allocation_limit();
            if limit.is_none_or(|l| one.allocated_bytes() <= l) {
                one.set_allocation_limit(limit);
                *bump = one;
            }
        }
    }
    before.saturating_sub(bump.allocated_bytes())
}

/// Gives an empty generation's chunks back and starts it again with none, under the same
/// limit (the caller guarantees nothing in it is live). For a value whose chunk does not
/// fit under the limit beside the chunk a reset kept warm. Returns the bytes given back.
pub(crate) fn restart(bump: &mut Bump) -> usize {
    let freed = bump.allocated_bytes();
    let limit = bump.allocation_limit();
    *bump = Bump::new();
    bump.set_allocation_limit(limit);
    freed
}
