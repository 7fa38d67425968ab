//! What launches tomorrow's interfaces. A plan moves today's members of a default group;
//! an auto scaling group, an EKS node group, an ECS service or a Lambda function launches
//! new ones with the groups its own settings name (a launch template version, a launch
//! configuration, the service's network configuration, the function's VPC
//! configuration). Until those settings name the new groups, every interface launched
//! after the change comes up in the emptied default group and breaks; and the interfaces
//! ECS and Lambda own can't be moved at all, only replaced through their launcher.
//!
//! The plan's `launchers` section says, per launcher whose members move, what it launches
//! from and which groups it must name: the steps give launch templates a new version (and
//! the auto scaling group or node group pointed at it), services and functions a new
//! network configuration, naming the new groups beside today's (`prepare`), then alone
//! (`finish`, before the default group is detached). Settings the inventory doesn't hold,
//! or that nothing but a replacement changes, are findings that say what to do by hand.

use std::collections::BTreeMap;

pub use flowfence_inventory::LauncherKind;
use flowfence_inventory::{Inventory, LaunchSource, LauncherId, TemplateGroups};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::findings::{Finding, FindingKind};
use crate::forecast::GroupNames;
use crate::model::Plan;

/// Where a launcher's next interfaces get their groups, as far as the inventory says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum LaunchSettings {
    /// A launch template version.
    LaunchTemplate {
        /// `lt-...`.
        template_id: String,
        /// The version the group launches today.
        version: u64,
        /// The version as the auto scaling group names it (`$Latest`, `$Default`, `3`):
        /// unless `$Latest`, the group is pointed at the new version.
        named_version: String,
        /// The group names the template in its mixed instances policy.
        #[serde(default)]
        mixed_instances: bool,
        /// The version's network interfaces, when it names the groups on the primary
        /// one (a new version restates them with the groups changed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        network_interfaces: Option<Vec<Value>>,
    },
    /// A launch template other auto scaling groups launch too, with other groups in
    /// mind: a new version would change what they launch, so this group needs a
    /// template of its own.
    SharedTemplate {
        /// `lt-...`.
        template_id: String,
        /// The version the group launches today.
        version: u64,
        /// The other groups that launch it.
        shared_with: Vec<String>,
    },
    /// A launch configuration (immutable: a copy naming the new groups replaces it).
    LaunchConfiguration {
        /// Its name.
        name: String,
    },
    /// EKS's own launch template: a node group created without a template of yours
    /// can't take one, so a new node group (with a template naming the groups) replaces
    /// it.
    NodeGroupDefaults,
    /// An ECS service's `awsvpc` configuration: `update-service` names the groups, and a
    /// new deployment replaces the running tasks (their interfaces can't be changed).
    EcsService {
        /// Its subnets (restated: the configuration is replaced whole).
        subnets: Vec<String>,
        /// `ENABLED` or `DISABLED`, when set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assign_public_ip: Option<String>,
    },
    /// A Lambda function's VPC configuration: `update-function-configuration` names the
    /// groups (Lambda moves the function to an interface with them).
    LambdaVpc {
        /// Its subnets (restated: the configuration is replaced whole).
        subnets: Vec<String>,
        /// `Ipv6AllowedForDualStack`, when set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ipv6_allowed_for_dual_stack: Option<bool>,
    },
    /// Settings the inventory doesn't hold.
    Unseen,
}

/// A launcher whose members the plan moves off an emptied default group, and the
/// groups its settings must name so what it launches next needs no default group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLauncher {
    /// What it is.
    pub kind: LauncherKind,
    /// Its name.
    pub name: String,
    /// Its cluster: an EKS node group's name, an ECS service's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Today's members that move (interfaces).
    pub members: Vec<String>,
    /// The groups its settings name today (empty when the inventory doesn't hold them).
    pub groups_before: Vec<String>,
    /// The groups its members move to (refs: `sg-...` or `new:NAME`).
    pub groups_after: Vec<String>,
    /// What it launches from.
    pub settings: LaunchSettings,
}

impl PlanLauncher {
    /// `auto scaling group web-asg`.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }

    /// The groups it names while the default group stays (the `prepare` phase): today's
    /// and the new ones, as attached interfaces have them.
    pub fn groups_during(&self) -> Vec<String> {
        let mut both = self.groups_before.clone();
        both.extend(
            self.groups_after
                .iter()
                .filter(|g| !self.groups_before.contains(g))
                .cloned(),
        );
        both
    }

    /// For a launch template: the `LaunchTemplateData` of a new version (based on
    /// today's) naming `groups` where today's version names its groups.
    pub fn template_data(&self, groups: &[String]) -> Option<Value> {
        let LaunchSettings::LaunchTemplate {
            network_interfaces, ..
        } = &self.settings
        else {
            return None;
        };
        Some(match network_interfaces {
            None => json!({ "SecurityGroupIds": groups }),
            Some(interfaces) => {
                let interfaces: Vec<Value> = interfaces
                    .iter()
                    .map(|i| {
                        let mut i = i.clone();
                        let primary =
                            i.get("DeviceIndex").and_then(Value::as_u64).unwrap_or(0) == 0;
                        if primary && let Some(o) = i.as_object_mut() {
                            o.insert("Groups".into(), json!(groups));
                        }
                        i
                    })
                    .collect();
                json!({ "NetworkInterfaces": interfaces })
            }
        })
    }

    /// Whether the plan's launch steps change its settings (a launch template version,
    /// a service's or function's configuration); if not, a finding says what to do.
    pub fn changed_by_steps(&self) -> bool {
        self.template_data(&self.groups_after).is_some()
            || matches!(
                self.settings,
                LaunchSettings::EcsService { .. } | LaunchSettings::LambdaVpc { .. }
            )
    }

    /// Whether a new template version takes effect only once the auto scaling group
    /// names it (it launches a fixed version or `$Default`, not `$Latest`).
    pub fn points_group_at_new_version(&self) -> bool {
        matches!(&self.settings, LaunchSettings::LaunchTemplate { named_version, .. } if named_version != "$Latest")
    }

    /// Whether it is one of `launchers` (an interface's, from
    /// [`Inventory::launchers_of`]); one that doesn't name its cluster matches this one
    /// in any cluster.
    pub fn is_one_of(&self, launchers: &[LauncherId]) -> bool {
        launchers.iter().any(|l| {
            l.kind == self.kind
                && l.name == self.name
                && (l.cluster.is_none() || l.cluster == self.cluster)
        })
    }
}

/// Every launcher whose members the plan moves off an emptied default group and whose
/// settings don't already name where they move, with what it launches from.
pub(crate) fn launchers(plan: &Plan, inventory: &Inventory) -> Vec<PlanLauncher> {
    let emptied: Vec<&str> = plan.emptied_groups().collect();
    /// Members moving, and the groups they move to.
    type Moving = (Vec<String>, Vec<String>);
    let mut found: BTreeMap<LauncherId, Moving> = BTreeMap::new();
    for moved in &plan.interfaces {
        let leaves_default = moved
            .groups_before
            .iter()
            .any(|g| emptied.contains(&g.as_str()));
        let Some(interface) = inventory
            .interface(&moved.interface_id)
            .filter(|_| leaves_default)
        else {
            continue;
        };
        for launcher in inventory.launchers_of(interface) {
            let (members, after) = found.entry(launcher).or_default();
            members.push(moved.interface_id.clone());
            for g in &moved.groups_after {
                if !after.contains(g) {
                    after.push(g.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    for (launcher, (members, groups_after)) in found {
        let seen = inventory.launch_groups(&launcher);
        let cluster = seen
            .as_ref()
            .and_then(|s| s.cluster.clone())
            .or_else(|| launcher.cluster.clone());
        let (groups_before, settings) = match seen {
            // Every new group is named already (a template updated by hand, or an
            // existing group kept): nothing to change.
            Some(s) if groups_after.iter().all(|g| s.groups.contains(g)) => continue,
            Some(s) => {
                let settings = match s.source {
                    LaunchSource::Template {
                        template_id,
                        version,
                        named,
                        mixed_instances,
                        groups_in,
                    } => LaunchSettings::LaunchTemplate {
                        template_id,
                        version,
                        named_version: named,
                        mixed_instances,
                        network_interfaces: match groups_in {
                            TemplateGroups::Instance => None,
                            TemplateGroups::PrimaryInterface(list) => Some(list),
                        },
                    },
                    LaunchSource::Configuration(name) => {
                        LaunchSettings::LaunchConfiguration { name }
                    }
                    LaunchSource::NodeGroupDefaults => LaunchSettings::NodeGroupDefaults,
                    LaunchSource::EcsService {
                        subnets,
                        assign_public_ip,
                    } => LaunchSettings::EcsService {
                        subnets,
                        assign_public_ip,
                    },
                    LaunchSource::LambdaVpc {
                        subnets,
                        ipv6_allowed_for_dual_stack,
                    } => LaunchSettings::LambdaVpc {
                        subnets,
                        ipv6_allowed_for_dual_stack,
                    },
                };
                (s.groups, settings)
            }
            None => (Vec::new(), LaunchSettings::Unseen),
        };
        out.push(PlanLauncher {
            kind: launcher.kind,
            name: launcher.name,
            cluster,
            members,
            groups_before,
            groups_after,
            settings,
        });
    }
    // A template other groups launch with other groups in mind can't get a version
    // naming this one's: every group that launches it would change.
    let targets: Vec<(String, Vec<String>)> = out
        .iter()
        .map(|l| (l.name.clone(), l.groups_after.clone()))
        .collect();
    for l in &mut out {
        let LaunchSettings::LaunchTemplate {
            template_id,
            version,
            ..
        } = &l.settings
        else {
            continue;
        };
        let shared_with: Vec<String> = inventory
            .template_users(template_id)
            .into_iter()
            .filter(|other| *other != l.name)
            .filter(|other| {
                !targets
                    .iter()
                    .any(|(n, after)| n == other && *after == l.groups_after)
            })
            .map(String::from)
            .collect();
        if !shared_with.is_empty() {
            l.settings = LaunchSettings::SharedTemplate {
                template_id: template_id.clone(),
                version: *version,
                shared_with,
            };
        }
    }
    out
}

/// A finding per launcher: what it launches into today, and what the plan (or the
/// user, where the plan can't) changes.
pub(crate) fn launcher_findings(plan: &Plan, inventory: &Inventory) -> Vec<Finding> {
    let emptied: Vec<&str> = plan.emptied_groups().collect();
    let names = GroupNames::of(plan, inventory);
    let list = |groups: &[String], mark_default: bool| -> String {
        groups
            .iter()
            .map(|g| {
                let default = if mark_default && emptied.contains(&g.as_str()) {
                    ", the default group"
                } else {
                    ""
                };
                format!("{}{default}", names.name(g))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    plan.launchers
        .iter()
        .map(|l| {
            let label = l.label();
            let members = l.members.len();
            let moved_to = list(&l.groups_after, false);
            let named = list(&l.groups_before, true);
            let (kind, detail) = match &l.settings {
                LaunchSettings::LaunchTemplate {
                    template_id,
                    version,
                    ..
                } => (
                    FindingKind::LauncherStale,
                    format!(
                        "{label}: {members} members move to {moved_to}, but its launch template {template_id} version {version} names {named}: the plan's launch steps give it a new version naming {moved_to}{}, before the default group is detached",
                        match (l.points_group_at_new_version(), l.kind) {
                            (false, _) => "",
                            (true, LauncherKind::EksNodeGroup) => " and point the node group at it (aws eks update-nodegroup-version)",
                            (true, _) => " and point the group at it",
                        }
                    ),
                ),
                LaunchSettings::SharedTemplate { template_id, version, shared_with } => (
                    FindingKind::LauncherStale,
                    format!(
                        "{label}: {members} members move to {moved_to}, but its launch template {template_id} version {version} names {named} and is launched by {} too: a new version would change what they launch, so give {} a template of its own (a copy of version {version}) naming {moved_to} and point the group at it before the default group is detached",
                        shared_with.join(", "),
                        l.name
                    ),
                ),
                LaunchSettings::LaunchConfiguration { name } => (
                    FindingKind::LauncherStale,
                    format!(
                        "{label}: {members} members move to {moved_to}, but its launch configuration {name} names {named}: launch configurations can't change, so copy it (or move the group to a launch template) naming {moved_to} and point the group at the copy before the default group is detached, or the instances it launches next miss their rules"
                    ),
                ),
                LaunchSettings::NodeGroupDefaults => (
                    FindingKind::LauncherStale,
                    format!(
                        "{label}: {members} members move to {moved_to}, but it launches from EKS's own launch template, which names {named}: a node group created without a launch template can't take one, so create a node group whose launch template names {moved_to}, move the workloads onto it and delete {} before the default group is detached, or the nodes it launches next miss their rules",
                        l.name
                    ),
                ),
                LaunchSettings::EcsService { .. } => (
                    FindingKind::LauncherStale,
                    format!(
                        "{label}: {members} task interfaces move to {moved_to}, but the service's network configuration names {named}, and ECS doesn't let a task's interface change: the plan's launch steps update the service to name {moved_to} with a new deployment that replaces its tasks (aws ecs update-service), before the default group is detached"
                    ),
                ),
                LaunchSettings::LambdaVpc { .. } => (
                    FindingKind::LauncherStale,
                    format!(
                        "{label}: {members} interfaces move to {moved_to}, but the function's VPC configuration names {named}, and Lambda doesn't let its interfaces change: the plan's launch steps update the configuration to name {moved_to} (aws lambda update-function-configuration; Lambda moves the function to an interface with those groups), before the default group is detached; published versions keep the configuration they were published with, so publish a new version and move the aliases that point at older ones"
                    ),
                ),
                LaunchSettings::Unseen => (
                    FindingKind::LauncherUnseen,
                    format!(
                        "{label}: {members} members move to {moved_to}; members of {} will launch into the default group unless its own settings ({}) name {moved_to} before the default group is detached: the inventory doesn't hold them",
                        l.name,
                        match l.kind {
                            LauncherKind::AutoScalingGroup => "its launch template or configuration",
                            LauncherKind::EksNodeGroup => "the node group's launch template, through `aws eks update-nodegroup-version`",
                            LauncherKind::EcsService => "the service's network configuration, through `aws ecs update-service`",
                            LauncherKind::LambdaFunction => "the function's VPC configuration",
                        }
                    ),
                ),
            };
            Finding {
                kind,
                subject: label,
                rule: None,
                direction: None,
                detail,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use crate::{Options, propose};
    use serde_json::{Value, json};

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

    /// web (an auto scaling group's member, in the default group) calls db on 5432;
    /// with `replaced`, `eni-w2` is there too: a member the group launched later.
    fn tier_with(launch: &Value, replaced: bool) -> (Inventory, flowfence_aggregate::Table) {
        let member = |id: &str, ip: &str| {
            let mut i = testing::interface(id, ip, &["sg-d"], "interface", None);
            i["TagSet"] = json!([{"Key": "aws:autoscaling:groupName", "Value": "web-asg"}]);
            i
        };
        let db = testing::interface("eni-d", "10.0.0.2", &["sg-d"], "interface", None);
        let mut interfaces = vec![member("eni-w", "10.0.0.1"), db];
        if replaced {
            interfaces.push(member("eni-w2", "10.0.0.3"));
        }
        let mut inventory = testing::inventory(
            interfaces,
            vec![testing::group("sg-d", "default", json!([]), json!([]))],
        );
        inventory
            .add_json("launch.json", &launch.to_string())
            .unwrap();
        let table = testing::table(&[
            "eni-w,client,6,5432,interface,eni-d,3,6,600,100,200,1,flags",
            "eni-d,server,6,5432,interface,eni-w,3,6,600,100,200,1,flags",
        ]);
        (inventory, table)
    }

    fn tier(launch: Value) -> (Inventory, flowfence_aggregate::Table) {
        tier_with(&launch, false)
    }

    fn versions(data: Value) -> Value {
        json!({"LaunchTemplateVersions": [
            {"LaunchTemplateId": "lt-1", "LaunchTemplateName": "web", "VersionNumber": 1,
             "DefaultVersion": false, "LaunchTemplateData": {"SecurityGroupIds": ["sg-old"]}},
            {"LaunchTemplateId": "lt-1", "LaunchTemplateName": "web", "VersionNumber": 2,
             "DefaultVersion": true, "LaunchTemplateData": data}
        ]})
    }

    /// The plan names the template version the group launches and makes new versions'
    /// data where that version names its groups; a member launched later (no traffic
    /// yet) ends in the launcher's new group, and a connection it makes holds.
    #[test]
    fn a_launch_template_gets_new_versions_and_its_next_members_the_new_group() {
        let asg = json!({"AutoScalingGroups": [{"AutoScalingGroupName": "web-asg",
            "LaunchTemplate": {"LaunchTemplateName": "web", "Version": "$Default"}}]});
        let data = versions(json!({"SecurityGroupIds": ["sg-d"], "ImageId": "ami-1"})).to_string();
        let (mut inventory, table) = tier_with(&asg, false);
        inventory.add_json("versions.json", &data).unwrap();
        // The inventory of a later day: the group launched eni-w2.
        let (mut later_inventory, _) = tier_with(&asg, true);
        later_inventory.add_json("versions.json", &data).unwrap();
        let plan = propose(&table, &inventory, &Options::default()).unwrap();
        assert_eq!(plan.launchers.len(), 1, "{:?}", plan.launchers);
        let l = &plan.launchers[0];
        assert_eq!(l.label(), "auto scaling group web-asg");
        assert_eq!(l.members, ["eni-w"]);
        assert_eq!(l.groups_before, ["sg-d"]);
        assert_eq!(l.groups_after, ["new:web-asg"]);
        assert_eq!(
            l.settings,
            LaunchSettings::LaunchTemplate {
                template_id: "lt-1".into(),
                version: 2,
                named_version: "$Default".into(),
                mixed_instances: false,
                network_interfaces: None,
            }
        );
        assert!(l.points_group_at_new_version());
        assert_eq!(
            l.template_data(&l.groups_during()),
            Some(json!({"SecurityGroupIds": ["sg-d", "new:web-asg"]}))
        );
        let actions: Vec<&str> = plan.steps.iter().map(|s| s.action.as_str()).collect();
        let at = |a: &str| actions.iter().position(|x| *x == a).unwrap();
        assert!(at("attach-new-groups") < at("launch-beside-default"));
        assert!(at("launch-beside-default") < at("observe"));
        assert!(at("observe") < at("launch-without-default"));
        assert!(at("launch-without-default") < at("detach-default"));

        // The later member isn't in the plan's interfaces but ends in web-asg's group.
        let inventory = later_inventory;
        let state = plan.final_state(&inventory);
        assert_eq!(state.groups_of("eni-w2"), ["new:web-asg"]);
        let later = testing::table(&[
            "eni-w2,client,6,5432,interface,eni-d,3,6,600,100,200,1,flags",
            "eni-d,server,6,5432,interface,eni-w2,3,6,600,100,200,1,flags",
        ]);
        let (_, after) = crate::replay(&inventory, &later, &state);
        assert!(after.broken.is_empty(), "{:?}", after.broken);
        // Without the launcher, the later member stays in the emptied default group.
        let mut without = plan.clone();
        without.launchers.clear();
        let (_, after) = crate::replay(&inventory, &later, &without.final_state(&inventory));
        assert_eq!(after.broken.len(), 1);
    }

    /// A template naming the groups on its primary interface gets a new version that
    /// restates its interfaces with the groups changed there; `$Latest` needs no
    /// pointing.
    #[test]
    fn groups_on_the_primary_interface_stay_there() {
        let asg = json!({"AutoScalingGroups": [{"AutoScalingGroupName": "web-asg",
            "MixedInstancesPolicy": {"LaunchTemplate": {"LaunchTemplateSpecification":
                {"LaunchTemplateId": "lt-1", "Version": "$Latest"}}}}]});
        let (mut inventory, table) = tier(asg);
        let interfaces = json!([
            {"DeviceIndex": 0, "Groups": ["sg-d"], "AssociatePublicIpAddress": false},
            {"DeviceIndex": 1, "Groups": ["sg-x"]}
        ]);
        inventory
            .add_json(
                "versions.json",
                &versions(json!({"NetworkInterfaces": interfaces})).to_string(),
            )
            .unwrap();
        let plan = propose(&table, &inventory, &Options::default()).unwrap();
        let l = &plan.launchers[0];
        assert!(matches!(
            &l.settings,
            LaunchSettings::LaunchTemplate {
                mixed_instances: true,
                version: 2,
                ..
            }
        ));
        assert!(!l.points_group_at_new_version());
        assert_eq!(
            l.template_data(&l.groups_after),
            Some(json!({"NetworkInterfaces": [
                {"DeviceIndex": 0, "Groups": ["new:web-asg"], "AssociatePublicIpAddress": false},
                {"DeviceIndex": 1, "Groups": ["sg-x"]}
            ]}))
        );
    }

    /// A launch configuration is named, not changed; a template already naming the new
    /// group is no launcher of the plan's.
    #[test]
    fn configurations_are_findings_and_updated_templates_are_left_alone() {
        let asg = json!({"AutoScalingGroups": [{"AutoScalingGroupName": "web-asg",
            "LaunchConfigurationName": "web-lc"}],
            "LaunchConfigurations": [{"LaunchConfigurationName": "web-lc", "SecurityGroups": ["sg-d"]}]});
        let (inventory, table) = tier(asg);
        let plan = propose(&table, &inventory, &Options::default()).unwrap();
        assert_eq!(
            plan.launchers[0].settings,
            LaunchSettings::LaunchConfiguration {
                name: "web-lc".into()
            }
        );
        assert_eq!(plan.launchers[0].template_data(&[]), None);
        let summary = crate::PlanSummary(&plan).to_string();
        assert!(
            summary.contains("launchers to change by hand before the default group is detached: auto scaling group web-asg"),
            "{summary}"
        );
        let stale: Vec<&str> = plan
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::LauncherStale)
            .map(|f| f.detail.as_str())
            .collect();
        assert!(
            stale[0].contains("launch configuration web-lc names default, the default group"),
            "{stale:?}"
        );

        // An existing group the members keep, named by the template: nothing to do.
        let asg = json!({"AutoScalingGroups": [{"AutoScalingGroupName": "web-asg",
            "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "2"}}]});
        let (mut inventory, table) = tier(asg);
        inventory
            .add_json(
                "versions.json",
                &versions(json!({"SecurityGroupIds": ["sg-d", "new:web-asg"]})).to_string(),
            )
            .unwrap();
        let plan = propose(&table, &inventory, &Options::default()).unwrap();
        assert!(plan.launchers.is_empty(), "{:?}", plan.launchers);
    }

    /// A template another group launches too can't get a version naming this group's
    /// new group (the other group's instances would change): the plan says to give this
    /// group a template of its own, and makes no version.
    #[test]
    fn a_template_another_group_launches_is_not_versioned() {
        let asg = json!({"AutoScalingGroups": [
            {"AutoScalingGroupName": "web-asg", "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "$Latest"}},
            {"AutoScalingGroupName": "batch", "LaunchTemplate": {"LaunchTemplateName": "web", "Version": "1"}}
        ]});
        let (mut inventory, table) = tier(asg);
        inventory
            .add_json(
                "versions.json",
                &versions(json!({"SecurityGroupIds": ["sg-d"]})).to_string(),
            )
            .unwrap();
        let plan = propose(&table, &inventory, &Options::default()).unwrap();
        let l = &plan.launchers[0];
        assert_eq!(
            l.settings,
            LaunchSettings::SharedTemplate {
                template_id: "lt-1".into(),
                version: 2,
                shared_with: vec!["batch".into()],
            }
        );
        assert_eq!(l.template_data(&l.groups_after), None);
        let finding = plan
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::LauncherStale)
            .unwrap();
        assert!(
            finding.detail.contains("is launched by batch too"),
            "{}",
            finding.detail
        );
    }

    /// An ECS service's task (its interface named by `describe-tasks`) in the default
    /// group: the service's tasks form one role, the plan updates the service's network
    /// configuration, and a task it starts later ends in the new group and breaks nothing.
    #[test]
    fn an_ecs_service_gets_a_network_configuration_and_its_next_tasks_the_new_group() {
        let task = |eni: &str| {
            json!({"clusterArn": "arn:aws:ecs:us-east-1:1:cluster/apps", "group": "service:api",
                "attachments": [{"type": "ElasticNetworkInterface", "details": [
                    {"name": "subnetId", "value": "subnet-1"},
                    {"name": "networkInterfaceId", "value": eni}]}]})
        };
        let services = json!({"services": [{"serviceName": "api",
            "clusterArn": "arn:aws:ecs:us-east-1:1:cluster/apps",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"],
                "securityGroups": ["sg-d"], "assignPublicIp": "DISABLED"}}}]});
        let build = |tasks: &[(&str, &str)]| {
            let mut interfaces: Vec<Value> = tasks
                .iter()
                .map(|(eni, ip)| {
                    let mut i = testing::interface(eni, ip, &["sg-d"], "interface", None);
                    i["RequesterManaged"] = json!(true);
                    i["Description"] = json!("arn:aws:ecs:us-east-1:1:attachment/x");
                    i
                })
                .collect();
            interfaces.push(testing::interface(
                "eni-d",
                "10.0.0.2",
                &["sg-d"],
                "interface",
                None,
            ));
            let mut inventory = testing::inventory(
                interfaces,
                vec![testing::group("sg-d", "default", json!([]), json!([]))],
            );
            inventory
                .add_json("services.json", &services.to_string())
                .unwrap();
            let described: Vec<Value> = tasks.iter().map(|(eni, _)| task(eni)).collect();
            inventory
                .add_json("tasks.json", &json!({ "tasks": described }).to_string())
                .unwrap();
            inventory
        };
        let inventory = build(&[("eni-t", "10.0.0.1")]);
        let table = testing::table(&[
            "eni-t,client,6,5432,interface,eni-d,3,6,600,100,200,1,flags",
            "eni-d,server,6,5432,interface,eni-t,3,6,600,100,200,1,flags",
        ]);
        let plan = propose(&table, &inventory, &Options::default()).unwrap();
        let l = plan
            .launchers
            .iter()
            .find(|l| l.kind == LauncherKind::EcsService)
            .expect("the service is a launcher");
        assert_eq!(l.label(), "ECS service api");
        assert_eq!(
            l.cluster.as_deref(),
            Some("arn:aws:ecs:us-east-1:1:cluster/apps")
        );
        assert_eq!(l.groups_before, ["sg-d"]);
        assert_eq!(l.groups_after, ["new:api"]);
        assert_eq!(
            l.settings,
            LaunchSettings::EcsService {
                subnets: vec!["subnet-1".into()],
                assign_public_ip: Some("DISABLED".into()),
            }
        );
        assert!(l.changed_by_steps());
        // A task the service starts tomorrow.
        let later = build(&[("eni-t2", "10.0.0.3")]);
        let state = plan.final_state(&later);
        assert_eq!(state.groups_of("eni-t2"), ["new:api"]);
        let traffic = testing::table(&[
            "eni-t2,client,6,5432,interface,eni-d,3,6,600,100,200,1,flags",
            "eni-d,server,6,5432,interface,eni-t2,3,6,600,100,200,1,flags",
        ]);
        let (_, after) = crate::replay(&later, &traffic, &state);
        assert!(after.broken.is_empty(), "{:?}", after.broken);
    }

    /// A Lambda interface serves every function of its subnet with exactly its groups:
    /// each of them is a launcher (one left behind would keep using the default group),
    /// and a function with other groups or subnets is not.
    #[test]
    fn every_function_sharing_a_lambda_interface_is_a_launcher() {
        let mut lambda = testing::interface("eni-l", "10.0.0.1", &["sg-d"], "lambda", None);
        lambda["SubnetId"] = json!("subnet-1");
        lambda["RequesterManaged"] = json!(true);
        lambda["Description"] = json!("AWS Lambda VPC ENI-thumbs");
        let db = testing::interface("eni-d", "10.0.0.2", &["sg-d"], "interface", None);
        let mut inventory = testing::inventory(
            vec![lambda, db],
            vec![testing::group("sg-d", "default", json!([]), json!([]))],
        );
        let function = |name: &str, subnet: &str, groups: &[&str]| {
            json!({"FunctionName": name, "VpcConfig": {"SubnetIds": [subnet, "subnet-9"],
                "SecurityGroupIds": groups, "VpcId": "vpc-1"}})
        };
        let functions = json!({"Functions": [
            function("thumbs", "subnet-1", &["sg-d"]),
            function("resize", "subnet-1", &["sg-d"]),
            function("billing", "subnet-1", &["sg-d", "sg-x"]),
            function("reports", "subnet-2", &["sg-d"]),
            {"FunctionName": "public"}
        ]});
        inventory
            .add_json("functions.json", &functions.to_string())
            .unwrap();
        let table = testing::table(&[
            "eni-l,client,6,5432,interface,eni-d,3,6,600,100,200,1,flags",
            "eni-d,server,6,5432,interface,eni-l,3,6,600,100,200,1,flags",
        ]);
        let plan = propose(&table, &inventory, &Options::default()).unwrap();
        let functions: Vec<(&str, &LaunchSettings)> = plan
            .launchers
            .iter()
            .filter(|l| l.kind == LauncherKind::LambdaFunction)
            .map(|l| (l.name.as_str(), &l.settings))
            .collect();
        let vpc = LaunchSettings::LambdaVpc {
            subnets: vec!["subnet-1".into(), "subnet-9".into()],
            ipv6_allowed_for_dual_stack: None,
        };
        assert_eq!(functions, [("resize", &vpc), ("thumbs", &vpc)]);
        let stale = plan
            .findings
            .iter()
            .find(|f| f.subject == "Lambda function thumbs")
            .unwrap();
        assert!(
            stale
                .detail
                .contains("Lambda doesn't let its interfaces change"),
            "{}",
            stale.detail
        );
    }

    /// An EKS node group launching a template of its own is versioned like an auto
    /// scaling group's and named with its cluster; one launching EKS's own template
    /// can't be, and the finding says to replace it.
    #[test]
    fn node_groups_launch_their_own_templates_or_must_be_replaced() {
        let node = |template: Option<Value>| {
            let mut i = testing::interface("eni-n", "10.0.0.1", &["sg-d"], "interface", None);
            i["TagSet"] = json!([{"Key": "eks:nodegroup-name", "Value": "workers"},
                {"Key": "eks:cluster-name", "Value": "demo"},
                {"Key": "aws:autoscaling:groupName", "Value": "eks-workers-1a2b"}]);
            let db = testing::interface("eni-d", "10.0.0.2", &["sg-d"], "interface", None);
            let mut inventory = testing::inventory(
                vec![i, db],
                vec![testing::group("sg-d", "default", json!([]), json!([]))],
            );
            let mut group = json!({"nodegroupName": "workers", "clusterName": "demo",
                "resources": {"autoScalingGroups": [{"name": "eks-workers-1a2b"}]}});
            if let Some(t) = template {
                group["launchTemplate"] = t;
            }
            inventory
                .add_json("ng.json", &json!({ "nodegroup": group }).to_string())
                .unwrap();
            inventory
                .add_json(
                    "cluster.json",
                    &json!({"cluster": {"name": "demo", "resourcesVpcConfig":
                        {"clusterSecurityGroupId": "sg-c"}}})
                    .to_string(),
                )
                .unwrap();
            inventory
                .add_json(
                    "versions.json",
                    &versions(json!({"SecurityGroupIds": ["sg-d"]})).to_string(),
                )
                .unwrap();
            inventory
        };
        let table = testing::table(&[
            "eni-n,client,6,5432,interface,eni-d,3,6,600,100,200,1,flags",
            "eni-d,server,6,5432,interface,eni-n,3,6,600,100,200,1,flags",
        ]);
        let inventory = node(Some(json!({"id": "lt-1", "version": "2"})));
        let plan = propose(&table, &inventory, &Options::default()).unwrap();
        let l = &plan.launchers[0];
        assert_eq!(l.label(), "EKS node group workers");
        assert_eq!(l.cluster.as_deref(), Some("demo"));
        assert!(matches!(
            &l.settings,
            LaunchSettings::LaunchTemplate { template_id, version: 2, .. } if template_id == "lt-1"
        ));
        assert!(l.points_group_at_new_version());

        let inventory = node(None);
        let plan = propose(&table, &inventory, &Options::default()).unwrap();
        let l = &plan.launchers[0];
        assert_eq!(l.settings, LaunchSettings::NodeGroupDefaults);
        assert_eq!(l.groups_before, ["sg-c"]);
        assert!(!l.changed_by_steps());
        let finding = plan
            .findings
            .iter()
            .find(|f| f.subject == "EKS node group workers")
            .unwrap();
        assert!(
            finding
                .detail
                .contains("a node group created without a launch template can't take one"),
            "{}",
            finding.detail
        );
    }
}
