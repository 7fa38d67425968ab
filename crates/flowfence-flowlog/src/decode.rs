//! The line decoder: newline-separated text in, typed records out, with no I/O and no
//! allocation per line. Readers for files, gzip and JSON envelopes wrap it.

use std::sync::Arc;

use memchr::memchr;

use crate::field::{Field, Kind};
use crate::layout::{Column, Layout};
use crate::record::Record;
use crate::reject::{Location, Reason, Rejection, Tally, Unit};
use crate::scan;
use crate::value::{LogStatus, Value, ValueError};

/// Receives decoded records. Implemented for closures, and for `()` (discard).
pub trait RecordSink {
    /// Called once per record, in input order within a block.
    fn record(&mut self, record: &Record<'_>);
}

impl<F: FnMut(&Record<'_>)> RecordSink for F {
    #[inline]
    fn record(&mut self, record: &Record<'_>) {
        self(record)
    }
}

impl RecordSink for () {
    #[inline]
    fn record(&mut self, _: &Record<'_>) {}
}

/// What was seen in some input: records by status, skipped lines, bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Lines, events or rows looked at (records, headers, blanks and rejections).
    pub lines: u64,
    /// Records decoded and handed on.
    pub records: u64,
    /// Records with `log-status` NODATA.
    pub nodata: u64,
    /// Records with `log-status` SKIPDATA.
    pub skipdata: u64,
    /// Header lines (the first and any repeats).
    pub headers: u64,
    /// Blank lines.
    pub blank: u64,
    /// Text bytes decoded (after decompression).
    pub text_bytes: u64,
}

impl Counts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Counts) {
        self.lines += other.lines;
        self.records += other.records;
        self.nodata += other.nodata;
        self.skipdata += other.skipdata;
        self.headers += other.headers;
        self.blank += other.blank;
        self.text_bytes += other.text_bytes;
    }

    /// Counts a decoded record's status.
    #[inline]
    pub(crate) fn count_record(&mut self, record: &Record<'_>) {
        self.records += 1;
        match record.log_status() {
            Some(LogStatus::NoData) => self.nodata += 1,
            Some(LogStatus::SkipData) => self.skipdata += 1,
            _ => {}
        }
    }
}

/// The result of decoding one block of text.
#[derive(Debug)]
pub struct BlockOutcome {
    /// What the block held.
    pub counts: Counts,
    /// Its rejections, positioned relative to the block's first line (line 1).
    pub tally: Tally,
    /// The layout in force after the block's last line.
    pub end_layout: Arc<Layout>,
}

/// Longest token quoted in an error message.
const MAX_QUOTED: usize = 60;

/// Decodes newline-separated flow log lines.
///
/// `layout` is in force at the first line; a header line switches it for the lines after
/// it (a repeated, identical header is just skipped). Positions in the returned tally are
/// relative to the block (its first line is 1) and use `unit`.
pub fn decode_block(
    text: &[u8],
    layout: &Arc<Layout>,
    unit: Unit,
    sink: &mut impl RecordSink,
) -> BlockOutcome {
    decode_lines(text, layout, unit, sink, Lines::Indexed)
}

/// How [`decode_lines`] finds the tokens of regular lines.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
enum Lines {
    /// Separators first, for runs of regular lines of a fixed layout ([`indexed_lines`]).
    Indexed,
    /// Every line scanned token by token: the reference the indexed path must equal.
    OneByOne,
}

fn decode_lines(
    text: &[u8],
    layout: &Arc<Layout>,
    unit: Unit,
    sink: &mut impl RecordSink,
    lines: Lines,
) -> BlockOutcome {
    let mut layout = Arc::clone(layout);
    let mut counts = Counts {
        text_bytes: text.len() as u64,
        ..Counts::default()
    };
    let mut tally = Tally::default();
    let mut values: Vec<Value<'_>> = Vec::with_capacity(layout.len());
    let mut shape = Shape::of(layout.kinds());
    let mut separators = Vec::new();
    // Validate UTF-8 once for the whole block (the usual case: flow logs are ASCII); only
    // a block with invalid bytes pays for a check per line.
    let block = simdutf8::basic::from_utf8(text).ok();
    let mut rest = text;
    let mut offset = 0usize;
    let mut line_no: u64 = 0;

    while !rest.is_empty() {
        if values.len() != layout.len() {
            values.clear();
            values.resize(layout.len(), Value::Null);
        }
        // Runs of regular lines take the indexed path; it stops at the first line it
        // leaves to the one below (a header, a blank or odd line, a rejection, the end).
        if let Some(block) = block
            && lines == Lines::Indexed
        {
            let out = Decoded {
                values: &mut values,
                separators: &mut separators,
                counts: &mut counts,
                sink,
            };
            let next = shape.decode_indexed(block, offset, &layout, out);
            line_no = counts.lines;
            rest = &text[next..];
            offset = next;
            if rest.is_empty() {
                break;
            }
        }
        let (raw, next) = match memchr(b'\n', rest) {
            Some(nl) => (&rest[..nl], &rest[nl + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let line_start = offset;
        offset += rest.len() - next.len();
        rest = next;
        line_no += 1;
        counts.lines += 1;

        let bytes = trim_end(raw);
        if bytes.is_empty() {
            counts.blank += 1;
            continue;
        }
        let line = match block {
            // Slicing at a newline and after ASCII blanks stays on char boundaries.
            Some(block) => &block[line_start..line_start + bytes.len()],
            None => match std::str::from_utf8(bytes) {
                Ok(line) => line,
                Err(_) => {
                    tally.add(Rejection {
                        location: Location {
                            source: 0,
                            position: line_no,
                            unit,
                        },
                        reason: Reason::InvalidUtf8,
                        field: None,
                        detail: "the line is not valid UTF-8".into(),
                    });
                    continue;
                }
            },
        };
        // Header lines start with a field name; data lines rarely start with a letter,
        // so the full check runs only when it could succeed.
        if bytes[0].is_ascii_lowercase()
            && let Some(header) = Layout::from_header_line(line)
        {
            counts.headers += 1;
            if header != *layout {
                layout = Arc::new(header);
                shape = Shape::of(layout.kinds());
            }
            continue;
        }
        match shape.decode(line, layout.kinds(), &mut values) {
            Ok(()) => {
                let record = Record::new(&layout, &values);
                counts.count_record(&record);
                sink.record(&record);
            }
            Err(err) => tally.add(err.into_rejection(line, &layout, line_no, unit)),
        }
    }
    BlockOutcome {
        counts,
        tally,
        end_layout: layout,
    }
}

/// Strips the line ending and trailing blanks.
#[inline]
fn trim_end(mut bytes: &[u8]) -> &[u8] {
    while let [head @ .., last] = bytes {
        if matches!(last, b'\r' | b' ' | b'\t') {
            bytes = head;
        } else {
            break;
        }
    }
    bytes
}

/// The index of the first space at or after `from`, or `bytes.len()`. Tokens are short
/// (ids, names: 5-30 bytes), where a call into `memchr` costs more than it saves; this
/// looks at eight bytes at a time with plain integer arithmetic.
#[inline(always)]
fn find_space(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const SPACES: u64 = 0x2020_2020_2020_2020;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes")) ^ SPACES;
        // A zero byte in `word` is a space in the input; this marks the first exactly.
        let found = word.wrapping_sub(ONES) & !word & HIGHS;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    bytes[i..]
        .iter()
        .position(|&b| b == b' ')
        .map_or(bytes.len(), |p| i + p)
}

/// A line that could not be decoded: which column failed, and how.
#[derive(Debug)]
struct LineError<'a> {
    column: Option<usize>,
    token: &'a str,
    kind: LineErrorKind,
}

#[derive(Debug)]
enum LineErrorKind {
    FieldCount,
    Value(ValueError),
}

/// Splits `line` on spaces and parses each token by its column's kind into `values`
/// (one slot per column).
///
/// Integers and IPv4 addresses are parsed while they are scanned (one pass, no search for
/// the token's end first); anything unusual falls back to [`Value::parse`], which has the
/// final word on what is valid, so both paths accept exactly the same tokens. Every token
/// parser stops at the space after its token (or the end), so moving on is one step.
#[inline]
fn decode_line<'a>(
    line: &'a str,
    kinds: &[Kind],
    values: &mut [Value<'a>],
) -> Result<(), LineError<'a>> {
    let mut pos = skip_spaces(line.as_bytes(), 0);
    for (column, (&kind, slot)) in kinds.iter().zip(values.iter_mut()).enumerate() {
        *slot = decode_field(line, &mut pos, column, kind)?;
    }
    end_of_line(line, pos)
}

/// [`decode_line`] for a layout whose kinds are known when compiling: the per-column
/// dispatch on the kind folds away (it was an indirect jump per field, often
/// mispredicted, and an eighth of decoding).
#[inline(always)]
fn decode_fixed<'a, const N: usize>(
    line: &'a str,
    kinds: &[Kind; N],
    values: &mut [Value<'a>],
) -> Result<(), LineError<'a>> {
    let values: &mut [Value<'a>; N] = values.try_into().expect("one value per column");
    let mut pos = skip_spaces(line.as_bytes(), 0);
    seq_macro::seq!(C in 0..29 {
        if C < N {
            values[C] = decode_field(line, &mut pos, C, kinds[C])?;
        }
    });
    end_of_line(line, pos)
}

/// Column kinds of the layouts most logs use, each with a decoder of its own: the
/// default format, and every field of versions 2 to 5 in AWS's order.
const DEFAULT_V2: [Kind; 14] = kinds_of(Field::DEFAULT_FORMAT);
const ALL_V5: [Kind; 29] = kinds_of(*Field::ALL.first_chunk::<29>().expect("29 fields to v5"));

/// The first and last columns of the fixed layouts are not text (see [`indexed_lines`]).
const FIXED_ENDS_ARE_TYPED: () = {
    assert!(!matches!(DEFAULT_V2[0], Kind::Text) && !matches!(DEFAULT_V2[13], Kind::Text));
    assert!(!matches!(ALL_V5[0], Kind::Text) && !matches!(ALL_V5[28], Kind::Text));
};

const fn kinds_of<const N: usize>(fields: [Field; N]) -> [Kind; N] {
    let mut kinds = [Kind::Text; N];
    let mut i = 0;
    while i < N {
        kinds[i] = fields[i].kind();
        i += 1;
    }
    kinds
}

/// Which decoder a layout gets.
#[derive(Clone, Copy)]
enum Shape {
    DefaultV2,
    AllV5,
    Other,
}

impl Shape {
    fn of(kinds: &[Kind]) -> Shape {
        if kinds == DEFAULT_V2 {
            Shape::DefaultV2
        } else if kinds == ALL_V5 {
            Shape::AllV5
        } else {
            Shape::Other
        }
    }

    #[inline]
    fn decode<'a>(
        self,
        line: &'a str,
        kinds: &[Kind],
        values: &mut [Value<'a>],
    ) -> Result<(), LineError<'a>> {
        match self {
            Shape::DefaultV2 => decode_fixed(line, &DEFAULT_V2, values),
            Shape::AllV5 => decode_fixed(line, &ALL_V5, values),
            Shape::Other => decode_line(line, kinds, values),
        }
    }

    /// Decodes the regular lines of `block` from `offset` (a line start) on, until one
    /// that is not; returns where that line starts (or the block's end). See
    /// [`indexed_lines`].
    #[inline]
    fn decode_indexed<'a, S: RecordSink>(
        self,
        block: &'a str,
        offset: usize,
        layout: &Layout,
        out: Decoded<'_, 'a, S>,
    ) -> usize {
        match self {
            Shape::DefaultV2 => indexed_lines(block, offset, &DEFAULT_V2, layout, out),
            Shape::AllV5 => indexed_lines(block, offset, &ALL_V5, layout, out),
            Shape::Other => offset,
        }
    }
}

/// Where the indexed path puts what it decodes: the block's reused value and separator
/// buffers, its counts, and the sink.
struct Decoded<'s, 'a, S> {
    values: &'s mut [Value<'a>],
    separators: &'s mut Vec<u32>,
    counts: &'s mut Counts,
    sink: &'s mut S,
}

/// Text indexed at a time by [`indexed_lines`]: its separators (about 8 KiB of them) stay
/// in the L2 cache between indexing and decoding.
const WINDOW: usize = 64 * 1024;

/// Decodes lines from `offset` with their token bounds found first ([`scan::index`], a
/// window at a time), for as long as each line is *regular*: exactly the layout's fields,
/// one space apart, ending in a newline, and every token valid. Returns the start of the
/// first line that is not, for the line-by-line decoder to take (its handling of anything
/// else, errors included, is the reference). Every value is the one [`decode_field`]
/// gives: the same fast parsers, on bounds known beforehand, and [`Value::parse`] for
/// anything else.
///
/// Header lines and trailing blanks need no check of their own: neither the first nor
/// the last column of a fixed layout is text ([`FIXED_ENDS_ARE_TYPED`]), so a header
/// fails its first token, and a line ending in `\r` or a tab its last.
#[inline(always)]
fn indexed_lines<'a, const N: usize, S: RecordSink>(
    block: &'a str,
    offset: usize,
    kinds: &[Kind; N],
    layout: &Layout,
    out: Decoded<'_, 'a, S>,
) -> usize {
    let () = FIXED_ENDS_ARE_TYPED;
    let Decoded {
        values,
        separators,
        counts,
        sink,
    } = out;
    let values: &mut [Value<'a>; N] = values.try_into().expect("one value per column");
    let bytes = block.as_bytes();
    let mut start = offset;
    loop {
        let window = start;
        let window_end = (window + WINDOW).min(bytes.len());
        separators.clear();
        scan::index(&bytes[window..window_end], separators);
        let before = start;
        for line in separators.chunks_exact(N) {
            // Where each token ends, relative to the window; the line is regular only if
            // the last separator is the first newline and no token is empty.
            let ends: &[u32; N] = line.try_into().expect("N separators");
            let mut odd = false;
            let mut token_start = (start - window) as u32;
            for (c, &end) in ends.iter().enumerate() {
                odd |= (end & scan::NEWLINE != 0) != (c == N - 1);
                odd |= end & !scan::NEWLINE == token_start;
                token_start = (end & !scan::NEWLINE) + 1;
            }
            if odd {
                return start;
            }
            let mut token_start = start;
            let mut valid = true;
            seq_macro::seq!(C in 0..29 {
                if C < N {
                    let end = window + (ends[C] & !scan::NEWLINE) as usize;
                    match known_token(block, token_start, end, kinds[C]) {
                        Some(value) => values[C] = value,
                        None => valid = false,
                    }
                    token_start = end + 1;
                }
            });
            if !valid {
                return start;
            }
            counts.lines += 1;
            let record = Record::new(layout, values);
            counts.count_record(&record);
            sink.record(&record);
            // Past the last token's newline.
            start = token_start;
        }
        // The window's last line did not fit (or the text ended without a newline).
        if start == before || start >= bytes.len() {
            return start;
        }
    }
}

/// The value of the token `block[start..end]` (not empty, no spaces) as `kind`, or
/// `None` if it is not one.
#[inline(always)]
fn known_token(block: &str, start: usize, end: usize, kind: Kind) -> Option<Value<'_>> {
    let bytes = block.as_bytes();
    let fast = match kind {
        Kind::Int32 | Kind::Int64 | Kind::Port | Kind::Protocol => {
            crate::value::parse_known_digits(bytes, start, end)
                .filter(|&n| n <= kind.max_int())
                .map(Value::Int)
        }
        Kind::Addr => crate::value::parse_ipv4_prefix(&bytes[start..])
            .filter(|&(_, used)| used == end - start)
            .map(|(addr, _)| Value::Addr(std::net::IpAddr::V4(addr))),
        Kind::Text => Some(text_value(block, start, end)),
        Kind::Action | Kind::LogStatus | Kind::Direction => spelled(kind, &bytes[start..end]),
    };
    fast.or_else(|| Value::parse(kind, &block[start..end]).ok())
}

/// A text token `line[start..end]`: `-` is null. Separators are ASCII, so token bounds
/// are char boundaries.
#[inline(always)]
fn text_value(line: &str, start: usize, end: usize) -> Value<'_> {
    if end - start == 1 && line.as_bytes()[start] == b'-' {
        Value::Null
    } else {
        Value::Text(&line[start..end])
    }
}

/// Parses the token at `*pos` as `kind` (column `column`, for errors) and moves `*pos`
/// past it and the spaces after it.
///
/// Integers and IPv4 addresses are parsed as their end is found, in one pass, which is
/// why this does not find the end first and call [`known_token`] as the indexed path
/// does: that made layouts without a fixed decoder (28 of the v5 fields, 20 files)
/// decode in 0.34-0.43 CPU-s instead of 0.27.
#[inline(always)]
fn decode_field<'a>(
    line: &'a str,
    pos: &mut usize,
    column: usize,
    kind: Kind,
) -> Result<Value<'a>, LineError<'a>> {
    let bytes = line.as_bytes();
    let len = bytes.len();
    let start = *pos;
    if start >= len {
        return Err(LineError {
            column: None,
            token: "",
            kind: LineErrorKind::FieldCount,
        });
    }
    let mut end = start;
    let fast = match kind {
        Kind::Int32 | Kind::Int64 | Kind::Port | Kind::Protocol => {
            let (n, digits) = crate::value::parse_digits(&bytes[start..]);
            end = start + digits;
            let ends = end == len || bytes[end] == b' ';
            // More than 19 digits may have wrapped: Value::parse decides those.
            (ends && (1..=19).contains(&digits) && n <= kind.max_int()).then_some(Value::Int(n))
        }
        Kind::Addr => match crate::value::parse_ipv4_prefix(&bytes[start..]) {
            Some((addr, used)) if start + used == len || bytes[start + used] == b' ' => {
                end = start + used;
                Some(Value::Addr(std::net::IpAddr::V4(addr)))
            }
            _ => None,
        },
        Kind::Text => {
            end = find_space(bytes, start);
            Some(text_value(line, start, end))
        }
        Kind::Action | Kind::LogStatus | Kind::Direction => {
            end = find_space(bytes, start);
            spelled(kind, &bytes[start..end])
        }
    };
    let value = match fast {
        Some(v) => v,
        None => {
            end = find_space(bytes, start);
            let token = &line[start..end];
            Value::parse(kind, token).map_err(|e| LineError {
                column: Some(column),
                token,
                kind: LineErrorKind::Value(e),
            })?
        }
    };
    // `end` is at the separator (or the end): step over it, and over any run of spaces
    // (AWS writes single spaces; hand-made files sometimes don't).
    *pos = skip_spaces(bytes, end + 1);
    Ok(value)
}

/// Trailing blanks were trimmed, so anything after the last column is another field.
#[inline(always)]
fn end_of_line(line: &str, pos: usize) -> Result<(), LineError<'_>> {
    if pos < line.len() {
        return Err(LineError {
            column: None,
            token: "",
            kind: LineErrorKind::FieldCount,
        });
    }
    Ok(())
}

/// The value of an enum token spelled exactly as AWS writes it (or `-`), compared as
/// fixed-size arrays so no `memcmp` call is made; anything else is for [`Value::parse`].
#[inline(always)]
fn spelled(kind: Kind, token: &[u8]) -> Option<Value<'static>> {
    use crate::value::{Action, FlowDirection, LogStatus};
    fn is<const N: usize>(token: &[u8], word: &[u8; N]) -> bool {
        <&[u8; N]>::try_from(token).is_ok_and(|t| t == word)
    }
    Some(match kind {
        _ if is(token, b"-") => Value::Null,
        Kind::Action if is(token, b"ACCEPT") => Value::Action(Action::Accept),
        Kind::Action if is(token, b"REJECT") => Value::Action(Action::Reject),
        Kind::LogStatus if is(token, b"OK") => Value::LogStatus(LogStatus::Ok),
        Kind::LogStatus if is(token, b"NODATA") => Value::LogStatus(LogStatus::NoData),
        Kind::LogStatus if is(token, b"SKIPDATA") => Value::LogStatus(LogStatus::SkipData),
        Kind::Direction if is(token, b"ingress") => Value::Direction(FlowDirection::Ingress),
        Kind::Direction if is(token, b"egress") => Value::Direction(FlowDirection::Egress),
        _ => return None,
    })
}

/// The first non-space index at or after `from` (`from` may be past the end).
#[inline(always)]
fn skip_spaces(bytes: &[u8], mut from: usize) -> usize {
    while from < bytes.len() && bytes[from] == b' ' {
        from += 1;
    }
    from
}

impl LineError<'_> {
    fn into_rejection(self, line: &str, layout: &Layout, position: u64, unit: Unit) -> Rejection {
        let location = Location {
            source: 0,
            position,
            unit,
        };
        let fields = line.split(' ').filter(|t| !t.is_empty()).count();
        // A line with the wrong number of fields usually fails on a value first; the
        // field count is the better explanation (garbage, or the wrong --format).
        let kind = if fields != layout.len() {
            LineErrorKind::FieldCount
        } else {
            self.kind
        };
        match kind {
            LineErrorKind::FieldCount => Rejection {
                location,
                reason: Reason::FieldCount,
                field: None,
                detail: format!(
                    "{fields} fields where the layout has {} (`{}`)",
                    layout.len(),
                    quote(line),
                ),
            },
            LineErrorKind::Value(err) => {
                let column: &Column = &layout.columns()[self.column.unwrap_or(0)];
                let reason = Reason::from(err);
                Rejection {
                    location,
                    reason,
                    field: Some(column.name().to_string()),
                    detail: format!(
                        "`{}` is not {}",
                        quote(self.token),
                        column.kind().expectation()
                    ),
                }
            }
        }
    }
}

/// Cuts long tokens for error messages.
fn quote(token: &str) -> &str {
    match token.char_indices().nth(MAX_QUOTED) {
        Some((i, _)) => &token[..i],
        None => token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Field;

    fn decode(text: &str, layout: Layout) -> (Vec<String>, BlockOutcome) {
        let mut seen = Vec::new();
        let out = decode_block(
            text.as_bytes(),
            &Arc::new(layout),
            Unit::Line,
            &mut |r: &Record<'_>| {
                seen.push(format!("{:?}", r.values()));
            },
        );
        (seen, out)
    }

    const V2: &str = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";

    /// A record with every field of versions 2 to 5.
    const V5: &str = "5 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1700000000 \
                      1700000060 ACCEPT OK vpc-1 subnet-1 i-1 19 IPv4 10.0.0.1 10.0.0.2 \
                      us-east-1 use1-az1 - - S3 - egress 8";

    #[test]
    fn decodes_default_layout_values() {
        let mut got = None;
        decode_block(
            V2.as_bytes(),
            &Arc::new(Layout::default_v2()),
            Unit::Line,
            &mut |r: &Record<'_>| {
                got = Some((
                    r.interface_id().map(str::to_owned),
                    r.dstport(),
                    r.bytes(),
                    r.srcaddr(),
                ));
            },
        );
        assert_eq!(
            got,
            Some((
                Some("eni-1235b8ca123456789".into()),
                Some(22),
                Some(4249),
                Some("172.31.16.139".parse().unwrap())
            ))
        );
    }

    #[test]
    fn headers_switch_layout_and_repeats_are_skipped() {
        let text = "srcport dstport\n1 2\n\nsrcport dstport\n3 4\ndstport\n5\n";
        let (seen, out) = decode(text, Layout::default_v2());
        assert_eq!(seen, ["[Int(1), Int(2)]", "[Int(3), Int(4)]", "[Int(5)]"]);
        assert_eq!(out.counts.headers, 3);
        assert_eq!(out.counts.blank, 1);
        assert_eq!(out.counts.lines, 7);
        assert_eq!(out.end_layout.columns(), &[Column::Known(Field::DstPort)]);
        assert!(out.tally.is_empty());
    }

    #[test]
    fn every_bad_line_is_counted_with_its_line_number() {
        let text = "srcport protocol srcaddr action\n\
                    1 6 10.0.0.1 ACCEPT\n\
                    http 6 10.0.0.1 ACCEPT\n\
                    1 300 10.0.0.1 ACCEPT\n\
                    1 6 10.0.0.300 ACCEPT\n\
                    1 6 10.0.0.1 MAYBE\n\
                    1 6 10.0.0.1\n\
                    1 6 10.0.0.1 ACCEPT extra\n\
                    1  6   10.0.0.1 ACCEPT  \r\n";
        let (seen, out) = decode(text, Layout::default_v2());
        assert_eq!(seen.len(), 2);
        let t = &out.tally;
        assert_eq!(t.total(), 6);
        assert_eq!(t.count_of(Reason::NotANumber), 1);
        assert_eq!(t.count_of(Reason::OutOfRange), 1);
        assert_eq!(t.count_of(Reason::BadAddress), 1);
        assert_eq!(t.count_of(Reason::BadEnum), 1);
        assert_eq!(t.count_of(Reason::FieldCount), 2);
        let lines: Vec<u64> = t.examples().iter().map(|r| r.location.position).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7, 8]);
        assert_eq!(t.examples()[0].field.as_deref(), Some("srcport"));
        assert_eq!(t.examples()[0].detail, "`http` is not a port (0-65535)");
        assert_eq!(
            t.examples()[4].detail,
            "3 fields where the layout has 4 (`1 6 10.0.0.1`)"
        );
    }

    /// The fixed-layout decoders accept, reject and blame exactly as the general one.
    #[test]
    fn fixed_layouts_decode_as_the_general_decoder() {
        let mut lines: Vec<String> =
            vec![V2.into(), V5.into(), format!("{V5} {}", "x ".repeat(12))];
        // Every column of each sample broken in turn, plus missing and extra fields.
        for base in [V2, V5] {
            let tokens: Vec<&str> = base.split(' ').collect();
            for i in 0..tokens.len() {
                for bad in ["x", "-", "99999999999999999999", "1.2.3.4", "ACCEPT", "::1"] {
                    let mut t = tokens.clone();
                    t[i] = bad;
                    lines.push(t.join(" "));
                }
                lines.push(tokens[..i].join(" "));
            }
            lines.push(format!("{base} extra"));
            lines.push(format!("{base}  "));
            lines.push(base.replace(' ', "   "));
        }
        for kinds in [&DEFAULT_V2[..], &ALL_V5[..]] {
            let shape = Shape::of(kinds);
            assert!(!matches!(shape, Shape::Other));
            let mut decoded = 0;
            for line in &lines {
                let line = trim_end(line.as_bytes());
                let line = std::str::from_utf8(line).unwrap();
                let mut general = vec![Value::Null; kinds.len()];
                let mut fixed = vec![Value::Null; kinds.len()];
                let want = decode_line(line, kinds, &mut general);
                let got = shape.decode(line, kinds, &mut fixed);
                assert_eq!(format!("{got:?}"), format!("{want:?}"), "{line}");
                if want.is_ok() {
                    assert_eq!(fixed, general, "{line}");
                    decoded += 1;
                }
            }
            assert!(decoded > 0, "no line fits {} columns", kinds.len());
        }
    }

    /// Whole blocks decode to the same records, counts, rejections and positions with
    /// and without the indexed path: regular runs, odd lines of every kind between them,
    /// header changes, and lines across the indexing windows.
    #[test]
    fn indexed_blocks_decode_as_line_by_line() {
        let v5_header = Field::ALL[..29]
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(" ");
        let odd = [
            "",
            "   ",
            "2 123 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1 2 ACCEPT OK\r",
            "2 123 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1 2 ACCEPT OK\t",
            "2 123 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1 2 ACCEPT OK ",
            " 2 123 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1 2 ACCEPT OK",
            "2 123 eni-1 10.0.0.1  10.0.0.2 443 49152 6 10 840 1 2 ACCEPT OK",
            "2 123 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1 2 ACCEPT",
            "2 123 eni-1 10.0.0.1 10.0.0.2 443 http 6 10 840 1 2 ACCEPT OK",
            "2 123 eni-1 ::1 2001:db8::7 443 49152 6 10 840 1 2 ACCEPT OK",
            "2 123 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 84000000000000000 1 2 ACCEPT OK",
            "2 123 eni-1 10.0.0.1 10.0.0.2 443 49152 6 - - - - - NODATA",
            "2 123 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1 2 accept OK",
            "2 123 eni-1 10.0.0.1 10.0.0.2 443 99999 6 10 840 1 2 ACCEPT OK",
            "2 123 eni-1 10.0.0.1 10.0.0.256 443 49152 6 10 840 1 2 ACCEPT OK",
            "x 123 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1 2 ACCEPT OK",
            "ACCEPT 123 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1 2 ACCEPT OK",
        ];
        let mut text = String::new();
        let mut state = 7u32;
        for i in 0..6000 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let pick = (state >> 8) as usize;
            match i % 2000 {
                0 => text += &format!("{}\n", Field::DEFAULT_FORMAT.map(|f| f.name()).join(" ")),
                1000 => text += &format!("{v5_header}\n"),
                _ if pick.is_multiple_of(9) => text += &format!("{}\n", odd[pick / 9 % odd.len()]),
                _ if i % 2000 > 1000 => {
                    text += &format!("{}\n", V5.replace("443", &(pick % 65536).to_string()))
                }
                _ => text += &format!("{V2}\n").replace("20641", &(pick % 65536).to_string()),
            }
        }
        text += V2;
        let run = |lines: Lines| {
            let mut seen = Vec::new();
            let out = decode_lines(
                text.as_bytes(),
                &Arc::new(Layout::default_v2()),
                Unit::Line,
                &mut |r: &Record<'_>| seen.push(format!("{:?}", r.values())),
                lines,
            );
            (seen, out.counts, out.tally, out.end_layout)
        };
        let (want, got) = (run(Lines::OneByOne), run(Lines::Indexed));
        assert!(
            want.0.len() > 4000 && want.2.total() > 300,
            "{} {} {:?}",
            want.0.len(),
            want.2.total(),
            &want.2.examples()[..3],
        );
        assert_eq!(got.0.len(), want.0.len());
        for (g, w) in got.0.iter().zip(&want.0) {
            assert_eq!(g, w);
        }
        assert_eq!((got.1, &got.2, &got.3), (want.1, &want.2, &want.3));
    }

    #[test]
    fn find_space_agrees_with_a_plain_search() {
        let text = b"a bb ccc dddddddd eeeeeeeeeeeeeeeee f\xff\x80 gg  h";
        for from in 0..text.len() {
            let want = text[from..]
                .iter()
                .position(|&b| b == b' ')
                .map_or(text.len(), |p| from + p);
            assert_eq!(find_space(text, from), want, "from {from}");
        }
        assert_eq!(find_space(b"", 0), 0);
        assert_eq!(find_space(b"nospaceatallhere", 3), 16);
    }

    #[test]
    fn invalid_utf8_is_rejected_not_dropped() {
        let text = b"srcport\n\xff\xfe\n7\n";
        let mut n = 0;
        let out = decode_block(
            text,
            &Arc::new(Layout::default_v2()),
            Unit::Line,
            &mut |_: &Record<'_>| n += 1,
        );
        assert_eq!(n, 1);
        assert_eq!(out.tally.count_of(Reason::InvalidUtf8), 1);
    }

    #[test]
    fn nodata_and_skipdata_are_counted() {
        let text = "2 123456789010 eni-1 - - - - - - - 1431280876 1431280934 - NODATA\n\
                    2 123456789010 eni-2 - - - - - - - 1431280876 1431280934 - SKIPDATA\n";
        let (seen, out) = decode(text, Layout::default_v2());
        assert_eq!(seen.len(), 2);
        assert_eq!((out.counts.nodata, out.counts.skipdata), (1, 1));
    }
}
