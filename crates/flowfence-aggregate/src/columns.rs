//! A small columnar table (text and integer columns) written as CSV or Parquet: the one
//! writer behind the connections table, the REJECT and coverage summaries and the
//! partial results, so they quote, type and compress alike.

use std::io::Write;
use std::net::Ipv6Addr;
use std::path::Path;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, FixedSizeBinaryArray, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow_schema::{Field, Schema, SchemaRef};
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

/// One column's values.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// UTF-8 text.
    Text(Vec<String>),
    /// Text from a small fixed vocabulary (a side, a kind, a basis): no allocation per row.
    Label(Vec<&'static str>),
    /// 32-bit integers (protocols, ports).
    Int32(Vec<i32>),
    /// 64-bit integers (counters, Unix seconds).
    Int64(Vec<i64>),
    /// IP addresses, IPv4 as its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`). Parquet:
    /// 16 bytes in network order (FIXED_LEN_BYTE_ARRAY), nothing to format or parse;
    /// CSV: the address as text, IPv4 dotted.
    Address(Vec<Ipv6Addr>),
    /// Text from a small set, as indices into `values`. Parquet: dictionary-encoded and
    /// typed as an Arrow dictionary, so a reader gets each distinct value once.
    Dictionary {
        /// An index into `values` per row.
        keys: Vec<i32>,
        /// The distinct values (more than the rows use is fine).
        values: StringArray,
    },
}

/// A text cell, quoted only when it holds a comma, quote or line break.
fn write_csv_text(s: &str, out: &mut String) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

impl Column {
    /// A text column, a value per item.
    pub fn text_of<T: Sync>(items: &[T], f: impl Fn(&T) -> String + Sync + Send) -> Column {
        Column::Text(Self::values(items, f))
    }

    /// A column of fixed-vocabulary text, a value per item.
    pub fn label_of<T: Sync>(items: &[T], f: impl Fn(&T) -> &'static str + Sync + Send) -> Column {
        Column::Label(Self::values(items, f))
    }

    /// A 32-bit integer column, a value per item.
    pub fn int32_of<T: Sync>(items: &[T], f: impl Fn(&T) -> i32 + Sync + Send) -> Column {
        Column::Int32(Self::values(items, f))
    }

    /// A counter or time column, a value per item: counts and Unix seconds are `u64`,
    /// stored as Parquet's signed 64-bit integers.
    pub fn int64_of<T: Sync>(items: &[T], f: impl Fn(&T) -> u64 + Sync + Send) -> Column {
        Column::Int64(Self::values(items, |x| f(x) as i64))
    }

    /// A value per item, computed in parallel: a table's columns are built one after
    /// another, each reading every item again (on the 377K-row connections table, 13
    /// passes that were 55 ms with only the text columns in parallel).
    fn values<T: Sync, V: Send>(items: &[T], f: impl Fn(&T) -> V + Sync + Send) -> Vec<V> {
        items.par_iter().map(f).collect()
    }

    fn len(&self) -> usize {
        match self {
            Column::Text(v) => v.len(),
            Column::Label(v) => v.len(),
            Column::Int32(v) => v.len(),
            Column::Int64(v) => v.len(),
            Column::Address(v) => v.len(),
            Column::Dictionary { keys, .. } => keys.len(),
        }
    }

    fn write_csv_cell(&self, row: usize, out: &mut String) {
        match self {
            Column::Text(v) => write_csv_text(&v[row], out),
            Column::Label(v) => write_csv_text(v[row], out),
            Column::Int32(v) => out.push_str(itoa::Buffer::new().format(v[row])),
            Column::Int64(v) => out.push_str(itoa::Buffer::new().format(v[row])),
            Column::Address(v) => {
                use std::fmt::Write;
                write!(out, "{}", v[row].to_canonical()).expect("writing to a String");
            }
            Column::Dictionary { keys, values } => {
                write_csv_text(values.value(keys[row] as usize), out)
            }
        }
    }

    fn to_arrow(&self) -> ArrayRef {
        match self {
            Column::Text(v) => Arc::new(StringArray::from_iter_values(v)),
            Column::Label(v) => Arc::new(StringArray::from_iter_values(v)),
            Column::Int32(v) => Arc::new(Int32Array::from(v.clone())),
            Column::Int64(v) => Arc::new(Int64Array::from(v.clone())),
            Column::Address(v) => {
                let mut bytes = Vec::with_capacity(v.len() * 16);
                for a in v {
                    bytes.extend_from_slice(&a.octets());
                }
                Arc::new(FixedSizeBinaryArray::new(16, bytes.into(), None))
            }
            Column::Dictionary { keys, values } => Arc::new(
                DictionaryArray::<Int32Type>::try_new(
                    Int32Array::from(keys.clone()),
                    Arc::new(values.clone()),
                )
                .expect("keys index the values"),
            ),
        }
    }
}

/// Named columns of equal length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    columns: Vec<(&'static str, Column)>,
    metadata: Vec<(String, String)>,
}

/// The output format of a table file, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// `*.csv`
    Csv,
    /// `*.parquet`
    Parquet,
}

impl FileFormat {
    /// The format a path's extension names, if any.
    pub fn of(path: &Path) -> Option<FileFormat> {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Some(FileFormat::Csv),
            Some(e) if e.eq_ignore_ascii_case("parquet") => Some(FileFormat::Parquet),
            _ => None,
        }
    }
}

impl Columns {
    /// Adds a column.
    pub fn push(&mut self, name: &'static str, column: Column) -> &mut Self {
        debug_assert!(
            self.columns
                .first()
                .is_none_or(|(_, c)| c.len() == column.len())
        );
        self.columns.push((name, column));
        self
    }

    /// Adds a key-value pair to the Parquet file's metadata (not written to CSV).
    pub fn meta(&mut self, key: &str, value: String) -> &mut Self {
        self.metadata.push((key.to_string(), value));
        self
    }

    /// The column names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|(n, _)| *n).collect()
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The table as CSV with a header line (text quoted only where it must be).
    pub fn to_csv(&self) -> String {
        let mut out = Vec::new();
        self.write_csv(&mut out)
            .expect("writing to a Vec does not fail");
        String::from_utf8(out).expect("CSV of strings is UTF-8")
    }

    /// Writes the table as CSV with a header line. Rows are formatted in parallel, a
    /// window at a time, so memory stays about two windows' worth above the table; a
    /// window is written while the next one is formatted.
    pub fn write_csv<W: Write + Send>(&self, mut out: W) -> std::io::Result<()> {
        /// Rows per formatting task, and tasks per window.
        const CHUNK: usize = 8192;
        const WINDOW: usize = 8 * CHUNK;
        out.write_all(self.names().join(",").as_bytes())?;
        out.write_all(b"\n")?;
        let rows = self.len();
        let format = |window: usize| -> Vec<String> {
            let end = (window + WINDOW).min(rows);
            (window..end)
                .into_par_iter()
                .step_by(CHUNK)
                .map(|first| self.csv_rows(first..(first + CHUNK).min(end)))
                .collect()
        };
        let mut written: Vec<String> = Vec::new();
        for window in (0..rows).step_by(WINDOW) {
            let (done, next) = rayon::join(
                || {
                    written
                        .iter()
                        .try_for_each(|chunk| out.write_all(chunk.as_bytes()))
                },
                || format(window),
            );
            done?;
            written = next;
        }
        for chunk in &written {
            out.write_all(chunk.as_bytes())?;
        }
        out.flush()
    }

    /// Some rows as CSV lines.
    fn csv_rows(&self, rows: std::ops::Range<usize>) -> String {
        let mut out = String::with_capacity(rows.len() * 128);
        for row in rows {
            for (i, (_, c)) in self.columns.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                c.write_csv_cell(row, &mut out);
            }
            out.push('\n');
        }
        out
    }

    /// The table as one Arrow batch (no nulls).
    pub fn to_record_batch(&self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self.columns.iter().map(|(_, c)| c.to_arrow()).collect();
        let fields: Vec<Field> = self
            .columns
            .iter()
            .zip(&arrays)
            .map(|((name, _), a)| Field::new(*name, a.data_type().clone(), false))
            .collect();
        let schema = Schema::new(fields).with_metadata(
            self.metadata
                .iter()
                .cloned()
                .collect::<std::collections::HashMap<_, _>>(),
        );
        RecordBatch::try_new(Arc::new(schema), arrays)
            .expect("columns of equal length match their fields")
    }

    /// The table as Parquet (Snappy), text as STRING, integers as INT_32/INT_64.
    pub fn write_parquet<W: Write + Send>(
        &self,
        out: W,
    ) -> Result<W, parquet::errors::ParquetError> {
        let mut writer = ParquetWriter::new(out);
        writer.write(self)?;
        writer.finish()
    }

    /// Writes the table to `path` as CSV or Parquet.
    ///
    /// The file appears whole or not at all: it is written beside the target and renamed
    /// over it (a resumable run rewrites its partial result after every batch).
    pub fn write_file(&self, path: &Path, format: FileFormat) -> std::io::Result<()> {
        write_atomically(path, |file| match format {
            FileFormat::Csv => self.write_csv(std::io::BufWriter::with_capacity(1 << 20, file)),
            FileFormat::Parquet => {
                let w = self
                    .write_parquet(std::io::BufWriter::new(file))
                    .map_err(std::io::Error::other)?;
                w.into_inner().map_err(|e| e.into_error())?.sync_all()
            }
        })
    }
}

/// Writes `path` through `write` (given the file), whole or not at all: into a file
/// beside it, renamed over it once written.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    write(std::fs::File::create(&tmp)?)?;
    std::fs::rename(&tmp, path)
}

/// A Parquet file (Snappy) written a chunk at a time: the chunks of one table, each with
/// the same columns and metadata, so a large table never sits in memory whole.
///
/// What `ArrowWriter` does, with a chunk's columns encoded in parallel (rayon), each
/// into its own column writer: `ArrowWriter` encodes one column after another on the
/// calling thread. Row groups span chunks up to the properties' maximum rows, as
/// there: a dictionary per 65,536-row chunk made a partial result a third larger.
pub(crate) struct ParquetWriter<W: Write + Send> {
    /// The output and properties, until the first chunk gives the schema.
    waiting: Option<(W, WriterProperties)>,
    open: Option<OpenFile<W>>,
}

/// A Parquet file being written.
struct OpenFile<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    max_rows: usize,
    /// The open row group's column writers, and its rows so far.
    group: Option<(Vec<ArrowColumnWriter>, usize)>,
}

/// What every Parquet file flowfence writes shares: Snappy compression.
pub(crate) fn parquet_properties() -> WriterPropertiesBuilder {
    WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY)
}

impl<W: Write + Send> ParquetWriter<W> {
    /// A writer into `out` with the defaults (page statistics, dictionaries where they
    /// pay, Snappy); the schema comes from the first chunk.
    pub(crate) fn new(out: W) -> Self {
        Self::with_properties(out, parquet_properties().build())
    }

    /// A writer into `out` with these properties.
    pub(crate) fn with_properties(out: W, properties: WriterProperties) -> Self {
        ParquetWriter {
            waiting: Some((out, properties)),
            open: None,
        }
    }

    /// Appends a chunk's rows.
    pub(crate) fn write(&mut self, chunk: &Columns) -> Result<(), parquet::errors::ParquetError> {
        let batch = chunk.to_record_batch();
        let open = match (&mut self.open, self.waiting.take()) {
            (Some(open), _) => open,
            (None, Some((out, properties))) => {
                self.open
                    .insert(OpenFile::new(out, properties, batch.schema())?)
            }
            (None, None) => unreachable!("the output is kept until the file is open"),
        };
        open.write(&batch)
    }

    /// Finishes the file and returns the output (at least one chunk must be written,
    /// even an empty one: it gives the schema).
    pub(crate) fn finish(self) -> Result<W, parquet::errors::ParquetError> {
        match self.open {
            Some(mut open) => {
                open.close_group()?;
                open.file.into_inner()
            }
            None => Err(parquet::errors::ParquetError::General(
                "no chunk written, so no schema".into(),
            )),
        }
    }
}

impl<W: Write + Send> OpenFile<W> {
    fn new(
        out: W,
        mut properties: WriterProperties,
        schema: SchemaRef,
    ) -> Result<Self, parquet::errors::ParquetError> {
        // As `ArrowWriter` does: the Arrow schema goes into the file's metadata, so
        // readers get the same types back (dictionaries included).
        let parquet_schema = ArrowSchemaConverter::new()
            .with_coerce_types(properties.coerce_types())
            .convert(&schema)?;
        add_encoded_arrow_schema_to_metadata(&schema, &mut properties);
        let max_rows = properties.max_row_group_row_count().unwrap_or(usize::MAX);
        let file =
            SerializedFileWriter::new(out, parquet_schema.root_schema_ptr(), Arc::new(properties))?;
        let factory = ArrowRowGroupWriterFactory::new(&file, Arc::clone(&schema));
        Ok(OpenFile {
            file,
            factory,
            schema,
            max_rows: max_rows.max(1),
            group: None,
        })
    }

    /// Encodes `batch` into the open row group (opening one as needed, closing each that
    /// fills up), its columns in parallel.
    fn write(&mut self, batch: &RecordBatch) -> Result<(), parquet::errors::ParquetError> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let (writers, rows) = match &mut self.group {
                Some(group) => group,
                None => {
                    let index = self.file.flushed_row_groups().len();
                    self.group
                        .insert((self.factory.create_column_writers(index)?, 0))
                }
            };
            let take = (self.max_rows - *rows).min(batch.num_rows() - offset);
            let slice = batch.slice(offset, take);
            let mut leaves = Vec::with_capacity(writers.len());
            for (field, column) in self.schema.fields().iter().zip(slice.columns()) {
                leaves.extend(compute_leaves(field, column)?);
            }
            writers
                .par_iter_mut()
                .zip(leaves)
                .try_for_each(|(writer, leaf)| writer.write(&leaf))?;
            *rows += take;
            offset += take;
            if *rows == self.max_rows {
                self.close_group()?;
            }
        }
        Ok(())
    }

    /// Closes the open row group, if any, its columns' last pages encoded in parallel.
    fn close_group(&mut self) -> Result<(), parquet::errors::ParquetError> {
        let Some((writers, _)) = self.group.take() else {
            return Ok(());
        };
        let chunks = writers
            .into_par_iter()
            .map(ArrowColumnWriter::close)
            .collect::<Result<Vec<_>, _>>()?;
        let mut group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of several formatting windows is written whole and in order.
    #[test]
    fn csv_of_many_windows_keeps_every_row_in_order() {
        let n = 200_003;
        let mut c = Columns::default();
        c.push("n", Column::Int64((0..n).collect()))
            .push("s", Column::Text((0..n).map(|i| format!("r{i}")).collect()));
        let csv = c.to_csv();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("n,s"));
        let mut count = 0;
        for (i, line) in lines.enumerate() {
            assert_eq!(line, format!("{i},r{i}"));
            count += 1;
        }
        assert_eq!(count, n);
    }

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let mut c = Columns::default();
        c.push(
            "name",
            Column::Text(vec!["plain".into(), "a,b".into(), "say \"hi\"".into()]),
        )
        .push("n", Column::Int64(vec![1, -2, 3]));
        assert_eq!(
            c.to_csv(),
            "name,n\nplain,1\n\"a,b\",-2\n\"say \"\"hi\"\"\",3\n"
        );
    }

    #[test]
    fn parquet_round_trips_types_and_metadata() {
        let mut c = Columns::default();
        c.push("p", Column::Int32(vec![6, 17]))
            .push("s", Column::Text(vec!["x".into(), "y".into()]))
            .meta("k", "v".into());
        let bytes = c.write_parquet(Vec::new()).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(bytes),
        )
        .unwrap();
        assert_eq!(
            reader.schema().metadata().get("k").map(String::as_str),
            Some("v")
        );
        let batches: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        assert_eq!(batches[0].num_rows(), 2);
        assert_eq!(
            batches[0].schema().field(0).data_type(),
            &arrow_schema::DataType::Int32
        );
    }

    fn addresses_and_ids() -> Columns {
        let mut c = Columns::default();
        c.push(
            "addr",
            Column::Address(vec![
                "::ffff:10.0.0.1".parse().unwrap(),
                "2600:1f18::9".parse().unwrap(),
                "::ffff:10.0.0.2".parse().unwrap(),
            ]),
        )
        .push(
            "id",
            Column::Dictionary {
                keys: vec![1, 0, 1],
                values: StringArray::from(vec!["eni-a", "eni,b", "unused"]),
            },
        );
        c
    }

    /// Addresses read as text in CSV (IPv4 dotted); a dictionary column as its values.
    #[test]
    fn csv_spells_addresses_and_dictionary_values() {
        assert_eq!(
            addresses_and_ids().to_csv(),
            "addr,id\n10.0.0.1,\"eni,b\"\n2600:1f18::9,eni-a\n10.0.0.2,\"eni,b\"\n"
        );
    }

    /// Chunks fill row groups up to the maximum rows, across chunk boundaries, and come
    /// back in order with their types: 16-byte addresses and an Arrow dictionary.
    #[test]
    fn parquet_row_groups_span_chunks_and_keep_types() {
        let properties = parquet_properties()
            .set_max_row_group_row_count(Some(4))
            .build();
        let mut writer = ParquetWriter::with_properties(Vec::new(), properties);
        for _ in 0..3 {
            writer.write(&addresses_and_ids()).unwrap();
        }
        let bytes = bytes::Bytes::from(writer.finish().unwrap());
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let groups: Vec<i64> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, [4, 4, 1]);
        let batches: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        let schema = batches[0].schema();
        assert_eq!(
            schema.field(0).data_type(),
            &arrow_schema::DataType::FixedSizeBinary(16)
        );
        assert_eq!(
            schema.field(1).data_type(),
            &arrow_schema::DataType::Dictionary(
                Box::new(arrow_schema::DataType::Int32),
                Box::new(arrow_schema::DataType::Utf8)
            )
        );
        let mut rows = Vec::new();
        for batch in &batches {
            let addr = batch
                .column(0)
                .as_any()
                .downcast_ref::<FixedSizeBinaryArray>()
                .unwrap();
            let id = batch
                .column(1)
                .as_any()
                .downcast_ref::<DictionaryArray<Int32Type>>()
                .unwrap();
            let values = id.values().as_any().downcast_ref::<StringArray>().unwrap();
            for row in 0..batch.num_rows() {
                let octets: [u8; 16] = addr.value(row).try_into().unwrap();
                let key = id.keys().value(row) as usize;
                rows.push(format!("{} {}", Ipv6Addr::from(octets), values.value(key)));
            }
        }
        let one = [
            "::ffff:10.0.0.1 eni,b",
            "2600:1f18::9 eni-a",
            "::ffff:10.0.0.2 eni,b",
        ];
        assert_eq!(rows, one.repeat(3));
    }
}
