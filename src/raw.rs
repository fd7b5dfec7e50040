//! Raw handles: a value as plain data, for a runtime's own value stack or for FFI.
//!
//! A compiled runtime keeps its values as words on its own stack, not as Rust borrows.
//! [`Value::into_raw`] turns a value into a [`RawValue`]: `Copy`, `'static`, `Send`,
//! holding the value's pointer, length, ticket (and, with `checked`, its arena stamp),
//! and the identity of the strand it belongs to. The value stays allocated and counted
//! as used until the handle is turned back into a value ([`RawValue::into_value`]) and
//! that value is dropped.
//!
//! Every access through a handle is validated before anything is read:
//!
//! | refused (counted as a hazard of the strand presented; `into_raw` gives the value back) | on | cost |
//! |---|---|---|
//! | presented to a strand other than its own, or its strand has moved in memory | every build | two compares |
//! | its strand was reset ([`Strand::reset`]) after the handle was made | every build | one compare |
//! | the value holds (in a variant) a value of another strand | every build: `into_raw` refuses it | one compare per field when the variant is built |
//! | its arena generation was reset or freed (the seed policy's hazards) | `checked` | one table read |
//!
//! What is **not** detected, and is the caller's duty (`view` and `into_value` are
//! `unsafe` for it): **a handle is dead once its value has been taken back** by
//! `into_value` through it or through any copy of it. Only a handle made later (by
//! `into_raw` of the value taken back) may be used after that: a runtime that takes a
//! value off its stack, uses it and gives it up again must drop every older copy. On
//! the arena backends the bytes of a released value stay where they were until their
//! generation resets, and a reset is caught with `checked`; but a second release
//! corrupts the arena's count of live values, and on global-malloc the memory is freed
//! at once. Catching that would take a record per live value (a table slot each, taken
//! and given back on every allocation), which the library does not pay.
//!
//! ```
//! use strand_alloc::{DefaultBackend, RawValue, Strand, Value};
//! let s = Strand::<DefaultBackend>::local().unwrap();
//! // A runtime's own stack of plain words.
//! let mut stack: Vec<RawValue<DefaultBackend>> = Vec::new();
//! stack.push(Value::from(s.str("hello")).into_raw().unwrap());
//! stack.push(RawValue::from(42));
//! let n = stack.pop().unwrap().as_int();
//! let top = stack.pop().unwrap();
//! // SAFETY: `top` was made from a live value of `s` and is taken back exactly once.
//! let v = unsafe { top.into_value(&s) }.unwrap();
//! assert_eq!((v.as_str(), n), (Some("hello"), Some(42)));
//! ```

use crate::allocator::{Ticket, ValueAllocator};
use crate::error::RawError;
use crate::stats::Counter;
use crate::strand::Strand;
use crate::value::{Bytes, Origin, Str, Value};
use crate::variant::Variant;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;

/// What a raw handle holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    /// An integer (no strand needed to read it).
    Int,
    /// A float (no strand needed to read it).
    Float,
    /// A boolean (no strand needed to read it).
    Bool,
    /// A UTF-8 string.
    Str,
    /// A byte string.
    Bytes,
    /// A variant.
    Variant,
}

#[derive(Clone, Copy)]
enum Repr {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(NonNull<u8>, usize, Origin),
    Bytes(NonNull<u8>, usize, Origin),
    Variant((u32, u32, u32, Ticket, NonNull<u8>)),
}

/// The strand a value belongs to: its id, its address, and its reset count when the
/// handle was made.
#[derive(Clone, Copy, Debug)]
struct Owner {
    id: u64,
    addr: usize,
    resets: u64,
}

/// A value as plain data: see the [module documentation](self).
pub struct RawValue<A: ValueAllocator> {
    repr: Repr,
    /// `None` for a scalar, which belongs to no strand.
    owner: Option<Owner>,
    _backend: PhantomData<fn() -> A>,
}

impl<A: ValueAllocator> Clone for RawValue<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: ValueAllocator> Copy for RawValue<A> {}

// SAFETY: a handle is plain data. Its pointer is followed only by `view` and
// `into_value`, which first check that the strand presented is the value's own (by id
// and address), so a handle that reaches another thread or strand can be used only
// where its value lives.
unsafe impl<A: ValueAllocator> Send for RawValue<A> {}
// SAFETY: as for `Send`; `&RawValue` gives nothing but copies of the data.
unsafe impl<A: ValueAllocator> Sync for RawValue<A> {}

impl<A: ValueAllocator> fmt::Debug for RawValue<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.repr {
            Repr::Int(i) => write!(f, "RawValue::Int({i})"),
            Repr::Float(x) => write!(f, "RawValue::Float({x:?})"),
            Repr::Bool(b) => write!(f, "RawValue::Bool({b})"),
            _ => write!(
                f,
                "RawValue::{:?}(strand {})",
                self.kind(),
                self.owner.map_or(0, |o| o.id)
            ),
        }
    }
}

impl<A: ValueAllocator> From<i64> for RawValue<A> {
    fn from(i: i64) -> Self {
        Self::scalar(Repr::Int(i))
    }
}

impl<A: ValueAllocator> From<f64> for RawValue<A> {
    fn from(x: f64) -> Self {
        Self::scalar(Repr::Float(x))
    }
}

impl<A: ValueAllocator> From<bool> for RawValue<A> {
    fn from(b: bool) -> Self {
        Self::scalar(Repr::Bool(b))
    }
}

impl<'s, A: ValueAllocator> Value<'s, A> {
    /// Gives the value up as a [`RawValue`]: its memory stays allocated (and counted as
    /// used) until the handle is taken back with [`RawValue::into_value`] and that value
    /// drops, or the strand resets or ends. Dropping the handle instead leaks the value
    /// until then, which is safe.
    ///
    /// Gives the value back unchanged when it is a variant holding, at any depth, a
    /// value of another strand: a handle is checked against one strand only, and the
    /// other could end while the handle lives. (Copy such a value into one strand
    /// first, with [`crate::Strand::export`] and `import`.)
    ///
    /// ```
    /// use strand_alloc::{DefaultBackend, Strand, Value};
    /// let (a, b) = (Strand::<DefaultBackend>::local().unwrap(), Strand::<DefaultBackend>::local().unwrap());
    /// let mixed = Value::from(a.variant(0, [b.str("of b").into()]));
    /// let back = mixed.into_raw().unwrap_err();
    /// let own = a.import(a.export(&back));
    /// assert!(own.into_raw().is_ok());
    /// ```
    pub fn into_raw(self) -> Result<RawValue<A>, Self> {
        let (repr, strand) = match self {
            Value::Int(i) => return Ok(RawValue::from(i)),
            Value::Float(x) => return Ok(RawValue::from(x)),
            Value::Bool(b) => return Ok(RawValue::from(b)),
            Value::Variant(v) if v.holds_foreign() => return Err(Value::Variant(v)),
            Value::Str(s) => {
                let strand = s.as_bytes().strand();
                let (p, n, o) = s.into_bytes().into_parts();
                (Repr::Str(p, n, o), strand)
            }
            Value::Bytes(b) => {
                let strand = b.strand();
                let (p, n, o) = b.into_parts();
                (Repr::Bytes(p, n, o), strand)
            }
            Value::Variant(v) => {
                let strand = v.strand();
                (Repr::Variant(v.into_parts()), strand)
            }
        };
        Ok(RawValue {
            repr,
            owner: Some(Owner {
                id: strand.id(),
                addr: strand as *const Strand<A> as usize,
                resets: strand.resets,
            }),
            _backend: PhantomData,
        })
    }
}

impl<A: ValueAllocator> RawValue<A> {
    fn scalar(repr: Repr) -> Self {
        RawValue {
            repr,
            owner: None,
            _backend: PhantomData,
        }
    }

    /// What the handle holds.
    pub fn kind(&self) -> RawKind {
        match self.repr {
            Repr::Int(_) => RawKind::Int,
            Repr::Float(_) => RawKind::Float,
            Repr::Bool(_) => RawKind::Bool,
            Repr::Str(..) => RawKind::Str,
            Repr::Bytes(..) => RawKind::Bytes,
            Repr::Variant(_) => RawKind::Variant,
        }
    }

    /// The integer, if the handle holds one (no strand needed).
    pub fn as_int(&self) -> Option<i64> {
        match self.repr {
            Repr::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The float, if the handle holds one (no strand needed).
    pub fn as_float(&self) -> Option<f64> {
        match self.repr {
            Repr::Float(x) => Some(x),
            _ => None,
        }
    }

    /// The boolean, if the handle holds one (no strand needed).
    pub fn as_bool(&self) -> Option<bool> {
        match self.repr {
            Repr::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The id of the strand the value belongs to (`None` for a scalar).
    pub fn strand_id(&self) -> Option<u64> {
        self.owner.map(|o| o.id)
    }

    /// Checks that the handle may be used with `strand`: it is the value's own strand, at
    /// the address it had, not reset since; with `checked`, the value's arena generation
    /// is still the one it was allocated in. A refusal is counted as a hazard of
    /// `strand`. A scalar passes with any strand.
    ///
    /// This reads nothing the handle points to, so it is safe to call with any handle.
    pub fn check(&self, strand: &Strand<A>) -> Result<(), RawError> {
        let Some(owner) = self.owner else {
            return Ok(());
        };
        let refused = |e: RawError| {
            strand.cx.count(Counter::Hazards, 1);
            Err(e)
        };
        if owner.id != strand.id() || owner.addr != strand as *const Strand<A> as usize {
            return refused(RawError::WrongStrand {
                owner: owner.id,
                given: strand.id(),
            });
        }
        if owner.resets != strand.resets {
            return refused(RawError::StrandReset {
                strand: owner.id,
                made_at: owner.resets,
                now: strand.resets,
            });
        }
        let ticket = match self.repr {
            Repr::Str(_, _, Origin::Backend(t)) | Repr::Bytes(_, _, Origin::Backend(t)) => t,
            Repr::Variant((.., t, _)) => t,
            _ => return Ok(()),
        };
        // `Strand::checked` counts its own refusal.
        Ok(strand.checked(ticket)?)
    }

    /// A view of the value, borrowing `strand`, after [`RawValue::check`]. The view is a
    /// [`Value`] that is never dropped: dropping it releases nothing.
    ///
    /// # Safety
    ///
    /// The handle is alive: neither it nor any copy of it has gone through
    /// [`RawValue::into_value`], and none will while the view is in use. (What `check`
    /// validates is not the caller's duty.)
    ///
    /// For a variant, also: the strand has not been moved or mutably borrowed since
    /// [`Value::into_raw`], even if it is back at the same address (which `check` cannot
    /// tell apart from never having moved): the variant's fields keep the references to
    /// the strand they were made with. A strand of [`Strand::with_current`] is never moved
    /// or mutably borrowed while its coroutine runs, so there this holds by construction;
    /// an owned strand that a handle outlives belongs in a place it never leaves (a `Box`).
    pub unsafe fn view<'s>(&self, strand: &'s Strand<A>) -> Result<RawRef<'s, A>, RawError> {
        self.check(strand)?;
        // SAFETY: `check` proved `strand` is the value's own, unmoved and not reset, so
        // the parts name memory of `strand` that only a release could have freed, which
        // the caller rules out; the view is never dropped, so it releases nothing.
        Ok(RawRef(ManuallyDrop::new(unsafe { self.rebuild(strand) })))
    }

    /// Takes the value back, after [`RawValue::check`]: dropping the result releases
    /// it. On a refusal nothing is released.
    ///
    /// # Safety
    ///
    /// The handle is alive: neither it nor any copy of it has gone through
    /// `into_value` before. After this call every copy is dead (a handle of the value
    /// taken back is made anew with [`Value::into_raw`]).
    ///
    /// For a variant, also: the strand has not been moved or mutably borrowed since
    /// [`Value::into_raw`], even if it is back at the same address (which `check` cannot
    /// tell apart from never having moved): the variant's fields keep the references to
    /// the strand they were made with. A strand of [`Strand::with_current`] is never moved
    /// or mutably borrowed while its coroutine runs, so there this holds by construction;
    /// an owned strand that a handle outlives belongs in a place it never leaves (a `Box`).
    pub unsafe fn into_value(self, strand: &Strand<A>) -> Result<Value<'_, A>, RawError> {
        self.check(strand)?;
        // SAFETY: as in `view`; the caller guarantees this is the only owner taken back.
        Ok(unsafe { self.rebuild(strand) })
    }

    /// The value the parts describe.
    ///
    /// # Safety
    ///
    /// `check(strand)` passed and the value has not been released.
    unsafe fn rebuild<'s>(&self, strand: &'s Strand<A>) -> Value<'s, A> {
        // SAFETY (for each `from_parts`): forwarded from this function's contract; the
        // parts came from `into_parts` of a value of `strand`.
        unsafe {
            match self.repr {
                Repr::Int(i) => Value::Int(i),
                Repr::Float(x) => Value::Float(x),
                Repr::Bool(b) => Value::Bool(b),
                Repr::Str(p, n, o) => {
                    Value::Str(Str::from_utf8_bytes(Bytes::from_parts(p, n, o, strand)))
                }
                Repr::Bytes(p, n, o) => Value::Bytes(Bytes::from_parts(p, n, o, strand)),
                Repr::Variant(parts) => Value::Variant(Variant::from_parts(parts, strand)),
            }
        }
    }
}

/// A borrowed view of a raw handle's value ([`RawValue::view`]): reads like a
/// [`Value`], and releases nothing when it goes.
pub struct RawRef<'s, A: ValueAllocator>(ManuallyDrop<Value<'s, A>>);

impl<'s, A: ValueAllocator> Deref for RawRef<'s, A> {
    type Target = Value<'s, A>;
    fn deref(&self) -> &Value<'s, A> {
        &self.0
    }
}

impl<A: ValueAllocator> fmt::Debug for RawRef<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}
