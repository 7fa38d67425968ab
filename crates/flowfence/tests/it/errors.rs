//! What a person reads when input is wrong: one line naming the file, the place and the
//! value, each cause once, no debug dumps, and the right exit code. Snapshots, with the
//! temporary folder's path replaced by `[TMP]`.

use std::path::Path;

use crate::common::{flowfence, ok, sample};

/// `flowfence ARGS` must fail with `code`; its stderr, `[TMP]` for `dir`.
fn failing(args: &[&str], code: i32, dir: &Path) -> String {
    let out = flowfence(args, None);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert!(!stderr.contains(" { "), "a debug dump: {stderr}");
    stderr.replace(dir.to_str().unwrap(), "[TMP]")
}

#[test]
fn bad_inputs_say_what_and_where_once() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let logs = sample("logs/s3-text-v2");
    let mut messages = Vec::new();

    // An inventory file missing a field, and one that is no inventory at all.
    std::fs::write(
        at("inv.json"),
        r#"{"NetworkInterfaces": [{"VpcId": "vpc-1"}]}"#,
    )
    .unwrap();
    messages.push(failing(
        &[
            "aggregate",
            "--logs",
            &logs,
            "--inventory",
            &at("inv.json"),
            "-o",
            &at("c.csv"),
        ],
        65,
        dir.path(),
    ));
    std::fs::write(at("instances.json"), r#"{"Reservations": []}"#).unwrap();
    messages.push(failing(
        &[
            "propose",
            "--logs",
            &logs,
            "--inventory",
            &at("instances.json"),
        ],
        65,
        dir.path(),
    ));

    // Flags are checked before any log is read.
    messages.push(failing(
        &["aggregate", "--since", "garbage", "--logs", &logs],
        2,
        dir.path(),
    ));
    messages.push(failing(
        &[
            "propose",
            "--holdout",
            "2",
            "--logs",
            &logs,
            "--inventory",
            &sample("inventory"),
        ],
        2,
        dir.path(),
    ));

    // A plan edited wrongly: export and verify both stop, naming group, list, rule and value.
    let (plan, _) = ok(&[
        "propose",
        "-q",
        "--holdout",
        "0",
        "--logs",
        &logs,
        "--inventory",
        &sample("inventory"),
    ]);
    let mut plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    app_egress(&mut plan)["IpProtocol"] = "bogus".into();
    std::fs::write(at("plan.json"), plan.to_string()).unwrap();
    messages.push(failing(
        &[
            "export",
            "--plan",
            &at("plan.json"),
            "--format",
            "terraform",
        ],
        65,
        dir.path(),
    ));
    messages.push(failing(
        &[
            "verify",
            "--plan",
            &at("plan.json"),
            "--logs",
            &logs,
            "--inventory",
            &sample("inventory"),
        ],
        65,
        dir.path(),
    ));
    app_cidr(&mut plan, "10.0.0.0/33");
    std::fs::write(at("plan.json"), plan.to_string()).unwrap();
    messages.push(failing(
        &["export", "--plan", &at("plan.json"), "--format", "cli"],
        65,
        dir.path(),
    ));
    insta::assert_snapshot!("bad-inputs", messages.join(""));
}

/// The app tier's first egress rule in a plan's JSON.
fn app_egress(plan: &mut serde_json::Value) -> &mut serde_json::Value {
    let app = plan["groups"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|g| g["name"] == "app-asg")
        .unwrap();
    &mut app["egress"][0]
}

/// Makes the app tier's first egress rule a bad CIDR (its protocol back to tcp).
fn app_cidr(plan: &mut serde_json::Value, cidr: &str) {
    let rule = app_egress(plan);
    rule["IpProtocol"] = "tcp".into();
    rule["IpRanges"] = serde_json::json!([{"CidrIp": cidr}]);
}
