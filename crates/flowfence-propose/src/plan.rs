//! The migration plan: new groups and their rules, groups whose references to a default
//! group are rewritten, the default groups emptied, which interface moves where, and the
//! steps in a safe order. Its JSON is a contract other tools read.

use std::collections::{BTreeMap, BTreeSet};

use flowfence_aggregate::{PeerKind, Side, Table};
use flowfence_inventory::{Inventory, Peer, SecurityGroup};
use serde::{Deserialize, Serialize};

use crate::needs::{self, Direction, Dropped, Evidence, Filter, Target};
use crate::roles::{self, Role};
use crate::rules::{IpPermission, RuleSpec, RuleTarget, Shaping, shape};

/// What to migrate and how to shape rules.
#[derive(Clone, Debug)]
pub struct Options {
    /// Only this VPC's default group (default: every VPC's).
    pub vpc: Option<String>,
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
    /// Where a rule is wider than what was observed, or a quota is exceeded.
    pub widened: Vec<String>,
}

/// A group reference for a role.
fn new_ref(name: &str) -> String {
    format!("new:{name}")
}

/// Builds the plan from the observed connections and the inventory.
pub fn propose(table: &Table, inventory: &Inventory, options: &Options) -> Plan {
    let defaults: Vec<&SecurityGroup> = inventory
        .groups()
        .filter(|g| g.is_default())
        .filter(|g| options.vpc.is_none() || g.vpc_id == options.vpc)
        .collect();
    let default_ids: BTreeSet<&str> = defaults.iter().map(|g| g.id.as_str()).collect();
    let migrating: BTreeSet<String> = inventory
        .interfaces()
        .filter(|i| i.groups.iter().any(|g| default_ids.contains(g.id.as_str())))
        .map(|i| i.id.clone())
        .collect();

    let (needs, dropped) = needs::collect(table, inventory, &migrating, &options.filter);
    let existing_names: BTreeSet<String> = inventory.groups().map(|g| g.name.clone()).collect();
    let roles = roles::assign(&migrating, inventory, &needs, &existing_names);
    let role_of: BTreeMap<&str, &Role> = roles
        .iter()
        .flat_map(|r| r.members.iter().map(move |m| (m.as_str(), r)))
        .collect();
    let as_rule_target = |t: &Target| match t {
        Target::Migrating(id) => RuleTarget::Group(new_ref(&role_of[id.as_str()].name)),
        Target::Group(g) => RuleTarget::Group(g.clone()),
        Target::PrefixList(p) => RuleTarget::PrefixList(p.clone()),
        Target::Cidr(c) => RuleTarget::Cidr(*c),
    };

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
            let (rules, notes) = shape(
                per_direction.get(&d).unwrap_or(&BTreeMap::new()),
                &options.shaping,
            );
            let dir = match d {
                Direction::Ingress => "ingress",
                Direction::Egress => "egress",
            };
            widened.extend(
                notes
                    .into_iter()
                    .map(|n| format!("{} {dir}: {n}", role.name)),
            );
            for family in [true, false] {
                let n = rules
                    .keys()
                    .filter(|r| match &r.target {
                        RuleTarget::Cidr(c) => c.addr().is_ipv4() == family,
                        _ => family,
                    })
                    .count();
                if n > options.max_rules {
                    widened.push(format!(
                        "{} {dir}: {n} {} rules exceed the quota of {}; NOT widened (flowfence does not widen for quotas yet): raise the quota or merge ports with --port-gap",
                        role.name,
                        if family { "IPv4" } else { "IPv6" },
                        options.max_rules
                    ));
                }
            }
            permissions(
                rules
                    .iter()
                    .map(|(spec, e)| (spec, Some(RuleEvidence::from(e)))),
            )
        };
        let (ingress, ingress_evidence) = shaped(Direction::Ingress);
        let (egress, egress_evidence) = shaped(Direction::Egress);
        if role.differing_needs > 0 {
            widened.push(format!(
                "{}: members kept together ({}) though {} needs were seen on only some of them; each member gets the union",
                role.name, role.basis, role.differing_needs
            ));
        }
        groups.push(PlanGroup {
            reference: new_ref(&role.name),
            name: role.name.clone(),
            new: true,
            vpc_id: role.vpc_id.clone(),
            members: role.members.clone(),
            basis: role.basis.clone(),
            ingress,
            egress,
            ingress_evidence,
            egress_evidence,
        });
    }

    // Other groups' rules naming a default group: once its members leave, such a rule
    // matches nobody, so it is rewritten to the new groups of the members that used it.
    for g in inventory.groups().filter(|g| !g.is_default()) {
        if let Some(changed) = rewrite_references(g, &default_ids, table, inventory, &role_of) {
            groups.push(changed);
        }
    }
    for d in &defaults {
        groups.push(PlanGroup {
            reference: d.id.clone(),
            name: d.name.clone(),
            new: false,
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
        .map(|i| {
            let before: Vec<String> = i.groups.iter().map(|g| g.id.clone()).collect();
            let mut after: Vec<String> = before
                .iter()
                .filter(|g| !default_ids.contains(g.as_str()))
                .cloned()
                .collect();
            after.push(new_ref(&role_of[i.id.as_str()].name));
            PlanInterface {
                interface_id: i.id.clone(),
                groups_before: before,
                groups_after: after,
                requester_managed: i.requester_managed,
                owner: i.owner.to_string(),
            }
        })
        .collect();
    let steps = steps(&groups, &interfaces);
    Plan {
        groups,
        interfaces,
        steps,
        dropped,
        widened,
    }
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
                        .entry(new_ref(&role.name))
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
    let refs = |f: &dyn Fn(&PlanGroup) -> bool| -> Vec<String> {
        groups
            .iter()
            .filter(|g| f(g))
            .map(|g| g.reference.clone())
            .collect()
    };
    let new_groups = refs(&|g| g.new);
    let rewritten = refs(&|g| !g.new && g.name != "default");
    let defaults = refs(&|g| !g.new && g.name == "default");
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
    let list = [
        ("create-groups", "Create the new security groups (no rules yet).".to_string(), new_groups.clone()),
        ("authorize-rules", "Authorize every new group's ingress and egress rules.".to_string(), new_groups),
        ("rewrite-references", "In groups that reference a default group, add the rules naming the new groups (the old references go with the default group's members).".to_string(), rewritten),
        ("attach-new-groups", attach, ifaces.clone()),
        ("observe", "Keep flow logs running for a while (a week covers weekly jobs) and run `flowfence verify` on the new logs: nothing may reach these interfaces through the default group only.".to_string(), ifaces.clone()),
        ("detach-default", "Remove the default group from each interface.".to_string(), ifaces),
        ("revoke-default-rules", "Revoke every rule of the default groups; they end with no rules and no members.".to_string(), defaults),
    ];
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
