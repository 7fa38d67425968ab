//! Reading many sources in parallel.
//!
//! Text input is cut into newline-aligned blocks. Blocks (and whole JSON or Parquet
//! sources) are *jobs*; jobs run on the rayon pool, each into its own sink part, and the
//! parts are handed back in input order. Two schedules share that machinery:
//!
//! - [`Reader::fold`], for consumers that don't care about order (aggregation, counting):
//!   with enough sources every worker reads whole sources into its own part; with few
//!   sources, the blocks of each are decoded in parallel.
//! - [`Reader::for_each_ordered`], for writers: one thread reads (and decompresses) ahead
//!   while the pool decodes the previous wave of blocks; parts arrive in input order.
//!
//! A header line can change the layout mid-file, which a block decoded in parallel cannot
//! know about in advance. Each block is decoded with the layout known when its wave
//! started and reports the layout it ended with; when the two disagree (a rare, layout-
//! changing header in an earlier block of the same wave), the block is decoded again.

use std::io;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rayon::prelude::*;

use crate::columnar;
use crate::decode::{BlockOutcome, Counts, RecordSink, decode_block};
use crate::input::{self, BlockReader, InputFormat, Next, Opened, ParquetInput};
use crate::json;
use crate::layout::Layout;
use crate::reject::{Location, Reason, Rejection, Tally, Unit};
use crate::source::Source;

/// How sources are read.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// The layout of header-less input (`--format`); the default v2 layout when `None`.
    /// A header line in a file takes precedence for the lines after it.
    pub layout: Option<Arc<Layout>>,
    /// The input format, or `Auto` to detect it per source.
    pub input_format: InputFormat,
    /// Stop at the first rejected line (in input order) instead of counting and going on.
    pub strict: bool,
    /// Bytes of text per parallel job; 0 for the default (4 MiB).
    pub block_size: usize,
    /// Live counters to show progress from another thread.
    pub progress: Option<Arc<Progress>>,
}

/// Live counters of a run in progress, updated as jobs finish; another thread can poll
/// them to draw a progress bar.
#[derive(Debug, Default)]
pub struct Progress {
    sources: AtomicU64,
    text_bytes: AtomicU64,
    records: AtomicU64,
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

    fn job_done(&self, counts: &Counts) {
        self.text_bytes
            .fetch_add(counts.text_bytes, Ordering::Relaxed);
        self.records.fetch_add(counts.records, Ordering::Relaxed);
    }

    /// Notes that every source before `next` is finished.
    fn sources_done(&self, next: usize) {
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

    fn absorb(&mut self, outcome: SourceTotals) {
        self.counts.add(&outcome.counts);
        self.tally.merge(outcome.tally);
        self.input_bytes += outcome.input_bytes;
        self.control_messages += outcome.control_messages;
    }
}

/// Reads a list of sources with one set of options.
pub struct Reader {
    sources: Vec<Source>,
    options: ReadOptions,
    initial: Arc<Layout>,
}

impl Reader {
    /// A reader of `sources` (see [`crate::discover`]).
    pub fn new(sources: Vec<Source>, options: ReadOptions) -> Reader {
        let initial = options
            .layout
            .clone()
            .unwrap_or_else(|| Arc::new(Layout::default_v2()));
        Reader {
            sources,
            options,
            initial,
        }
    }

    /// The sources, in order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The layout each source starts with: a text file's header, a Parquet schema, or
    /// the `--format`/default layout. Reads only the start of each source; stdin is not
    /// probed (it can be read only once) and gets the `--format`/default layout.
    pub fn probe_layouts(&self) -> Vec<Arc<Layout>> {
        self.sources
            .iter()
            .map(|s| self.probe(s).unwrap_or_else(|| Arc::clone(&self.initial)))
            .collect()
    }

    fn probe(&self, source: &Source) -> Option<Arc<Layout>> {
        if matches!(source, Source::Stdin) {
            return None;
        }
        match input::open(source, self.options.input_format).ok()? {
            Opened::Parquet(p) => columnar::probe_parquet(p).ok().map(Arc::new),
            Opened::Json(_) => None,
            Opened::Text(mut reader) => {
                let mut block = Bytes::new();
                if !matches!(
                    reader.next_block(&mut block),
                    Next::Block | Next::Failed { .. }
                ) {
                    return None;
                }
                let first = block
                    .split(|&b| b == b'\n')
                    .map(|l| l.trim_ascii())
                    .find(|l| !l.is_empty())?;
                Layout::from_header_line(std::str::from_utf8(first).ok()?).map(Arc::new)
            }
        }
    }

    /// Reads everything into parts made by `make`, combined with `merge` (which must not
    /// depend on the order it is called in). Returns the merged part and the report.
    pub fn fold<P, M, F>(&self, make: M, merge: F) -> (P, Report)
    where
        P: RecordSink + Send,
        M: Fn() -> P + Sync,
        F: Fn(P, P) -> P + Sync,
    {
        let started = Instant::now();
        let mut report = Report {
            sources: self.sources.clone(),
            ..Report::default()
        };
        let threads = rayon::current_num_threads();
        let part = if self.sources.len() >= threads && threads > 1 {
            self.fold_by_source(&make, &merge, &mut report)
        } else {
            let mut acc = make();
            let absorb = |p| {
                acc = merge(std::mem::replace(&mut acc, make()), p);
                ControlFlow::Continue(())
            };
            self.run_waves(&make, absorb, &mut report);
            acc
        };
        report.tally.truncate_for_strict(self.options.strict);
        report.elapsed = started.elapsed();
        (part, report)
    }

    /// Every worker reads whole sources, one after another, into its own part.
    fn fold_by_source<P, M, F>(&self, make: &M, merge: &F, report: &mut Report) -> P
    where
        P: RecordSink + Send,
        M: Fn() -> P + Sync,
        F: Fn(P, P) -> P + Sync,
    {
        // In strict mode, sources after the earliest one with a rejection are not read;
        // earlier ones still are, so the reported rejection is the same on every run.
        let stop_after = AtomicUsize::new(usize::MAX);
        let (part, totals) = self
            .sources
            .par_iter()
            .enumerate()
            .fold(
                || (make(), SourceTotals::default()),
                |(mut part, mut totals), (idx, source)| {
                    if idx > stop_after.load(Ordering::Relaxed) {
                        totals.stopped_early = true;
                        return (part, totals);
                    }
                    let mut chain = Chain::new(idx, Arc::clone(&self.initial));
                    let mut jobs = SourceJobs::new(
                        idx,
                        source,
                        self.options.input_format,
                        self.options.block_size,
                    );
                    while let Some(job) = jobs.next() {
                        let done = job.run(chain.layout(), &mut part);
                        self.note_progress(&done);
                        chain.absorb(done, &mut totals);
                        if self.options.strict && !totals.tally.is_empty() {
                            stop_after.fetch_min(idx, Ordering::Relaxed);
                            break;
                        }
                    }
                    if let Some(p) = &self.options.progress {
                        p.sources.fetch_add(1, Ordering::Relaxed);
                    }
                    (part, totals)
                },
            )
            .reduce(
                || (make(), SourceTotals::default()),
                |(a, mut ta), (b, tb)| {
                    ta.merge(tb);
                    (merge(a, b), ta)
                },
            );
        report.stopped_early = totals.stopped_early;
        report.absorb(totals);
        part
    }

    /// Reads everything and hands each part to `consume` in input order: parts cover
    /// consecutive blocks of one source, sources in order. `consume` returning
    /// `ControlFlow::Break` stops the run (a closed pipe, a full disk).
    pub fn for_each_ordered<P, M>(
        &self,
        make: M,
        consume: impl FnMut(P) -> ControlFlow<()>,
    ) -> Report
    where
        P: RecordSink + Send,
        M: Fn() -> P + Sync,
    {
        let started = Instant::now();
        let mut report = Report {
            sources: self.sources.clone(),
            ..Report::default()
        };
        self.run_waves(&make, consume, &mut report);
        report.tally.truncate_for_strict(self.options.strict);
        report.elapsed = started.elapsed();
        report
    }

    /// The wave schedule: read a wave of jobs while the previous wave is decoded in
    /// parallel, then hand its parts on in order.
    fn run_waves<P, M>(
        &self,
        make: &M,
        mut consume: impl FnMut(P) -> ControlFlow<()>,
        report: &mut Report,
    ) where
        P: RecordSink + Send,
        M: Fn() -> P + Sync,
    {
        let wave_len = (rayon::current_num_threads() * 2).max(2);
        let mut producer = Producer {
            sources: &self.sources,
            next: 0,
            current: None,
            format: self.options.input_format,
            block_size: self.options.block_size,
        };
        let mut chains: Vec<Chain> = Vec::new();
        let mut totals = SourceTotals::default();
        let mut wave = producer.take(wave_len);
        while !wave.is_empty() {
            // Layouts known now: the start of every job in this wave.
            // The layout each job starts with: known for a source's first job; for later
            // ones, predicted from the header that opens an earlier block of this wave
            // (checked, and the job decoded again, when the prediction is wrong).
            let starts: Vec<Arc<Layout>> = wave
                .iter()
                .map(|job| {
                    ensure_chain(&mut chains, job.source, &self.initial);
                    let chain = &mut chains[job.source];
                    let start = if job.first {
                        Arc::clone(&self.initial)
                    } else {
                        Arc::clone(&chain.predicted)
                    };
                    chain.predicted = job.predict_end(&start);
                    start
                })
                .collect();
            let (done, next_wave) = rayon::join(
                || {
                    wave.into_par_iter()
                        .zip(starts)
                        .map(|(job, start)| {
                            let mut part = make();
                            let done = job.run(start, &mut part);
                            (done, part)
                        })
                        .collect::<Vec<_>>()
                },
                || producer.take(wave_len),
            );
            for (done, part) in done {
                self.note_progress(&done);
                if let Some(p) = &self.options.progress {
                    p.sources_done(done.source);
                }
                let chain = &mut chains[done.source];
                let part = chain.absorb_checked(done, part, &mut totals, make);
                if consume(part).is_break() || (self.options.strict && !totals.tally.is_empty()) {
                    report.stopped_early = true;
                    report.absorb(totals);
                    return;
                }
            }
            wave = next_wave;
        }
        if let Some(p) = &self.options.progress {
            p.sources_done(self.sources.len());
        }
        report.absorb(totals);
    }

    fn note_progress(&self, done: &Done) {
        if let Some(p) = &self.options.progress {
            p.job_done(&done.outcome.counts);
        }
    }
}

fn ensure_chain(chains: &mut Vec<Chain>, source: usize, initial: &Arc<Layout>) {
    while chains.len() <= source {
        chains.push(Chain::new(chains.len(), Arc::clone(initial)));
    }
}

/// Totals of one or more sources.
#[derive(Debug, Default)]
struct SourceTotals {
    counts: Counts,
    tally: Tally,
    input_bytes: u64,
    control_messages: u64,
    stopped_early: bool,
}

impl SourceTotals {
    fn merge(&mut self, other: SourceTotals) {
        self.counts.add(&other.counts);
        self.tally.merge(other.tally);
        self.input_bytes += other.input_bytes;
        self.control_messages += other.control_messages;
        self.stopped_early |= other.stopped_early;
    }
}

/// The state carried from one job of a source to the next: where its lines are and
/// which layout is in force.
struct Chain {
    source: usize,
    lines: u64,
    /// The layout after the last absorbed job.
    layout: Arc<Layout>,
    /// The layout expected after the last job handed out (see [`Job::predict_end`]).
    predicted: Arc<Layout>,
    initial: Arc<Layout>,
}

impl Chain {
    fn new(source: usize, initial: Arc<Layout>) -> Chain {
        Chain {
            source,
            lines: 0,
            layout: Arc::clone(&initial),
            predicted: Arc::clone(&initial),
            initial,
        }
    }

    fn layout(&self) -> Arc<Layout> {
        Arc::clone(&self.layout)
    }

    /// Like [`absorb`](Self::absorb), but first re-runs the job if it was decoded with a
    /// layout that turned out not to be the one in force at its start.
    fn absorb_checked<P: RecordSink>(
        &mut self,
        done: Done,
        part: P,
        totals: &mut SourceTotals,
        make: &impl Fn() -> P,
    ) -> P {
        let expected = if done.first {
            &self.initial
        } else {
            &self.layout
        };
        if Arc::ptr_eq(&done.start, expected) || *done.start == **expected {
            self.absorb(done, totals);
            return part;
        }
        let mut fresh = make();
        let redone = done.rerun(Arc::clone(expected), &mut fresh);
        self.absorb(redone, totals);
        fresh
    }

    /// Adds a finished job's counts and rejections (made absolute) to `totals`.
    fn absorb(&mut self, done: Done, totals: &mut SourceTotals) {
        let Done {
            mut outcome,
            failure,
            input_bytes,
            control_messages,
            unit,
            event_map,
            envelope,
            block,
            ..
        } = done;
        if let Some(block) = block {
            input::recycle_block(block);
        }
        if let Some(map) = &event_map {
            outcome.tally.map_positions(|line| map.event_of_line(line));
        }
        outcome.tally.merge(envelope);
        outcome.tally.rebase(self.source, self.lines);
        if let Some(failure) = failure {
            let next_line = self.lines + outcome.counts.lines + 1;
            if failure.partial_line {
                outcome.counts.lines += 1;
                outcome.tally.add(Rejection {
                    location: Location {
                        source: self.source,
                        position: next_line,
                        unit,
                    },
                    reason: Reason::Truncated,
                    field: None,
                    detail: "the input ends inside this line".into(),
                });
            }
            outcome.tally.add(Rejection {
                location: Location {
                    source: self.source,
                    position: if failure.partial_line { next_line } else { 0 },
                    unit,
                },
                reason: Reason::Unreadable,
                field: None,
                detail: failure.message,
            });
        }
        self.lines += outcome.counts.lines;
        // Waves are planned only after the previous one is absorbed, so what is known for
        // sure replaces the guess.
        self.predicted = Arc::clone(&outcome.end_layout);
        self.layout = outcome.end_layout;
        totals.counts.add(&outcome.counts);
        totals.tally.merge(outcome.tally);
        totals.input_bytes += input_bytes;
        totals.control_messages += control_messages;
    }
}

/// Why a source stopped early.
#[derive(Debug)]
struct Failure {
    message: String,
    partial_line: bool,
}

/// A unit of parallel work.
struct Job {
    source: usize,
    /// The source's first job: it starts with the source's initial layout.
    first: bool,
    payload: Payload,
    input_bytes: u64,
}

enum Payload {
    /// Whole lines of text, and whether reading stopped with an error after them.
    Text {
        block: Bytes,
        failure: Option<Failure>,
    },
    /// A whole JSON envelope.
    Json(Bytes),
    /// A whole Parquet source.
    Parquet(ParquetInput),
    /// The source could not be opened.
    Unopenable(io::Error),
}

/// A job's results, with what is needed to run it again.
struct Done {
    source: usize,
    first: bool,
    start: Arc<Layout>,
    outcome: BlockOutcome,
    failure: Option<Failure>,
    input_bytes: u64,
    control_messages: u64,
    unit: Unit,
    event_map: Option<json::Unwrapped>,
    /// JSON envelope rejections, already numbered by event.
    envelope: Tally,
    /// The block, kept for a re-run (text jobs only).
    block: Option<Bytes>,
}

impl Job {
    /// A cheap guess of the layout in force after this job, if it starts with `start`:
    /// the block's opening header if it has one (as every S3 text object does), else
    /// `start`. Headers further inside a block are rare and caught when checked.
    fn predict_end(&self, start: &Arc<Layout>) -> Arc<Layout> {
        let Payload::Text { block, .. } = &self.payload else {
            return Arc::clone(start);
        };
        let first = block
            .split(|&b| b == b'\n')
            .map(<[u8]>::trim_ascii)
            .find(|l| !l.is_empty());
        match first
            .and_then(|l| std::str::from_utf8(l).ok())
            .and_then(Layout::from_header_line)
        {
            Some(header) if header != **start => Arc::new(header),
            _ => Arc::clone(start),
        }
    }

    fn run(self, start: Arc<Layout>, sink: &mut impl RecordSink) -> Done {
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
        };
        match payload {
            Payload::Text { block, failure } => {
                done.outcome = decode_block(&block, &start, Unit::Line, sink);
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
            Payload::Parquet(input) => {
                done.unit = Unit::Row;
                let mut counts = Counts::default();
                let mut tally = Tally::default();
                if let Err(e) = columnar::read_parquet(input, sink, &mut counts, &mut tally) {
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

impl Done {
    /// Decodes a text job again from a different starting layout.
    fn rerun(mut self, start: Arc<Layout>, sink: &mut impl RecordSink) -> Done {
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
struct Producer<'a> {
    sources: &'a [Source],
    next: usize,
    current: Option<SourceJobs>,
    format: InputFormat,
    block_size: usize,
}

impl Producer<'_> {
    fn take(&mut self, n: usize) -> Vec<Job> {
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
struct SourceJobs {
    source: usize,
    state: SourceState,
    emitted: usize,
    block_size: usize,
}

enum SourceState {
    Unopened(Source, InputFormat),
    Text(BlockReader),
    Done,
}

impl SourceJobs {
    fn new(source: usize, src: &Source, format: InputFormat, block_size: usize) -> SourceJobs {
        SourceJobs {
            source,
            state: SourceState::Unopened(src.clone(), format),
            emitted: 0,
            block_size,
        }
    }

    fn next(&mut self) -> Option<Job> {
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
                Ok(Opened::Parquet(p)) => Some(Payload::Parquet(p)),
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

    fn job(&mut self, payload: Payload, input_bytes: u64) -> Job {
        self.emitted += 1;
        Job {
            source: self.source,
            first: self.emitted == 1,
            payload,
            input_bytes,
        }
    }
}

fn describe_read_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "the compressed stream is truncated".to_string(),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            format!("the compressed stream is corrupt ({e})")
        }
        _ => format!("read error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;
    use crate::write::{NdjsonEncoder, write_ndjson};

    /// Counts the records it is given.
    #[derive(Default)]
    struct Count(u64);

    impl RecordSink for Count {
        fn record(&mut self, _: &Record<'_>) {
            self.0 += 1;
        }
    }

    fn add(a: Count, b: Count) -> Count {
        Count(a.0 + b.0)
    }

    /// A file whose layout changes twice mid-way, with bad lines sprinkled in.
    fn tricky_text() -> String {
        let mut s = String::new();
        for i in 0..300 {
            if i == 100 {
                s.push_str("srcport dstport action\n");
            }
            if i == 200 {
                s.push_str("dstport srcaddr\n\n");
            }
            match i {
                0..100 => s.push_str(&format!(
                    "2 1 eni-{i} 10.0.0.1 10.0.0.2 {i} 443 6 1 2 3 4 ACCEPT OK\n"
                )),
                100..200 => s.push_str(&format!("{i} 80 REJECT\n")),
                _ => s.push_str(&format!("{i} 10.1.{}.{}\n", i % 7, i % 250)),
            }
            if i % 37 == 0 {
                s.push_str("garbage here\n");
            }
        }
        s
    }

    fn sequential_ndjson(text: &str) -> (Vec<u8>, BlockOutcome) {
        let mut out = Vec::new();
        let outcome = decode_block(
            text.as_bytes(),
            &Arc::new(Layout::default_v2()),
            Unit::Line,
            &mut |r: &Record<'_>| write_ndjson(r, &mut out),
        );
        (out, outcome)
    }

    #[test]
    fn parallel_blocks_match_a_sequential_decode() {
        let text = tricky_text();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tricky.log");
        std::fs::write(&path, &text).unwrap();
        let (expected, outcome) = sequential_ndjson(&text);

        for block_size in [64, 200, 1000, 1 << 20] {
            let options = ReadOptions {
                block_size,
                ..ReadOptions::default()
            };
            let reader = Reader::new(vec![Source::File(path.clone())], options);
            let mut got = Vec::new();
            let report = reader.for_each_ordered(NdjsonEncoder::new, |part| {
                got.extend_from_slice(part.output());
                ControlFlow::Continue(())
            });
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&expected),
                "block size {block_size}"
            );
            assert_eq!(report.counts, outcome.counts);
            assert_eq!(report.tally.total(), outcome.tally.total());
            assert_eq!(report.unaccounted_lines(), 0);
            assert_eq!(report.tally.positions(), outcome.tally.positions());

            let (n, folded) = reader.fold(Count::default, add);
            assert_eq!(n.0, outcome.counts.records);
            assert_eq!(folded.counts, outcome.counts);
        }
    }

    #[test]
    fn fold_over_many_sources_counts_everything() {
        let dir = tempfile::tempdir().unwrap();
        let text = tricky_text();
        let sources: Vec<Source> = (0..7)
            .map(|i| {
                let p = dir.path().join(format!("{i}.log"));
                std::fs::write(&p, &text).unwrap();
                Source::File(p)
            })
            .collect();
        let (_, one) = sequential_ndjson(&text);
        let reader = Reader::new(sources, ReadOptions::default());
        let (records, report) = reader.fold(Count::default, add);
        assert_eq!(records.0, 7 * one.counts.records);
        assert_eq!(report.counts.records, 7 * one.counts.records);
        assert_eq!(report.tally.total(), 7 * one.tally.total());
        assert_eq!(report.tally.examples()[0].location.source, 0);
    }

    #[test]
    fn strict_stops_at_the_first_rejection() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("a.log");
        let bad = dir.path().join("b.log");
        std::fs::write(&good, "srcport\n1\n2\n").unwrap();
        std::fs::write(&bad, "srcport\n1\nx\n3\ny\n").unwrap();
        let options = ReadOptions {
            strict: true,
            ..ReadOptions::default()
        };
        let reader = Reader::new(vec![Source::File(good), Source::File(bad)], options);
        let (_, report) = reader.fold(|| (), |(), ()| ());
        let first = report.first_rejection().unwrap();
        assert_eq!((first.location.source, first.location.position), (1, 3));
        assert_eq!(report.tally.total(), 1);
    }

    #[test]
    fn unreadable_sources_are_counted_and_others_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("a.log");
        std::fs::write(&good, "srcport\n1\n").unwrap();
        let missing = dir.path().join("gone.log");
        let reader = Reader::new(
            vec![Source::File(missing), Source::File(good)],
            ReadOptions::default(),
        );
        let (n, report) = reader.fold(Count::default, add);
        assert_eq!(n.0, 1);
        assert_eq!(report.counts.records, 1);
        assert_eq!(report.tally.count_of(Reason::Unreadable), 1);
        assert!(report.tally.examples()[0].detail.starts_with("cannot read"));
        assert_eq!(report.unaccounted_lines(), 0);
    }

    /// Inputs the fuzzer found: each must be reported as unreadable, never panic, and
    /// leave no line unaccounted for.
    #[test]
    fn fuzz_findings_are_rejections() {
        for (name, data) in [
            (
                "parquet-negative-column-start",
                &include_bytes!("../testdata/fuzz-parquet-negative-column-start.parquet")[..],
            ),
            (
                "broken-json-array",
                &include_bytes!("../testdata/fuzz-broken-json-array.json")[..],
            ),
        ] {
            let source = Source::Memory {
                name: name.into(),
                data: bytes::Bytes::copy_from_slice(data),
            };
            let (_, report) =
                Reader::new(vec![source], ReadOptions::default()).fold(Count::default, add);
            assert_eq!(
                report.tally.count_of(Reason::Unreadable),
                1,
                "{name}: {report:?}"
            );
            assert_eq!(report.unaccounted_lines(), 0, "{name}");
        }
    }

    #[test]
    fn memory_sources_read_like_files() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"srcport dstport\n1 2\n3 x\n").unwrap();
        let data = gz.finish().unwrap();
        let source = Source::Memory {
            name: "s3://b/k.log.gz".into(),
            data: data.into(),
        };
        let reader = Reader::new(vec![source], ReadOptions::default());
        let (n, report) = reader.fold(Count::default, add);
        assert_eq!(n.0, 1);
        let first = report.first_rejection().unwrap();
        assert_eq!(
            first.display(&report.source_name(first)).to_string(),
            "s3://b/k.log.gz:3: field `dstport`: `x` is not a port (0-65535)"
        );
        assert_eq!(report.unaccounted_lines(), 0);
    }
}
