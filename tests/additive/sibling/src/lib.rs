//! A crate elsewhere in the build that uses strand-alloc with its default features.

use strand_alloc::{Strand, ThreadArena};

/// A value made on the default backend's type, named.
pub fn greet() -> String {
    let s = Strand::<ThreadArena>::local().expect("a strand");
    let v = s.str("from the sibling");
    format!("{} {v}", s.backend())
}
