//! Records written as text: NDJSON (the contract other tools read) and CSV, plus the
//! column mapping shared with the Parquet writer for writing records of several layouts
//! under one output layout.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;

use crate::decode::RecordSink;
use crate::layout::Layout;
use crate::record::Record;
use crate::value::Value;
use flowfence_table::{push_csv_cell, push_csv_row};

/// Appends a record as one JSON object and a newline: keys are the AWS field names in
/// layout order, `-` is `null`, integers are numbers, everything else a string.
pub fn write_ndjson(record: &Record<'_>, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (column, value)) in record
        .layout()
        .columns()
        .iter()
        .zip(record.values())
        .enumerate()
    {
        if i > 0 {
            out.push(b',');
        }
        write_json_string(column.name(), out);
        out.push(b':');
        match *value {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Value::Text(s) => write_json_string(s, out),
            other => {
                out.push(b'"');
                write_plain(other, out);
                out.push(b'"');
            }
        }
    }
    out.extend_from_slice(b"}\n");
}

/// Writes values that need no escaping: addresses and enum spellings.
fn write_plain(value: Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Addr(IpAddr::V4(a)) => {
            let mut buf = itoa::Buffer::new();
            for (i, octet) in a.octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(buf.format(*octet).as_bytes());
            }
        }
        Value::Addr(a @ IpAddr::V6(_)) => {
            write!(out, "{a}").expect("writing to a Vec cannot fail");
        }
        Value::Action(a) => out.extend_from_slice(a.as_str().as_bytes()),
        Value::LogStatus(s) => out.extend_from_slice(s.as_str().as_bytes()),
        Value::Direction(d) => out.extend_from_slice(d.as_str().as_bytes()),
        Value::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        Value::Text(s) => out.extend_from_slice(s.as_bytes()),
        Value::Null => {}
    }
}

fn write_json_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            write!(out, "\\u{b:04x}").expect("writing to a Vec cannot fail");
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// For each output column, the input column holding it.
type Mapping = Vec<Option<usize>>;

/// Maps records of any layout onto one output layout by field name.
pub(crate) struct ColumnMapper {
    output: Arc<Layout>,
    /// Per input layout (by address, kept alive by the `Arc`): for each output column,
    /// the input column; `None` when the input has a column the output lacks.
    cache: HashMap<usize, (Arc<Layout>, Option<Mapping>)>,
}

impl ColumnMapper {
    pub(crate) fn new(output: Arc<Layout>) -> ColumnMapper {
        ColumnMapper {
            output,
            cache: HashMap::new(),
        }
    }

    pub(crate) fn output(&self) -> &Arc<Layout> {
        &self.output
    }

    /// For each output column, the record's value (null where it lacks the field); `None`
    /// when the record has a column the output layout has no place for.
    pub(crate) fn map<'r, 'a>(
        &'r mut self,
        record: &'r Record<'a>,
    ) -> Option<impl Iterator<Item = Value<'a>> + 'r> {
        let input = record.layout();
        let output = &self.output;
        let (_, mapping) = self
            .cache
            .entry(input as *const Layout as usize)
            .or_insert_with(|| {
                let complete = input
                    .columns()
                    .iter()
                    .all(|c| output.position_of_name(c.name()).is_some());
                let mapping = complete.then(|| {
                    output
                        .columns()
                        .iter()
                        .map(|c| input.position_of_name(c.name()))
                        .collect()
                });
                (Arc::new(input.clone()), mapping)
            });
        let values = record.values();
        let mapping = mapping.as_ref()?;
        Some(
            mapping
                .iter()
                .map(move |from| from.map_or(Value::Null, |i| values[i])),
        )
    }
}

/// Encodes records as NDJSON into a buffer (see [`write_ndjson`]).
#[derive(Debug, Default)]
pub struct NdjsonEncoder {
    out: Vec<u8>,
}

impl NdjsonEncoder {
    /// An empty encoder.
    pub fn new() -> NdjsonEncoder {
        NdjsonEncoder::default()
    }

    /// The encoded records.
    pub fn output(&self) -> &[u8] {
        &self.out
    }
}

impl RecordSink for NdjsonEncoder {
    fn record(&mut self, record: &Record<'_>) {
        write_ndjson(record, &mut self.out);
    }
}

/// Encodes records as CSV rows under a fixed output layout (the header row's columns),
/// through the `csv` crate (text quoted where it must be).
pub struct CsvEncoder {
    mapper: ColumnMapper,
    dropped: u64,
    out: Vec<u8>,
}

impl CsvEncoder {
    /// An encoder for rows of `layout`'s columns.
    pub fn new(layout: Arc<Layout>) -> CsvEncoder {
        CsvEncoder {
            mapper: ColumnMapper::new(layout),
            dropped: 0,
            out: Vec::new(),
        }
    }

    /// The header row: the AWS field names.
    pub fn header(&self) -> String {
        let mut header = Vec::new();
        let names = self.mapper.output().columns().iter().map(|c| c.name());
        push_csv_row(&mut header, names.map(str::as_bytes));
        String::from_utf8(header).expect("field names are UTF-8")
    }

    /// The encoded rows.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Appends one row; `-` is an empty cell. A record with a column the output layout
    /// lacks is not written (its data would be lost) and counted in [`dropped`](Self::dropped).
    pub fn encode(&mut self, record: &Record<'_>) {
        let Some(values) = self.mapper.map(record) else {
            self.dropped += 1;
            return;
        };
        let out = &mut self.out;
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match value {
                Value::Text(s) => push_csv_cell(out, s.as_bytes()),
                // Numbers, addresses and enum spellings never need quotes.
                other => write_plain(other, out),
            }
        }
        out.push(b'\n');
    }

    /// Records not written because they had a column the output layout lacks.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl RecordSink for CsvEncoder {
    fn record(&mut self, record: &Record<'_>) {
        self.encode(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_block;
    use crate::reject::Unit;

    fn encode_all(text: &str, f: &mut dyn FnMut(&Record<'_>)) {
        decode_block(
            text.as_bytes(),
            &Arc::new(Layout::default_v2()),
            Unit::Line,
            &mut |r: &Record<'_>| f(r),
        );
    }

    #[test]
    fn ndjson_types_and_nulls() {
        let mut out = Vec::new();
        encode_all(
            "version interface-id srcaddr dstport action flow-direction\n2 eni-1 2001:db8::1 443 ACCEPT - \n2 \"q\\ 10.0.0.1 - REJECT egress",
            &mut |r| write_ndjson(r, &mut out),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"version\":2,\"interface-id\":\"eni-1\",\"srcaddr\":\"2001:db8::1\",\"dstport\":443,\"action\":\"ACCEPT\",\"flow-direction\":null}\n\
             {\"version\":2,\"interface-id\":\"\\\"q\\\\\",\"srcaddr\":\"10.0.0.1\",\"dstport\":null,\"action\":\"REJECT\",\"flow-direction\":\"egress\"}\n"
        );
    }

    #[test]
    fn csv_maps_layouts_onto_the_output_columns() {
        let output = Arc::new(Layout::parse_format("srcaddr dstport account-id").unwrap());
        let mut enc = CsvEncoder::new(output);
        encode_all(
            "dstport srcaddr\n80 10.0.0.1\naccount-id\na,b\nsrcport\n5\n",
            &mut |r| enc.encode(r),
        );
        assert_eq!(
            enc.header() + std::str::from_utf8(enc.output()).unwrap(),
            "srcaddr,dstport,account-id\n10.0.0.1,80,\n,,\"a,b\"\n"
        );
        assert_eq!(enc.dropped(), 1);
    }
}
