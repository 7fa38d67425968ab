//! The migration plan: new groups and their rules, groups whose references to a default
//! group are rewritten, the default groups emptied, which interface moves where, and the
//! steps in a safe order. Its JSON is a contract other tools read.

use std::collections::{BTreeMap, BTreeSet};

use flowfence_aggregate::{PeerKind, Side, Table};
use flowfence_inventory::{Inventory, Peer, SecurityGroup};
use serde::{Deserialize, Serialize};

use crate::findings::{Finding, findings};
use crate::needs::{self, Direction, Dropped, Evidence, Filter, Target};
use crate::quota;
use crate::roles::{self, Role};
use crate::rules::{
    IpPermission, PermissionSpecs, RuleSpec, RuleTarget, Shaping, WideningKind, shape,
};
use crate::verify;

/// Groups per interface (AWS's default quota).
pub const GROUPS_PER_INTERFACE: usize = 5;

/// What to migrate and how to shape rules.
#[derive(Clone, Debug)]
pub struct Options {
    /// Only this VPC's default group (default: every VPC's).
    pub vpc: Option<String>,
    /// Existing groups to tighten in place: their rules become what their members were
    /// seen to need.
    pub tighten: Vec<String>,
    /// Rows to leave out.
    pub filter: Filter,
    /// CIDR and port shaping.
    pub shaping: Shaping,
    /// Rules per group and direction (AWS's default quota: 60).
    pub max_rules: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            vpc: None,
            tighten: Vec::new(),
            filter: Filter::default(),
            shaping: Shaping::default(),
            max_rules: 60,
        }
    }
}

/// A rule's evidence in the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleEvidence {
    /// Flow records.
    pub flows: u64,
    /// Bytes.
    pub bytes: u64,
    /// Earliest start, Unix seconds.
    pub first_seen: u64,
    /// Latest end.
    pub last_seen: u64,
    /// Some of the peers seen.
    pub examples: Vec<String>,
}

impl RuleEvidence {
    /// The rule's description in AWS (`Description` of its peer).
    pub fn describe(&self) -> String {
        format!(
            "flowfence: {} flows, last seen {}",
            self.flows, self.last_seen
        )
    }
}

impl From<&Evidence> for RuleEvidence {
    fn from(e: &Evidence) -> Self {
        RuleEvidence {
            flows: e.flows,
            bytes: e.bytes,
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            examples: e.examples.iter().cloned().collect(),
        }
    }
}

/// What the plan does to a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupChange {
    /// A new group.
    Create,
    /// An existing group whose rules become what its members need (`--group`).
    Tighten,
    /// An existing group whose rules naming a default group are rewritten.
    RewriteReferences,
    /// A default group, emptied of rules and members.
    Empty,
}

/// Where a rule allows more than was observed, or a quota is not met.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Widening {
    /// The group's name, or the interface's id for groups-per-interface.
    pub subject: String,
    /// `ingress` or `egress`, for rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Why.
    pub kind: WideningKind,
    /// What exactly, for a person.
    pub detail: String,
}

/// A group the plan creates or changes, with its final rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanGroup {
    /// `sg-...`, or `new:NAME` for a group the plan creates.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Group name.
    pub name: String,
    /// Created by the plan.
    pub new: bool,
    /// What the plan does to it.
    pub change: GroupChange,
    /// The VPC.
    pub vpc_id: Option<String>,
    /// Members in the final state (interfaces).
    pub members: Vec<String>,
    /// Why the members are together (new groups), or what changes (existing ones).
    pub basis: String,
    /// Final inbound rules.
    pub ingress: Vec<IpPermission>,
    /// Final outbound rules.
    pub egress: Vec<IpPermission>,
    /// Evidence of each inbound rule, in the same order (empty for rules kept as they
    /// were).
    #[serde(default)]
    pub ingress_evidence: Vec<Option<RuleEvidence>>,
    /// Evidence of each outbound rule.
    #[serde(default)]
    pub egress_evidence: Vec<Option<RuleEvidence>>,
    /// For an existing group: the rules to add and to remove to reach the final ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<RuleChanges>,
}

/// How an existing group's rules change. Authorize with the new groups; revoke only
/// after the observation pause.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleChanges {
    /// Inbound rules to add.
    pub authorize_ingress: Vec<IpPermission>,
    /// Outbound rules to add.
    pub authorize_egress: Vec<IpPermission>,
    /// Inbound rules to remove (as they are today).
    pub revoke_ingress: Vec<IpPermission>,
    /// Outbound rules to remove.
    pub revoke_egress: Vec<IpPermission>,
}

impl RuleChanges {
    /// What turns `group`'s rules today into `ingress` and `egress`.
    fn between(group: &SecurityGroup, ingress: &[IpPermission], egress: &[IpPermission]) -> Self {
        let split = |today: &[flowfence_inventory::Rule], target: &[IpPermission]| {
            let now: Vec<RuleSpec> = today.iter().map(RuleSpec::from_inventory).collect();
            let wanted: Vec<RuleSpec> = target
                .iter()
                .flat_map(|p| p.specs().unwrap_or_default())
                .collect();
            let add = target
                .iter()
                .filter(|p| {
                    p.specs()
                        .unwrap_or_default()
                        .iter()
                        .any(|s| !now.contains(s))
                })
                .cloned()
                .collect();
            let remove = today
                .iter()
                .filter(|r| !wanted.contains(&RuleSpec::from_inventory(r)))
                .map(|r| {
                    IpPermission::from_spec(&RuleSpec::from_inventory(r), r.description.clone())
                })
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
}

/// The replay check of the plan against the connections it was made from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Observed connections (distinct client, server, protocol, port).
    pub connections: usize,
    /// Those the final state would cut (0 for a plan flowfence made).
    pub broken: usize,
    /// Those today's rules don't allow (the inventory may be older or newer than the
    /// logs).
    pub broken_today: usize,
    /// (client, server, observed service port) combinations among interfaces with
    /// groups that today's rules allow but that never happened.
    pub allowed_unused_before: usize,
    /// The same under the plan.
    pub allowed_unused_after: usize,
}

impl Check {
    /// The figures of today's replay and the plan's.
    pub fn from_verdicts(before: &verify::Verdict, after: &verify::Verdict) -> Check {
        Check {
            connections: after.connections,
            broken: after.broken.len(),
            broken_today: before.broken.len(),
            allowed_unused_before: before.allowed_unused,
            allowed_unused_after: after.allowed_unused,
        }
    }
}

/// An interface whose groups change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInterface {
    /// `eni-...`
    pub interface_id: String,
    /// Its groups now.
    pub groups_before: Vec<String>,
    /// Its groups at the end (refs: `sg-...` or `new:NAME`).
    pub groups_after: Vec<String>,
    /// Managed by an AWS service: change the owner's groups, not the interface's.
    pub requester_managed: bool,
    /// What owns it (the resource whose groups change).
    pub owner: String,
}

/// One step of the migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// 1, 2, ...
    pub step: u32,
    /// `create-groups`, `authorize-rules`, `rewrite-references`, `attach-new-groups`,
    /// `observe`, `detach-default`, `revoke-default-rules`.
    pub action: String,
    /// What to do, for a person.
    pub description: String,
    /// The refs or interfaces it touches.
    pub targets: Vec<String>,
}

/// The plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Every group the plan creates or changes, default groups included (no rules).
    pub groups: Vec<PlanGroup>,
    /// Every interface whose groups change.
    pub interfaces: Vec<PlanInterface>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Rows left out on purpose (--min-flows, --since).
    pub dropped: Vec<Dropped>,
    /// Where a rule is wider than what was observed, or a quota is not met.
    pub widened: Vec<Widening>,
    /// Findings on today's rules.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// The logs replayed against the final state.
    #[serde(default)]
    pub check: Check,
}

/// Why no plan can be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProposeError {
    /// `--group` names a group the inventory lacks.
    #[error("--group {0}: no such security group in the inventory")]
    UnknownGroup(String),
    /// `--group` names a default group (those are emptied, not tightened).
    #[error(
        "--group {0}: a default group is emptied, not tightened (its members move to new groups without --group)"
    )]
    DefaultGroup(String),
}

/// A group reference for a role.
fn new_ref(name: &str) -> String {
    format!("new:{name}")
}

/// Builds the plan from the observed connections and the inventory.
pub fn propose(
    table: &Table,
    inventory: &Inventory,
    options: &Options,
) -> Result<Plan, ProposeError> {
    let defaults: Vec<&SecurityGroup> = inventory
        .groups()
        .filter(|g| g.is_default())
        .filter(|g| options.vpc.is_none() || g.vpc_id == options.vpc)
        .collect();
    let default_ids: BTreeSet<&str> = defaults.iter().map(|g| g.id.as_str()).collect();
    let mut tightened: BTreeSet<&str> = BTreeSet::new();
    for id in &options.tighten {
        match inventory.group(id) {
            None => return Err(ProposeError::UnknownGroup(id.clone())),
            Some(g) if g.is_default() => return Err(ProposeError::DefaultGroup(id.clone())),
            Some(g) => tightened.insert(g.id.as_str()),
        };
    }
    // Members of a tightened group stay in it (the first one, if several are).
    let mut pinned: BTreeMap<String, String> = BTreeMap::new();
    for g in &tightened {
        for i in inventory.members(g) {
            pinned.entry(i.id.clone()).or_insert_with(|| g.to_string());
        }
    }
    let migrating: BTreeSet<String> = inventory
        .interfaces()
        .filter(|i| i.groups.iter().any(|g| default_ids.contains(g.id.as_str())))
        .map(|i| i.id.clone())
        .chain(pinned.keys().cloned())
        .collect();

    let (needs, dropped) = needs::collect(table, inventory, &migrating, &options.filter);
    let existing_names: BTreeSet<String> = inventory.groups().map(|g| g.name.clone()).collect();
    let roles = roles::assign(&migrating, inventory, &needs, &existing_names, &pinned);
    let role_of: BTreeMap<&str, &Role> = roles
        .iter()
        .flat_map(|r| r.members.iter().map(move |m| (m.as_str(), r)))
        .collect();
    let as_rule_target = |t: &Target| match t {
        Target::Migrating(id) => RuleTarget::Group(reference(role_of[id.as_str()])),
        Target::Group(g) => RuleTarget::Group(g.clone()),
        Target::PrefixList(p) => RuleTarget::PrefixList(p.clone()),
        Target::Cidr(c) => RuleTarget::Cidr(*c),
    };
    let list_weight = |id: &str| inventory.prefix_list(id).map_or(1, |pl| pl.weight());

    let mut widened = Vec::new();
    let mut groups = Vec::new();
    for role in &roles {
        let mut per_direction: BTreeMap<Direction, BTreeMap<(u8, u16, RuleTarget), Evidence>> =
            BTreeMap::new();
        for m in &role.members {
            for ((d, p, port, t), e) in needs.get(m).into_iter().flatten() {
                per_direction
                    .entry(*d)
                    .or_default()
                    .entry((*p, *port, as_rule_target(t)))
                    .or_default()
                    .add(e);
            }
        }
        let mut shaped = |d: Direction| {
            let (mut rules, notes) = shape(
                per_direction.get(&d).unwrap_or(&BTreeMap::new()),
                &options.shaping,
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
            permissions(
                rules
                    .iter()
                    .map(|(spec, e)| (spec, Some(RuleEvidence::from(e)))),
            )
        };
        let (ingress, ingress_evidence) = shaped(Direction::Ingress);
        let (egress, egress_evidence) = shaped(Direction::Egress);
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
                "tightened in place: its rules become what its members were seen to need"
                    .to_string(),
            ),
            None => (role.members.clone(), role.basis.clone()),
        };
        let changes = role
            .existing
            .as_deref()
            .and_then(|id| inventory.group(id))
            .map(|g| RuleChanges::between(g, &ingress, &egress));
        groups.push(PlanGroup {
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
            ingress_evidence,
            egress_evidence,
        });
    }

    // Other groups' rules naming a default group: once its members leave, such a rule
    // matches nobody, so it is rewritten to the groups of the members that used it.
    for g in inventory
        .groups()
        .filter(|g| !g.is_default() && !tightened.contains(g.id.as_str()))
    {
        if let Some(changed) = rewrite_references(g, &default_ids, table, inventory, &role_of) {
            groups.push(changed);
        }
    }
    for d in &defaults {
        groups.push(PlanGroup {
            changes: Some(RuleChanges::between(d, &[], &[])),
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
            ingress_evidence: Vec::new(),
            egress_evidence: Vec::new(),
        });
    }

    let interfaces: Vec<PlanInterface> = migrating
        .iter()
        .filter_map(|id| inventory.interface(id))
        .filter_map(|i| {
            let before: Vec<String> = i.groups.iter().map(|g| g.id.clone()).collect();
            let mut after: Vec<String> = before
                .iter()
                .filter(|g| !default_ids.contains(g.as_str()))
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
        .collect();
    for i in interfaces
        .iter()
        .filter(|i| i.groups_after.len() > GROUPS_PER_INTERFACE)
    {
        widened.push(Widening {
            subject: i.interface_id.clone(),
            direction: None,
            kind: WideningKind::OverQuota,
            detail: format!(
                "{} groups after the plan, over the quota of {GROUPS_PER_INTERFACE} per interface: raise it (up to 16) or tighten one of its custom groups with --group",
                i.groups_after.len()
            ),
        });
    }
    let steps = steps(&groups, &interfaces);
    let mut plan = Plan {
        groups,
        interfaces,
        steps,
        dropped,
        widened,
        findings: findings(table, inventory, options.vpc.as_deref()),
        check: Check::default(),
    };
    plan.check = check(&plan, table, inventory);
    Ok(plan)
}

/// The plan's final state and today's, replayed against the connections.
fn check(plan: &Plan, table: &Table, inventory: &Inventory) -> Check {
    let (before, after) =
        verify::replay(inventory, table, plan).expect("flowfence writes permissions it can read");
    Check::from_verdicts(&before, &after)
}

/// A role's group: the existing one it tightens, or `new:NAME`.
fn reference(role: &Role) -> String {
    role.existing.clone().unwrap_or_else(|| new_ref(&role.name))
}

/// Rules as AWS permissions (described by their evidence) and their evidence, in order.
fn permissions<'a>(
    rules: impl Iterator<Item = (&'a RuleSpec, Option<RuleEvidence>)>,
) -> (Vec<IpPermission>, Vec<Option<RuleEvidence>>) {
    rules
        .map(|(spec, e)| {
            let description = e.as_ref().map(RuleEvidence::describe);
            (IpPermission::from_spec(spec, description), e)
        })
        .unzip()
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
            let mut found: BTreeMap<String, Evidence> = BTreeMap::new();
            for row in &table.rows {
                let wanted_side = if ingress { Side::Server } else { Side::Client };
                if row.side != wanted_side
                    || row.peer_kind != PeerKind::Interface
                    || !members.contains(row.interface_id.as_str())
                    || !spec.allows(row.protocol, row.port)
                {
                    continue;
                }
                if let Some(role) = role_of.get(row.peer.as_str()) {
                    found
                        .entry(reference(role))
                        .or_default()
                        .add(&Evidence::from_row(row));
                }
            }
            if found.is_empty() {
                notes.push(format!(
                    "{} rule {:?} to the default group: no traffic observed, removed",
                    if ingress { "ingress" } else { "egress" },
                    (spec.protocol, spec.from, spec.to)
                ));
            }
            for (reference, e) in found {
                out.insert(
                    RuleSpec {
                        target: RuleTarget::Group(reference),
                        ..spec.clone()
                    },
                    Some(RuleEvidence::from(&e)),
                );
            }
        }
        permissions(out.iter().map(|(spec, e)| (spec, e.clone())))
    };
    let (ingress, ingress_evidence) = rewrite(&g.ingress, true);
    let (egress, egress_evidence) = rewrite(&g.egress, false);
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
        changes: Some(RuleChanges::between(g, &ingress, &egress)),
        vpc_id: g.vpc_id.clone(),
        members: members.iter().map(|m| m.to_string()).collect(),
        basis,
        ingress,
        egress,
        ingress_evidence,
        egress_evidence,
    })
}

/// The migration's steps: nothing destructive before the observation pause.
fn steps(groups: &[PlanGroup], interfaces: &[PlanInterface]) -> Vec<Step> {
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
        ("observe", "Keep flow logs running for a while (a week covers weekly jobs) and run `flowfence verify` on the new logs: nothing may reach these interfaces through the default group only.".to_string(), ifaces.clone()),
        ("detach-default", "Remove the default group from each interface.".to_string(), ifaces),
    ];
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
