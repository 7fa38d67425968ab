//! `flowfence inventory fetch`, and `--inventory live` (a fetch into a temporary folder).

use std::path::PathBuf;

use anyhow::anyhow;
use flowfence_fetch::{FetchOptions, fetch_blocking};

use crate::cli::FetchArgs;
use crate::failure::Failure;

/// `flowfence inventory fetch`.
pub(crate) fn fetch(args: FetchArgs, quiet: bool) -> Result<(), Failure> {
    let options = FetchOptions {
        out: args.out,
        regions: args.regions,
        all_regions: args.all_regions,
        role_arns: args.role_arns,
        profile: args.profile,
        progress: !quiet,
    };
    let report = fetch_blocking(&options).map_err(|e| Failure::Io(e.into()))?;
    if !quiet {
        // Each region's line was printed as it ended.
        eprint!("{}", report.totals());
    } else if !report.failures.is_empty() {
        eprint!("{}", report.summary());
    }
    if report.fetched.is_empty() {
        return Err(Failure::Io(anyhow!("nothing was fetched")));
    }
    if !report.failures.is_empty() {
        return Err(Failure::CheckFailed(anyhow!(
            "{} failed (named above); what was fetched is in {}",
            report.failures.len(),
            options.out.display()
        )));
    }
    Ok(())
}

/// `--inventory live`: the caller's account in its configured region, fetched into a
/// temporary folder that lives as long as the returned guard.
pub(crate) fn live(quiet: bool) -> Result<(tempfile::TempDir, PathBuf), Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::Io(e.into()))?;
    let options = FetchOptions {
        out: dir.path().to_path_buf(),
        ..FetchOptions::default()
    };
    let report = fetch_blocking(&options).map_err(|e| Failure::Io(e.into()))?;
    if !quiet {
        eprint!("inventory live: {}", report.summary());
    }
    if !report.failures.is_empty() || report.fetched.is_empty() {
        return Err(Failure::Io(anyhow!(
            "--inventory live: the fetch failed:\n{}",
            report.summary()
        )));
    }
    let path = dir.path().to_path_buf();
    Ok((dir, path))
}
