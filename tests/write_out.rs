//! `Strand::write_out`: a value copied out at a boundary, counted as one copy of exactly
//! the bytes the writer accepted, a failing or panicking writer included. Runs under
//! Miri (no May).

mod common;
use std::io::Write;
use strand_alloc::{Config, Strand, Value, ValueAllocator};

/// Accepts at most `chunk` bytes per call, and fails (or panics) once it holds `limit`.
struct Stingy {
    got: Vec<u8>,
    chunk: usize,
    limit: usize,
    panics: bool,
}

impl Write for Stingy {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.got.len() >= self.limit {
            if self.panics {
                panic!("the writer gives up");
            }
            return Err(std::io::Error::other("full"));
        }
        let n = b.len().min(self.chunk).min(self.limit - self.got.len());
        self.got.extend_from_slice(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn counts<A: ValueAllocator>() {
    let s = Strand::<A>::local_with(Config::default()).unwrap();
    let v: Value<'_, A> = s
        .variant(
            0,
            [
                s.str("abcde").into(),
                Value::Int(-12),
                s.bytes(b"xyz").into(),
                Value::Bool(false),
                s.variant(1, [Value::Float(0.5), s.str("").into()]).into(),
            ],
        )
        .into();
    let mut all = Vec::new();
    assert_eq!(s.write_out(&v, &mut all).unwrap(), 19);
    assert_eq!(all, b"abcde-12xyzfalse0.5");
    let f = s.stats();
    assert_eq!((f.copies, f.copied_bytes), (1, 19));
    assert_ne!(f.copied_bytes, 0, "a copy that wrote something counts it");

    // Fails in the middle of a leaf: the part accepted is counted.
    let mut w = Stingy {
        got: Vec::new(),
        chunk: 3,
        limit: 8,
        panics: false,
    };
    assert!(s.write_out(&v, &mut w).is_err());
    assert_eq!(w.got, b"abcde-12");
    let f = s.stats();
    assert_eq!((f.copies, f.copied_bytes), (2, 19 + 8));

    // Panics: counted all the same.
    let mut w = Stingy {
        got: Vec::new(),
        chunk: 3,
        limit: 5,
        panics: true,
    };
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.write_out(&v, &mut w)));
    assert!(caught.is_err());
    let f = s.stats();
    assert_eq!((f.copies, f.copied_bytes), (3, 19 + 8 + 5));
}

#[test]
fn a_copy_out_counts_what_the_writer_accepted() {
    for_each_backend!(counts);
}

/// Claims to take more than it was given.
struct Liar;

impl Write for Liar {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        Ok(b.len() + 1_000)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lying_writer<A: ValueAllocator>() {
    let s = Strand::<A>::local_with(Config::default()).unwrap();
    let v: Value<'_, A> = s.str("sixteen bytes!!!").into();
    let before = s.stats();
    // An error, not a panic in `write_all`, and nothing counted past what was handed over.
    let e = s.write_out(&v, &mut Liar).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    assert!(
        e.to_string().contains("1016 bytes written out of 16"),
        "{e}"
    );
    let after = s.stats();
    assert_eq!(after.copies, before.copies + 1);
    assert_eq!(after.copied_bytes, before.copied_bytes, "{}", A::NAME);
}

#[test]
fn a_writer_that_claims_too_much_is_an_error() {
    for_each_backend!(lying_writer);
}
