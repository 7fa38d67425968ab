//! Rules in the AWS API's shape, and how observed needs become few of them: CIDRs
//! aggregated to the smallest covering set (widened only inside the user's bound), many
//! spread public sources opened to the world (flagged), adjacent ports merged into
//! ranges.

use std::collections::BTreeMap;

pub use flowfence_inventory::IpPermission;
use flowfence_inventory::{GroupPair, IpRange, Ipv6Range, PrefixListId};
use flowfence_inventory::{IpNet, Peer, Protocol, Rule, is_private};
use flowfence_inventory::{port_name, protocol_name};
use serde::{Deserialize, Serialize};

use crate::evidence::RuleEvidence;
use crate::needs::Direction;

/// The other end of a rule, as the plan names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleTarget {
    /// `sg-...`, or `new:NAME` for a group the plan creates.
    Group(String),
    /// `pl-...`
    PrefixList(String),
    /// A CIDR.
    Cidr(IpNet),
}

/// One rule with one peer: protocol (-1 all), port range (ICMP: -1 -1 for all types).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleSpec {
    /// IANA number, or -1 for all.
    pub protocol: i32,
    /// First port.
    pub from: i32,
    /// Last port.
    pub to: i32,
    /// The peer.
    pub target: RuleTarget,
}

impl RuleSpec {
    /// Whether this rule allows `protocol`/`port` (before looking at the peer).
    pub fn allows(&self, protocol: u8, port: u16) -> bool {
        if self.protocol == -1 {
            return true;
        }
        if self.protocol != i32::from(protocol) {
            return false;
        }
        // ICMP rules filter types, not ports; the table keeps no types.
        if matches!(protocol, 1 | 58) || self.from == -1 {
            return true;
        }
        (self.from..=self.to).contains(&i32::from(port))
    }

    /// From an inventory rule.
    pub fn from_inventory(rule: &Rule) -> RuleSpec {
        let protocol = match rule.protocol {
            Protocol::All => -1,
            Protocol::Number(n) => i32::from(n),
        };
        let (from, to) = rule.ports.unwrap_or((-1, -1));
        let target = match &rule.peer {
            Peer::Cidr(c) => RuleTarget::Cidr(*c),
            Peer::PrefixList(p) => RuleTarget::PrefixList(p.clone()),
            Peer::Group { id, .. } => RuleTarget::Group(id.clone()),
        };
        RuleSpec {
            protocol,
            from,
            to,
            target,
        }
    }
}

fn protocol_number(s: &str) -> Option<i32> {
    match Protocol::parse(s)? {
        Protocol::All => Some(-1),
        Protocol::Number(n) => Some(i32::from(n)),
    }
}

/// An AWS `IpPermission` as flowfence's one-peer rules: built from one, split into them.
pub trait PermissionSpecs: Sized {
    /// One permission for one rule.
    fn from_spec(spec: &RuleSpec, description: Option<String>) -> Self;

    /// The rules a permission holds (one per peer); an error names the value that is not
    /// a protocol or a CIDR, or says the permission names no peer.
    fn specs(&self) -> Result<Vec<RuleSpec>, SpecError>;
}

/// Why a permission holds no rules flowfence can read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// `IpProtocol` is neither a name AWS uses nor a number.
    #[error("IpProtocol `{0}` is not a protocol (tcp, udp, icmp, icmpv6, -1 or a number)")]
    Protocol(String),
    /// A CIDR that doesn't parse.
    #[error("`{0}` is not a CIDR")]
    Cidr(String),
    /// No `IpRanges`, `Ipv6Ranges`, `PrefixListIds` or `UserIdGroupPairs`: it allows
    /// nothing.
    #[error("no peer (IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs): it allows nothing")]
    NoPeer,
}

impl PermissionSpecs for IpPermission {
    fn from_spec(spec: &RuleSpec, description: Option<String>) -> IpPermission {
        let (from_port, to_port) = if spec.protocol == -1 {
            (None, None)
        } else {
            (Some(spec.from), Some(spec.to))
        };
        let mut p = IpPermission {
            ip_protocol: protocol_name(spec.protocol),
            from_port,
            to_port,
            ip_ranges: Vec::new(),
            ipv6_ranges: Vec::new(),
            prefix_list_ids: Vec::new(),
            user_id_group_pairs: Vec::new(),
        };
        match &spec.target {
            RuleTarget::Cidr(IpNet::V4(c)) => p.ip_ranges.push(IpRange {
                cidr_ip: c.to_string(),
                description,
            }),
            RuleTarget::Cidr(IpNet::V6(c)) => p.ipv6_ranges.push(Ipv6Range {
                cidr_ipv6: c.to_string(),
                description,
            }),
            RuleTarget::PrefixList(id) => p.prefix_list_ids.push(PrefixListId {
                prefix_list_id: id.clone(),
                description,
            }),
            RuleTarget::Group(id) => p.user_id_group_pairs.push(GroupPair {
                group_id: id.clone(),
                user_id: None,
                description,
            }),
        }
        p
    }

    fn specs(&self) -> Result<Vec<RuleSpec>, SpecError> {
        let protocol = protocol_number(&self.ip_protocol)
            .ok_or_else(|| SpecError::Protocol(self.ip_protocol.clone()))?;
        let (from, to) = (self.from_port.unwrap_or(-1), self.to_port.unwrap_or(-1));
        let mut out = Vec::new();
        let mut push = |target| {
            out.push(RuleSpec {
                protocol,
                from,
                to,
                target,
            })
        };
        let cidr = |text: &str| {
            text.parse::<IpNet>()
                .map_err(|_| SpecError::Cidr(text.to_string()))
        };
        for r in &self.ip_ranges {
            push(RuleTarget::Cidr(cidr(&r.cidr_ip)?));
        }
        for r in &self.ipv6_ranges {
            push(RuleTarget::Cidr(cidr(&r.cidr_ipv6)?));
        }
        for r in &self.prefix_list_ids {
            push(RuleTarget::PrefixList(r.prefix_list_id.clone()));
        }
        for r in &self.user_id_group_pairs {
            push(RuleTarget::Group(r.group_id.clone()));
        }
        if out.is_empty() {
            return Err(SpecError::NoPeer);
        }
        Ok(out)
    }
}

/// Names an address range's place in AWS (`EC2 us-east-1`), when it is in one of AWS's
/// published ranges (`--aws-ip-ranges`).
pub(crate) type AwsNames<'a> = &'a dyn Fn(&IpNet) -> Option<String>;

/// How egress to internet addresses becomes rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InternetEgress {
    /// `0.0.0.0/0` (and `::/0` where IPv6 egress was seen) on each port the workload
    /// reached the internet on: destinations behind a NAT or internet gateway (CDNs,
    /// SaaS, package mirrors) change from one day to the next, so observed addresses
    /// would break tomorrow's connections.
    #[default]
    World,
    /// The observed addresses, aggregated exactly (as ingress sources are).
    Exact,
}

/// How needs become rules.
#[derive(Clone, Debug)]
pub struct Shaping {
    /// Distinct public sources of one port above which (if spread over at least
    /// `open_spread` /8 networks) the rule opens to the world.
    pub open_above: usize,
    /// See `open_above`.
    pub open_spread: usize,
    /// Unobserved ports allowed inside a merged port range (0: only adjacent ports).
    pub port_gap: u16,
    /// IPv4 addresses of one port that fall in the same block of this prefix length are
    /// covered by one CIDR (32: exact, nothing unobserved is added).
    pub widen_v4: u8,
    /// The same for IPv6 (128: exact).
    pub widen_v6: u8,
    /// Egress to internet addresses: the world on the port, or the addresses seen.
    pub internet_egress: InternetEgress,
}

impl Default for Shaping {
    fn default() -> Self {
        Shaping {
            open_above: 32,
            open_spread: 4,
            port_gap: 0,
            widen_v4: 32,
            widen_v6: 128,
            internet_egress: InternetEgress::World,
        }
    }
}

/// Why a rule allows more than was observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WideningKind {
    /// Many public sources spread over the internet: opened to `0.0.0.0/0`.
    WorldOpen,
    /// Egress to internet destinations: `0.0.0.0/0` / `::/0` on the port
    /// (`--internet-egress exact` keeps the addresses).
    InternetEgress,
    /// Ingress from internet clients to an internet-facing interface (a public address):
    /// `0.0.0.0/0` / `::/0` on the port, however few clients the window saw.
    InternetFacing,
    /// Addresses in one block of the user's bound (`--widen-v4`/`--widen-v6`) covered by
    /// one CIDR.
    CidrBound,
    /// A service whose addresses the inventory lacks (no prefix list): `0.0.0.0/0`.
    NoPrefixList,
    /// Widened to fit the rules-per-group quota.
    Quota,
    /// Still over a quota with nothing left to widen.
    OverQuota,
    /// Members kept together by the inventory though their needs differ: each gets the
    /// union.
    TierUnion,
}

/// The smallest CIDR covering both `a` and `b` (same family).
pub(crate) fn covering(a: &IpNet, b: &IpNet) -> IpNet {
    let (len, addr) = match (a, b) {
        (IpNet::V4(x), IpNet::V4(y)) => {
            let diff = u32::from(x.network()) ^ u32::from(y.broadcast());
            (diff.leading_zeros() as u8, x.network().into())
        }
        (IpNet::V6(x), IpNet::V6(y)) => {
            let diff = u128::from(x.network()) ^ u128::from(y.broadcast());
            (diff.leading_zeros() as u8, x.network().into())
        }
        // Different families: only "anywhere" of the first family covers both.
        (IpNet::V4(_), _) => (0, std::net::Ipv4Addr::UNSPECIFIED.into()),
        (IpNet::V6(_), _) => (0, std::net::Ipv6Addr::UNSPECIFIED.into()),
    };
    let len = len.min(a.prefix_len()).min(b.prefix_len());
    IpNet::new(addr, len)
        .expect("prefix within the family")
        .trunc()
}

/// Addresses a CIDR holds, as a float (IPv6 sizes overflow integers at /0).
pub(crate) fn size(net: &IpNet) -> f64 {
    2f64.powi(i32::from(net.max_prefix_len() - net.prefix_len()))
}

/// `n` addresses a widening adds, for people: exact up to 65,536, then as a power of two
/// (an IPv6 block's count has up to 39 digits, which nobody reads).
pub(crate) fn more_addresses(n: f64) -> String {
    if n < 65_536.0 {
        format!("{n} more addresses")
    } else {
        format!("about 2^{} more addresses", n.log2().round())
    }
}

/// Covers the nets of each block of the user's bound by one CIDR; returns the new set
/// (aggregated) and a note per block that widened.
fn widen_within_bound(nets: &[IpNet], shaping: &Shaping) -> (Vec<IpNet>, Vec<String>) {
    let mut blocks: BTreeMap<IpNet, Vec<IpNet>> = BTreeMap::new();
    let mut out = Vec::new();
    for net in IpNet::aggregate(&nets.to_vec()) {
        let bound = match net {
            IpNet::V4(_) => shaping.widen_v4,
            IpNet::V6(_) => shaping.widen_v6,
        };
        if net.prefix_len() <= bound {
            out.push(net);
            continue;
        }
        let block = IpNet::new(net.network(), bound)
            .expect("bound within the family")
            .trunc();
        blocks.entry(block).or_default().push(net);
    }
    let mut notes = Vec::new();
    for (block, members) in blocks {
        let cover = members
            .iter()
            .skip(1)
            .fold(members[0], |acc, n| covering(&acc, n));
        if members.len() > 1 {
            let observed: f64 = members.iter().map(size).sum();
            notes.push(format!(
                "{} observed CIDRs in {block} covered by {cover} ({})",
                members.len(),
                more_addresses(size(&cover) - observed)
            ));
        }
        out.push(cover);
    }
    (IpNet::aggregate(&out), notes)
}

/// A rule with its evidence.
pub(crate) type Shaped = BTreeMap<RuleSpec, RuleEvidence>;

fn is_public(net: &IpNet) -> bool {
    !is_private(net.addr())
}

/// The internet on one port: one `0.0.0.0/0` rule for the IPv4 peers seen and one
/// `::/0` for the IPv6 ones, each with their evidence and a note of `kind` naming the
/// peers as `who` (destinations, clients). The internet peers leave `cidrs`; private ones
/// stay.
fn open_to_internet(
    (protocol, port): (u8, u16),
    cidrs: &mut Vec<(IpNet, &RuleEvidence)>,
    (kind, who, allowed, why): (WideningKind, &str, &str, &str),
    aws: AwsNames<'_>,
    notes: &mut Vec<(WideningKind, String)>,
) -> Vec<(RuleTarget, RuleEvidence)> {
    let mut world: [(usize, RuleEvidence, BTreeMap<String, usize>); 2] = Default::default();
    cidrs.retain(|(c, e)| {
        if !is_public(c) {
            return true;
        }
        let family = usize::from(c.addr().is_ipv6());
        world[family].0 += 1;
        world[family].1.add(e);
        if let Some(name) = aws(c) {
            *world[family].2.entry(name).or_default() += 1;
        }
        false
    });
    let mut rules = Vec::new();
    for ((n, e, in_aws), any) in world.into_iter().zip(["0.0.0.0/0", "::/0"]) {
        if n == 0 {
            continue;
        }
        let in_aws = if in_aws.is_empty() {
            String::new()
        } else {
            let mut by_count: Vec<(String, usize)> = in_aws.into_iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let named: Vec<String> = by_count.iter().map(|(s, k)| format!("{s} {k}")).collect();
            format!("; in AWS's ranges: {}", named.join(", "))
        };
        notes.push((
            kind,
            format!(
                "{}: {n} internet {who}{} seen{in_aws}: {allowed} {any} ({why})",
                port_name(protocol, port),
                if n == 1 { "" } else { "s" },
            ),
        ));
        rules.push((RuleTarget::Cidr(any.parse().expect("valid")), e));
    }
    rules
}

/// Shapes one direction's needs (protocol, port, target) into rules. Returns the rules
/// and a note per widening.
pub(crate) fn shape(
    needs: &BTreeMap<(u8, u16, RuleTarget), RuleEvidence>,
    direction: Direction,
    internet_facing: &dyn Fn(u16) -> bool,
    shaping: &Shaping,
    aws: AwsNames<'_>,
) -> (Shaped, Vec<(WideningKind, String)>) {
    let mut notes = Vec::new();
    // Per (protocol, port): its targets.
    let mut by_port: BTreeMap<(u8, u16), Vec<(&RuleTarget, &RuleEvidence)>> = BTreeMap::new();
    for ((p, port, t), e) in needs {
        by_port.entry((*p, *port)).or_default().push((t, e));
    }
    let mut per_port_rules: BTreeMap<(u8, RuleTarget), BTreeMap<u16, RuleEvidence>> =
        BTreeMap::new();
    for ((protocol, port), targets) in by_port {
        let mut cidrs: Vec<(IpNet, &RuleEvidence)> = Vec::new();
        let mut out: Vec<(RuleTarget, RuleEvidence)> = Vec::new();
        for (t, e) in targets {
            match t {
                RuleTarget::Cidr(c) => cidrs.push((*c, e)),
                other => out.push((other.clone(), e.clone())),
            }
        }
        for (c, e) in &cidrs {
            if c.prefix_len() == 0 {
                let peers: Vec<&str> = e.examples.iter().map(String::as_str).collect();
                notes.push((
                    WideningKind::NoPrefixList,
                    format!(
                        "{}: peers with no addresses or prefix list in the inventory ({}): {c}",
                        port_name(protocol, port),
                        peers.join(", ")
                    ),
                ));
            }
        }
        if direction == Direction::Egress && shaping.internet_egress == InternetEgress::World {
            out.extend(open_to_internet(
                (protocol, port),
                &mut cidrs,
                (
                    WideningKind::InternetEgress,
                    "destination",
                    "egress allowed to",
                    "internet destinations change from day to day; --internet-egress exact keeps the addresses seen",
                ),
                aws,
                &mut notes,
            ));
        }
        if direction == Direction::Ingress && internet_facing(port) {
            out.extend(open_to_internet(
                (protocol, port),
                &mut cidrs,
                (
                    WideningKind::InternetFacing,
                    "client",
                    "ingress allowed from",
                    "an internet-facing interface serves whoever comes, however few a window saw",
                ),
                aws,
                &mut notes,
            ));
        }
        // Many public peers spread over unrelated networks are "the internet": per
        // family, IPv4 networks told apart by their /8 and IPv6 ones by their /32 (the
        // size of a registry's allocation to one network).
        for (v6, any, network_len) in [(false, "0.0.0.0/0", 8u8), (true, "::/0", 32)] {
            let public: std::collections::BTreeSet<IpNet> = cidrs
                .iter()
                .map(|(c, _)| *c)
                .filter(|c| is_public(c) && c.addr().is_ipv6() == v6)
                .collect();
            let spread = public
                .iter()
                .filter_map(|c| IpNet::new(c.addr(), network_len).ok().map(|n| n.trunc()))
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            if public.len() <= shaping.open_above || spread < shaping.open_spread {
                continue;
            }
            let mut world = RuleEvidence::default();
            cidrs.retain(|(c, e)| {
                let theirs = public.contains(c);
                if theirs {
                    world.add(e);
                }
                !theirs
            });
            notes.push((
                WideningKind::WorldOpen,
                format!(
                    "{}: {} public peers across {spread} /{network_len} networks: opened to {any}",
                    port_name(protocol, port),
                    public.len()
                ),
            ));
            out.push((RuleTarget::Cidr(any.parse().expect("valid")), world));
        }
        // The smallest covering set: exact aggregation (adjacent and nested CIDRs merge,
        // nothing unobserved is added), widened only inside the user's bound.
        let nets: Vec<IpNet> = cidrs.iter().map(|(c, _)| *c).collect();
        let (nets, bound_notes) = widen_within_bound(&nets, shaping);
        notes.extend(bound_notes.into_iter().map(|n| {
            (
                WideningKind::CidrBound,
                format!("{}: {n}", port_name(protocol, port)),
            )
        }));
        for agg in nets {
            let mut e = RuleEvidence::default();
            for (c, ev) in &cidrs {
                if agg.contains(c) {
                    e.add(ev);
                }
            }
            out.push((RuleTarget::Cidr(agg), e));
        }
        for (t, e) in out {
            per_port_rules
                .entry((protocol, t))
                .or_default()
                .entry(port)
                .or_default()
                .add(&e);
        }
    }
    // Ports per (protocol, target) merged into ranges.
    let mut rules = Shaped::new();
    for ((protocol, target), ports) in per_port_rules {
        let mut run: Option<(u16, u16, RuleEvidence)> = None;
        let mut flush = |run: Option<(u16, u16, RuleEvidence)>| {
            if let Some((from, to, e)) = run {
                // Only TCP and UDP rules have ports; AWS allows every "port" of the
                // others (ICMP: every type) and describes them as -1.
                let (from, to) = if !matches!(protocol, 6 | 17) {
                    (-1, -1)
                } else {
                    (i32::from(from), i32::from(to))
                };
                rules.insert(
                    RuleSpec {
                        protocol: i32::from(protocol),
                        from,
                        to,
                        target: target.clone(),
                    },
                    e,
                );
            }
        };
        for (port, e) in ports {
            run = match run.take() {
                Some((from, to, mut acc))
                    if u32::from(port) <= u32::from(to) + 1 + u32::from(shaping.port_gap) =>
                {
                    acc.add(&e);
                    Some((from, port, acc))
                }
                other => {
                    flush(other);
                    Some((port, port, e))
                }
            };
        }
        flush(run);
    }
    (rules, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `shape` with the default shaping, no internet-facing role and no AWS names.
    fn shaped(
        needs: &BTreeMap<(u8, u16, RuleTarget), RuleEvidence>,
        direction: Direction,
    ) -> (Shaped, Vec<(WideningKind, String)>) {
        shape(needs, direction, &|_| false, &Shaping::default(), &|_| None)
    }

    fn ev(flows: u64) -> RuleEvidence {
        RuleEvidence {
            flows,
            ..RuleEvidence::default()
        }
    }

    fn cidr(s: &str) -> RuleTarget {
        RuleTarget::Cidr(s.parse().unwrap())
    }

    #[test]
    fn cidrs_aggregate_exactly() {
        let needs: BTreeMap<_, _> = [
            ((6, 443, cidr("10.0.1.4/32")), ev(1)),
            ((6, 443, cidr("10.0.1.5/32")), ev(2)),
            ((6, 443, cidr("10.0.1.7/32")), ev(3)),
        ]
        .into();
        let (rules, notes) = shaped(&needs, Direction::Ingress);
        let got: Vec<(String, u64)> = rules
            .iter()
            .map(|(r, e)| (format!("{:?}", r.target), e.flows))
            .collect();
        assert_eq!(
            got,
            [
                ("Cidr(10.0.1.4/31)".to_string(), 3),
                ("Cidr(10.0.1.7/32)".to_string(), 3)
            ]
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn many_spread_public_sources_open_to_the_world_and_say_so() {
        let needs: BTreeMap<_, _> = (0..40u8)
            .map(|i| ((6, 443, cidr(&format!("{}.1.2.3/32", 20 + i))), ev(1)))
            .collect();
        let (rules, notes) = shaped(&needs, Direction::Ingress);
        assert_eq!(rules.len(), 1);
        let (r, e) = rules.iter().next().unwrap();
        assert_eq!(r.target, cidr("0.0.0.0/0"));
        assert_eq!(e.flows, 40);
        assert_eq!(notes.len(), 1);
        // Few sources stay as they are.
        let few: BTreeMap<_, _> = (0..5u8)
            .map(|i| ((6, 443, cidr(&format!("{}.1.2.3/32", 20 + i))), ev(1)))
            .collect();
        assert_eq!(shaped(&few, Direction::Ingress).0.len(), 5);
    }

    /// Egress to a few internet destinations opens the port to the world, per family,
    /// and says so; private destinations stay exact; `exact` keeps the addresses; and
    /// ingress from the same few addresses is not widened.
    #[test]
    fn internet_egress_opens_the_port_to_the_world_unless_exact() {
        let needs: BTreeMap<_, _> = [
            "52.1.2.3/32",
            "151.101.1.1/32",
            "2606:4700::1/128",
            "10.0.9.9/32",
        ]
        .iter()
        .map(|c| ((6, 443, cidr(c)), ev(2)))
        .collect();
        let (rules, notes) = shaped(&needs, Direction::Egress);
        let targets: Vec<(RuleTarget, u64)> = rules
            .iter()
            .map(|(r, e)| (r.target.clone(), e.flows))
            .collect();
        assert_eq!(
            targets,
            [
                (cidr("0.0.0.0/0"), 4),
                (cidr("10.0.9.9/32"), 2),
                (cidr("::/0"), 2)
            ]
        );
        assert_eq!(
            notes.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            [WideningKind::InternetEgress, WideningKind::InternetEgress]
        );
        assert!(
            notes[0]
                .1
                .starts_with("tcp 443: 2 internet destinations seen: egress allowed to 0.0.0.0/0"),
            "{}",
            notes[0].1
        );
        assert!(
            notes[1]
                .1
                .starts_with("tcp 443: 1 internet destination seen: egress allowed to ::/0"),
            "{}",
            notes[1].1
        );

        let exact = Shaping {
            internet_egress: InternetEgress::Exact,
            ..Shaping::default()
        };
        assert_eq!(
            shape(&needs, Direction::Egress, &|_| false, &exact, &|_| None)
                .0
                .len(),
            4
        );
        let (ingress, notes) = shaped(&needs, Direction::Ingress);
        assert_eq!(ingress.len(), 4);
        assert!(notes.is_empty());
    }

    /// The world rule works per family: many IPv6 clients across unrelated /32s open to
    /// `::/0` as IPv4 ones open to `0.0.0.0/0`, and a few of one family don't ride on
    /// the other's count.
    #[test]
    fn many_spread_ipv6_sources_open_to_the_ipv6_world() {
        let v6 = |i: u16| cidr(&format!("2600:{i:x}::1/128"));
        let mut needs: BTreeMap<_, _> = (1..=40u16).map(|i| ((6, 443, v6(i)), ev(1))).collect();
        // Five IPv4 clients: too few to open IPv4.
        for i in 0..5u8 {
            needs.insert((6, 443, cidr(&format!("{}.1.2.3/32", 20 + i))), ev(1));
        }
        let (rules, notes) = shaped(&needs, Direction::Ingress);
        let targets: Vec<RuleTarget> = rules.keys().map(|r| r.target.clone()).collect();
        assert_eq!(targets.len(), 6);
        assert!(targets.contains(&cidr("::/0")));
        assert!(!targets.contains(&cidr("0.0.0.0/0")));
        assert_eq!(notes.len(), 1);
        assert_eq!(
            notes[0].1,
            "tcp 443: 40 public peers across 40 /32 networks: opened to ::/0"
        );
    }

    /// Widening notes stay readable for IPv6: small counts exact, large ones as powers
    /// of two.
    #[test]
    fn address_counts_are_readable() {
        assert_eq!(more_addresses(254.0), "254 more addresses");
        assert_eq!(more_addresses(65_535.0), "65535 more addresses");
        let v6: IpNet = "2600:1f18::/64".parse().unwrap();
        assert_eq!(more_addresses(size(&v6) - 3.0), "about 2^64 more addresses");
    }

    #[test]
    fn adjacent_ports_merge_and_gaps_only_when_allowed() {
        let g = RuleTarget::Group("new:web".into());
        let needs: BTreeMap<_, _> = [8080u16, 8081, 8083]
            .iter()
            .map(|p| ((6, *p, g.clone()), ev(1)))
            .collect();
        let ranges = |gap| -> Vec<(i32, i32)> {
            let shaping = Shaping {
                port_gap: gap,
                ..Shaping::default()
            };
            shape(&needs, Direction::Ingress, &|_| false, &shaping, &|_| None)
                .0
                .keys()
                .map(|r| (r.from, r.to))
                .collect()
        };
        assert_eq!(ranges(0), [(8080, 8081), (8083, 8083)]);
        assert_eq!(ranges(1), [(8080, 8083)]);
    }

    #[test]
    fn covering_cidrs_are_the_smallest_common_block() {
        let n = |s: &str| -> IpNet { s.parse().unwrap() };
        assert_eq!(
            covering(&n("10.0.1.1/32"), &n("10.0.1.3/32")),
            n("10.0.1.0/30")
        );
        assert_eq!(
            covering(&n("10.0.1.0/24"), &n("10.0.1.7/32")),
            n("10.0.1.0/24")
        );
        assert_eq!(
            covering(&n("10.0.0.255/32"), &n("10.0.1.0/32")),
            n("10.0.0.0/23")
        );
        assert_eq!(
            covering(&n("2001:db8::1/128"), &n("2001:db8::2/128")),
            n("2001:db8::/126")
        );
    }

    #[test]
    fn cidrs_widen_only_inside_the_users_bound() {
        let needs: BTreeMap<_, _> = ["10.1.2.9/32", "10.1.2.20/32", "10.1.3.5/32", "10.9.0.1/32"]
            .iter()
            .map(|c| ((6, 443, cidr(c)), ev(1)))
            .collect();
        let targets = |bound| -> (Vec<String>, usize) {
            let shaping = Shaping {
                widen_v4: bound,
                ..Shaping::default()
            };
            let (rules, notes) = shape(&needs, Direction::Ingress, &|_| false, &shaping, &|_| None);
            let got = rules
                .keys()
                .map(|r| match &r.target {
                    RuleTarget::Cidr(c) => c.to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            (got, notes.len())
        };
        // Exact by default.
        assert_eq!(targets(32).0.len(), 4);
        assert_eq!(targets(32).1, 0);
        // Two addresses share a /24: covered by their smallest block, and said so.
        assert_eq!(
            targets(24),
            (
                vec![
                    "10.1.2.0/27".to_string(),
                    "10.1.3.5/32".to_string(),
                    "10.9.0.1/32".to_string()
                ],
                1
            )
        );
        assert_eq!(
            targets(16).0,
            ["10.1.2.0/23".to_string(), "10.9.0.1/32".to_string()]
        );
    }

    #[test]
    fn permissions_round_trip_and_match() {
        let spec = RuleSpec {
            protocol: 6,
            from: 5432,
            to: 5432,
            target: RuleTarget::Group("new:app".into()),
        };
        let p = IpPermission::from_spec(&spec, Some("why".into()));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"{"IpProtocol":"tcp","FromPort":5432,"ToPort":5432,"UserIdGroupPairs":[{"GroupId":"new:app","Description":"why"}]}"#
        );
        let back: IpPermission = serde_json::from_str(&json).unwrap();
        assert_eq!(back.specs().unwrap(), std::slice::from_ref(&spec));
        assert!(spec.allows(6, 5432) && !spec.allows(6, 5433) && !spec.allows(17, 5432));
    }
}
