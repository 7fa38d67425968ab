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
use crate::model::{GroupChange, Plan};

/// The launcher of `i`, for people: `auto scaling group web-asg`.
fn launcher_of(i: &Interface) -> Option<String> {
    if let Some(asg) = i.tags.get("aws:autoscaling:groupName") {
        return Some(format!("auto scaling group {asg}"));
    }
    if let Some(group) = i.tags.get("eks:nodegroup-name") {
        return Some(format!("EKS node group {group}"));
    }
    match &i.owner {
        Owner::Lambda(function) => Some(format!("Lambda function {function}")),
        _ => None,
    }
}

/// A finding per launcher whose members the plan moves off an emptied default group.
pub(crate) fn unseen_launchers(plan: &Plan, inventory: &Inventory) -> Vec<Finding> {
    let emptied: Vec<&str> = plan
        .groups
        .iter()
        .filter(|g| g.change == GroupChange::Empty)
        .map(|g| g.reference.as_str())
        .collect();
    let name = |reference: &str| {
        plan.groups
            .iter()
            .find(|g| g.reference == reference)
            .map_or_else(|| reference.to_string(), |g| g.name.clone())
    };
    // Launcher -> (members moving, the groups they move to).
    let mut launchers: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
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
            let g = name(g);
            if !entry.1.contains(&g) {
                entry.1.push(g);
            }
        }
    }
    launchers
        .into_iter()
        .map(|(launcher, (members, groups))| Finding {
            kind: FindingKind::LauncherUnseen,
            subject: launcher.clone(),
            rule: None,
            direction: None,
            detail: format!(
                "{launcher}: {members} members move to {}; the interfaces it launches next get the groups its own settings name (launch template, node group or function configuration), which the inventory doesn't hold: make those name {} too before the default group is detached, or new interfaces launch into the emptied default group",
                groups.join(", "),
                groups.join(", ")
            ),
        })
        .collect()
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
