//! Scopes: memory a long-lived strand gives back at the end of each unit of work (a
//! message, a request), with a typed escape for what it keeps.
//!
//! [`Strand::scope`] runs a closure with a [`Scope`]. Strings and byte strings made in
//! the scope borrow it, so the compiler keeps them inside; when the closure returns (or
//! unwinds), the scope's memory is reset and the next scope reuses it at once. On the
//! arena backends a scope bumps in an arena of its own, owned by the strand (so ending
//! it never touches memory another strand uses, and it travels with the strand when the
//! scheduler moves it); on global-malloc ([`ValueAllocator::SCOPE_ARENA`] is false) a
//! scope's values are freed as they drop, as every value there is, and a scope only
//! counts.
//!
//! What must outlive the scope leaves it only by an explicit, counted copy:
//! [`Scope::escape`] into the enclosing scope (or the strand, for an outermost scope),
//! or [`Scope::to_heap`] ([`Scope::to_heap_value`] for a value however deep) onto a heap
//! allocation of its own, freed when the value drops, for state that lives as long as the
//! strand (so it never pins an arena). A closure's result that holds no value of the
//! scope leaves for free.
//!
//! A runtime that keeps values as one-word handles and has no closure to hand opens and
//! closes its scopes by calls instead: [`crate::handle::enter_scope`] and
//! [`crate::handle::leave_scope`].
//!
//! ```
//! # #[cfg(feature = "strand-arena")] {
//! use strand_alloc::{Strand, StrandArena};
//! let s = Strand::<StrandArena>::local().unwrap();
//! let mut state = s.str("");
//! for message in ["a", "bb", "ccc"] {
//!     state = s.scope(|sc| {
//!         let parts: Vec<_> = (0..8).map(|i| sc.str(&format!("{message}{i}"))).collect();
//!         let next = sc.str(&format!("{}:{}", state, parts.len()));
//!         sc.to_heap(&next)
//!     });
//! }
//! assert_eq!(state.as_str(), ":8:8:8");
//! assert_eq!(s.stats().scopes, 3);
//! # }
//! ```
//!
//! A value made in a scope cannot leave it without a copy:
//!
//! ```compile_fail
//! use strand_alloc::{Strand, ValueAllocator};
//! fn keep<A: ValueAllocator>(s: &Strand<A>) {
//!     let kept = s.scope(|sc| sc.str("made in the scope"));
//! }
//! ```
//!
//! nor be stored where something outside the scope can see it:
//!
//! ```compile_fail,E0521
//! use strand_alloc::{Strand, ValueAllocator};
//! fn keep<A: ValueAllocator>(s: &Strand<A>) {
//!     let mut kept = Vec::new();
//!     s.scope(|sc| kept.push(sc.str("made in the scope")));
//! }
//! ```
//!
//! and an escaped copy outlives only what it escaped into:
//!
//! ```compile_fail
//! use strand_alloc::{Strand, ValueAllocator};
//! fn keep<A: ValueAllocator>(s: &Strand<A>) {
//!     let kept = s.scope(|outer| outer.scope(|inner| inner.escape(&inner.str("x"))));
//! }
//! ```
//!
//! while the same copy, kept by the enclosing scope, compiles:
//!
//! ```
//! use strand_alloc::{Strand, ValueAllocator};
//! fn keep<A: ValueAllocator>(s: &Strand<A>) -> usize {
//!     s.scope(|outer| {
//!         let kept = outer.scope(|inner| inner.escape(&inner.str("x")));
//!         kept.len()
//!     })
//! }
//! ```

use crate::allocator::ValueAllocator;
use crate::error::AllocError;
use crate::scope_arena::ScopeArena;
use crate::stats::Counter;
use crate::strand::{alloc_failed, Strand};
use crate::value::{Bytes, Str, Value};
use crate::variant::Variant;
use std::fmt;

pub use crate::scope_arena::{SCOPE_SPARES_MAX, SCOPE_SPARE_BYTES_MAX};

/// A scope inside a strand: values made in it borrow it and end with it, its memory is
/// reused by the next scope. Made by [`Strand::scope`] and [`Scope::scope`]; see the
/// [module documentation](self).
///
/// `'p` is the lifetime of the values of what encloses the scope: the strand's, or the
/// enclosing scope's. [`Scope::escape`] and [`Scope::to_heap`] return values of that
/// lifetime.
pub struct Scope<'p, A: ValueAllocator> {
    strand: &'p Strand<A>,
    /// The enclosing scope, where [`Scope::escape`] copies to (`None`: the strand).
    parent: Option<&'p Scope<'p, A>>,
    arena: ScopeArena,
}

impl<A: ValueAllocator> fmt::Debug for Scope<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("strand", &self.strand.id())
            .field("nested", &self.parent.is_some())
            .field("arena", &self.arena.enabled())
            .finish_non_exhaustive()
    }
}

impl<'p, A: ValueAllocator> Scope<'p, A> {
    #[inline]
    fn begin(strand: &'p Strand<A>, parent: Option<&'p Scope<'p, A>>) -> Self {
        strand.cx.count(Counter::Scopes, 1);
        Scope {
            strand,
            parent,
            arena: ScopeArena::new(A::SCOPE_ARENA),
        }
    }

    /// Runs `f` in a scope nested in this one: its values end with it, and
    /// [`Scope::escape`] copies into this scope.
    #[inline]
    pub fn scope<'a, R>(&'a self, f: impl for<'i> FnOnce(&'i Scope<'a, A>) -> R) -> R {
        let inner = Scope::begin(self.strand, Some(self));
        f(&inner)
    }

    /// Allocates a UTF-8 string in the scope, or says why it could not.
    #[inline]
    pub fn try_str(&self, s: &str) -> Result<Str<'_, A>, AllocError> {
        self.try_bytes(s.as_bytes()).map(|b| {
            // SAFETY: the bytes are a copy of `s`, valid UTF-8.
            unsafe { Str::from_utf8_unchecked(b) }
        })
    }

    /// Allocates a UTF-8 string in the scope.
    ///
    /// # Panics
    ///
    /// When the allocation is refused (see [`Scope::try_str`]).
    #[inline]
    pub fn str(&self, s: &str) -> Str<'_, A> {
        self.try_str(s).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Allocates a byte string in the scope, or says why it could not. Refused as on
    /// the strand (the strand limit counts the scope's values); a value larger than the
    /// large-value size, or one that does not fit under the scope arena's limit (the
    /// strand's generation limit), comes from the strand's backend instead, freed when
    /// it drops.
    #[inline]
    pub fn try_bytes(&self, b: &[u8]) -> Result<Bytes<'_, A>, AllocError> {
        Bytes::try_new_in_scope(b, &self.arena, self.strand)
    }

    /// Allocates a byte string in the scope.
    ///
    /// # Panics
    ///
    /// When the allocation is refused (see [`Scope::try_bytes`]).
    #[inline]
    pub fn bytes(&self, b: &[u8]) -> Bytes<'_, A> {
        self.try_bytes(b).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Copies `v` into what encloses the scope (the enclosing scope, or the strand), where
    /// it outlives this scope. Counted in [`crate::Figures::escapes`] and
    /// [`crate::Figures::escaped_bytes`].
    pub fn try_escape(&self, v: &Str<'_, A>) -> Result<Str<'p, A>, AllocError> {
        let copy = self.copy_str(v)?;
        self.count_escape(v.len());
        Ok(copy)
    }

    /// Copies `v` into what encloses the scope.
    ///
    /// # Panics
    ///
    /// When the allocation is refused (see [`Scope::try_escape`]).
    pub fn escape(&self, v: &Str<'_, A>) -> Str<'p, A> {
        self.try_escape(v).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Copies `v` onto a heap allocation of its own, freed when the copy drops: for state
    /// that outlives many scopes, which then pins no arena. It counts in the strand's
    /// `used` and `reserved` until it drops, and against the strand limit, and is counted
    /// in [`crate::Figures::escapes`] and [`crate::Figures::escaped_bytes`].
    pub fn try_to_heap(&self, v: &Str<'_, A>) -> Result<Str<'p, A>, AllocError> {
        let copy = Str::try_new_own(v.as_str(), self.strand)?;
        self.count_escape(v.len());
        Ok(copy)
    }

    /// Copies `v` onto a heap allocation of its own.
    ///
    /// # Panics
    ///
    /// When the allocation is refused (see [`Scope::try_to_heap`]).
    pub fn to_heap(&self, v: &Str<'_, A>) -> Str<'p, A> {
        self.try_to_heap(v).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Copies a value, however deep, into what encloses the scope: its strings and byte
    /// strings as [`Scope::escape`] copies a string, its variants' field arrays from the
    /// strand's backend. Runs in constant stack, however deep the value nests (a strand
    /// has 32 KiB). Counted as one escape, of the bytes of every string and byte string
    /// in it.
    pub fn try_escape_value(&self, v: &Value<'_, A>) -> Result<Value<'p, A>, AllocError> {
        self.copy_out(v, To::Enclosing)
    }

    /// Copies a value, however deep, into what encloses the scope.
    ///
    /// # Panics
    ///
    /// When an allocation is refused (see [`Scope::try_escape_value`]).
    pub fn escape_value(&self, v: &Value<'_, A>) -> Value<'p, A> {
        self.try_escape_value(v).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Copies a value, however deep, onto heap allocations of its own, freed when the copy
    /// drops: its strings and byte strings as [`Scope::to_heap`] copies a string, its
    /// variants' field arrays too ([`Variant::is_heap`]). For deep state that outlives
    /// many scopes, which then pins no arena. Runs in constant stack, however deep the
    /// value nests; counted as one escape, of the bytes of every string and byte string
    /// in it, and in the strand's `used` and `reserved` (arrays too) until it drops.
    pub fn try_to_heap_value(&self, v: &Value<'_, A>) -> Result<Value<'p, A>, AllocError> {
        self.copy_out(v, To::Heap)
    }

    /// Copies a value, however deep, onto heap allocations of its own.
    ///
    /// # Panics
    ///
    /// When an allocation is refused (see [`Scope::try_to_heap_value`]).
    pub fn to_heap_value(&self, v: &Value<'_, A>) -> Value<'p, A> {
        self.try_to_heap_value(v)
            .unwrap_or_else(|e| alloc_failed(e))
    }

    /// A deep copy of `v` to `to`, counted as one escape of its strings' bytes.
    fn copy_out(&self, v: &Value<'_, A>, to: To) -> Result<Value<'p, A>, AllocError> {
        let mut bytes = 0;
        let copy = self.copy_value(v, to, &mut bytes)?;
        self.count_escape(bytes);
        Ok(copy)
    }

    /// A copy of `s` in what encloses the scope (uncounted).
    fn copy_str(&self, s: &Str<'_, A>) -> Result<Str<'p, A>, AllocError> {
        match self.parent {
            Some(p) => p.try_str(s.as_str()),
            None => Str::try_new_in(s.as_str(), self.strand),
        }
    }

    /// The copy of a value to `to` (a variant's in constant stack: `try_copy` opens a
    /// frame for every variant, so this runs once per leaf).
    fn copy_value(
        &self,
        v: &Value<'_, A>,
        to: To,
        bytes: &mut usize,
    ) -> Result<Value<'p, A>, AllocError> {
        Ok(match v {
            Value::Int(i) => Value::Int(*i),
            Value::Float(x) => Value::Float(*x),
            Value::Bool(b) => Value::Bool(*b),
            Value::Str(s) => {
                *bytes += s.len();
                Value::Str(match to {
                    To::Enclosing => self.copy_str(s)?,
                    To::Heap => Str::try_new_own(s.as_str(), self.strand)?,
                })
            }
            Value::Bytes(b) => {
                *bytes += b.len();
                Value::Bytes(match (to, self.parent) {
                    (To::Enclosing, Some(p)) => p.try_bytes(b.as_slice())?,
                    (To::Enclosing, None) => Bytes::try_new_in(b.as_slice(), self.strand)?,
                    (To::Heap, _) => Bytes::try_new_own(b.as_slice(), self.strand)?,
                })
            }
            Value::Variant(root) => Value::Variant(root.try_copy(
                |v| match to {
                    To::Enclosing => Variant::try_with_capacity(v.tag(), v.len(), self.strand),
                    To::Heap => Variant::try_with_capacity_own(v.tag(), v.len(), self.strand),
                },
                |leaf| self.copy_value(leaf, to, bytes),
            )?),
        })
    }

    fn count_escape(&self, bytes: usize) {
        self.strand.cx.count(Counter::Escapes, 1);
        self.strand.cx.count(Counter::EscapedBytes, bytes as u64);
    }
}

/// Where a deep copy out of a scope goes.
#[derive(Clone, Copy)]
enum To {
    /// What encloses the scope: the enclosing scope, or the strand's backend.
    Enclosing,
    /// Heap allocations of the copy's own.
    Heap,
}

/// The end of a scope, also when its closure unwinds: every value of the scope is gone
/// (they borrow it), so its arena is reset and kept warm for the next scope (or given
/// back, past [`SCOPE_SPARE_BYTES_MAX`]), and the bytes of values of its arena that were
/// leaked (`mem::forget`) stop counting as used. A leaked value that is not in the
/// arena (`is_scoped()` false: every value on global-malloc, a large one elsewhere)
/// stays allocated and used, as any leaked value of the strand does.
impl<A: ValueAllocator> Drop for Scope<'_, A> {
    #[inline]
    fn drop(&mut self) {
        // An empty scope (or one on a backend without scope arenas that made nothing) has
        // nothing to give back.
        if self.arena.touched() {
            self.end();
        }
    }
}

impl<A: ValueAllocator> Scope<'_, A> {
    /// Gives back what the scope took: its values' bytes, the arena reset for the next.
    #[cold]
    #[inline(never)]
    fn end(&mut self) {
        let ended = self.arena.end();
        let cx = &self.strand.cx;
        if ended.leaked > 0 {
            cx.released::<A>(ended.leaked, None, false);
        }
        cx.count(Counter::ScopeBytesReturned, ended.handed as u64);
        if let Some((bump, before)) = ended.arena {
            let mut after = bump.allocated_bytes();
            if let Some(extra) = self.strand.scope_spares.keep(bump) {
                drop(extra);
                after = 0;
            }
            cx.reserve(after as i64 - before as i64);
            crate::trim::freed(before.saturating_sub(after));
        }
    }
}

/// Scopes on a strand.
impl<A: ValueAllocator> Strand<A> {
    /// Runs `f` in a scope: values made in it end with it, and its memory is reused by
    /// the next scope at once. See the [`scope` module](crate::scope) for what a scope
    /// is and how values leave it.
    #[inline]
    pub fn scope<'s, R>(&'s self, f: impl for<'i> FnOnce(&'i Scope<'s, A>) -> R) -> R {
        let scope = Scope::begin(self, None);
        f(&scope)
    }
}
