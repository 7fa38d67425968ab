//! The migration plan as other tools read it (its JSON is a contract): new groups and
//! their rules, groups whose references to a default group are rewritten, the default
//! groups emptied, which interface moves where, and the steps in a safe order. How a
//! plan is built is in `build`; this module only says what one is.

use std::collections::BTreeMap;

use flowfence_inventory::Inventory;
use serde::{Deserialize, Serialize};

use crate::evidence::RuleEvidence;
use crate::findings::Finding;
use crate::forecast::{Forecast, TimeSpan};
use crate::launchers::PlanLauncher;
use crate::needs::{Direction, Dropped};
use crate::rules::{IpPermission, PermissionSpecs, RuleSpec, WideningKind};
use crate::verify::{State, Verdict};

/// Groups per interface (AWS's default quota).
pub const GROUPS_PER_INTERFACE: usize = 5;

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

/// One rule of a plan: what it allows (one protocol, port range and peer), its
/// description in AWS, and the evidence it rests on (none for a rule kept as it was or
/// revoked). In the JSON it is an AWS `IpPermission`, its evidence beside it in the
/// group's `ingress_evidence`/`egress_evidence`: that shape is only the wire format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanRule {
    /// What it allows.
    pub spec: RuleSpec,
    /// Its description in AWS.
    pub description: Option<String>,
    /// Why it exists: the traffic it was learned from.
    pub evidence: Option<RuleEvidence>,
}

impl PlanRule {
    /// A rule learned from traffic, described by its evidence.
    pub fn observed(spec: RuleSpec, evidence: RuleEvidence) -> PlanRule {
        PlanRule {
            spec,
            description: Some(evidence.describe()),
            evidence: Some(evidence),
        }
    }

    /// A rule as it is (or will be) in AWS, with no evidence of its own.
    pub fn as_is(spec: RuleSpec, description: Option<String>) -> PlanRule {
        PlanRule {
            spec,
            description,
            evidence: None,
        }
    }

    /// The rule in AWS's `IpPermission` shape.
    pub fn permission(&self) -> IpPermission {
        IpPermission::from_spec(&self.spec, self.description.clone())
    }
}

/// A group the plan creates or changes, with its final rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "wire::PlanGroup", try_from = "wire::PlanGroup")]
pub struct PlanGroup {
    /// `sg-...`, or `new:NAME` for a group the plan creates.
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
    pub ingress: Vec<PlanRule>,
    /// Final outbound rules.
    pub egress: Vec<PlanRule>,
    /// For an existing group: the rules to add and to remove to reach the final ones.
    pub changes: Option<RuleChanges>,
}

/// How an existing group's rules change. Authorize with the new groups; revoke only
/// after the observation pause.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "wire::RuleChanges", try_from = "wire::RuleChanges")]
pub struct RuleChanges {
    /// Inbound rules to add.
    pub authorize_ingress: Vec<PlanRule>,
    /// Outbound rules to add.
    pub authorize_egress: Vec<PlanRule>,
    /// Inbound rules to remove (as they are today).
    pub revoke_ingress: Vec<PlanRule>,
    /// Outbound rules to remove.
    pub revoke_egress: Vec<PlanRule>,
}

impl RuleChanges {
    /// The rules to add in `direction`.
    pub fn added(&self, direction: Direction) -> &[PlanRule] {
        match direction {
            Direction::Ingress => &self.authorize_ingress,
            Direction::Egress => &self.authorize_egress,
        }
    }

    /// Today's rules to remove in `direction`.
    pub fn removed(&self, direction: Direction) -> &[PlanRule] {
        match direction {
            Direction::Ingress => &self.revoke_ingress,
            Direction::Egress => &self.revoke_egress,
        }
    }
}

/// The plan's groups as JSON: rules as AWS `IpPermission`s with their evidence in a
/// list beside them. Reading one back splits each permission into its rules (one per
/// peer and port range) and refuses one it can't read, naming the group.
mod wire {
    use serde::{Deserialize, Serialize};

    use super::{GroupChange, IpPermission, PermissionSpecs, PlanRule, RuleEvidence};

    #[derive(Clone, Serialize, Deserialize)]
    pub(super) struct PlanGroup {
        #[serde(rename = "ref")]
        reference: String,
        name: String,
        new: bool,
        change: GroupChange,
        vpc_id: Option<String>,
        members: Vec<String>,
        basis: String,
        ingress: Vec<IpPermission>,
        egress: Vec<IpPermission>,
        /// Evidence of each inbound rule, in the same order (none for rules kept as
        /// they were).
        #[serde(default)]
        ingress_evidence: Vec<Option<RuleEvidence>>,
        #[serde(default)]
        egress_evidence: Vec<Option<RuleEvidence>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        changes: Option<RuleChanges>,
    }

    #[derive(Clone, Default, Serialize, Deserialize)]
    pub(super) struct RuleChanges {
        authorize_ingress: Vec<IpPermission>,
        authorize_egress: Vec<IpPermission>,
        revoke_ingress: Vec<IpPermission>,
        revoke_egress: Vec<IpPermission>,
    }

    fn permissions(rules: &[PlanRule]) -> Vec<IpPermission> {
        rules.iter().map(PlanRule::permission).collect()
    }

    fn evidence(rules: &[PlanRule]) -> Vec<Option<RuleEvidence>> {
        rules.iter().map(|r| r.evidence.clone()).collect()
    }

    /// The rules of `perms` (the group's `list`: `ingress`, `authorize_egress`, ...), the
    /// i-th permission's evidence `evidence[i]`. A permission that can't be read is an
    /// error naming the group, the list, the rule's place in it and the bad value: a
    /// permission with no peer allows nothing, and dropping one would hide an edit gone
    /// wrong.
    fn rules(
        group: &str,
        list: &str,
        perms: Vec<IpPermission>,
        evidence: &[Option<RuleEvidence>],
    ) -> Result<Vec<PlanRule>, String> {
        let mut out = Vec::with_capacity(perms.len());
        for (i, p) in perms.into_iter().enumerate() {
            let specs = p
                .specs()
                .map_err(|e| format!("group {group}, {list} rule {}: {e}", i + 1))?;
            let description = p
                .ip_ranges
                .iter()
                .map(|r| &r.description)
                .chain(p.ipv6_ranges.iter().map(|r| &r.description))
                .chain(p.prefix_list_ids.iter().map(|r| &r.description))
                .chain(p.user_id_group_pairs.iter().map(|r| &r.description))
                .flatten()
                .next()
                .cloned();
            let evidence = evidence.get(i).cloned().flatten();
            out.extend(specs.into_iter().map(|spec| PlanRule {
                spec,
                description: description.clone(),
                evidence: evidence.clone(),
            }));
        }
        Ok(out)
    }

    impl From<super::PlanGroup> for PlanGroup {
        fn from(g: super::PlanGroup) -> PlanGroup {
            PlanGroup {
                ingress: permissions(&g.ingress),
                egress: permissions(&g.egress),
                ingress_evidence: evidence(&g.ingress),
                egress_evidence: evidence(&g.egress),
                changes: g.changes.map(RuleChanges::from),
                reference: g.reference,
                name: g.name,
                new: g.new,
                change: g.change,
                vpc_id: g.vpc_id,
                members: g.members,
                basis: g.basis,
            }
        }
    }

    impl TryFrom<PlanGroup> for super::PlanGroup {
        type Error = String;

        fn try_from(g: PlanGroup) -> Result<super::PlanGroup, String> {
            let changes = g.changes.map(|c| c.into_rules(&g.reference)).transpose()?;
            Ok(super::PlanGroup {
                ingress: rules(&g.reference, "ingress", g.ingress, &g.ingress_evidence)?,
                egress: rules(&g.reference, "egress", g.egress, &g.egress_evidence)?,
                changes,
                reference: g.reference,
                name: g.name,
                new: g.new,
                change: g.change,
                vpc_id: g.vpc_id,
                members: g.members,
                basis: g.basis,
            })
        }
    }

    impl From<super::RuleChanges> for RuleChanges {
        fn from(c: super::RuleChanges) -> RuleChanges {
            RuleChanges {
                authorize_ingress: permissions(&c.authorize_ingress),
                authorize_egress: permissions(&c.authorize_egress),
                revoke_ingress: permissions(&c.revoke_ingress),
                revoke_egress: permissions(&c.revoke_egress),
            }
        }
    }

    impl RuleChanges {
        fn into_rules(self, group: &str) -> Result<super::RuleChanges, String> {
            Ok(super::RuleChanges {
                authorize_ingress: rules(group, "authorize_ingress", self.authorize_ingress, &[])?,
                authorize_egress: rules(group, "authorize_egress", self.authorize_egress, &[])?,
                revoke_ingress: rules(group, "revoke_ingress", self.revoke_ingress, &[])?,
                revoke_egress: rules(group, "revoke_egress", self.revoke_egress, &[])?,
            })
        }
    }

    /// `RuleChanges` alone (serde's `try_from` on the model type needs it; a plan's
    /// changes are read through their group, which names it in errors).
    impl TryFrom<RuleChanges> for super::RuleChanges {
        type Error = String;

        fn try_from(c: RuleChanges) -> Result<super::RuleChanges, String> {
            c.into_rules("(changes)")
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
    pub fn from_verdicts(before: &Verdict, after: &Verdict) -> Check {
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
    /// `launch-beside-default`, `observe`, `launch-without-default`, `detach-default`,
    /// `revoke-replaced-rules`, `revoke-default-rules`.
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
    /// The launchers whose settings must name the new groups (their members move).
    #[serde(default)]
    pub launchers: Vec<PlanLauncher>,
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
    /// The observation window: the first and last second of the connections learned from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeSpan>,
    /// The holdout's figures and the window's sufficiency (absent with `--holdout 0`,
    /// or when the window is too short to split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<Forecast>,
    /// The names of the groups its rules name that it doesn't change (`sg-...` -> name),
    /// so reports and exports name every group, not only the plan's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_names: BTreeMap<String, String>,
}

impl Plan {
    /// The name of the group `reference` (`new:NAME` or `sg-...`), when the plan knows
    /// it: one of its groups, or one its rules name.
    pub fn group_name(&self, reference: &str) -> Option<&str> {
        self.groups
            .iter()
            .find(|g| g.reference == reference)
            .map(|g| g.name.as_str())
            .or_else(|| self.group_names.get(reference).map(String::as_str))
    }

    /// The default groups the plan empties, by reference.
    pub fn emptied_groups(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .filter(|g| g.change == GroupChange::Empty)
            .map(|g| g.reference.as_str())
    }

    /// The state the plan ends in: today's groups and memberships (from `inventory`),
    /// with the plan's groups' rules and the plan's interfaces' groups. An interface
    /// the plan doesn't name but one of its launchers launched (a replacement, a new
    /// instance of the tier) has the groups the launcher names at the end, as it will
    /// once the launch steps are done.
    pub fn final_state(&self, inventory: &Inventory) -> State {
        let mut state = State::current(inventory);
        let specs = |rules: &[PlanRule]| rules.iter().map(|r| r.spec.clone()).collect();
        for g in &self.groups {
            state.set_rules(&g.reference, specs(&g.ingress), specs(&g.egress));
        }
        if !self.launchers.is_empty() {
            for i in inventory.interfaces() {
                // Its launchers once, not once per plan launcher.
                let of_i = inventory.launchers_of(i);
                if let Some(l) = self.launchers.iter().find(|l| l.is_one_of(&of_i)) {
                    state.set_groups(&i.id, l.groups_after.clone());
                }
            }
        }
        for i in &self.interfaces {
            state.set_groups(&i.interface_id, i.groups_after.clone());
        }
        state
    }
}
