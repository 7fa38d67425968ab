//! Attempts the server's own groups turned away: a client's interface logged ACCEPT for
//! a connection to another interface that logged REJECT on that port and never accepted
//! it from that client. Such a connection never worked, so it is no need of today's
//! workload (the plan doesn't open it, and the replay doesn't count it as broken); it
//! may be wanted, so it becomes a finding for a person to decide.

use std::collections::{BTreeMap, BTreeSet};

use flowfence_aggregate::{Row, Side, Table};

/// A connection the server's side rejects today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Blocked<'a> {
    /// The interface that opened it (its groups let it out).
    pub(crate) client: &'a str,
    /// The interface that rejected it.
    pub(crate) server: &'a str,
    /// IANA protocol.
    pub(crate) protocol: u8,
    /// The port it was rejected on.
    pub(crate) port: u16,
}

/// The connections of `table` the server's side rejects today, with the client's row
/// (its evidence).
pub(crate) fn blocked(table: &Table) -> BTreeMap<Blocked<'_>, &Row> {
    let rejected: BTreeSet<(&str, u8, u16)> = table
        .rejected
        .iter()
        .map(|r| (r.interface_id.as_str(), r.protocol, r.port))
        .collect();
    if rejected.is_empty() {
        return BTreeMap::new();
    }
    // Who each interface accepted, per protocol and port: (server, protocol, port, client).
    let accepted: BTreeSet<(&str, u8, u16, &str)> = table
        .rows
        .iter()
        .filter(|r| r.side == Side::Server)
        .filter_map(|r| {
            Some((
                r.interface_id.as_str(),
                r.protocol,
                r.port,
                r.peer.interface()?,
            ))
        })
        .collect();
    // The client's side is a row, or (with TCP flags in the logs) an attempt that was
    // never answered.
    table
        .rows
        .iter()
        .chain(table.attempts.iter().map(|a| &a.row))
        .filter(|r| r.side == Side::Client)
        .filter_map(|r| {
            let server = r.peer.interface()?;
            let turned_away = rejected.contains(&(server, r.protocol, r.port))
                && !accepted.contains(&(server, r.protocol, r.port, r.interface_id.as_str()));
            turned_away.then(|| {
                let b = Blocked {
                    client: &r.interface_id,
                    server,
                    protocol: r.protocol,
                    port: r.port,
                };
                (b, r)
            })
        })
        .collect()
}

/// Whether `row` is the client's side of a connection in `blocked`.
pub(crate) fn is_blocked(blocked: &BTreeMap<Blocked<'_>, &Row>, row: &Row) -> bool {
    row.side == Side::Client
        && row.peer.interface().is_some_and(|server| {
            blocked.contains_key(&Blocked {
                client: &row.interface_id,
                server,
                protocol: row.protocol,
                port: row.port,
            })
        })
}
