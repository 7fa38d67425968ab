//! `flowfence aggregate`: flow logs and inventory in, the observed connections table out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use flowfence_aggregate::{Basis, Observations, Side, Table};
use flowfence_flowlog::{Progress, Reader};
use flowfence_inventory::Inventory;

use crate::Failure;
use crate::cli::AggregateArgs;
use crate::inputs;
use crate::progress::Ticker;
use crate::summary;

pub(crate) fn run(args: AggregateArgs) -> Result<(), Failure> {
    let parquet = match &args.out {
        Some(out) => match out.extension().and_then(|e| e.to_str()) {
            Some("parquet") => true,
            Some("csv") => false,
            _ => {
                return Err(Failure::Usage(anyhow!(
                    "{}: name the output *.csv or *.parquet",
                    out.display()
                )));
            }
        },
        None => false,
    };
    let progress = Arc::new(Progress::default());
    let options = inputs::read_options(&args.input, &progress)?;
    let files = inputs::inventory_files(&args.inventory)?;
    let inventory = Inventory::load(&files).map_err(|e| Failure::BadInput(e.into()))?;
    let discovery = inputs::discover_logs(&args.logs)?;
    let reader = Reader::new(discovery.sources.clone(), options);

    let ticker = Ticker::start(&progress, discovery.sources.len() as u64, args.quiet);
    let (observations, report) = reader.fold(Observations::default, Observations::merge);
    drop(ticker);
    if let (true, Some(first)) = (args.input.strict, report.first_rejection()) {
        return Err(Failure::BadInput(anyhow!(
            "{} (--strict stops at the first rejected line)",
            first.display(&report.source_name(first))
        )));
    }
    let table = observations.finish(&inventory);

    let written = match (&args.out, parquet) {
        (Some(path), true) => std::fs::File::create(path)
            .map_err(anyhow::Error::from)
            .and_then(|f| {
                table
                    .write_parquet(std::io::BufWriter::new(f))
                    .map_err(anyhow::Error::from)
            })
            .and_then(|mut w| w.flush().map_err(anyhow::Error::from))
            .with_context(|| format!("cannot write {}", path.display())),
        (Some(path), false) => std::fs::write(path, table.to_csv())
            .with_context(|| format!("cannot write {}", path.display())),
        (None, _) => std::io::stdout()
            .lock()
            .write_all(table.to_csv().as_bytes())
            .context("writing the table"),
    };
    written.map_err(Failure::Io)?;

    if !args.quiet {
        eprint!("{}", summary::render(&report, &discovery.skipped, 0));
        eprint!(
            "{}",
            render_table_summary(&table, &inventory, observations.connections())
        );
    }
    Ok(())
}

/// What the table holds and what a reviewer should look at.
fn render_table_summary(table: &Table, inventory: &Inventory, connections: usize) -> String {
    let mut s = String::new();
    let (servers, clients) = table.rows.iter().fold((0, 0), |(sv, cl), r| match r.side {
        Side::Server => (sv + 1, cl),
        Side::Client => (sv, cl + 1),
    });
    let _ = writeln!(
        s,
        "  connections {connections} observed -> {} rows ({servers} served, {clients} opened)",
        table.rows.len()
    );
    let mut bases: BTreeMap<Basis, u64> = BTreeMap::new();
    for r in &table.rows {
        *bases.entry(r.basis).or_default() += 1;
    }
    let bases: Vec<String> = bases
        .iter()
        .map(|(b, n)| format!("{} {n}", b.name()))
        .collect();
    let _ = writeln!(s, "  rows decided by: {}", bases.join(", "));
    if !table.ambiguous.is_empty() {
        let _ = writeln!(
            s,
            "  ambiguous connections (direction not determinable): {}",
            table.ambiguous.len()
        );
        for (iface, k) in table.ambiguous.iter().take(5) {
            let _ = writeln!(
                s,
                "    {iface}: protocol {} {}:{} <-> {}:{}",
                k.protocol, k.a.addr, k.a.port, k.b.addr, k.b.port
            );
        }
    }
    if table.path_connections > 0 {
        let _ = writeln!(
            s,
            "  connections on group-less interfaces (NAT gateways: paths, not rows): {}",
            table.path_connections
        );
    }
    if !table.missing_interfaces.is_empty() {
        let _ = writeln!(
            s,
            "  interfaces in the logs but not in the inventory: {}",
            table.missing_interfaces.join(", ")
        );
    }
    if table.records_without_interface > 0 {
        let _ = writeln!(
            s,
            "  records without an interface id: {}",
            table.records_without_interface
        );
    }
    let rejected: u64 = table.rejected.iter().map(|r| r.3.records).sum();
    let _ = writeln!(
        s,
        "  REJECT records (traffic already blocked): {rejected} toward {} (interface, protocol, port) pairs",
        table.rejected.len()
    );
    let (nodata, skipdata) = table
        .gaps
        .iter()
        .fold((0, 0), |(n, k), g| (n + g.1, k + g.2));
    let _ = writeln!(
        s,
        "  coverage: NODATA {nodata}, SKIPDATA {skipdata} on {} interfaces",
        table.gaps.len()
    );
    let issues = inventory.issues();
    if !issues.is_empty() {
        let _ = writeln!(s, "  inventory issues: {}", issues.len());
        for i in issues.iter().take(5) {
            let _ = writeln!(s, "    {i}");
        }
    }
    s
}
