//! Values: byte strings, UTF-8 strings, and the [`Value`] enum that variants hold.
//!
//! A value borrows the [`Strand`] that allocated it, so the compiler keeps it from
//! outliving the strand, and it is neither `Send` nor `Sync`. Its bytes live either in the
//! strand's backend or, for strings adopted from a [`crate::PortableValue`], on the global heap;
//! either way dropping the value releases them exactly once.

use crate::allocator::{Ticket, ValueAllocator};
use crate::error::{AllocError, Hazard};
use crate::scope_arena::ScopeArena;
use crate::strand::{alloc_failed, hazard, Strand};
use crate::tree::{self, Tree};
use crate::variant::Variant;
use std::alloc::Layout;
use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;

/// Where a byte string's memory comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// No memory (the empty string).
    Empty,
    /// The strand's backend, with the ticket it gave.
    Backend(Ticket),
    /// A `Box<[u8]>` on the global heap, adopted (not counted in the figures).
    Heap,
    /// A heap allocation of its own that the strand made ([`crate::Scope::to_heap`]):
    /// counted in `used` and `reserved` until it drops, as a large value is.
    Own,
    /// A heap allocation of its own for a value past the strand's large-value size
    /// ([`Strand::alloc_large`]): counted as `Own` is, and as a large value.
    Large,
    /// The arena of the scope it points at, which outlives the value (the value borrows
    /// the scope).
    Scope(NonNull<ScopeArena>),
}

/// An immutable byte string allocated for a strand.
pub struct Bytes<'s, A: ValueAllocator> {
    ptr: NonNull<u8>,
    len: usize,
    origin: Origin,
    strand: &'s Strand<A>,
}

impl<'s, A: ValueAllocator> Bytes<'s, A> {
    /// Copies `b` into memory from `strand`'s backend.
    // Always inlined: returned through memory, the value costs a store-forwarding stall
    // in the caller that is several times the allocation itself.
    #[inline(always)]
    pub fn try_new_in(b: &[u8], strand: &'s Strand<A>) -> Result<Self, AllocError> {
        // One comparison sends the empty, the large and every value of a strand with a
        // limit out of line. Both ways end in the one construction below, so that the
        // caller gets the value built in place, not copied from one of two places.
        if !A::LARGE_APART {
            // No large values: the origin is the backend's whatever the size, and the
            // compiler builds the value without a choice of origins to merge.
            if strand.unusual_size(b.len()) {
                if b.is_empty() {
                    return Ok(Self::empty(strand));
                }
                strand.limit_check(b.len())?;
            }
            // SAFETY: a slice's length is at most `isize::MAX`, and 1 is a power of two.
            let layout = unsafe { Layout::from_size_align_unchecked(b.len(), 1) };
            let (ptr, ticket) = strand.alloc_usual(layout, false)?;
            return Ok(Self::filled(b, ptr, Origin::Backend(ticket), strand));
        }
        let (ptr, origin) = if strand.unusual_size(b.len()) {
            Self::alloc_unusual(b.len(), strand)?
        } else {
            // SAFETY: a slice's length is at most `isize::MAX`, and 1 is a power of two.
            let layout = unsafe { Layout::from_size_align_unchecked(b.len(), 1) };
            let (ptr, ticket) = strand.alloc_usual(layout, false)?;
            (ptr, Origin::Backend(ticket))
        };
        Ok(Self::filled(b, ptr, origin, strand))
    }

    /// The value of `origin` at `ptr`, memory for `b.len()` bytes, with `b` copied in.
    #[inline(always)]
    fn filled(b: &[u8], ptr: NonNull<u8>, origin: Origin, strand: &'s Strand<A>) -> Self {
        // SAFETY: `ptr` is valid for `b.len()` bytes of writes (the allocation's
        // contract; any aligned pointer for no bytes) and cannot overlap `b`, which the
        // caller still borrows.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), ptr.as_ptr(), b.len()) };
        Bytes {
            ptr,
            len: b.len(),
            origin,
            strand,
        }
    }

    /// The memory of a byte string of `len` bytes that [`Bytes::try_new_in`]'s one
    /// comparison sends here ([`Strand::alloc_unusual`]: none for the empty value, a heap
    /// allocation of its own past the large-value size, and the backend's, after the
    /// limit, on a strand with one), with the origin that says which.
    #[cold]
    #[inline(never)]
    fn alloc_unusual(
        len: usize,
        strand: &'s Strand<A>,
    ) -> Result<(NonNull<u8>, Origin), AllocError> {
        // SAFETY: as in `try_new_in`.
        let layout = unsafe { Layout::from_size_align_unchecked(len, 1) };
        let (ptr, ticket) = strand.alloc_unusual(layout, false)?;
        let origin = if len == 0 {
            Origin::Empty
        } else if strand.apart(layout) {
            Origin::Large
        } else {
            Origin::Backend(ticket)
        };
        Ok((ptr, origin))
    }

    /// Copies `b` into the arena of a scope, or where the scope's arena does not take it
    /// (no arena, a large value, past its limit) into memory from `strand`'s backend.
    /// `arena` outlives `'s` (the caller's borrow of the scope).
    #[inline(always)]
    pub(crate) fn try_new_in_scope(
        b: &[u8],
        arena: &'s ScopeArena,
        strand: &'s Strand<A>,
    ) -> Result<Self, AllocError> {
        let size = b.len();
        // One comparison for empty and large, as `Strand::alloc_raw` makes it.
        if size.wrapping_sub(1) >= strand.cx.large || !arena.enabled() {
            return Self::try_new_in(b, strand);
        }
        strand.limit_check(size)?;
        let Some((ptr, grown)) = arena.alloc(size, || strand.take_scope_arena()) else {
            return Self::try_new_in(b, strand);
        };
        strand.cx.allocated::<A>(size, false, || None);
        if grown != 0 {
            // After the count: the reserve publishes the figures.
            strand.cx.reserve(grown);
        }
        // SAFETY: `ptr` is `b.len()` fresh bytes of the arena, which `b` cannot overlap.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), ptr.as_ptr(), b.len()) };
        Ok(Bytes {
            ptr,
            len: b.len(),
            origin: Origin::Scope(NonNull::from(arena)),
            strand,
        })
    }

    /// Copies `b` onto a heap allocation of its own, counted for `strand` (in `used`,
    /// `reserved` and against the strand limit) until the value drops.
    pub(crate) fn try_new_own(b: &[u8], strand: &'s Strand<A>) -> Result<Self, AllocError> {
        if b.is_empty() {
            return Ok(Self::empty(strand));
        }
        let layout = Layout::array::<u8>(b.len()).map_err(|_| AllocError::invalid(b.len(), 1))?;
        let ptr = strand.alloc_own(layout)?;
        // SAFETY: `ptr` is `b.len()` fresh bytes, which `b` cannot overlap.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), ptr.as_ptr(), b.len()) };
        Ok(Bytes {
            ptr,
            len: b.len(),
            origin: Origin::Own,
            strand,
        })
    }

    fn empty(strand: &'s Strand<A>) -> Self {
        Bytes {
            ptr: NonNull::dangling(),
            len: 0,
            origin: Origin::Empty,
            strand,
        }
    }

    /// Adopts a heap buffer without copying it; it is freed when the value drops.
    pub fn from_heap(b: Box<[u8]>, strand: &'s Strand<A>) -> Self {
        if b.is_empty() {
            return Self::empty(strand);
        }
        let len = b.len();
        let raw = Box::into_raw(b) as *mut u8;
        Bytes {
            // SAFETY: `Box::into_raw` never returns null.
            ptr: unsafe { NonNull::new_unchecked(raw) },
            len,
            origin: Origin::Heap,
            strand,
        }
    }

    /// The bytes.
    ///
    /// # Panics
    ///
    /// With the `checked` feature, when the value's memory was invalidated (a
    /// [`Hazard`], counted in the strand's figures); only a backend that breaks the
    /// allocation contract on purpose (the seed policy) can cause it.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self.try_as_slice() {
            Ok(b) => b,
            Err(h) => hazard(h),
        }
    }

    /// The bytes, or the [`Hazard`] that refused the access (always `Ok` without the
    /// `checked` feature).
    #[inline]
    pub fn try_as_slice(&self) -> Result<&[u8], Hazard> {
        self.check()?;
        // SAFETY: `ptr` is valid for `len` initialised bytes for as long as `self` exists:
        // backend memory stays valid until it is released (by this value's drop) or its
        // strand resets or exits, which needs `&mut Strand` or the strand's end, both
        // impossible while `self` borrows it; heap memory is owned by `self`. (A backend
        // that breaks this on purpose exists only with `checked`, whose `check` above has
        // just refused any invalidated memory.)
        Ok(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) })
    }

    /// Validates the value's arena stamp (nothing to do without `checked`).
    #[inline]
    pub(crate) fn check(&self) -> Result<(), Hazard> {
        match self.origin {
            Origin::Backend(t) => self.strand.checked(t),
            _ => Ok(()),
        }
    }

    /// Whether the bytes live on the global heap (adopted from a portable value, or
    /// copied there by [`crate::Scope::to_heap`]) rather than in the strand's backend.
    /// A value past the strand's large-value size is the backend's in this sense
    /// (`false`): the strand gives it a heap allocation of its own as part of serving
    /// it, counted as a large value ([`crate::Figures::large_values`]).
    pub fn is_heap(&self) -> bool {
        matches!(self.origin, Origin::Heap | Origin::Own)
    }

    /// Whether the bytes live in the arena of a scope ([`crate::Scope`]), given back when
    /// it ends.
    pub fn is_scoped(&self) -> bool {
        matches!(self.origin, Origin::Scope(_))
    }

    /// The strand the value belongs to.
    pub fn strand(&self) -> &'s Strand<A> {
        self.strand
    }

    /// A copy in the same strand: in the same scope for a value of a scope's arena, on a
    /// heap allocation of its own for one there, else in the strand's backend.
    pub fn try_clone(&self) -> Result<Self, AllocError> {
        match self.origin {
            // SAFETY: a scope's arena outlives its values (they borrow the scope).
            Origin::Scope(arena) => {
                Self::try_new_in_scope(self.as_slice(), unsafe { arena.as_ref() }, self.strand)
            }
            Origin::Own => Self::try_new_own(self.as_slice(), self.strand),
            _ => Self::try_new_in(self.as_slice(), self.strand),
        }
    }
}

impl<A: ValueAllocator> Drop for Bytes<'_, A> {
    #[inline(always)]
    fn drop(&mut self) {
        if let Origin::Backend(ticket) = self.origin {
            // SAFETY: `try_new_in` and `alloc_unusual`, the only places that make a
            // backend value, make the empty value without allocating: a backend value is
            // never empty. (Told to the compiler, which may drop a backend's zero test.)
            unsafe { std::hint::assert_unchecked(self.len != 0) };
            // SAFETY: `ptr`, this layout and `ticket` came from one `alloc_usual` on
            // `strand` in `try_new_in`; this value is its only owner and is going away.
            unsafe {
                self.strand.dealloc_usual(
                    self.ptr,
                    Layout::from_size_align_unchecked(self.len, 1),
                    ticket,
                )
            }
        } else {
            self.drop_apart();
        }
    }
}

impl<A: ValueAllocator> Bytes<'_, A> {
    /// The drop of a value not in the backend: the empty string, an adopted heap
    /// buffer, a heap copy of its own, or a value of a scope. Out of line, so that the
    /// drop of a backend value stays small.
    #[cold]
    #[inline(never)]
    fn drop_apart(&mut self) {
        match self.origin {
            Origin::Empty | Origin::Backend(_) => {}
            Origin::Heap => {
                let raw = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len);
                // SAFETY: `raw` is the pointer and length `Box::into_raw` gave in
                // `from_heap`, owned by this value alone.
                drop(unsafe { Box::from_raw(raw) });
            }
            Origin::Own | Origin::Large => {
                // SAFETY: `ptr` came from `alloc_own` (in `try_new_own`) or `alloc_large`
                // (through `Strand::alloc_unusual`), both `heap_alloc`, with this layout (a
                // non-empty byte array), owned by this value alone.
                unsafe {
                    self.strand
                        .heap_dealloc(self.ptr, Layout::from_size_align_unchecked(self.len, 1))
                }
            }
            Origin::Scope(arena) => {
                // SAFETY: a scope's arena outlives its values (they borrow the scope);
                // its memory is given back when the scope ends, not here.
                unsafe { arena.as_ref() }.release(self.len);
                self.strand.cx.released::<A>(self.len, None, false);
            }
        }
    }
}

impl<A: ValueAllocator> Deref for Bytes<'_, A> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<A: ValueAllocator> Clone for Bytes<'_, A> {
    /// # Panics
    ///
    /// When the allocation is refused; use [`Bytes::try_clone`] to get an error.
    fn clone(&self) -> Self {
        self.try_clone()
            .unwrap_or_else(|e| panic!("strand-alloc: {e}"))
    }
}

impl<A: ValueAllocator> fmt::Debug for Bytes<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl<A: ValueAllocator> PartialEq for Bytes<'_, A> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<A: ValueAllocator> PartialEq<[u8]> for Bytes<'_, A> {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

/// An immutable UTF-8 string allocated for a strand.
pub struct Str<'s, A: ValueAllocator>(Bytes<'s, A>);

impl<'s, A: ValueAllocator> Str<'s, A> {
    /// Copies `s` into memory from `strand`'s backend.
    #[inline(always)]
    pub fn try_new_in(s: &str, strand: &'s Strand<A>) -> Result<Self, AllocError> {
        Bytes::try_new_in(s.as_bytes(), strand).map(Str)
    }

    /// Copies `s` onto a heap allocation of its own, counted for `strand`.
    pub(crate) fn try_new_own(s: &str, strand: &'s Strand<A>) -> Result<Self, AllocError> {
        Bytes::try_new_own(s.as_bytes(), strand).map(Str)
    }

    /// Makes `bytes` a string without checking them.
    ///
    /// # Safety
    ///
    /// The bytes are valid UTF-8.
    pub(crate) unsafe fn from_utf8_unchecked(bytes: Bytes<'s, A>) -> Self {
        Str(bytes)
    }

    /// Adopts a heap string without copying it.
    pub fn from_heap(s: Box<str>, strand: &'s Strand<A>) -> Self {
        Str(Bytes::from_heap(s.into_boxed_bytes(), strand))
    }

    /// Checks that `bytes` are UTF-8 and makes them a string; gives them back if not.
    pub fn from_utf8(bytes: Bytes<'s, A>) -> Result<Self, Bytes<'s, A>> {
        if std::str::from_utf8(bytes.as_slice()).is_ok() {
            Ok(Str(bytes))
        } else {
            Err(bytes)
        }
    }

    /// The string.
    ///
    /// # Panics
    ///
    /// As [`Bytes::as_slice`]: only on a hazard, only with `checked`.
    #[inline]
    pub fn as_str(&self) -> &str {
        match self.try_as_str() {
            Ok(s) => s,
            Err(h) => hazard(h),
        }
    }

    /// The string, or the [`Hazard`] that refused the access (always `Ok` without the
    /// `checked` feature).
    #[inline]
    pub fn try_as_str(&self) -> Result<&str, Hazard> {
        // SAFETY: every constructor checks or copies valid UTF-8, and the bytes never change.
        self.0
            .try_as_slice()
            .map(|b| unsafe { std::str::from_utf8_unchecked(b) })
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes<'s, A> {
        &self.0
    }

    /// Whether the bytes live on the global heap, as [`Bytes::is_heap`] says (a large
    /// value counts as the backend's).
    pub fn is_heap(&self) -> bool {
        self.0.is_heap()
    }

    /// Whether the bytes live in the arena of a scope ([`crate::Scope`]).
    pub fn is_scoped(&self) -> bool {
        self.0.is_scoped()
    }

    /// The strand the value belongs to.
    pub fn strand(&self) -> &'s Strand<A> {
        self.0.strand()
    }

    /// A copy in the same strand.
    pub fn try_clone(&self) -> Result<Self, AllocError> {
        self.0.try_clone().map(Str)
    }
}

impl<A: ValueAllocator> Deref for Str<'_, A> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<A: ValueAllocator> Clone for Str<'_, A> {
    /// # Panics
    ///
    /// When the allocation is refused; use [`Str::try_clone`] to get an error.
    fn clone(&self) -> Self {
        Str(self.0.clone())
    }
}

impl<A: ValueAllocator> fmt::Debug for Str<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<A: ValueAllocator> fmt::Display for Str<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<A: ValueAllocator> PartialEq for Str<'_, A> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<A: ValueAllocator> PartialEq<str> for Str<'_, A> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<A: ValueAllocator> PartialEq<&str> for Str<'_, A> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A runtime value: a scalar, a string, a byte string, or a variant of further values.
pub enum Value<'s, A: ValueAllocator> {
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string.
    Str(Str<'s, A>),
    /// A byte string.
    Bytes(Bytes<'s, A>),
    /// A tagged tuple of values.
    Variant(Variant<'s, A>),
}

impl<'s, A: ValueAllocator> Value<'s, A> {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The byte string's bytes, if this is one.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b.as_slice()),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The float, if this is one.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The variant, if this is one.
    pub fn as_variant(&self) -> Option<&Variant<'s, A>> {
        match self {
            Value::Variant(v) => Some(v),
            _ => None,
        }
    }

    /// A deep copy, allocated by the strands the original's parts belong to. Runs in
    /// constant stack, however deep the value nests.
    pub fn try_clone(&self) -> Result<Self, AllocError> {
        match self {
            Value::Variant(v) => v.try_clone().map(Value::Variant),
            leaf => leaf.try_clone_leaf(),
        }
    }

    /// A copy of a leaf; a variant is copied (deeply) by [`Variant::try_clone`].
    pub(crate) fn try_clone_leaf(&self) -> Result<Self, AllocError> {
        Ok(match self {
            Value::Int(i) => Value::Int(*i),
            Value::Float(x) => Value::Float(*x),
            Value::Bool(b) => Value::Bool(*b),
            Value::Str(s) => Value::Str(s.try_clone()?),
            Value::Bytes(b) => Value::Bytes(b.try_clone()?),
            Value::Variant(v) => Value::Variant(v.try_clone()?),
        })
    }
}

impl<A: ValueAllocator> Tree for Value<'_, A> {
    fn variant(&self) -> Option<(u32, &[Self])> {
        match self {
            Value::Variant(v) => Some((v.tag(), v.fields())),
            _ => None,
        }
    }

    fn fmt_leaf(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "Int({i})"),
            Value::Float(x) => write!(f, "Float({x:?})"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Str(s) => write!(f, "Str({s:?})"),
            Value::Bytes(b) => write!(f, "Bytes({b:?})"),
            Value::Variant(v) => write!(f, "Variant#{}(..)", v.tag()),
        }
    }

    fn leaf_eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            _ => false,
        }
    }
}

/// Prints the value, in constant stack, eliding variants nested deeper than
/// [`MAX_DEBUG_DEPTH`](crate::tree::MAX_DEBUG_DEPTH) as `Variant#TAG(..)`.
impl<A: ValueAllocator> fmt::Debug for Value<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tree::debug(self, f)
    }
}

impl<A: ValueAllocator> Clone for Value<'_, A> {
    /// # Panics
    ///
    /// When an allocation is refused; use [`Value::try_clone`] to get an error.
    fn clone(&self) -> Self {
        self.try_clone()
            .unwrap_or_else(|e| panic!("strand-alloc: {e}"))
    }
}

/// Deep equality, in constant stack (floats compared as numbers: `NaN != NaN`).
impl<A: ValueAllocator> PartialEq for Value<'_, A> {
    fn eq(&self, other: &Self) -> bool {
        tree::eq(self, other)
    }
}

impl<'s, A: ValueAllocator> From<Str<'s, A>> for Value<'s, A> {
    fn from(s: Str<'s, A>) -> Self {
        Value::Str(s)
    }
}

impl<'s, A: ValueAllocator> From<Bytes<'s, A>> for Value<'s, A> {
    fn from(b: Bytes<'s, A>) -> Self {
        Value::Bytes(b)
    }
}

impl<'s, A: ValueAllocator> From<Variant<'s, A>> for Value<'s, A> {
    fn from(v: Variant<'s, A>) -> Self {
        Value::Variant(v)
    }
}

impl<A: ValueAllocator> From<i64> for Value<'_, A> {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl<A: ValueAllocator> From<bool> for Value<'_, A> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl<A: ValueAllocator> From<f64> for Value<'_, A> {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

/// Constructors of strings and byte strings on a strand.
impl<A: ValueAllocator> Strand<A> {
    /// Allocates a UTF-8 string, or says why it could not.
    #[inline(always)]
    pub fn try_str(&self, s: &str) -> Result<Str<'_, A>, AllocError> {
        Str::try_new_in(s, self)
    }

    /// Allocates a UTF-8 string.
    ///
    /// # Panics
    ///
    /// When the allocation is refused (see [`Strand::try_str`]).
    #[inline(always)]
    pub fn str(&self, s: &str) -> Str<'_, A> {
        self.try_str(s).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Allocates a byte string, or says why it could not.
    pub fn try_bytes(&self, b: &[u8]) -> Result<Bytes<'_, A>, AllocError> {
        Bytes::try_new_in(b, self)
    }

    /// Allocates a byte string.
    ///
    /// # Panics
    ///
    /// When the allocation is refused (see [`Strand::try_bytes`]).
    pub fn bytes(&self, b: &[u8]) -> Bytes<'_, A> {
        self.try_bytes(b).unwrap_or_else(|e| alloc_failed(e))
    }
}
