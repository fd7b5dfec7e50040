//! # strand-alloc
//!
//! Fast, safe allocation for the values (strings, byte strings, variants) of language
//! runtimes that run many green threads — *strands* — on the [May](https://crates.io/crates/may) coroutine
//! scheduler, with three interchangeable backends behind one [`ValueAllocator`] trait:
//!
//! | feature | backend | where a strand's values live |
//! |---|---|---|
//! | `thread-arena` (default) | `ThreadArena` | a bump arena per OS thread, shared by the strands there, reset when none of them holds values in it, bounded by the threshold |
//! | `global-malloc` | `GlobalMalloc` | the global heap, freed on drop |
//! | `strand-arena` | `StrandArena` | a bump arena owned by the strand, moving with it between threads, dropped (or pooled) when it ends |
//!
//! Each backend type exists when its feature is on (the [`backends`] module lists those
//! compiled in), and a program names the one it uses: there is no default backend type,
//! so enabling a feature anywhere in a build never changes what another crate gets.
//!
//! `all-backends` enables all three; generic code names each one explicitly
//! ([`backends::for_each`]), so one process can run them all on one scheduler.
//!
//! ## In your `Cargo.toml`
//!
//! ```toml
//! [dependencies]
//! strand-alloc = { version = "0.1", default-features = false, features = ["strand-arena"] }
//! ```
//!
//! Which backend (the measurements are in [`notes::results`]):
//!
//! - values that die together (a request, a phase, a short strand): an arena,
//!   `thread-arena` (less memory) or `strand-arena` (never strands a byte on a thread its
//!   strand left);
//! - long-lived strands that churn, or windows of values handed between strands:
//!   `global-malloc`, or an arena with a small threshold (64 KiB to 1 MiB);
//! - a runtime's test builds: add `checked`, which refuses and counts every stale,
//!   foreign or released handle it can tell.
//!
//! ## The `unsafe` you write
//!
//! - **Spawning** ([`spawn()`], [`Builder::spawn`]): a strand moves between OS threads
//!   wherever it can yield, so it must keep no thread-local borrow and nothing `!Send`
//!   across such a point, as with May itself.
//! - **A runtime's one-word values** ([`Handle`]): reading ([`Handle::as_str`]), sharing,
//!   releasing and building variants of handles. A word can be copied freely, so the
//!   compiler cannot tell a live handle from a released one; each function states its
//!   duty, and the `checked` feature refuses and counts what it can tell.
//!
//! Everything else is safe.
//!
//! ## What it does to the whole process
//!
//! Nothing unless the program asks: no global allocator, no signal handler, no
//! `mallopt`, no `malloc_trim`. A program that wants freed memory given back to the
//! system opts in with [`trim::enable`] (glibc trims after every 32 MiB freed, and glibc's
//! trim and mapping thresholds at 512 KiB, for the whole process). The library reads its
//! own `STRAND_ALLOC_*` environment variables ([`Config`], [`trim`]).
//!
//! ## Design notes
//!
//! [`notes::architecture`] follows one allocation, one send, one runtime call and one
//! shared value through the code; [`notes::safety`] states what each backend guarantees
//! and how it is checked; [`notes::performance`] what it costs; [`notes::results`] what
//! the comparison found. The comparison command is a package of its own,
//! `strand-alloc-comparison`.
//!
//! ## Safety model
//!
//! Spawning a strand is `unsafe`, as spawning a coroutine is in May: a strand can move
//! between OS threads wherever it can yield, so its code must not keep a thread-local
//! borrow, or anything `!Send`, across such a point ([`Builder::spawn`] states the
//! contract). Given that, the rest of the API is safe:
//!
//! Every value borrows the [`Strand`] that allocated it, so it cannot outlive the strand;
//! values are neither `Send` nor `Sync`, so they cross to another strand only as a
//! [`PortableValue`] deep copy ([`Strand::export`], [`channel()`]). Each backend promises,
//! under the `unsafe` contract of [`ValueAllocator`], that nothing another strand does
//! can invalidate a live value, whatever OS thread either strand runs on.
//!
//! ```
//! # #[cfg(feature = "thread-arena")] {
//! use strand_alloc::{channel, spawn, ThreadArena};
//!
//! let (tx, rx) = channel();
//! // SAFETY (for both spawns): the closures use no thread-locals and nothing `!Send`.
//! let producer = unsafe {
//!     spawn::<ThreadArena, _, _>(move |s| {
//!         let name = s.str("Ada");
//!         let msg = s.variant(7, [s.str("hello").into(), name.into()]);
//!         tx.send(s, &msg.into()).unwrap();
//!     })
//! };
//! let consumer = unsafe {
//!     spawn::<ThreadArena, _, _>(move |s| {
//!         let msg = rx.recv_in(s).unwrap();
//!         msg.as_variant().unwrap().fields()[1].as_str().unwrap().to_string()
//!     })
//! };
//! producer.join().unwrap();
//! assert_eq!(consumer.join().unwrap(), "Ada");
//! # }
//! ```
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod allocator;
mod allocator_api;
pub mod backends;
pub mod channel;
pub mod checked;
pub mod config;
pub mod current;
pub mod error;
pub mod full_figures;
mod generation;
pub mod handle;
mod home;
mod ownership;
pub mod portable;
pub mod scheduler;
pub mod scope;
mod scope_arena;
pub mod slot;
pub mod spawn;
pub mod stats;
pub mod strand;
pub mod thread;
pub mod tree;
pub mod trim;
pub mod value;
pub mod variant;

pub use allocator::{ResetCause, StrandCx, Ticket, ValueAllocator};
pub use allocator_api::StrandAllocator;
pub use backends::types::*;
pub use channel::{channel, RecvError, RecvInError, SendError, ValueReceiver, ValueSender};
pub use config::Config;
pub use error::{AllocError, ConfigError, CurrentError, Hazard, SpawnError};
pub use full_figures::FullFigures;
pub use handle::{
    current_figures, current_strand_id, enter_scope, leave_scope, reset_current, Field, Handle,
    HandleError, HandleKind, ScopeMark,
};
pub use portable::{PortableValue, PortableVariant};
pub use scheduler::{hop, live_strands, SchedulerConfig};
pub use scope::Scope;
pub use spawn::{spawn, Builder, JoinHandle};
pub use stats::{Figures, StatsSnapshot, StrandReport, FULL_FIGURES};
pub use strand::Strand;
pub use value::{Bytes, Str, Value};
pub use variant::Variant;

/// A snapshot of backend `A`'s statistics: the totals of ended strands and the figures
/// of running ones.
///
/// At the production level of figures (the default; see [`FULL_FIGURES`]) a running
/// strand's allocations, their bytes, `used` and its peak are as of its last
/// publication: when its allocation last took an arena's slow path (a new chunk or
/// generation, the first allocation on a thread) or its backend reported memory reserved
/// for it, at its resets, and whenever it read its own figures ([`Strand::stats`],
/// [`current_figures`]). A global-malloc strand has no slow path: only its resets, its
/// reads and its end publish. They are exact once the strand ends; a strand that never
/// ends (leaked) keeps what it did not publish. At the full level they are exact at any
/// time.
///
/// The snapshot is not one instant: it reads each strand's figures one after another
/// while they change. Each figure obeys its definition (`peak_used` and
/// `bytes_allocated` never below `used`, `stranded` never above it).
pub fn stats<A: ValueAllocator>() -> StatsSnapshot {
    A::registry().snapshot()
}

/// The README's usage example, compiled and run as a doctest.
#[cfg(all(doctest, feature = "thread-arena"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

/// The design notes, as they are kept in the repository's `docs/` folder: how the
/// library is built, what it guarantees and how that is checked, what it costs, and what
/// the comparison found.
pub mod notes {
    #[doc = include_str!("../docs/ARCHITECTURE.md")]
    pub mod architecture {}
    #[doc = include_str!("../docs/SAFETY.md")]
    pub mod safety {}
    #[doc = include_str!("../docs/PERFORMANCE.md")]
    pub mod performance {}
    #[doc = include_str!("../docs/RESULTS.md")]
    pub mod results {}
}
