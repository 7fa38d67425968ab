//! Reading flow logs, for every command that reads them: the sources under the paths
//! given, read options from the flags, and the one way logs become observations
//! (local files and `s3://` locations, resumable with a checkpoint).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use flowfence_aggregate::{Checkpoint, Ingest, Observations, Stamped, file_stamp};
use flowfence_flowlog::{
    Discovery, InputFormat, Layout, Progress, ReadOptions, ReadSummary, Report, Source, discover,
};
use flowfence_s3::{Fetched, S3Uri};

use crate::cli::{InputArgs, InputFormatArg, S3Args, StoreArgs};
use crate::failure::{Failure, ingest_failure};
use crate::progress::Ticker;

/// The flow log sources under `paths`; finding none is a usage error.
pub(crate) fn discover_logs(paths: &[PathBuf]) -> Result<Discovery, Failure> {
    let discovery = discover(paths).map_err(|e| Failure::Io(e.into()))?;
    if discovery.sources.is_empty() {
        let given: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Failure::Usage(anyhow!(
            "no flow log files found under {} ({} other files skipped)",
            given.join(", "),
            discovery.skipped.len()
        )));
    }
    Ok(discovery)
}

/// Read options from the flags (a bad `--format` is a usage error).
pub(crate) fn read_options(
    args: &InputArgs,
    progress: &Arc<Progress>,
) -> Result<ReadOptions, Failure> {
    let layout = args
        .log_format
        .as_deref()
        .map(Layout::parse_format)
        .transpose()
        .context("--log-format")
        .map_err(Failure::Usage)?;
    let mut options = ReadOptions::default();
    options.layout = layout.map(Arc::new);
    options.input_format = match args.input_format {
        InputFormatArg::Auto => InputFormat::Auto,
        InputFormatArg::Text => InputFormat::Text,
        InputFormatArg::CloudwatchJson => InputFormat::CloudWatchJson,
        InputFormatArg::JsonLines => InputFormat::JsonLines,
        InputFormatArg::Parquet => InputFormat::Parquet,
        InputFormatArg::Ocsf => InputFormat::Ocsf,
    };
    options.strict = args.strict;
    options.progress = Some(Arc::clone(progress));
    Ok(options)
}

/// `--memory-limit`, else a quarter of physical memory (`None` where that can't be
/// read).
pub(crate) fn memory_limit(store: &StoreArgs) -> Option<u64> {
    store.memory_limit.or_else(|| {
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        let kib: u64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024 / 4)
    })
}

/// What reading the logs gave: the store, and the reading summary to print.
pub(crate) struct Observed {
    /// Everything read.
    pub(crate) observations: Observations,
    /// The reading summary (ReadSummary and the S3 line).
    pub(crate) summary: String,
}

/// Reads local paths and `s3://` locations into one store: the one way every command
/// reads logs into observations. Local files are one batch, S3 objects batches bounded
/// in bytes; with `checkpoint`, the store and the list of sources read are saved there
/// between batches (spaced out, and when the run ends, even on an error), and a run that
/// finds the file resumes from it. Under `--strict`, the first rejected line fails it.
pub(crate) fn observe(
    paths: &[PathBuf],
    input: &InputArgs,
    s3: &S3Args,
    store: &StoreArgs,
    quiet: bool,
    checkpoint: Option<Checkpoint>,
) -> Result<Observed, Failure> {
    let mut ingest = Ingest::start(checkpoint, memory_limit(store)).map_err(ingest_failure)?;
    let mut fetched = Fetched::default();
    let progress = Arc::new(Progress::default());
    let options = read_options(input, &progress)?;
    let (remote, local): (Vec<&PathBuf>, Vec<&PathBuf>) = paths
        .iter()
        .partition(|p| S3Uri::is_s3(&p.to_string_lossy()));

    // Local files: one batch; a file is done if its name, size and modification time
    // match.
    let mut skipped = Vec::new();
    if !local.is_empty() {
        let local: Vec<PathBuf> = local.into_iter().cloned().collect();
        let discovery = discover_logs(&local)?;
        skipped = discovery.skipped;
        let stamped = discovery
            .sources
            .into_iter()
            .map(|source| {
                let stamp = match &source {
                    Source::File(p) => file_stamp(p),
                    _ => String::new(),
                };
                Stamped { source, stamp }
            })
            .collect();
        // A file whose size and time can't be read is read again.
        let todo = ingest.pending(stamped, |s| {
            (!s.stamp.is_empty()).then(|| (s.source.display_name(), s.stamp.as_str()))
        });
        let ticker = Ticker::start(&progress, todo.len() as u64, quiet);
        ingest.read_batch(todo, &options).map_err(ingest_failure)?;
        drop(ticker);
    }

    // S3: batches bounded in bytes, fetched concurrently, read in parallel.
    let remote: Vec<String> = remote
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let strict = s3.s3_strict || input.strict;
    // Both callbacks use the one job, one after the other.
    let shared = std::cell::RefCell::new(&mut ingest);
    let read = crate::s3::each_batch(
        &remote,
        s3,
        strict,
        quiet,
        &mut |objects, name| {
            shared
                .borrow_mut()
                .pending(objects, |o| Some((name(o), o.etag.as_str())))
        },
        &mut fetched,
        &mut |batch| {
            shared
                .borrow_mut()
                .read_batch(batch, &options)
                .map_err(ingest_failure)
        },
    );
    // A run stopped by an error still keeps what its finished batches read.
    let saved = ingest.close().map_err(ingest_failure);
    read?;
    saved?;
    fetched.resumed = ingest.resumed();
    let (observations, report) = ingest.finish().map_err(ingest_failure)?;
    strict_check(input, &report)?;
    let summary = ReadSummary {
        report: &report,
        skipped: &skipped,
        not_written: 0,
    };
    let spilled = spill_line(&observations, store);
    Ok(Observed {
        observations,
        summary: format!("{summary}{fetched}{spilled}"),
    })
}

/// What the memory limit moved to disk, for the reading summary: nothing when nothing
/// spilled, else the runs and the limit (and a spill that failed, whose entries stayed
/// in memory).
pub(crate) fn spill_line(observations: &Observations, store: &StoreArgs) -> String {
    let mut out = String::new();
    let limit = memory_limit(store).map_or("none".to_string(), |b| match b {
        b if b < 1 << 20 => format!("{} KiB", b >> 10),
        b if b < 1 << 30 => format!("{} MiB", b >> 20),
        b => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
    });
    if observations.spills() > 0 {
        out.push_str(&format!(
            "  memory limit {limit}: {} sorted runs of connections spilled to temporary files\n",
            observations.spills()
        ));
    }
    if let Some(e) = observations.spill_error() {
        out.push_str(&format!(
            "  memory limit {limit}: a spill failed ({e}); its connections stayed in memory\n"
        ));
    }
    out
}

/// Under `--strict`, the first rejected line fails the run.
pub(crate) fn strict_check(input: &InputArgs, report: &Report) -> Result<(), Failure> {
    match (input.strict, report.first_rejection()) {
        (true, Some(first)) => Err(Failure::BadInput(anyhow!(
            "{} (--strict stops at the first rejected line)",
            first.display(&report.source_name(first))
        ))),
        _ => Ok(()),
    }
}
