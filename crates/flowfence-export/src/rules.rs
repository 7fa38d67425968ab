//! The plan's rules, flattened: one per (group, direction, peer), with what happens to
//! it, its description and its evidence. Every format reads them from here.

use flowfence_propose::{GroupChange, Plan, PlanGroup, RuleEvidence, RuleSpec};

/// What the plan does with a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// A rule the plan adds (every rule of a new group).
    Authorize,
    /// A rule an existing group keeps as it is.
    Keep,
    /// A rule removed after the observation pause.
    Revoke,
}

impl Action {
    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Action::Authorize => "authorize",
            Action::Keep => "keep",
            Action::Revoke => "revoke",
        }
    }
}

/// One rule of one group.
#[derive(Clone, Debug)]
pub struct GroupRule<'a> {
    /// Its group.
    pub group: &'a PlanGroup,
    /// Inbound (true) or outbound.
    pub ingress: bool,
    /// The rule.
    pub spec: RuleSpec,
    /// Its description in AWS.
    pub description: Option<String>,
    /// Why it exists (authorized and kept rules of the plan).
    pub evidence: Option<&'a RuleEvidence>,
    /// What happens to it.
    pub action: Action,
}

impl GroupRule<'_> {
    /// `ingress` or `egress`.
    pub fn direction(&self) -> &'static str {
        if self.ingress { "ingress" } else { "egress" }
    }
}

/// `rules` in their group, each with its action.
fn flatten<'a>(
    group: &'a PlanGroup,
    ingress: bool,
    rules: &'a [flowfence_propose::PlanRule],
    action: impl Fn(&RuleSpec) -> Action,
) -> impl Iterator<Item = GroupRule<'a>> {
    rules.iter().map(move |r| GroupRule {
        group,
        ingress,
        action: action(&r.spec),
        spec: r.spec.clone(),
        description: r.description.clone(),
        evidence: r.evidence.as_ref(),
    })
}

/// Every rule of a group: its final rules (authorized or kept) and those it loses.
pub fn of_group(group: &PlanGroup) -> Vec<GroupRule<'_>> {
    let mut out = Vec::new();
    let changes = group.changes.as_ref();
    for (ingress, rules) in [(true, &group.ingress), (false, &group.egress)] {
        let added: Vec<&RuleSpec> = changes
            .map(|c| {
                let list = if ingress {
                    &c.authorize_ingress
                } else {
                    &c.authorize_egress
                };
                list.iter().map(|r| &r.spec).collect()
            })
            .unwrap_or_default();
        out.extend(flatten(group, ingress, rules, |spec| {
            if group.change == GroupChange::Create || added.contains(&spec) {
                Action::Authorize
            } else {
                Action::Keep
            }
        }));
        if let Some(c) = changes {
            let revoked = if ingress {
                &c.revoke_ingress
            } else {
                &c.revoke_egress
            };
            out.extend(flatten(group, ingress, revoked, |_| Action::Revoke));
        }
    }
    out
}

/// Every rule of the plan, group by group.
pub fn of_plan(plan: &Plan) -> Vec<GroupRule<'_>> {
    plan.groups.iter().flat_map(of_group).collect()
}
