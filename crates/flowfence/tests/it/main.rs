//! End-to-end tests of the `flowfence` binary.

mod common;
mod conformance;
mod parse;
