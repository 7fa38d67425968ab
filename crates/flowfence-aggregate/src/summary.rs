//! The summary of a connections table printed after `aggregate`, `merge` and `run`.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use flowfence_inventory::Inventory;

use crate::direction::{Basis, Outcome};
use crate::table::{AmbiguousConnection, Side, Table};

/// What the table holds and what a reviewer should look at: rows by side and by how
/// they were decided, ambiguous connections, paths, interfaces the inventory lacks,
/// REJECTs, coverage gaps and inventory issues. Each line is indented by two spaces.
#[derive(Clone, Copy, Debug)]
pub struct TableSummary<'a> {
    /// The table.
    pub table: &'a Table,
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
