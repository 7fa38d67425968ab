//! CloudFormation (YAML): `AWS::EC2::SecurityGroup` per new group,
//! `AWS::EC2::SecurityGroupIngress`/`Egress` per rule added, and comments for what a
//! template can't do (attach groups to interfaces, revoke rules it didn't create).
//!
//! A group CloudFormation creates gets an allow-all egress rule unless its
//! `SecurityGroupEgress` lists rules, so each new group lists its egress rules that name
//! no other new group there (naming one there could make a dependency cycle; those stay
//! separate resources), or, with none, a rule to 127.0.0.1/32, which matches nothing
//! that leaves an interface.

use std::fmt::Write as _;

use flowfence_inventory::IpNet;
use flowfence_inventory::protocol_name;
use flowfence_propose::{Direction, GroupChange, Plan, PlanGroup, RuleSpec, RuleTarget};

use crate::names::{Unique, camel, rule_words};

/// `IpProtocol` in YAML (`-1` quoted, or it reads as a number).
fn protocol(p: i32) -> String {
    match protocol_name(p) {
        all if p == -1 => quoted(&all),
        name => name,
    }
}
use crate::rules::{Action, GroupRule, of_group};

/// A YAML double-quoted scalar (JSON's escaping is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// The properties of one rule, as `key: value` lines (without the group).
fn rule_properties(
    spec: &RuleSpec,
    direction: Direction,
    description: Option<&str>,
    group_value: &dyn Fn(&str) -> String,
) -> Vec<(String, String)> {
    let mut props = vec![("IpProtocol".to_string(), protocol(spec.protocol))];
    if spec.protocol != -1 {
        props.push(("FromPort".into(), spec.from.to_string()));
        props.push(("ToPort".into(), spec.to.to_string()));
    }
    let (source, value) = match (&spec.target, direction) {
        (RuleTarget::Cidr(IpNet::V4(c)), _) => ("CidrIp", c.to_string()),
        (RuleTarget::Cidr(IpNet::V6(c)), _) => ("CidrIpv6", c.to_string()),
        (RuleTarget::PrefixList(p), Direction::Ingress) => ("SourcePrefixListId", p.clone()),
        (RuleTarget::PrefixList(p), Direction::Egress) => ("DestinationPrefixListId", p.clone()),
        (RuleTarget::Group(g), Direction::Ingress) => ("SourceSecurityGroupId", group_value(g)),
        (RuleTarget::Group(g), Direction::Egress) => ("DestinationSecurityGroupId", group_value(g)),
    };
    let value = if value.starts_with('!') {
        value
    } else {
        quoted(&value)
    };
    props.push((source.to_string(), value));
    if let Some(d) = description {
        props.push(("Description".into(), quoted(d)));
    }
    props
}

fn comment(out: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "{indent}# {line}");
    }
}

/// Whether a rule can sit inside its group's own resource.
fn inline(r: &GroupRule<'_>) -> bool {
    r.direction == Direction::Egress
        && r.action == Action::Authorize
        && !matches!(&r.spec.target, RuleTarget::Group(g) if g.starts_with("new:"))
}

/// The plan as a CloudFormation template.
pub fn render(plan: &Plan) -> String {
    let mut unique = Unique::default();
    let mut ids: Vec<(String, String)> = Vec::new();
    for g in plan.groups.iter().filter(|g| g.new) {
        ids.push((g.reference.clone(), unique.name(camel(&g.name), "")));
    }
    let group_value = |reference: &str| -> String {
        ids.iter().find(|(r, _)| r == reference).map_or_else(
            || reference.to_string(),
            |(_, id)| format!("!GetAtt {id}.GroupId"),
        )
    };
    let mut out = String::new();
    out.push_str("AWSTemplateFormatVersion: \"2010-09-09\"\n");
    let _ = writeln!(
        out,
        "Description: {}",
        quoted(&format!(
            "flowfence migration plan: {} new security groups and their rules",
            ids.len()
        ))
    );
    out.push_str("Resources:\n");
    for g in plan.groups.iter().filter(|g| g.new) {
        write_group(&mut out, g, &group_value);
    }
    for g in &plan.groups {
        let rules = of_group(g);
        let mut revokes = Vec::new();
        for r in &rules {
            if r.action == Action::Revoke {
                revokes.push(format!(
                    "{} {}",
                    r.direction.name(),
                    rule_words(&r.spec).trim_end()
                ));
                continue;
            }
            if r.action != Action::Authorize || (g.new && inline(r)) {
                continue;
            }
            let kind = if r.direction == Direction::Ingress {
                "SecurityGroupIngress"
            } else {
                "SecurityGroupEgress"
            };
            let id = unique.name(
                camel(&format!(
                    "{} {} {}",
                    g.name,
                    r.direction.name(),
                    rule_words(&r.spec)
                )),
                "",
            );
            let _ = writeln!(out, "  {id}:");
            let _ = writeln!(out, "    Type: AWS::EC2::{kind}");
            out.push_str("    Properties:\n");
            let group = group_value(&g.reference);
            let group = if group.starts_with('!') {
                group
            } else {
                quoted(&group)
            };
            let _ = writeln!(out, "      GroupId: {group}");
            for (k, v) in
                rule_properties(&r.spec, r.direction, r.description.as_deref(), &group_value)
            {
                let _ = writeln!(out, "      {k}: {v}");
            }
        }
        if !revokes.is_empty() {
            let what = if g.change == GroupChange::Empty {
                "the default group"
            } else {
                "this group"
            };
            comment(
                &mut out,
                "  ",
                &format!(
                    "After the observation pause, revoke these rules of {what} {} ({}); the template did not create them:\n  {}",
                    g.reference,
                    g.name,
                    revokes.join("\n  ")
                ),
            );
        }
    }
    let attach: Vec<String> = plan
        .interfaces
        .iter()
        .map(|i| {
            format!(
                "{} ({}): {} -> {}",
                i.interface_id,
                i.owner,
                i.groups_before.join(" "),
                i.groups_after.join(" ")
            )
        })
        .collect();
    if !attach.is_empty() {
        comment(
            &mut out,
            "",
            &format!(
                "Interfaces (a template can't change an existing interface's groups): add the new\n\
                 group beside the default group now, remove the default group after the pause.\n{}",
                attach.join("\n")
            ),
        );
    }
    for l in &plan.launchers {
        let group = |r: &str| group_value(r);
        comment(
            &mut out,
            "",
            &crate::launch::wrapped(&crate::launch::change(l, &group), 88),
        );
    }
    out.push_str("Outputs:\n");
    for (reference, id) in &ids {
        let _ = writeln!(out, "  {id}Id:");
        let _ = writeln!(
            out,
            "    Description: {}",
            quoted(&format!("id of {reference}"))
        );
        let _ = writeln!(out, "    Value: !GetAtt {id}.GroupId");
    }
    out
}

fn write_group(out: &mut String, g: &PlanGroup, group_value: &dyn Fn(&str) -> String) {
    let id = group_value(&g.reference);
    let id = id
        .trim_start_matches("!GetAtt ")
        .trim_end_matches(".GroupId");
    let _ = writeln!(out, "  {id}:");
    out.push_str("    Type: AWS::EC2::SecurityGroup\n    Properties:\n");
    let _ = writeln!(out, "      GroupName: {}", quoted(&g.name));
    let _ = writeln!(
        out,
        "      GroupDescription: {}",
        quoted(&format!("flowfence: {}", g.basis))
    );
    if let Some(vpc) = &g.vpc_id {
        let _ = writeln!(out, "      VpcId: {}", quoted(vpc));
    }
    out.push_str("      SecurityGroupEgress:\n");
    let rules = of_group(g);
    let inlined: Vec<&GroupRule<'_>> = rules.iter().filter(|r| inline(r)).collect();
    let placeholder = RuleSpec {
        protocol: -1,
        from: -1,
        to: -1,
        target: RuleTarget::Cidr("127.0.0.1/32".parse().expect("valid")),
    };
    let entries: Vec<Vec<(String, String)>> = if inlined.is_empty() {
        vec![rule_properties(
            &placeholder,
            Direction::Egress,
            Some("flowfence: no egress (keeps CloudFormation from adding allow-all)"),
            group_value,
        )]
    } else {
        inlined
            .iter()
            .map(|r| {
                rule_properties(
                    &r.spec,
                    Direction::Egress,
                    r.description.as_deref(),
                    group_value,
                )
            })
            .collect()
    };
    for props in entries {
        for (n, (k, v)) in props.iter().enumerate() {
            let lead = if n == 0 { "        - " } else { "          " };
            let _ = writeln!(out, "{lead}{k}: {v}");
        }
    }
}
