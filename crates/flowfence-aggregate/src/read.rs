//! Reading a connections table back, as `flowfence aggregate` writes it or as a SQL
//! engine does (Athena, Spark, Trino, DuckDB): CSV or Parquet, one file or a folder of
//! part files, in any order. The rows come back in the table's order, and a row two
//! files both hold is an error, not a sum: an engine's parts are disjoint, so a repeat
//! means a file was given twice.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use flowfence_table::{CsvError, CsvRow, read_csv, read_csv_header_optional};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::direction::Basis;
use crate::table::{COLUMNS, Peer, PeerKind, Row, Side, Table};

/// Why a connections table can't be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableReadError {
    /// A file or folder can't be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A CSV file isn't a connections table.
    #[error("{path}: not a connections table: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// Where and what.
        source: CsvError,
    },
    /// A Parquet file isn't a connections table.
    #[error("{path}: not a connections table: {why}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What is wrong (a row and column when one is to blame).
        why: String,
    },
    /// Neither CSV nor Parquet.
    #[error("{path}: {why}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What it looks like.
        why: String,
    },
    /// A folder with no table files in it.
    #[error("{path}: no CSV or Parquet files of a connections table in this folder")]
    Empty {
        /// The folder.
        path: PathBuf,
    },
    /// The same row in two files (or twice in one).
    #[error("the row ({row}) is in both {first} and {second}: was a file given twice?")]
    Repeated {
        /// The row's key.
        row: String,
        /// One file that holds it.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
}

impl Table {
    /// Reads the rows of a connections table written as CSV by [`Table::to_csv`], its
    /// header line first (the summaries beside the rows are not in the file and stay
    /// empty). An error names the line, the column and what is wrong.
    pub fn from_csv(text: &str) -> Result<Table, CsvError> {
        let rows = read_csv(text.as_bytes(), &COLUMNS)?
            .map(|row| row_of_csv(&row?))
            .collect::<Result<_, _>>()?;
        Ok(Table {
            rows,
            ..Table::default()
        })
    }

    /// Reads the rows of a connections table from `paths`: files, and folders whose
    /// files are its parts (names starting with `.` or `_`, such as Spark's `_SUCCESS`
    /// and `.crc` files, are left out). Each file is Parquet (by its first bytes) or
    /// CSV, with the header line or without it, as engines write it. The rows come in
    /// the table's order; the summaries beside the rows are not in the files and stay
    /// empty.
    pub fn read_files(paths: &[PathBuf]) -> Result<Table, TableReadError> {
        let mut files = Vec::new();
        for path in paths {
            files.extend(table_files(path)?);
        }
        let mut rows: Vec<(Row, usize)> = Vec::new();
        for (n, file) in files.iter().enumerate() {
            let bytes = std::fs::read(file).map_err(|source| TableReadError::Io {
                path: file.clone(),
                source,
            })?;
            let read = if bytes.starts_with(b"PAR1") {
                rows_of_parquet(file, bytes::Bytes::from(bytes))?
            } else if bytes.starts_with(&[0x1f, 0x8b]) {
                return Err(TableReadError::Format {
                    path: file.clone(),
                    why: "gzip-compressed: gunzip it, or have the engine write Parquet".into(),
                });
            } else {
                rows_of_csv(file, &bytes)?
            };
            rows.extend(read.into_iter().map(|row| (row, n)));
        }
        rows.sort_by(|(a, _), (b, _)| table_order(a, b));
        if let Some(pair) = rows
            .windows(2)
            .find(|w| table_order(&w[0].0, &w[1].0) == Ordering::Equal)
        {
            let r = &pair[0].0;
            return Err(TableReadError::Repeated {
                row: format!(
                    "{}, {}, {}, {}, {} {}",
                    r.interface_id,
                    r.side.name(),
                    r.protocol,
                    r.port,
                    r.peer.kind().name(),
                    r.peer
                ),
                first: files[pair[0].1].clone(),
                second: files[pair[1].1].clone(),
            });
        }
        Ok(Table {
            rows: rows.into_iter().map(|(row, _)| row).collect(),
            ..Table::default()
        })
    }
}

/// The table's order: interface id, side, protocol, port, peer kind, peer as spelled.
fn table_order(a: &Row, b: &Row) -> Ordering {
    (&a.interface_id, a.side, a.protocol, a.port)
        .cmp(&(&b.interface_id, b.side, b.protocol, b.port))
        .then_with(|| a.peer.cmp_spelled(&b.peer))
}

/// `path` itself, or a folder's table files in name order.
fn table_files(path: &Path) -> Result<Vec<PathBuf>, TableReadError> {
    let io = |source| TableReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with('_') || name.ends_with(".crc") {
            continue;
        }
        if entry.file_type().map_err(io)?.is_file() {
            files.push(entry.path());
        }
    }
    if files.is_empty() {
        return Err(TableReadError::Empty {
            path: path.to_path_buf(),
        });
    }
    files.sort();
    Ok(files)
}

fn rows_of_csv(path: &Path, bytes: &[u8]) -> Result<Vec<Row>, TableReadError> {
    let csv = |source| TableReadError::Csv {
        path: path.to_path_buf(),
        source,
    };
    read_csv_header_optional(bytes, &COLUMNS)
        .map_err(csv)?
        .map(|row| row_of_csv(&row?))
        .collect::<Result<_, _>>()
        .map_err(csv)
}

/// A row from its CSV cells.
fn row_of_csv(row: &CsvRow) -> Result<Row, CsvError> {
    let side = row.one_of(1, "server or client", &Side::ALL, Side::name)?;
    let kind = row.one_of(4, "a peer kind", &PeerKind::ALL, PeerKind::name)?;
    let peer = Peer::parse(kind, row.cell(5)).map_err(|why| row.error(5, why))?;
    let basis = row.one_of(12, "a basis", &Basis::ALL, Basis::name)?;
    Ok(Row {
        interface_id: row.cell(0).to_string(),
        side,
        protocol: row.parse(2, "a protocol")?,
        port: row.parse(3, "a port")?,
        peer,
        flows: row.parse(6, "a count")?,
        packets: row.parse(7, "a count")?,
        bytes: row.parse(8, "a count")?,
        first_seen: row.parse(9, "a count")?,
        last_seen: row.parse(10, "a count")?,
        peer_ports: row.parse(11, "a count")?,
        basis,
    })
}

fn rows_of_parquet(path: &Path, bytes: bytes::Bytes) -> Result<Vec<Row>, TableReadError> {
    let bad = |why: String| TableReadError::Parquet {
        path: path.to_path_buf(),
        why,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.build())
        .map_err(|e| bad(e.to_string()))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        let first = rows.len();
        let columns = ParquetColumns::of(&batch).map_err(bad)?;
        for i in 0..batch.num_rows() {
            rows.push(columns.row(i).map_err(|(column, why)| {
                bad(format!("row {}, column {column}: {why}", first + i + 1))
            })?);
        }
    }
    Ok(rows)
}

/// A batch's columns by the table's names, with their types as engines write them:
/// text as strings (plain, large, views or dictionaries), numbers as any integer type.
struct ParquetColumns {
    columns: Vec<ArrayRef>,
}

impl ParquetColumns {
    fn of(batch: &RecordBatch) -> Result<ParquetColumns, String> {
        let columns = COLUMNS
            .iter()
            .map(|name| {
                batch
                    .column_by_name(name)
                    .cloned()
                    .ok_or_else(|| format!("no `{name}` column (expected `{}`)", COLUMNS.join(",")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ParquetColumns { columns })
    }

    /// Cell `row` of text column `column`, borrowed from the batch.
    fn text(&self, column: usize, row: usize) -> Result<&str, (&'static str, String)> {
        let array = &self.columns[column];
        let name = COLUMNS[column];
        if array.is_null(row) {
            return Err((name, "empty".into()));
        }
        let text = match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().value(row),
            DataType::LargeUtf8 => array.as_string::<i64>().value(row),
            DataType::Utf8View => array.as_string_view().value(row),
            DataType::Dictionary(keys, values) if **values == DataType::Utf8 => {
                let key = match **keys {
                    DataType::Int8 => array.as_dictionary::<Int8Type>().keys().value(row) as usize,
                    DataType::Int16 => {
                        array.as_dictionary::<Int16Type>().keys().value(row) as usize
                    }
                    DataType::Int32 => {
                        array.as_dictionary::<Int32Type>().keys().value(row) as usize
                    }
                    ref other => return Err((name, format!("a dictionary keyed by {other}"))),
                };
                array
                    .as_any_dictionary()
                    .values()
                    .as_string::<i32>()
                    .value(key)
            }
            other => return Err((name, format!("{other} is not text"))),
        };
        Ok(text)
    }

    fn number<T: TryFrom<i128>>(
        &self,
        column: usize,
        row: usize,
        what: &str,
    ) -> Result<T, (&'static str, String)> {
        let array = &self.columns[column];
        let name = COLUMNS[column];
        if array.is_null(row) {
            return Err((name, "empty".into()));
        }
        let n: i128 = match array.data_type() {
            DataType::Int8 => array.as_primitive::<Int8Type>().value(row).into(),
            DataType::Int16 => array.as_primitive::<Int16Type>().value(row).into(),
            DataType::Int32 => array.as_primitive::<Int32Type>().value(row).into(),
            DataType::Int64 => array.as_primitive::<Int64Type>().value(row).into(),
            DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).into(),
            DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).into(),
            DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).into(),
            DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).into(),
            other => return Err((name, format!("{other} is not an integer"))),
        };
        T::try_from(n).map_err(|_| (name, format!("{n} is not {what}")))
    }

    fn row(&self, i: usize) -> Result<Row, (&'static str, String)> {
        let one_of = |column: usize, what: &str, names: &[&str]| {
            let text = self.text(column, i)?;
            names
                .iter()
                .position(|n| *n == text)
                .ok_or_else(|| (COLUMNS[column], format!("`{text}` is not {what}")))
        };
        let side = Side::ALL[one_of(1, "server or client", &Side::ALL.map(Side::name))?];
        let kind = PeerKind::ALL[one_of(4, "a peer kind", &PeerKind::ALL.map(PeerKind::name))?];
        let basis = Basis::ALL[one_of(12, "a basis", &Basis::ALL.map(Basis::name))?];
        let peer = Peer::parse(kind, self.text(5, i)?).map_err(|why| (COLUMNS[5], why))?;
        Ok(Row {
            interface_id: self.text(0, i)?.to_string(),
            side,
            protocol: self.number(2, i, "a protocol")?,
            port: self.number(3, i, "a port")?,
            peer,
            flows: self.number(6, i, "a count")?,
            packets: self.number(7, i, "a count")?,
            bytes: self.number(8, i, "a count")?,
            first_seen: self.number(9, i, "a count")?,
            last_seen: self.number(10, i, "a count")?,
            peer_ports: self.number(11, i, "a count")?,
            basis,
        })
    }
}

#[cfg(test)]
mod tests {
    use flowfence_table::{Column, Columns};

    use super::*;

    /// In the table's order.
    const ROWS: &str = "\
eni-a,server,6,443,interface,eni-b,5,50,5000,110,210,4,flags
eni-a,server,6,443,internet,198.51.100.7/32,3,30,3000,100,200,2,flags
eni-a,client,17,53,aws-service,S3,1,1,80,120,120,1,ports
eni-b,server,1,0,vpc,10.0.9.9/32,2,2,168,130,140,1,first-packet
eni-b,client,6,443,interface,eni-a,5,50,5000,110,210,4,flags
eni-c,client,6,5432,vpc,2001:db8::5/128,7,70,7000,150,250,7,port-class
";

    fn header() -> String {
        COLUMNS.join(",")
    }

    fn expected() -> Vec<Row> {
        Table::from_csv(&format!("{}\n{ROWS}", header()))
            .unwrap()
            .rows
    }

    /// As an engine writes Parquet: plain strings, every number a 64-bit integer.
    fn engine_parquet(rows: &[Row]) -> Vec<u8> {
        engine_parquet_with(rows, rows.iter().map(|r| r.protocol.into()).collect())
    }

    /// ... with these protocols.
    fn engine_parquet_with(rows: &[Row], protocols: Vec<i64>) -> Vec<u8> {
        let text = |f: &dyn Fn(&Row) -> String| Column::Text(rows.iter().map(f).collect());
        let int =
            |f: &dyn Fn(&Row) -> u64| Column::Int64(rows.iter().map(|r| f(r) as i64).collect());
        let mut c = Columns::default();
        c.push(COLUMNS[0], text(&|r| r.interface_id.clone()))
            .push(COLUMNS[1], text(&|r| r.side.name().into()))
            .push(COLUMNS[2], Column::Int64(protocols))
            .push(COLUMNS[3], int(&|r| r.port.into()))
            .push(COLUMNS[4], text(&|r| r.peer.kind().name().into()))
            .push(COLUMNS[5], text(&|r| r.peer.to_string()))
            .push(COLUMNS[6], int(&|r| r.flows))
            .push(COLUMNS[7], int(&|r| r.packets))
            .push(COLUMNS[8], int(&|r| r.bytes))
            .push(COLUMNS[9], int(&|r| r.first_seen))
            .push(COLUMNS[10], int(&|r| r.last_seen))
            .push(COLUMNS[11], int(&|r| r.peer_ports))
            .push(COLUMNS[12], text(&|r| r.basis.name().into()));
        c.write_parquet(Vec::new()).unwrap()
    }

    /// A folder of parts in every form engines write, in no particular order, reads
    /// back as the table, in its order; markers and checksums are left out.
    #[test]
    fn an_engines_parts_read_back_as_the_table() {
        let rows = expected();
        let lines: Vec<&str> = ROWS.lines().collect();
        let dir = tempfile::tempdir().unwrap();
        let write =
            |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).unwrap();
        // Spark: no header by default; a marker and a checksum beside the parts.
        write("part-00000.csv", format!("{}\n", lines[5]).as_bytes());
        write("_SUCCESS", b"");
        write(".part-00000.csv.crc", b"crc");
        // Athena's query results: every cell quoted, the header too.
        let quote = |line: &str| {
            line.split(',')
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(",")
        };
        write(
            "athena.csv",
            format!("{}\n{}\n", quote(&header()), quote(lines[0])).as_bytes(),
        );
        // flowfence's own Parquet (labels as dictionaries), and an engine's.
        write(
            "part-00001.parquet",
            &Table::row_columns(&rows[3..5])
                .write_parquet(Vec::new())
                .unwrap(),
        );
        write("part-00002", &engine_parquet(&rows[1..3]));
        let table = Table::read_files(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(table.rows, rows);
        // Files given one by one read the same.
        let mut files: Vec<PathBuf> = [
            "part-00002",
            "athena.csv",
            "part-00000.csv",
            "part-00001.parquet",
        ]
        .iter()
        .map(|f| dir.path().join(f))
        .collect();
        assert_eq!(Table::read_files(&files).unwrap().rows, rows);

        // A file given twice is named with the row both hold.
        files.push(dir.path().join("athena.csv"));
        let twice = Table::read_files(&files).unwrap_err().to_string();
        assert!(
            twice.contains("the row (eni-a, server, 6, 443, interface eni-b) is in both")
                && twice.contains("athena.csv"),
            "{twice}"
        );
    }

    /// What isn't a connections table is named: the file, and the row and column.
    #[test]
    fn what_is_not_a_table_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let error = |name: &str, bytes: &[u8]| {
            std::fs::write(path(name), bytes).unwrap();
            Table::read_files(&[path(name)]).unwrap_err().to_string()
        };
        let gz = error("conn.csv.gz", &[0x1f, 0x8b, 8, 0]);
        assert!(gz.contains("conn.csv.gz: gzip-compressed"), "{gz}");
        let bad_side = error(
            "bad.csv",
            b"eni-a,sideways,6,443,internet,198.51.100.7/32,3,30,3000,100,200,2,flags\n",
        );
        assert!(
            bad_side.contains("bad.csv: not a connections table: line 1, column side"),
            "{bad_side}"
        );
        // A protocol past 255, from an engine's 64-bit column.
        let rows = expected();
        let mut protocols: Vec<i64> = rows.iter().map(|r| r.protocol.into()).collect();
        protocols[2] = 300;
        let big = error("big.parquet", &engine_parquet_with(&rows, protocols));
        assert!(
            big.contains("big.parquet: not a connections table: row 3, column protocol: 300 is not a protocol"),
            "{big}"
        );
        let mut one = Columns::default();
        one.push(COLUMNS[2], Column::Int64(vec![6]));
        let missing = error("cols.parquet", &one.write_parquet(Vec::new()).unwrap());
        assert!(
            missing.contains("cols.parquet: not a connections table: no `interface_id` column"),
            "{missing}"
        );
        std::fs::create_dir(path("empty")).unwrap();
        std::fs::write(path("empty/_SUCCESS"), b"").unwrap();
        let empty = Table::read_files(&[path("empty")]).unwrap_err().to_string();
        assert!(empty.contains("no CSV or Parquet files"), "{empty}");
    }
}
