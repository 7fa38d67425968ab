//! `flowfence propose` (logs and inventory in, the migration plan out) and
//! `flowfence verify` (a plan replayed against the logs).

use std::fmt::Write as _;
use std::io::Write;

use anyhow::{Context, anyhow};
use flowfence_aggregate::Table;
use flowfence_inventory::Inventory;
use flowfence_propose::verify::{self, Broken, End};
use flowfence_propose::{Check, Direction, Filter, GroupChange, Options, Plan, Shaping, propose};

use crate::Failure;
use crate::aggregate::{load_inventory_files, observe_logs};
use crate::cli::{
    ExportArgs, InputArgs, PlanArgs, PlanFormatArg, ProposeArgs, S3Args, TrafficArgs, VerifyArgs,
};

pub(crate) fn run(args: ProposeArgs) -> Result<(), Failure> {
    let input = InputArgs {
        format: args.log_format.clone(),
        input_format: args.input_format,
        strict: args.strict,
    };
    let (table, inventory) = connections_table(&args.traffic, &input, &args.s3, args.quiet)?;
    let plan = propose(&table, &inventory, &plan_options(&args.plan, &args.s3)?)
        .map_err(|e| Failure::Usage(anyhow!(e)))?;
    write_as(&plan, args.format, args.out.as_deref())?;
    if !args.quiet {
        eprint!(
            "{}{}",
            render_plan_summary(&plan),
            render_check(&plan.check, None, "  ")
        );
    }
    Ok(())
}

/// A replay check's figures, each line after `indent`; with `broken`, the connections
/// that would break are named (`verify`), without, the summary points to `verify`.
pub(crate) fn render_check(check: &Check, broken: Option<&[Broken]>, indent: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{indent}observed connections: {} (distinct client, server, protocol, port)",
        check.connections
    );
    let _ = writeln!(
        s,
        "{indent}broken under the plan: {}{}",
        check.broken,
        match (check.broken, broken) {
            (0, _) => " (every accepted connection stays allowed)",
            (_, Some(_)) => "",
            (_, None) => " (`flowfence verify` names them)",
        }
    );
    for b in broken.into_iter().flatten() {
        let _ = writeln!(
            s,
            "{indent}  {} -> {} protocol {} port {}: no {} rule allows it",
            end(&b.client),
            end(&b.server),
            b.protocol,
            b.port,
            b.missing
        );
    }
    let _ = writeln!(
        s,
        "{indent}allowed but never used (interface pairs x observed service ports): now {}, after the plan {}",
        check.allowed_unused_before, check.allowed_unused_after
    );
    if check.broken_today > 0 {
        let _ = writeln!(
            s,
            "{indent}note: today's rules would not allow {} of the accepted connections (the inventory may be older or newer than the logs)",
            check.broken_today
        );
    }
    s
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

pub(crate) fn verify(args: VerifyArgs) -> Result<(), Failure> {
    let plan = read_plan(&args.plan)?;
    let (table, inventory) = connections_table(&args.traffic, &args.input, &args.s3, args.quiet)?;
    let (before, after) = verify::replay(&inventory, &table, &plan)
        .map_err(|e| Failure::BadInput(anyhow!("{}: {e}", args.plan.display())))?;
    print!(
        "{}",
        render_check(
            &Check::from_verdicts(&before, &after),
            Some(&after.broken),
            ""
        )
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
    Ok(Options {
        vpc: args.vpc.clone(),
        tighten: args.groups.clone(),
        filter: Filter {
            min_flows: args.min_flows,
            since: s3.since_seconds()?,
        },
        shaping: Shaping {
            port_gap: args.port_gap,
            widen_v4: args.widen_v4,
            widen_v6: args.widen_v6,
            ..Shaping::default()
        },
        max_rules: args.max_rules,
    })
}

/// The inventory, and the observed connections: from the logs, or from a table
/// `aggregate` wrote.
pub(crate) fn connections_table(
    traffic: &TrafficArgs,
    input: &InputArgs,
    s3: &S3Args,
    quiet: bool,
) -> Result<(Table, Inventory), Failure> {
    let inventory = load_inventory_files(&traffic.inventory)?;
    let Some(path) = &traffic.connections else {
        let table = observe_logs(&traffic.logs, input, s3, quiet)?.finish(&inventory);
        return Ok((table, inventory));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(Failure::Io)?;
    let table = Table::from_csv(&text)
        .with_context(|| {
            format!(
                "{}: not a connections table from `flowfence aggregate`",
                path.display()
            )
        })
        .map_err(Failure::BadInput)?;
    Ok((table, inventory))
}

fn end(e: &End) -> String {
    match e {
        End::Interface(id) => id.clone(),
        End::Net(n) => n.to_string(),
        End::Service(s) => format!("AWS service {s}"),
    }
}

pub(crate) fn render_plan_summary(plan: &Plan) -> String {
    let mut s = String::new();
    let new: Vec<_> = plan.groups.iter().filter(|g| g.new).collect();
    let rules: usize = new.iter().map(|g| g.ingress.len() + g.egress.len()).sum();
    let changed = |c: GroupChange| plan.groups.iter().filter(|g| g.change == c).count();
    let _ = writeln!(
        s,
        "  plan: {} interfaces change groups; {} new groups ({rules} rules), {} tightened in place, {} with rewritten references, {} default groups emptied",
        plan.interfaces.len(),
        new.len(),
        changed(GroupChange::Tighten),
        changed(GroupChange::RewriteReferences),
        changed(GroupChange::Empty),
    );
    for g in plan
        .groups
        .iter()
        .filter(|g| matches!(g.change, GroupChange::Create | GroupChange::Tighten))
    {
        let _ = writeln!(
            s,
            "    {} ({}): {} members, {} ingress, {} egress",
            g.name,
            g.basis,
            g.members.len(),
            g.ingress.len(),
            g.egress.len()
        );
    }
    for w in &plan.widened {
        let direction = w.direction.map_or(String::new(), |d| {
            format!(
                " {}",
                if d == Direction::Ingress {
                    "ingress"
                } else {
                    "egress"
                }
            )
        });
        let _ = writeln!(s, "  widened: {}{direction}: {}", w.subject, w.detail);
    }
    if !plan.dropped.is_empty() {
        let _ = writeln!(s, "  dropped on purpose: {} rows", plan.dropped.len());
    }
    s
}
