//! The rules-per-group quota: AWS counts inbound and outbound rules separately, and
//! within each IPv4 and IPv6 rules separately; a rule naming a group or a prefix list
//! counts in both families, a prefix list by its weight. A rule set over the quota is
//! widened one step at a time, always the step that allows the fewest unobserved
//! (address, port) pairs per rule saved, and every step is reported.

use std::cmp::Ordering;

use flowfence_inventory::IpNet;

use crate::evidence::RuleEvidence;
use flowfence_inventory::port_name;

use crate::rules::{RuleSpec, RuleTarget, Shaped, covering, more_addresses, size};

/// How much a rule counts against the quota: (IPv4, IPv6).
pub(crate) fn weight(
    target: &RuleTarget,
    prefix_list_weight: &dyn Fn(&str) -> usize,
) -> [usize; 2] {
    match target {
        RuleTarget::Cidr(IpNet::V4(_)) => [1, 0],
        RuleTarget::Cidr(IpNet::V6(_)) => [0, 1],
        RuleTarget::Group(_) => [1, 1],
        RuleTarget::PrefixList(id) => {
            let w = prefix_list_weight(id);
            [w, w]
        }
    }
}

/// What rules count against a group's quota per direction, as AWS counts them:
/// (IPv4, IPv6). A group or prefix list reference counts in both, a prefix list by its
/// weight (`prefix_list_weight`, its maximum entries).
pub fn quota_usage<'a>(
    rules: impl IntoIterator<Item = &'a RuleSpec>,
    prefix_list_weight: &dyn Fn(&str) -> usize,
) -> [usize; 2] {
    rules.into_iter().fold([0, 0], |acc, r| {
        let w = weight(&r.target, prefix_list_weight);
        [acc[0] + w[0], acc[1] + w[1]]
    })
}

/// One widening step: the rules it replaces and the rule replacing them.
struct Step {
    /// Unobserved (address, port) pairs the step allows.
    added: f64,
    replaced: Vec<RuleSpec>,
    with: RuleSpec,
    note: String,
}

/// Ports a rule covers (all 65536 for -1 or ICMP's "all types").
fn ports(r: &RuleSpec) -> f64 {
    if r.from < 0 {
        65536.0
    } else {
        f64::from(r.to - r.from + 1)
    }
}

/// Addresses a rule's peer stands for (a group or a list: one peer).
fn peers(t: &RuleTarget) -> f64 {
    match t {
        RuleTarget::Cidr(c) => size(c),
        RuleTarget::Group(_) | RuleTarget::PrefixList(_) => 1.0,
    }
}

fn cidr_of(r: &RuleSpec) -> Option<&IpNet> {
    match &r.target {
        RuleTarget::Cidr(c) => Some(c),
        _ => None,
    }
}

/// Merging two CIDR rules of one protocol and port range into their covering block
/// (which absorbs every rule of that port range inside it).
fn cidr_steps(rules: &Shaped, out: &mut Vec<Step>) {
    // Rules are ordered by protocol, ports, then target (CIDRs by address): neighbours
    // in that order are the cheapest merges.
    let list: Vec<&RuleSpec> = rules.keys().collect();
    for i in 0..list.len().saturating_sub(1) {
        let (a, b) = (list[i], list[i + 1]);
        let (Some(ca), Some(cb)) = (cidr_of(a), cidr_of(b)) else {
            continue;
        };
        if (a.protocol, a.from, a.to) != (b.protocol, b.from, b.to)
            || ca.addr().is_ipv4() != cb.addr().is_ipv4()
        {
            continue;
        }
        let cover = covering(ca, cb);
        // The rules of this port range whose network lies in the cover sit next to the
        // pair in that order: widen the window around it instead of scanning every rule
        // (this runs for every pair of every step).
        let in_range = |r: &RuleSpec| {
            (r.protocol, r.from, r.to) == (a.protocol, a.from, a.to)
                && cidr_of(r).is_some_and(|c| {
                    c.addr().is_ipv4() == ca.addr().is_ipv4() && cover.contains(&c.network())
                })
        };
        let mut first = i;
        while first > 0 && in_range(list[first - 1]) {
            first -= 1;
        }
        let mut last = i + 1;
        while last + 1 < list.len() && in_range(list[last + 1]) {
            last += 1;
        }
        let replaced: Vec<RuleSpec> = list[first..=last]
            .iter()
            .filter(|r| cidr_of(r).is_some_and(|c| cover.contains(c)))
            .map(|r| (*r).clone())
            .collect();
        let observed: f64 = replaced.iter().filter_map(cidr_of).map(size).sum();
        out.push(Step {
            added: (size(&cover) - observed) * ports(a),
            note: format!(
                "{}: {} CIDRs ({} ... {}) -> {cover} ({})",
                rule_ports(a),
                replaced.len(),
                cidr_of(&replaced[0]).expect("a CIDR rule"),
                cidr_of(replaced.last().expect("two or more")).expect("a CIDR rule"),
                more_addresses(size(&cover) - observed)
            ),
            with: RuleSpec {
                target: RuleTarget::Cidr(cover),
                ..a.clone()
            },
            replaced,
        });
    }
}

/// Merging two port ranges of one protocol and peer into one range.
fn port_steps(rules: &Shaped, out: &mut Vec<Step>) {
    let mut list: Vec<&RuleSpec> = rules.keys().filter(|r| r.from >= 0).collect();
    list.sort_by(|a, b| (a.protocol, &a.target, a.from).cmp(&(b.protocol, &b.target, b.from)));
    for pair in list.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.protocol != b.protocol || a.target != b.target || matches!(a.protocol, 1 | 58) {
            continue;
        }
        let gap = f64::from((b.from - a.to - 1).max(0));
        out.push(Step {
            added: gap * peers(&a.target),
            note: format!(
                "{} and {} to {} -> ports {}-{} ({gap} more ports)",
                rule_ports(a),
                rule_ports(b),
                target_name(&a.target),
                a.from,
                b.to.max(a.to)
            ),
            with: RuleSpec {
                to: b.to.max(a.to),
                ..a.clone()
            },
            replaced: vec![a.clone(), b.clone()],
        });
    }
}

fn rule_ports(r: &RuleSpec) -> String {
    let protocol = u8::try_from(r.protocol).unwrap_or(0);
    if r.protocol == -1 {
        "all traffic".to_string()
    } else if r.from == r.to {
        port_name(protocol, u16::try_from(r.from).unwrap_or(0))
    } else {
        format!(
            "{}-{}",
            port_name(protocol, u16::try_from(r.from).unwrap_or(0)),
            r.to
        )
    }
}

fn target_name(t: &RuleTarget) -> String {
    match t {
        RuleTarget::Group(g) | RuleTarget::PrefixList(g) => g.clone(),
        RuleTarget::Cidr(c) => c.to_string(),
    }
}

/// Widens `rules` until each family's count is at most `max`. Returns a note per step,
/// and `Err` with the counts left when nothing more can be widened.
pub(crate) fn fit(
    rules: &mut Shaped,
    max: usize,
    prefix_list_weight: &dyn Fn(&str) -> usize,
) -> (Vec<String>, Result<(), [usize; 2]>) {
    let mut notes = Vec::new();
    loop {
        let counts = quota_usage(rules.keys(), prefix_list_weight);
        let over = [counts[0] > max, counts[1] > max];
        if !over[0] && !over[1] {
            return (notes, Ok(()));
        }
        let mut steps = Vec::new();
        cidr_steps(rules, &mut steps);
        port_steps(rules, &mut steps);
        // A step's cost: what it allows unobserved per rule it saves in a family that is
        // over, counting only the savings still needed (a merge that saves more than
        // needed is no bargain). Steps that save nothing where it counts are out.
        let cost = |s: &Step| {
            let before = s.replaced.iter().fold([0, 0], |acc, r| {
                let w = weight(&r.target, prefix_list_weight);
                [acc[0] + w[0], acc[1] + w[1]]
            });
            let after = weight(&s.with.target, prefix_list_weight);
            let saved = (0..2)
                .filter(|&f| over[f])
                .map(|f| before[f].saturating_sub(after[f]).min(counts[f] - max))
                .max()
                .unwrap_or(0);
            (saved > 0).then(|| s.added / saved as f64)
        };
        // The cheapest; on a tie the one replacing more rules, then the first rules in
        // order, so the result is the same on every run.
        let best = steps
            .into_iter()
            .filter_map(|s| cost(&s).map(|c| (c, s)))
            .min_by(|(cx, x), (cy, y)| {
                cx.partial_cmp(cy)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| y.replaced.len().cmp(&x.replaced.len()))
                    .then_with(|| x.replaced.cmp(&y.replaced))
            })
            .map(|(_, s)| s);
        let Some(step) = best else {
            return (notes, Err(counts));
        };
        let mut evidence = RuleEvidence::default();
        for r in &step.replaced {
            if let Some(e) = rules.remove(r) {
                evidence.add(&e);
            }
        }
        rules.entry(step.with).or_default().add(&evidence);
        notes.push(step.note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(protocol: i32, from: i32, to: i32, target: RuleTarget) -> RuleSpec {
        RuleSpec {
            protocol,
            from,
            to,
            target,
        }
    }

    fn ev() -> RuleEvidence {
        RuleEvidence {
            flows: 1,
            ..RuleEvidence::default()
        }
    }

    fn one(_: &str) -> usize {
        1
    }

    #[test]
    fn within_the_quota_nothing_widens() {
        let mut rules: Shaped = (1..=3)
            .map(|i| {
                let c = format!("198.51.100.{}/32", i * 2).parse().unwrap();
                (rule(6, 443, 443, RuleTarget::Cidr(c)), ev())
            })
            .collect();
        let before = rules.clone();
        let (notes, fitted) = fit(&mut rules, 3, &one);
        assert!(notes.is_empty() && fitted.is_ok());
        assert_eq!(rules, before);
    }

    #[test]
    fn scattered_addresses_merge_pairwise_cheapest_first() {
        // 8 addresses two apart, two rules too many: merging two neighbours into a /30
        // adds 2 addresses for one rule saved; four into a /29 adds 4 for the two rules
        // needed, and saves a third.
        let mut rules: Shaped = (0..8)
            .map(|i| {
                let c = format!("198.51.100.{}/32", 1 + i * 2).parse().unwrap();
                (rule(6, 443, 443, RuleTarget::Cidr(c)), ev())
            })
            .collect();
        let (notes, fitted) = fit(&mut rules, 6, &one);
        assert!(fitted.is_ok());
        assert_eq!(notes.len(), 1, "{notes:#?}");
        let targets: Vec<String> = rules.keys().map(|r| target_name(&r.target)).collect();
        assert_eq!(
            targets,
            [
                "198.51.100.0/29",
                "198.51.100.9/32",
                "198.51.100.11/32",
                "198.51.100.13/32",
                "198.51.100.15/32"
            ]
        );
        // RuleEvidence is kept: the flows of the merged rules add up.
        assert_eq!(rules.values().map(|e| e.flows).sum::<u64>(), 8);
        assert_eq!(
            notes[0],
            "tcp 443: 4 CIDRs (198.51.100.1/32 ... 198.51.100.7/32) -> 198.51.100.0/29 (4 more addresses)"
        );
        // The same input widens the same way.
        let mut again: Shaped = (0..8)
            .map(|i| {
                let c = format!("198.51.100.{}/32", 1 + i * 2).parse().unwrap();
                (rule(6, 443, 443, RuleTarget::Cidr(c)), ev())
            })
            .collect();
        assert!(fit(&mut again, 6, &one).1.is_ok());
        assert_eq!(again, rules);
    }

    #[test]
    fn ports_to_one_group_merge_over_the_smallest_gap() {
        let g = RuleTarget::Group("sg-1".into());
        let mut rules: Shaped = [(22, 22), (8080, 8080), (8082, 8082), (9100, 9100)]
            .into_iter()
            .map(|(f, t)| (rule(6, f, t, g.clone()), ev()))
            .collect();
        let (notes, fitted) = fit(&mut rules, 3, &one);
        assert!(fitted.is_ok());
        assert_eq!(
            notes,
            ["tcp 8080 and tcp 8082 to sg-1 -> ports 8080-8082 (1 more ports)"]
        );
        let ranges: Vec<(i32, i32)> = rules.keys().map(|r| (r.from, r.to)).collect();
        assert_eq!(ranges, [(22, 22), (8080, 8082), (9100, 9100)]);
    }

    #[test]
    fn families_count_separately_and_references_count_in_both() {
        let mut rules: Shaped = Shaped::new();
        rules.insert(rule(6, 443, 443, RuleTarget::Group("sg-1".into())), ev());
        rules.insert(
            rule(6, 443, 443, RuleTarget::PrefixList("pl-1".into())),
            ev(),
        );
        for c in ["2001:db8::1/128", "2001:db8::3/128"] {
            rules.insert(
                rule(6, 443, 443, RuleTarget::Cidr(c.parse().unwrap())),
                ev(),
            );
        }
        let weights = |id: &str| if id == "pl-1" { 10 } else { 1 };
        assert_eq!(quota_usage(rules.keys(), &weights), [11, 13]);
        // IPv6 over 12: the two IPv6 addresses merge; IPv4 is left alone.
        let (notes, fitted) = fit(&mut rules, 12, &weights);
        assert!(fitted.is_ok(), "{notes:?}");
        assert_eq!(quota_usage(rules.keys(), &weights), [11, 12]);
    }

    #[test]
    fn what_cannot_be_widened_is_reported() {
        let mut rules: Shaped = (0..4)
            .map(|i| {
                (
                    rule(6, 443, 443, RuleTarget::Group(format!("sg-{i}"))),
                    ev(),
                )
            })
            .collect();
        let (notes, fitted) = fit(&mut rules, 2, &one);
        assert!(notes.is_empty());
        assert_eq!(fitted, Err([4, 4]));
    }
}
