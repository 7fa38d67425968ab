//! Terraform (AWS provider 5+): `aws_security_group` per new group,
//! `aws_vpc_security_group_ingress_rule`/`_egress_rule` per rule added,
//! `aws_network_interface_sg_attachment` per interface Terraform can attach,
//! `aws_default_security_group` with no rules behind a variable set after the
//! observation pause, and comments for what Terraform can't express (interfaces an AWS
//! service owns, detaching the default group, revoking rules it didn't create). Written
//! the way `terraform fmt` writes it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use flowfence_inventory::IpNet;
use flowfence_inventory::protocol_name;
use flowfence_propose::{Direction, GroupChange, Plan, RuleTarget};

use crate::names::{Unique, rule_words, snake};
use crate::rules::{Action, of_group};

/// One block: `resource "TYPE" "NAME" { key = value ... }` with `=` aligned.
struct Block {
    header: String,
    attributes: Vec<(&'static str, String)>,
}

impl Block {
    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "{} {{", self.header);
        let width = self
            .attributes
            .iter()
            .map(|(k, _)| k.len())
            .max()
            .unwrap_or(0);
        for (k, v) in &self.attributes {
            let _ = writeln!(out, "  {k:width$} = {v}");
        }
        out.push_str("}\n\n");
    }
}

/// An HCL string literal.
fn string(s: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A comment block, each line prefixed with `# `.
fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            let _ = writeln!(out, "# {line}");
        }
    }
}

/// The plan as Terraform.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let mut unique = Unique::default();
    comment(
        &mut out,
        &format!(
            "flowfence migration plan: {} new security groups, {} interfaces change groups.\n\
             Apply in two stages: first as it is (groups, rules, attachments beside the default\n\
             group); after the observation pause (flowfence verify on new logs), detach the\n\
             default group as the comments say and apply again with empty_default_groups = true.",
            plan.groups.iter().filter(|g| g.new).count(),
            plan.interfaces.len()
        ),
    );
    out.push('\n');
    Block {
        header: "variable \"empty_default_groups\"".into(),
        attributes: vec![
            (
                "description",
                string("After the observation pause and once no interface uses them: remove every rule of the default security groups."),
            ),
            ("type", "bool".into()),
            ("default", "false".into()),
        ],
    }
    .write(&mut out);

    // New groups first, so references read top-down.
    let mut group_expr: BTreeMap<String, String> = BTreeMap::new();
    for g in plan.groups.iter().filter(|g| g.new) {
        let name = unique.name(snake(&g.name), "_");
        group_expr.insert(g.reference.clone(), format!("aws_security_group.{name}.id"));
        let mut attributes = vec![
            ("name", string(&g.name)),
            ("description", string(&format!("flowfence: {}", g.basis))),
        ];
        if let Some(vpc) = &g.vpc_id {
            attributes.push(("vpc_id", string(vpc)));
        }
        Block {
            header: format!("resource \"aws_security_group\" \"{name}\""),
            attributes,
        }
        .write(&mut out);
    }
    let group_ref = |reference: &str| -> String {
        group_expr
            .get(reference)
            .cloned()
            .unwrap_or_else(|| string(reference))
    };

    for g in &plan.groups {
        let rules = of_group(g);
        let mut revokes = Vec::new();
        for r in &rules {
            match r.action {
                Action::Keep => continue,
                Action::Revoke => {
                    revokes.push(format!(
                        "  {} {}",
                        r.direction.name(),
                        rule_words(&r.spec).trim_end()
                    ));
                    continue;
                }
                Action::Authorize => {}
            }
            let kind = if r.direction == Direction::Ingress {
                "aws_vpc_security_group_ingress_rule"
            } else {
                "aws_vpc_security_group_egress_rule"
            };
            let name = unique.name(
                snake(&format!(
                    "{} {} {}",
                    g.name,
                    r.direction.name(),
                    rule_words(&r.spec)
                )),
                "_",
            );
            let mut attributes = vec![("security_group_id", group_ref(&g.reference))];
            if let Some(d) = &r.description {
                attributes.push(("description", string(d)));
            }
            attributes.push(("ip_protocol", string(&protocol_name(r.spec.protocol))));
            if r.spec.protocol != -1 {
                attributes.push(("from_port", r.spec.from.to_string()));
                attributes.push(("to_port", r.spec.to.to_string()));
            }
            let peer = match &r.spec.target {
                RuleTarget::Cidr(IpNet::V4(c)) => ("cidr_ipv4", string(&c.to_string())),
                RuleTarget::Cidr(IpNet::V6(c)) => ("cidr_ipv6", string(&c.to_string())),
                RuleTarget::PrefixList(p) => ("prefix_list_id", string(p)),
                RuleTarget::Group(id) => ("referenced_security_group_id", group_ref(id)),
            };
            attributes.push(peer);
            Block {
                header: format!("resource \"{kind}\" \"{name}\""),
                attributes,
            }
            .write(&mut out);
        }
        if !revokes.is_empty() && g.change != GroupChange::Empty {
            comment(
                &mut out,
                &format!(
                    "After the observation pause, revoke these rules of {} ({}); Terraform did not\n\
                     create them (aws ec2 revoke-security-group-ingress/egress, or import them first):\n{}",
                    g.reference,
                    g.name,
                    revokes.join("\n")
                ),
            );
            out.push('\n');
        }
    }

    for i in &plan.interfaces {
        let added: Vec<&String> = i
            .groups_after
            .iter()
            .filter(|g| !i.groups_before.contains(g))
            .collect();
        if i.requester_managed {
            let names: Vec<String> = added.iter().map(|g| g.to_string()).collect();
            comment(
                &mut out,
                &format!(
                    "{} belongs to {}: give that resource the groups {} (e.g. its\n\
                     vpc_security_group_ids / security_group_ids); Terraform can't attach them to the interface.",
                    i.interface_id,
                    i.owner,
                    names.join(", ")
                ),
            );
            out.push('\n');
            continue;
        }
        for g in added {
            let name = unique.name(snake(&format!("{} {}", i.interface_id, g)), "_");
            Block {
                header: format!("resource \"aws_network_interface_sg_attachment\" \"{name}\""),
                attributes: vec![
                    ("security_group_id", group_ref(g)),
                    ("network_interface_id", string(&i.interface_id)),
                ],
            }
            .write(&mut out);
        }
    }
    for l in &plan.launchers {
        comment(
            &mut out,
            &crate::launch::wrapped(&crate::launch::change(l, &group_ref), 88),
        );
        out.push('\n');
    }
    let detach: Vec<String> = plan
        .interfaces
        .iter()
        .filter(|i| !i.requester_managed)
        .map(|i| {
            format!(
                "  aws ec2 modify-network-interface-attribute --network-interface-id {} --groups <ids of {}>",
                i.interface_id,
                i.groups_after.join(" ")
            )
        })
        .collect();
    if !detach.is_empty() {
        comment(
            &mut out,
            &format!(
                "After the observation pause, detach the default group (Terraform doesn't manage\n\
                 these interfaces' group sets):\n{}",
                detach.join("\n")
            ),
        );
        out.push('\n');
    }

    for g in plan
        .groups
        .iter()
        .filter(|g| g.change == GroupChange::Empty)
    {
        let name = unique.name(
            snake(&format!(
                "default {}",
                g.vpc_id.as_deref().unwrap_or(&g.reference)
            )),
            "_",
        );
        let mut attributes = vec![("count", "var.empty_default_groups ? 1 : 0".to_string())];
        if let Some(vpc) = &g.vpc_id {
            attributes.push(("vpc_id", string(vpc)));
        }
        Block {
            header: format!("resource \"aws_default_security_group\" \"{name}\""),
            attributes,
        }
        .write(&mut out);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}
