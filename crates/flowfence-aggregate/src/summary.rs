//! The summary of a connections table printed after `aggregate`, `merge` and `run`.

use std::fmt::{self, Write as _};

use flowfence_inventory::Inventory;

use crate::direction::{Basis, Outcome};
use crate::table::{AmbiguousConnection, Row, Side, Table};

/// Counts over a table's rows for its summary, kept as the rows pass: a table written
/// as it is built ([`crate::Observations::finish_streaming`]) is summarised without
/// its rows in memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowTally {
    /// Rows.
    pub rows: u64,
    /// Rows where the interface served.
    pub served: u64,
    /// Rows by the basis they were decided on, by its index in [`Basis::ALL`].
    pub bases: [u64; 6],
    /// Runs of rows spilled to temporary files as the table was built (under a memory
    /// limit, when the evidence store spilled too).
    pub spilled_runs: u64,
}

impl RowTally {
    /// The tally of `rows`.
    pub fn of(rows: &[Row]) -> RowTally {
        let mut tally = RowTally::default();
        rows.iter().for_each(|r| tally.add(r));
        tally
    }

    /// Counts one more row.
    pub fn add(&mut self, row: &Row) {
        self.rows += 1;
        self.served += u64::from(row.side == Side::Server);
        self.bases[row.basis as usize] += 1;
    }
}

/// What the table holds and what a reviewer should look at: rows by side and by how
/// they were decided, ambiguous connections, paths, interfaces the inventory lacks,
/// REJECTs, coverage gaps and inventory issues. Each line is indented by two spaces.
#[derive(Clone, Copy, Debug)]
pub struct TableSummary<'a> {
    /// The table (its rows may have been streamed out: `rows` counts them).
    pub table: &'a Table,
    /// Its rows' tally.
    pub rows: RowTally,
    /// The inventory it was built with.
    pub inventory: &'a Inventory,
    /// Distinct connections observed (before they became rows).
    pub connections: usize,
}

impl fmt::Display for TableSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl TableSummary<'_> {
    fn render(&self) -> String {
        let (table, inventory, connections) = (self.table, self.inventory, self.connections);
        let mut s = String::new();
        let rows = self.rows;
        let _ = writeln!(
            s,
            "  connections {connections} observed -> {} rows ({} served, {} opened)",
            rows.rows,
            rows.served,
            rows.rows - rows.served
        );
        let bases: Vec<String> = Basis::ALL
            .iter()
            .filter(|b| rows.bases[**b as usize] > 0)
            .map(|b| format!("{} {}", b.name(), rows.bases[*b as usize]))
            .collect();
        let _ = writeln!(s, "  rows decided by: {}", bases.join(", "));
        if rows.spilled_runs > 0 {
            let _ = writeln!(
                s,
                "  rows built within the memory limit: {} runs of rows spilled to temporary files",
                rows.spilled_runs
            );
        }
        if !table.attempts.is_empty() {
            let refused = table
                .attempts
                .iter()
                .filter(|a| a.outcome == Outcome::Refused)
                .count();
            let _ = writeln!(
                s,
                "  TCP attempts that never opened (not needs, not rows): {} ({refused} refused by RST, {} never answered)",
                table.attempts.len(),
                table.attempts.len() - refused
            );
        }
        if !table.ambiguous.is_empty() {
            let _ = writeln!(
                s,
                "  ambiguous connections (direction not determinable): {}",
                table.ambiguous.len()
            );
            for AmbiguousConnection {
                interface_id: iface,
                key: k,
            } in table.ambiguous.iter().take(5)
            {
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
        let rejected: u64 = table.rejected.iter().map(|r| r.totals.records).sum();
        let _ = writeln!(
            s,
            "  REJECT records (traffic already blocked): {rejected} toward {} (interface, protocol, port) pairs",
            table.rejected.len()
        );
        let (nodata, skipdata) = table
            .gaps
            .iter()
            .fold((0, 0), |(n, k), g| (n + g.gaps.nodata, k + g.gaps.skipdata));
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
}
