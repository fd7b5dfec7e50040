//! The shared backend checks (`tests/common/shared.rs`) on every backend compiled in.

mod common;
use common::*;

#[test]
fn every_backend_values_and_exact_figures() {
    for_each_backend!(values_and_exact_figures);
}

#[cfg(not(miri))]
#[test]
fn every_backend_strands_move_and_report() {
    for_each_backend!(strands_move_and_report);
}

#[cfg(not(miri))]
#[test]
fn every_backend_deep_values() {
    for_each_backend!(deep_values);
}
