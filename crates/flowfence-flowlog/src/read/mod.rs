//! Reading many sources in parallel: the schedules (this module), the jobs they run
//! (`jobs`), each source's layout chain (`chain`), and what a run read (`report`).
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

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use rayon::prelude::*;

use crate::decode::RecordSink;
use crate::input::{self, InputFormat, Next, Opened};
use crate::layout::Layout;
use crate::parquet_input;
use crate::source::Source;

/// How sources are read.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
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

mod chain;
mod jobs;
mod report;

use chain::{Chain, ensure_chain};
use jobs::{Done, Producer, SourceJobs};
use report::SourceTotals;
pub use report::{Progress, Report};

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
            Opened::Parquet(p) => parquet_input::probe_parquet(p).ok().map(Arc::new),
            Opened::Json(_) => None,
            Opened::Text(mut reader) => {
                let mut block = Bytes::new();
                if !matches!(
                    reader.next_block(&mut block),
                    Next::Block | Next::Failed { .. }
                ) {
                    return None;
                }
                Layout::opening_header(&block)
                    .or_else(|| Layout::export_prefixed(&block, &self.initial))
                    .map(Arc::new)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{BlockOutcome, decode_block};
    use crate::output::text::{NdjsonEncoder, write_ndjson};
    use crate::record::Record;
    use crate::reject::{Reason, Unit};

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
                &include_bytes!("../../testdata/fuzz-parquet-negative-column-start.parquet")[..],
            ),
            (
                "broken-json-array",
                &include_bytes!("../../testdata/fuzz-broken-json-array.json")[..],
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
