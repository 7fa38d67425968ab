//! What each interface being migrated needs: the connections it serves (ingress) and
//! opens (egress), with the other end named as a rule would name it.

use std::collections::{BTreeMap, BTreeSet};

use flowfence_aggregate::{Basis, Peer, Row, Side, Table};
use flowfence_inventory::{Interface, Inventory, IpNet};

use crate::blocked::{blocked, is_blocked};
use crate::evidence::RuleEvidence;

/// Ingress (the interface serves) or egress (it opens).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Connections the interface accepts.
    Ingress,
    /// Connections the interface opens.
    Egress,
}

impl Direction {
    /// `ingress` or `egress`, as AWS and the plan spell it.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The other end of a rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Target {
    /// An interface being migrated: becomes its new group once roles are known.
    Migrating(String),
    /// An existing security group (a peer that keeps its custom groups).
    Group(String),
    /// A prefix list (an AWS service's, e.g. S3 through a gateway endpoint).
    PrefixList(String),
    /// Addresses.
    Cidr(IpNet),
}

/// What an interface was seen to need: a direction, protocol and port, and the other
/// end.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Need {
    /// Served (ingress) or opened (egress).
    pub(crate) direction: Direction,
    /// IANA protocol.
    pub(crate) protocol: u8,
    /// Service port (0 for ICMP).
    pub(crate) port: u16,
    /// The other end, as a rule names it.
    pub(crate) target: Target,
}

/// Needs per interface being migrated.
pub(crate) type Needs = BTreeMap<String, BTreeMap<Need, RuleEvidence>>;

/// A row left out on purpose.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dropped {
    /// The interface.
    pub interface_id: String,
    /// `server` or `client`.
    pub side: String,
    /// IANA protocol.
    pub protocol: u8,
    /// Service port.
    pub port: u16,
    /// The peer.
    pub peer: String,
    /// Flow records.
    pub flows: u64,
    /// Last seen.
    pub last_seen: u64,
    /// Why.
    pub reason: String,
}

/// Which rows count.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Rows with fewer flows are dropped.
    pub min_flows: u64,
    /// Rows last seen before this (Unix seconds) are dropped.
    pub since: Option<u64>,
}

/// The name a rule gives a peer interface that isn't being migrated: its first custom
/// group, or its addresses when it has none (NAT gateways and other paths).
fn peer_interface_targets(peer: &Interface, migrating: &BTreeSet<String>) -> Vec<Target> {
    if migrating.contains(&peer.id) {
        return vec![Target::Migrating(peer.id.clone())];
    }
    let mut groups: Vec<&str> = peer.groups.iter().map(|g| g.id.as_str()).collect();
    groups.sort_unstable();
    if let Some(g) = groups.first() {
        return vec![Target::Group((*g).to_string())];
    }
    peer.addresses
        .iter()
        .map(|a| Target::Cidr(IpNet::from(*a)))
        .collect()
}

/// The targets a row's peer becomes in a rule.
fn targets(row: &Row, inventory: &Inventory, migrating: &BTreeSet<String>) -> Vec<Target> {
    match &row.peer {
        Peer::Interface(id) => match inventory.interface(id) {
            Some(peer) => peer_interface_targets(peer, migrating),
            None => Vec::new(),
        },
        Peer::AwsService(name) => {
            let list = inventory
                .prefix_lists()
                .find(|pl| pl.service().is_some_and(|s| s.eq_ignore_ascii_case(name)));
            match list {
                Some(pl) => vec![Target::PrefixList(pl.id.clone())],
                // No prefix list for it in the inventory: the service's addresses
                // aren't in the table, so only "anywhere" covers them (flagged).
                None => vec![Target::Cidr("0.0.0.0/0".parse().expect("valid"))],
            }
        }
        // An address of an AWS service whose prefix list the inventory has (its CIDRs
        // may come from --aws-ip-ranges after the table was built): the list.
        Peer::Internet(net) => match inventory.prefix_list_containing(net.addr()) {
            Some(pl) if pl.is_aws_managed() => vec![Target::PrefixList(pl.id.clone())],
            _ => vec![Target::Cidr(*net)],
        },
        Peer::Vpc(net) => vec![Target::Cidr(*net)],
    }
}

/// The directions a row needs, seen from its interface (or from its peer, `mirrored`).
/// A row whose direction nothing settled (an ICMP exchange both ends logged as
/// answers, two equal ports) needs both: either end may have opened it.
fn directions(row: &Row, mirrored: bool) -> &'static [Direction] {
    if row.basis == Basis::Ambiguous {
        return &[Direction::Ingress, Direction::Egress];
    }
    match (row.side, mirrored) {
        (Side::Server, false) | (Side::Client, true) => &[Direction::Ingress],
        (Side::Client, false) | (Side::Server, true) => &[Direction::Egress],
    }
}

/// The row's peer interface, when it is moving and logged nothing itself: the row then
/// also shows that interface's needs, turned round.
fn silent_peer<'r>(
    row: &'r Row,
    migrating: &BTreeSet<String>,
    logged: &BTreeSet<&str>,
) -> Option<&'r str> {
    row.peer
        .interface()
        .filter(|id| migrating.contains(*id) && !logged.contains(id))
}

/// The needs of the interfaces in `migrating`, from the interface's own rows, or, for an
/// interface that logged nothing (flow logs not enabled on it), from its peers' rows
/// naming it. Rows the filter drops are returned.
pub(crate) fn collect(
    table: &Table,
    inventory: &Inventory,
    migrating: &BTreeSet<String>,
    filter: &Filter,
) -> (Needs, Vec<Dropped>) {
    let mut needs = Needs::new();
    let mut dropped = Vec::new();
    let logged: BTreeSet<&str> = table.rows.iter().map(|r| r.interface_id.as_str()).collect();
    let mirrored = |row| silent_peer(row, migrating, &logged);
    // Attempts the server's groups reject today are no needs (they are findings).
    let blocked = blocked(table);
    for row in &table.rows {
        let touches = migrating.contains(&row.interface_id) || mirrored(row).is_some();
        if !touches || is_blocked(&blocked, row) {
            continue;
        }
        let reason = if row.flows < filter.min_flows {
            Some(format!(
                "fewer than {} flows (--min-flows)",
                filter.min_flows
            ))
        } else if filter.since.is_some_and(|s| row.last_seen < s) {
            Some("last seen before --since".to_string())
        } else {
            None
        };
        if let Some(reason) = reason {
            dropped.push(Dropped {
                interface_id: row.interface_id.clone(),
                side: row.side.name().to_string(),
                protocol: row.protocol,
                port: row.port,
                peer: row.peer.to_string(),
                flows: row.flows,
                last_seen: row.last_seen,
                reason,
            });
            continue;
        }
        let evidence = RuleEvidence::from_row(row);
        // The interface's own view.
        if migrating.contains(&row.interface_id) {
            let mine = needs.entry(row.interface_id.clone()).or_default();
            for t in targets(row, inventory, migrating) {
                for &direction in directions(row, false) {
                    mine.entry(Need {
                        direction,
                        protocol: row.protocol,
                        port: row.port,
                        target: t.clone(),
                    })
                    .or_default()
                    .add(&evidence);
                }
            }
        }
        // The peer's view of the same connections, turned round.
        if let Some(peer) = mirrored(row) {
            let Some(me) = inventory.interface(&row.interface_id) else {
                continue;
            };
            let mut ev = evidence.clone();
            ev.examples = BTreeSet::from([row.interface_id.clone()]);
            let theirs = needs.entry(peer.to_string()).or_default();
            for t in peer_interface_targets(me, migrating) {
                for &direction in directions(row, true) {
                    theirs
                        .entry(Need {
                            direction,
                            protocol: row.protocol,
                            port: row.port,
                            target: t.clone(),
                        })
                        .or_default()
                        .add(&ev);
                }
            }
        }
    }
    (needs, dropped)
}
