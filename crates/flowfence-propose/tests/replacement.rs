//! A plan that survives what launches next. The web tier's auto scaling group replaces
//! an instance halfway through the generated span: the replacement is a new interface
//! with a new address, launched into the groups its launch template names (the default
//! group). A plan learned before the replacement names the template in its launchers;
//! with that change made, the replacement's traffic after it breaks nothing, and
//! without it, every connection of the replacement breaks.

mod common;

use flowfence_aggregate::Peer;
use flowfence_propose::{LaunchSettings, Options, propose, replay};
use flowfence_synth::{Environment, Form, Span, unix_day, write_inventory, write_logs};

/// Where the replacement happens, and the training window ends.
const REPLACED_AT: f64 = 0.5;

#[test]
fn a_plan_learned_before_a_replacement_holds_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let seed = 11;
    let env = Environment::new(seed, 3).with_replacement(REPLACED_AT);
    let span = Span {
        start: unix_day(2026, 11, 2),
        files: 48,
        scale: 0.3,
        continuation_from: Some(REPLACED_AT),
    };
    write_logs(&env, seed, Form::S3TextV5, span, dir.path()).unwrap();
    write_inventory(&env.at(0.0), &dir.path().join("before")).unwrap();
    write_inventory(&env.at(1.0), &dir.path().join("after")).unwrap();
    let web = env.with_role("web");
    let (replaced, replacement) = (&web[0].id, &web.last().unwrap().id);
    assert!(web[0].lifetime.1 == REPLACED_AT && web.last().unwrap().lifetime.0 == REPLACED_AT);

    let before = common::inventory(&dir.path().join("before"));
    let after = common::inventory(&dir.path().join("after"));
    assert!(before.interface(replacement).is_none() && after.interface(replaced).is_none());
    let training = common::table(&dir.path().join("training"), &before);
    let continuation = common::table(&dir.path().join("continuation"), &after);
    let plan = propose(&training, &before, &Options::default()).unwrap();

    // The plan names web-asg's template, and what it launches next gets web-asg's group.
    let web_asg = plan
        .launchers
        .iter()
        .find(|l| l.name == "web-asg")
        .expect("web-asg is a launcher of the plan");
    assert!(matches!(
        web_asg.settings,
        LaunchSettings::LaunchTemplate { .. }
    ));
    assert_eq!(web_asg.groups_after, ["new:web-asg"]);
    assert!(
        !plan
            .interfaces
            .iter()
            .any(|i| &i.interface_id == replacement)
    );

    let touches = |p: &Peer| matches!(p, Peer::Interface(id) if id == replacement);
    // Its connections: one row each on its own side.
    let of_replacement: std::collections::BTreeSet<_> = continuation
        .rows
        .iter()
        .filter(|r| r.interface_id == *replacement)
        .map(|r| (r.side, r.protocol, r.port, r.peer.clone()))
        .collect();
    assert!(!of_replacement.is_empty(), "the replacement has no traffic");

    let (_, held) = replay(&after, &continuation, &plan.final_state(&after));
    assert!(held.broken.is_empty(), "{:?}", held.broken);

    // Without the launcher's change, the replacement comes up in the emptied default
    // group, and each of its connections breaks (and nothing else does).
    let mut unchanged = plan.clone();
    unchanged.launchers.clear();
    let (_, broke) = replay(&after, &continuation, &unchanged.final_state(&after));
    assert_eq!(
        broke.broken.len(),
        of_replacement.len(),
        "{:?}",
        broke.broken
    );
    assert!(
        broke
            .broken
            .iter()
            .all(|b| touches(&b.client) || touches(&b.server)),
        "{:?}",
        broke.broken
    );
    eprintln!(
        "replacement: {} connections after it, {} of them the replacement's; broken with the plan's launchers 0, without {}",
        held.connections,
        of_replacement.len(),
        broke.broken.len()
    );
}
