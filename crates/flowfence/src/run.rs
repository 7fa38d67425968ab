//! `flowfence run`: the whole job (read, aggregate, propose, verify) with a summary of
//! each stage on stdout.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use flowfence_aggregate::{RowTally, TableSummary};
use flowfence_propose::{CheckReport, PlanSummary, propose};

use crate::aggregate::load_inventory_files;
use crate::cli::RunArgs;
use crate::failure::Failure;
use crate::logs::{Observed, observe};
use crate::propose::{plan_options, unbroken, write_plan};

pub(crate) fn run(args: RunArgs, quiet: bool) -> Result<(), Failure> {
    let logs = located(&args.logs, args.dir.as_deref(), "logs", "--logs")?;
    let inventory_paths = located(
        &args.inventory,
        args.dir.as_deref(),
        "inventory",
        "--inventory",
    )?;
    let inventory = load_inventory_files(&inventory_paths, args.aws_ranges.path.as_deref(), quiet)?;
    let input = args.input.with_legacy(args.legacy_layout);
    let Observed {
        observations,
        summary: read_summary,
    } = observe(&logs, &input, &args.s3, &args.store, quiet, None)?;
    let connections = observations.connections();
    let table = observations.finish(&inventory);
    let plan = propose(&table, &inventory, &plan_options(&args.plan, &args.s3)?)
        .map_err(|e| Failure::Usage(anyhow!(e)))?;
    if let Some(out) = &args.out {
        write_plan(&plan, Some(out))?;
    }

    let mut s = String::new();
    let names = |paths: &[PathBuf]| -> String {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(s, "1. read the flow logs ({})", names(&logs));
    s.push_str(&read_summary);
    let _ = writeln!(
        s,
        "2. aggregate: the observed connections (inventory: {})",
        names(&inventory_paths)
    );
    let _ = write!(
        s,
        "{}",
        TableSummary {
            table: &table,
            rows: RowTally::of(&table.rows),
            inventory: &inventory,
            connections,
        }
    );
    let _ = writeln!(
        s,
        "3. propose: least-privilege groups and the migration plan"
    );
    let _ = write!(s, "{}", PlanSummary(&plan));
    let _ = writeln!(
        s,
        "4. verify: the logs replayed against the plan's final state"
    );
    let _ = write!(
        s,
        "{}",
        CheckReport {
            check: &plan.check,
            broken: None,
            indent: "  ",
        }
    );
    match &args.out {
        Some(out) => {
            let _ = writeln!(
                s,
                "plan written to {} ({} steps; `flowfence verify --plan {}` replays new logs against it)",
                out.display(),
                plan.steps.len(),
                out.display()
            );
        }
        None => {
            let _ = writeln!(s, "the plan was not written: add -o plan.json to keep it");
        }
    }
    print!("{s}");
    unbroken(plan.check.broken)
}

/// The paths given, else `dir/name` (which must exist).
fn located(
    given: &[PathBuf],
    dir: Option<&Path>,
    name: &str,
    flag: &str,
) -> Result<Vec<PathBuf>, Failure> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let dir = dir.ok_or_else(|| Failure::Usage(anyhow!("give DIR or {flag}")))?;
    let path = dir.join(name);
    if path.is_dir() {
        Ok(vec![path])
    } else {
        Err(Failure::Usage(anyhow!(
            "{}: no `{name}` directory here; name it with {flag} PATH",
            dir.display()
        )))
    }
}
