//! Arrow and Parquet: records as Arrow `RecordBatch`es in AWS's delivery schema, Parquet
//! written in that schema, and Parquet flow logs read back into records.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field as ArrowField, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::basic::{Compression, GzipLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use crate::decode::{Counts, RecordSink};
use crate::field::Kind;
use crate::input::ParquetInput;
use crate::layout::{Column, Layout, LayoutError};
use crate::record::Record;
use crate::reject::{Location, Reason, Rejection, Tally, Unit};
use crate::value::Value;
use crate::write::ColumnMapper;

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

/// A Parquet file that is not a flow log.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ParquetReadError {
    #[error(transparent)]
    Parquet(#[from] ParquetError),
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    #[error("column names do not make a layout: {0}")]
    Layout(#[from] LayoutError),
    #[error("the file is corrupt (the Parquet reader failed: {0})")]
    Panicked(String),
    #[error("column `{name}` has type {data_type}, which no flow log field has")]
    ColumnType { name: String, data_type: DataType },
}

/// The layout a Parquet schema declares: column names with `_` read as `-`.
pub(crate) fn layout_of_schema(schema: &Schema) -> Result<Layout, LayoutError> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            let name = f.name().replace('_', "-");
            match crate::field::Field::from_name(&name) {
                Some(field) => Column::Known(field),
                None => Column::Unknown(name.into()),
            }
        })
        .collect();
    Layout::from_columns(columns)
}

/// Reads the layout of a Parquet source without reading its rows.
pub(crate) fn probe_parquet(input: ParquetInput) -> Result<Layout, ParquetReadError> {
    std::panic::catch_unwind(|| probe_schema(input))
        .unwrap_or_else(|panic| Err(ParquetReadError::Panicked(panic_message(&*panic))))
}

fn probe_schema(input: ParquetInput) -> Result<Layout, ParquetReadError> {
    let schema = match input {
        ParquetInput::File(f) => ParquetRecordBatchReaderBuilder::try_new(f)?
            .schema()
            .clone(),
        ParquetInput::Bytes(b) => ParquetRecordBatchReaderBuilder::try_new(b)?
            .schema()
            .clone(),
    };
    Ok(layout_of_schema(&schema)?)
}

/// Reads every row of a Parquet flow log into `sink`. Values are checked exactly as text
/// tokens are: a string `srcaddr` must be an address, an integer port at most 65535.
pub(crate) fn read_parquet(
    input: ParquetInput,
    sink: &mut impl RecordSink,
    counts: &mut Counts,
    tally: &mut Tally,
) -> Result<(), ParquetReadError> {
    // The parquet crate still panics on some corrupt files (apache/arrow-rs#9705 and
    // kin) where it should return an error; a damaged object must not end the run.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_any(input, sink, counts, tally)
    }));
    read.unwrap_or_else(|panic| Err(ParquetReadError::Panicked(panic_message(&*panic))))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

fn read_any(
    input: ParquetInput,
    sink: &mut impl RecordSink,
    counts: &mut Counts,
    tally: &mut Tally,
) -> Result<(), ParquetReadError> {
    match input {
        ParquetInput::File(f) => read_batches(
            ParquetRecordBatchReaderBuilder::try_new(f)?,
            sink,
            counts,
            tally,
        ),
        ParquetInput::Bytes(b) => read_batches(
            ParquetRecordBatchReaderBuilder::try_new(b)?,
            sink,
            counts,
            tally,
        ),
    }
}

fn read_batches<T: parquet::file::reader::ChunkReader + 'static>(
    builder: ParquetRecordBatchReaderBuilder<T>,
    sink: &mut impl RecordSink,
    counts: &mut Counts,
    tally: &mut Tally,
) -> Result<(), ParquetReadError> {
    let layout = Arc::new(layout_of_schema(builder.schema())?);
    let reader = builder.with_batch_size(8192).build()?;
    let mut row_no: u64 = 0;
    for batch in reader {
        let batch = batch?;
        // Values borrow from the batch, so the buffer lives per batch (not per row).
        let mut values: Vec<Value<'_>> = Vec::with_capacity(layout.len());
        let columns: Vec<ColumnAccess<'_>> = batch
            .columns()
            .iter()
            .zip(batch.schema().fields())
            .map(|(array, field)| ColumnAccess::new(array.as_ref(), field.name()))
            .collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            row_no += 1;
            counts.lines += 1;
            values.clear();
            let mut failed = None;
            for (i, (col, kind)) in columns.iter().zip(layout.kinds()).enumerate() {
                match col.value(row, *kind) {
                    Ok(v) => values.push(v),
                    Err((reason, detail)) => {
                        failed = Some((i, reason, detail));
                        break;
                    }
                }
            }
            match failed {
                None => {
                    let record = Record::new(&layout, &values);
                    counts.count_record(&record);
                    sink.record(&record);
                }
                Some((i, reason, detail)) => tally.add(Rejection {
                    location: Location {
                        source: 0,
                        position: row_no,
                        unit: Unit::Row,
                    },
                    reason,
                    field: Some(layout.columns()[i].name().to_string()),
                    detail,
                }),
            }
        }
    }
    Ok(())
}

/// Typed access to one Arrow column of a batch.
enum ColumnAccess<'a> {
    Str(&'a dyn Array, StrArray<'a>),
    Int(&'a dyn Array, IntArray<'a>),
    /// Dictionary-encoded strings: keys resolved up front.
    Dict(&'a dyn Array, Vec<usize>, StrArray<'a>),
}

enum StrArray<'a> {
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
}

impl<'a> StrArray<'a> {
    fn new(array: &'a dyn Array) -> Option<StrArray<'a>> {
        Some(match array.data_type() {
            DataType::Utf8 => StrArray::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 => StrArray::Large(array.as_string::<i64>()),
            DataType::Utf8View => StrArray::View(array.as_string_view()),
            _ => return None,
        })
    }

    fn get(&self, i: usize) -> &'a str {
        match self {
            StrArray::Utf8(a) => a.value(i),
            StrArray::Large(a) => a.value(i),
            StrArray::View(a) => a.value(i),
        }
    }
}

enum IntArray<'a> {
    I8(&'a arrow_array::Int8Array),
    I16(&'a arrow_array::Int16Array),
    I32(&'a arrow_array::Int32Array),
    I64(&'a arrow_array::Int64Array),
    U8(&'a arrow_array::UInt8Array),
    U16(&'a arrow_array::UInt16Array),
    U32(&'a arrow_array::UInt32Array),
    U64(&'a arrow_array::UInt64Array),
}

impl IntArray<'_> {
    fn get(&self, i: usize) -> i128 {
        match self {
            IntArray::I8(a) => a.value(i).into(),
            IntArray::I16(a) => a.value(i).into(),
            IntArray::I32(a) => a.value(i).into(),
            IntArray::I64(a) => a.value(i).into(),
            IntArray::U8(a) => a.value(i).into(),
            IntArray::U16(a) => a.value(i).into(),
            IntArray::U32(a) => a.value(i).into(),
            IntArray::U64(a) => a.value(i).into(),
        }
    }
}

impl<'a> ColumnAccess<'a> {
    fn new(array: &'a dyn Array, name: &str) -> Result<ColumnAccess<'a>, ParquetReadError> {
        let unsupported = || ParquetReadError::ColumnType {
            name: name.to_string(),
            data_type: array.data_type().clone(),
        };
        if let Some(s) = StrArray::new(array) {
            return Ok(ColumnAccess::Str(array, s));
        }
        if let Some(dict) = array.as_any_dictionary_opt() {
            let values = StrArray::new(dict.values().as_ref()).ok_or_else(unsupported)?;
            return Ok(ColumnAccess::Dict(array, dict.normalized_keys(), values));
        }
        let ints = match array.data_type() {
            DataType::Int8 => IntArray::I8(array.as_primitive::<Int8Type>()),
            DataType::Int16 => IntArray::I16(array.as_primitive::<Int16Type>()),
            DataType::Int32 => IntArray::I32(array.as_primitive::<Int32Type>()),
            DataType::Int64 => IntArray::I64(array.as_primitive::<Int64Type>()),
            DataType::UInt8 => IntArray::U8(array.as_primitive::<UInt8Type>()),
            DataType::UInt16 => IntArray::U16(array.as_primitive::<UInt16Type>()),
            DataType::UInt32 => IntArray::U32(array.as_primitive::<UInt32Type>()),
            DataType::UInt64 => IntArray::U64(array.as_primitive::<UInt64Type>()),
            _ => return Err(unsupported()),
        };
        Ok(ColumnAccess::Int(array, ints))
    }

    fn array(&self) -> &'a dyn Array {
        match self {
            ColumnAccess::Str(a, _) | ColumnAccess::Int(a, _) | ColumnAccess::Dict(a, _, _) => *a,
        }
    }

    /// The value at `row` for a column of `kind`, or why it is not one.
    fn value(&self, row: usize, kind: Kind) -> Result<Value<'a>, (Reason, String)> {
        if self.array().is_null(row) {
            return Ok(Value::Null);
        }
        let text = match self {
            ColumnAccess::Str(_, s) => s.get(row),
            ColumnAccess::Dict(_, keys, s) => s.get(keys[row]),
            ColumnAccess::Int(_, ints) => {
                let n = ints.get(row);
                // A numeric column for a text field is an unknown, newer field: keep it.
                if !(kind.is_integer() || kind == Kind::Text) {
                    return Err((
                        Reason::BadEnum,
                        format!("`{n}` is not {}", kind.expectation()),
                    ));
                }
                if n < 0 || n as u128 > u128::from(kind.max_int()) {
                    return Err((
                        Reason::OutOfRange,
                        format!("`{n}` is not {}", kind.expectation()),
                    ));
                }
                return Ok(Value::Int(n as u64));
            }
        };
        Value::parse(kind, text).map_err(|e| {
            (
                Reason::from(e),
                format!("`{text}` is not {}", kind.expectation()),
            )
        })
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
