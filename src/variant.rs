//! Variants: a tag and an array of [`Value`] fields, the array allocated by the strand's
//! backend.
//!
//! Dropping a variant drops every field (so a field that owns heap memory frees it, even
//! when the array itself sits in an arena that never runs destructors) and then releases
//! the array. Drop, clone, equality and `Debug` run in constant stack, however deep
//! variants nest.

use crate::allocator::{Ticket, ValueAllocator};
use crate::error::{AllocError, Hazard};
use crate::strand::{alloc_failed, hazard, Strand};
use crate::tree;
use crate::value::Value;
use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

/// A tagged tuple of values, allocated for a strand.
///
/// ```
/// # #[cfg(feature = "thread-arena")] {
/// use strand_alloc::{Strand, ThreadArena, Value};
/// let s = Strand::<ThreadArena>::local().unwrap();
/// let inner = s.variant(2, [Value::Int(7)]);
/// let outer = s.variant(1, [s.str("name").into(), inner.into()]);
/// assert_eq!(outer.tag(), 1);
/// assert_eq!(outer.fields()[1].as_variant().unwrap().fields()[0], Value::Int(7));
/// # }
/// ```
pub struct Variant<'s, A: ValueAllocator> {
    tag: u32,
    len: u32,
    cap: u32,
    /// Whether the field array is a heap allocation of its own ([`Strand::alloc_own`]:
    /// a variant copied out of a scope onto the heap) rather than the backend's.
    own: bool,
    ticket: Ticket,
    fields: NonNull<Value<'s, A>>,
    strand: &'s Strand<A>,
}

impl<'s, A: ValueAllocator> Variant<'s, A> {
    /// Builds a variant whose field array comes from `strand`'s backend.
    ///
    /// # Panics
    ///
    /// If the iterator yields more items than its `len()` promised.
    pub fn try_new_in<I>(tag: u32, fields: I, strand: &'s Strand<A>) -> Result<Self, AllocError>
    where
        I: IntoIterator<Item = Value<'s, A>>,
        I::IntoIter: ExactSizeIterator,
    {
        let mut iter = fields.into_iter();
        let cap = iter.len();
        let v = Self::try_build(tag, cap, iter.by_ref(), strand)?;
        if iter.next().is_some() {
            drop(v);
            panic!("strand-alloc: a variant's field iterator yielded more than its len()");
        }
        Ok(v)
    }

    /// Allocates room for `cap` fields and moves up to `cap` items of `fields` in.
    pub(crate) fn try_build(
        tag: u32,
        cap: usize,
        fields: impl Iterator<Item = Value<'s, A>>,
        strand: &'s Strand<A>,
    ) -> Result<Self, AllocError> {
        let mut v = Self::try_with_capacity(tag, cap, strand)?;
        for field in fields.take(cap) {
            v.push(field);
        }
        Ok(v)
    }

    /// The layout of an array of `cap` fields, and `cap` as the variant keeps it.
    fn array(cap: usize) -> Result<(u32, Layout), AllocError> {
        let too_big = || AllocError::invalid(cap.saturating_mul(size_of::<Value<'s, A>>()), 8);
        let cap32 = u32::try_from(cap).map_err(|_| too_big())?;
        let layout = Layout::array::<Value<'s, A>>(cap).map_err(|_| too_big())?;
        Ok((cap32, layout))
    }

    /// An empty variant with room for `cap` fields.
    pub(crate) fn try_with_capacity(
        tag: u32,
        cap: usize,
        strand: &'s Strand<A>,
    ) -> Result<Self, AllocError> {
        let (cap32, layout) = Self::array(cap)?;
        let (ptr, ticket) = strand.alloc_raw(layout, false)?;
        Ok(Variant {
            tag,
            len: 0,
            cap: cap32,
            own: false,
            ticket,
            fields: ptr.cast(),
            strand,
        })
    }

    /// An empty variant with room for `cap` fields in a heap allocation of its own,
    /// counted as the strand's until it drops (an empty one takes no memory, from the
    /// backend).
    pub(crate) fn try_with_capacity_own(
        tag: u32,
        cap: usize,
        strand: &'s Strand<A>,
    ) -> Result<Self, AllocError> {
        let (cap32, layout) = Self::array(cap)?;
        if layout.size() == 0 {
            return Self::try_with_capacity(tag, cap, strand);
        }
        let ptr = strand.alloc_own(layout)?;
        Ok(Variant {
            tag,
            len: 0,
            cap: cap32,
            own: true,
            ticket: Ticket::NONE,
            fields: ptr.cast(),
            strand,
        })
    }

    /// An empty variant like `self`, with room for its fields: on the heap if `self`'s
    /// array is, from the backend otherwise.
    fn try_like(&self) -> Result<Self, AllocError> {
        if self.own {
            Self::try_with_capacity_own(self.tag, self.len(), self.strand)
        } else {
            Self::try_with_capacity(self.tag, self.len(), self.strand)
        }
    }

    /// Whether the field array is a heap allocation of its own (a variant copied onto
    /// the heap by [`crate::Scope::to_heap_value`], or a clone of one) rather than the
    /// backend's. The values in its fields say where each of theirs is.
    pub fn is_heap(&self) -> bool {
        self.own
    }

    /// Appends a field.
    ///
    /// # Panics
    ///
    /// When the variant is full (a bug in this crate: every caller allocates the
    /// capacity it fills).
    pub(crate) fn push(&mut self, field: Value<'s, A>) {
        assert!(
            self.len < self.cap,
            "strand-alloc: a variant's field array is full"
        );
        // SAFETY: `len < cap`, so the slot is inside the array and uninitialised; `len`
        // grows right after, so a panic later drops only the fields already written.
        unsafe { self.fields.as_ptr().add(self.len as usize).write(field) };
        self.len += 1;
    }

    /// The strand the variant belongs to.
    pub fn strand(&self) -> &'s Strand<A> {
        self.strand
    }

    /// The tag.
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The fields.
    ///
    /// # Panics
    ///
    /// As [`crate::Bytes::as_slice`]: only on a hazard, only with `checked`.
    #[inline]
    pub fn fields(&self) -> &[Value<'s, A>] {
        match self.try_fields() {
            Ok(f) => f,
            Err(h) => hazard(h),
        }
    }

    /// The fields, or the [`Hazard`] that refused the access (always `Ok` without the
    /// `checked` feature).
    #[inline]
    pub fn try_fields(&self) -> Result<&[Value<'s, A>], Hazard> {
        self.strand.checked(self.ticket)?;
        // SAFETY: the first `len` slots were initialised in `try_build` and stay valid
        // while `self` (which borrows the strand) exists; see `Bytes::try_as_slice`.
        Ok(unsafe { std::slice::from_raw_parts(self.fields.as_ptr(), self.len as usize) })
    }

    /// A deep copy, allocated by the strands the original's parts belong to. Runs in
    /// constant stack, however deep the variant nests.
    pub fn try_clone(&self) -> Result<Self, AllocError> {
        self.try_copy(Variant::try_like, Value::try_clone_leaf)
    }

    /// A deep copy whose field arrays are `frame` of each original variant (an empty
    /// variant with room for its fields) and whose other values are `leaf` of each
    /// original one, with a stack of open frames (fields left to copy, the copy being
    /// built) instead of recursion.
    pub(crate) fn try_copy<'p>(
        &self,
        frame: impl Fn(&Variant<'s, A>) -> Result<Variant<'p, A>, AllocError>,
        mut leaf: impl FnMut(&Value<'s, A>) -> Result<Value<'p, A>, AllocError>,
    ) -> Result<Variant<'p, A>, AllocError> {
        struct Frame<'v, 's, 'p, A: ValueAllocator> {
            src: &'v [Value<'s, A>],
            out: Variant<'p, A>,
        }
        let mut open = vec![Frame {
            src: self.fields(),
            out: frame(self)?,
        }];
        loop {
            let top = open.last_mut().expect("the root frame is open");
            if let Some((first, rest)) = top.src.split_first() {
                top.src = rest;
                match first {
                    Value::Variant(v) => {
                        let out = frame(v)?;
                        open.push(Frame {
                            src: v.fields(),
                            out,
                        });
                    }
                    other => {
                        let copy = leaf(other)?;
                        top.out.push(copy);
                    }
                }
                continue;
            }
            let done = open.pop().expect("the frame is open").out;
            match open.last_mut() {
                Some(parent) => parent.out.push(Value::Variant(done)),
                None => return Ok(done),
            }
        }
    }

    /// Moves every field out: nested variants into `pending`, the rest dropped here.
    /// Leaves the variant empty (its array still allocated).
    fn drain_into(&mut self, pending: &mut Vec<Variant<'s, A>>) {
        let len = self.len as usize;
        // Set first: should a field's drop panic, the rest leak instead of dropping twice.
        self.len = 0;
        for i in 0..len {
            // SAFETY: the first `len` slots hold initialised fields owned by this variant
            // alone; each is read out once, and `len` is already zero, so nothing reads
            // them again.
            let field = unsafe { self.fields.as_ptr().add(i).read() };
            match field {
                Value::Variant(v) => pending.push(v),
                other => drop(other),
            }
        }
    }
}

impl<A: ValueAllocator> Drop for Variant<'_, A> {
    /// Drops every field and releases the array. Nested variants are taken apart with a
    /// work stack: each is emptied before it drops, so the drop of a list a million deep
    /// uses a constant amount of the strand's stack.
    fn drop(&mut self) {
        // An invalidated array (a hazard, counted) cannot be read: its fields are leaked
        // rather than dropped from stale memory.
        if self.len > 0 && self.strand.checked(self.ticket).is_ok() {
            let mut pending = Vec::new();
            self.drain_into(&mut pending);
            while let Some(mut v) = pending.pop() {
                if v.len > 0 && v.strand.checked(v.ticket).is_ok() {
                    v.drain_into(&mut pending);
                }
                // Leaked if stale, so its own drop does not read (or count) it again.
                v.len = 0;
                drop(v);
            }
        }
        // SAFETY: this is the size and alignment `try_with_capacity` (or
        // `try_with_capacity_own`) allocated with (it fit in a `Layout` then), and the
        // ticket it got; the array is not used after this.
        unsafe {
            let layout = Layout::from_size_align_unchecked(
                self.cap as usize * size_of::<Value<'_, A>>(),
                align_of::<Value<'_, A>>(),
            );
            if self.own {
                // A heap allocation of its own, of non-zero size (`try_with_capacity_own`).
                self.strand.heap_dealloc(self.fields.cast(), layout);
            } else {
                self.strand
                    .dealloc_raw(self.fields.cast(), layout, self.ticket);
            }
        }
    }
}

impl<A: ValueAllocator> Clone for Variant<'_, A> {
    /// # Panics
    ///
    /// When an allocation is refused; use [`Variant::try_clone`] to get an error.
    fn clone(&self) -> Self {
        self.try_clone()
            .unwrap_or_else(|e| panic!("strand-alloc: {e}"))
    }
}

/// Deep equality, in constant stack.
impl<A: ValueAllocator> PartialEq for Variant<'_, A> {
    fn eq(&self, other: &Self) -> bool {
        self.tag == other.tag
            && self.len == other.len
            && self
                .fields()
                .iter()
                .zip(other.fields())
                .all(|(a, b)| tree::eq(a, b))
    }
}

/// Prints `Variant#TAG(field, ...)`, in constant stack, eliding variants nested deeper
/// than [`MAX_DEBUG_DEPTH`](crate::tree::MAX_DEBUG_DEPTH) as `Variant#TAG(..)`.
impl<A: ValueAllocator> fmt::Debug for Variant<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Variant#{}(", self.tag)?;
        for (i, field) in self.fields().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            tree::debug(field, f)?;
        }
        f.write_str(")")
    }
}

/// Constructors of variants on a strand.
impl<A: ValueAllocator> Strand<A> {
    /// Builds a variant from a tag and its fields, or says why it could not (the fields
    /// are dropped then). The field array is sized by the iterator's `len()`; fields it
    /// yields short of that are simply absent.
    ///
    /// # Panics
    ///
    /// If the iterator yields more items than its `len()` promised (a broken
    /// `ExactSizeIterator`); the variant built so far is dropped first.
    pub fn try_variant<'s, I>(&'s self, tag: u32, fields: I) -> Result<Variant<'s, A>, AllocError>
    where
        I: IntoIterator<Item = Value<'s, A>>,
        I::IntoIter: ExactSizeIterator,
    {
        Variant::try_new_in(tag, fields, self)
    }

    /// Builds a variant from a tag and its fields.
    ///
    /// # Panics
    ///
    /// When the allocation is refused, or the iterator yields more than its `len()` (see
    /// [`Strand::try_variant`]).
    pub fn variant<'s, I>(&'s self, tag: u32, fields: I) -> Variant<'s, A>
    where
        I: IntoIterator<Item = Value<'s, A>>,
        I::IntoIter: ExactSizeIterator,
    {
        self.try_variant(tag, fields)
            .unwrap_or_else(|e| alloc_failed(e))
    }
}
