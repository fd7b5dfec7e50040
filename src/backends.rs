//! The backends compiled into this build, and a way for generic code to run each.
//!
//! Each backend is one file in `backends/`, compiled in by the cargo feature of the same
//! name, and declared here twice over in one place: its `mod` line (so rustdoc, editors
//! and other tools see it as an ordinary module) and its entry in the list below, which
//! gives [`ENABLED`], [`for_each`], [`visit`] and the re-exports.
//!
//! There is no default backend type: a program names the backend it uses
//! (`Strand<ThreadArena>`, `spawn::<GlobalMalloc, _, _>`), and a backend feature only adds
//! its type. Cargo unifies features across a build, so a name whose meaning depended on
//! the features on would change behind a program's back when another crate of the build
//! enabled one.
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

#[cfg(feature = "global-malloc")]
#[path = "../backends/global_malloc.rs"]
pub mod global_malloc;
#[cfg(feature = "seed-arena")]
#[path = "../backends/seed_arena.rs"]
pub mod seed_arena;
#[cfg(feature = "strand-arena")]
#[path = "../backends/strand_arena.rs"]
pub mod strand_arena;
#[cfg(feature = "thread-arena")]
#[path = "../backends/thread_arena.rs"]
pub mod thread_arena;

/// Generic code run once per backend: see [`for_each`] and [`visit`].
pub trait BackendVisitor {
    /// What one visit returns.
    type Output;
    /// Runs for backend `A`.
    fn visit<A: ValueAllocator>(&mut self) -> Self::Output;
}

/// Defines everything that lists the backends, from one list of
/// `feature => module::Type` entries.
macro_rules! backends {
    ($($feature:literal => $module:ident :: $ty:ident,)*) => {
        $(
            #[cfg(feature = $feature)]
            pub use $module::$ty;
        )*

        /// The backend types compiled in, re-exported at the crate's root.
        pub mod types {
            $(
                #[cfg(feature = $feature)]
                pub use super::$module::$ty;
            )*
        }

        /// Every backend this crate has, compiled in or not (by feature name), so that a
        /// name that exists but is not compiled in can be told from a typo.
        pub const KNOWN: &[&str] = &[$($feature),*];

        /// The names of the backends compiled in, in a fixed order (each is its
        /// [`ValueAllocator::NAME`], which is also its cargo feature).
        pub const ENABLED: &[&str] = &[$(
            #[cfg(feature = $feature)]
            <$module::$ty as ValueAllocator>::NAME,
        )*];

        /// Calls `visitor` once for each backend compiled in, in the order of [`ENABLED`].
        pub fn for_each<V: BackendVisitor>(visitor: &mut V) {
            $(
                #[cfg(feature = $feature)]
                visitor.visit::<$module::$ty>();
            )*
            let _ = visitor;
        }

        /// Calls `visitor` with the backend named `name`; `None` if no such backend is
        /// compiled in.
        pub fn visit<V: BackendVisitor>(name: &str, visitor: &mut V) -> Option<V::Output> {
            $(
                #[cfg(feature = $feature)]
                if name == <$module::$ty as ValueAllocator>::NAME {
                    return Some(visitor.visit::<$module::$ty>());
                }
            )*
            let _ = (name, visitor);
            None
        }

        #[cfg(not(any($(feature = $feature),*)))]
        compile_error!(
            "strand-alloc: no backend enabled; enable at least one of the features \
             thread-arena global-malloc strand-arena (or all-backends)"
        );
    };
}

backends! {
    "thread-arena" => thread_arena::ThreadArena,
    "global-malloc" => global_malloc::GlobalMalloc,
    "strand-arena" => strand_arena::StrandArena,
    "seed-arena" => seed_arena::SeedArena,
}

// The seed policy breaks the allocation contract on purpose: it is shown next to a safe
// backend, never alone.
#[cfg(all(
    feature = "seed-arena",
    not(any(
        feature = "thread-arena",
        feature = "global-malloc",
        feature = "strand-arena"
    ))
))]
compile_error!(
    "strand-alloc: seed-arena only demonstrates the seed's hazards; enable a safe backend \
     too (thread-arena, global-malloc, strand-arena, or all-backends)"
);
