//! What launches tomorrow's interfaces. A plan moves today's members of a default group;
//! an auto scaling group, an EKS node group or a Lambda function launches new ones with
//! the groups its own settings name (a launch template, the function's VPC
//! configuration). Until those settings name the new groups, every interface launched
//! after the change comes up in the emptied default group and breaks. The inventory
//! doesn't hold those settings yet, so each such launcher is a finding that says what to
//! change.

use std::collections::BTreeMap;

use flowfence_inventory::{Interface, Inventory, Owner};

use crate::findings::{Finding, FindingKind};
use crate::forecast::GroupNames;
use crate::model::Plan;

/// What launched an interface.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Launcher {
    AutoScalingGroup(String),
    NodeGroup(String),
    Function(String),
}

impl std::fmt::Display for Launcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Launcher::AutoScalingGroup(n) => write!(f, "auto scaling group {n}"),
            Launcher::NodeGroup(n) => write!(f, "EKS node group {n}"),
            Launcher::Function(n) => write!(f, "Lambda function {n}"),
        }
    }
}

/// The launcher of `i`, as its tags and owner say.
fn launcher_of(i: &Interface) -> Option<Launcher> {
    if let Some(asg) = i.tags.get("aws:autoscaling:groupName") {
        return Some(Launcher::AutoScalingGroup(asg.clone()));
    }
    if let Some(group) = i.tags.get("eks:nodegroup-name") {
        return Some(Launcher::NodeGroup(group.clone()));
    }
    match &i.owner {
        Owner::Lambda(function) => Some(Launcher::Function(function.clone())),
        _ => None,
    }
}

/// A finding per launcher whose members the plan moves off an emptied default group and
/// whose launch settings don't name where they move: settings the inventory holds
/// (`launcher-stale`: which template version or configuration, and what it names), or
/// settings it doesn't hold (`launcher-unseen`).
pub(crate) fn launcher_findings(plan: &Plan, inventory: &Inventory) -> Vec<Finding> {
    let emptied: Vec<&str> = plan.emptied_groups().collect();
    let names = GroupNames::of(plan, inventory);
    // Launcher -> (members moving, the groups they move to, as references).
    let mut launchers: BTreeMap<Launcher, (usize, Vec<String>)> = BTreeMap::new();
    for moved in &plan.interfaces {
        let leaves_default = moved
            .groups_before
            .iter()
            .any(|g| emptied.contains(&g.as_str()));
        let Some(launcher) = inventory
            .interface(&moved.interface_id)
            .filter(|_| leaves_default)
            .and_then(launcher_of)
        else {
            continue;
        };
        let entry = launchers.entry(launcher).or_default();
        entry.0 += 1;
        for g in &moved.groups_after {
            if !entry.1.contains(g) {
                entry.1.push(g.clone());
            }
        }
    }
    let mut out = Vec::new();
    for (launcher, (members, after)) in launchers {
        let moved_to: Vec<&str> = after.iter().map(|g| names.name(g)).collect();
        let moved_to = moved_to.join(", ");
        let settings = match &launcher {
            Launcher::AutoScalingGroup(asg) => inventory.launch_groups(asg),
            _ => None,
        };
        let (kind, detail) = match settings {
            // Every new group is named already (a template updated by hand, or an
            // existing group kept): nothing to change.
            Some(s) if after.iter().all(|g| s.groups.contains(g)) => continue,
            Some(s) => {
                let named: Vec<String> = s
                    .groups
                    .iter()
                    .map(|g| {
                        let default = if emptied.contains(&g.as_str()) {
                            ", the default group"
                        } else {
                            ""
                        };
                        format!("{}{default}", names.name(g))
                    })
                    .collect();
                (
                    FindingKind::LauncherStale,
                    format!(
                        "{launcher}: {members} members move to {moved_to}, but its {} names {}: make a new version naming {moved_to} and point the group at it before the default group is detached, or the instances it launches next miss their rules",
                        s.source,
                        named.join(", ")
                    ),
                )
            }
            None => (
                FindingKind::LauncherUnseen,
                format!(
                    "{launcher}: {members} members move to {moved_to}; the interfaces it launches next get the groups its own settings name (launch template, node group or function configuration), which the inventory doesn't hold: make those name {moved_to} too before the default group is detached, or new interfaces launch into the emptied default group"
                ),
            ),
        };
        out.push(Finding {
            kind,
            subject: launcher.to_string(),
            rule: None,
            direction: None,
            detail,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use crate::{Options, propose};
    use serde_json::json;

    /// Members of an auto scaling group that move are a finding naming the group and
    /// where they go; an interface no launcher made is not.
    #[test]
    fn a_moving_auto_scaling_group_is_a_finding() {
        let mut web = testing::interface("eni-w", "10.0.0.1", &["sg-d"], "interface", None);
        web["TagSet"] = json!([{"Key": "aws:autoscaling:groupName", "Value": "web-asg"}]);
        let db = testing::interface("eni-d", "10.0.0.2", &["sg-d"], "interface", None);
        let inventory = testing::inventory(
            vec![web, db],
            vec![testing::group("sg-d", "default", json!([]), json!([]))],
        );
        let table = testing::table(&[
            "eni-w,client,6,5432,interface,eni-d,3,6,600,100,200,1,flags",
            "eni-d,server,6,5432,interface,eni-w,3,6,600,100,200,1,flags",
        ]);
        let plan = propose(&table, &inventory, &Options::default()).unwrap();
        let found: Vec<(&str, &str)> = plan
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::LauncherUnseen)
            .map(|f| (f.subject.as_str(), f.detail.as_str()))
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "auto scaling group web-asg");
        assert!(
            found[0]
                .1
                .starts_with("auto scaling group web-asg: 1 members move to web-asg;"),
            "{}",
            found[0].1
        );
    }
}
