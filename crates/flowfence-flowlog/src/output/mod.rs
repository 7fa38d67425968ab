//! Writing records: NDJSON and CSV ([`text`]), and Parquet in AWS's delivery schema
//! ([`parquet`]), each a [`RecordSink`](crate::RecordSink) that maps records of
//! several layouts onto one output layout; [`write_records`] runs a reader into one of
//! them, in input order.

pub(crate) mod parquet;
pub(crate) mod text;

use std::io::Write;
use std::ops::ControlFlow;
use std::sync::Arc;

use crate::layout::Layout;
use crate::read::{Reader, Report};
use parquet::{ParquetRecordWriter, RecordBatchBuilder};
use text::{CsvEncoder, NdjsonEncoder};

/// What records are written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordFormat {
    /// One JSON object per record (AWS field names as keys, `null` for `-`).
    Ndjson,
    /// A header of field names, then a row per record.
    Csv,
    /// Parquet in AWS's delivery schema.
    Parquet,
    /// Nothing: read and count only.
    None,
}

impl RecordFormat {
    fn name(self) -> &'static str {
        match self {
            RecordFormat::Ndjson => "NDJSON",
            RecordFormat::Csv => "CSV",
            RecordFormat::Parquet => "Parquet",
            RecordFormat::None => "nothing",
        }
    }
}

/// What a run read and wrote.
#[derive(Debug)]
pub struct Written {
    /// What the reader reported.
    pub report: Report,
    /// Records read but not written: a column the output layout lacks (CSV, Parquet).
    pub not_written: u64,
}

/// Records that could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The output failed (a closed pipe among others).
    #[error("writing {format}")]
    Io {
        /// What was being written.
        format: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The Parquet writer failed.
    #[error("writing Parquet")]
    Parquet(#[source] ::parquet::errors::ParquetError),
}

/// Reads every source of `reader` and writes its records to `out` as `format`, in input
/// order (decoding and encoding run in parallel). CSV and Parquet have one layout for
/// all sources: the union of their layouts, in order, probed first.
pub fn write_records(
    reader: &Reader,
    format: RecordFormat,
    out: &mut (dyn Write + Send),
) -> Result<Written, WriteError> {
    let mut error: Option<WriteError> = None;
    let io = |source| WriteError::Io {
        format: format.name(),
        source,
    };
    let mut keep = |r: Result<(), WriteError>| match r {
        Ok(()) => ControlFlow::Continue(()),
        Err(e) => {
            error = Some(e);
            ControlFlow::Break(())
        }
    };
    let mut not_written = 0;
    let report = match format {
        RecordFormat::None => reader.fold(|| (), |(), ()| ()).1,
        RecordFormat::Ndjson => reader.for_each_ordered(NdjsonEncoder::new, |part| {
            keep(out.write_all(part.output()).map_err(io))
        }),
        RecordFormat::Csv => {
            let layout = Arc::new(union_layout(reader));
            let header = CsvEncoder::new(Arc::clone(&layout)).header();
            out.write_all(header.as_bytes()).map_err(io)?;
            reader.for_each_ordered(
                || CsvEncoder::new(Arc::clone(&layout)),
                |part| {
                    not_written += part.dropped();
                    keep(out.write_all(part.output()).map_err(io))
                },
            )
        }
        RecordFormat::Parquet => {
            let layout = Arc::new(union_layout(reader));
            let mut writer = ParquetRecordWriter::new(&mut *out, Arc::clone(&layout))
                .map_err(WriteError::Parquet)?;
            let report = reader.for_each_ordered(
                || RecordBatchBuilder::new(Arc::clone(&layout)),
                |mut part| {
                    not_written += part.dropped();
                    if part.is_empty() {
                        return ControlFlow::Continue(());
                    }
                    keep(
                        writer
                            .write_batch(&part.finish())
                            .map_err(WriteError::Parquet),
                    )
                },
            );
            if error.is_none() {
                writer.finish().map_err(WriteError::Parquet)?;
            }
            report
        }
    };
    match error {
        Some(e) => Err(e),
        None => Ok(Written {
            report,
            not_written,
        }),
    }
}

/// The union of the sources' layouts, in order (the default v2 layout if they share
/// none).
fn union_layout(reader: &Reader) -> Layout {
    let layouts = reader.probe_layouts();
    Layout::union(layouts.iter().map(|l| &**l)).unwrap_or_else(Layout::default_v2)
}
