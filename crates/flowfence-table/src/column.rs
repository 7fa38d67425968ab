//! A column of values and a table of named columns: what every table flowfence writes
//! is built as, before it becomes CSV ([`Columns::write_csv`]) or Parquet
//! ([`Columns::write_parquet`]).

use std::net::Ipv6Addr;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, FixedSizeBinaryArray, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow_schema::{Field, Schema};
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

    pub(crate) fn len(&self) -> usize {
        match self {
            Column::Text(v) => v.len(),
            Column::Label(v) => v.len(),
            Column::Int32(v) => v.len(),
            Column::Int64(v) => v.len(),
            Column::Address(v) => v.len(),
            Column::Dictionary { keys, .. } => keys.len(),
        }
    }

    pub(crate) fn to_arrow(&self) -> ArrayRef {
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
    pub(crate) columns: Vec<(&'static str, Column)>,
    pub(crate) metadata: Vec<(String, String)>,
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
}
