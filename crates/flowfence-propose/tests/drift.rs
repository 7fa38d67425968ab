//! Plans judged on traffic they never saw. The drift environment's logs continue past the
//! window a plan learns from: internet clients and destinations change, pods move to new
//! addresses, the monitor probes closed ports, the app tier tries SSH its bastion's group
//! rejects, a tunnel runs one way, and new internal flows start late (one inside the
//! training window's tail, two only in the continuation). A plan learned from the
//! training window must break nothing on the continuation but the flows that are new
//! there, and its forecast must name the one that started in the training window's tail.

mod common;

use std::collections::BTreeSet;

use flowfence_aggregate::{Peer, Table};
use flowfence_inventory::Inventory;
use flowfence_propose::{Cause, Holdout, Options, Plan, RuleTarget, State, cause, propose, replay};
use flowfence_synth::{
    DRIFT_EARLY_ONSET, DRIFT_LATE_ONSET, Environment, Form, Span, TrueEdge, Truth, Variant,
    unix_day, write_inventory, write_logs, write_truth,
};

/// Where the training window ends, as a fraction of the generated span.
const CONTINUATION: f64 = 0.8;

struct Drift {
    inventory: Inventory,
    training: Table,
    continuation: Table,
    truth: Truth,
    _dir: tempfile::TempDir,
}

/// Ten hours of the drift environment, v5 text: the first eight for training.
fn drift() -> Drift {
    let dir = tempfile::tempdir().unwrap();
    let seed = 5;
    let env = Environment::new(seed, 3).with_variant(Variant::Drift);
    let span = Span {
        start: unix_day(2026, 11, 2),
        files: 120,
        scale: 0.3,
        continuation_from: Some(CONTINUATION),
    };
    write_logs(&env, seed, Form::S3TextV5, span, dir.path()).unwrap();
    write_inventory(&env, &dir.path().join("inventory")).unwrap();
    write_truth(&env, seed, &dir.path().join("truth.json")).unwrap();
    let inventory = common::inventory(&dir.path().join("inventory"));
    Drift {
        training: common::table(&dir.path().join("training"), &inventory),
        continuation: common::table(&dir.path().join("continuation"), &inventory),
        truth: common::truth(&dir.path().join("truth.json")),
        inventory,
        _dir: dir,
    }
}

/// A connection's ends as the truth names them.
fn roles(truth: &Truth, client: &Peer, server: &Peer) -> (String, String) {
    let role = |p: &Peer| match p {
        Peer::Interface(id) => common::role_of(truth, id).unwrap_or_else(|| id.clone()),
        other => other.to_string(),
    };
    (role(client), role(server))
}

/// The true flows that start in the continuation: new to any plan of the training window.
fn new_in_continuation(d: &Drift) -> BTreeSet<TrueEdge> {
    d.truth
        .edges()
        .difference(&d.truth.edges_before(CONTINUATION))
        .cloned()
        .collect()
}

/// What `state` would break of `table`, as true edges with their causes under `plan`.
fn broken_edges(
    plan: &Plan,
    state: &State,
    d: &Drift,
    table: &Table,
) -> BTreeSet<(TrueEdge, Cause)> {
    let (_, after) = replay(&d.inventory, table, state);
    after
        .broken
        .iter()
        .map(|b| {
            let (c, s) = roles(&d.truth, &b.client, &b.server);
            (
                (c, s, b.protocol, b.port),
                cause(b, plan, state, &d.inventory),
            )
        })
        .collect()
}

#[test]
fn a_plan_learned_on_the_training_window_holds_on_the_continuation() {
    let d = drift();
    let plan = propose(&d.training, &d.inventory, &Options::default()).unwrap();
    common::check_roles(&plan, &d.truth);
    common::check_breaks_nothing(&plan, &d.inventory, &d.training);
    // The rules between groups are the true needs the training window saw: no rule for
    // the refused probes, the rejected SSH or the tunnel's way back.
    common::check_rules_against_edges(
        &plan,
        &d.inventory,
        &d.truth,
        d.truth.edges_before(CONTINUATION),
    );

    // On the continuation, only the flows that started there break, each told by cause.
    let state = plan.final_state(&d.inventory);
    let broken = broken_edges(&plan, &state, &d, &d.continuation);
    let new_there = new_in_continuation(&d);
    assert_eq!(DRIFT_LATE_ONSET > CONTINUATION, !new_there.is_empty());
    let got: BTreeSet<TrueEdge> = broken.iter().map(|(e, _)| e.clone()).collect();
    assert_eq!(got, new_there, "broken on the continuation: {broken:?}");
    let causes: BTreeSet<(&str, &str, u16, Cause)> = broken
        .iter()
        .map(|((c, s, _, port), cause)| (c.as_str(), s.as_str(), *port, *cause))
        .collect();
    assert_eq!(
        causes,
        BTreeSet::from([
            ("app", "cache", 6380, Cause::NewPort),
            ("monitoring", "cache", 6379, Cause::NewPair),
        ])
    );

    // The pods' new addresses resolve through the delegated prefixes to their node:
    // rules name groups, never pod addresses.
    for g in plan.groups.iter().filter(|g| g.new) {
        for r in g.ingress.iter().chain(&g.egress) {
            if let RuleTarget::Cidr(c) = &r.spec.target {
                assert!(
                    !c.addr().to_string().starts_with("10.0."),
                    "{}: a rule names a VPC address: {c}",
                    g.name
                );
            }
        }
    }
}

#[test]
fn the_forecast_names_what_started_in_the_windows_tail() {
    let d = drift();
    let plan = propose(&d.training, &d.inventory, &Options::default()).unwrap();
    let forecast = plan.forecast.as_ref().expect("a forecast");
    let training_span = (forecast.window.end - forecast.window.start) as f64;
    let cut = forecast.held_out.start;
    assert!(
        ((forecast.window.end - cut) as f64 / training_span - 0.2).abs() < 0.01,
        "the last 20% held out"
    );

    // The web tier started calling the database in the tail: a new pair of roles, and
    // the only thing that would have broken.
    let names: BTreeSet<(&str, u16, Cause)> = forecast
        .broken
        .iter()
        .map(|b| (b.between.as_str(), b.port, b.cause))
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([("web-asg -> rds", 5432, Cause::NewPair)])
    );
    assert_eq!(
        forecast.by_cause.get(&Cause::NewPair),
        Some(&forecast.broken.len())
    );
    const { assert!(DRIFT_EARLY_ONSET < CONTINUATION) };

    // The held-out figures are a replay anyone can do: learn from the connections first
    // seen before the cut, replay those seen after it.
    let learned = d.training.filtered(|r| r.first_seen < cut);
    let tail = d.training.filtered(|r| r.last_seen >= cut);
    let mut options = Options::default();
    options.holdout = Holdout::Off;
    let early = propose(&learned, &d.inventory, &options).unwrap();
    assert!(early.forecast.is_none());
    let (_, after) = replay(&d.inventory, &tail, &early.final_state(&d.inventory));
    assert_eq!(after.connections, forecast.held_out_connections);
    assert_eq!(after.broken.len(), forecast.broken.len());
    let truth_new: BTreeSet<TrueEdge> =
        broken_edges(&early, &early.final_state(&d.inventory), &d, &tail)
            .into_iter()
            .map(|(e, _)| e)
            .collect();
    assert_eq!(
        truth_new,
        BTreeSet::from([("web".to_string(), "db".to_string(), 6, 5432)])
    );

    // The curve: the needs of the start, then the one that came late; not flat yet.
    let curve = &forecast.discovery;
    assert_eq!(curve.bucket_seconds, 3600);
    assert_eq!(curve.new_needs.len(), 8);
    assert_eq!(curve.new_needs.iter().sum::<u64>() as usize, curve.needs);
    assert_eq!(curve.new_needs[7], 1, "{:?}", curve.new_needs);
    assert!(
        curve.new_needs[1..7].iter().all(|&n| n == 0),
        "{:?}",
        curve.new_needs
    );
    assert!(!forecast.sufficiency.flattened);
    assert!(forecast.sufficiency.observe_more_seconds >= 3600);
}

#[test]
fn attempts_and_one_way_flows_are_not_needs_both_ways() {
    let d = drift();
    let plan = propose(&d.training, &d.inventory, &Options::default()).unwrap();
    let ports = |role: &str| -> BTreeSet<(bool, i32, i32)> {
        plan.groups
            .iter()
            .filter(|g| g.new && common::role_of(&d.truth, &g.members[0]).as_deref() == Some(role))
            .flat_map(|g| {
                let ingress = g
                    .ingress
                    .iter()
                    .map(|r| (true, r.spec.protocol, r.spec.from));
                let egress = g
                    .egress
                    .iter()
                    .map(|r| (false, r.spec.protocol, r.spec.from));
                ingress.chain(egress).collect::<Vec<_>>()
            })
            .collect()
    };
    // The refused probes (9200, 9300) and the SSH the bastion rejects are no rules.
    for role in ["web", "app", "monitoring"] {
        for (_, protocol, port) in ports(role) {
            assert!(
                !(protocol == 6 && [9200, 9300, 22].contains(&port) && role != "web"),
                "{role}: a rule for an attempt on {port}"
            );
        }
    }
    assert!(!ports("web").contains(&(true, 6, 9200)));
    // The tunnel (protocol 47) goes out of web and into monitoring, never back.
    assert!(ports("web").contains(&(false, 47, 0)) || ports("web").contains(&(false, 47, -1)));
    assert!(
        !ports("web")
            .iter()
            .any(|&(ingress, p, _)| ingress && p == 47)
    );
    assert!(
        !ports("monitoring")
            .iter()
            .any(|&(ingress, p, _)| !ingress && p == 47)
    );
    // The attempts are listed: refused probes and the rejected SSH.
    let kinds: BTreeSet<_> = plan.findings.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&flowfence_propose::FindingKind::NeverOpened));
    assert!(kinds.contains(&flowfence_propose::FindingKind::BlockedToday));
}

/// With every custom group tightened, the public load balancer's next clients (almost all
/// new: a large population) still get in, and the bastion's office still reaches it:
/// the continuation breaks only the flows new there.
#[test]
fn tightening_every_group_still_holds_on_the_continuation() {
    let d = drift();
    let mut options = Options::default();
    options.tighten_custom = true;
    let plan = propose(&d.training, &d.inventory, &options).unwrap();
    common::check_breaks_nothing(&plan, &d.inventory, &d.training);
    let state = plan.final_state(&d.inventory);
    let broken: BTreeSet<TrueEdge> = broken_edges(&plan, &state, &d, &d.continuation)
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    let new_there = new_in_continuation(&d);
    assert_eq!(broken, new_there);
    // Most of the continuation's load balancer clients were never seen in training.
    let clients = |t: &Table| -> BTreeSet<String> {
        t.rows
            .iter()
            .filter(|r| r.port == 443 && matches!(r.peer, Peer::Internet(_)))
            .filter(|r| common::role_of(&d.truth, &r.interface_id).as_deref() == Some("alb"))
            .map(|r| r.peer.to_string())
            .collect()
    };
    let (before, after) = (clients(&d.training), clients(&d.continuation));
    let unseen = after.difference(&before).count();
    assert!(
        unseen * 10 > after.len() * 9,
        "{unseen} of {} unseen",
        after.len()
    );
}
