//! End to end on the bundled sample (its truth known): the plan's groups are the true
//! roles, its rules the true edges, the replay check finds nothing broken and the
//! default group ends empty.

mod common;

use std::path::PathBuf;

use flowfence_propose::{CheckReport, Options, Plan, PlanSummary, propose};

fn sample() -> PathBuf {
    flowfence_testdata::sample_logs()
}

fn check(logs: &str) -> Plan {
    let inventory = common::inventory(&sample().join("inventory"));
    let table = common::table(&sample().join("logs").join(logs), &inventory);
    let plan = propose(&table, &inventory, &Options::default()).unwrap();
    let truth = common::truth(&sample().join("truth.json"));
    common::check_roles(&plan, &truth);
    common::check_breaks_nothing(&plan, &inventory, &table);
    common::check_rules_against_truth(&plan, &inventory, &truth);
    plan
}

#[test]
fn v5_plan_reproduces_roles_and_breaks_nothing() {
    let plan = check("s3-text-v5");
    insta::assert_json_snapshot!("sample-v5-plan", plan);
    // What `propose` and `run` print about it.
    let summary = format!(
        "{}{}",
        PlanSummary(&plan),
        CheckReport {
            check: &plan.check,
            broken: None,
            indent: "  "
        }
    );
    insta::assert_snapshot!("sample-v5-summary", summary);
}

#[test]
fn v2_plan_reproduces_roles_and_breaks_nothing() {
    check("s3-text-v2");
}
