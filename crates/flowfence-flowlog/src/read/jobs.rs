//! Jobs, the unit of parallel work: a block of text, a whole JSON envelope or a whole
//! Parquet file, produced in input order (reading ahead a block at a time) and run into
//! a sink part.

use std::io;
use std::sync::Arc;

use bytes::Bytes;

use crate::decode::{BlockOutcome, Counts, RecordSink, decode_block};
use crate::input::{self, BlockReader, InputFormat, Next, Opened, ParquetInput};
use crate::json;
use crate::layout::Layout;
use crate::parquet_input;
use crate::reject::{Tally, Unit};
use crate::source::Source;

/// Why a source stopped early.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) message: String,
    pub(super) partial_line: bool,
}

/// A unit of parallel work.
pub(super) struct Job {
    pub(super) source: usize,
    /// The source's first job: it starts with the source's initial layout.
    pub(super) first: bool,
    pub(super) payload: Payload,
    pub(super) input_bytes: u64,
}

pub(super) enum Payload {
    /// Whole lines of text, and whether reading stopped with an error after them.
    Text {
        block: Bytes,
        failure: Option<Failure>,
    },
    /// A whole JSON envelope.
    Json(Bytes),
    /// A whole Parquet source.
    /// A Parquet file, and whether it must be OCSF (`--input-format ocsf`).
    Parquet(ParquetInput, bool),
    /// The source could not be opened.
    Unopenable(io::Error),
}

/// A job's results, with what is needed to run it again.
pub(super) struct Done {
    pub(super) source: usize,
    pub(super) first: bool,
    pub(super) start: Arc<Layout>,
    pub(super) outcome: BlockOutcome,
    pub(super) failure: Option<Failure>,
    pub(super) input_bytes: u64,
    pub(super) control_messages: u64,
    pub(super) unit: Unit,
    pub(super) event_map: Option<json::Unwrapped>,
    /// JSON envelope rejections, already numbered by event.
    pub(super) envelope: Tally,
    /// The block, kept for a re-run (text jobs only).
    pub(super) block: Option<Bytes>,
    /// A source's first job found a CloudWatch Logs export (a time before each record).
    pub(super) exported: bool,
}

impl Job {
    /// A cheap guess of the layout in force after this job, if it starts with `start`:
    /// the block's opening header if it has one (as every S3 text object does), else
    /// `start`. Headers further inside a block are rare and caught when checked.
    pub(super) fn predict_end(&self, start: &Arc<Layout>) -> Arc<Layout> {
        let Payload::Text { block, .. } = &self.payload else {
            return Arc::clone(start);
        };
        let start = first_layout(self.first, block, start);
        match Layout::opening_header(block) {
            Some(header) if header != *start => Arc::new(header),
            _ => start,
        }
    }

    pub(super) fn run(self, start: Arc<Layout>, sink: &mut impl RecordSink) -> Done {
        let Job {
            source,
            first,
            payload,
            input_bytes,
        } = self;
        let mut done = Done {
            source,
            first,
            start: Arc::clone(&start),
            outcome: BlockOutcome {
                counts: Counts::default(),
                tally: Tally::default(),
                end_layout: Arc::clone(&start),
            },
            failure: None,
            input_bytes,
            control_messages: 0,
            unit: Unit::Line,
            event_map: None,
            envelope: Tally::default(),
            block: None,
            exported: false,
        };
        match payload {
            Payload::Text { block, failure } => {
                let layout = first_layout(first, &block, &start);
                done.exported = first && layout.is_export();
                done.outcome = decode_block(&block, &layout, Unit::Line, sink);
                done.failure = failure;
                done.block = Some(block);
            }
            Payload::Json(content) => {
                let mut unwrapped = json::unwrap(&content);
                done.unit = Unit::Event;
                done.outcome = decode_block(&unwrapped.text, &start, Unit::Event, sink);
                // Envelope rejections are already numbered by event, and events without a
                // message had no line: count them as looked at.
                done.envelope = std::mem::take(&mut unwrapped.tally);
                done.outcome.counts.lines += unwrapped.skipped_events.len() as u64;
                done.outcome.counts.text_bytes = content.len() as u64;
                done.control_messages = unwrapped.control_messages;
                unwrapped.text = Vec::new();
                done.event_map = Some(unwrapped);
            }
            Payload::Parquet(input, ocsf) => {
                done.unit = Unit::Row;
                let mut counts = Counts::default();
                let mut tally = Tally::default();
                if let Err(e) =
                    parquet_input::read_parquet(input, ocsf, sink, &mut counts, &mut tally)
                {
                    let message = format!("not a readable Parquet flow log: {e}");
                    done.failure = Some(Failure {
                        message,
                        partial_line: false,
                    });
                }
                counts.text_bytes = input_bytes;
                done.outcome.counts = counts;
                done.outcome.tally = tally;
                // Parquet carries its own layout; it does not continue a text layout.
                done.outcome.end_layout = Arc::clone(&start);
            }
            Payload::Unopenable(e) => {
                done.failure = Some(Failure {
                    message: format!("cannot read: {e}"),
                    partial_line: false,
                });
            }
        }
        done
    }
}

/// The layout a text job decodes with: `start`, or for a source's first job that turns
/// out to be a CloudWatch Logs export, `start` behind the export time.
fn first_layout(first: bool, block: &[u8], start: &Arc<Layout>) -> Arc<Layout> {
    match first
        .then(|| Layout::export_prefixed(block, start))
        .flatten()
    {
        Some(exported) => Arc::new(exported),
        None => Arc::clone(start),
    }
}

impl Done {
    /// Decodes a text job again from a different starting layout.
    pub(super) fn rerun(mut self, start: Arc<Layout>, sink: &mut impl RecordSink) -> Done {
        let block = self
            .block
            .take()
            .expect("only text jobs change layout mid-stream");
        self.outcome = decode_block(&block, &start, Unit::Line, sink);
        self.start = start;
        self.block = Some(block);
        self
    }
}

/// Produces the jobs of a list of sources in order, reading ahead one block at a time.
pub(super) struct Producer<'a> {
    pub(super) sources: &'a [Source],
    pub(super) next: usize,
    pub(super) current: Option<SourceJobs>,
    pub(super) format: InputFormat,
    pub(super) block_size: usize,
}

impl Producer<'_> {
    pub(super) fn take(&mut self, n: usize) -> Vec<Job> {
        let mut jobs = Vec::with_capacity(n);
        while jobs.len() < n {
            if let Some(job) = self.current.as_mut().and_then(SourceJobs::next) {
                jobs.push(job);
                continue;
            }
            if self.next >= self.sources.len() {
                break;
            }
            self.current = Some(SourceJobs::new(
                self.next,
                &self.sources[self.next],
                self.format,
                self.block_size,
            ));
            self.next += 1;
        }
        jobs
    }
}

/// The jobs of one source: its text blocks in order, or a single JSON/Parquet job.
pub(super) struct SourceJobs {
    pub(super) source: usize,
    pub(super) state: SourceState,
    pub(super) emitted: usize,
    pub(super) block_size: usize,
}

pub(super) enum SourceState {
    Unopened(Source, InputFormat),
    Text(BlockReader),
    Done,
}

impl SourceJobs {
    pub(super) fn new(
        source: usize,
        src: &Source,
        format: InputFormat,
        block_size: usize,
    ) -> SourceJobs {
        SourceJobs {
            source,
            state: SourceState::Unopened(src.clone(), format),
            emitted: 0,
            block_size,
        }
    }

    pub(super) fn next(&mut self) -> Option<Job> {
        let mut input_bytes = 0;
        if let SourceState::Unopened(src, format) = &self.state {
            input_bytes = match src {
                Source::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                Source::Memory { data, .. } => data.len() as u64,
                Source::Stdin => 0,
            };
            let payload = match input::open(src, *format) {
                Ok(Opened::Text(mut reader)) => {
                    if self.block_size > 0 {
                        reader.set_block_size(self.block_size);
                    }
                    self.state = SourceState::Text(reader);
                    None
                }
                Ok(Opened::Json(content)) => Some(Payload::Json(content)),
                Ok(Opened::Parquet(p)) => Some(Payload::Parquet(p, *format == InputFormat::Ocsf)),
                Err(e) => Some(Payload::Unopenable(e)),
            };
            if let Some(payload) = payload {
                self.state = SourceState::Done;
                return Some(self.job(payload, input_bytes));
            }
        }
        let SourceState::Text(reader) = &mut self.state else {
            return None;
        };
        let mut block = Bytes::new();
        let payload = match reader.next_block(&mut block) {
            Next::Block => Payload::Text {
                block,
                failure: None,
            },
            Next::End => {
                self.state = SourceState::Done;
                // An empty source still yields one job, so it is counted as read.
                if self.emitted > 0 {
                    return None;
                }
                Payload::Text {
                    block,
                    failure: None,
                }
            }
            Next::Failed {
                error,
                partial_line,
            } => {
                self.state = SourceState::Done;
                Payload::Text {
                    block,
                    failure: Some(Failure {
                        message: describe_read_error(&error),
                        partial_line,
                    }),
                }
            }
        };
        Some(self.job(payload, input_bytes))
    }

    pub(super) fn job(&mut self, payload: Payload, input_bytes: u64) -> Job {
        self.emitted += 1;
        Job {
            source: self.source,
            first: self.emitted == 1,
            payload,
            input_bytes,
        }
    }
}

pub(super) fn describe_read_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "the compressed stream is truncated".to_string(),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            format!("the compressed stream is corrupt ({e})")
        }
        _ => format!("read error: {e}"),
    }
}
