//! The replay check: the observed connections evaluated against a state of security
//! groups with their semantics. Groups are stateful, so a connection needs an egress
//! rule on the client's groups and an ingress rule on the server's (when that end is an
//! interface with groups); a rule's peer is a CIDR holding the other end's address, a
//! prefix list (holding it, or naming its AWS service), or a group the other end is in.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use flowfence_aggregate::{Peer, Side, Table};
use flowfence_inventory::{Interface, Inventory, IpNet, is_private};

use crate::blocked::{blocked, is_blocked};
use crate::forecast::Cause;
use crate::needs::Direction;
use crate::rules::{RuleSpec, RuleTarget};

/// Security groups and who is in them.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// Rules per group ref: (ingress, egress).
    groups: BTreeMap<String, (Vec<RuleSpec>, Vec<RuleSpec>)>,
    /// Groups per interface.
    membership: BTreeMap<String, Vec<String>>,
}

/// A connection that would be cut.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Broken {
    /// Who opens it (an interface with groups; a group-less one, as a NAT gateway,
    /// by its address).
    pub client: Peer,
    /// Who accepts it.
    pub server: Peer,
    /// Protocol.
    pub protocol: u8,
    /// Service port.
    pub port: u16,
    /// The missing rule: egress on the client, or ingress on the server.
    pub missing: Direction,
    /// Why it is new to the plan, when a plan was asked ([`crate::explain`]).
    pub cause: Option<Cause>,
    /// The roles at its ends, as the plan's groups name them (`web-asg -> rds`), when a
    /// plan was asked.
    pub between: Option<String>,
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

    /// Replaces `group`'s rules (a `sg-...` id, or `new:NAME` for a group a plan
    /// creates).
    pub fn set_rules(&mut self, group: &str, ingress: Vec<RuleSpec>, egress: Vec<RuleSpec>) {
        self.groups.insert(group.to_string(), (ingress, egress));
    }

    /// Replaces `interface`'s groups.
    pub fn set_groups(&mut self, interface: &str, groups: Vec<String>) {
        self.membership.insert(interface.to_string(), groups);
    }

    /// The groups of `iface` (none when the state doesn't know it).
    pub fn groups_of(&self, iface: &str) -> &[String] {
        self.membership.get(iface).map_or(&[], Vec::as_slice)
    }

    /// The rules of `iface`'s groups in `direction`.
    pub fn rules_of(&self, iface: &str, direction: Direction) -> impl Iterator<Item = &RuleSpec> {
        self.groups_of(iface)
            .iter()
            .filter_map(|g| self.groups.get(g))
            .flat_map(move |(inb, outb)| match direction {
                Direction::Ingress => inb.iter(),
                Direction::Egress => outb.iter(),
            })
    }

    fn has_groups(&self, iface: &str) -> bool {
        self.membership.get(iface).is_some_and(|g| !g.is_empty())
    }

    /// Whether `peer` is what `target` names.
    pub fn matches(&self, inventory: &Inventory, target: &RuleTarget, peer: &Peer) -> bool {
        // An interface's addresses and delegated prefixes (borrowed: this runs for every
        // rule of every check).
        let (addresses, prefixes): (&[IpAddr], &[IpNet]) = match peer {
            Peer::Interface(id) => inventory
                .interface(id)
                .map_or((&[], &[]), |i| (&i.addresses, &i.prefixes)),
            _ => (&[], &[]),
        };
        let covers = |net: &IpNet| match peer {
            Peer::Vpc(n) | Peer::Internet(n) => net.contains(n),
            _ => {
                addresses.iter().any(|a| net.contains(a))
                    || prefixes.iter().any(|p| net.contains(p))
            }
        };
        match target {
            RuleTarget::Cidr(c) => match peer {
                // A service's addresses aren't in the table: only "anywhere" holds them.
                Peer::AwsService(_) => c.prefix_len() == 0,
                _ => covers(c),
            },
            RuleTarget::PrefixList(id) => {
                let Some(pl) = inventory.prefix_lists().find(|p| &p.id == id) else {
                    return false;
                };
                match peer {
                    Peer::AwsService(name) => {
                        pl.service().is_some_and(|s| s.eq_ignore_ascii_case(name))
                    }
                    _ => pl.cidrs.iter().any(covers),
                }
            }
            RuleTarget::Group(g) => match peer {
                Peer::Interface(id) => self
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
        direction: Direction,
        peer: &Peer,
        protocol: u8,
        port: u16,
    ) -> bool {
        let Some(groups) = self.membership.get(iface) else {
            return true;
        };
        groups.iter().any(|g| {
            self.groups.get(g).is_some_and(|(inb, outb)| {
                let rules = match direction {
                    Direction::Ingress => inb,
                    Direction::Egress => outb,
                };
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
        client: &Peer,
        server: &Peer,
        protocol: u8,
        port: u16,
    ) -> Result<(), Direction> {
        if let Peer::Interface(c) = client
            && self.has_groups(c)
            && !self.side_allows(inventory, c, Direction::Egress, server, protocol, port)
        {
            return Err(Direction::Egress);
        }
        if let Peer::Interface(s) = server
            && self.has_groups(s)
            && !self.side_allows(inventory, s, Direction::Ingress, client, protocol, port)
        {
            return Err(Direction::Ingress);
        }
        Ok(())
    }
}

/// The end a rule must name to allow a row's peer: an interface with groups by its
/// groups, a group-less one (a NAT gateway) by its address, anything else as it is.
pub(crate) fn end_of(peer: &Peer, inventory: &Inventory) -> Option<Peer> {
    let Peer::Interface(id) = peer else {
        return Some(peer.clone());
    };
    let i: &Interface = inventory.interface(id)?;
    if i.has_security_groups() {
        return Some(peer.clone());
    }
    let addr = *i.addresses.first()?;
    let net = IpNet::from(addr);
    Some(if is_private(addr) {
        Peer::Vpc(net)
    } else {
        Peer::Internet(net)
    })
}

/// An observed connection: (client, server, protocol, port).
pub(crate) type Connection = (Peer, Peer, u8, u16);

/// The observed connections, each with whether its direction is ambiguous (then either
/// direction being allowed keeps it working).
pub(crate) fn connections(table: &Table, inventory: &Inventory) -> BTreeMap<Connection, bool> {
    let mut out = BTreeMap::new();
    // An attempt the server's groups reject today never worked: nothing to keep working.
    let blocked = blocked(table);
    for r in table.rows.iter().filter(|r| !is_blocked(&blocked, r)) {
        let me = Peer::Interface(r.interface_id.clone());
        let Some(peer) = end_of(&r.peer, inventory) else {
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

/// Today's state and `after` (a plan's final state), each replayed against `table` over
/// every interface that has security groups: (before, after).
pub fn replay(inventory: &Inventory, table: &Table, after: &State) -> (Verdict, Verdict) {
    let scope: BTreeSet<String> = inventory
        .interfaces()
        .filter(|i| i.has_security_groups())
        .map(|i| i.id.clone())
        .collect();
    let observed = connections(table, inventory);
    let before = verdict(&State::current(inventory), inventory, &observed, &scope);
    (before, verdict(after, inventory, &observed, &scope))
}

/// Replays the `observed` connections against `state`, and counts what it allows among
/// `interfaces` on the observed service ports that never happened.
fn verdict(
    state: &State,
    inventory: &Inventory,
    observed: &BTreeMap<Connection, bool>,
    interfaces: &BTreeSet<String>,
) -> Verdict {
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
                cause: None,
                between: None,
            })
        })
        .collect();
    let ports: BTreeSet<(u8, u16)> = observed.keys().map(|(_, _, p, port)| (*p, *port)).collect();
    let ends: Vec<Peer> = interfaces.iter().cloned().map(Peer::Interface).collect();
    let happened: BTreeSet<(&Peer, &Peer, u8, u16)> = observed
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, tcp};

    /// `table`'s connections replayed against `state`.
    fn check(
        state: &State,
        inventory: &Inventory,
        table: &Table,
        interfaces: &BTreeSet<String>,
    ) -> Verdict {
        verdict(state, inventory, &connections(table, inventory), interfaces)
    }

    /// a (10.0.0.1, sg-a) opens TCP 5432 to b (10.0.0.2, sg-b); a also reaches the
    /// internet through the NAT gateway's interface (10.0.0.9, no groups).
    fn inventory() -> Inventory {
        let to_group = |port: u16, g: &str| serde_json::json!({"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "UserIdGroupPairs": [{"GroupId": g}]});
        let nat = serde_json::json!({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.9/32"}]});
        testing::inventory(
            vec![
                testing::interface("eni-a", "10.0.0.1", &["sg-a"], "interface", None),
                testing::interface("eni-b", "10.0.0.2", &["sg-b"], "interface", None),
                testing::interface("eni-nat", "10.0.0.9", &[], "nat_gateway", None),
            ],
            vec![
                testing::group(
                    "sg-a",
                    "a",
                    serde_json::json!([]),
                    serde_json::json!([to_group(5432, "sg-b"), nat]),
                ),
                testing::group(
                    "sg-b",
                    "b",
                    serde_json::json!([to_group(5432, "sg-a")]),
                    serde_json::json!([]),
                ),
            ],
        )
    }

    const A_TO_B: [&str; 2] = [
        "eni-a,client,6,5432,interface,eni-b,3,30,3000,100,200,1,flags",
        "eni-b,server,6,5432,interface,eni-a,3,30,3000,100,200,9,flags",
    ];

    /// Today's state with `group`'s rules replaced.
    fn with_rules(
        inv: &Inventory,
        group: &str,
        ingress: &[RuleSpec],
        egress: &[RuleSpec],
    ) -> State {
        let mut state = State::current(inv);
        state.set_rules(group, ingress.to_vec(), egress.to_vec());
        state
    }

    fn scope() -> BTreeSet<String> {
        ["eni-a", "eni-b"].map(String::from).into()
    }

    #[test]
    fn a_connection_needs_the_clients_egress_and_the_servers_ingress_not_the_reply() {
        let inv = inventory();
        let t = testing::table(&A_TO_B);
        // sg-b has no egress at all: the reply needs none (stateful).
        let today = check(&State::current(&inv), &inv, &t, &scope());
        assert_eq!(today.connections, 1);
        assert!(today.broken.is_empty(), "{:?}", today.broken);

        let no_ingress = with_rules(&inv, "sg-b", &[], &[]);
        let v = check(&no_ingress, &inv, &t, &scope());
        assert_eq!(v.broken.len(), 1);
        assert_eq!(v.broken[0].missing, Direction::Ingress);
        assert_eq!(v.broken[0].server, Peer::Interface("eni-b".into()));

        let no_egress = with_rules(&inv, "sg-a", &[], &[]);
        let v = check(&no_egress, &inv, &t, &scope());
        assert_eq!(v.broken.len(), 1);
        assert_eq!(v.broken[0].missing, Direction::Egress);
        // The wrong port is no better than no rule.
        let wrong_port = with_rules(
            &inv,
            "sg-a",
            &[],
            &[tcp(5433, RuleTarget::Group("sg-b".into()))],
        );
        assert_eq!(check(&wrong_port, &inv, &t, &scope()).broken.len(), 1);
    }

    #[test]
    fn group_less_peers_are_matched_by_address() {
        let inv = inventory();
        let t = testing::table(&["eni-a,client,6,443,interface,eni-nat,5,50,5000,100,200,1,flags"]);
        assert!(
            check(&State::current(&inv), &inv, &t, &scope())
                .broken
                .is_empty()
        );
        let elsewhere = with_rules(
            &inv,
            "sg-a",
            &[],
            &[tcp(443, RuleTarget::Cidr("10.0.0.8/32".parse().unwrap()))],
        );
        assert_eq!(check(&elsewhere, &inv, &t, &scope()).broken.len(), 1);
    }

    #[test]
    fn an_ambiguous_exchange_passes_if_either_direction_is_allowed() {
        let inv = inventory();
        let icmp = |target: &str| RuleSpec {
            protocol: 1,
            from: -1,
            to: -1,
            target: RuleTarget::Group(target.into()),
        };
        let t = testing::table(&[
            "eni-a,server,1,0,interface,eni-b,2,4,400,100,200,1,ambiguous",
            "eni-b,server,1,0,interface,eni-a,2,4,400,100,200,1,ambiguous",
        ]);
        // Neither direction allowed today.
        assert!(
            !check(&State::current(&inv), &inv, &t, &scope())
                .broken
                .is_empty()
        );
        // b -> a allowed (b's egress, a's ingress): passes.
        let mut s = with_rules(&inv, "sg-a", &[icmp("sg-b")], &[]);
        s.set_rules("sg-b", Vec::new(), vec![icmp("sg-a")]);
        assert!(check(&s, &inv, &t, &scope()).broken.is_empty());
    }

    #[test]
    fn allowed_but_unused_counts_pairs_on_observed_ports() {
        let inv = inventory();
        let t = testing::table(&A_TO_B);
        // Today: b -> a on 5432 is not allowed (b has no egress): nothing unused.
        assert_eq!(
            check(&State::current(&inv), &inv, &t, &scope()).allowed_unused,
            0
        );
        // Open b's egress and a's ingress to everything: b -> a on 5432 is allowed and
        // never happened.
        let all = RuleSpec {
            protocol: -1,
            from: -1,
            to: -1,
            target: RuleTarget::Cidr("0.0.0.0/0".parse().unwrap()),
        };
        let mut s = with_rules(
            &inv,
            "sg-a",
            std::slice::from_ref(&all),
            &[tcp(5432, RuleTarget::Group("sg-b".into()))],
        );
        s.set_rules(
            "sg-b",
            vec![tcp(5432, RuleTarget::Group("sg-a".into()))],
            vec![all],
        );
        let v = check(&s, &inv, &t, &scope());
        assert!(v.broken.is_empty());
        assert_eq!(v.allowed_unused, 1);
    }
}
