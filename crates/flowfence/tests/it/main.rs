//! End-to-end tests of the `flowfence` binary.

mod aggregate;
mod common;
mod conformance;
mod drift;
mod errors;
mod export;
mod export_task;
mod inventory;
mod ocsf;
mod parse;
mod propose;
mod s3;
mod s3_serve;
