//! The migration plan as other tools read it (its JSON is a contract): new groups and
//! their rules, groups whose references to a default group are rewritten, the default
//! groups emptied, which interface moves where, and the steps in a safe order. How a
//! plan is built is in `build`; this module only says what one is.

use flowfence_inventory::Inventory;
use serde::{Deserialize, Serialize};

use crate::findings::Finding;
use crate::needs::{Direction, Dropped, Evidence};
use crate::rules::{IpPermission, PermissionSpecs, RuleSpec, WideningKind};
use crate::verify::{State, Verdict};

/// Groups per interface (AWS's default quota).
pub const GROUPS_PER_INTERFACE: usize = 5;

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

/// A permission in a plan that flowfence cannot read back as rules (a hand-edited plan:
/// no protocol, a port range that doesn't parse, no peer).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("group {group}: unreadable permission {permission:?}")]
#[non_exhaustive]
pub struct UnreadablePermission {
    /// The group's ref.
    pub group: String,
    /// The permission as the plan spells it.
    pub permission: Box<IpPermission>,
}

impl Plan {
    /// The state the plan ends in: today's groups and memberships (from `inventory`),
    /// with the plan's groups' rules and the plan's interfaces' groups.
    pub fn final_state(&self, inventory: &Inventory) -> Result<State, UnreadablePermission> {
        let mut state = State::current(inventory);
        for g in &self.groups {
            let specs = |ps: &[IpPermission]| -> Result<Vec<RuleSpec>, UnreadablePermission> {
                let mut out = Vec::new();
                for p in ps {
                    out.extend(p.specs().ok_or_else(|| UnreadablePermission {
                        group: g.reference.clone(),
                        permission: Box::new(p.clone()),
                    })?);
                }
                Ok(out)
            };
            state.set_rules(&g.reference, specs(&g.ingress)?, specs(&g.egress)?);
        }
        for i in &self.interfaces {
            state.set_groups(&i.interface_id, i.groups_after.clone());
        }
        Ok(state)
    }
}
