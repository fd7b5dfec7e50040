//! # strand-alloc
//!
//! Fast, safe allocation for the values (strings, byte strings, variants) of language
//! runtimes that run many green threads — *strands* — on the [May](may) coroutine
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
#[cfg(any(feature = "thread-arena", feature = "strand-arena"))]
mod generation;
pub mod handle;
mod home;
mod ownership;
pub mod portable;
pub mod scheduler;
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
pub use handle::{
    current_figures, current_strand_id, reset_current, Field, Handle, HandleError, HandleKind,
};
pub use portable::{PortableValue, PortableVariant};
pub use scheduler::{hop, live_strands, SchedulerConfig};
pub use spawn::{spawn, Builder, JoinHandle};
pub use stats::{Figures, StatsSnapshot, StrandReport};
pub use strand::Strand;
pub use value::{Bytes, Str, Value};
pub use variant::Variant;

/// A snapshot of backend `A`'s statistics.
pub fn stats<A: ValueAllocator>() -> StatsSnapshot {
    A::registry().snapshot()
}

/// The README's usage example, compiled and run as a doctest.
#[cfg(all(doctest, feature = "thread-arena"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
