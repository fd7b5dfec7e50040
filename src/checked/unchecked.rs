//! Without `checked`: [`ArenaTag`] and [`Stamp`] are zero-sized and every check is a
//! constant `Ok`, so unchecked builds pay nothing. A file of its own, so that the mutation
//! build (which compiles `checked`, as the seed backend needs it) leaves it out of its
//! population: these stand-ins are exercised by every test of a default build.
use super::Hazard;

/// How many arena generations can carry a tag at once (no limit without `checked`).
pub const MAX_TAGS: usize = usize::MAX;

/// The identity of one arena generation (zero-sized without `checked`).
#[derive(Debug)]
pub struct ArenaTag;

impl ArenaTag {
    /// No tag.
    pub const UNSET: ArenaTag = ArenaTag;

    /// Registers a generation (nothing to register without `checked`).
    #[inline(always)]
    pub fn try_new(_owner: Option<u32>) -> Option<ArenaTag> {
        Some(ArenaTag)
    }
    /// Never unset without `checked`: there is nothing to acquire.
    #[inline(always)]
    pub fn is_unset(&self) -> bool {
        false
    }
    /// The stamp of an allocation made now.
    #[inline(always)]
    pub fn stamp(&self) -> Stamp {
        Stamp
    }
    /// Marks allocations stamped so far as invalid (nothing without `checked`).
    #[inline(always)]
    pub fn invalidate(&self) {}
}

/// Where and when an allocation was made (zero-sized without `checked`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp;

impl Stamp {
    /// Not arena memory: always valid.
    pub const NONE: Stamp = Stamp;

    /// Always valid without `checked`.
    #[inline(always)]
    pub fn check(self, _backend: &'static str) -> Result<(), Hazard> {
        Ok(())
    }
}
