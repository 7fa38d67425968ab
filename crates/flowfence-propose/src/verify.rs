//! The replay check: the observed connections evaluated against a state of security
//! groups with their semantics. Groups are stateful, so a connection needs an egress
//! rule on the client's groups and an ingress rule on the server's (when that end is an
//! interface with groups); a rule's peer is a CIDR holding the other end's address, a
//! prefix list (holding it, or naming its AWS service), or a group the other end is in.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use flowfence_aggregate::{PeerKind, Side, Table};
use flowfence_inventory::{Interface, Inventory, IpNet};

use crate::plan::Plan;
use crate::rules::{RuleSpec, RuleTarget};

/// Security groups and who is in them.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// Rules per group ref: (ingress, egress).
    groups: BTreeMap<String, (Vec<RuleSpec>, Vec<RuleSpec>)>,
    /// Groups per interface.
    membership: BTreeMap<String, Vec<String>>,
}

/// One end of a connection.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum End {
    /// An interface in the inventory.
    Interface(String),
    /// An address or CIDR.
    Net(IpNet),
    /// An AWS service, by the name the table gives it (S3, DYNAMODB).
    Service(String),
}

/// A connection that would be cut.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Broken {
    /// Who opens it.
    pub client: End,
    /// Who accepts it.
    pub server: End,
    /// Protocol.
    pub protocol: u8,
    /// Service port.
    pub port: u16,
    /// The missing rule: `egress` on the client, `ingress` on the server.
    pub missing: &'static str,
}

/// What the check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Observed connections (distinct client, server, protocol, port; an ambiguous one
    /// passes if either direction is allowed).
    pub connections: usize,
    /// Those the state would cut.
    pub broken: Vec<Broken>,
    /// (client, server, protocol, port) combinations among the interfaces with groups
    /// and the observed service ports that the state allows but that never happened.
    pub allowed_unused: usize,
}

impl State {
    /// Today's groups and memberships, from the inventory.
    pub fn current(inventory: &Inventory) -> State {
        let mut s = State::default();
        for g in inventory.groups() {
            s.groups.insert(
                g.id.clone(),
                (
                    g.ingress.iter().map(RuleSpec::from_inventory).collect(),
                    g.egress.iter().map(RuleSpec::from_inventory).collect(),
                ),
            );
        }
        for i in inventory.interfaces() {
            s.membership.insert(
                i.id.clone(),
                i.groups.iter().map(|g| g.id.clone()).collect(),
            );
        }
        s
    }

    /// The state a plan ends in: today's, with the plan's groups' rules and the plan's
    /// interfaces' groups. `Err` names a permission the plan spells wrongly.
    pub fn after(inventory: &Inventory, plan: &Plan) -> Result<State, String> {
        let mut s = State::current(inventory);
        for g in &plan.groups {
            let specs = |ps: &[crate::rules::IpPermission]| -> Result<Vec<RuleSpec>, String> {
                let mut out = Vec::new();
                for p in ps {
                    out.extend(p.specs().ok_or_else(|| {
                        format!("group {}: unreadable permission {p:?}", g.reference)
                    })?);
                }
                Ok(out)
            };
            s.groups
                .insert(g.reference.clone(), (specs(&g.ingress)?, specs(&g.egress)?));
        }
        for i in &plan.interfaces {
            s.membership
                .insert(i.interface_id.clone(), i.groups_after.clone());
        }
        Ok(s)
    }

    fn has_groups(&self, iface: &str) -> bool {
        self.membership.get(iface).is_some_and(|g| !g.is_empty())
    }

    /// Whether `peer` is what `target` names.
    fn matches(&self, inventory: &Inventory, target: &RuleTarget, peer: &End) -> bool {
        // An interface's addresses (borrowed: this runs for every rule of every check).
        let addresses: &[IpAddr] = match peer {
            End::Interface(id) => inventory.interface(id).map_or(&[], |i| &i.addresses),
            End::Net(_) | End::Service(_) => &[],
        };
        let covers = |net: &IpNet| match peer {
            End::Net(n) => net.contains(n),
            _ => addresses.iter().any(|a| net.contains(a)),
        };
        match target {
            RuleTarget::Cidr(c) => match peer {
                // A service's addresses aren't in the table: only "anywhere" holds them.
                End::Service(_) => c.prefix_len() == 0,
                _ => covers(c),
            },
            RuleTarget::PrefixList(id) => {
                let Some(pl) = inventory.prefix_lists().find(|p| &p.id == id) else {
                    return false;
                };
                match peer {
                    End::Service(name) => {
                        pl.service().is_some_and(|s| s.eq_ignore_ascii_case(name))
                    }
                    _ => pl.cidrs.iter().any(covers),
                }
            }
            RuleTarget::Group(g) => match peer {
                End::Interface(id) => self
                    .membership
                    .get(id)
                    .is_some_and(|gs| gs.iter().any(|x| x == g)),
                _ => false,
            },
        }
    }

    /// Whether `iface`'s groups allow the connection in `direction` with `peer`.
    fn side_allows(
        &self,
        inventory: &Inventory,
        iface: &str,
        ingress: bool,
        peer: &End,
        protocol: u8,
        port: u16,
    ) -> bool {
        let Some(groups) = self.membership.get(iface) else {
            return true;
        };
        groups.iter().any(|g| {
            self.groups.get(g).is_some_and(|(inb, outb)| {
                let rules = if ingress { inb } else { outb };
                rules
                    .iter()
                    .any(|r| r.allows(protocol, port) && self.matches(inventory, &r.target, peer))
            })
        })
    }

    /// Whether the state lets `client` open `protocol`/`port` to `server`.
    pub fn allows(
        &self,
        inventory: &Inventory,
        client: &End,
        server: &End,
        protocol: u8,
        port: u16,
    ) -> Result<(), &'static str> {
        if let End::Interface(c) = client
            && self.has_groups(c)
            && !self.side_allows(inventory, c, false, server, protocol, port)
        {
            return Err("egress");
        }
        if let End::Interface(s) = server
            && self.has_groups(s)
            && !self.side_allows(inventory, s, true, client, protocol, port)
        {
            return Err("ingress");
        }
        Ok(())
    }
}

fn end_of(kind: PeerKind, peer: &str, inventory: &Inventory) -> Option<End> {
    match kind {
        PeerKind::Interface => {
            // Group-less interfaces (NAT gateways) are matched by address.
            let i: &Interface = inventory.interface(peer)?;
            if i.has_security_groups() {
                Some(End::Interface(peer.to_string()))
            } else {
                i.addresses.first().map(|a| End::Net(IpNet::from(*a)))
            }
        }
        PeerKind::AwsService => Some(End::Service(peer.to_string())),
        PeerKind::Vpc | PeerKind::Internet => peer.parse().ok().map(End::Net),
    }
}

/// An observed connection: (client, server, protocol, port).
pub type Connection = (End, End, u8, u16);

/// The observed connections, each with whether its direction is ambiguous (then either
/// direction being allowed keeps it working).
pub fn connections(table: &Table, inventory: &Inventory) -> BTreeMap<Connection, bool> {
    let mut out = BTreeMap::new();
    for r in &table.rows {
        let me = End::Interface(r.interface_id.clone());
        let Some(peer) = end_of(r.peer_kind, &r.peer, inventory) else {
            continue;
        };
        let key = match r.side {
            Side::Server => (peer, me, r.protocol, r.port),
            Side::Client => (me, peer, r.protocol, r.port),
        };
        *out.entry(key).or_insert(false) |= r.basis == flowfence_aggregate::Basis::Ambiguous;
    }
    out
}

/// Replays the observed connections against `state`, and counts what it allows among
/// `interfaces` on the observed service ports that never happened.
pub fn check(
    state: &State,
    inventory: &Inventory,
    table: &Table,
    interfaces: &BTreeSet<String>,
) -> Verdict {
    let observed = connections(table, inventory);
    let broken: Vec<Broken> = observed
        .iter()
        .filter_map(|((c, s, p, port), ambiguous)| {
            let forward = state.allows(inventory, c, s, *p, *port);
            if *ambiguous && state.allows(inventory, s, c, *p, *port).is_ok() {
                return None;
            }
            forward.err().map(|missing| Broken {
                client: c.clone(),
                server: s.clone(),
                protocol: *p,
                port: *port,
                missing,
            })
        })
        .collect();
    let ports: BTreeSet<(u8, u16)> = observed.keys().map(|(_, _, p, port)| (*p, *port)).collect();
    let ends: Vec<End> = interfaces.iter().cloned().map(End::Interface).collect();
    let happened: BTreeSet<(&End, &End, u8, u16)> = observed
        .keys()
        .map(|(c, s, p, port)| (c, s, *p, *port))
        .collect();
    let mut allowed_unused = 0;
    for c in &ends {
        for s in &ends {
            if c == s {
                continue;
            }
            for &(p, port) in &ports {
                if !happened.contains(&(c, s, p, port))
                    && state.allows(inventory, c, s, p, port).is_ok()
                {
                    allowed_unused += 1;
                }
            }
        }
    }
    Verdict {
        connections: observed.len(),
        broken,
        allowed_unused,
    }
}
