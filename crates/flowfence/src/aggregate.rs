//! `flowfence aggregate` (flow logs and inventory in, the observed connections table out)
//! and `flowfence merge` (partial results in, one partial and optionally the table out).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use flowfence_aggregate::{Checkpoint, Observations, Table, TableSummary};
use flowfence_inventory::{AwsIpRanges, Inventory};
use flowfence_table::{Columns, FileFormat, TableFile};

use crate::cli::{AggregateArgs, MergeArgs, TableArgs};
use crate::failure::{Failure, inventory_failure, partial_failure};
use crate::logs::{Observed, observe};

/// Where the connections table goes.
enum TableOut {
    Stdout,
    File(PathBuf, FileFormat),
    Nowhere,
}

pub(crate) fn run(args: AggregateArgs, quiet: bool) -> Result<(), Failure> {
    let input = args.input.with_legacy(args.legacy_layout);
    let table_out = match (&args.out, &args.partial) {
        (Some(out), _) => TableOut::File(out.clone(), table_format(out)?),
        (None, None) => TableOut::Stdout,
        (None, Some(_)) => TableOut::Nowhere,
    };
    if let Some(p) = &args.partial {
        partial_format(p)?;
    }
    let inventory = load_inventory(&args.table, &table_out)?;
    if let Some(c) = &args.checkpoint {
        partial_format(c)?;
    }
    let checkpoint = args.checkpoint.clone().map(|path| Checkpoint {
        path,
        every: Duration::from_secs(args.checkpoint_every),
    });
    let Observed {
        observations,
        summary,
    } = observe(&args.logs, &input, &args.s3, &args.store, quiet, checkpoint)?;
    if !quiet {
        eprint!("{summary}");
    }
    if let Some(p) = &args.partial {
        write_partial(&observations, p, &[])?;
    }
    emit(observations, inventory, table_out, &args.table, quiet)
}

pub(crate) fn merge(args: MergeArgs, quiet: bool) -> Result<(), Failure> {
    partial_format(&args.out)?;
    let table_out = match &args.connections {
        Some(c) => TableOut::File(c.clone(), table_format(c)?),
        None => TableOut::Nowhere,
    };
    let inventory = load_inventory(&args.table, &table_out)?;
    let mut observations = Observations::default();
    observations.set_memory_limit(crate::logs::memory_limit(&args.store));
    observations
        .read_partials(&args.partials)
        .map_err(partial_failure)?;
    write_partial(&observations, &args.out, &[])?;
    if !quiet {
        eprintln!(
            "flowfence: merged {} partial results: {} connections -> {}",
            args.partials.len(),
            observations.connections(),
            args.out.display()
        );
        eprint!("{}", crate::logs::spill_line(&observations, &args.store));
    }
    emit(observations, inventory, table_out, &args.table, quiet)
}

/// Builds the table (when anything needs it), writes it and the summaries beside it, and
/// prints the review summary.
fn emit(
    observations: Observations,
    inventory: Option<Inventory>,
    table_out: TableOut,
    args: &TableArgs,
    quiet: bool,
) -> Result<(), Failure> {
    let Some(inventory) = inventory else {
        return Ok(());
    };
    let connections = observations.connections();
    // The rows go out a chunk at a time as they are built: under a memory limit they
    // are never all in memory.
    let mut out = match &table_out {
        TableOut::File(path, format) => {
            RowsOut::File(TableFile::create(path, *format).map_err(|e| cannot_write(path, e))?)
        }
        TableOut::Stdout => RowsOut::Stdout { header: false },
        TableOut::Nowhere => RowsOut::Nowhere,
    };
    let (table, rows) = observations
        .finish_streaming(&inventory, &mut |chunk| {
            out.write(&Table::row_columns(&chunk))
        })
        .map_err(|e| match &table_out {
            TableOut::File(path, _) => cannot_write(path, e),
            _ => Failure::Io(anyhow!(e).context("writing the table")),
        })?;
    if let (RowsOut::File(file), TableOut::File(path, _)) = (out, &table_out) {
        file.finish().map_err(|e| cannot_write(path, e))?;
    }
    if let Some(path) = &args.rejected {
        write_columns(&table.rejected_columns(), path, table_format(path)?)?;
    }
    if let Some(path) = &args.gaps {
        write_columns(&table.gaps_columns(), path, table_format(path)?)?;
    }
    if !quiet {
        eprint!(
            "{}",
            TableSummary {
                table: &table,
                rows,
                inventory: &inventory,
                connections
            }
        );
    }
    // The command ends here and the process with it, which returns the memory whole:
    // not freeing the table's strings one by one saved time.
    std::mem::forget(table);
    Ok(())
}

/// Where the rows of the table go as they are built.
enum RowsOut {
    File(TableFile),
    /// CSV on standard output, the header with the first chunk.
    Stdout {
        header: bool,
    },
    Nowhere,
}

impl RowsOut {
    fn write(&mut self, chunk: &Columns) -> std::io::Result<()> {
        match self {
            RowsOut::File(file) => file.write(chunk),
            RowsOut::Stdout { header } => {
                // Formatted whole, then written at once: standard output flushes lines.
                let mut text = Vec::new();
                if !*header {
                    chunk.write_csv_header(&mut text)?;
                    *header = true;
                }
                chunk.write_csv_rows(&mut text)?;
                let mut out = std::io::stdout().lock();
                out.write_all(&text)?;
                out.flush()
            }
            RowsOut::Nowhere => Ok(()),
        }
    }
}

fn cannot_write(path: &Path, e: std::io::Error) -> Failure {
    Failure::Io(anyhow!(e).context(format!("cannot write {}", path.display())))
}

/// The inventory, when a table is to be built: needed for the table itself and for the
/// summaries derived from it.
pub(crate) fn load_inventory_files(
    paths: &[PathBuf],
    aws_ranges: Option<&Path>,
    quiet: bool,
) -> Result<Inventory, Failure> {
    // `--inventory live`: fetched now (unless a file of that name is there).
    let live = matches!(paths, [p] if p.as_os_str() == "live" && !p.exists());
    let mut inventory = if live {
        let (_dir, path) = crate::inventory::live(quiet)?;
        Inventory::load(&[path]).map_err(inventory_failure)?
    } else {
        Inventory::load(paths).map_err(inventory_failure)?
    };
    if let Some(path) = aws_ranges {
        inventory.add_aws_ip_ranges(AwsIpRanges::load(path).map_err(inventory_failure)?);
    }
    Ok(inventory)
}

fn load_inventory(args: &TableArgs, table_out: &TableOut) -> Result<Option<Inventory>, Failure> {
    for path in [&args.rejected, &args.gaps].into_iter().flatten() {
        table_format(path)?;
    }
    let wanted =
        !matches!(table_out, TableOut::Nowhere) || args.rejected.is_some() || args.gaps.is_some();
    if !wanted {
        return Ok(None);
    }
    if args.inventory.is_empty() {
        return Err(Failure::Usage(anyhow!(
            "--inventory is needed to build the connections table (describe-network-interfaces and describe-security-groups output)"
        )));
    }
    load_inventory_files(&args.inventory, None, true).map(Some)
}

fn table_format(path: &Path) -> Result<FileFormat, Failure> {
    FileFormat::of(path).ok_or_else(|| {
        Failure::Usage(anyhow!(
            "{}: name the output *.csv or *.parquet",
            path.display()
        ))
    })
}

fn partial_format(path: &Path) -> Result<(), Failure> {
    match FileFormat::of(path) {
        Some(FileFormat::Parquet) => Ok(()),
        _ => Err(Failure::Usage(anyhow!(
            "{}: partial results are Parquet; name the file *.parquet",
            path.display()
        ))),
    }
}

/// Writes a partial result (`meta` added to its metadata), whole or not at all.
pub(crate) fn write_partial(
    observations: &Observations,
    path: &Path,
    meta: &[(&str, String)],
) -> Result<(), Failure> {
    observations
        .write_partial_file(path, meta)
        .with_context(|| format!("cannot write {}", path.display()))
        .map_err(Failure::Io)
}

fn write_columns(columns: &Columns, path: &Path, format: FileFormat) -> Result<(), Failure> {
    columns
        .write_file(path, format)
        .with_context(|| format!("cannot write {}", path.display()))
        .map_err(Failure::Io)
}
