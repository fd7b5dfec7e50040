//! Portable values: deep copies that own their bytes on the global heap, the only form in
//! which a value crosses from one strand to another (channels, join results).

use crate::allocator::ValueAllocator;
use crate::error::Hazard;
use crate::value::Value;

/// A value that owns all its memory on the global heap: `Send`, `Sync` and `'static`.
///
/// Made by [`crate::Strand::export`] (a counted deep copy) and turned back into a strand's
/// value by [`crate::Strand::import`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    Variant {
        /// The tag.
        tag: u32,
        /// The fields.
        fields: Box<[PortableValue]>,
    },
}

impl PortableValue {
    /// Copies `v` and every value nested in it; returns the copy and the number of string
    /// and byte-string bytes copied.
    pub(crate) fn copy_of<A: ValueAllocator>(
        v: &Value<'_, A>,
    ) -> Result<(PortableValue, usize), Hazard> {
        let mut bytes = 0;
        let p = Self::copy_counting(v, &mut bytes)?;
        Ok((p, bytes))
    }

    fn copy_counting<A: ValueAllocator>(
        v: &Value<'_, A>,
        bytes: &mut usize,
    ) -> Result<PortableValue, Hazard> {
        Ok(match v {
            Value::Int(i) => PortableValue::Int(*i),
            Value::Float(x) => PortableValue::Float(*x),
            Value::Bool(b) => PortableValue::Bool(*b),
            Value::Str(s) => {
                *bytes += s.len();
                PortableValue::Str(s.try_as_str()?.into())
            }
            Value::Bytes(b) => {
                *bytes += b.len();
                PortableValue::Bytes(b.try_as_slice()?.into())
            }
            Value::Variant(var) => PortableValue::Variant {
                tag: var.tag(),
                fields: var
                    .try_fields()?
                    .iter()
                    .map(|f| Self::copy_counting(f, bytes))
                    .collect::<Result<_, _>>()?,
            },
        })
    }

    /// The number of string and byte-string bytes in this value and its fields.
    pub fn byte_len(&self) -> usize {
        match self {
            PortableValue::Str(s) => s.len(),
            PortableValue::Bytes(b) => b.len(),
            PortableValue::Variant { fields, .. } => fields.iter().map(Self::byte_len).sum(),
            _ => 0,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PortableValue::Str(s) => Some(s),
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
