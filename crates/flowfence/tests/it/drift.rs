//! Tomorrow's traffic, from the command line: a plan learned from a drifting environment's
//! training window, its holdout in the summary, and `verify` on the continuation telling
//! each break's cause.

use flowfence_synth::{Environment, Form, Span, Variant, unix_day, write_inventory, write_logs};

use crate::common::{flowfence, ok};

#[test]
fn the_holdout_in_the_summary_and_causes_from_verify_on_later_logs() {
    let dir = tempfile::tempdir().unwrap();
    let env = Environment::new(5, 3).with_variant(Variant::Drift);
    let span = Span {
        start: unix_day(2026, 11, 2),
        files: 120,
        scale: 0.3,
        continuation_from: Some(0.8),
    };
    write_logs(&env, 5, Form::S3TextV5, span, dir.path()).unwrap();
    write_inventory(&env, &dir.path().join("inventory")).unwrap();
    let path = |p: &str| dir.path().join(p).to_str().unwrap().to_string();
    let (training, continuation, inventory, plan) = (
        path("training"),
        path("continuation"),
        path("inventory"),
        path("plan.json"),
    );

    let (_, stderr) = ok(&[
        "propose",
        "--logs",
        &training,
        "--inventory",
        &inventory,
        "-o",
        &plan,
    ]);
    // From the plan's summary on: the read summary before it has timings.
    let summary = &stderr[stderr.find("  plan:").expect("a plan summary")..];
    insta::assert_snapshot!("drift-propose-summary", summary);

    let out = flowfence(
        &[
            "verify",
            "--plan",
            &plan,
            "--logs",
            &continuation,
            "--inventory",
            &inventory,
            "-q",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "new flows break");
    insta::assert_snapshot!("drift-verify", String::from_utf8_lossy(&out.stdout));

    // --holdout 0: no forecast; a holdout the window can't hold is refused by name.
    let (json, _) = ok(&[
        "propose",
        "-q",
        "--holdout",
        "0",
        "--logs",
        &training,
        "--inventory",
        &inventory,
    ]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(json.get("forecast").is_none());
    assert!(json["window"]["end"].as_u64() > json["window"]["start"].as_u64());
    let (json, _) = ok(&[
        "propose",
        "-q",
        "--holdout",
        "90m",
        "--logs",
        &training,
        "--inventory",
        &inventory,
    ]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let f = &json["forecast"];
    assert_eq!(
        f["held_out"]["end"].as_u64().unwrap() - f["held_out"]["start"].as_u64().unwrap(),
        5400
    );
    let out = flowfence(
        &[
            "propose",
            "--holdout",
            "1.5",
            "--logs",
            &training,
            "--inventory",
            &inventory,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1.5: expected 0, a fraction (0.2 or 20%) or a duration (90m, 6h, 2d, 1w)"),
        "{stderr}"
    );
}
