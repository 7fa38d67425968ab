//! Turning the input flags into sources and read options, for every command that reads
//! flow logs.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use flowfence_flowlog::{Discovery, InputFormat, Layout, Progress, ReadOptions, discover};

use crate::Failure;
use crate::cli::{InputArgs, InputFormatArg};

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
    Ok(ReadOptions {
        layout: layout.map(Arc::new),
        input_format: match args.input_format {
            InputFormatArg::Auto => InputFormat::Auto,
            InputFormatArg::Text => InputFormat::Text,
            InputFormatArg::CloudwatchJson => InputFormat::CloudWatchJson,
            InputFormatArg::JsonLines => InputFormat::JsonLines,
            InputFormatArg::Parquet => InputFormat::Parquet,
        },
        strict: args.strict,
        progress: Some(Arc::clone(progress)),
        ..ReadOptions::default()
    })
}
