//! The change each launcher of a plan needs, in words, for the formats that can't make
//! it themselves: Terraform and CloudFormation don't manage the launch templates they
//! didn't create, and nothing but the owner changes a launch configuration, a node
//! group, a service or a function. The CLI script makes launch template versions and
//! updates services and functions itself.

use flowfence_propose::{LaunchSettings, LauncherKind, PlanLauncher};

/// What `launcher` must name in each phase, one paragraph; `group` writes a group
/// reference the way the format refers to it (an id, a Terraform reference).
pub(crate) fn change(launcher: &PlanLauncher, group: &dyn Fn(&str) -> String) -> String {
    let list = |refs: &[String]| -> String {
        let words: Vec<String> = refs.iter().map(|r| group(r)).collect();
        format!("[{}]", words.join(", "))
    };
    let label = launcher.label();
    let during = list(&launcher.groups_during());
    let after = list(&launcher.groups_after);
    let phases = format!(
        "naming {during} while the default group stays, then {after} after the observation pause (before the default group is detached)"
    );
    match &launcher.settings {
        LaunchSettings::LaunchTemplate {
            template_id,
            version,
            named_version,
            ..
        } => {
            let point = match (launcher.points_group_at_new_version(), launcher.kind) {
                (false, _) => "",
                (true, LauncherKind::EksNodeGroup) => {
                    " and point the node group at each new version (aws eks update-nodegroup-version --launch-template)"
                }
                (true, _) => " and point the group at each new version",
            };
            format!(
                "{label} launches version {version} ({named_version}) of launch template {template_id}, which names {}: give the template a new version {phases}{point}; where this file doesn't manage the template, the CLI export's launch commands do it.",
                list(&launcher.groups_before)
            )
        }
        LaunchSettings::SharedTemplate {
            template_id,
            version,
            shared_with,
        } => format!(
            "{label} launches version {version} of launch template {template_id}, which names {} and which {} launch too: a new version would change what they launch, so give {} a template of its own (aws ec2 create-launch-template with version {version}'s data) {phases}, and point the group at it.",
            list(&launcher.groups_before),
            shared_with.join(", "),
            launcher.name
        ),
        LaunchSettings::LaunchConfiguration { name } => format!(
            "{label} launches launch configuration {name}, which names {}: launch configurations can't change, so copy it (or move the group to a launch template) {phases}, and point the group at the copy.",
            list(&launcher.groups_before)
        ),
        LaunchSettings::NodeGroupDefaults => format!(
            "{label} launches from EKS's own launch template, which names {}: a node group created without a launch template can't take one, so create a node group whose launch template names the new groups, {phases}, move the workloads onto it and delete {}.",
            list(&launcher.groups_before),
            launcher.name
        ),
        LaunchSettings::EcsService { .. } => format!(
            "{label}'s network configuration names {}: update the service (aws ecs update-service --network-configuration, with --force-new-deployment: its tasks' interfaces can't change) {phases}; where this file doesn't manage the service, the CLI export's launch commands do it.",
            list(&launcher.groups_before)
        ),
        LaunchSettings::LambdaVpc { .. } => format!(
            "{label}'s VPC configuration names {}: update it (aws lambda update-function-configuration --vpc-config) {phases}, and publish a version for the aliases that point at older ones; where this file doesn't manage the function, the CLI export's launch commands do it.",
            list(&launcher.groups_before)
        ),
        LaunchSettings::Unseen => {
            let settings = match launcher.kind {
                LauncherKind::AutoScalingGroup => "its launch template or configuration",
                LauncherKind::EksNodeGroup => {
                    "the node group's launch template (aws eks update-nodegroup-version --launch-template)"
                }
                LauncherKind::EcsService => {
                    "the service's network configuration (aws ecs update-service --network-configuration)"
                }
                LauncherKind::LambdaFunction => {
                    "the function's VPC configuration (aws lambda update-function-configuration --vpc-config)"
                }
            };
            format!(
                "{label}: the inventory doesn't hold its settings. Make {settings} name the new groups, {phases}, or members of {} will launch into the default group.",
                launcher.name
            )
        }
    }
}

/// `text` broken into lines of at most `width` characters at spaces (a longer word
/// keeps its own line), for comments.
pub(crate) fn wrapped(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        if line_len > 0 && line_len + 1 + word.len() > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.len();
    }
    out
}
