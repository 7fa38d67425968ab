//! Reads AWS VPC flow logs in every form AWS delivers them, fast.
//!
//! - **Layouts**: from the header line of S3 text files, from the flow log's format string
//!   for header-less sources (CloudWatch Logs, Firehose), or the default v2 layout. Every
//!   documented field of versions 2-11 and of Transit Gateway flow logs is typed; unknown
//!   field names are kept as text.
//! - **Inputs**: plain text, gzip (multi-member too), Parquet as S3 delivers it,
//!   CloudWatch Logs JSON (subscription documents, `filter-log-events` output) and JSON
//!   lines with a `message`; files, directories and stdin.
//! - **Bad input** is never dropped silently: every rejected line is counted by reason,
//!   with the first examples located by file and line.
//! - **Speed**: the decoder parses tokens in place with no allocation per line; sources
//!   and blocks of large sources are decoded in parallel with rayon.
//!
//! Records reach the caller as borrowed [`Record`] views through a [`RecordSink`].
//!
//! ```
//! use std::sync::Arc;
//! use flowfence_flowlog::{decode_block, Layout, Record, Unit};
//!
//! let text = b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
//! 2 123456789010 eni-0a1b2c3d 10.0.1.5 10.0.2.9 49152 5432 6 10 840 1700000000 1700000060 ACCEPT OK
//! 2 123456789010 eni-0a1b2c3d 10.0.1.5 10.0.2.9 http 5432 6 10 840 1700000000 1700000060 ACCEPT OK
//! ";
//! let mut ports = Vec::new();
//! let outcome = decode_block(text, &Arc::new(Layout::default_v2()), Unit::Line, &mut |r: &Record<'_>| {
//!     ports.push(r.dstport());
//! });
//! assert_eq!(ports, [Some(5432)]);
//! assert_eq!(outcome.tally.total(), 1);
//! assert_eq!(outcome.tally.examples()[0].detail, "`http` is not a port (0-65535)");
//! ```

mod decode;
mod field;
mod inflate;
mod input;
mod json;
mod layout;
mod ocsf;
mod output;
mod parquet_input;
mod read;
mod record;
mod reject;
mod scan;
mod source;
mod summary;
pub mod time;
mod value;

pub use decode::{BlockOutcome, Counts, RecordSink, decode_block};
pub use field::{Field, Kind};
pub use input::InputFormat;
pub use layout::{Column, EXPORT_TIME, Layout, LayoutError};
pub use output::parquet::{ParquetRecordWriter, RecordBatchBuilder, arrow_schema};
pub use output::text::{CsvEncoder, NdjsonEncoder, write_ndjson};
pub use output::{RecordFormat, WriteError, Written, write_records};
pub use read::{Progress, ReadOptions, Reader, Report};
pub use record::Record;
pub use reject::{Location, Reason, Rejection, Tally, Unit};
pub use source::{DeliveryKey, Discovery, DiscoveryError, Skipped, Source, discover};
pub use summary::ReadSummary;
pub use value::{Action, FlowDirection, LogStatus, Value, ValueError};

/// Helpers shared by the unit tests.
#[cfg(test)]
mod test_util {
    /// `data` gzip-compressed (one member).
    pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
}
