//! Parquet output: Snappy, the Arrow schema in the file's metadata, a chunk's columns
//! encoded in parallel.

use std::io::Write;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

use crate::Columns;

impl Columns {
    /// The table as Parquet (Snappy), text as STRING, integers as INT_32/INT_64.
    pub fn write_parquet<W: Write + Send>(
        &self,
        out: W,
    ) -> Result<W, parquet::errors::ParquetError> {
        let mut writer = ParquetWriter::new(out);
        writer.write(self)?;
        writer.finish()
    }
}

/// A Parquet file (Snappy) written a chunk at a time: the chunks of one table, each with
/// the same columns and metadata, so a large table never sits in memory whole.
///
/// What `ArrowWriter` does, with a chunk's columns encoded in parallel (rayon), each
/// into its own column writer: `ArrowWriter` encodes one column after another on the
/// calling thread. Row groups span chunks up to the properties' maximum rows, as
/// there: a dictionary per 65,536-row chunk made a partial result a third larger.
pub struct ParquetWriter<W: Write + Send> {
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
pub fn parquet_properties() -> WriterPropertiesBuilder {
    WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY)
}

impl<W: Write + Send> ParquetWriter<W> {
    /// A writer into `out` with the defaults (page statistics, dictionaries where they
    /// pay, Snappy); the schema comes from the first chunk.
    pub fn new(out: W) -> Self {
        Self::with_properties(out, parquet_properties().build())
    }

    /// A writer into `out` with these properties.
    pub fn with_properties(out: W, properties: WriterProperties) -> Self {
        ParquetWriter {
            waiting: Some((out, properties)),
            open: None,
        }
    }

    /// Appends a chunk's rows.
    pub fn write(&mut self, chunk: &Columns) -> Result<(), parquet::errors::ParquetError> {
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
    pub fn finish(self) -> Result<W, parquet::errors::ParquetError> {
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
    use std::net::Ipv6Addr;

    use arrow_array::types::Int32Type;
    use arrow_array::{DictionaryArray, FixedSizeBinaryArray, StringArray};

    use super::*;
    use crate::Column;

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

    /// Chunks fill row groups up to the maximum rows, across chunk boundaries, and come
    /// back in order with their types: 16-byte addresses and an Arrow dictionary.
    #[test]
    fn parquet_row_groups_span_chunks_and_keep_types() {
        let properties = parquet_properties()
            .set_max_row_group_row_count(Some(4))
            .build();
        let mut writer = ParquetWriter::with_properties(Vec::new(), properties);
        for _ in 0..3 {
            writer.write(&crate::fixtures::addresses_and_ids()).unwrap();
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
