//! `flowfence propose` and `flowfence verify` end to end on the bundled sample.

use crate::common::{flowfence, ok, propose_sample, proposed, sample, without_timing};

#[test]
fn propose_writes_a_plan_that_verify_accepts_and_a_tampered_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.json");
    let plan_file = plan_path.to_str().unwrap();
    let (_, stderr) = ok(&[
        "propose",
        "--logs",
        &sample("logs"),
        "--inventory",
        &sample("inventory"),
        "-o",
        plan_file,
    ]);
    assert!(stderr.contains("broken under the plan: 0"), "{stderr}");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    for key in ["groups", "interfaces", "steps", "dropped"] {
        assert!(plan.get(key).is_some(), "plan lacks {key}");
    }
    let default = plan["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "default")
        .unwrap();
    assert_eq!(default["ingress"], serde_json::json!([]));
    assert_eq!(default["members"], serde_json::json!([]));
    // The same input gives the same plan, byte for byte.
    let again = proposed(&["--threads", "1"]);
    assert_eq!(again, std::fs::read_to_string(&plan_path).unwrap());

    let (out, _) = ok(&[
        "verify",
        "-q",
        "--plan",
        plan_file,
        "--logs",
        &sample("logs"),
        "--inventory",
        &sample("inventory"),
    ]);
    assert!(out.contains("broken under the plan: 0"), "{out}");

    // Drop the database's ingress rule: verify names what breaks and exits 1.
    let mut tampered = plan.clone();
    for g in tampered["groups"].as_array_mut().unwrap() {
        if g["name"] == "rds" {
            g["ingress"] = serde_json::json!([]);
        }
    }
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, tampered.to_string()).unwrap();
    let out = flowfence(
        &[
            "verify",
            "-q",
            "--plan",
            bad.to_str().unwrap(),
            "--logs",
            &sample("logs"),
            "--inventory",
            &sample("inventory"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .contains("port 5432 (app-asg -> rds): no ingress rule allows it (new pair of roles)"),
        "{stdout}"
    );
}

#[test]
fn min_flows_drops_rare_connections_and_lists_them() {
    let (plan, _) = ok(&[
        "propose",
        "-q",
        "--min-flows",
        "1000",
        "--logs",
        &sample("logs/s3-text-v5"),
        "--inventory",
        &sample("inventory"),
    ]);
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let dropped = plan["dropped"].as_array().unwrap();
    assert!(!dropped.is_empty());
    assert!(
        dropped
            .iter()
            .all(|d| d["reason"].as_str().unwrap().contains("--min-flows"))
    );
}

/// Egress to the internet is open on its port by default and says why; with
/// `--internet-egress exact` the addresses are kept (the sample's 39 spread destinations
/// still open to the world by the many-spread-peers rule, which says so instead).
#[test]
fn internet_egress_is_world_by_default_and_exact_on_request() {
    let kinds = |extra: &[&str]| -> Vec<String> {
        let logs = sample("logs/s3-text-v5");
        let inventory = sample("inventory");
        let mut args = vec!["propose", "-q", "--logs", &logs, "--inventory", &inventory];
        args.extend_from_slice(extra);
        let (plan, _) = ok(&args);
        let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
        plan["widened"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["direction"] == "egress")
            .map(|w| w["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kinds(&[]), ["internet-egress"]);
    assert_eq!(kinds(&["--internet-egress", "exact"]), ["world-open"]);
}

/// A connections table from `aggregate` gives the same plan as the logs it came from,
/// as CSV, as Parquet, and split into parts as an engine writes them.
#[test]
fn propose_from_a_connections_table_equals_propose_from_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, parquet) = (dir.path().join("conn.csv"), dir.path().join("conn.parquet"));
    let (logs, inv) = (sample("logs/s3-text-v5"), sample("inventory"));
    for table in [&csv, &parquet] {
        let table = table.to_str().unwrap();
        ok(&[
            "aggregate",
            "-q",
            "--logs",
            &logs,
            "--inventory",
            &inv,
            "-o",
            table,
        ]);
    }
    let propose_from = |tables: &[&std::path::Path]| -> String {
        let mut args = vec!["propose", "-q", "--inventory", &inv, "--connections"];
        args.extend(tables.iter().map(|t| t.to_str().unwrap()));
        ok(&args).0
    };
    let (from_logs, _) = ok(&["propose", "-q", "--logs", &logs, "--inventory", &inv]);
    let from_table = propose_from(&[&csv]);
    // The same plan, except the REJECT findings: a connections table has no REJECTs.
    let without_rejects = |text: &str| {
        let mut plan: serde_json::Value = serde_json::from_str(text).unwrap();
        plan["findings"]
            .as_array_mut()
            .unwrap()
            .retain(|f| f["kind"] != "rejected-traffic");
        plan
    };
    assert!(from_logs.contains("rejected-traffic") && !from_table.contains("rejected-traffic"));
    assert!(
        without_rejects(&from_logs) == without_rejects(&from_table),
        "plans from the logs and from their table differ"
    );
    assert!(
        propose_from(&[&parquet]) == from_table,
        "plans from the CSV and the Parquet table differ"
    );

    // The table as an engine's parts: a folder with header-less CSV and a marker, and a
    // file with the header.
    let text = std::fs::read_to_string(&csv).unwrap();
    let (header, lines) = (
        text.lines().next().unwrap(),
        text.lines().skip(1).collect::<Vec<_>>(),
    );
    let half = lines.len() / 2;
    let (parts, rest) = (dir.path().join("parts"), dir.path().join("rest.csv"));
    std::fs::create_dir(&parts).unwrap();
    std::fs::write(parts.join("part-00000.csv"), lines[..half].join("\n")).unwrap();
    std::fs::write(parts.join("_SUCCESS"), "").unwrap();
    std::fs::write(&rest, format!("{header}\n{}\n", lines[half..].join("\n"))).unwrap();
    assert!(
        propose_from(&[&parts, &rest]) == from_table,
        "plans from the table and from its parts differ"
    );

    std::fs::write(&csv, "interface_id,side\neni-1,server\n").unwrap();
    let out = flowfence(
        &[
            "propose",
            "-q",
            "--connections",
            csv.to_str().unwrap(),
            "--inventory",
            &inv,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("conn.csv: not a connections table"));
}

/// `--group` tightens an existing group in place: same id, rules from its members'
/// needs, the plan still breaks nothing; unknown and default groups are refused.
#[test]
fn group_flag_tightens_an_existing_group_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.json");
    let inventory: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sample("inventory/describe-security-groups.json")).unwrap(),
    )
    .unwrap();
    let id_of = |name: &str| -> String {
        inventory["SecurityGroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["GroupName"] == name)
            .unwrap()["GroupId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (bastion, default) = (id_of("bastion-ssh"), id_of("default"));
    let (logs, inv) = (sample("logs"), sample("inventory"));
    proposed(&["--group", &bastion, "-o", plan_path.to_str().unwrap()]);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    let group = plan["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["ref"] == bastion.as_str())
        .expect("the tightened group is in the plan");
    assert_eq!(group["change"], "tighten");
    assert_eq!(group["new"], false);
    // SSH from the office's /24 its owner wrote (every address seen is in it), not from
    // the addresses that happened to connect: tomorrow's office laptop still gets in.
    let ssh_sources: Vec<&str> = group["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["FromPort"] == 22)
        .flat_map(|p| p["IpRanges"].as_array().into_iter().flatten())
        .map(|r| r["CidrIp"].as_str().unwrap())
        .collect();
    assert_eq!(ssh_sources, ["203.0.113.0/24"]);
    let actions: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    let revoke = actions
        .iter()
        .position(|a| *a == "revoke-replaced-rules")
        .unwrap();
    assert!(actions.iter().position(|a| *a == "observe").unwrap() < revoke);
    let (out, _) = ok(&[
        "verify",
        "-q",
        "--plan",
        plan_path.to_str().unwrap(),
        "--logs",
        &logs,
        "--inventory",
        &inv,
    ]);
    assert!(out.contains("broken under the plan: 0"), "{out}");

    for (group, message) in [
        ("sg-0000000000000000", "no such security group"),
        (
            default.as_str(),
            "a default group is emptied, not tightened",
        ),
    ] {
        let out = propose_sample(&["--group", group]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(message));
    }
}

/// `flowfence run DIR`: every stage summarised on stdout, the plan written, and the
/// same plan `propose` makes.
#[test]
fn run_does_the_whole_job_on_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.json");
    let (out, _) = ok(&["run", "-q", &sample(""), "-o", plan_path.to_str().unwrap()]);
    for stage in [
        "1. read the flow logs",
        "records         20,742",
        "2. aggregate",
        "3. propose",
        "5 new groups",
        "4. verify",
        "broken under the plan: 0",
        "plan written to",
    ] {
        assert!(out.contains(stage), "{stage:?} not in:\n{out}");
    }
    assert_eq!(std::fs::read_to_string(&plan_path).unwrap(), proposed(&[]));
    // The whole report, its timings and the temporary folder normalised.
    let report = without_timing(
        &out.replace(dir.path().to_str().unwrap(), "[TMP]")
            .replace(&sample(""), "sample-logs/"),
    );
    insta::assert_snapshot!("sample-run", report);

    let empty = tempfile::tempdir().unwrap();
    let out = flowfence(&["run", empty.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no `logs` directory here"));
}

/// `--aws-ip-ranges`: AWS's published ranges name the internet destinations that are
/// AWS's, and fill an AWS-managed prefix list the inventory lists without entries
/// (`describe-managed-prefix-lists` has none), so S3 traffic becomes a prefix-list rule
/// even in v2 logs, which don't name AWS services.
#[test]
fn aws_ip_ranges_name_aws_destinations_and_fill_managed_prefix_lists() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory");
    std::fs::create_dir(&inventory).unwrap();
    for f in [
        "describe-network-interfaces.json",
        "describe-security-groups.json",
    ] {
        std::fs::copy(
            std::path::Path::new(&sample("inventory")).join(f),
            inventory.join(f),
        )
        .unwrap();
    }
    std::fs::write(
        inventory.join("describe-managed-prefix-lists.json"),
        r#"{"PrefixLists": [{"PrefixListId": "pl-63a5400a", "AddressFamily": "IPv4",
            "State": "create-complete", "PrefixListArn": "arn:aws:ec2:us-east-1:aws:prefix-list/pl-63a5400a",
            "PrefixListName": "com.amazonaws.us-east-1.s3", "Tags": [], "OwnerId": "AWS"}]}"#,
    )
    .unwrap();
    let ranges = dir.path().join("ip-ranges.json");
    std::fs::write(
        &ranges,
        r#"{"syncToken": "1", "createDate": "2026-12-01-00-00-00", "prefixes": [
            {"ip_prefix": "52.216.0.0/15", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
            {"ip_prefix": "52.216.0.0/15", "region": "us-east-1", "service": "S3", "network_border_group": "us-east-1"},
            {"ip_prefix": "54.231.0.0/16", "region": "us-east-1", "service": "S3", "network_border_group": "us-east-1"},
            {"ip_prefix": "34.0.0.0/8", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}
        ], "ipv6_prefixes": []}"#,
    )
    .unwrap();
    let plan = |extra: &[&str]| -> serde_json::Value {
        let logs = sample("logs/s3-text-v2");
        let inventory = inventory.to_str().unwrap();
        let mut args = vec!["propose", "-q", "--logs", &logs, "--inventory", inventory];
        args.extend_from_slice(extra);
        serde_json::from_str(&ok(&args).0).unwrap()
    };
    let s3_rules = |plan: &serde_json::Value| -> usize {
        plan["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["egress"].as_array().unwrap())
            .filter(|p| p["PrefixListIds"].as_array().is_some_and(|l| !l.is_empty()))
            .count()
    };
    let egress_note = |plan: &serde_json::Value| -> String {
        plan["widened"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["kind"] == "internet-egress")
            .map(|w| w["detail"].as_str().unwrap().to_string())
            .unwrap()
    };
    let without = plan(&[]);
    assert_eq!(s3_rules(&without), 0);
    assert!(!egress_note(&without).contains("AWS"));
    let with = plan(&["--aws-ip-ranges", ranges.to_str().unwrap()]);
    assert_eq!(s3_rules(&with), 1);
    let note = egress_note(&with);
    assert!(note.contains("; in AWS's ranges: EC2 us-east-1 "), "{note}");

    // A file that isn't AWS's is refused by name.
    std::fs::write(
        &ranges,
        r#"{"prefixes": [{"ip_prefix": "52.216.0.0/99", "region": "x", "service": "S3"}]}"#,
    )
    .unwrap();
    let out = propose_sample(&["--aws-ip-ranges", ranges.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ip-ranges.json: `52.216.0.0/99` is not an address prefix"),
        "{stderr}"
    );
}
