//! End to end on generated environments that carry what real migrations meet: a tier
//! whose members saw different rare flows, and a group whose observed peers exceed the
//! rules quota. The generator writes the truth; v2 and v5 logs.

mod common;

use std::net::IpAddr;

use flowfence_aggregate::{Peer, Table};
use flowfence_inventory::{Inventory, IpNet};
use flowfence_propose::{
    InternetEgress, Options, Plan, PlanGroup, RuleTarget, WideningKind, propose, quota_usage,
};
use flowfence_synth::{
    Environment, Form, PARTNER_HOSTS, Span, Truth, Variant, partner_address, unix_day,
    write_inventory, write_logs, write_truth,
};

struct Generated {
    inventory: Inventory,
    table: Table,
    truth: Truth,
    _dir: tempfile::TempDir,
}

/// An hour of `variant`'s traffic written as `form`, read back.
fn generate(variant: Variant, form: Form) -> Generated {
    let dir = tempfile::tempdir().unwrap();
    let seed = 11;
    let env = Environment::new(seed, 3).with_variant(variant);
    let span = Span {
        start: unix_day(2026, 11, 2) + 9 * 3600,
        files: 12,
        scale: 0.5,
        continuation_from: None,
    };
    write_logs(&env, seed, form, span, &dir.path().join("logs")).unwrap();
    write_inventory(&env, &dir.path().join("inventory")).unwrap();
    write_truth(&env, seed, &dir.path().join("truth.json")).unwrap();
    let inventory = common::inventory(&dir.path().join("inventory"));
    let table = common::table(&dir.path().join("logs"), &inventory);
    let truth = common::truth(&dir.path().join("truth.json"));
    Generated {
        inventory,
        table,
        truth,
        _dir: dir,
    }
}

fn group<'a>(plan: &'a Plan, role: &str, truth: &Truth) -> &'a PlanGroup {
    plan.groups
        .iter()
        .filter(|g| g.new)
        .find(|g| common::role_of(truth, &g.members[0]).as_deref() == Some(role))
        .unwrap_or_else(|| panic!("no new group for {role}"))
}

/// The specs of a group's rules in one direction.
fn specs(rules: &[flowfence_propose::PlanRule]) -> Vec<flowfence_propose::RuleSpec> {
    rules.iter().map(|r| r.spec.clone()).collect()
}

fn rare_flows_keep_tiers_together(form: Form) {
    let g = generate(Variant::RareFlows, form);
    let plan = propose(&g.table, &g.inventory, &Options::default()).unwrap();
    common::check_roles(&plan, &g.truth);
    common::check_breaks_nothing(&plan, &g.inventory, &g.table);
    common::check_rules_against_truth(&plan, &g.inventory, &g.truth);

    // Each tier is one group with all its members, though one member alone made the
    // rare calls, and the plan says so.
    let web = group(&plan, "web", &g.truth);
    let app = group(&plan, "app", &g.truth);
    assert_eq!(web.members.len(), 3);
    assert_eq!(app.members.len(), 3);
    for tier in [web, app] {
        let union = plan
            .widened
            .iter()
            .find(|w| w.subject == tier.name && w.kind == WideningKind::TierUnion)
            .unwrap_or_else(|| panic!("{}: the union is not reported", tier.name));
        assert!(
            !union.detail.contains("though 0 needs"),
            "{}: {}",
            tier.name,
            union.detail
        );
    }
    // The rare call is allowed for the whole tier, on both ends.
    let app_ref = RuleTarget::Group(app.reference.clone());
    assert!(
        specs(&web.egress)
            .iter()
            .any(|r| r.from == 7000 && r.target == app_ref)
    );
}

#[test]
fn v5_rare_flows_keep_tiers_together() {
    rare_flows_keep_tiers_together(Form::S3TextV5);
}

#[test]
fn v2_rare_flows_keep_tiers_together() {
    rare_flows_keep_tiers_together(Form::S3TextV2);
}

fn partner_cidrs(app: &PlanGroup) -> Vec<IpNet> {
    specs(&app.egress)
        .into_iter()
        .filter(|r| (r.from, r.to) == (9443, 9443))
        .filter_map(|r| match r.target {
            RuleTarget::Cidr(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn quota_overflow_widens_and_reports(form: Form) {
    let g = generate(Variant::PartnerApi, form);
    let seen: Vec<IpAddr> = (0..PARTNER_HOSTS)
        .map(|n| IpAddr::V4(partner_address(n)))
        .filter(|a| {
            g.table
                .rows
                .iter()
                .any(|r| r.peer == Peer::Internet(IpNet::from(*a)))
        })
        .collect();
    assert!(seen.len() > 60, "only {} partner hosts seen", seen.len());

    // By default, egress to the internet is open on the port: one rule, whatever the
    // number of hosts, and it says so.
    let plan = propose(&g.table, &g.inventory, &Options::default()).unwrap();
    let app = group(&plan, "app", &g.truth);
    assert_eq!(partner_cidrs(app), ["0.0.0.0/0".parse::<IpNet>().unwrap()]);
    assert!(plan.widened.iter().any(|w| w.subject == app.name
        && w.kind == WideningKind::InternetEgress
        && w.detail.starts_with("tcp 9443: ")));
    common::check_breaks_nothing(&plan, &g.inventory, &g.table);

    // The rest is about users who keep the addresses (--internet-egress exact).
    let mut exact = Options::default();
    exact.shaping.internet_egress = InternetEgress::Exact;

    // Without a quota: one rule per partner host (none are adjacent).
    let mut unbounded = exact.clone();
    unbounded.max_rules = 1000;
    let plan = propose(&g.table, &g.inventory, &unbounded).unwrap();
    let app = group(&plan, "app", &g.truth);
    assert_eq!(partner_cidrs(app).len(), seen.len());
    assert!(plan.widened.iter().all(|w| w.kind != WideningKind::Quota));

    // With AWS's quota: widened to fit, each step reported, nothing broken.
    let plan = propose(&g.table, &g.inventory, &exact).unwrap();
    common::check_roles(&plan, &g.truth);
    common::check_breaks_nothing(&plan, &g.inventory, &g.table);
    common::check_rules_against_truth(&plan, &g.inventory, &g.truth);
    let app = group(&plan, "app", &g.truth);
    let weight = |id: &str| g.inventory.prefix_list(id).map_or(1, |pl| pl.weight());
    let [v4, _] = quota_usage(&specs(&app.egress), &weight);
    assert!(v4 <= 60, "{v4} IPv4 egress rules");
    let steps: Vec<_> = plan
        .widened
        .iter()
        .filter(|w| w.subject == app.name && w.kind == WideningKind::Quota)
        .collect();
    assert!(!steps.is_empty());
    assert!(
        steps
            .iter()
            .all(|w| w.direction == Some(flowfence_propose::Direction::Egress))
    );
    // Every partner host is still covered, and the widening stayed inside the
    // partner's two /24s.
    let cidrs = partner_cidrs(app);
    assert!(cidrs.len() < seen.len());
    for a in &seen {
        assert!(cidrs.iter().any(|c| c.contains(a)), "{a} not covered");
    }
    for c in &cidrs {
        assert!(
            ["198.51.100.0/24", "192.0.2.0/24"]
                .iter()
                .any(|n| n.parse::<IpNet>().unwrap().contains(c)),
            "{c} widened beyond the partner's networks"
        );
    }
    assert!(
        plan.widened
            .iter()
            .all(|w| w.kind != WideningKind::OverQuota)
    );
}

#[test]
fn v5_quota_overflow_widens_and_reports() {
    quota_overflow_widens_and_reports(Form::S3TextV5);
}

#[test]
fn v2_quota_overflow_widens_and_reports() {
    quota_overflow_widens_and_reports(Form::S3TextV2);
}

/// `--tighten custom`: the load balancer's, the bastion's and the monitor's groups get
/// least privilege in place. The internet-facing load balancer keeps the world on the
/// port it serves; the bastion keeps the office's /24 its owner wrote, not the
/// addresses that happened to connect; egress goes as strictly as ingress.
#[test]
fn every_custom_group_is_tightened_and_keeps_what_its_owner_named() {
    let g = generate(Variant::Base, Form::S3TextV5);
    let mut options = Options::default();
    options.tighten_custom = true;
    let plan = propose(&g.table, &g.inventory, &options).unwrap();
    common::check_breaks_nothing(&plan, &g.inventory, &g.table);
    let tightened = |name: &str| {
        plan.groups
            .iter()
            .find(|x| x.name == name && x.change == flowfence_propose::GroupChange::Tighten)
            .unwrap_or_else(|| panic!("{name} not tightened"))
    };
    let cidr = |s: &str| RuleTarget::Cidr(s.parse().unwrap());
    let alb = tightened("web-alb");
    assert_eq!(
        specs(&alb.ingress)
            .iter()
            .map(|r| (r.protocol, r.from, r.target.clone()))
            .collect::<Vec<_>>(),
        [(6, 443, cidr("0.0.0.0/0"))]
    );
    let web = group(&plan, "web", &g.truth);
    assert!(
        specs(&alb.egress)
            .iter()
            .all(|r| r.from == 8080 && r.target == RuleTarget::Group(web.reference.clone()))
    );
    let bastion = tightened("bastion-ssh");
    assert_eq!(
        specs(&bastion.ingress)
            .iter()
            .map(|r| (r.protocol, r.from, r.target.clone()))
            .collect::<Vec<_>>(),
        [(6, 22, cidr("203.0.113.0/24"))]
    );
    // Nobody's egress is "all traffic to anywhere" any more.
    for x in [alb, bastion, tightened("monitoring")] {
        assert!(
            specs(&x.egress).iter().all(|r| r.protocol != -1),
            "{}: {:?}",
            x.name,
            specs(&x.egress)
        );
    }
}
