//! Walks over nested values in constant stack: equality and `Debug` for [`crate::Value`]
//! and [`crate::PortableValue`].
//!
//! Values nest through variants, and a language runtime builds lists a million deep out
//! of them. A strand has 32 KiB of stack by default, so nothing that visits a value may
//! recurse once per level: every walk here keeps its own work stack on the heap.

use std::fmt;

/// How deep `Debug` prints nested variants; a variant deeper than this prints as
/// `Variant#TAG(..)`, so a very deep list prints its first levels only.
pub const MAX_DEBUG_DEPTH: usize = 256;

/// A value that is either a leaf or a variant with fields of its own type.
pub(crate) trait Tree: Sized {
    /// The tag and fields, if this is a variant.
    fn variant(&self) -> Option<(u32, &[Self])>;
    /// Formats a leaf (never called on a variant).
    fn fmt_leaf(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    /// Compares two leaves (never called on a variant).
    fn leaf_eq(&self, other: &Self) -> bool;
}

/// Deep equality: same shape, same tags, equal leaves.
pub(crate) fn eq<T: Tree>(a: &T, b: &T) -> bool {
    let mut pending: Vec<(&[T], &[T])> = Vec::new();
    let mut pair = (std::slice::from_ref(a), std::slice::from_ref(b));
    loop {
        for (x, y) in pair.0.iter().zip(pair.1) {
            match (x.variant(), y.variant()) {
                (Some((t1, f1)), Some((t2, f2))) => {
                    if t1 != t2 || f1.len() != f2.len() {
                        return false;
                    }
                    if !f1.is_empty() {
                        pending.push((f1, f2));
                    }
                }
                (None, None) => {
                    if !x.leaf_eq(y) {
                        return false;
                    }
                }
                _ => return false,
            }
        }
        match pending.pop() {
            Some(p) => pair = p,
            None => return true,
        }
    }
}

/// Formats `root` as `Variant#TAG(field, ...)` with leaves in their own form, eliding
/// variants nested deeper than [`MAX_DEBUG_DEPTH`].
pub(crate) fn debug<T: Tree>(root: &T, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let Some((tag, fields)) = root.variant() else {
        return root.fmt_leaf(f);
    };
    write!(f, "Variant#{tag}(")?;
    let mut open: Vec<(&[T], usize)> = vec![(fields, 0)];
    while let Some(top) = open.last_mut() {
        let (fields, i) = *top;
        if i == fields.len() {
            f.write_str(")")?;
            open.pop();
            continue;
        }
        top.1 += 1;
        if i > 0 {
            f.write_str(", ")?;
        }
        let node = &fields[i];
        match node.variant() {
            None => node.fmt_leaf(f)?,
            Some((tag, _)) if open.len() >= MAX_DEBUG_DEPTH => write!(f, "Variant#{tag}(..)")?,
            Some((tag, inner)) => {
                write!(f, "Variant#{tag}(")?;
                open.push((inner, 0));
            }
        }
    }
    Ok(())
}
