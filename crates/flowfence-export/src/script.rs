//! An AWS CLI script that follows the plan's steps in two phases: `prepare` (create the
//! groups, authorize their rules, rewrite references, attach the new groups beside the
//! default group, give launch templates a version naming both) and, after the
//! observation pause, `finish` (a launch template version naming only the new groups,
//! detach the default group, revoke replaced rules, revoke the default group's rules).
//! Nothing destructive runs in `prepare`; every step can be rerun (groups are looked up
//! by name before creating; a rerun adds one more identical template version).

use std::fmt::Write as _;

use flowfence_propose::{
    GroupChange, IpPermission, LaunchSettings, LauncherKind, Plan, PlanLauncher, PlanRule,
};

use crate::names::snake;

/// A shell word in single quotes.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The shell variable holding a group's id.
fn var(reference: &str) -> String {
    let name = reference.strip_prefix("new:").unwrap_or(reference);
    format!("SG_{}", snake(name).to_ascii_uppercase())
}

/// A group as a shell word: `"$SG_WEB"` for new groups, the id otherwise.
fn group_word(reference: &str) -> String {
    if reference.starts_with("new:") {
        format!("\"${}\"", var(reference))
    } else {
        reference.to_string()
    }
}

/// `text` as one shell word in single quotes, every `new:NAME` in it replaced by the
/// new group's id (`$SG_NAME`): JSON with new groups' refs, or a sentence naming them.
fn spliced_word(text: &str) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let mut out = String::from("'");
    let mut rest = text;
    while let Some(at) = rest.find("new:") {
        let token_start = !rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| is_name(c) || c == ':');
        let end = rest[at + 4..]
            .find(|c: char| !is_name(c))
            .map_or(rest.len(), |e| e + at + 4);
        out.push_str(&rest[..at].replace('\'', r"'\''"));
        if token_start && end > at + 4 {
            let _ = write!(out, "'\"${}\"'", var(&rest[at..end]));
        } else {
            out.push_str(&rest[at..end]);
        }
        rest = &rest[end..];
    }
    out.push_str(&rest.replace('\'', r"'\''"));
    out.push('\'');
    out
}

/// Permissions as a shell word: JSON in single quotes, new groups' ids spliced in.
fn permissions_word(perms: &[IpPermission]) -> String {
    spliced_word(&serde_json::to_string(perms).expect("permissions serialise"))
}

/// Makes `launcher` name `groups` from now on: a new version of its launch template
/// (based on `source`, a shell word), the auto scaling group or node group pointed at it
/// unless it launches `$Latest`; an ECS service's network configuration (with a new
/// deployment: running tasks' interfaces can't change); a function's VPC
/// configuration. Settings the script can't change are printed as the change to make.
fn launch_into(
    s: &mut String,
    indent: &str,
    launcher: &PlanLauncher,
    groups: &[String],
    source: &str,
) {
    let cluster = launcher.cluster.as_deref().unwrap_or_default();
    match &launcher.settings {
        LaunchSettings::EcsService {
            subnets,
            assign_public_ip,
        } => {
            let mut vpc = serde_json::json!({ "subnets": subnets, "securityGroups": groups });
            if let Some(a) = assign_public_ip {
                vpc["assignPublicIp"] = a.as_str().into();
            }
            let config = serde_json::json!({ "awsvpcConfiguration": vpc });
            let _ = writeln!(
                s,
                "{indent}aws ecs update-service --cluster {} --service {} --network-configuration {} --force-new-deployment > /dev/null",
                sq(cluster),
                sq(&launcher.name),
                spliced_word(&config.to_string())
            );
            return;
        }
        LaunchSettings::LambdaVpc {
            subnets,
            ipv6_allowed_for_dual_stack,
        } => {
            let mut vpc = serde_json::json!({ "SubnetIds": subnets, "SecurityGroupIds": groups });
            if let Some(v) = ipv6_allowed_for_dual_stack {
                vpc["Ipv6AllowedForDualStack"] = (*v).into();
            }
            let _ = writeln!(
                s,
                "{indent}aws lambda update-function-configuration --function-name {} --vpc-config {} > /dev/null",
                sq(&launcher.name),
                spliced_word(&vpc.to_string())
            );
            return;
        }
        _ => {}
    }
    let Some(data) = launcher.template_data(groups) else {
        let _ = writeln!(
            s,
            "{indent}echo {} >&2",
            spliced_word(&crate::launch::change(launcher, &|g| g.to_string()))
        );
        return;
    };
    let LaunchSettings::LaunchTemplate {
        template_id,
        mixed_instances,
        ..
    } = &launcher.settings
    else {
        return;
    };
    let _ = writeln!(
        s,
        "{indent}version=\"$(aws ec2 create-launch-template-version --launch-template-id {template_id} --source-version {source} --version-description {} --launch-template-data {} --query LaunchTemplateVersion.VersionNumber --output text)\"",
        sq(&format!("flowfence: {}", launcher.label())),
        spliced_word(&data.to_string())
    );
    if !launcher.points_group_at_new_version() {
        return;
    }
    if launcher.kind == LauncherKind::EksNodeGroup {
        // EKS rolls the node group's nodes onto the new version.
        let _ = writeln!(
            s,
            "{indent}aws eks update-nodegroup-version --cluster-name {} --nodegroup-name {} --launch-template \"id={template_id},version=$version\" > /dev/null",
            sq(cluster),
            sq(&launcher.name)
        );
        return;
    }
    let spec = format!("LaunchTemplateId={template_id},Version=$version");
    let how = if *mixed_instances {
        format!(
            "--mixed-instances-policy '{{\"LaunchTemplate\":{{\"LaunchTemplateSpecification\":{{\"LaunchTemplateId\":\"{template_id}\",\"Version\":\"'\"$version\"'\"}}}}}}'"
        )
    } else {
        format!("--launch-template \"{spec}\"")
    };
    let _ = writeln!(
        s,
        "{indent}aws autoscaling update-auto-scaling-group --auto-scaling-group-name {} {how}",
        sq(&launcher.name)
    );
}

/// Sets an interface's groups to `groups` (`modify-network-interface-attribute` replaces
/// the whole set), or, for one an AWS service owns, says what to do through its owner.
fn set_groups(
    s: &mut String,
    indent: &str,
    i: &flowfence_propose::PlanInterface,
    groups: &[String],
    through_owner: &str,
) {
    if i.requester_managed {
        let _ = writeln!(
            s,
            "{indent}echo {}",
            sq(&format!(
                "{} belongs to {}: {through_owner}",
                i.interface_id, i.owner
            ))
        );
    } else {
        let words: Vec<String> = groups.iter().map(|g| group_word(g)).collect();
        let _ = writeln!(
            s,
            "{indent}aws ec2 modify-network-interface-attribute --network-interface-id {} --groups {}",
            i.interface_id,
            words.join(" ")
        );
    }
}

/// The plan as a bash script.
pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    s.push_str("#!/usr/bin/env bash\n");
    let _ = writeln!(
        s,
        "# flowfence migration plan: {} new security groups, {} interfaces change groups.",
        plan.groups.iter().filter(|g| g.new).count(),
        plan.interfaces.len()
    );
    s.push_str(
        "#\n# Usage: $0 prepare   create the groups and rules, attach them beside the default group\n\
         #        $0 finish    after the observation pause: detach the default group, revoke\n\
         #                     replaced rules and every rule of the default group\n\
         # Between the two: keep flow logs running (a week covers weekly jobs) and run\n\
         # `flowfence verify --plan plan.json --logs NEW_LOGS --inventory ...` on them.\n\
         # Read it before running it. Uses the AWS CLI's usual credentials and region.\n\n",
    );
    s.push_str("set -euo pipefail\n\nphase=\"${1:-}\"\ncase \"$phase\" in\n  prepare|finish) ;;\n  *) echo \"usage: $0 prepare|finish\" >&2; exit 2 ;;\nesac\n\n");
    s.push_str(
        "# The id of group NAME in VPC, or nothing.\ngroup_id() {\n  aws ec2 describe-security-groups --filters \"Name=vpc-id,Values=$2\" \"Name=group-name,Values=$1\" \\\n    --query 'SecurityGroups[0].GroupId' --output text | grep -v '^None$' || true\n}\n\n",
    );
    // Group ids: created in prepare, looked up in both phases.
    s.push_str("# Step 1: create-groups (a new group's allow-all egress rule is revoked: only the plan's rules stay).\n");
    for g in plan.groups.iter().filter(|g| g.new) {
        let vpc = g.vpc_id.as_deref().unwrap_or("");
        let v = var(&g.reference);
        let _ = writeln!(s, "{v}=\"$(group_id {} {})\"", sq(&g.name), sq(vpc));
        let _ = writeln!(s, "if [ -z \"${v}\" ] && [ \"$phase\" = prepare ]; then");
        let _ = writeln!(
            s,
            "  {v}=\"$(aws ec2 create-security-group --group-name {} --description {} --vpc-id {} --query GroupId --output text)\"",
            sq(&g.name),
            sq(&format!("flowfence: {}", g.basis)),
            sq(vpc)
        );
        let _ = writeln!(
            s,
            "  aws ec2 revoke-security-group-egress --group-id \"${v}\" --ip-permissions '[{{\"IpProtocol\":\"-1\",\"IpRanges\":[{{\"CidrIp\":\"0.0.0.0/0\"}}]}}]' > /dev/null"
        );
        s.push_str("fi\n");
        let _ = writeln!(
            s,
            "[ -n \"${v}\" ] || {{ echo \"group {} does not exist: run prepare first\" >&2; exit 1; }}",
            g.name
        );
    }
    s.push('\n');

    s.push_str("if [ \"$phase\" = prepare ]; then\n");
    s.push_str(
        "  # Step 2: authorize-rules. Step 3: rewrite-references (rules naming the new groups).\n",
    );
    s.push_str("  # A rule that already exists is reported by AWS as a duplicate and skipped.\n");
    for g in &plan.groups {
        let (ingress, egress): (&[PlanRule], &[PlanRule]) = match (&g.changes, g.new) {
            (_, true) => (&g.ingress, &g.egress),
            (Some(c), false) => (&c.authorize_ingress, &c.authorize_egress),
            (None, false) => (&[], &[]),
        };
        for (verb, perms) in [("ingress", ingress), ("egress", egress)] {
            for p in perms {
                let _ = writeln!(
                    s,
                    "  aws ec2 authorize-security-group-{verb} --group-id {} --ip-permissions {} > /dev/null 2>&1 || echo 'already there or failed: {} {verb}' >&2",
                    group_word(&g.reference),
                    permissions_word(&[p.permission()]),
                    g.name
                );
            }
        }
    }
    s.push_str("  # Step 4: attach-new-groups beside the groups each interface has now.\n");
    for i in &plan.interfaces {
        let mut both: Vec<String> = i.groups_before.clone();
        both.extend(
            i.groups_after
                .iter()
                .filter(|g| !i.groups_before.contains(g))
                .cloned(),
        );
        set_groups(
            &mut s,
            "  ",
            i,
            &both,
            &format!(
                "add {} through that resource (RDS, ElastiCache, ELB APIs)",
                i.groups_after.join(" ")
            ),
        );
    }
    if !plan.launchers.is_empty() {
        s.push_str("  # launch-beside-default: what the launchers start during the observation gets both.\n");
        for l in &plan.launchers {
            let source = match &l.settings {
                LaunchSettings::LaunchTemplate { version, .. } => version.to_string(),
                _ => String::new(),
            };
            launch_into(&mut s, "  ", l, &l.groups_during(), &source);
        }
    }
    s.push_str(
        "  echo \"Prepared. Next: observe (flowfence verify on new logs), then run: $0 finish\"\n",
    );
    s.push_str("  exit 0\nfi\n\n");

    if !plan.launchers.is_empty() {
        s.push_str("# finish: launch-without-default (each template's newest version, the groups changed).\n");
        for l in &plan.launchers {
            let source = match &l.settings {
                LaunchSettings::LaunchTemplate { template_id, .. } => format!(
                    "\"$(aws ec2 describe-launch-templates --launch-template-ids {template_id} --query 'LaunchTemplates[0].LatestVersionNumber' --output text)\""
                ),
                _ => String::new(),
            };
            launch_into(&mut s, "", l, &l.groups_after, &source);
        }
    }
    s.push_str("# finish: detach-default.\n");
    for i in &plan.interfaces {
        set_groups(
            &mut s,
            "",
            i,
            &i.groups_after,
            &format!(
                "set its groups to {} through that resource",
                i.groups_after.join(" ")
            ),
        );
    }
    let steps: [(&str, &[GroupChange]); 2] = [
        (
            "revoke-replaced-rules",
            &[GroupChange::Tighten, GroupChange::RewriteReferences],
        ),
        ("revoke-default-rules", &[GroupChange::Empty]),
    ];
    for (label, changes) in steps {
        let _ = writeln!(s, "# {label}");
        for g in plan.groups.iter().filter(|g| changes.contains(&g.change)) {
            let Some(c) = &g.changes else { continue };
            for (verb, perms) in [("ingress", &c.revoke_ingress), ("egress", &c.revoke_egress)] {
                if perms.is_empty() {
                    continue;
                }
                let _ = writeln!(
                    s,
                    "aws ec2 revoke-security-group-{verb} --group-id {} --ip-permissions {} > /dev/null",
                    g.reference,
                    permissions_word(&perms.iter().map(PlanRule::permission).collect::<Vec<_>>())
                );
            }
        }
    }
    s.push_str("echo 'Finished: the default groups have no members and no rules.'\n");
    s
}
