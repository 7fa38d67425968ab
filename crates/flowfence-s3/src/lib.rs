//! Flow log archives in S3: `s3://bucket/prefix` locations, layout-aware listing (the
//! window's accounts, regions and days become key prefixes), bounded concurrent fetches
//! with retries, and the manifest a resumable run keeps.

mod batch;
mod client;
pub mod listing;
mod location;

pub use batch::{BatchLimits, Fetched, ListingSummary, batches};
pub use client::{Archive, Connect, S3Error};
pub use flowfence_flowlog::time::{Day, civil_from_days, days_from_civil, parse_day};
pub use listing::{Lister, Listing, Object, list};
pub use location::{S3Uri, Window, days, today};
