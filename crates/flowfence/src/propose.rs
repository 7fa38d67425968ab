//! `flowfence propose` (logs and inventory in, the migration plan out) and
//! `flowfence verify` (a plan replayed against the logs).

use std::io::Write;

use anyhow::{Context, anyhow};
use flowfence_aggregate::Table;
use flowfence_inventory::Inventory;
use flowfence_propose::{
    Check, CheckReport, InternetEgress, Options, Plan, PlanSummary, explain, propose, replay,
};

use crate::aggregate::load_inventory_files;
use crate::cli::{
    ExportArgs, InputArgs, InternetEgressArg, PlanArgs, PlanFormatArg, ProposeArgs, S3Args,
    TightenArg, TrafficArgs, VerifyArgs,
};
use crate::failure::Failure;
use crate::logs::observe;

pub(crate) fn run(args: ProposeArgs, quiet: bool) -> Result<(), Failure> {
    let (table, inventory) = connections_table(&args.traffic, &args.input, &args.s3, quiet)?;
    let plan = propose(&table, &inventory, &plan_options(&args.plan, &args.s3)?)
        .map_err(|e| Failure::Usage(anyhow!(e)))?;
    write_as(&plan, args.format, args.out.as_deref())?;
    if !quiet {
        eprint!(
            "{}{}",
            PlanSummary(&plan),
            CheckReport {
                check: &plan.check,
                broken: None,
                indent: "  "
            }
        );
    }
    Ok(())
}

/// The plan as JSON, to `out` or stdout.
pub(crate) fn write_plan(plan: &Plan, out: Option<&std::path::Path>) -> Result<(), Failure> {
    write_as(plan, PlanFormatArg::Json, out)
}

/// The plan in `format`, to `out` or stdout.
pub(crate) fn write_as(
    plan: &Plan,
    format: PlanFormatArg,
    out: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let format = format.format();
    if out.is_none() && flowfence_export::is_binary(format) {
        return Err(Failure::Usage(anyhow!(
            "Parquet is binary: name the file with -o FILE.parquet"
        )));
    }
    let bytes = flowfence_export::render(plan, format);
    match out {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("cannot write {}", path.display()))
        }
        None => std::io::stdout()
            .lock()
            .write_all(&bytes)
            .context("writing the plan"),
    }
    .map_err(Failure::Io)
}

/// `flowfence export`: a plan file in another form.
pub(crate) fn export(args: ExportArgs) -> Result<(), Failure> {
    let plan = read_plan(&args.plan)?;
    write_as(&plan, args.format, args.out.as_deref())
}

fn read_plan(path: &std::path::Path) -> Result<Plan, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(Failure::Io)?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a flowfence plan", path.display()))
        .map_err(Failure::BadInput)
}

pub(crate) fn verify(args: VerifyArgs, quiet: bool) -> Result<(), Failure> {
    let plan = read_plan(&args.plan)?;
    let input = args.input.with_legacy(args.legacy_layout);
    let (table, inventory) = connections_table(&args.traffic, &input, &args.s3, quiet)?;
    let state = plan.final_state(&inventory);
    let (before, mut after) = replay(&inventory, &table, &state);
    explain(&mut after.broken, &plan, &state, &inventory);
    print!(
        "{}",
        CheckReport {
            check: &Check::from_verdicts(&before, &after),
            broken: Some(&after.broken),
            indent: ""
        }
    );
    unbroken(after.broken.len())
}

/// Fails (exit 1) when the plan would break observed connections.
pub(crate) fn unbroken(broken: usize) -> Result<(), Failure> {
    if broken == 0 {
        Ok(())
    } else {
        Err(Failure::CheckFailed(anyhow!(
            "{broken} observed connections would break under the plan"
        )))
    }
}

/// The proposer's options from the command line.
pub(crate) fn plan_options(args: &PlanArgs, s3: &S3Args) -> Result<Options, Failure> {
    let mut options = Options::default();
    options.vpc = args.vpc.clone();
    options.tighten = args.groups.clone();
    options.force = args.force_groups.clone();
    options.tighten_custom = args.tighten == TightenArg::Custom;
    options.filter.min_flows = args.min_flows;
    options.filter.since = s3.since;
    options.shaping.port_gap = args.port_gap;
    options.shaping.widen_v4 = args.widen_v4;
    options.shaping.widen_v6 = args.widen_v6;
    options.shaping.internet_egress = match args.internet_egress {
        InternetEgressArg::World => InternetEgress::World,
        InternetEgressArg::Exact => InternetEgress::Exact,
    };
    options.max_rules = args.max_rules;
    options.holdout = args.holdout;
    Ok(options)
}

/// The inventory, and the observed connections: from the logs, or from a table
/// `aggregate` wrote.
pub(crate) fn connections_table(
    traffic: &TrafficArgs,
    input: &InputArgs,
    s3: &S3Args,
    quiet: bool,
) -> Result<(Table, Inventory), Failure> {
    let inventory = load_inventory_files(
        &traffic.inventory,
        traffic.aws_ranges.path.as_deref(),
        quiet,
    )?;
    if traffic.connections.is_empty() {
        let observed = observe(&traffic.logs, input, s3, &traffic.store, quiet, None)?;
        if !quiet {
            eprint!("{}", observed.summary);
        }
        let table = observed.observations.finish(&inventory);
        return Ok((table, inventory));
    }
    let table = Table::read_files(&traffic.connections).map_err(|e| Failure::BadInput(e.into()))?;
    Ok((table, inventory))
}
