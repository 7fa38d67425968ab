//! What every end-to-end proposer test checks, on the bundled sample or a generated
//! environment (both come with their truth).

#![allow(dead_code)] // Each test file uses its part.

use std::collections::BTreeSet;
use std::path::Path;

use flowfence_aggregate::{Observations, Table};
use flowfence_flowlog::{ReadOptions, Reader, discover};
use flowfence_inventory::Inventory;
use flowfence_propose::{Plan, replay};
use flowfence_synth::{TrueEdge, Truth};

/// The inventory a generator wrote into `dir`: every file, as `--inventory DIR` reads it.
pub(crate) fn inventory(dir: &Path) -> Inventory {
    let inventory = Inventory::load(&[dir]).unwrap();
    assert!(inventory.issues().is_empty(), "{:?}", inventory.issues());
    inventory
}

/// The connections table of the logs under `logs`.
pub(crate) fn table(logs: &Path, inventory: &Inventory) -> Table {
    let sources = discover(&[logs.to_path_buf()]).unwrap().sources;
    let (obs, report) = Observations::read(&Reader::new(sources, ReadOptions::default()));
    assert_eq!(report.tally.total(), 0);
    obs.finish(inventory)
}

/// The truth a generator wrote.
pub(crate) fn truth(path: &Path) -> Truth {
    Truth::read(path).unwrap()
}

pub(crate) fn role_of(truth: &Truth, eni: &str) -> Option<String> {
    truth.role_of(eni).map(str::to_string)
}

/// Each new group's members share one true role, and no role is split.
pub(crate) fn check_roles(plan: &Plan, truth: &Truth) {
    let mut seen_roles = BTreeSet::new();
    for g in plan.groups.iter().filter(|g| g.new) {
        let roles: BTreeSet<Option<String>> = g.members.iter().map(|m| role_of(truth, m)).collect();
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
}

/// Nothing observed is cut, less is allowed than today, and the default group ends
/// with no rules and no members.
pub(crate) fn check_breaks_nothing(plan: &Plan, inventory: &Inventory, table: &Table) {
    let (before, verdict) = replay(inventory, table, &plan.final_state(inventory));
    assert!(verdict.broken.is_empty(), "{:#?}", verdict.broken);
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
}

type Edge = TrueEdge;

/// Rules between groups are the true edges: a new group's ingress rule from a group is
/// an edge into its role, its egress rule to a group an edge out of it; both must equal
/// the truth's edges between interface roles that touch a migrated role.
pub(crate) fn check_rules_against_truth(plan: &Plan, inventory: &Inventory, truth: &Truth) {
    check_rules_against_edges(plan, inventory, truth, truth.edges());
}

/// [`check_rules_against_truth`] against some of the truth's edges (those a window saw).
pub(crate) fn check_rules_against_edges(
    plan: &Plan,
    inventory: &Inventory,
    truth: &Truth,
    edges: BTreeSet<Edge>,
) {
    let role_of_group = |reference: &str| -> Option<String> {
        let members: Vec<String> = match plan.groups.iter().find(|g| g.reference == reference) {
            Some(g) if g.new => g.members.clone(),
            _ => inventory.members(reference).map(|i| i.id.clone()).collect(),
        };
        let roles: BTreeSet<Option<String>> = members.iter().map(|m| role_of(truth, m)).collect();
        assert_eq!(roles.len(), 1, "{reference}: members of several roles");
        roles.into_iter().next().unwrap()
    };
    let migrated: BTreeSet<String> = plan
        .groups
        .iter()
        .filter(|g| g.new)
        .filter_map(|g| role_of_group(&g.reference))
        .collect();
    let (mut ingress, mut egress) = (BTreeSet::new(), BTreeSet::new());
    for g in plan.groups.iter().filter(|g| g.new) {
        let me = role_of_group(&g.reference).unwrap();
        for (is_ingress, rules) in [(true, &g.ingress), (false, &g.egress)] {
            for spec in rules.iter().map(|r| &r.spec) {
                let flowfence_propose::RuleTarget::Group(other) = &spec.target else {
                    continue;
                };
                let other = role_of_group(other).unwrap();
                assert_eq!(spec.from, spec.to, "a port range between groups");
                let port = spec.from.max(0) as u16;
                let protocol = spec.protocol as u8;
                if is_ingress {
                    ingress.insert((other, me.clone(), protocol, port));
                } else {
                    egress.insert((me.clone(), other, protocol, port));
                }
            }
        }
    }
    let true_edges: Vec<Edge> = edges
        .into_iter()
        .filter(|(c, s, _, _)| truth.roles.contains_key(c) && truth.roles.contains_key(s))
        .collect();
    let want_ingress: BTreeSet<Edge> = true_edges
        .iter()
        .filter(|e| migrated.contains(&e.1))
        .cloned()
        .collect();
    let want_egress: BTreeSet<Edge> = true_edges
        .iter()
        .filter(|e| migrated.contains(&e.0))
        .cloned()
        .collect();
    assert!(!want_ingress.is_empty() && !want_egress.is_empty());
    for (got, want, what) in [
        (&ingress, &want_ingress, "ingress"),
        (&egress, &want_egress, "egress"),
    ] {
        let missing: Vec<_> = want.difference(got).collect();
        // ICMP exchanges logged by both ends in one second are settled by fan-out (the
        // bastion pings several hosts): no reverse ICMP edge is tolerated.
        let extra: Vec<_> = got.difference(want).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{what} rules between groups vs the truth: missing {missing:?}, not true {extra:?}"
        );
    }
}
