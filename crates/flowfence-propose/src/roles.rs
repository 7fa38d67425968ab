//! Roles: which interfaces being migrated share a new security group.
//!
//! Interfaces the inventory says belong together (one auto scaling group, node group, ECS
//! service or Lambda function: one launcher's members stay in one group, as its next ones will be;
//! one load balancer, one ElastiCache cluster, one Name tag on several instances) form one role
//! whatever their traffic: a tier whose members saw different rare flows must not
//! shatter into many groups (the plan says when members differ). The others are grouped
//! by what they need, where a need's peer is itself a role: start with one block per VPC
//! and split blocks whose members' needs differ, until no block splits (partition
//! refinement, so it ends).

use std::collections::{BTreeMap, BTreeSet};

use flowfence_inventory::{Interface, Inventory, Owner, is_private};

use crate::needs::{Direction, Need, Needs, Target};
use crate::rules::InternetEgress;

/// One role: the members of one new group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Role {
    /// The group's name.
    pub name: String,
    /// Why these interfaces are together.
    pub basis: String,
    /// Members, sorted.
    pub members: Vec<String>,
    /// The VPC.
    pub vpc_id: Option<String>,
    /// Members kept together by the inventory though their needs differ: how many needs
    /// only some members showed, [to groups, services and lists; to addresses], for the
    /// plan to say so.
    pub differing_needs: [usize; 2],
    /// The existing group this role is, when a group is tightened in place.
    pub existing: Option<String>,
}

/// What the inventory says an interface belongs with, and the name it suggests.
fn tier_hint(i: &Interface, inventory: &Inventory) -> Option<(String, String)> {
    if let Some(asg) = i.tags.get("aws:autoscaling:groupName") {
        return Some((format!("auto scaling group {asg}"), asg.clone()));
    }
    // An ECS service's tasks (the inventory's `describe-tasks` says whose they are).
    if let Some(service) = inventory
        .launchers_of(i)
        .into_iter()
        .find(|l| l.kind == flowfence_inventory::LauncherKind::EcsService)
    {
        return Some((format!("ECS service {}", service.name), service.name));
    }
    for key in ["eks:nodegroup-name", "aws:eks:cluster-name"] {
        if let Some(v) = i.tags.get(key) {
            return Some((format!("{key} {v}"), v.clone()));
        }
    }
    match &i.owner {
        Owner::LoadBalancer(lb) => {
            let name = lb.split('/').nth(1).unwrap_or(lb).to_string();
            Some((format!("load balancer {lb}"), name))
        }
        Owner::ElastiCache(node) => {
            // `orders-cache-0001-001`: the cluster is the name without node suffixes.
            let cluster = node
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
                .to_string();
            Some((format!("ElastiCache cluster {cluster}"), cluster))
        }
        Owner::Eks(cluster) => Some((format!("EKS cluster {cluster}"), cluster.clone())),
        Owner::Lambda(function) => Some((format!("Lambda function {function}"), function.clone())),
        _ => None,
    }
}

/// A name for a role without a tier hint, from its first member.
fn plain_name(i: &Interface) -> String {
    let name_tag = i.tags.get("Name").filter(|n| !n.is_empty());
    match (&i.owner, name_tag) {
        (_, Some(n)) => n.clone(),
        (Owner::Rds, _) => "rds".to_string(),
        (Owner::Lambda(f), _) => f.clone(),
        (Owner::VpcEndpoint(e), _) => e.clone(),
        _ if !i.description.is_empty() => i.description.clone(),
        _ => i.id.clone(),
    }
}

/// A group name AWS accepts (letters, digits, `-_.`), unique among `taken`.
fn unique_name(base: &str, taken: &mut BTreeSet<String>) -> String {
    let mut clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    clean.truncate(200);
    let mut name = clean.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{clean}-{n}");
        n += 1;
    }
    name
}

/// An interface's needs with migrating peers named by their blocks.
type Signature = BTreeSet<(Direction, u8, u16, String)>;

/// The needs of one interface with migrating peers replaced by their blocks.
fn signature(
    needs: Option<&BTreeMap<Need, crate::evidence::RuleEvidence>>,
    block: &BTreeMap<String, String>,
    internet_egress: InternetEgress,
) -> Signature {
    needs
        .into_iter()
        .flatten()
        .map(|(need, _)| {
            let peer = match &need.target {
                Target::Migrating(id) => format!("role:{}", block[id]),
                Target::Group(g) => format!("sg:{g}"),
                Target::PrefixList(pl) => format!("pl:{pl}"),
                // Internet destinations become one world rule per port: which ones a
                // member happened to reach says nothing about its role.
                Target::Cidr(c)
                    if need.direction == Direction::Egress
                        && internet_egress == InternetEgress::World
                        && !is_private(c.addr()) =>
                {
                    "internet".to_string()
                }
                Target::Cidr(c) => format!("cidr:{c}"),
            };
            (need.direction, need.protocol, need.port, peer)
        })
        .collect()
}

/// Groups the interfaces being migrated into roles. `existing_names` are the group names
/// already in the inventory (new names avoid them); `pinned` maps interfaces to the
/// existing group they stay in (a group tightened in place is one role).
pub(crate) fn assign(
    migrating: &BTreeSet<String>,
    inventory: &Inventory,
    needs: &Needs,
    existing_names: &BTreeSet<String>,
    pinned: &BTreeMap<String, String>,
    internet_egress: InternetEgress,
) -> Vec<Role> {
    // A Name tag several interfaces being migrated share (in one VPC) marks a tier too;
    // one alone says nothing about grouping.
    let mut names: BTreeMap<(Option<&str>, &str), usize> = BTreeMap::new();
    for i in migrating.iter().filter_map(|id| inventory.interface(id)) {
        if let Some(n) = i.tags.get("Name").filter(|n| !n.is_empty()) {
            *names.entry((i.vpc_id.as_deref(), n)).or_default() += 1;
        }
    }
    let shared_name = |i: &Interface| -> Option<(String, String)> {
        let n = i.tags.get("Name")?;
        (names.get(&(i.vpc_id.as_deref(), n.as_str())) > Some(&1))
            .then(|| (format!("Name tag {n}"), n.clone()))
    };
    // Initial blocks: the group tightened in place, the tier hint, else one block per VPC.
    let mut block: BTreeMap<String, String> = BTreeMap::new();
    let mut hinted: BTreeMap<String, (String, String)> = BTreeMap::new();
    for id in migrating {
        let i = inventory.interface(id);
        let vpc = i.and_then(|i| i.vpc_id.clone()).unwrap_or_default();
        if let Some(group) = pinned.get(id) {
            let name = inventory.group(group).map_or(group.as_str(), |g| &g.name);
            let key = format!("pin:{group}");
            hinted.insert(
                key.clone(),
                ("tightened in place".to_string(), name.to_string()),
            );
            block.insert(id.clone(), key);
            continue;
        }
        match i.and_then(|i| tier_hint(i, inventory).or_else(|| shared_name(i))) {
            Some((basis, name)) => {
                let key = format!("hint:{vpc}:{basis}");
                hinted.insert(key.clone(), (basis, name));
                block.insert(id.clone(), key);
            }
            None => {
                block.insert(id.clone(), format!("vpc:{vpc}"));
            }
        }
    }
    // Refine the unhinted blocks by signature until nothing splits.
    loop {
        let mut next: BTreeMap<String, String> = BTreeMap::new();
        let mut keys: BTreeMap<(String, Signature), String> = BTreeMap::new();
        for id in migrating {
            let b = &block[id];
            if hinted.contains_key(b) {
                next.insert(id.clone(), b.clone());
                continue;
            }
            let sig = signature(needs.get(id), &block, internet_egress);
            // The block's new name: its first member (members iterate in order).
            let name = keys
                .entry((b.clone(), sig))
                .or_insert_with(|| format!("{b}/{id}"))
                .clone();
            next.insert(id.clone(), name);
        }
        let count = |m: &BTreeMap<String, String>| m.values().collect::<BTreeSet<_>>().len();
        let done = count(&next) == count(&block);
        block = next;
        if done {
            break;
        }
    }

    let mut members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (id, b) in &block {
        members.entry(b).or_default().push(id.clone());
    }
    let mut taken = existing_names.clone();
    let mut roles: Vec<Role> = members
        .into_iter()
        .map(|(b, members)| {
            let first = inventory.interface(&members[0]);
            let (basis, base) = match hinted.get(b) {
                Some((basis, name)) => (basis.clone(), name.clone()),
                None => (
                    if members.len() > 1 {
                        "same observed needs".to_string()
                    } else {
                        "its own observed needs".to_string()
                    },
                    first.map_or_else(|| members[0].clone(), plain_name),
                ),
            };
            let existing = b.strip_prefix("pin:").map(str::to_string);
            let differing_needs = if hinted.contains_key(b) && existing.is_none() {
                let sigs: Vec<_> = members
                    .iter()
                    .map(|m| signature(needs.get(m), &block, internet_egress))
                    .collect();
                let all: BTreeSet<_> = sigs.iter().flatten().collect();
                let differing: Vec<_> = all
                    .into_iter()
                    .filter(|n| !sigs.iter().all(|s| s.contains(*n)))
                    .collect();
                let addresses = differing
                    .iter()
                    .filter(|n| n.3.starts_with("cidr:"))
                    .count();
                [differing.len() - addresses, addresses]
            } else {
                [0, 0]
            };
            Role {
                name: base,
                basis,
                vpc_id: first.and_then(|i| i.vpc_id.clone()),
                members,
                differing_needs,
                existing,
            }
        })
        .collect();
    // Names in a stable order: by name, then first member. Existing groups keep theirs.
    roles.sort_by(|a, b| (&a.name, &a.members).cmp(&(&b.name, &b.members)));
    for r in roles.iter_mut().filter(|r| r.existing.is_none()) {
        r.name = unique_name(&r.name, &mut taken);
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::RuleEvidence;
    use crate::testing;

    fn need(port: u16, peer: &str) -> (Need, RuleEvidence) {
        let need = Need {
            direction: Direction::Ingress,
            protocol: 6,
            port,
            target: Target::Migrating(peer.to_string()),
        };
        (need, RuleEvidence::default())
    }

    fn roles_of(names: &[(&str, Option<&str>)], needs: Needs) -> Vec<Vec<String>> {
        let interfaces = names
            .iter()
            .enumerate()
            .map(|(n, (id, name))| {
                testing::interface(
                    id,
                    &format!("10.0.0.{}", n + 1),
                    &["sg-d"],
                    "interface",
                    *name,
                )
            })
            .collect();
        let inventory = testing::inventory(interfaces, Vec::new());
        let migrating: BTreeSet<String> = names.iter().map(|(id, _)| id.to_string()).collect();
        let mut roles: Vec<Vec<String>> = assign(
            &migrating,
            &inventory,
            &needs,
            &BTreeSet::new(),
            &BTreeMap::new(),
            InternetEgress::World,
        )
        .into_iter()
        .map(|r| r.members)
        .collect();
        roles.sort();
        roles
    }

    #[test]
    fn alike_interfaces_share_a_role_and_a_different_one_gets_its_own() {
        // a and b serve 8080 to c; c serves nothing: {a, b}, {c}. d serves 9090 to c.
        let needs: Needs = [
            ("a", vec![need(8080, "c")]),
            ("b", vec![need(8080, "c")]),
            ("d", vec![need(9090, "c")]),
        ]
        .into_iter()
        .map(|(id, n)| (id.to_string(), n.into_iter().collect()))
        .collect();
        let names = [("a", None), ("b", None), ("c", None), ("d", None)];
        assert_eq!(
            roles_of(&names, needs),
            [vec!["a", "b"], vec!["c"], vec!["d"]]
        );
    }

    #[test]
    fn a_shared_name_tag_keeps_a_tier_together_despite_rare_flows() {
        // b alone saw a rare call on 7000; both are "worker".
        let needs: Needs = [
            ("a", vec![need(8080, "c")]),
            ("b", vec![need(8080, "c"), need(7000, "c")]),
        ]
        .into_iter()
        .map(|(id, n)| (id.to_string(), n.into_iter().collect()))
        .collect();
        let tagged = [("a", Some("worker")), ("b", Some("worker")), ("c", None)];
        assert_eq!(
            roles_of(&tagged, needs.clone()),
            [vec!["a", "b"], vec!["c"]]
        );
        // Without the tag their needs differ: two roles.
        let untagged = [("a", None), ("b", None), ("c", None)];
        assert_eq!(
            roles_of(&untagged, needs),
            [vec!["a"], vec!["b"], vec!["c"]]
        );
    }
}
