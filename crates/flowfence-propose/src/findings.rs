//! Findings on today's rules, beside the plan: rules no observed connection used,
//! world-open ingress on risky ports, who is still in each default group, default
//! groups nothing uses, and REJECT traffic that suggests something needed is blocked.

use std::collections::BTreeSet;

use flowfence_aggregate::{Peer, Side, Table};
use flowfence_flowlog::time::utc_minute;
use flowfence_inventory::{Inventory, Rule, port_name};
use serde::{Deserialize, Serialize};

use crate::blocked::blocked;
use crate::needs::Direction;
use crate::rules::{IpPermission, PermissionSpecs, RuleSpec, RuleTarget};
use crate::verify::{State, connections};

/// Ports Security Hub EC2.19 calls high-risk when open to the world (a superset of AWS
/// Config `restricted-common-ports`' defaults).
pub(crate) const RISKY_PORTS: [u16; 24] = [
    20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500,
    5601, 8080, 8088, 8888, 9200, 9300,
];

/// What kind of finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A rule no observed connection of the group's members used.
    UnusedRule,
    /// Ingress from `0.0.0.0/0` or `::/0` on a high-risk port.
    WorldOpenRiskyPort,
    /// Interfaces still in a default group.
    DefaultGroupMembers,
    /// A default group with rules and no members: nothing to migrate, just lock it down.
    UnusedDefaultGroup,
    /// REJECTed traffic on a port the interface serves to others: a client may lack a
    /// rule.
    RejectedTraffic,
    /// A connection the client's groups let out and the server's groups reject (both
    /// logged it): it never worked, so the plan doesn't open it; it may be wanted.
    BlockedToday,
    /// A launcher (auto scaling group, EKS node group, Lambda function) whose members
    /// move: what it launches next gets the groups its own settings name, which the
    /// inventory doesn't hold.
    LauncherUnseen,
    /// A launcher whose members move, and whose launch template version or launch
    /// configuration (in the inventory) doesn't name the groups they move to.
    LauncherStale,
    /// A custom group `--tighten custom` left alone: a controller owns it, or it shares
    /// a member with another tightened group.
    LeftAlone,
    /// TCP attempts that never opened (SYN answered by RST: nothing listens; or never
    /// answered): no need, so not in the plan; listed in case a service is down.
    NeverOpened,
}

/// When something was first and last seen, as a person reads it.
fn seen(first: u64, last: u64) -> String {
    format!(
        "first {} UTC, last {} UTC",
        utc_minute(first),
        utc_minute(last)
    )
}

/// How much a finding matters, for ordering a reviewer's list: most first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Risk {
    /// Exposed today, or the migration breaks something unless it is handled.
    High,
    /// Wider than needed, or traffic that may be wanted and doesn't work.
    Medium,
    /// Worth knowing.
    Low,
}

impl Risk {
    /// As a reviewer reads it.
    pub fn name(self) -> &'static str {
        match self {
            Risk::High => "high",
            Risk::Medium => "medium",
            Risk::Low => "low",
        }
    }
}

impl FindingKind {
    /// How much a finding of this kind matters.
    pub fn risk(self) -> Risk {
        match self {
            // Open to the internet on a risky port; or members launched after the move
            // land in the default group, which the plan empties.
            FindingKind::WorldOpenRiskyPort
            | FindingKind::LauncherUnseen
            | FindingKind::LauncherStale => Risk::High,
            FindingKind::DefaultGroupMembers
            | FindingKind::RejectedTraffic
            | FindingKind::BlockedToday
            | FindingKind::UnusedRule => Risk::Medium,
            FindingKind::UnusedDefaultGroup | FindingKind::LeftAlone | FindingKind::NeverOpened => {
                Risk::Low
            }
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What kind.
    pub kind: FindingKind,
    /// The group (`sg-...`) or interface (`eni-...`) it is about.
    pub subject: String,
    /// The rule, for rule findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<IpPermission>,
    /// `ingress` or `egress`, for rule findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// What exactly, for a person.
    pub detail: String,
}

/// The risky ports a rule opens (all of them for "all traffic").
fn risky_ports(spec: &RuleSpec) -> Vec<u16> {
    RISKY_PORTS
        .iter()
        .copied()
        .filter(|p| {
            spec.protocol == -1
                || (matches!(spec.protocol, 6 | 17) && spec.allows(spec.protocol as u8, *p))
        })
        .collect()
}

fn permission(rule: &Rule) -> (RuleSpec, IpPermission) {
    let spec = RuleSpec::from_inventory(rule);
    let p = IpPermission::from_spec(&spec, rule.description.clone());
    (spec, p)
}

/// Findings on the inventory's groups given the observed connections.
pub(crate) fn findings(table: &Table, inventory: &Inventory, vpc: Option<&str>) -> Vec<Finding> {
    let mut out = Vec::new();
    let state = State::current(inventory);
    let observed = connections(table, inventory);
    let logged: BTreeSet<&str> = table.rows.iter().map(|r| r.interface_id.as_str()).collect();
    let in_scope =
        |g: &flowfence_inventory::SecurityGroup| vpc.is_none() || g.vpc_id.as_deref() == vpc;
    for g in inventory.groups().filter(|g| in_scope(g)) {
        let members: Vec<&str> = inventory.members(&g.id).map(|i| i.id.as_str()).collect();
        // Default groups.
        if g.is_default() {
            if !members.is_empty() {
                out.push(Finding {
                    kind: FindingKind::DefaultGroupMembers,
                    subject: g.id.clone(),
                    rule: None,
                    direction: None,
                    detail: format!(
                        "{} interfaces in the default group of {}: {}",
                        members.len(),
                        g.vpc_id.as_deref().unwrap_or("its VPC"),
                        members.join(", ")
                    ),
                });
            } else if !g.ingress.is_empty() || !g.egress.is_empty() {
                out.push(Finding {
                    kind: FindingKind::UnusedDefaultGroup,
                    subject: g.id.clone(),
                    rule: None,
                    direction: None,
                    detail: format!(
                        "default group of {} has {} rules and no members: revoke them (CIS 5.5, Security Hub EC2.2); nothing needs migrating",
                        g.vpc_id.as_deref().unwrap_or("its VPC"),
                        g.ingress.len() + g.egress.len()
                    ),
                });
            }
        }
        // World-open ingress on risky ports.
        for rule in &g.ingress {
            let (spec, p) = permission(rule);
            let RuleTarget::Cidr(c) = &spec.target else {
                continue;
            };
            let ports = risky_ports(&spec);
            if c.prefix_len() == 0 && !ports.is_empty() {
                let list: Vec<String> = ports.iter().map(u16::to_string).collect();
                out.push(Finding {
                    kind: FindingKind::WorldOpenRiskyPort,
                    subject: g.id.clone(),
                    rule: Some(p),
                    direction: Some(Direction::Ingress),
                    detail: format!(
                        "{} ({}) allows {c} on high-risk ports {} (Security Hub EC2.19)",
                        g.id,
                        g.name,
                        list.join(", ")
                    ),
                });
            }
        }
        // Unused rules: only where a member logged traffic (silence from an interface
        // without flow logs proves nothing).
        let member_ends: Vec<Peer> = members
            .iter()
            .filter(|m| logged.contains(**m))
            .map(|m| Peer::Interface(m.to_string()))
            .collect();
        if member_ends.is_empty() {
            continue;
        }
        for (ingress, rules) in [(true, &g.ingress), (false, &g.egress)] {
            for rule in rules {
                let (spec, p) = permission(rule);
                let used = observed.keys().any(|(c, s, protocol, port)| {
                    let (me, peer) = if ingress { (s, c) } else { (c, s) };
                    member_ends.contains(me)
                        && spec.allows(*protocol, *port)
                        && state.matches(inventory, &spec.target, peer)
                });
                if !used {
                    out.push(Finding {
                        kind: FindingKind::UnusedRule,
                        subject: g.id.clone(),
                        rule: Some(p),
                        direction: Some(if ingress {
                            Direction::Ingress
                        } else {
                            Direction::Egress
                        }),
                        detail: format!(
                            "{} ({}): no observed connection of its {} members with flow logs used this {} rule",
                            g.id,
                            g.name,
                            member_ends.len(),
                            if ingress { "ingress" } else { "egress" }
                        ),
                    });
                }
            }
        }
    }
    // REJECTs on a port the interface also serves: some clients get through, others
    // don't. Rejects on ports nobody is served on are scans, counted only.
    let served: BTreeSet<(&str, u8, u16)> = table
        .rows
        .iter()
        .filter(|r| r.side == Side::Server)
        .map(|r| (r.interface_id.as_str(), r.protocol, r.port))
        .collect();
    for r in &table.rejected {
        let (iface, protocol, port, rejected) = (&r.interface_id, r.protocol, r.port, &r.totals);
        if served.contains(&(iface.as_str(), protocol, port)) {
            out.push(Finding {
                kind: FindingKind::RejectedTraffic,
                subject: iface.clone(),
                rule: None,
                direction: None,
                detail: format!(
                    "{} REJECT records to protocol {protocol} port {port}, which {iface} serves to others: a client may lack a rule ({})",
                    rejected.records,
                    seen(rejected.first_seen, rejected.last_seen)
                ),
            });
        }
    }
    for (b, row) in blocked(table) {
        out.push(Finding {
            kind: FindingKind::BlockedToday,
            subject: b.server.to_string(),
            rule: None,
            direction: Some(Direction::Ingress),
            detail: format!(
                "{} -> {} {}: {} flows accepted by {}'s groups and rejected by {}'s ({}); not in the plan: allow it on purpose if it is wanted",
                b.client,
                b.server,
                port_name(b.protocol, b.port),
                row.flows,
                b.client,
                b.server,
                seen(row.first_seen, row.last_seen)
            ),
        });
    }
    out.extend(never_opened(table));
    out.sort_by(|a, b| (a.kind, &a.subject, &a.detail).cmp(&(b.kind, &b.subject, &b.detail)));
    out
}

/// The TCP attempts that never opened, one finding per interface, side, port and
/// outcome, its peers named (the first three). Attempts between two logging interfaces
/// are told from the client's side, and those the server's groups rejected are
/// `blocked-today` findings instead.
fn never_opened(table: &Table) -> Vec<Finding> {
    use std::collections::BTreeMap;
    let blocked: BTreeSet<(&str, &str, u8, u16)> = blocked(table)
        .keys()
        .map(|b| (b.client, b.server, b.protocol, b.port))
        .collect();
    let mut groups: BTreeMap<_, (Vec<String>, u64, u64, u64)> = BTreeMap::new();
    for a in &table.attempts {
        let r = &a.row;
        let told_by_client = r.side == Side::Server && r.peer.interface().is_some();
        let is_blocked = r.peer.interface().is_some_and(|server| {
            blocked.contains(&(r.interface_id.as_str(), server, r.protocol, r.port))
        });
        if told_by_client || r.side == Side::Client && is_blocked {
            continue;
        }
        let g = groups
            .entry((&r.interface_id, r.side, r.protocol, r.port, a.outcome))
            .or_insert((Vec::new(), 0, u64::MAX, 0));
        g.0.push(r.peer.to_string());
        g.1 += r.flows;
        g.2 = g.2.min(r.first_seen);
        g.3 = g.3.max(r.last_seen);
    }
    groups
        .into_iter()
        .map(|((iface, side, protocol, port, outcome), (peers, flows, first, last))| {
            let what = match outcome {
                flowfence_aggregate::Outcome::Refused => "refused (answered by RST: nothing listens)",
                _ => "never answered",
            };
            let (verb, dir) = match side {
                Side::Client => ("opened", "to"),
                Side::Server => ("received", "from"),
            };
            let shown = peers.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
            let more = match peers.len() {
                n if n > 3 => format!(" and {} more", n - 3),
                _ => String::new(),
            };
            Finding {
                kind: FindingKind::NeverOpened,
                subject: iface.clone(),
                rule: None,
                direction: Some(match side {
                    Side::Client => Direction::Egress,
                    Side::Server => Direction::Ingress,
                }),
                detail: format!(
                    "{iface} {verb} {} {dir} {shown}{more}: {flows} flows, all {what} ({}); not a need, so not in the plan",
                    port_name(protocol, port),
                    seen(first, last),
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use serde_json::json;

    #[test]
    fn world_open_risky_ports_unused_rules_and_idle_default_groups_are_found() {
        let inventory = testing::inventory(
            vec![testing::interface(
                "eni-a",
                "10.0.0.1",
                &["sg-a"],
                "interface",
                None,
            )],
            vec![
                testing::group(
                    "sg-a",
                    "a",
                    json!([
                        {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
                        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}
                    ]),
                    json!([]),
                ),
                testing::group(
                    "sg-d",
                    "default",
                    json!([{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-d"}]}]),
                    json!([]),
                ),
            ],
        );
        let mut csv = flowfence_aggregate::COLUMNS.join(",");
        csv.push_str("\neni-a,server,6,443,vpc,10.0.3.4/32,3,30,3000,100,200,9,flags\n");
        let table = Table::from_csv(&csv).unwrap();
        let found = findings(&table, &inventory, None);
        let kinds: Vec<(FindingKind, &str)> =
            found.iter().map(|f| (f.kind, f.subject.as_str())).collect();
        assert_eq!(
            kinds,
            [
                // 0-65535 from anywhere (the 443 connection used it, so it is not unused).
                (FindingKind::WorldOpenRiskyPort, "sg-a"),
                (FindingKind::UnusedDefaultGroup, "sg-d"),
            ]
        );
        assert!(found[0].detail.contains("22, 23"), "{}", found[0].detail);

        // Without the connection, both rules of sg-a are unused; a member that logged
        // nothing proves nothing, so a table without eni-a's rows finds none.
        let mut quiet = flowfence_aggregate::COLUMNS.join(",");
        quiet.push_str("\neni-a,client,17,53,vpc,10.0.0.2/32,1,1,100,100,200,1,flags\n");
        let found = findings(&Table::from_csv(&quiet).unwrap(), &inventory, None);
        assert_eq!(
            found
                .iter()
                .filter(|f| f.kind == FindingKind::UnusedRule)
                .count(),
            2
        );
        let silent = Table::from_csv(&flowfence_aggregate::COLUMNS.join(",")).unwrap();
        assert!(
            findings(&silent, &inventory, None)
                .iter()
                .all(|f| f.kind != FindingKind::UnusedRule)
        );
    }
}
