//! CSV both ways through the `csv` crate: tables written with quoting only where a cell
//! needs it (a comma, a quote or a line break), and read back with quoted cells, each
//! row with its line number.

use std::io::{Read, Write};
use std::sync::OnceLock;

use crate::{Column, Columns};

/// Appends one CSV cell to `out`: as it is, or quoted (quotes doubled) when it holds a
/// comma, a quote or a line break. csv-core decides and escapes, as the `csv` crate's
/// writer does; cells are appended straight into the caller's buffer, since going
/// through `csv::Writer` (its own buffer, a state machine per field) made `parse --output
/// csv` 10% slower than this.
pub fn push_csv_cell(out: &mut Vec<u8>, cell: &[u8]) {
    static RULES: OnceLock<csv_core::Writer> = OnceLock::new();
    if !RULES.get_or_init(csv_core::Writer::new).should_quote(cell) {
        out.extend_from_slice(cell);
        return;
    }
    // Quoted, every byte a doubled quote at worst, plus the two quotes.
    let at = out.len();
    out.resize(at + 2 * cell.len() + 2, 0);
    let mut writer = csv_core::Writer::new();
    let (_, read, written) = writer.field(cell, &mut out[at..]);
    debug_assert_eq!(read, cell.len());
    let (_, closed) = writer.finish(&mut out[at + written..]);
    out.truncate(at + written + closed);
}

/// Appends one CSV row: its cells, separated by commas, and a line break.
pub fn push_csv_row<'a>(out: &mut Vec<u8>, cells: impl IntoIterator<Item = &'a [u8]>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_csv_cell(out, cell);
    }
    out.push(b'\n');
}

/// Appends one cell of a column.
fn write_cell(column: &Column, row: usize, out: &mut Vec<u8>) {
    match column {
        Column::Text(v) => push_csv_cell(out, v[row].as_bytes()),
        Column::Label(v) => push_csv_cell(out, v[row].as_bytes()),
        Column::Int32(v) => out.extend_from_slice(itoa::Buffer::new().format(v[row]).as_bytes()),
        Column::Int64(v) => out.extend_from_slice(itoa::Buffer::new().format(v[row]).as_bytes()),
        // Addresses need no quoting.
        Column::Address(v) => write!(out, "{}", v[row].to_canonical()).expect("writing to a Vec"),
        Column::Dictionary { keys, values } => {
            push_csv_cell(out, values.value(keys[row] as usize).as_bytes())
        }
    }
}

impl Columns {
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
        self.write_csv_header(&mut out)?;
        self.write_csv_rows(&mut out)?;
        out.flush()
    }

    /// Writes the CSV header line.
    pub fn write_csv_header<W: Write>(&self, mut out: W) -> std::io::Result<()> {
        let mut header = Vec::new();
        push_csv_row(&mut header, self.names().iter().map(|n| n.as_bytes()));
        out.write_all(&header)
    }

    /// Writes the rows as CSV lines, without a header (a chunk of a longer table).
    pub fn write_csv_rows<W: Write + Send>(&self, mut out: W) -> std::io::Result<()> {
        /// Rows per formatting task, and tasks per window.
        const CHUNK: usize = 8192;
        const WINDOW: usize = 8 * CHUNK;
        let rows = self.len();
        let format = |window: usize| -> Vec<Vec<u8>> {
            let end = (window + WINDOW).min(rows);
            (window..end)
                .into_par_iter()
                .step_by(CHUNK)
                .map(|first| self.csv_rows(first..(first + CHUNK).min(end)))
                .collect()
        };
        let mut written: Vec<Vec<u8>> = Vec::new();
        for window in (0..rows).step_by(WINDOW) {
            let (done, next) = rayon::join(
                || written.iter().try_for_each(|chunk| out.write_all(chunk)),
                || format(window),
            );
            done?;
            written = next;
        }
        for chunk in &written {
            out.write_all(chunk)?;
        }
        Ok(())
    }

    /// Some rows as CSV lines.
    fn csv_rows(&self, rows: std::ops::Range<usize>) -> Vec<u8> {
        let mut out = Vec::with_capacity(rows.len() * 128);
        for row in rows {
            for (i, (_, c)) in self.columns.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_cell(c, row, &mut out);
            }
            out.push(b'\n');
        }
        out
    }
}

use rayon::prelude::*;

/// A CSV table that can't be read back: where, and what is wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}, column {column}: {why}")]
#[non_exhaustive]
pub struct CsvError {
    /// Line number, from 1 (the header is line 1).
    pub line: u64,
    /// The column, by its name in the header (`header` for the header itself).
    pub column: &'static str,
    /// What is wrong.
    pub why: String,
}

/// Reads a CSV table whose header must be exactly `columns`: rows of text cells, each
/// with its line number. Quoted cells (commas, quotes, line breaks inside) read back as
/// written.
pub fn read_csv<R: Read>(
    input: R,
    columns: &'static [&'static str],
) -> Result<CsvRows<R>, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        // Row lengths are checked here, to name the line and what was expected.
        .flexible(true)
        .from_reader(input);
    let header_error = |why: String| CsvError {
        line: 1,
        column: "header",
        why,
    };
    let header = reader.headers().map_err(|e| header_error(e.to_string()))?;
    if !header.iter().eq(columns.iter().copied()) {
        return Err(header_error(format!("expected `{}`", columns.join(","))));
    }
    Ok(CsvRows {
        records: reader.into_records().peekable(),
        columns,
    })
}

/// Reads a CSV table of `columns` whose header line may be missing (as Spark and Athena
/// write CSV unless told otherwise): a first line that is exactly `columns` is the
/// header, any other is the first row.
pub fn read_csv_header_optional<R: Read>(
    input: R,
    columns: &'static [&'static str],
) -> Result<CsvRows<R>, CsvError> {
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut records = reader.into_records().peekable();
    if let Some(Ok(first)) = records.peek()
        && first.iter().eq(columns.iter().copied())
    {
        records.next();
    }
    Ok(CsvRows { records, columns })
}

/// The rows of a CSV table, from [`read_csv`].
pub struct CsvRows<R: Read> {
    records: std::iter::Peekable<csv::StringRecordsIntoIter<R>>,
    columns: &'static [&'static str],
}

impl<R: Read> Iterator for CsvRows<R> {
    type Item = Result<CsvRow, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = self.records.next()?;
        let columns = self.columns;
        Some(match record {
            Err(e) => Err(CsvError {
                line: e.position().map_or(0, csv::Position::line),
                column: columns[0],
                why: e.to_string(),
            }),
            Ok(record) => {
                let row = CsvRow {
                    line: record.position().map_or(0, csv::Position::line),
                    record,
                    columns,
                };
                if row.record.len() == columns.len() {
                    Ok(row)
                } else {
                    Err(row.error(
                        0,
                        format!("{} cells, expected {}", row.record.len(), columns.len()),
                    ))
                }
            }
        })
    }
}

/// One row of a CSV table: as many cells as the header has columns.
#[derive(Clone, Debug)]
pub struct CsvRow {
    line: u64,
    record: csv::StringRecord,
    columns: &'static [&'static str],
}

impl CsvRow {
    /// The line the row starts on (the header is line 1).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The cell in column `i`.
    pub fn cell(&self, i: usize) -> &str {
        &self.record[i]
    }

    /// An error about this row's cell in column `i`.
    pub fn error(&self, i: usize, why: String) -> CsvError {
        CsvError {
            line: self.line,
            column: self.columns[i],
            why,
        }
    }

    /// The cell in column `i` as one of a fixed vocabulary: the value whose `name` it
    /// is; `what` names what it should be.
    pub fn one_of<T: Copy>(
        &self,
        i: usize,
        what: &str,
        values: &[T],
        name: impl Fn(T) -> &'static str,
    ) -> Result<T, CsvError> {
        let cell = self.cell(i);
        values
            .iter()
            .copied()
            .find(|v| name(*v) == cell)
            .ok_or_else(|| self.error(i, format!("{cell:?} is not {what}")))
    }

    /// The cell in column `i` parsed as `T`; `what` names what it should be.
    pub fn parse<T: std::str::FromStr>(&self, i: usize, what: &str) -> Result<T, CsvError> {
        let cell = self.cell(i);
        cell.parse()
            .map_err(|_| self.error(i, format!("{cell:?} is not {what}")))
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

    /// Addresses read as text in CSV (IPv4 dotted); a dictionary column as its values.
    #[test]
    fn csv_spells_addresses_and_dictionary_values() {
        assert_eq!(
            crate::fixtures::addresses_and_ids().to_csv(),
            "addr,id\n10.0.0.1,\"eni,b\"\n2600:1f18::9,eni-a\n10.0.0.2,\"eni,b\"\n"
        );
    }

    /// What the writer quotes, the reader reads back: commas, quotes and line breaks
    /// inside cells, and each row's line number counts the line breaks before it.
    #[test]
    fn quoted_cells_read_back_as_written_with_their_lines() {
        const NAMES: [&str; 2] = ["name", "n"];
        let mut c = Columns::default();
        c.push(
            "name",
            Column::Text(vec![
                "plain".into(),
                "a,b".into(),
                "two\nlines".into(),
                "say \"hi\"".into(),
            ]),
        )
        .push("n", Column::Int64(vec![1, 2, 3, 4]));
        let csv = c.to_csv();
        let rows: Vec<CsvRow> = read_csv(csv.as_bytes(), &NAMES)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let cells: Vec<(u64, &str, i64)> = rows
            .iter()
            .map(|r| (r.line(), r.cell(0), r.parse(1, "a number").unwrap()))
            .collect();
        assert_eq!(
            cells,
            [
                (2, "plain", 1),
                (3, "a,b", 2),
                (4, "two\nlines", 3),
                (6, "say \"hi\"", 4)
            ]
        );
    }

    #[test]
    fn a_wrong_header_short_row_or_bad_cell_names_its_line_and_column() {
        const NAMES: [&str; 2] = ["name", "n"];
        let err = read_csv("name,count\n".as_bytes(), &NAMES).err().unwrap();
        assert_eq!(err.to_string(), "line 1, column header: expected `name,n`");
        let mut rows = read_csv("name,n\na,1\nb\nc,x\n".as_bytes(), &NAMES).unwrap();
        assert!(rows.next().unwrap().is_ok());
        let short = rows.next().unwrap().unwrap_err();
        assert_eq!(
            short.to_string(),
            "line 3, column name: 1 cells, expected 2"
        );
        let bad = rows.next().unwrap().unwrap();
        assert_eq!(
            bad.parse::<u64>(1, "a count").unwrap_err().to_string(),
            "line 4, column n: \"x\" is not a count"
        );
    }
}
