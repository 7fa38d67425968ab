//! `flowfence parse`: read flow logs, write the records.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use flowfence_aggregate::Stamped;
use flowfence_flowlog::{Discovery, Progress, ReadSummary, Reader, Report, Source, write_records};
use flowfence_s3::{Fetched, S3Uri};

use crate::cli::{OutputArg, ParseArgs};
use crate::failure::Failure;
use crate::logs::{discover_logs, read_options, strict_check};
use crate::progress::Ticker;
use crate::s3;

pub(crate) fn run(args: ParseArgs, quiet: bool) -> Result<(), Failure> {
    let input = args.input.with_legacy(args.legacy_layout);
    // Flags first: a bad --format is reported before any file is looked at.
    let progress = Arc::new(Progress::default());
    let options = read_options(&input, &progress)?;
    let (remote, local): (Vec<&PathBuf>, Vec<&PathBuf>) = args
        .paths
        .iter()
        .partition(|p| S3Uri::is_s3(&p.to_string_lossy()));
    let remote: Vec<String> = remote
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let local: Vec<PathBuf> = local.into_iter().cloned().collect();
    let discovery = if local.is_empty() {
        Discovery::default()
    } else {
        discover_logs(&local)?
    };
    let to_terminal = args.out.is_none() && io::stdout().is_terminal();
    if args.output == OutputArg::Parquet && to_terminal {
        return Err(Failure::Usage(anyhow!(
            "refusing to write Parquet to a terminal: give -o FILE or redirect stdout"
        )));
    }
    // CSV and Parquet need every input's layout before the first row: S3 objects are all
    // fetched first for them (NDJSON streams them batch by batch).
    let whole = matches!(args.output, OutputArg::Csv | OutputArg::Parquet);
    let mut fetched = Fetched::default();
    let strict = input.strict || args.s3.s3_strict;
    // The S3 objects, a batch at a time: gathered whole for CSV and Parquet, streamed
    // for NDJSON.
    let each_batch = |fetched: &mut Fetched,
                      f: &mut dyn FnMut(Vec<Stamped>) -> Result<(), Failure>| {
        s3::each_batch(
            &remote,
            &args.s3,
            strict,
            quiet,
            &mut |objects, _| objects,
            fetched,
            f,
        )
    };
    let mut sources = discovery.sources.clone();
    if whole {
        for source in &mut sources {
            // stdin can be read only once: hold it in memory where it can be looked at
            // first.
            if *source == Source::Stdin {
                let mut data = Vec::new();
                io::stdin()
                    .read_to_end(&mut data)
                    .context("reading stdin")
                    .map_err(Failure::Io)?;
                *source = Source::Memory {
                    name: "<stdin>".into(),
                    data: data.into(),
                };
            }
        }
        each_batch(&mut fetched, &mut |batch| {
            sources.extend(batch.into_iter().map(|s| s.source));
            Ok(())
        })?;
    }

    let mut out: Box<dyn Write + Send> = match &args.out {
        Some(path) => Box::new(BufWriter::with_capacity(
            1 << 20,
            File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))
                .map_err(Failure::Io)?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 20, io::stdout())),
    };
    let mut report = Report::default();
    let mut dropped = 0;
    if !sources.is_empty() {
        let reader = Reader::new(sources, options.clone());
        let ticker = Ticker::start(&progress, reader.sources().len() as u64, quiet);
        let written = write_records(&reader, args.output.format(), &mut out);
        drop(ticker);
        let written = written.map_err(|e| Failure::Io(e.into()))?;
        report.append(written.report);
        dropped += written.not_written;
    }
    if !whole {
        each_batch(&mut fetched, &mut |batch| {
            let reader = Reader::new(
                batch.into_iter().map(|s| s.source).collect(),
                options.clone(),
            );
            let written = write_records(&reader, args.output.format(), &mut out)
                .map_err(|e| Failure::Io(e.into()))?;
            report.append(written.report);
            dropped += written.not_written;
            Ok(())
        })?;
    }
    out.flush()
        .context("writing the output")
        .map_err(Failure::Io)?;
    drop(out);

    let summary = ReadSummary {
        report: &report,
        skipped: &discovery.skipped,
        not_written: dropped,
    };
    if !quiet {
        eprint!("{summary}{fetched}");
    }
    if let Some(path) = &args.stats_json {
        let json = summary.to_json();
        std::fs::write(
            path,
            serde_json::to_vec_pretty(&json).expect("JSON values serialize"),
        )
        .with_context(|| format!("cannot write {}", path.display()))
        .map_err(Failure::Io)?;
    }
    strict_check(&input, &report)
}
