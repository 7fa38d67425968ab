//! Named columns of equal length, written as CSV or Parquet, and CSV tables read back:
//! the one table writer behind the observed connections table, the REJECT and coverage
//! summaries, partial results and the rule exports, so they quote, type and compress
//! alike. CSV goes through the `csv` crate both ways; Parquet is Snappy-compressed with
//! a chunk's columns encoded in parallel ([`ParquetWriter`]).
//!
//! ```
//! use flowfence_table::{Column, Columns, read_csv};
//!
//! let ports = [443u16, 5432];
//! let mut table = Columns::default();
//! table
//!     .push("service", Column::Text(vec!["https, public".into(), "postgres".into()]))
//!     .push("port", Column::int32_of(&ports, |p| i32::from(*p)));
//! let csv = table.to_csv();
//! assert_eq!(csv, "service,port\n\"https, public\",443\npostgres,5432\n");
//!
//! let rows: Vec<_> = read_csv(csv.as_bytes(), &["service", "port"]).unwrap().collect();
//! let first = rows[0].as_ref().unwrap();
//! assert_eq!((first.cell(0), first.parse::<u16>(1, "a port").unwrap()), ("https, public", 443));
//! ```

mod column;
mod csv;
mod file;
mod parquet;

pub use crate::column::{Column, Columns};
pub use crate::csv::{
    CsvError, CsvRow, CsvRows, push_csv_cell, push_csv_row, read_csv, read_csv_header_optional,
};
pub use crate::file::{FileFormat, TableFile, write_atomically};
pub use crate::parquet::{ParquetWriter, parquet_properties};

/// A table the CSV and Parquet tests share: addresses (IPv4 and IPv6) and a dictionary
/// column whose values need quoting or go unused.
#[cfg(test)]
mod fixtures {
    use arrow_array::StringArray;

    use crate::{Column, Columns};

    pub(crate) fn addresses_and_ids() -> Columns {
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
}
