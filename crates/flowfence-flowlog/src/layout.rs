//! Layouts: which field each column of a record holds.
//!
//! A layout comes from the header line of an S3 text file, from the flow log's format string
//! (`${version} ${account-id} ...`) for header-less sources, from a Parquet schema, or is the
//! default v2 layout. Unknown field names are kept, as text columns.

use std::fmt;

use crate::field::{Field, Kind};

/// One column of a layout.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    /// A field in the catalogue.
    Known(Field),
    /// A field name the catalogue does not know (a newer version): kept as text.
    Unknown(Box<str>),
}

impl Column {
    /// The column's field name, hyphenated.
    pub fn name(&self) -> &str {
        match self {
            Column::Known(f) => f.name(),
            Column::Unknown(name) => name,
        }
    }

    /// How the column's tokens are parsed.
    pub fn kind(&self) -> Kind {
        match self {
            Column::Known(f) => f.kind(),
            Column::Unknown(_) => Kind::Text,
        }
    }

    fn from_name(name: &str) -> Column {
        match Field::from_name(name) {
            Some(f) => Column::Known(f),
            None => Column::Unknown(name.into()),
        }
    }
}

/// An ordered list of columns, with a constant-time index from field to column.
#[derive(Clone, PartialEq, Eq)]
pub struct Layout {
    columns: Vec<Column>,
    kinds: Vec<Kind>,
    /// `position[field as usize]` is the column holding `field`, or `NONE`.
    position: [u16; Field::COUNT],
}

const NONE: u16 = u16::MAX;

/// Why a format string or header cannot be a layout.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// Nothing in it.
    #[error("the format names no fields")]
    Empty,
    /// A field named twice.
    #[error("field `{0}` appears twice in the format")]
    Duplicate(String),
    /// A token that cannot be a field name.
    #[error("`{0}` is not a field name (expected names like `dstport` or `${{dstport}}`)")]
    BadName(String),
    /// More columns than a record may have.
    #[error("the format has {0} fields; at most 1000 are supported")]
    TooMany(usize),
}

impl Layout {
    /// The default format: the 14 version 2 fields.
    pub fn default_v2() -> Layout {
        Layout::from_columns(
            Field::DEFAULT_FORMAT
                .iter()
                .map(|&f| Column::Known(f))
                .collect(),
        )
        .expect("the default format is a valid layout")
    }

    /// Parses a format string as the user gives it: AWS's `${version} ${account-id} ...`,
    /// or plain names separated by spaces or commas (`version account-id ...`).
    pub fn parse_format(format: &str) -> Result<Layout, LayoutError> {
        let mut columns = Vec::new();
        for token in format.split(|c: char| c.is_ascii_whitespace() || c == ',') {
            if token.is_empty() {
                continue;
            }
            let name = token
                .strip_prefix("${")
                .and_then(|t| t.strip_suffix('}'))
                .unwrap_or(token);
            if !is_field_name(name.as_bytes()) {
                return Err(LayoutError::BadName(token.to_string()));
            }
            columns.push(Column::from_name(name));
        }
        Layout::from_columns(columns)
    }

    /// Builds a layout from columns (field names must not repeat).
    pub fn from_columns(columns: Vec<Column>) -> Result<Layout, LayoutError> {
        if columns.is_empty() {
            return Err(LayoutError::Empty);
        }
        if columns.len() > 1000 {
            return Err(LayoutError::TooMany(columns.len()));
        }
        let mut position = [NONE; Field::COUNT];
        for (i, c) in columns.iter().enumerate() {
            let dup = match c {
                Column::Known(f) => std::mem::replace(&mut position[*f as usize], i as u16) != NONE,
                Column::Unknown(name) => columns[..i].iter().any(|o| o.name() == &**name),
            };
            if dup {
                return Err(LayoutError::Duplicate(c.name().to_string()));
            }
        }
        let kinds = columns.iter().map(Column::kind).collect();
        Ok(Layout {
            columns,
            kinds,
            position,
        })
    }

    /// The layout a block of text declares on its first non-blank line, if that line is
    /// a header (as the first line of every S3 text object is).
    pub(crate) fn opening_header(block: &[u8]) -> Option<Layout> {
        let first = block
            .split(|&b| b == b'\n')
            .map(<[u8]>::trim_ascii)
            .find(|l| !l.is_empty())?;
        Layout::from_header_line(std::str::from_utf8(first).ok()?)
    }

    /// The layout of a CloudWatch Logs export (`aws logs create-export-task`): when the
    /// block's first non-blank line starts with an ISO-8601 time, every line is that
    /// time (when CloudWatch ingested the event), a space and a record of `base`. The
    /// time becomes an [`EXPORT_TIME`] column before `base`'s.
    pub(crate) fn export_prefixed(block: &[u8], base: &Layout) -> Option<Layout> {
        if base
            .columns
            .first()
            .is_some_and(|c| c.name() == EXPORT_TIME)
        {
            return None;
        }
        let first = block
            .split(|&b| b == b'\n')
            .map(<[u8]>::trim_ascii)
            .find(|l| !l.is_empty())?;
        let token = first.split(|&b| b == b' ').next()?;
        if !is_iso_time(token) {
            return None;
        }
        let mut columns = vec![Column::Unknown(EXPORT_TIME.into())];
        columns.extend(base.columns.iter().cloned());
        Layout::from_columns(columns).ok()
    }

    /// Whether the layout is a CloudWatch Logs export's (its first column the export time).
    pub fn is_export(&self) -> bool {
        self.columns
            .first()
            .is_some_and(|c| c.name() == EXPORT_TIME)
    }

    /// Recognises a header line: every token is a field name and most of them are known
    /// (so a data line of ids, such as `eni-0a1b i-0c2d`, is never taken for a header).
    /// Returns the layout it declares, or `None` if the line is not a header.
    pub fn from_header_line(line: &str) -> Option<Layout> {
        let mut known = 0usize;
        let mut total = 0usize;
        for token in line.split(' ') {
            if !is_field_name(token.as_bytes()) {
                return None;
            }
            total += 1;
            known += usize::from(Field::from_name(token).is_some());
        }
        if known == 0 || known * 2 < total {
            return None;
        }
        Layout::parse_format(line).ok()
    }

    /// The columns in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The parse kind of every column, in order.
    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Layouts are never empty; present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The column holding `field`, if the layout has it.
    #[inline]
    pub fn position(&self, field: Field) -> Option<usize> {
        let p = self.position[field as usize];
        (p != NONE).then_some(p as usize)
    }

    /// The column with this name (hyphenated), known or not.
    pub fn position_of_name(&self, name: &str) -> Option<usize> {
        match Field::from_name(name) {
            Some(f) => self.position(f),
            None => self.columns.iter().position(|c| c.name() == name),
        }
    }

    /// The layout as a header line: names separated by single spaces.
    pub fn header_line(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(Column::name).collect();
        names.join(" ")
    }

    /// The union of several layouts: this layout's columns, then each other layout's
    /// columns not already present, in order of first appearance.
    pub fn union<'a>(layouts: impl IntoIterator<Item = &'a Layout>) -> Option<Layout> {
        let mut columns: Vec<Column> = Vec::new();
        for layout in layouts {
            for c in &layout.columns {
                if !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
        }
        Layout::from_columns(columns).ok()
    }
}

impl fmt::Debug for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Layout({})", self.header_line())
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header_line())
    }
}

/// The column a CloudWatch Logs export puts before each record: when CloudWatch
/// ingested the event (not the flow's time, which `start` and `end` keep).
pub const EXPORT_TIME: &str = "export-time";

/// `2026-11-02T09:00:05.123Z` (or without fractions, or with a `+hh:mm` offset).
fn is_iso_time(t: &[u8]) -> bool {
    let digits =
        |r: std::ops::Range<usize>| t.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let at = |i: usize, c: u8| t.get(i) == Some(&c);
    if !(digits(0..4)
        && at(4, b'-')
        && digits(5..7)
        && at(7, b'-')
        && digits(8..10)
        && at(10, b'T')
        && digits(11..13)
        && at(13, b':')
        && digits(14..16)
        && at(16, b':')
        && digits(17..19))
    {
        return false;
    }
    let mut rest = &t[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest {
        b"Z" => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// `[a-z][a-z0-9-]*` with `_` allowed for Parquet-style names: what a field name looks
/// like. Numbers, addresses and `-` never match.
fn is_field_name(token: &[u8]) -> bool {
    match token.split_first() {
        Some((first, rest)) => {
            first.is_ascii_lowercase()
                && rest.iter().all(|&b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                })
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_strings_in_aws_and_plain_spelling() {
        let aws = Layout::parse_format("${version} ${account-id} ${tcp-flags}").unwrap();
        let plain = Layout::parse_format("version account-id,tcp-flags").unwrap();
        assert_eq!(aws, plain);
        assert_eq!(aws.position(Field::TcpFlags), Some(2));
        assert_eq!(aws.position(Field::DstPort), None);
    }

    #[test]
    fn unknown_fields_are_text_columns() {
        let l = Layout::parse_format("version next-hop-id dstport").unwrap();
        assert_eq!(l.columns()[1], Column::Unknown("next-hop-id".into()));
        assert_eq!(l.kinds(), &[Kind::Int32, Kind::Text, Kind::Port]);
        assert_eq!(l.position_of_name("next-hop-id"), Some(1));
    }

    #[test]
    fn bad_formats_are_errors() {
        assert_eq!(Layout::parse_format(""), Err(LayoutError::Empty));
        assert_eq!(
            Layout::parse_format("srcport srcport"),
            Err(LayoutError::Duplicate("srcport".into()))
        );
        assert!(matches!(
            Layout::parse_format("srcport 5"),
            Err(LayoutError::BadName(_))
        ));
    }

    #[test]
    fn header_detection() {
        let h = Layout::from_header_line(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
        )
        .unwrap();
        assert_eq!(h, Layout::default_v2());
        // Custom header with a field flowfence does not know yet.
        assert!(Layout::from_header_line("instance-id interface-id some-new-field").is_some());
        // Data lines are not headers, even when all their tokens look like names.
        assert!(Layout::from_header_line("eni-0a1b i-0c2d vpc-1").is_none());
        assert!(
            Layout::from_header_line("2 123456789010 eni-1 - - - - - - - 1 2 - NODATA").is_none()
        );
        assert!(Layout::from_header_line("Phony unsupported log format.").is_none());
    }

    #[test]
    fn cloudwatch_exports_put_a_time_before_each_record() {
        let base = Layout::default_v2();
        let block = b"\n2026-11-02T09:00:05.123Z 2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 41000 6 3 180 1 2 ACCEPT OK\n";
        let l = Layout::export_prefixed(block, &base).unwrap();
        assert!(l.is_export());
        assert_eq!(l.len(), 15);
        assert_eq!(l.columns()[1], base.columns()[0]);
        // Already prefixed, or not a time: nothing to do.
        assert!(Layout::export_prefixed(block, &l).is_none());
        assert!(
            Layout::export_prefixed(b"2 123456789012 eni-1 - - - - - - - 1 2 - NODATA", &base)
                .is_none()
        );
        for ok in [
            "2026-11-02T09:00:05Z",
            "2026-11-02T09:00:05.1Z",
            "2026-11-02T09:00:05+01:00",
        ] {
            assert!(is_iso_time(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "2026-11-02",
            "2026-11-02T09:00:05",
            "2026-11-02T09:00:05.Z",
            "x026-11-02T09:00:05Z",
        ] {
            assert!(!is_iso_time(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn union_keeps_first_appearance_order() {
        let a = Layout::parse_format("version srcaddr").unwrap();
        let b = Layout::parse_format("srcaddr dstaddr version x-new").unwrap();
        let u = Layout::union([&a, &b]).unwrap();
        assert_eq!(u.header_line(), "version srcaddr dstaddr x-new");
    }
}
