//! Writing records: NDJSON and CSV ([`text`]), and Parquet in AWS's delivery schema
//! ([`parquet`]), each a [`RecordSink`](crate::RecordSink) that maps records of
//! several layouts onto one output layout.

pub(crate) mod parquet;
pub(crate) mod text;
