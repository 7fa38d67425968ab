//! What a run read: live counters for a progress bar, the totals of sources as jobs
//! finish, and the run's report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::decode::Counts;
use crate::reject::{Reason, Rejection, Tally};
use crate::source::Source;

/// Live counters of a run in progress, updated as jobs finish; another thread can poll
/// them to draw a progress bar.
#[derive(Debug, Default)]
pub struct Progress {
    pub(super) sources: AtomicU64,
    pub(super) text_bytes: AtomicU64,
    pub(super) records: AtomicU64,
}

impl Progress {
    /// Sources finished.
    pub fn sources(&self) -> u64 {
        self.sources.load(Ordering::Relaxed)
    }

    /// Text bytes decoded so far.
    pub fn text_bytes(&self) -> u64 {
        self.text_bytes.load(Ordering::Relaxed)
    }

    /// Records decoded so far.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    pub(super) fn job_done(&self, counts: &Counts) {
        self.text_bytes
            .fetch_add(counts.text_bytes, Ordering::Relaxed);
        self.records.fetch_add(counts.records, Ordering::Relaxed);
    }

    /// Notes that every source before `next` is finished.
    pub(super) fn sources_done(&self, next: usize) {
        self.sources.fetch_max(next as u64, Ordering::Relaxed);
    }
}

/// What a run read, rejected and how long it took.
#[derive(Debug, Default)]
pub struct Report {
    /// The sources, in the order positions in [`Report::tally`] refer to.
    pub sources: Vec<Source>,
    /// Records, statuses, lines and bytes.
    pub counts: Counts,
    /// Rejections by reason, with the first examples.
    pub tally: Tally,
    /// Bytes of input as stored (compressed size for gzip), where known.
    pub input_bytes: u64,
    /// CloudWatch `CONTROL_MESSAGE` documents skipped (destination health checks).
    pub control_messages: u64,
    /// Sources read as CloudWatch Logs exports (`create-export-task`: an ingestion time
    /// before each record).
    pub exported_sources: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// True when `strict` stopped the run early.
    pub stopped_early: bool,
}

impl Report {
    /// Adds the report of a later run (a batch of the same job) after this one's
    /// sources. Sources held in memory are kept by name only, so a long job's report
    /// doesn't hold every object it read.
    pub fn append(&mut self, other: Report) {
        let offset = self.sources.len();
        self.sources
            .extend(other.sources.into_iter().map(|s| match s {
                Source::Memory { name, .. } => Source::Memory {
                    name,
                    data: bytes::Bytes::new(),
                },
                other => other,
            }));
        self.counts.add(&other.counts);
        self.tally.merge_after(other.tally, offset);
        self.input_bytes += other.input_bytes;
        self.control_messages += other.control_messages;
        self.exported_sources += other.exported_sources;
        self.elapsed += other.elapsed;
        self.stopped_early |= other.stopped_early;
    }

    /// The display name of the source a rejection refers to.
    pub fn source_name(&self, rejection: &Rejection) -> String {
        self.sources
            .get(rejection.location.source)
            .map_or_else(|| "<unknown>".to_string(), Source::display_name)
    }

    /// Lines (events, rows) that are neither records, headers, blank nor rejected: always
    /// zero, since nothing is dropped silently. Exposed for tests and fuzzing.
    pub fn unaccounted_lines(&self) -> i128 {
        let c = &self.counts;
        let rejected_lines = self.tally.total() - self.tally.count_of(Reason::Unreadable);
        i128::from(c.lines) - i128::from(c.records + c.headers + c.blank + rejected_lines)
    }

    /// The earliest rejection, which `strict` turns into the run's error.
    pub fn first_rejection(&self) -> Option<&Rejection> {
        self.tally.examples().first()
    }

    pub(super) fn absorb(&mut self, outcome: SourceTotals) {
        self.counts.add(&outcome.counts);
        self.tally.merge(outcome.tally);
        self.input_bytes += outcome.input_bytes;
        self.control_messages += outcome.control_messages;
        self.exported_sources += outcome.exported_sources;
    }
}

/// Totals of one or more sources.
#[derive(Debug, Default)]
pub(super) struct SourceTotals {
    pub(super) counts: Counts,
    pub(super) tally: Tally,
    pub(super) input_bytes: u64,
    pub(super) control_messages: u64,
    pub(super) exported_sources: u64,
    pub(super) stopped_early: bool,
}

impl SourceTotals {
    pub(super) fn merge(&mut self, other: SourceTotals) {
        self.counts.add(&other.counts);
        self.tally.merge(other.tally);
        self.input_bytes += other.input_bytes;
        self.control_messages += other.control_messages;
        self.exported_sources += other.exported_sources;
        self.stopped_early |= other.stopped_early;
    }
}
