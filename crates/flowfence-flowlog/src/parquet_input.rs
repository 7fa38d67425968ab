//! Parquet flow logs read back into records: the layout a file's schema declares, and
//! its row batches decoded column by column with the same rejection accounting as text.

use std::sync::Arc;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_schema::{ArrowError, DataType, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::errors::ParquetError;

use crate::decode::{Counts, RecordSink};
use crate::field::Kind;
use crate::input::ParquetInput;
use crate::layout::{Column, Layout, LayoutError};
use crate::record::Record;
use crate::reject::{Location, Reason, Rejection, Tally, Unit};
use crate::value::Value;

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
    #[error(
        "not OCSF Network Activity (no class_uid, src_endpoint, dst_endpoint and connection_info columns)"
    )]
    NotOcsf,
}

/// The layout a Parquet schema declares: column names with `_` read as `-`; an OCSF
/// (Security Lake) schema is read as the flow log fields it maps back onto.
pub(crate) fn layout_of_schema(schema: &Schema) -> Result<Layout, LayoutError> {
    if crate::ocsf::is_ocsf(schema) {
        return Ok(crate::ocsf::layout());
    }
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
    require_ocsf: bool,
    sink: &mut impl RecordSink,
    counts: &mut Counts,
    tally: &mut Tally,
) -> Result<(), ParquetReadError> {
    // The parquet crate still panics on some corrupt files (apache/arrow-rs#9705 and
    // kin) where it should return an error; a damaged object must not end the run.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_any(input, require_ocsf, sink, counts, tally)
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
    require_ocsf: bool,
    sink: &mut impl RecordSink,
    counts: &mut Counts,
    tally: &mut Tally,
) -> Result<(), ParquetReadError> {
    match input {
        ParquetInput::File(f) => read_batches(
            ParquetRecordBatchReaderBuilder::try_new(f)?,
            require_ocsf,
            sink,
            counts,
            tally,
        ),
        ParquetInput::Bytes(b) => read_batches(
            ParquetRecordBatchReaderBuilder::try_new(b)?,
            require_ocsf,
            sink,
            counts,
            tally,
        ),
    }
}

fn read_batches<T: parquet::file::reader::ChunkReader + 'static>(
    builder: ParquetRecordBatchReaderBuilder<T>,
    require_ocsf: bool,
    sink: &mut impl RecordSink,
    counts: &mut Counts,
    tally: &mut Tally,
) -> Result<(), ParquetReadError> {
    let ocsf = crate::ocsf::is_ocsf(builder.schema());
    if require_ocsf && !ocsf {
        return Err(ParquetReadError::NotOcsf);
    }
    let layout = Arc::new(layout_of_schema(builder.schema())?);
    let reader = builder.with_batch_size(8192).build()?;
    let mut row_no: u64 = 0;
    for batch in reader {
        let batch = batch?;
        if ocsf {
            crate::ocsf::read_batch(&batch, &layout, sink, counts, tally, &mut row_no);
            continue;
        }
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
            let cells = columns
                .iter()
                .zip(layout.kinds())
                .map(|(col, kind)| col.value(row, *kind));
            take_row(&layout, &mut values, cells, row_no, sink, counts, tally);
        }
    }
    Ok(())
}

/// One row of cells (in `layout`'s order) into `sink` as a record, or into `tally` as
/// the rejection of its first bad cell. `values` is a buffer reused across rows.
pub(crate) fn take_row<'v>(
    layout: &Layout,
    values: &mut Vec<Value<'v>>,
    cells: impl Iterator<Item = Result<Value<'v>, (Reason, String)>>,
    row_no: u64,
    sink: &mut impl RecordSink,
    counts: &mut Counts,
    tally: &mut Tally,
) {
    counts.lines += 1;
    values.clear();
    for (i, cell) in cells.enumerate() {
        match cell {
            Ok(v) => values.push(v),
            Err((reason, detail)) => {
                tally.add(Rejection {
                    location: Location {
                        source: 0,
                        position: row_no,
                        unit: Unit::Row,
                    },
                    reason,
                    field: Some(layout.columns()[i].name().to_string()),
                    detail,
                });
                return;
            }
        }
    }
    let record = Record::new(layout, values);
    counts.count_record(&record);
    sink.record(&record);
}

/// Typed access to one Arrow column of a batch.
enum ColumnAccess<'a> {
    Str(&'a dyn Array, StrArray<'a>),
    Int(&'a dyn Array, IntArray<'a>),
    /// Dictionary-encoded strings: keys resolved up front.
    Dict(&'a dyn Array, Vec<usize>, StrArray<'a>),
    /// Floating point, as pandas writes integer columns with gaps (AWS's own sample
    /// inputs do): NaN is no value, a whole number an integer, anything else rejected.
    Float(&'a dyn Array, &'a arrow_array::Float64Array),
}

pub(crate) enum StrArray<'a> {
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
}

impl<'a> StrArray<'a> {
    pub(crate) fn new(array: &'a dyn Array) -> Option<StrArray<'a>> {
        Some(match array.data_type() {
            DataType::Utf8 => StrArray::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 => StrArray::Large(array.as_string::<i64>()),
            DataType::Utf8View => StrArray::View(array.as_string_view()),
            _ => return None,
        })
    }

    pub(crate) fn get(&self, i: usize) -> &'a str {
        match self {
            StrArray::Utf8(a) => a.value(i),
            StrArray::Large(a) => a.value(i),
            StrArray::View(a) => a.value(i),
        }
    }
}

pub(crate) enum IntArray<'a> {
    I8(&'a arrow_array::Int8Array),
    I16(&'a arrow_array::Int16Array),
    I32(&'a arrow_array::Int32Array),
    I64(&'a arrow_array::Int64Array),
    U8(&'a arrow_array::UInt8Array),
    U16(&'a arrow_array::UInt16Array),
    U32(&'a arrow_array::UInt32Array),
    U64(&'a arrow_array::UInt64Array),
}

impl<'a> IntArray<'a> {
    /// Any integer array.
    pub(crate) fn new(array: &'a dyn Array) -> Option<IntArray<'a>> {
        Some(match array.data_type() {
            DataType::Int8 => IntArray::I8(array.as_primitive::<Int8Type>()),
            DataType::Int16 => IntArray::I16(array.as_primitive::<Int16Type>()),
            DataType::Int32 => IntArray::I32(array.as_primitive::<Int32Type>()),
            DataType::Int64 => IntArray::I64(array.as_primitive::<Int64Type>()),
            DataType::UInt8 => IntArray::U8(array.as_primitive::<UInt8Type>()),
            DataType::UInt16 => IntArray::U16(array.as_primitive::<UInt16Type>()),
            DataType::UInt32 => IntArray::U32(array.as_primitive::<UInt32Type>()),
            DataType::UInt64 => IntArray::U64(array.as_primitive::<UInt64Type>()),
            _ => return None,
        })
    }

    pub(crate) fn get(&self, i: usize) -> i128 {
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
        if array.data_type() == &DataType::Float64 {
            return Ok(ColumnAccess::Float(array, array.as_primitive()));
        }
        let ints = IntArray::new(array).ok_or_else(unsupported)?;
        Ok(ColumnAccess::Int(array, ints))
    }

    fn array(&self) -> &'a dyn Array {
        match self {
            ColumnAccess::Str(a, _)
            | ColumnAccess::Int(a, _)
            | ColumnAccess::Dict(a, _, _)
            | ColumnAccess::Float(a, _) => *a,
        }
    }

    /// The value at `row` for a column of `kind`, or why it is not one.
    fn value(&self, row: usize, kind: Kind) -> Result<Value<'a>, (Reason, String)> {
        if self.array().is_null(row) {
            return Ok(Value::Null);
        }
        let text = match self {
            ColumnAccess::Float(_, f) => {
                let x = f.value(row);
                if x.is_nan() {
                    return Ok(Value::Null);
                }
                if x.fract() != 0.0 || !kind.is_integer() || x < 0.0 || x > kind.max_int() as f64 {
                    return Err((
                        Reason::BadEnum,
                        format!("`{x}` is not {}", kind.expectation()),
                    ));
                }
                return Ok(Value::Int(x as u64));
            }
            ColumnAccess::Str(_, s) => s.get(row),
            ColumnAccess::Dict(_, keys, s) => s.get(keys[row]),
            ColumnAccess::Int(_, ints) => return int_cell(ints.get(row), kind),
        };
        text_cell(text, kind)
    }
}

/// An integer cell for a field of `kind`, range-checked as a text token is.
pub(crate) fn int_cell<'v>(n: i128, kind: Kind) -> Result<Value<'v>, (Reason, String)> {
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
    Ok(Value::Int(n as u64))
}

/// A text cell for a field of `kind`, parsed as a text token is.
pub(crate) fn text_cell(text: &str, kind: Kind) -> Result<Value<'_>, (Reason, String)> {
    Value::parse(kind, text).map_err(|e| {
        (
            Reason::from(e),
            format!("`{text}` is not {}", kind.expectation()),
        )
    })
}
