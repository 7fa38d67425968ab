//! Rejected input: why, where, and how many. Nothing the parser skips goes uncounted.

use std::collections::BTreeMap;
use std::fmt;

/// Why a line (or a whole source) was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The line has more or fewer fields than its layout.
    FieldCount,
    /// An integer field holds something that is not a decimal number.
    NotANumber,
    /// An integer field's value is too large for its kind (a port above 65535).
    OutOfRange,
    /// An address field holds something that is not an IPv4 or IPv6 address.
    BadAddress,
    /// `action`, `log-status` or `flow-direction` holds an unknown value.
    BadEnum,
    /// The line is not valid UTF-8.
    InvalidUtf8,
    /// The input ended inside this line: a truncated or corrupt compressed stream.
    Truncated,
    /// A JSON envelope that could not be read, or an event without a `message`.
    BadEnvelope,
    /// A column in the file that the output schema has no place for.
    ColumnNotInSchema,
    /// The source could not be read past this point (I/O error, corrupt compression).
    Unreadable,
}

impl Reason {
    /// A stable machine-readable name (`field-count`, `not-a-number`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Reason::FieldCount => "field-count",
            Reason::NotANumber => "not-a-number",
            Reason::OutOfRange => "out-of-range",
            Reason::BadAddress => "bad-address",
            Reason::BadEnum => "bad-enum",
            Reason::InvalidUtf8 => "invalid-utf8",
            Reason::Truncated => "truncated",
            Reason::BadEnvelope => "bad-envelope",
            Reason::ColumnNotInSchema => "column-not-in-schema",
            Reason::Unreadable => "unreadable",
        }
    }

    /// A short description, for summaries.
    pub fn describe(self) -> &'static str {
        match self {
            Reason::FieldCount => "wrong number of fields",
            Reason::NotANumber => "not a number",
            Reason::OutOfRange => "number out of range",
            Reason::BadAddress => "not an IP address",
            Reason::BadEnum => "unknown value",
            Reason::InvalidUtf8 => "not valid UTF-8",
            Reason::Truncated => "input ends inside the line (truncated or corrupt)",
            Reason::BadEnvelope => "unreadable JSON envelope",
            Reason::ColumnNotInSchema => "column not in the output schema",
            Reason::Unreadable => "source unreadable",
        }
    }
}

impl From<crate::value::ValueError> for Reason {
    fn from(e: crate::value::ValueError) -> Reason {
        use crate::value::ValueError;
        match e {
            ValueError::NotANumber => Reason::NotANumber,
            ValueError::OutOfRange => Reason::OutOfRange,
            ValueError::BadAddress => Reason::BadAddress,
            ValueError::BadEnum => Reason::BadEnum,
        }
    }
}

impl Unit {
    /// `line`, `event` or `row`.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Line => "line",
            Unit::Event => "event",
            Unit::Row => "row",
        }
    }
}

/// What a position in a source counts: lines of text, events of a JSON envelope, or rows
/// of a Parquet file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    /// A line of a text file (1-based).
    Line,
    /// A log event of a JSON envelope (1-based, in file order).
    Event,
    /// A row of a Parquet file (1-based).
    Row,
}

/// Where a rejection happened: the source's index in the run's source list and the
/// position within it (0 when the problem is the source as a whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// Index of the source in the run.
    pub source: usize,
    /// 1-based line, event or row; 0 for the source as a whole.
    pub position: u64,
    /// What `position` counts.
    pub unit: Unit,
}

/// One rejected line, kept as an example for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Where.
    pub location: Location,
    /// Why.
    pub reason: Reason,
    /// The column involved, when one is.
    pub field: Option<String>,
    /// The specifics: the bad token and what was expected.
    pub detail: String,
}

impl Rejection {
    /// Renders `name:line: field `f`: detail`, with `name` the source's display name.
    pub fn display<'a>(&'a self, source_name: &'a str) -> impl fmt::Display + 'a {
        DisplayRejection {
            rejection: self,
            source_name,
        }
    }
}

struct DisplayRejection<'a> {
    rejection: &'a Rejection,
    source_name: &'a str,
}

impl fmt::Display for DisplayRejection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.rejection;
        f.write_str(self.source_name)?;
        match (r.location.position, r.location.unit) {
            (0, _) => {}
            (n, Unit::Line) => write!(f, ":{n}")?,
            (n, Unit::Event) => write!(f, ": event {n}")?,
            (n, Unit::Row) => write!(f, ": row {n}")?,
        }
        if let Some(field) = &r.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", r.detail)
    }
}

/// Counts of rejections by reason and field, and the first few examples in input order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    counts: BTreeMap<(Reason, Option<String>), u64>,
    examples: Vec<Rejection>,
}

impl Tally {
    /// How many examples a tally keeps.
    pub const EXAMPLES: usize = 10;

    /// Records one rejection.
    pub fn add(&mut self, rejection: Rejection) {
        *self
            .counts
            .entry((rejection.reason, rejection.field.clone()))
            .or_default() += 1;
        self.keep_example(rejection);
    }

    fn keep_example(&mut self, rejection: Rejection) {
        if self.examples.len() < Self::EXAMPLES {
            self.examples.push(rejection);
            self.examples.sort_by_key(|r| r.location);
        } else if rejection.location < self.examples[Self::EXAMPLES - 1].location {
            self.examples[Self::EXAMPLES - 1] = rejection;
            self.examples.sort_by_key(|r| r.location);
        }
    }

    /// Adds the tally of a later run whose sources come after `offset` sources of this
    /// one (its examples' source indices are shifted by `offset`).
    pub fn merge_after(&mut self, mut other: Tally, offset: usize) {
        for ex in &mut other.examples {
            ex.location.source += offset;
        }
        self.merge(other);
    }

    /// Adds another tally's counts and examples (keeping the earliest examples overall).
    pub fn merge(&mut self, other: Tally) {
        for (key, n) in other.counts {
            *self.counts.entry(key).or_default() += n;
        }
        for ex in other.examples {
            self.keep_example(ex);
        }
    }

    /// Total rejections.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Counts by (reason, field), ordered by reason then field.
    pub fn counts(&self) -> impl Iterator<Item = (Reason, Option<&str>, u64)> + '_ {
        self.counts
            .iter()
            .map(|((reason, field), n)| (*reason, field.as_deref(), *n))
    }

    /// The earliest rejections, in input order.
    pub fn examples(&self) -> &[Rejection] {
        &self.examples
    }

    /// The count for one reason, over all fields.
    pub fn count_of(&self, reason: Reason) -> u64 {
        self.counts
            .iter()
            .filter(|((r, _), _)| *r == reason)
            .map(|(_, n)| n)
            .sum()
    }

    /// True when nothing was rejected.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The examples' positions, in order (for tests).
    #[cfg(test)]
    pub(crate) fn positions(&self) -> Vec<u64> {
        self.examples.iter().map(|r| r.location.position).collect()
    }

    /// In strict mode only the first rejection matters; the rest were not looked for in
    /// every source, so counting them would mislead.
    pub(crate) fn truncate_for_strict(&mut self, strict: bool) {
        if strict && self.total() > 0 {
            let first = self.examples()[0].clone();
            *self = Tally::default();
            self.add(first);
        }
    }

    /// Renumbers every example's position (0, the source as a whole, stays 0).
    pub(crate) fn map_positions(&mut self, f: impl Fn(u64) -> u64) {
        for ex in &mut self.examples {
            if ex.location.position != 0 {
                ex.location.position = f(ex.location.position);
            }
        }
    }

    /// Moves every position by `offset` and sets the source index: a block's tally uses
    /// block-relative positions until the block's place in its source is known.
    pub(crate) fn rebase(&mut self, source: usize, offset: u64) {
        for ex in &mut self.examples {
            ex.location.source = source;
            if ex.location.position != 0 {
                ex.location.position += offset;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rej(source: usize, line: u64, reason: Reason) -> Rejection {
        Rejection {
            location: Location {
                source,
                position: line,
                unit: Unit::Line,
            },
            reason,
            field: Some("dstport".into()),
            detail: "`http` is not a port (0-65535)".into(),
        }
    }

    #[test]
    fn merge_keeps_counts_and_earliest_examples() {
        let mut a = Tally::default();
        for line in 20..40 {
            a.add(rej(1, line, Reason::NotANumber));
        }
        let mut b = Tally::default();
        b.add(rej(0, 7, Reason::FieldCount));
        a.merge(b);
        assert_eq!(a.total(), 21);
        assert_eq!(a.count_of(Reason::NotANumber), 20);
        assert_eq!(a.examples().len(), Tally::EXAMPLES);
        assert_eq!(a.examples()[0].location.source, 0);
        assert_eq!(a.examples()[1].location.position, 20);
    }

    #[test]
    fn display_names_file_line_and_field() {
        let r = rej(0, 1042, Reason::NotANumber);
        assert_eq!(
            r.display("sample.log.gz").to_string(),
            "sample.log.gz:1042: field `dstport`: `http` is not a port (0-65535)"
        );
    }
}
