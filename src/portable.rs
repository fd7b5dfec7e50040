//! Portable values: deep copies that own their bytes on the global heap, the only form in
//! which a value crosses from one strand to another (channels, join results).
//!
//! Every operation on a portable value (drop, clone, equality, `Debug`, serde, export,
//! import) runs in constant stack, however deep its variants nest: a variant's fields
//! are a [`PortableVariant`], whose hand-written `Drop` takes nested fields apart with a
//! work stack instead of recursing.

use crate::allocator::ValueAllocator;
use crate::error::{AllocError, Hazard};
use crate::stats::Counter;
use crate::strand::{alloc_failed, hazard, Strand};
use crate::tree::{self, Tree};
use crate::value::{Bytes, Str, Value};
use crate::variant::Variant;
use std::fmt;

/// A value that owns all its memory on the global heap: `Send`, `Sync` and `'static`.
///
/// Made by [`crate::Strand::export`] (a counted deep copy) and turned back into a strand's
/// value by [`crate::Strand::import`].
///
/// ```
/// use strand_alloc::{PortableValue, PortableVariant};
/// // A list a million cells deep: built, cloned, compared and dropped without recursion.
/// let mut list = PortableValue::Int(0);
/// for i in 1..1_000_000 {
///     list = PortableVariant::new(1, vec![PortableValue::Int(i), list]).into();
/// }
/// let copy = list.clone();
/// assert_eq!(copy, list);
/// ```
#[derive(Clone, PartialEq)]
pub enum PortableValue {
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string.
    Str(Box<str>),
    /// A byte string.
    Bytes(Box<[u8]>),
    /// A tagged tuple.
    Variant(PortableVariant),
}

/// A portable variant: a tag and its fields.
///
/// It has a `Drop` of its own (which takes deep nesting apart without recursion), so its
/// fields cannot be moved out by destructuring: use [`PortableVariant::into_fields`] or
/// `std::mem::take(&mut v.fields)`.
pub struct PortableVariant {
    /// The tag.
    pub tag: u32,
    /// The fields.
    pub fields: Vec<PortableValue>,
}

impl PortableVariant {
    /// A variant with this tag and these fields.
    pub fn new(tag: u32, fields: Vec<PortableValue>) -> Self {
        PortableVariant { tag, fields }
    }

    /// The fields, taken out of the variant.
    pub fn into_fields(mut self) -> Vec<PortableValue> {
        std::mem::take(&mut self.fields)
    }
}

impl From<PortableVariant> for PortableValue {
    fn from(v: PortableVariant) -> Self {
        PortableValue::Variant(v)
    }
}

impl Drop for PortableVariant {
    fn drop(&mut self) {
        let nested =
            |f: &PortableValue| matches!(f, PortableValue::Variant(v) if !v.fields.is_empty());
        if !self.fields.iter().any(nested) {
            return;
        }
        // Each nested variant's fields are taken out before it drops, so every drop
        // below finds empty fields and returns at once: the depth of the call stack
        // stays one, whatever the depth of the value.
        let mut pending = vec![std::mem::take(&mut self.fields)];
        while let Some(mut fields) = pending.pop() {
            for f in fields.iter_mut() {
                if let PortableValue::Variant(v) = f {
                    if !v.fields.is_empty() {
                        pending.push(std::mem::take(&mut v.fields));
                    }
                }
            }
            drop(fields);
        }
    }
}

impl Clone for PortableVariant {
    fn clone(&self) -> Self {
        struct Frame<'a> {
            tag: u32,
            src: &'a [PortableValue],
            out: Vec<PortableValue>,
        }
        fn frame(v: &PortableVariant) -> Frame<'_> {
            Frame {
                tag: v.tag,
                src: &v.fields,
                out: Vec::with_capacity(v.fields.len()),
            }
        }
        let mut open = vec![frame(self)];
        loop {
            let top = open.last_mut().expect("the root frame is open");
            if let Some((first, rest)) = top.src.split_first() {
                top.src = rest;
                match first {
                    PortableValue::Variant(v) => open.push(frame(v)),
                    leaf => top.out.push(leaf.clone_leaf()),
                }
                continue;
            }
            let done = open.pop().expect("the frame is open");
            let v = PortableVariant::new(done.tag, done.out);
            match open.last_mut() {
                Some(parent) => parent.out.push(PortableValue::Variant(v)),
                None => return v,
            }
        }
    }
}

impl PartialEq for PortableVariant {
    fn eq(&self, other: &Self) -> bool {
        self.tag == other.tag
            && self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .zip(&other.fields)
                .all(|(a, b)| tree::eq(a, b))
    }
}

impl fmt::Debug for PortableVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Variant#{}(", self.tag)?;
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            tree::debug(field, f)?;
        }
        f.write_str(")")
    }
}

impl Tree for PortableValue {
    fn variant(&self) -> Option<(u32, &[Self])> {
        match self {
            PortableValue::Variant(v) => Some((v.tag, &v.fields)),
            _ => None,
        }
    }

    fn fmt_leaf(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortableValue::Int(i) => write!(f, "Int({i})"),
            PortableValue::Float(x) => write!(f, "Float({x:?})"),
            PortableValue::Bool(b) => write!(f, "Bool({b})"),
            PortableValue::Str(s) => write!(f, "Str({s:?})"),
            PortableValue::Bytes(b) => write!(f, "Bytes({b:?})"),
            PortableValue::Variant(v) => write!(f, "Variant#{}(..)", v.tag),
        }
    }

    fn leaf_eq(&self, other: &Self) -> bool {
        match (self, other) {
            (PortableValue::Int(a), PortableValue::Int(b)) => a == b,
            (PortableValue::Float(a), PortableValue::Float(b)) => a == b,
            (PortableValue::Bool(a), PortableValue::Bool(b)) => a == b,
            (PortableValue::Str(a), PortableValue::Str(b)) => a == b,
            (PortableValue::Bytes(a), PortableValue::Bytes(b)) => a == b,
            _ => false,
        }
    }
}

/// Prints `Variant#TAG(field, ...)`, with variants nested deeper than
/// [`MAX_DEBUG_DEPTH`](crate::tree::MAX_DEBUG_DEPTH) elided as `Variant#TAG(..)`.
impl fmt::Debug for PortableValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tree::debug(self, f)
    }
}

impl PortableValue {
    /// A copy of a leaf (anything but a variant, which is copied by its own `clone`).
    fn clone_leaf(&self) -> PortableValue {
        match self {
            PortableValue::Int(i) => PortableValue::Int(*i),
            PortableValue::Float(x) => PortableValue::Float(*x),
            PortableValue::Bool(b) => PortableValue::Bool(*b),
            PortableValue::Str(s) => PortableValue::Str(s.clone()),
            PortableValue::Bytes(b) => PortableValue::Bytes(b.clone()),
            PortableValue::Variant(v) => PortableValue::Variant(v.clone()),
        }
    }

    /// Copies `v` and every value nested in it; returns the copy and the number of string
    /// and byte-string bytes copied.
    pub(crate) fn copy_of<A: ValueAllocator>(
        v: &Value<'_, A>,
    ) -> Result<(PortableValue, usize), Hazard> {
        let mut bytes = 0;
        let leaf = |v: &Value<'_, A>, bytes: &mut usize| -> Result<PortableValue, Hazard> {
            Ok(match v {
                Value::Int(i) => PortableValue::Int(*i),
                Value::Float(x) => PortableValue::Float(*x),
                Value::Bool(b) => PortableValue::Bool(*b),
                Value::Str(s) => {
                    let s = s.try_as_str()?;
                    *bytes += s.len();
                    PortableValue::Str(s.into())
                }
                Value::Bytes(b) => {
                    let b = b.try_as_slice()?;
                    *bytes += b.len();
                    PortableValue::Bytes(b.into())
                }
                Value::Variant(_) => unreachable!("variants are opened by the caller"),
            })
        };
        let Value::Variant(root) = v else {
            return Ok((leaf(v, &mut bytes)?, bytes));
        };
        struct Frame<'v, 's, A: ValueAllocator> {
            tag: u32,
            src: &'v [Value<'s, A>],
            out: Vec<PortableValue>,
        }
        let mut open = vec![Frame {
            tag: root.tag(),
            src: root.try_fields()?,
            out: Vec::with_capacity(root.len()),
        }];
        loop {
            let top = open.last_mut().expect("the root frame is open");
            if let Some((first, rest)) = top.src.split_first() {
                top.src = rest;
                match first {
                    Value::Variant(v) => open.push(Frame {
                        tag: v.tag(),
                        src: v.try_fields()?,
                        out: Vec::with_capacity(v.len()),
                    }),
                    other => top.out.push(leaf(other, &mut bytes)?),
                }
                continue;
            }
            let done = open.pop().expect("the frame is open");
            let p = PortableValue::Variant(PortableVariant::new(done.tag, done.out));
            match open.last_mut() {
                Some(parent) => parent.out.push(p),
                None => return Ok((p, bytes)),
            }
        }
    }

    /// The number of string and byte-string bytes in this value and its fields.
    pub fn byte_len(&self) -> usize {
        let mut total = 0;
        let mut pending = vec![std::slice::from_ref(self)];
        while let Some(values) = pending.pop() {
            for v in values {
                match v {
                    PortableValue::Str(s) => total += s.len(),
                    PortableValue::Bytes(b) => total += b.len(),
                    PortableValue::Variant(v) => pending.push(&v.fields),
                    _ => {}
                }
            }
        }
        total
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PortableValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The variant, if this is one.
    pub fn as_variant(&self) -> Option<&PortableVariant> {
        match self {
            PortableValue::Variant(v) => Some(v),
            _ => None,
        }
    }
}

impl From<&str> for PortableValue {
    fn from(s: &str) -> Self {
        PortableValue::Str(s.into())
    }
}

impl From<i64> for PortableValue {
    fn from(i: i64) -> Self {
        PortableValue::Int(i)
    }
}

/// serde support (feature `serde`). A portable value is written as a flat sequence of its nodes in
/// depth-first order, a variant as its tag and field count followed by its fields:
/// `[{"Variant":[7,2]},{"Str":"ada"},{"Int":3}]` for `Variant#7(Str("ada"), Int(3))`.
/// Both directions run in constant stack, so any depth (de)serialises.
#[cfg(feature = "serde")]
mod serde_impl {
    use super::{PortableValue, PortableVariant};
    use serde::de::{Error as _, SeqAccess, Visitor};
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    enum NodeRef<'a> {
        Int(i64),
        Float(f64),
        Bool(bool),
        Str(&'a str),
        Bytes(&'a [u8]),
        Variant(u32, usize),
    }

    #[derive(Deserialize)]
    enum Node {
        Int(i64),
        Float(f64),
        Bool(bool),
        Str(Box<str>),
        Bytes(Box<[u8]>),
        Variant(u32, usize),
    }

    fn node(v: &PortableValue) -> NodeRef<'_> {
        match v {
            PortableValue::Int(i) => NodeRef::Int(*i),
            PortableValue::Float(x) => NodeRef::Float(*x),
            PortableValue::Bool(b) => NodeRef::Bool(*b),
            PortableValue::Str(s) => NodeRef::Str(s),
            PortableValue::Bytes(b) => NodeRef::Bytes(b),
            PortableValue::Variant(v) => NodeRef::Variant(v.tag, v.fields.len()),
        }
    }

    impl Serialize for PortableValue {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut count = 0usize;
            let mut pending = vec![std::slice::from_ref(self)];
            while let Some(values) = pending.pop() {
                count += values.len();
                for v in values {
                    if let PortableValue::Variant(v) = v {
                        pending.push(&v.fields);
                    }
                }
            }
            let mut seq = serializer.serialize_seq(Some(count))?;
            // Depth first: a stack of the field lists still to write, each from its start.
            let mut open = vec![std::slice::from_ref(self)];
            while let Some(top) = open.last_mut() {
                let Some((first, rest)) = top.split_first() else {
                    open.pop();
                    continue;
                };
                *top = rest;
                seq.serialize_element(&node(first))?;
                if let PortableValue::Variant(v) = first {
                    open.push(&v.fields);
                }
            }
            seq.end()
        }
    }

    impl<'de> Deserialize<'de> for PortableValue {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Nodes;
            impl<'de> Visitor<'de> for Nodes {
                type Value = PortableValue;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a sequence of portable value nodes")
                }
                fn visit_seq<S: SeqAccess<'de>>(
                    self,
                    mut seq: S,
                ) -> Result<PortableValue, S::Error> {
                    // Open variants: tag, fields still expected, fields so far.
                    let mut open: Vec<(u32, usize, Vec<PortableValue>)> = Vec::new();
                    let mut root = None;
                    while let Some(n) = seq.next_element::<Node>()? {
                        if root.is_some() {
                            return Err(S::Error::custom("nodes after the end of the value"));
                        }
                        let mut done = match n {
                            Node::Int(i) => PortableValue::Int(i),
                            Node::Float(x) => PortableValue::Float(x),
                            Node::Bool(b) => PortableValue::Bool(b),
                            Node::Str(s) => PortableValue::Str(s),
                            Node::Bytes(b) => PortableValue::Bytes(b),
                            Node::Variant(tag, len) if len > 0 => {
                                // The length is a claim of the input, not yet read:
                                // nothing is reserved for it, so what this takes grows
                                // with the fields actually read.
                                open.push((tag, len, Vec::new()));
                                continue;
                            }
                            Node::Variant(tag, _) => PortableVariant::new(tag, Vec::new()).into(),
                        };
                        // Hand the finished value to its parent, closing every variant
                        // that it completes.
                        loop {
                            match open.last_mut() {
                                None => {
                                    root = Some(done);
                                    break;
                                }
                                Some((tag, len, fields)) => {
                                    fields.push(done);
                                    if fields.len() < *len {
                                        break;
                                    }
                                    let (tag, fields) = (*tag, std::mem::take(fields));
                                    open.pop();
                                    done = PortableVariant::new(tag, fields).into();
                                }
                            }
                        }
                    }
                    root.ok_or_else(|| S::Error::custom("the value's nodes end before it does"))
                }
            }
            deserializer.deserialize_seq(Nodes)
        }
    }
}

/// Copies out of a strand, and adoption into one.
impl<A: ValueAllocator> Strand<A> {
    /// A deep copy of `value` that owns its bytes on the global heap and can cross to
    /// another strand or thread. Counted as one copy of all its bytes.
    ///
    /// # Panics
    ///
    /// As [`Bytes::as_slice`]: only on a hazard, only with `checked`.
    pub fn export(&self, value: &Value<'_, A>) -> PortableValue {
        self.try_export(value).unwrap_or_else(|h| hazard(h))
    }

    /// Like [`Strand::export`], or the [`crate::Hazard`] that refused reading the value
    /// (always `Ok` without the `checked` feature).
    pub fn try_export(&self, value: &Value<'_, A>) -> Result<PortableValue, Hazard> {
        let (p, bytes) = PortableValue::copy_of(value)?;
        self.cx.count(Counter::Copies, 1);
        self.cx.count(Counter::CopiedBytes, bytes as u64);
        Ok(p)
    }

    /// Copies a value out of the strand into `out`, at a boundary (a response buffer, a
    /// file, a socket): every string and byte string in it, depth first and in order,
    /// with integers, floats and booleans written as text. Counted, in this strand's
    /// figures (the strand that copies, whichever strands the value's parts belong to),
    /// as one copy of the bytes `out` accepted (`copies`, `copied_bytes`), as an export
    /// is; returns that count. Runs in constant stack, however deep the value nests.
    ///
    /// Fails with the writer's error, or (with `checked`) an error of kind `Other`
    /// carrying the [`crate::Hazard`] that refused reading the value. Whatever `out`
    /// accepted before a failure, or before a panic in `out`, is counted all the same.
    ///
    /// ```
    /// # #[cfg(feature = "thread-arena")] {
    /// use strand_alloc::{ThreadArena, Strand, Value};
    /// let s = Strand::<ThreadArena>::local().unwrap();
    /// let body = s.variant(0, [s.str("{\"n\":").into(), Value::Int(42), s.str("}").into()]);
    /// let mut out = Vec::new();
    /// assert_eq!(s.write_out(&body.into(), &mut out).unwrap(), 8);
    /// assert_eq!(out, b"{\"n\":42}");
    /// assert_eq!((s.stats().copies, s.stats().copied_bytes), (1, 8));
    /// # }
    /// ```
    pub fn write_out<W: std::io::Write>(
        &self,
        value: &Value<'_, A>,
        out: &mut W,
    ) -> std::io::Result<u64> {
        let mut tally = Tally {
            out,
            cx: &self.cx,
            written: 0,
        };
        write_leaves(value, &mut tally)?;
        Ok(tally.written)
    }

    /// Turns a portable value into a value of this strand. String bytes are adopted
    /// as they are (they stay on the global heap and are freed when the value drops);
    /// variant field arrays are allocated by this strand's backend.
    pub fn try_import(&self, value: PortableValue) -> Result<Value<'_, A>, AllocError> {
        Value::try_from_portable(value, self)
    }

    /// Like [`Strand::try_import`].
    ///
    /// # Panics
    ///
    /// When the allocation is refused.
    pub fn import(&self, value: PortableValue) -> Value<'_, A> {
        self.try_import(value).unwrap_or_else(|e| alloc_failed(e))
    }
}

/// A writer that counts what it passes on, and records it as one copy in the strand's
/// figures when it goes (a failure or a panic in the writer included).
struct Tally<'a, W> {
    out: &'a mut W,
    cx: &'a crate::allocator::StrandCx,
    written: u64,
}

impl<W: std::io::Write> std::io::Write for Tally<'_, W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(b)?;
        // A writer that claims more than it was given is lying: nothing past `b` was
        // handed over, so nothing past it is counted, and the copy stops with an error
        // (std's `write_all` would panic on the claim).
        if n > b.len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "strand-alloc: the writer reported {n} bytes written out of {} given",
                    b.len()
                ),
            ));
        }
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl<W> Drop for Tally<'_, W> {
    fn drop(&mut self) {
        self.cx.count(Counter::Copies, 1);
        self.cx.count(Counter::CopiedBytes, self.written);
    }
}

/// Writes every leaf of `value`, depth first.
fn write_leaves<A: ValueAllocator>(
    value: &Value<'_, A>,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let hazard = std::io::Error::other;
    let mut put = |b: &[u8]| out.write_all(b);
    // Fields still to write, innermost variant last.
    let mut open: Vec<std::slice::Iter<'_, Value<'_, A>>> = Vec::new();
    let mut next = Some(value);
    loop {
        match next {
            Some(Value::Variant(v)) => open.push(v.try_fields().map_err(hazard)?.iter()),
            Some(Value::Str(s)) => put(s.try_as_str().map_err(hazard)?.as_bytes())?,
            Some(Value::Bytes(b)) => put(b.try_as_slice().map_err(hazard)?)?,
            Some(Value::Int(i)) => put(i.to_string().as_bytes())?,
            Some(Value::Float(x)) => put(x.to_string().as_bytes())?,
            Some(Value::Bool(b)) => put(if *b { b"true" } else { b"false" })?,
            None => {}
        }
        next = loop {
            let Some(top) = open.last_mut() else {
                return Ok(());
            };
            match top.next() {
                Some(v) => break Some(v),
                None => {
                    open.pop();
                }
            }
        };
    }
}

/// Comparison with, and adoption of, portable values.
impl<'s, A: ValueAllocator> Value<'s, A> {
    /// Whether this value has the same shape and contents as `p` (floats compared by
    /// their bits). Runs in constant stack, however deep the value nests.
    pub fn matches(&self, p: &PortableValue) -> bool {
        let mut pending: Vec<(&[Value<'s, A>], &[PortableValue])> = Vec::new();
        let mut pair = (std::slice::from_ref(self), std::slice::from_ref(p));
        loop {
            for (v, p) in pair.0.iter().zip(pair.1) {
                let same = match (v, p) {
                    (Value::Int(a), PortableValue::Int(b)) => a == b,
                    (Value::Float(a), PortableValue::Float(b)) => a.to_bits() == b.to_bits(),
                    (Value::Bool(a), PortableValue::Bool(b)) => a == b,
                    (Value::Str(a), PortableValue::Str(b)) => a.as_str() == &**b,
                    (Value::Bytes(a), PortableValue::Bytes(b)) => a.as_slice() == &**b,
                    (Value::Variant(a), PortableValue::Variant(b)) => {
                        if a.tag() != b.tag || a.len() != b.fields.len() {
                            return false;
                        }
                        pending.push((a.fields(), &b.fields));
                        true
                    }
                    _ => false,
                };
                if !same {
                    return false;
                }
            }
            match pending.pop() {
                Some(next) => pair = next,
                None => return true,
            }
        }
    }

    /// A leaf adopted from its portable form (strings keep their heap bytes).
    fn from_portable_leaf(p: PortableValue, strand: &'s Strand<A>) -> Self {
        match p {
            PortableValue::Int(i) => Value::Int(i),
            PortableValue::Float(x) => Value::Float(x),
            PortableValue::Bool(b) => Value::Bool(b),
            PortableValue::Str(s) => Value::Str(Str::from_heap(s, strand)),
            PortableValue::Bytes(b) => Value::Bytes(Bytes::from_heap(b, strand)),
            PortableValue::Variant(_) => unreachable!("variants are opened by the caller"),
        }
    }

    /// Turns a portable value into a value of `strand`, in constant stack: string bytes
    /// are adopted, each variant's field array is allocated by the strand.
    pub(crate) fn try_from_portable(
        p: PortableValue,
        strand: &'s Strand<A>,
    ) -> Result<Self, AllocError> {
        let PortableValue::Variant(root) = p else {
            return Ok(Self::from_portable_leaf(p, strand));
        };
        struct Frame<'s, A: ValueAllocator> {
            src: std::vec::IntoIter<PortableValue>,
            out: Variant<'s, A>,
        }
        let frame = |v: PortableVariant| -> Result<Frame<'s, A>, AllocError> {
            let tag = v.tag;
            let fields = v.into_fields();
            Ok(Frame {
                out: Variant::try_with_capacity(tag, fields.len(), strand)?,
                src: fields.into_iter(),
            })
        };
        let mut open = vec![frame(root)?];
        loop {
            let top = open.last_mut().expect("the root frame is open");
            match top.src.next() {
                Some(PortableValue::Variant(v)) => {
                    let f = frame(v)?;
                    open.push(f);
                }
                Some(leaf) => top.out.push(Self::from_portable_leaf(leaf, strand)),
                None => {
                    let done = open.pop().expect("the frame is open").out;
                    match open.last_mut() {
                        Some(parent) => parent.out.push(Value::Variant(done)),
                        None => return Ok(Value::Variant(done)),
                    }
                }
            }
        }
    }
}
