//! The plan's rules, flattened: one per (group, direction, peer), with what happens to
//! it, its description and its evidence. Every format reads them from here.

use flowfence_propose::{
    GroupChange, IpPermission, PermissionSpecs, Plan, PlanGroup, RuleEvidence, RuleSpec,
};

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
pub struct PlanRule<'a> {
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

impl PlanRule<'_> {
    /// `ingress` or `egress`.
    pub fn direction(&self) -> &'static str {
        if self.ingress { "ingress" } else { "egress" }
    }
}

fn description(p: &IpPermission) -> Option<String> {
    p.ip_ranges
        .iter()
        .map(|r| &r.description)
        .chain(p.ipv6_ranges.iter().map(|r| &r.description))
        .chain(p.prefix_list_ids.iter().map(|r| &r.description))
        .chain(p.user_id_group_pairs.iter().map(|r| &r.description))
        .flatten()
        .next()
        .cloned()
}

/// The rules in `perms`, each permission split into one rule per peer.
fn flatten<'a>(
    group: &'a PlanGroup,
    ingress: bool,
    perms: &'a [IpPermission],
    evidence: &'a [Option<RuleEvidence>],
    action: impl Fn(&RuleSpec) -> Action,
) -> Vec<PlanRule<'a>> {
    perms
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            let e = evidence.get(i).and_then(Option::as_ref);
            p.specs()
                .unwrap_or_default()
                .into_iter()
                .map(move |spec| (spec, description(p), e))
        })
        .map(|(spec, description, evidence)| PlanRule {
            group,
            ingress,
            action: action(&spec),
            spec,
            description,
            evidence,
        })
        .collect()
}

/// Every rule of a group: its final rules (authorized or kept) and those it loses.
pub fn of_group(group: &PlanGroup) -> Vec<PlanRule<'_>> {
    let mut out = Vec::new();
    let changes = group.changes.as_ref();
    for (ingress, perms, evidence) in [
        (true, &group.ingress, &group.ingress_evidence),
        (false, &group.egress, &group.egress_evidence),
    ] {
        let added: Vec<RuleSpec> = changes
            .map(|c| {
                let list = if ingress {
                    &c.authorize_ingress
                } else {
                    &c.authorize_egress
                };
                list.iter()
                    .flat_map(|p| p.specs().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        out.extend(flatten(group, ingress, perms, evidence, |spec| {
            if group.change == GroupChange::Create || added.contains(spec) {
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
            out.extend(flatten(group, ingress, revoked, &[], |_| Action::Revoke));
        }
    }
    out
}

/// Every rule of the plan, group by group.
pub fn of_plan(plan: &Plan) -> Vec<PlanRule<'_>> {
    plan.groups.iter().flat_map(of_group).collect()
}
