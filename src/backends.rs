//! The backends compiled into this build, and a way for generic code to run each.
//!
//! Each file `backends/NAME.rs` is a backend, compiled in by the cargo feature of the same
//! name (`thread_arena.rs` by `thread-arena`); the build script lists them here.
//!
//! ```
//! use strand_alloc::backends::{self, BackendVisitor};
//! use strand_alloc::{Strand, ValueAllocator};
//!
//! struct Hello(Vec<String>);
//! impl BackendVisitor for Hello {
//!     type Output = ();
//!     fn visit<A: ValueAllocator>(&mut self) {
//!         // The seed policy (feature `seed-arena`) has no safe constructor: it is refused.
//!         match Strand::<A>::local() {
//!             Ok(s) => self.0.push(format!("{}: {}", A::NAME, s.str("hello"))),
//!             Err(e) => self.0.push(format!("{}: {e}", A::NAME)),
//!         }
//!     }
//! }
//! let mut v = Hello(Vec::new());
//! backends::for_each(&mut v);
//! assert_eq!(v.0.len(), backends::ENABLED.len());
//! ```

use crate::allocator::ValueAllocator;

/// Generic code run once per backend: see [`for_each`] and [`visit`].
pub trait BackendVisitor {
    /// What one visit returns.
    type Output;
    /// Runs for backend `A`.
    fn visit<A: ValueAllocator>(&mut self) -> Self::Output;
}

include!(concat!(env!("OUT_DIR"), "/backends.rs"));
