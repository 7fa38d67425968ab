//! The plan's rules, flattened: one per (group, direction, peer), with what happens to
//! it, its description and its evidence. Every format reads them from here.

use flowfence_propose::{Direction, GroupChange, Plan, PlanGroup, RuleEvidence, RuleSpec};

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
    /// Inbound or outbound.
    pub direction: Direction,
    /// The rule.
    pub spec: RuleSpec,
    /// Its description in AWS.
    pub description: Option<String>,
    /// Why it exists (authorized and kept rules of the plan).
    pub evidence: Option<&'a RuleEvidence>,
    /// What happens to it.
    pub action: Action,
}

/// `rules` in their group, each with its action.
fn flatten<'a>(
    group: &'a PlanGroup,
    direction: Direction,
    rules: &'a [flowfence_propose::PlanRule],
    action: impl Fn(&RuleSpec) -> Action,
) -> impl Iterator<Item = GroupRule<'a>> {
    rules.iter().map(move |r| GroupRule {
        group,
        direction,
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
    for (direction, rules) in [
        (Direction::Ingress, &group.ingress),
        (Direction::Egress, &group.egress),
    ] {
        let added: Vec<&RuleSpec> = changes
            .map(|c| c.added(direction).iter().map(|r| &r.spec).collect())
            .unwrap_or_default();
        out.extend(flatten(group, direction, rules, |spec| {
            if group.change == GroupChange::Create || added.contains(&spec) {
                Action::Authorize
            } else {
                Action::Keep
            }
        }));
        if let Some(c) = changes {
            out.extend(flatten(group, direction, c.removed(direction), |_| {
                Action::Revoke
            }));
        }
    }
    out
}

/// Every rule of the plan, group by group.
pub fn of_plan(plan: &Plan) -> Vec<GroupRule<'_>> {
    plan.groups.iter().flat_map(of_group).collect()
}
