//! Variants: a tag and an array of [`Value`] fields, the array allocated by the strand's
//! backend.
//!
//! Dropping a variant drops every field (so a field that owns heap memory frees it, even
//! when the array itself sits in an arena that never runs destructors) and then releases
//! the array.

use crate::allocator::{Ticket, ValueAllocator};
use crate::error::{AllocError, Hazard};
use crate::strand::Strand;
use crate::value::Value;
use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

/// A tagged tuple of values, allocated for a strand.
///
/// ```
/// use strand_alloc::{Strand, DefaultBackend, Value};
/// let s = Strand::<DefaultBackend>::local().unwrap();
/// let inner = s.variant(2, [Value::Int(7)]);
/// let outer = s.variant(1, [s.str("name").into(), inner.into()]);
/// assert_eq!(outer.tag(), 1);
/// assert_eq!(outer.fields()[1].as_variant().unwrap().fields()[0], Value::Int(7));
/// ```
pub struct Variant<'s, A: ValueAllocator> {
    tag: u32,
    len: u32,
    cap: u32,
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
        let too_big = || AllocError::invalid(cap.saturating_mul(size_of::<Value<'s, A>>()), 8);
        let cap32 = u32::try_from(cap).map_err(|_| too_big())?;
        let layout = Layout::array::<Value<'s, A>>(cap).map_err(|_| too_big())?;
        let (ptr, ticket) = strand.alloc_raw(layout, false)?;
        let mut v = Variant {
            tag,
            len: 0,
            cap: cap32,
            ticket,
            fields: ptr.cast(),
            strand,
        };
        for field in fields.take(cap) {
            // SAFETY: `len < cap`, so the slot is inside the array and uninitialised;
            // `len` grows right after, so a panic in the iterator drops only the fields
            // already written.
            unsafe { v.fields.as_ptr().add(v.len as usize).write(field) };
            v.len += 1;
        }
        Ok(v)
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
            Err(h) => crate::value::hazard(h),
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

    /// A deep copy in the same strand.
    pub fn try_clone(&self) -> Result<Self, AllocError> {
        let mut err = None;
        let fields = self
            .fields()
            .iter()
            .map_while(|f| f.try_clone().map_err(|e| err = Some(e)).ok());
        let v = Self::try_build(self.tag, self.len(), fields, self.strand)?;
        match err {
            Some(e) => Err(e),
            None => Ok(v),
        }
    }
}

impl<A: ValueAllocator> Drop for Variant<'_, A> {
    fn drop(&mut self) {
        // An invalidated array (a hazard, counted) cannot be read: its fields are leaked
        // rather than dropped from stale memory.
        if self.strand.checked(self.ticket).is_ok() {
            self.drop_fields();
        }
        // SAFETY: this is the size and alignment `try_build` allocated with (it fit in a
        // `Layout` then) and the ticket it got; the array is not used after this.
        unsafe {
            let layout = Layout::from_size_align_unchecked(
                self.cap as usize * size_of::<Value<'_, A>>(),
                align_of::<Value<'_, A>>(),
            );
            self.strand
                .dealloc_raw(self.fields.cast(), layout, self.ticket);
        }
    }
}

impl<A: ValueAllocator> Variant<'_, A> {
    fn drop_fields(&mut self) {
        let fields = std::ptr::slice_from_raw_parts_mut(self.fields.as_ptr(), self.len as usize);
        // SAFETY: the first `len` slots hold initialised fields owned by this variant
        // alone; they are dropped once, here.
        unsafe { std::ptr::drop_in_place(fields) };
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

impl<A: ValueAllocator> PartialEq for Variant<'_, A> {
    fn eq(&self, other: &Self) -> bool {
        self.tag == other.tag && self.fields() == other.fields()
    }
}

impl<A: ValueAllocator> fmt::Debug for Variant<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = f.debug_tuple(&format!("Variant#{}", self.tag));
        for field in self.fields() {
            t.field(field);
        }
        t.finish()
    }
}
