//! A backend added from one file, outside the library: `tests/support/rounded.rs`,
//! declared by the one `mod` line below. The shared backend checks run on it unchanged,
//! and its figures come out exact although it counts nothing but its reservations.
//! Compiled only for this test, so no feature set and no comparison sees it.

mod common;
#[path = "support/rounded.rs"]
mod rounded;

use common::*;
use rounded::{rounded, Rounded};
use std::alloc::Layout;
use strand_alloc::{Strand, ValueAllocator};

#[test]
fn the_shared_checks_pass() {
    values_and_exact_figures::<Rounded>();
}

#[cfg(not(miri))]
#[test]
fn the_shared_strand_checks_pass() {
    strands_move_and_report::<Rounded>();
    deep_values::<Rounded>();
}

#[test]
fn reserved_bytes_are_what_the_backend_reports() {
    let s = Strand::<Rounded>::local().unwrap();
    let a = s.str("x");
    let b = s.str(&"y".repeat(100));
    let f = s.stats();
    let r = |n| rounded(Layout::array::<u8>(n).unwrap()).size() as i64;
    assert_eq!((f.used, f.reserved), (101, r(1) + r(100)));
    drop((a, b));
    assert_eq!((s.stats().used, s.stats().reserved), (0, 0));
    drop(s);
    let snap = strand_alloc::stats::<Rounded>();
    assert_eq!(snap.backend, Rounded::NAME);
    assert!(snap.totals.allocs >= 2);
}
