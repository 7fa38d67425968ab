//! Building the plan, stage by stage: the scope (default groups, groups to tighten,
//! interfaces that move), each interface's needs, roles, each role's group and rules
//! (shaped and fitted to the quota), references to default groups rewritten, default
//! groups emptied, the interfaces' moves, the steps, findings, and the replay check.

use std::collections::{BTreeMap, BTreeSet};

use flowfence_aggregate::{Side, Table};
use flowfence_inventory::{Inventory, IpNet, Peer, SecurityGroup, is_private};

use crate::evidence::RuleEvidence;
use crate::findings::{Finding, FindingKind, findings};
use crate::forecast::{Holdout, learn_with_forecast, window};
use crate::launchers::PlanLauncher;
use crate::model::{
    Check, GROUPS_PER_INTERFACE, GroupChange, Plan, PlanGroup, PlanInterface, PlanRule,
    RuleChanges, Step, Widening,
};
use crate::needs::{self, Direction, Filter, Target};
use crate::quota;
use crate::roles::{self, Role};
use crate::rules::{RuleSpec, RuleTarget, Shaping, WideningKind, shape};
use crate::verify;

/// What to migrate and how to shape rules.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// Only this VPC's default group (default: every VPC's).
    pub vpc: Option<String>,
    /// Existing groups to tighten in place: their rules become what their members were
    /// seen to need.
    pub tighten: Vec<String>,
    /// Also tighten in place every custom group in scope that has members, except
    /// groups a controller owns (unless in `force`) and groups sharing a member with
    /// another tightened group: those are left alone, and the plan says why.
    pub tighten_custom: bool,
    /// Groups in `tighten` to tighten even though a controller owns them (it will
    /// rewrite their rules on its next sync).
    pub force: Vec<String>,
    /// Rows to leave out.
    pub filter: Filter,
    /// CIDR and port shaping.
    pub shaping: Shaping,
    /// Rules per group and direction (AWS's default quota: 60).
    pub max_rules: usize,
    /// The window's tail to hold out and replay against a plan learned without it.
    pub holdout: Holdout,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            vpc: None,
            tighten: Vec::new(),
            tighten_custom: false,
            force: Vec::new(),
            filter: Filter::default(),
            shaping: Shaping::default(),
            max_rules: 60,
            holdout: Holdout::default(),
        }
    }
}

/// Why no plan can be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProposeError {
    /// `--group` names a group the inventory lacks.
    #[error("--group {0}: no such security group in the inventory")]
    UnknownGroup(String),
    /// `--group` names a default group (those are emptied, not tightened).
    #[error(
        "--group {0}: a default group is emptied, not tightened (its members move to new groups without --group)"
    )]
    DefaultGroup(String),
    /// `--group` names a group a controller owns and rewrites (without `--force-group`).
    #[error(
        "--group {group}: managed by {by}, which rewrites its rules on every sync, so tightening it by hand doesn't last; change it through its owner, or pass --force-group {group}"
    )]
    ControllerOwned {
        /// The group.
        group: String,
        /// Who owns it.
        by: &'static str,
    },
    /// `--group` names a group no interface is in: nothing to learn its rules from.
    #[error(
        "--group {0}: no interface is in this group, so nothing shows what it needs (leave it out, or delete the group)"
    )]
    EmptyGroup(String),
    /// An interface is in two groups given with `--group`: its needs can't be split
    /// between them.
    #[error(
        "--group {first} and --group {second}: {interface} is in both, and what it needs can't be split between them; tighten one of them at a time"
    )]
    SharedMember {
        /// The interface.
        interface: String,
        /// One group.
        first: String,
        /// The other.
        second: String,
    },
}

/// Builds the plan from the observed connections and the inventory.
pub fn propose(
    table: &Table,
    inventory: &Inventory,
    options: &Options,
) -> Result<Plan, ProposeError> {
    learn_with_forecast(table, inventory, options.holdout, |t| {
        learn(t, inventory, options)
    })
}

/// The plan for `table`, without a forecast.
fn learn(table: &Table, inventory: &Inventory, options: &Options) -> Result<Plan, ProposeError> {
    let scope = Scope::of(inventory, options)?;
    let (needs, dropped) = needs::collect(table, inventory, &scope.migrating, &options.filter);
    let existing_names: BTreeSet<String> = inventory.groups().map(|g| g.name.clone()).collect();
    let roles = roles::assign(
        &scope.migrating,
        inventory,
        &needs,
        &existing_names,
        &scope.pinned,
        options.shaping.internet_egress,
    );
    let role_of: BTreeMap<&str, &Role> = roles
        .iter()
        .flat_map(|r| r.members.iter().map(move |m| (m.as_str(), r)))
        .collect();

    let mut widened = Vec::new();
    let mut groups: Vec<PlanGroup> = roles
        .iter()
        .map(|role| role_group(role, &needs, &role_of, inventory, options, &mut widened))
        .collect();
    // Other groups' rules naming a default group: once its members leave, such a rule
    // matches nobody, so it is rewritten to the groups of the members that used it.
    groups.extend(
        inventory
            .groups()
            .filter(|g| !g.is_default() && !scope.tightened.contains(g.id.as_str()))
            .filter_map(|g| rewrite_references(g, &scope.default_ids, table, inventory, &role_of)),
    );
    groups.extend(scope.defaults.iter().map(|d| emptied(d)));

    let interfaces = moved_interfaces(&scope, inventory, &role_of);
    widened.extend(over_groups_quota(&interfaces));
    let mut plan = Plan {
        groups,
        interfaces,
        launchers: Vec::new(),
        steps: Vec::new(),
        dropped,
        widened,
        findings: findings(table, inventory, options.vpc.as_deref()),
        check: Check::default(),
        window: window(table),
        forecast: None,
        group_names: BTreeMap::new(),
    };
    plan.group_names = referenced_group_names(&plan, inventory);
    plan.findings
        .extend(scope.left_alone.iter().map(|(g, why)| Finding {
            kind: FindingKind::LeftAlone,
            subject: g.id.clone(),
            rule: None,
            direction: None,
            detail: format!("{} ({}): {why}", g.name, g.id),
        }));
    plan.launchers = crate::launchers::launchers(&plan, inventory);
    plan.steps = steps(&plan.groups, &plan.interfaces, &plan.launchers);
    let launchers = crate::launchers::launcher_findings(&plan, inventory);
    plan.findings.extend(launchers);
    plan.findings
        .sort_by(|a, b| (a.kind, &a.subject, &a.detail).cmp(&(b.kind, &b.subject, &b.detail)));
    let (before, after) = verify::replay(inventory, table, &plan.final_state(inventory));
    plan.check = Check::from_verdicts(&before, &after);
    Ok(plan)
}

/// The names of the existing groups the plan's rules name without changing them (peers
/// that keep their custom groups), from the inventory.
fn referenced_group_names(plan: &Plan, inventory: &Inventory) -> BTreeMap<String, String> {
    plan.groups
        .iter()
        .flat_map(|g| g.ingress.iter().chain(&g.egress))
        .filter_map(|rule| match &rule.spec.target {
            RuleTarget::Group(id) if !plan.groups.iter().any(|g| &g.reference == id) => {
                Some((id.clone(), inventory.group(id)?.name.clone()))
            }
            _ => None,
        })
        .collect()
}

/// What the plan changes: the default groups it empties, the groups it tightens, and
/// the interfaces that move (members of either).
struct Scope<'a> {
    defaults: Vec<&'a SecurityGroup>,
    default_ids: BTreeSet<&'a str>,
    tightened: BTreeSet<&'a str>,
    /// Members of a tightened group stay in it.
    pinned: BTreeMap<String, String>,
    migrating: BTreeSet<String>,
    /// Custom groups `tighten_custom` left alone, and why.
    left_alone: Vec<(&'a SecurityGroup, String)>,
}

impl<'a> Scope<'a> {
    fn of(inventory: &'a Inventory, options: &Options) -> Result<Scope<'a>, ProposeError> {
        let defaults: Vec<&SecurityGroup> = inventory
            .groups()
            .filter(|g| g.is_default())
            .filter(|g| options.vpc.is_none() || g.vpc_id == options.vpc)
            .collect();
        let default_ids: BTreeSet<&str> = defaults.iter().map(|g| g.id.as_str()).collect();
        let mut tightened: BTreeSet<&str> = BTreeSet::new();
        for id in &options.tighten {
            let g = inventory
                .group(id)
                .ok_or_else(|| ProposeError::UnknownGroup(id.clone()))?;
            if g.is_default() {
                return Err(ProposeError::DefaultGroup(id.clone()));
            }
            if let Some(by) = g.managed_by()
                && !options.force.contains(&g.id)
            {
                return Err(ProposeError::ControllerOwned {
                    group: g.id.clone(),
                    by,
                });
            }
            tightened.insert(g.id.as_str());
        }
        let mut left_alone = Vec::new();
        if options.tighten_custom {
            let (custom, alone) = custom_groups(inventory, options, &tightened);
            tightened.extend(custom);
            left_alone = alone;
        }
        // Members of a tightened group stay in it; each tightened group is one role.
        let mut pinned: BTreeMap<String, String> = BTreeMap::new();
        for g in &tightened {
            let mut members = inventory.members(g).peekable();
            if members.peek().is_none() {
                return Err(ProposeError::EmptyGroup(g.to_string()));
            }
            for i in members {
                if let Some(first) = pinned.insert(i.id.clone(), g.to_string()) {
                    return Err(ProposeError::SharedMember {
                        interface: i.id.clone(),
                        first,
                        second: g.to_string(),
                    });
                }
            }
        }
        let migrating: BTreeSet<String> = inventory
            .interfaces()
            .filter(|i| i.groups.iter().any(|g| default_ids.contains(g.id.as_str())))
            .map(|i| i.id.clone())
            .chain(pinned.keys().cloned())
            .collect();
        Ok(Scope {
            defaults,
            default_ids,
            tightened,
            pinned,
            migrating,
            left_alone,
        })
    }
}

/// The custom groups `--tighten custom` tightens beside `named` (the `--group`s): those
/// in scope with members, but not those a controller owns (unless forced) nor those
/// sharing a member with another tightened group (its needs can't be split). Returns
/// them, and the groups left alone with why.
fn custom_groups<'a>(
    inventory: &'a Inventory,
    options: &Options,
    named: &BTreeSet<&'a str>,
) -> (Vec<&'a str>, Vec<(&'a SecurityGroup, String)>) {
    let mut left_alone = Vec::new();
    let mut candidates: Vec<&SecurityGroup> = Vec::new();
    for g in inventory.groups().filter(|g| {
        !g.is_default()
            && !named.contains(g.id.as_str())
            && (options.vpc.is_none() || g.vpc_id == options.vpc)
            && inventory.members(&g.id).next().is_some()
    }) {
        match g.managed_by() {
            Some(by) if !options.force.contains(&g.id) => left_alone.push((
                g,
                format!(
                    "not tightened: managed by {by}, which rewrites its rules on every sync; change it through its owner, or pass --force-group {}",
                    g.id
                ),
            )),
            _ => candidates.push(g),
        }
    }
    // Which tightened group each interface is in: the named ones first, they win.
    let mut holder: BTreeMap<&str, &str> = BTreeMap::new();
    for g in named {
        for i in inventory.members(g) {
            holder.insert(i.id.as_str(), g);
        }
    }
    let mut shared: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for g in &candidates {
        for i in inventory.members(&g.id) {
            if let Some(other) = holder.insert(i.id.as_str(), g.id.as_str()) {
                shared
                    .entry(g.id.as_str())
                    .or_insert((i.id.as_str(), other));
                shared
                    .entry(other)
                    .or_insert((i.id.as_str(), g.id.as_str()));
            }
        }
    }
    let mut tightened = Vec::new();
    for g in candidates {
        match shared.get(g.id.as_str()) {
            Some((interface, other)) => left_alone.push((
                g,
                format!(
                    "not tightened: {interface} is also in {other}, and what it needs can't be split between them; tighten one of them with --group"
                ),
            )),
            None => tightened.push(g.id.as_str()),
        }
    }
    (tightened, left_alone)
}

/// A role's group with its rules: its members' needs, the peers named as rules name
/// them, shaped (CIDRs, port ranges) and fitted to the quota. What widened is added to
/// `widened`.
fn role_group(
    role: &Role,
    needs: &needs::Needs,
    role_of: &BTreeMap<&str, &Role>,
    inventory: &Inventory,
    options: &Options,
    widened: &mut Vec<Widening>,
) -> PlanGroup {
    let as_rule_target = |t: &Target| match t {
        Target::Migrating(id) => RuleTarget::Group(reference(role_of[id.as_str()])),
        Target::Group(g) => RuleTarget::Group(g.clone()),
        Target::PrefixList(p) => RuleTarget::PrefixList(p.clone()),
        Target::Cidr(c) => RuleTarget::Cidr(*c),
    };
    let list_weight = |id: &str| inventory.prefix_list(id).map_or(1, |pl| pl.weight());
    // Where a public range sits in AWS (with --aws-ip-ranges): a CIDR inside one range.
    let aws_name = |net: &IpNet| -> Option<String> {
        let r = inventory.aws_range(net.addr())?;
        (r.prefix.contains(net) && !is_private(net.addr()))
            .then(|| format!("{} {}", r.service, r.region))
    };
    // A role serves the internet on a port where internet clients reach every member
    // with their own addresses: a public address, an internet-facing load balancer's
    // listener, a target port of one that preserves client addresses.
    let ports: Vec<flowfence_inventory::InternetPorts> = role
        .members
        .iter()
        .map(|m| {
            inventory
                .interface(m)
                .map_or(flowfence_inventory::InternetPorts::None, |i| {
                    inventory.internet_ports(i)
                })
        })
        .collect();
    let internet_facing = |port: u16| ports.iter().all(|p| p.includes(port));
    let mut per_direction: BTreeMap<Direction, BTreeMap<(u8, u16, RuleTarget), RuleEvidence>> =
        BTreeMap::new();
    // A group tightened in place keeps a CIDR of today's rules that holds the peers seen
    // (the office's /24 stays, not the addresses that happened to connect): it is what
    // the group's owner said those peers are. Never "anywhere", which is decided apart.
    let today = role.existing.as_deref().and_then(|g| inventory.group(g));
    let known_cidr = |need: &needs::Need, c: &IpNet| -> Option<IpNet> {
        let rules = match need.direction {
            Direction::Ingress => &today?.ingress,
            Direction::Egress => &today?.egress,
        };
        rules.iter().find_map(|r| match r.peer {
            Peer::Cidr(net)
                if net.prefix_len() > 0
                    && net.contains(c)
                    && RuleSpec::from_inventory(r).allows(need.protocol, need.port) =>
            {
                Some(net)
            }
            _ => None,
        })
    };
    for m in &role.members {
        for (need, e) in needs.get(m).into_iter().flatten() {
            let target = match &need.target {
                Target::Cidr(c) => known_cidr(need, c)
                    .map_or_else(|| as_rule_target(&need.target), RuleTarget::Cidr),
                other => as_rule_target(other),
            };
            per_direction
                .entry(need.direction)
                .or_default()
                .entry((need.protocol, need.port, target))
                .or_default()
                .add(e);
        }
    }
    let mut shaped = |d: Direction| {
        let (mut rules, notes) = shape(
            per_direction.get(&d).unwrap_or(&BTreeMap::new()),
            d,
            &internet_facing,
            &options.shaping,
            &aws_name,
        );
        let mut note = |kind, detail| {
            widened.push(Widening {
                subject: role.name.clone(),
                direction: Some(d),
                kind,
                detail,
            })
        };
        for (kind, detail) in notes {
            note(kind, detail);
        }
        let (steps, fitted) = quota::fit(&mut rules, options.max_rules, &list_weight);
        for detail in steps {
            note(WideningKind::Quota, detail);
        }
        if let Err([v4, v6]) = fitted {
            note(
                WideningKind::OverQuota,
                format!(
                    "{v4} IPv4 and {v6} IPv6 rules against a quota of {} with nothing left to widen: raise the quota (Service Quotas, \"Inbound or outbound rules per security group\")",
                    options.max_rules
                ),
            );
        }
        rules
            .iter()
            .map(|(spec, e)| {
                let mut rule = PlanRule::observed(spec.clone(), e.clone());
                // An exact CIDR inside one AWS range says which service it is.
                if let RuleTarget::Cidr(c) = &spec.target
                    && c.prefix_len() > 0
                    && let Some(name) = aws_name(c)
                {
                    rule.description = Some(format!(
                        "flowfence: {name}, {} flows, last seen {}",
                        e.flows, e.last_seen
                    ));
                }
                rule
            })
            .collect::<Vec<_>>()
    };
    let ingress = shaped(Direction::Ingress);
    let egress = shaped(Direction::Egress);
    if let [needs, addresses] = role.differing_needs
        && needs + addresses > 0
    {
        widened.push(Widening {
            subject: role.name.clone(),
            direction: None,
            kind: WideningKind::TierUnion,
            detail: format!(
                "members kept together ({}) though {needs} needs between groups or services and {addresses} peer addresses were seen on only some of them; each member gets the union",
                role.basis
            ),
        });
    }
    let (members, basis) = match &role.existing {
        // Everyone in the group stays in it, whichever role their needs went to.
        Some(id) => (
            inventory.members(id).map(|i| i.id.clone()).collect(),
            "tightened in place: its rules become what its members were seen to need".to_string(),
        ),
        None => (role.members.clone(), role.basis.clone()),
    };
    let changes = role
        .existing
        .as_deref()
        .and_then(|id| inventory.group(id))
        .map(|g| rule_changes(g, &ingress, &egress));
    PlanGroup {
        changes,
        reference: reference(role),
        name: role.name.clone(),
        new: role.existing.is_none(),
        change: if role.existing.is_some() {
            GroupChange::Tighten
        } else {
            GroupChange::Create
        },
        vpc_id: role.vpc_id.clone(),
        members,
        basis,
        ingress,
        egress,
    }
}

/// A default group at the end: no rules, no members.
fn emptied(d: &SecurityGroup) -> PlanGroup {
    PlanGroup {
        changes: Some(rule_changes(d, &[], &[])),
        reference: d.id.clone(),
        name: d.name.clone(),
        new: false,
        change: GroupChange::Empty,
        vpc_id: d.vpc_id.clone(),
        members: Vec::new(),
        basis: "default group: emptied of members and rules (CIS 5.5, Security Hub EC2.2)"
            .to_string(),
        ingress: Vec::new(),
        egress: Vec::new(),
    }
}

/// Every moving interface whose groups change: out of the default group, into its
/// role's.
fn moved_interfaces(
    scope: &Scope<'_>,
    inventory: &Inventory,
    role_of: &BTreeMap<&str, &Role>,
) -> Vec<PlanInterface> {
    scope
        .migrating
        .iter()
        .filter_map(|id| inventory.interface(id))
        .filter_map(|i| {
            let before: Vec<String> = i.groups.iter().map(|g| g.id.clone()).collect();
            let mut after: Vec<String> = before
                .iter()
                .filter(|g| !scope.default_ids.contains(g.as_str()))
                .cloned()
                .collect();
            let mine = reference(role_of[i.id.as_str()]);
            if !after.contains(&mine) {
                after.push(mine);
            }
            (after != before).then(|| PlanInterface {
                interface_id: i.id.clone(),
                groups_before: before,
                groups_after: after,
                requester_managed: i.requester_managed,
                owner: i.owner.to_string(),
            })
        })
        .collect()
}

/// Interfaces left in more groups than AWS's default quota allows.
fn over_groups_quota(interfaces: &[PlanInterface]) -> impl Iterator<Item = Widening> + '_ {
    interfaces
        .iter()
        .filter(|i| i.groups_after.len() > GROUPS_PER_INTERFACE)
        .map(|i| Widening {
            subject: i.interface_id.clone(),
            direction: None,
            kind: WideningKind::OverQuota,
            detail: format!(
                "{} groups after the plan, over the quota of {GROUPS_PER_INTERFACE} per interface: raise it (up to 16) or tighten one of its custom groups with --group",
                i.groups_after.len()
            ),
        })
}

/// A role's group: the existing one it tightens, or `new:NAME`.
fn reference(role: &Role) -> String {
    role.existing
        .clone()
        .unwrap_or_else(|| format!("new:{}", role.name))
}

/// The group `g` with its references to default groups rewritten, if it has any.
fn rewrite_references(
    g: &SecurityGroup,
    default_ids: &BTreeSet<&str>,
    table: &Table,
    inventory: &Inventory,
    role_of: &BTreeMap<&str, &Role>,
) -> Option<PlanGroup> {
    let names_default = |r: &flowfence_inventory::Rule| matches!(&r.peer, Peer::Group { id, .. } if default_ids.contains(id.as_str()));
    if !g.ingress.iter().chain(&g.egress).any(names_default) {
        return None;
    }
    let members: BTreeSet<&str> = inventory.members(&g.id).map(|i| i.id.as_str()).collect();
    let mut notes = Vec::new();
    let mut rewrite = |rules: &[flowfence_inventory::Rule], ingress: bool| {
        let mut out: BTreeMap<RuleSpec, Option<RuleEvidence>> = BTreeMap::new();
        for r in rules {
            let spec = RuleSpec::from_inventory(r);
            if !names_default(r) {
                out.insert(spec, None);
                continue;
            }
            // Members of this group that served (ingress) or opened (egress) such
            // connections with a migrating peer: that peer's new group replaces the
            // default group.
            let mut found: BTreeMap<String, RuleEvidence> = BTreeMap::new();
            for row in &table.rows {
                let wanted_side = if ingress { Side::Server } else { Side::Client };
                if row.side != wanted_side
                    || !members.contains(row.interface_id.as_str())
                    || !spec.allows(row.protocol, row.port)
                {
                    continue;
                }
                if let Some(role) = row.peer.interface().and_then(|id| role_of.get(id)) {
                    found
                        .entry(reference(role))
                        .or_default()
                        .add(&RuleEvidence::from_row(row));
                }
            }
            if found.is_empty() {
                let ports = match (spec.protocol, spec.from, spec.to) {
                    (-1, ..) => String::new(),
                    (_, from, _) if from < 0 => " (all ports)".to_string(),
                    (_, from, to) if from == to => format!(" {from}"),
                    (_, from, to) => format!(" {from}-{to}"),
                };
                notes.push(format!(
                    "{} rule {}{ports} to the default group: no traffic observed, removed",
                    if ingress { "ingress" } else { "egress" },
                    flowfence_inventory::protocol_name(spec.protocol)
                ));
            }
            for (reference, e) in found {
                out.insert(
                    RuleSpec {
                        target: RuleTarget::Group(reference),
                        ..spec.clone()
                    },
                    Some(e),
                );
            }
        }
        out.into_iter()
            .map(|(spec, e)| match e {
                Some(e) => PlanRule::observed(spec, e),
                None => PlanRule::as_is(spec, None),
            })
            .collect::<Vec<_>>()
    };
    let ingress = rewrite(&g.ingress, true);
    let egress = rewrite(&g.egress, false);
    let mut basis =
        "references to the default group rewritten to the new groups of the members that used them"
            .to_string();
    for n in notes {
        basis.push_str("; ");
        basis.push_str(&n);
    }
    Some(PlanGroup {
        reference: g.id.clone(),
        name: g.name.clone(),
        new: false,
        change: GroupChange::RewriteReferences,
        changes: Some(rule_changes(g, &ingress, &egress)),
        vpc_id: g.vpc_id.clone(),
        members: members.iter().map(|m| m.to_string()).collect(),
        basis,
        ingress,
        egress,
    })
}

/// The migration's steps: nothing destructive before the observation pause.
fn steps(
    groups: &[PlanGroup],
    interfaces: &[PlanInterface],
    launchers: &[PlanLauncher],
) -> Vec<Step> {
    let refs = |change: GroupChange| -> Vec<String> {
        groups
            .iter()
            .filter(|g| g.change == change)
            .map(|g| g.reference.clone())
            .collect()
    };
    let new_groups = refs(GroupChange::Create);
    let tightened = refs(GroupChange::Tighten);
    let ifaces: Vec<String> = interfaces.iter().map(|i| i.interface_id.clone()).collect();
    let managed: Vec<String> = interfaces
        .iter()
        .filter(|i| i.requester_managed)
        .map(|i| format!("{} ({})", i.interface_id, i.owner))
        .collect();
    let mut attach = "Add each interface's new group beside the groups it has (the default group stays for now).".to_string();
    if !managed.is_empty() {
        attach.push_str(&format!(
            " Requester-managed interfaces change through their owning resource: {}.",
            managed.join(", ")
        ));
    }
    let mut authorize = "Authorize every new group's ingress and egress rules.".to_string();
    if !tightened.is_empty() {
        authorize.push_str(" Authorize the rules each tightened group gains (its old rules stay until the observation is done).");
    }
    let mut list = vec![
        ("create-groups", "Create the new security groups (no rules yet).".to_string(), new_groups.clone()),
        ("authorize-rules", authorize, new_groups.into_iter().chain(tightened.iter().cloned()).collect()),
        ("rewrite-references", "In groups that reference a default group, add the rules naming the new groups (the old references go with the default group's members).".to_string(), refs(GroupChange::RewriteReferences)),
        ("attach-new-groups", attach, ifaces.clone()),
    ];
    let launcher_labels: Vec<String> = launchers.iter().map(PlanLauncher::label).collect();
    if !launchers.is_empty() {
        list.push(("launch-beside-default", "Make each launcher name its new groups beside the ones it names today, so what it launches during the observation gets both: a new launch template version (the auto scaling group pointed at it unless it launches $Latest, a node group through update-nodegroup-version); a launch configuration is copied; an ECS service gets a new network configuration and deployment (its tasks' interfaces can't change), a Lambda function a new VPC configuration.".to_string(), launcher_labels.clone()));
    }
    list.push(("observe", "Keep flow logs running for a while (a week covers weekly jobs) and run `flowfence verify` on the new logs: nothing may reach these interfaces through the default group only.".to_string(), ifaces.clone()));
    if !launchers.is_empty() {
        list.push(("launch-without-default", "Make each launcher name only its new groups (another launch template version, service deployment or function configuration), so nothing it launches lands in the default group once it is emptied.".to_string(), launcher_labels));
    }
    list.push((
        "detach-default",
        "Remove the default group from each interface.".to_string(),
        ifaces,
    ));
    if !tightened.is_empty() {
        list.push((
            "revoke-replaced-rules",
            "In each tightened group, revoke the rules the plan does not keep.".to_string(),
            tightened,
        ));
    }
    list.push((
        "revoke-default-rules",
        "Revoke every rule of the default groups; they end with no rules and no members."
            .to_string(),
        refs(GroupChange::Empty),
    ));
    list.into_iter()
        .enumerate()
        .map(|(i, (action, description, targets))| Step {
            step: i as u32 + 1,
            action: action.to_string(),
            description,
            targets,
        })
        .collect()
}

/// What turns `group`'s rules today into `ingress` and `egress`: the rules to add (as
/// AWS will hold them: no evidence of their own) and today's rules to remove.
fn rule_changes(group: &SecurityGroup, ingress: &[PlanRule], egress: &[PlanRule]) -> RuleChanges {
    let split = |today: &[flowfence_inventory::Rule], target: &[PlanRule]| {
        let now: Vec<RuleSpec> = today.iter().map(RuleSpec::from_inventory).collect();
        let add = target
            .iter()
            .filter(|r| !now.contains(&r.spec))
            .map(|r| PlanRule::as_is(r.spec.clone(), r.description.clone()))
            .collect();
        let remove = today
            .iter()
            .map(|r| (RuleSpec::from_inventory(r), r))
            .filter(|(spec, _)| !target.iter().any(|t| &t.spec == spec))
            .map(|(spec, r)| PlanRule::as_is(spec, r.description.clone()))
            .collect();
        (add, remove)
    };
    let (authorize_ingress, revoke_ingress) = split(&group.ingress, ingress);
    let (authorize_egress, revoke_egress) = split(&group.egress, egress);
    RuleChanges {
        authorize_ingress,
        authorize_egress,
        revoke_ingress,
        revoke_egress,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{self, tcp};

    /// eni-a (10.0.0.1) opens TCP 5432 to eni-b (10.0.0.2); both sit in the default
    /// group sg-d, which allows everything among its members. sg-app is a custom group
    /// with a rule naming sg-d; eni-c is its only member and served eni-a on 8080.
    fn inventory() -> Inventory {
        let all_from =
            |g: &str| json!([{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": g}]}]);
        let anywhere = json!([{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]);
        testing::inventory(
            vec![
                testing::interface("eni-a", "10.0.0.1", &["sg-d"], "interface", Some("web")),
                testing::interface("eni-b", "10.0.0.2", &["sg-d"], "interface", Some("db")),
                testing::interface("eni-c", "10.0.0.3", &["sg-app"], "interface", None),
            ],
            vec![
                testing::group("sg-d", "default", all_from("sg-d"), anywhere.clone()),
                testing::group(
                    "sg-app",
                    "app",
                    json!([{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": "sg-d"}]},
                           {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
                    anywhere,
                ),
            ],
        )
    }

    fn table() -> Table {
        testing::table(&[
            "eni-a,client,6,5432,interface,eni-b,3,30,3000,100,200,1,flags",
            "eni-b,server,6,5432,interface,eni-a,3,30,3000,100,200,9,flags",
            "eni-a,client,6,8080,interface,eni-c,2,20,2000,150,250,1,flags",
            "eni-c,server,6,8080,interface,eni-a,2,20,2000,150,250,2,flags",
        ])
    }

    fn group<'p>(plan: &'p Plan, name: &str) -> &'p PlanGroup {
        plan.groups.iter().find(|g| g.name == name).unwrap()
    }

    fn rules(rules: &[PlanRule]) -> Vec<RuleSpec> {
        rules.iter().map(|r| r.spec.clone()).collect()
    }

    #[test]
    fn each_end_of_a_connection_gets_its_half_and_the_default_group_empties() {
        let plan = propose(&table(), &inventory(), &Options::default()).unwrap();
        let (web, db) = (group(&plan, "web"), group(&plan, "db"));
        assert_eq!(
            (web.reference.as_str(), db.reference.as_str()),
            ("new:web", "new:db")
        );
        assert_eq!(
            rules(&web.egress),
            [
                tcp(5432, RuleTarget::Group("new:db".into())),
                tcp(8080, RuleTarget::Group("sg-app".into()))
            ]
        );
        assert!(web.ingress.is_empty());
        assert_eq!(
            rules(&db.ingress),
            [tcp(5432, RuleTarget::Group("new:web".into()))]
        );
        assert!(db.egress.is_empty());
        let evidence = db.ingress[0].evidence.as_ref().unwrap();
        assert_eq!(
            (evidence.flows, evidence.first_seen, evidence.last_seen),
            (3, 100, 200)
        );

        let default = group(&plan, "default");
        assert_eq!(default.change, GroupChange::Empty);
        assert!(default.ingress.is_empty() && default.members.is_empty());
        let changes = default.changes.as_ref().unwrap();
        assert_eq!(
            (changes.revoke_ingress.len(), changes.revoke_egress.len()),
            (1, 1)
        );

        let moved: Vec<(&str, &[String])> = plan
            .interfaces
            .iter()
            .map(|i| (i.interface_id.as_str(), i.groups_after.as_slice()))
            .collect();
        assert_eq!(
            moved,
            [
                ("eni-a", &["new:web".to_string()][..]),
                ("eni-b", &["new:db".to_string()][..])
            ]
        );
        assert_eq!((plan.check.connections, plan.check.broken), (2, 0));
    }

    /// sg-app's rule naming the default group becomes a rule naming the new group of
    /// the member that used it; its other rules stay, and nothing is revoked but the
    /// reference.
    #[test]
    fn a_reference_to_the_default_group_is_rewritten_to_the_users_new_group() {
        let plan = propose(&table(), &inventory(), &Options::default()).unwrap();
        let app = group(&plan, "app");
        assert_eq!(app.change, GroupChange::RewriteReferences);
        assert_eq!(
            rules(&app.ingress),
            [
                tcp(22, RuleTarget::Cidr("0.0.0.0/0".parse().unwrap())),
                tcp(8080, RuleTarget::Group("new:web".into())),
            ]
        );
        let changes = app.changes.as_ref().unwrap();
        assert_eq!(
            rules(&changes.authorize_ingress),
            [tcp(8080, RuleTarget::Group("new:web".into()))]
        );
        assert_eq!(
            rules(&changes.revoke_ingress),
            [tcp(8080, RuleTarget::Group("sg-d".into()))]
        );
        assert!(changes.authorize_egress.is_empty() && changes.revoke_egress.is_empty());
    }

    /// eni-a also tried eni-b on 10250: its own groups let it out (ACCEPT on eni-a), eni-b's
    /// turned it away (REJECT on eni-b, no row of eni-b accepting it). That never worked:
    /// no rule for it, no broken connection, and a finding that names it.
    #[test]
    fn an_attempt_the_server_rejects_is_a_finding_not_a_need() {
        let mut table = testing::table(&[
            "eni-a,client,6,5432,interface,eni-b,3,30,3000,100,200,1,flags",
            "eni-b,server,6,5432,interface,eni-a,3,30,3000,100,200,9,flags",
            "eni-a,client,6,10250,interface,eni-b,4,8,400,300,400,4,flags",
        ]);
        table.rejected.push(flowfence_aggregate::RejectedTraffic {
            interface_id: "eni-b".into(),
            protocol: 6,
            port: 10250,
            totals: flowfence_aggregate::Rejected {
                records: 4,
                packets: 4,
                first_seen: 300,
                last_seen: 400,
            },
        });
        let plan = propose(&table, &inventory(), &Options::default()).unwrap();
        let web = group(&plan, "web");
        assert_eq!(
            rules(&web.egress),
            [tcp(5432, RuleTarget::Group("new:db".into()))]
        );
        assert_eq!((plan.check.connections, plan.check.broken), (1, 0));
        assert_eq!(plan.check.broken_today, 0);
        let blocked: Vec<&str> = plan
            .findings
            .iter()
            .filter(|f| f.kind == crate::FindingKind::BlockedToday)
            .map(|f| f.detail.as_str())
            .collect();
        assert_eq!(
            blocked,
            [
                "eni-a -> eni-b tcp 10250: 4 flows accepted by eni-a's groups and rejected by eni-b's (first 1970-01-01 00:05 UTC, last 1970-01-01 00:06 UTC); not in the plan: allow it on purpose if it is wanted"
            ]
        );
        // Had eni-b accepted it from eni-a too, it would be a need like any other.
        let mut accepted = table.clone();
        accepted.rows.push(
            testing::table(&["eni-b,server,6,10250,interface,eni-a,4,8,400,300,400,4,flags"])
                .rows
                .remove(0),
        );
        let plan = propose(&accepted, &inventory(), &Options::default()).unwrap();
        assert!(
            rules(&group(&plan, "web").egress)
                .contains(&tcp(10250, RuleTarget::Group("new:db".into())))
        );
    }

    /// An interface with a public address (an internet-facing load balancer's) keeps
    /// ingress from the whole internet on the port it served, however few clients the
    /// window saw; the same three clients of a private interface (another role: another
    /// port) stay exact.
    #[test]
    fn an_internet_facing_interface_serves_the_internet() {
        let mut lb = testing::interface("eni-lb", "10.0.0.5", &["sg-d"], "interface", Some("lb"));
        lb["Association"] = json!({"PublicIp": "54.1.2.3"});
        let inventory = testing::inventory(
            vec![
                lb,
                testing::interface("eni-p", "10.0.0.6", &["sg-d"], "interface", Some("private")),
            ],
            vec![testing::group("sg-d", "default", json!([]), json!([]))],
        );
        let mut rows = Vec::new();
        for client in ["203.0.113.7", "198.51.100.20", "192.0.2.99"] {
            for (eni, port) in [("eni-lb", 443), ("eni-p", 8443)] {
                rows.push(format!(
                    "{eni},server,6,{port},internet,{client}/32,2,20,2000,100,200,2,flags"
                ));
            }
        }
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let plan = propose(&testing::table(&rows), &inventory, &Options::default()).unwrap();
        assert_eq!(
            rules(&group(&plan, "lb").ingress),
            [tcp(443, RuleTarget::Cidr("0.0.0.0/0".parse().unwrap()))]
        );
        assert_eq!(
            group(&plan, "lb").ingress[0]
                .evidence
                .as_ref()
                .unwrap()
                .flows,
            6
        );
        assert_eq!(group(&plan, "private").ingress.len(), 3);
        let facing: Vec<&Widening> = plan
            .widened
            .iter()
            .filter(|w| w.kind == WideningKind::InternetFacing)
            .collect();
        assert_eq!(facing.len(), 1);
        assert_eq!(facing[0].subject, "lb");
        assert!(
            facing[0]
                .detail
                .starts_with("tcp 443: 3 internet clients seen: ingress allowed from 0.0.0.0/0"),
            "{}",
            facing[0].detail
        );
    }

    /// A private interface behind an internet-facing network load balancer whose
    /// target group preserves client addresses (instance targets) sees the real clients:
    /// it serves the internet on the target port, not only the addresses one window saw.
    /// An IP-target TCP group (the balancer's own address) or an internal balancer
    /// doesn't; an internet-facing balancer serves only its listener ports.
    #[test]
    fn targets_of_a_client_preserving_network_load_balancer_serve_the_internet() {
        let arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/edge/50dc6c495c0c9188";
        let mut nlb = testing::interface(
            "eni-n",
            "10.0.0.4",
            &["sg-d"],
            "network_load_balancer",
            None,
        );
        nlb["Description"] = json!("ELB net/edge/50dc6c495c0c9188");
        nlb["RequesterManaged"] = json!(true);
        let inventory_with = |target_type: &str, scheme: &str| {
            let mut inventory = testing::inventory(
                vec![
                    nlb.clone(),
                    testing::interface(
                        "eni-p",
                        "10.0.0.6",
                        &["sg-d"],
                        "interface",
                        Some("private"),
                    ),
                ],
                vec![testing::group("sg-d", "default", json!([]), json!([]))],
            );
            let facts = json!({
                "LoadBalancers": [{"LoadBalancerArn": arn, "Scheme": scheme, "Type": "network"}],
                "Listeners": [{"LoadBalancerArn": arn, "Port": 443, "Protocol": "TCP"}],
                "TargetGroups": [{"TargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/edge-tg/73e2d6bc24d8a067",
                                  "LoadBalancerArns": [arn], "Port": 8443, "Protocol": "TCP",
                                  "TargetType": target_type, "VpcId": "vpc-1"}]
            });
            // One call's output per file, as the CLI writes them.
            for key in ["LoadBalancers", "Listeners", "TargetGroups"] {
                inventory
                    .add_json(
                        &format!("{key}.json"),
                        &json!({ key: facts[key] }).to_string(),
                    )
                    .unwrap();
            }
            inventory
        };
        let mut rows = Vec::new();
        for client in ["203.0.113.7", "198.51.100.20", "192.0.2.99"] {
            rows.push(format!(
                "eni-p,server,6,8443,internet,{client}/32,2,20,2000,100,200,2,flags"
            ));
            rows.push(format!(
                "eni-n,server,6,443,internet,{client}/32,2,20,2000,100,200,2,flags"
            ));
            rows.push(format!(
                "eni-n,server,6,9000,internet,{client}/32,2,20,2000,100,200,2,flags"
            ));
        }
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let table = testing::table(&rows);
        let world = RuleTarget::Cidr("0.0.0.0/0".parse().unwrap());

        let plan = propose(
            &table,
            &inventory_with("instance", "internet-facing"),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(
            rules(&group(&plan, "private").ingress),
            [tcp(8443, world.clone())]
        );
        // The balancer itself: the world on its listener port only.
        let balancer = plan.groups.iter().find(|g| g.members == ["eni-n"]).unwrap();
        let on_443: Vec<_> = balancer
            .ingress
            .iter()
            .filter(|r| r.spec.from == 443)
            .collect();
        let on_9000: Vec<_> = balancer
            .ingress
            .iter()
            .filter(|r| r.spec.from == 9000)
            .collect();
        assert_eq!(on_443.len(), 1);
        assert_eq!(on_443[0].spec.target, world);
        assert_eq!(on_9000.len(), 3, "no listener on 9000: the addresses seen");

        for (target_type, scheme) in [("ip", "internet-facing"), ("instance", "internal")] {
            let plan = propose(
                &table,
                &inventory_with(target_type, scheme),
                &Options::default(),
            )
            .unwrap();
            assert_eq!(
                group(&plan, "private").ingress.len(),
                3,
                "{target_type} {scheme}"
            );
        }
        // The attribute decides where it is set (the file's name carries the group's
        // NAME-ID, as `inventory fetch` writes it): IP targets over TCP with preservation
        // turned on see the clients, instance targets with it off don't.
        for (target_type, on, world_rule) in [("ip", "true", true), ("instance", "false", false)] {
            let mut inventory = inventory_with(target_type, "internet-facing");
            inventory
                .add_json(
                    "elbv2-describe-target-group-attributes-edge-tg-73e2d6bc24d8a067.json",
                    &json!({"Attributes": [{"Key": "preserve_client_ip.enabled", "Value": on}]})
                        .to_string(),
                )
                .unwrap();
            let plan = propose(&table, &inventory, &Options::default()).unwrap();
            let ingress = rules(&group(&plan, "private").ingress);
            assert_eq!(
                ingress == [tcp(8443, world.clone())],
                world_rule,
                "{target_type} {on}"
            );
        }
    }

    /// Nothing destructive comes before the observation pause.
    #[test]
    fn steps_detach_and_revoke_only_after_observing() {
        let plan = propose(&table(), &inventory(), &Options::default()).unwrap();
        let actions: Vec<&str> = plan.steps.iter().map(|s| s.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "create-groups",
                "authorize-rules",
                "rewrite-references",
                "attach-new-groups",
                "observe",
                "detach-default",
                "revoke-default-rules"
            ]
        );
        assert_eq!(plan.steps[2].targets, ["sg-app"]);
        assert_eq!(plan.steps[6].targets, ["sg-d"]);
    }

    /// The plan JSON reads back as the same plan (rules with their evidence, tightened
    /// groups' changes), and a permission it can't read is refused, naming its group,
    /// not dropped.
    #[test]
    fn the_plan_json_round_trips_and_an_unreadable_rule_is_refused() {
        let options = Options {
            tighten: vec!["sg-app".into()],
            ..Options::default()
        };
        let plan = propose(&table(), &inventory(), &options).unwrap();
        let json = serde_json::to_value(&plan).unwrap();
        let back: Plan = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, plan);
        // The wire shape: permissions, and the evidence in a list beside them.
        let at = plan.groups.iter().position(|g| g.name == "web").unwrap();
        let web = &json["groups"][at];
        assert_eq!(web["ref"], "new:web");
        assert_eq!(web["egress"][0]["IpProtocol"], "tcp");
        assert_eq!(web["egress"][0]["FromPort"], 5432);
        assert_eq!(web["egress_evidence"][0]["flows"], 3);

        // A rule without a peer names nothing: refused.
        let mut broken = json;
        broken["groups"][at]["egress"][0]["UserIdGroupPairs"] = serde_json::json!([]);
        let err = serde_json::from_value::<Plan>(broken).unwrap_err();
        assert_eq!(
            err.to_string(),
            "group new:web, egress rule 1: no peer (IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs): it allows nothing"
        );
    }

    /// A group with no members, or two groups sharing a member, can't be tightened: the
    /// error names them instead of one being silently ignored.
    #[test]
    fn tightening_an_empty_group_or_two_sharing_a_member_is_refused() {
        let json = |ids: &[&str]| {
            serde_json::json!(ids)
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let both = testing::inventory(
            vec![
                testing::interface("eni-a", "10.0.0.1", &["sg-d"], "interface", None),
                testing::interface("eni-c", "10.0.0.3", &["sg-x", "sg-y"], "interface", None),
            ],
            vec![
                testing::group("sg-d", "default", json!([]), json!([])),
                testing::group("sg-x", "x", json!([]), json!([])),
                testing::group("sg-y", "y", json!([]), json!([])),
                testing::group("sg-z", "z", json!([]), json!([])),
            ],
        );
        let options = |groups: &[&str]| Options {
            tighten: json(groups),
            ..Options::default()
        };
        let err = propose(&table(), &both, &options(&["sg-z"])).unwrap_err();
        assert_eq!(err, ProposeError::EmptyGroup("sg-z".into()));
        assert!(
            err.to_string()
                .starts_with("--group sg-z: no interface is in this group")
        );
        let err = propose(&table(), &both, &options(&["sg-x", "sg-y"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--group sg-x and --group sg-y: eni-c is in both, and what it needs can't be split between them; tighten one of them at a time"
        );
        assert!(propose(&table(), &both, &options(&["sg-x"])).is_ok());
    }

    /// A group a controller owns (its tags say so) is not tightened by hand unless
    /// forced: the error names the owner and the override.
    #[test]
    fn a_controller_owned_group_is_tightened_only_when_forced() {
        let mut owned = testing::group("sg-lbc", "k8s-traffic-demo-1a2b3c", json!([]), json!([]));
        owned["Tags"] = json!([{"Key": "elbv2.k8s.aws/cluster", "Value": "demo"}]);
        let inventory = testing::inventory(
            vec![
                testing::interface("eni-a", "10.0.0.1", &["sg-d"], "interface", None),
                testing::interface("eni-n", "10.0.0.8", &["sg-lbc"], "interface", None),
            ],
            vec![
                testing::group("sg-d", "default", json!([]), json!([])),
                owned,
            ],
        );
        let mut options = Options {
            tighten: vec!["sg-lbc".into()],
            ..Options::default()
        };
        let err = propose(&table(), &inventory, &options).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--group sg-lbc: managed by the AWS Load Balancer Controller, which rewrites its rules on every sync, so tightening it by hand doesn't last; change it through its owner, or pass --force-group sg-lbc"
        );
        options.force = vec!["sg-lbc".into()];
        let plan = propose(&table(), &inventory, &options).unwrap();
        assert!(
            plan.groups
                .iter()
                .any(|g| g.reference == "sg-lbc" && g.change == GroupChange::Tighten)
        );
    }

    /// `--tighten custom` tightens every custom group with members, and leaves alone
    /// (saying why) one a controller owns and two that share a member; forcing the
    /// controller's group brings it in.
    #[test]
    fn tightening_every_custom_group_leaves_owned_and_shared_ones_alone() {
        let mut owned = testing::group("sg-lbc", "k8s-traffic-demo-1a2b3c", json!([]), json!([]));
        owned["Tags"] = json!([{"Key": "elbv2.k8s.aws/cluster", "Value": "demo"}]);
        let inventory = testing::inventory(
            vec![
                testing::interface("eni-a", "10.0.0.1", &["sg-d"], "interface", None),
                testing::interface("eni-b", "10.0.0.2", &["sg-b"], "interface", None),
                testing::interface("eni-c", "10.0.0.3", &["sg-x", "sg-y"], "interface", None),
                testing::interface("eni-n", "10.0.0.8", &["sg-lbc"], "interface", None),
            ],
            vec![
                testing::group("sg-d", "default", json!([]), json!([])),
                testing::group("sg-b", "b", json!([]), json!([])),
                testing::group("sg-x", "x", json!([]), json!([])),
                testing::group("sg-y", "y", json!([]), json!([])),
                testing::group("sg-empty", "unused", json!([]), json!([])),
                owned,
            ],
        );
        let mut options = Options {
            tighten_custom: true,
            ..Options::default()
        };
        let plan = propose(&table(), &inventory, &options).unwrap();
        let tightened: Vec<&str> = plan
            .groups
            .iter()
            .filter(|g| g.change == GroupChange::Tighten)
            .map(|g| g.reference.as_str())
            .collect();
        assert_eq!(tightened, ["sg-b"]);
        let alone: Vec<(&str, &str)> = plan
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::LeftAlone)
            .map(|f| (f.subject.as_str(), f.detail.as_str()))
            .collect();
        assert_eq!(
            alone,
            [
                (
                    "sg-lbc",
                    "k8s-traffic-demo-1a2b3c (sg-lbc): not tightened: managed by the AWS Load Balancer Controller, which rewrites its rules on every sync; change it through its owner, or pass --force-group sg-lbc"
                ),
                (
                    "sg-x",
                    "x (sg-x): not tightened: eni-c is also in sg-y, and what it needs can't be split between them; tighten one of them with --group"
                ),
                (
                    "sg-y",
                    "y (sg-y): not tightened: eni-c is also in sg-x, and what it needs can't be split between them; tighten one of them with --group"
                ),
            ]
        );
        // Named with --group, one of the pair is tightened and the other left alone.
        options.tighten = vec!["sg-x".into()];
        options.force = vec!["sg-lbc".into()];
        let plan = propose(&table(), &inventory, &options).unwrap();
        let tightened: BTreeSet<&str> = plan
            .groups
            .iter()
            .filter(|g| g.change == GroupChange::Tighten)
            .map(|g| g.reference.as_str())
            .collect();
        assert_eq!(tightened, BTreeSet::from(["sg-b", "sg-lbc", "sg-x"]));
        assert!(
            plan.findings
                .iter()
                .any(|f| f.kind == FindingKind::LeftAlone && f.subject == "sg-y")
        );
    }

    #[test]
    fn tightening_an_unknown_or_default_group_is_refused() {
        let mut options = Options {
            tighten: vec!["sg-nope".into()],
            ..Options::default()
        };
        assert_eq!(
            propose(&table(), &inventory(), &options),
            Err(ProposeError::UnknownGroup("sg-nope".into()))
        );
        options.tighten = vec!["sg-d".into()];
        assert_eq!(
            propose(&table(), &inventory(), &options),
            Err(ProposeError::DefaultGroup("sg-d".into()))
        );
    }

    /// A tightened group keeps its id and members; its rules become what they used,
    /// the rest is revoked after the pause.
    #[test]
    fn a_tightened_group_keeps_its_id_and_loses_unused_rules() {
        let options = Options {
            tighten: vec!["sg-app".into()],
            ..Options::default()
        };
        let plan = propose(&table(), &inventory(), &options).unwrap();
        let app = plan
            .groups
            .iter()
            .find(|g| g.reference == "sg-app")
            .unwrap();
        assert_eq!(app.change, GroupChange::Tighten);
        assert_eq!(app.members, ["eni-c"]);
        assert_eq!(
            rules(&app.ingress),
            [tcp(8080, RuleTarget::Group("new:web".into()))]
        );
        let changes = app.changes.as_ref().unwrap();
        assert_eq!(changes.revoke_ingress.len(), 2);
        assert_eq!(changes.revoke_egress.len(), 1);
        assert!(
            plan.steps
                .iter()
                .any(|s| s.action == "revoke-replaced-rules")
        );
        assert_eq!(plan.check.broken, 0);
    }
}
