//! One rule per row, with its group, what the plan does with it and its evidence: for
//! analysts (CSV or Parquet). Groups are named beside their references, and times are
//! given as dates (UTC) beside Unix seconds.

use flowfence_flowlog::time::utc_iso;
use flowfence_inventory::IpNet;
use flowfence_inventory::protocol_name;
use flowfence_propose::{Plan, RuleTarget};
use flowfence_table::{Column, Columns};

use crate::rules::of_plan;

/// The plan's rules as columns.
pub fn columns(plan: &Plan) -> Columns {
    let rules = of_plan(plan);
    let text = |f: fn(&crate::rules::GroupRule<'_>) -> String| Column::text_of(&rules, f);
    let evidence = |f: fn(&flowfence_propose::RuleEvidence) -> u64| {
        Column::int64_of(&rules, move |r| r.evidence.map_or(0, f))
    };
    // Unix seconds for engines, ISO 8601 for people and spreadsheets; empty without
    // evidence (a rule the plan keeps or rewrites).
    let date = |f: fn(&flowfence_propose::RuleEvidence) -> u64| {
        Column::text_of(&rules, move |r| {
            r.evidence.map(|e| utc_iso(f(e))).unwrap_or_default()
        })
    };
    let mut c = Columns::default();
    c.push("group_ref", text(|r| r.group.reference.clone()))
        .push("group_name", text(|r| r.group.name.clone()))
        .push("action", text(|r| r.action.name().to_string()))
        .push("direction", text(|r| r.direction.name().to_string()))
        .push("ip_protocol", text(|r| protocol_name(r.spec.protocol)))
        .push("from_port", Column::int32_of(&rules, |r| r.spec.from))
        .push("to_port", Column::int32_of(&rules, |r| r.spec.to))
        .push(
            "peer_kind",
            text(|r| match &r.spec.target {
                RuleTarget::Group(_) => "group".to_string(),
                RuleTarget::PrefixList(_) => "prefix-list".to_string(),
                RuleTarget::Cidr(IpNet::V4(_)) => "cidr-ipv4".to_string(),
                RuleTarget::Cidr(IpNet::V6(_)) => "cidr-ipv6".to_string(),
            }),
        )
        .push(
            "peer",
            text(|r| match &r.spec.target {
                RuleTarget::Group(g) | RuleTarget::PrefixList(g) => g.clone(),
                RuleTarget::Cidr(c) => c.to_string(),
            }),
        )
        .push(
            "peer_name",
            Column::text_of(&rules, |r| match &r.spec.target {
                RuleTarget::Group(g) => plan.group_name(g).unwrap_or_default().to_string(),
                RuleTarget::PrefixList(_) | RuleTarget::Cidr(_) => String::new(),
            }),
        )
        .push(
            "description",
            text(|r| r.description.clone().unwrap_or_default()),
        )
        .push("flows", evidence(|e| e.flows))
        .push("bytes", evidence(|e| e.bytes))
        .push("first_seen", evidence(|e| e.first_seen))
        .push("last_seen", evidence(|e| e.last_seen))
        .push("first_seen_utc", date(|e| e.first_seen))
        .push("last_seen_utc", date(|e| e.last_seen))
        .push(
            "examples",
            text(|r| r.evidence.map(|e| e.example_list()).unwrap_or_default()),
        );
    c
}
