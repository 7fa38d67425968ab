//! Records written as Parquet in AWS's delivery schema: Arrow `RecordBatch`es built a
//! record at a time (records of several layouts mapped onto one output layout), and the
//! Parquet writer around them.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field as ArrowField, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::basic::{Compression, GzipLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use crate::decode::RecordSink;
use crate::field::Kind;
use crate::layout::Layout;
use crate::output::text::ColumnMapper;
use crate::record::Record;
use crate::value::Value;

/// The Arrow type AWS's Parquet delivery uses for a column of this kind: INT_32 for the
/// small integers, INT_64 for counters and times, STRING for everything else.
fn arrow_type(kind: Kind) -> DataType {
    match kind {
        Kind::Int32 | Kind::Port | Kind::Protocol => DataType::Int32,
        Kind::Int64 => DataType::Int64,
        _ => DataType::Utf8,
    }
}

/// The Arrow schema of a layout as AWS delivers it in Parquet: one nullable column per
/// field, named with `_` for `-` (`tcp_flags`).
pub fn arrow_schema(layout: &Layout) -> SchemaRef {
    let fields: Vec<ArrowField> = layout
        .columns()
        .iter()
        .map(|c| ArrowField::new(c.name().replace('-', "_"), arrow_type(c.kind()), true))
        .collect();
    Arc::new(Schema::new(fields))
}

enum ColumnBuilder {
    Int32(Int32Builder),
    Int64(Int64Builder),
    Text(StringBuilder),
}

/// Builds Arrow `RecordBatch`es from records, in the schema of a fixed output layout.
/// Records of other layouts are mapped onto it by field name; a missing field is null.
pub struct RecordBatchBuilder {
    mapper: ColumnMapper,
    schema: SchemaRef,
    builders: Vec<ColumnBuilder>,
    rows: usize,
    scratch: String,
    dropped: u64,
}

impl RecordBatchBuilder {
    /// A builder for batches with `layout`'s columns.
    pub fn new(layout: Arc<Layout>) -> RecordBatchBuilder {
        let schema = arrow_schema(&layout);
        let builders = layout
            .columns()
            .iter()
            .map(|c| new_builder(c.kind()))
            .collect();
        RecordBatchBuilder {
            mapper: ColumnMapper::new(layout),
            schema,
            builders,
            rows: 0,
            scratch: String::new(),
            dropped: 0,
        }
    }

    /// The output schema.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Rows appended since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no rows are pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Records not appended because they had a column the output layout lacks.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Appends one record. A record with a column the output layout has no place for is
    /// not appended (its data would be lost) and counted in [`dropped`](Self::dropped).
    pub fn push(&mut self, record: &Record<'_>) {
        let Some(values) = self.mapper.map(record) else {
            self.dropped += 1;
            return;
        };
        for (builder, value) in self.builders.iter_mut().zip(values) {
            append(builder, value, &mut self.scratch);
        }
        self.rows += 1;
    }

    /// Takes the rows appended so far as a batch.
    pub fn finish(&mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    ColumnBuilder::Int32(b) => Arc::new(b.finish()),
                    ColumnBuilder::Int64(b) => Arc::new(b.finish()),
                    ColumnBuilder::Text(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        RecordBatch::try_new(Arc::clone(&self.schema), columns).expect("builders follow the schema")
    }
}

impl RecordSink for RecordBatchBuilder {
    fn record(&mut self, record: &Record<'_>) {
        self.push(record);
    }
}

fn new_builder(kind: Kind) -> ColumnBuilder {
    match arrow_type(kind) {
        DataType::Int32 => ColumnBuilder::Int32(Int32Builder::new()),
        DataType::Int64 => ColumnBuilder::Int64(Int64Builder::new()),
        _ => ColumnBuilder::Text(StringBuilder::new()),
    }
}

fn append(builder: &mut ColumnBuilder, value: Value<'_>, scratch: &mut String) {
    match (builder, value) {
        (ColumnBuilder::Int32(b), Value::Int(n)) => b.append_value(n as i32),
        (ColumnBuilder::Int64(b), Value::Int(n)) => b.append_value(n as i64),
        (ColumnBuilder::Int32(b), _) => b.append_null(),
        (ColumnBuilder::Int64(b), _) => b.append_null(),
        (ColumnBuilder::Text(b), value) => {
            scratch.clear();
            match value {
                Value::Null => return b.append_null(),
                Value::Text(s) => return b.append_value(s),
                Value::Int(n) => write!(scratch, "{n}"),
                Value::Addr(a) => write!(scratch, "{a}"),
                Value::Action(a) => scratch.write_str(a.as_str()),
                Value::LogStatus(s) => scratch.write_str(s.as_str()),
                Value::Direction(d) => scratch.write_str(d.as_str()),
            }
            .expect("writing to a String cannot fail");
            b.append_value(&*scratch);
        }
    }
}

/// Writes records to a Parquet file in AWS's delivery schema (GZIP compressed, as AWS
/// writes it), so the file reads back through the parser.
pub struct ParquetRecordWriter<W: Write + Send> {
    builder: RecordBatchBuilder,
    writer: ArrowWriter<W>,
    error: Option<ParquetError>,
}

/// Rows per Parquet write; bounds the memory a writer holds.
const ROWS_PER_BATCH: usize = 64 * 1024;

impl<W: Write + Send> ParquetRecordWriter<W> {
    /// A writer for records of (or mapped onto) `layout`.
    pub fn new(out: W, layout: Arc<Layout>) -> Result<ParquetRecordWriter<W>, ParquetError> {
        let builder = RecordBatchBuilder::new(layout);
        let props = WriterProperties::builder()
            .set_compression(Compression::GZIP(GzipLevel::default()))
            .build();
        // No embedded Arrow schema: the file looks like AWS's, plain Parquet types.
        let options = ArrowWriterOptions::new()
            .with_properties(props)
            .with_skip_arrow_metadata(true);
        let writer = ArrowWriter::try_new_with_options(out, builder.schema(), options)?;
        Ok(ParquetRecordWriter {
            builder,
            writer,
            error: None,
        })
    }

    /// Appends a record; the write happens in batches.
    pub fn push(&mut self, record: &Record<'_>) {
        self.builder.push(record);
        if self.builder.len() >= ROWS_PER_BATCH {
            self.flush_batch();
        }
    }

    fn flush_batch(&mut self) {
        if self.builder.is_empty() || self.error.is_some() {
            return;
        }
        let batch = self.builder.finish();
        if let Err(e) = self.writer.write(&batch) {
            self.error = Some(e);
        }
    }

    /// Writes a batch built elsewhere (by a [`RecordBatchBuilder`] of the same layout,
    /// for instance one per block decoded in parallel).
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        self.flush_batch();
        match self.error.take() {
            Some(e) => Err(e),
            None => self.writer.write(batch),
        }
    }

    /// Records not written because they had a column the output layout lacks.
    pub fn dropped(&self) -> u64 {
        self.builder.dropped()
    }

    /// Writes what is pending and the file footer.
    pub fn finish(mut self) -> Result<W, ParquetError> {
        self.flush_batch();
        if let Some(e) = self.error {
            return Err(e);
        }
        self.writer.into_inner()
    }
}

impl<W: Write + Send> RecordSink for ParquetRecordWriter<W> {
    fn record(&mut self, record: &Record<'_>) {
        self.push(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_block;
    use crate::reject::Unit;
    use parquet::basic::{ConvertedType, Type as PhysicalType};
    use parquet::file::reader::{FileReader, SerializedFileReader};

    #[test]
    fn parquet_output_has_the_aws_delivery_schema() {
        let layout = Arc::new(
            Layout::parse_format("version interface-id srcaddr dstport packets start action tcp-flags flow-direction")
                .unwrap(),
        );
        let mut buf = Vec::new();
        let mut writer = ParquetRecordWriter::new(&mut buf, Arc::clone(&layout)).unwrap();
        let text = "5 eni-1 10.0.0.1 443 12 1700000000 ACCEPT 19 ingress\n5 eni-2 - - - 1700000000 - - -\n";
        decode_block(text.as_bytes(), &layout, Unit::Line, &mut |r: &Record<
            '_,
        >| {
            writer.push(r)
        });
        writer.finish().unwrap();

        let file = SerializedFileReader::new(bytes::Bytes::from(buf)).unwrap();
        let meta = file.metadata();
        assert_eq!(meta.file_metadata().num_rows(), 2);
        let schema = meta.file_metadata().schema_descr();
        let columns: Vec<(String, PhysicalType, ConvertedType)> = schema
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.physical_type(), c.converted_type()))
            .collect();
        use ConvertedType::{NONE, UTF8};
        use PhysicalType::{BYTE_ARRAY, INT32, INT64};
        assert_eq!(
            columns,
            [
                ("version".into(), INT32, NONE),
                ("interface_id".into(), BYTE_ARRAY, UTF8),
                ("srcaddr".into(), BYTE_ARRAY, UTF8),
                ("dstport".into(), INT32, NONE),
                ("packets".into(), INT64, NONE),
                ("start".into(), INT64, NONE),
                ("action".into(), BYTE_ARRAY, UTF8),
                ("tcp_flags".into(), INT32, NONE),
                ("flow_direction".into(), BYTE_ARRAY, UTF8),
            ]
        );
        let compression = meta.row_group(0).column(0).compression();
        assert!(
            matches!(compression, Compression::GZIP(_)),
            "{compression:?}"
        );
        // No embedded Arrow schema: the file is shaped like AWS's.
        let kv = meta.file_metadata().key_value_metadata();
        assert!(kv.is_none_or(|kv| kv.iter().all(|e| e.key != "ARROW:schema")));
    }
}
