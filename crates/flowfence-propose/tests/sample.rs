//! End to end on the bundled sample (its truth known): the plan's groups are the true
//! roles, its rules the true edges, the replay check finds nothing broken and the
//! default group ends empty.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use flowfence_aggregate::{Observations, Table};
use flowfence_flowlog::{ReadOptions, Reader, discover};
use flowfence_inventory::Inventory;
use flowfence_propose::{Options, Plan, State, propose, verify};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-logs")
}

fn inventory() -> Inventory {
    let dir = sample().join("inventory");
    Inventory::load(&[
        dir.join("describe-network-interfaces.json"),
        dir.join("describe-security-groups.json"),
        dir.join("describe-prefix-lists.json"),
    ])
    .unwrap()
}

fn table(logs: &str, inventory: &Inventory) -> Table {
    let sources = discover(&[sample().join("logs").join(logs)])
        .unwrap()
        .sources;
    let obs = Observations::default();
    let (last, _) = Reader::new(sources, ReadOptions::default()).fold(|| obs.collector(), |a, _| a);
    drop(last);
    obs.finish(inventory)
}

fn truth() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(sample().join("truth.json")).unwrap()).unwrap()
}

fn role_of(truth: &serde_json::Value, eni: &str) -> Option<String> {
    truth["roles"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, ids)| ids.as_array().unwrap().iter().any(|i| i == eni))
        .map(|(r, _)| r.clone())
}

fn check(logs: &str) -> Plan {
    let inventory = inventory();
    let table = table(logs, &inventory);
    let plan = propose(&table, &inventory, &Options::default());
    let truth = truth();

    // Groups are the true roles: each new group's members share one role, and each
    // role in the default group is one new group.
    let mut seen_roles = BTreeSet::new();
    for g in plan.groups.iter().filter(|g| g.new) {
        let roles: BTreeSet<Option<String>> =
            g.members.iter().map(|m| role_of(&truth, m)).collect();
        assert_eq!(
            roles.len(),
            1,
            "{}: members of several roles {roles:?}",
            g.name
        );
        assert!(
            seen_roles.insert(roles.into_iter().next().unwrap()),
            "{}: role split",
            g.name
        );
    }

    // Nothing observed is cut; the default group ends with no rules and no members.
    let after = State::after(&inventory, &plan).unwrap();
    let scope: BTreeSet<String> = inventory
        .interfaces()
        .filter(|i| i.has_security_groups())
        .map(|i| i.id.clone())
        .collect();
    let verdict = verify::check(&after, &inventory, &table, &scope);
    assert!(verdict.broken.is_empty(), "{logs}: {:#?}", verdict.broken);
    let before = verify::check(&State::current(&inventory), &inventory, &table, &scope);
    assert!(
        verdict.allowed_unused < before.allowed_unused,
        "{} !< {}",
        verdict.allowed_unused,
        before.allowed_unused
    );
    let default = plan.groups.iter().find(|g| g.name == "default").unwrap();
    assert!(default.ingress.is_empty() && default.egress.is_empty() && default.members.is_empty());
    assert!(
        plan.interfaces
            .iter()
            .all(|i| i.groups_after.iter().all(|g| g != &default.reference))
    );
    plan
}

#[test]
fn v5_plan_reproduces_roles_and_breaks_nothing() {
    let plan = check("s3-text-v5");
    insta::assert_json_snapshot!("sample-v5-plan", plan);
}

#[test]
fn v2_plan_reproduces_roles_and_breaks_nothing() {
    check("s3-text-v2");
}
